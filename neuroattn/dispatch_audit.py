"""Audit what code would cost on a GPU by running it on the ``meta`` device.

A ``meta`` tensor has a device, a shape and a dtype but no data, so PyTorch
runs the real dispatch (the same aten ops a CUDA run launches) without
computing anything. :func:`audit_dispatch` watches that dispatch and records
what makes a CUDA step slow without making it wrong:

``aten_ops``
    aten ops dispatched (each one a kernel launch on CUDA), with a
    :class:`collections.Counter` by op name in ``op_counts``.
``list_indexings``
    a device tensor indexed with a Python list, tuple or array, or with a
    CPU index tensor: on CUDA each is a blocking host-to-device copy.
``host_to_device``
    copies of CPU data to the device (``.to(device)``, ``copy_``,
    ``torch.tensor(..., device=...)``). Only a ``non_blocking`` copy from
    pinned memory leaves the host free; the others count as
    ``blocking_host_to_device`` (on ``meta`` nothing can be pinned, so all
    do). The copies of the tensors passed as ``expected`` (the batch) are
    counted apart, as ``expected_copies``.
``scalar_reads``
    reads of device values by the host (``.item()``, ``float()``,
    ``bool()``, ``int()``, and ``nonzero`` with its data-dependent shape):
    each waits for the GPU. On ``meta`` they cannot run, so the audit answers
    one (``True`` for booleans; ``nonzero`` reports every element) and the
    code carries on.
``device_to_host``
    copies of device tensors to the CPU (``.cpu()``, ``.tolist()``): a sync
    too. The audit answers a CPU tensor of ones.
``mixed_device``
    ops given CPU tensors (other than 0-d scalars) and device tensors
    together: an error on CUDA.

Every finding carries the source line that caused it: the innermost frame
outside torch, the standard library, installed packages and this module
(inside ``neuroattn/`` for the project's own code). Locating costs a frame
walk, paid only by findings, never by clean ops.

Examples
--------
>>> import torch
>>> from neuroattn.dispatch_audit import audit_dispatch
>>> x = torch.zeros(8, 5, device="meta")
>>> with audit_dispatch() as report:
...     y = x[:, [0, 2]] * 2.0      # list indexing: a blocking copy on CUDA
...     ok = bool(y.sum() > 0)      # scalar read: a sync on CUDA
>>> report.list_indexings, report.scalar_reads, report.aten_ops
(1, 1, 5)
>>> report.summary()["mixed_device"]
0
"""

from __future__ import annotations

import contextlib
import os
import sys
import sysconfig
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from neuroattn._logging import logger
from neuroattn.errors import ParameterError

KINDS = ("list_indexings", "host_to_device", "scalar_reads", "device_to_host", "mixed_device")
"""The kinds of finding, in the order reports list them."""

_ATEN = torch.ops.aten
_SCALAR_READ = _ATEN._local_scalar_dense.default
_NONZERO = _ATEN.nonzero.default
_TO_COPY = _ATEN._to_copy.default
_COPY = _ATEN.copy_.default
_INDEXING = (torch.Tensor.__getitem__, torch.Tensor.__setitem__)
_FROM_DATA = (torch.tensor, torch.as_tensor)
_SELF_FILE = os.path.abspath(__file__)
_ROOT = os.path.dirname(os.path.dirname(_SELF_FILE)) + os.sep
_LIBRARY_DIRS = tuple({os.path.dirname(os.path.abspath(torch.__file__)) + os.sep,
                       *(os.path.abspath(sysconfig.get_paths()[key]) + os.sep
                         for key in ("stdlib", "platstdlib", "purelib", "platlib"))})


@dataclass(frozen=True)
class Finding:
    """One costly event: its kind, the op, where it came from, a description, and
    whether it makes the host wait for the device."""

    kind: str
    op: str
    site: str
    detail: str = ""
    blocking: bool = True


@dataclass
class DispatchReport:
    """What :func:`audit_dispatch` saw; filled while the ``with`` block runs.

    Attributes
    ----------
    op_counts : collections.Counter
        aten ops dispatched, by name (``"aten.mm.default"``).
    findings : list of Finding
        Every costly event, in order.
    expected_copies : int
        Host-to-device copies of the ``expected`` tensors (not findings).
    """

    op_counts: Counter = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)
    expected_copies: int = 0

    @property
    def aten_ops(self) -> int:
        """Total aten ops dispatched (kernel launches on CUDA)."""
        return sum(self.op_counts.values())

    def count(self, kind: str) -> int:
        """Number of findings of ``kind`` (one of :data:`KINDS`)."""
        if kind not in KINDS:
            raise ParameterError(f"Unknown finding kind {kind!r}; use one of {KINDS}.")
        return sum(f.kind == kind for f in self.findings)

    @property
    def list_indexings(self) -> int:
        """Device tensors indexed by a Python sequence or a CPU index tensor."""
        return self.count("list_indexings")

    @property
    def host_to_device(self) -> int:
        """Host-to-device copies, blocking or not."""
        return self.count("host_to_device")

    @property
    def blocking_host_to_device(self) -> int:
        """Host-to-device copies that block the host (all but non-blocking pinned ones)."""
        return sum(f.kind == "host_to_device" and f.blocking for f in self.findings)

    @property
    def scalar_reads(self) -> int:
        """Host reads of device values (``.item()``, ``float()``, ``bool()``, ``nonzero``)."""
        return self.count("scalar_reads")

    @property
    def device_to_host(self) -> int:
        """Copies of device tensors to the CPU."""
        return self.count("device_to_host")

    @property
    def mixed_device(self) -> int:
        """Ops given both CPU (non-0-d) and device tensors."""
        return self.count("mixed_device")

    @property
    def syncs(self) -> int:
        """Blocking host-to-device copies, scalar reads and device-to-host copies.

        List indexings (each a blocking copy too) have their own count.
        """
        return self.blocking_host_to_device + self.scalar_reads + self.device_to_host

    def by_site(self, kind: str | None = None) -> Counter:
        """Findings (of ``kind``, or all) counted by source line, most frequent first."""
        if kind is not None and kind not in KINDS:
            raise ParameterError(f"Unknown finding kind {kind!r}; use one of {KINDS}.")
        return Counter(f.site for f in self.findings if kind is None or f.kind == kind)

    def summary(self) -> dict[str, int]:
        """The counts as a dict: ``aten_ops``, each kind, ``blocking_host_to_device``,
        ``syncs`` and ``expected_copies``."""
        return {"aten_ops": self.aten_ops, **{kind: self.count(kind) for kind in KINDS},
                "blocking_host_to_device": self.blocking_host_to_device, "syncs": self.syncs,
                "expected_copies": self.expected_copies}

    def __str__(self) -> str:
        lines = [", ".join(f"{k}={v}" for k, v in self.summary().items())]
        for kind in KINDS:
            for site, n in self.by_site(kind).most_common(5):
                lines.append(f"  {kind:<15} {n:>6}  {site}")
        return "\n".join(lines)


def _site() -> str:
    """``file:line`` of the innermost frame of user code (project or tests) on the stack."""
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        if not (name == _SELF_FILE or name.startswith(("<frozen", *_LIBRARY_DIRS))):
            where = name[len(_ROOT):] if name.startswith(_ROOT) else name
            return f"{where}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


def _on_device(value: Any) -> bool:
    return isinstance(value, torch.Tensor) and value.device.type != "cpu"


def _is_host_index(value: Any) -> bool:
    """An index that PyTorch must copy to the device first: a sequence or a CPU tensor."""
    if isinstance(value, torch.Tensor):
        return value.device.type == "cpu" and value.ndim > 0
    return isinstance(value, list | tuple) or type(value).__module__ == "numpy"


def _one(dtype: torch.dtype) -> bool | int | float | complex:
    if dtype == torch.bool:
        return True
    if dtype.is_complex:
        return 1 + 0j
    return 1.0 if dtype.is_floating_point else 1


class _Recorder:
    """State shared by the function and dispatch modes."""

    def __init__(self, report: DispatchReport, expected: Iterable[torch.Tensor]) -> None:
        self.report = report
        self.expected = {id(t): t for t in expected}  # holding them keeps their ids unique
        self.quiet = 0  # > 0 while an already recorded event dispatches its own ops

    def add(self, kind: str, op: str, detail: str = "", blocking: bool = True) -> None:
        self.report.findings.append(Finding(kind, op, _site(), detail, blocking))


class _FunctionAudit(TorchFunctionMode):
    """Sees what dispatch cannot: Python-sequence indices and ``torch.tensor(data)``."""

    def __init__(self, recorder: _Recorder) -> None:
        super().__init__()
        self.recorder = recorder

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        event = None
        if func in _INDEXING and _on_device(args[0]):
            index = args[1] if isinstance(args[1], tuple) else (args[1],)
            if any(_is_host_index(i) for i in index):
                event = ("list_indexings", "Tensor." + func.__name__,
                         f"index {type(args[1]).__name__} of a {args[0].device.type} tensor")
        elif func in _FROM_DATA and not isinstance(args[0] if args else None, torch.Tensor):
            device = kwargs.get("device")
            if device is not None and torch.device(device).type != "cpu":
                event = ("host_to_device", f"torch.{func.__name__}", "from Python data")
        elif func is torch.Tensor.new_tensor and torch.device(
                kwargs.get("device") or args[0].device).type != "cpu":
            event = ("host_to_device", "Tensor.new_tensor", "from Python data")
        if event is None:
            return func(*args, **kwargs)
        self.recorder.add(*event)
        self.recorder.quiet += 1
        try:
            return func(*args, **kwargs)
        finally:
            self.recorder.quiet -= 1


class _DispatchAudit(TorchDispatchMode):
    """Counts aten ops; records copies, scalar reads and mixed-device ops."""

    supports_higher_order_operators = True  # flex_attention: one (fused) op

    def __init__(self, recorder: _Recorder) -> None:
        super().__init__()
        self.recorder = recorder
        self.ops = recorder.report.op_counts

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        self.ops[func] += 1
        if func is _SCALAR_READ and _on_device(args[0]):
            self.recorder.add("scalar_reads", "aten._local_scalar_dense", "item/float/bool/int")
            return _one(args[0].dtype)
        if func is _NONZERO and _on_device(args[0]):
            self.recorder.add("scalar_reads", "aten.nonzero", "data-dependent output shape")
            x = args[0]
            return torch.empty((x.numel(), x.ndim), dtype=torch.long, device=x.device)
        if func is _TO_COPY or func is _COPY:
            return self._copy(func, args, kwargs)
        if not self.recorder.quiet and self._mixes(args, kwargs):
            self.recorder.add("mixed_device", str(func), "CPU and device tensors")
        return func(*args, **kwargs)

    def _copy(self, func, args, kwargs):
        if func is _TO_COPY:
            src, dst_device = args[0], torch.device(kwargs.get("device") or args[0].device)
            non_blocking = kwargs.get("non_blocking", False)
        else:
            src, dst_device = args[1], args[0].device
            non_blocking = args[2] if len(args) > 2 else kwargs.get("non_blocking", False)
        if src.device.type == "cpu" and dst_device.type != "cpu":
            if id(src) in self.recorder.expected:
                self.recorder.report.expected_copies += 1
            elif not self.recorder.quiet:
                pinned = src.is_pinned()
                self.recorder.add("host_to_device", str(func),
                                  f"{src.nbytes} bytes" + ", non_blocking" * non_blocking
                                  + ", pinned" * pinned, blocking=not (non_blocking and pinned))
        elif src.device.type != "cpu" and dst_device.type == "cpu":
            self.recorder.add("device_to_host", str(func), f"{src.nbytes} bytes")
            if src.device.type == "meta":  # no data to copy: answer ones
                if func is _COPY:
                    return args[0].fill_(1)
                return torch.ones(src.shape, dtype=kwargs.get("dtype") or src.dtype)
        return func(*args, **kwargs)

    @staticmethod
    def _mixes(args, kwargs) -> bool:
        host = device = False
        for value in (*args, *kwargs.values()):
            for t in (value if isinstance(value, list | tuple) else (value,)):
                if isinstance(t, torch.Tensor):
                    if t.device.type != "cpu":
                        device = True
                    elif t.ndim:
                        host = True
        return host and device


@contextlib.contextmanager
def audit_dispatch(expected: Iterable[torch.Tensor] = ()) -> Iterator[DispatchReport]:
    """Record aten ops, host-device copies, scalar reads and mixed-device ops.

    Run the code under audit on the ``meta`` device (a stand-in for CUDA):
    the report it yields fills in as the ``with`` block runs. Scalar reads and
    device-to-host copies of ``meta`` tensors, which cannot run, are answered
    with ones so the code carries on.

    Parameters
    ----------
    expected : iterable of torch.Tensor
        CPU tensors whose copies to the device are expected (a training
        step's batch): counted as ``expected_copies``, not as findings.

    Yields
    ------
    DispatchReport
        Counts (``aten_ops``, ``list_indexings``, ``host_to_device``,
        ``blocking_host_to_device``, ``scalar_reads``, ``device_to_host``,
        ``mixed_device``, ``syncs``, ``expected_copies``), ``findings`` with
        their source lines, ``by_site()`` and ``summary()``.

    Examples
    --------
    >>> import torch
    >>> from neuroattn.dispatch_audit import audit_dispatch
    >>> w = torch.zeros(4, 4, device="meta", requires_grad=True)
    >>> with audit_dispatch() as report:
    ...     loss = (torch.ones(2, 4).to("meta") @ w).square().mean()
    ...     loss.backward()
    ...     value = loss.item()
    >>> report.host_to_device, report.scalar_reads, report.mixed_device
    (1, 1, 0)
    >>> value
    1.0
    >>> [(f.kind, f.site.split(":")[-1]) for f in report.findings]  # kind, line in the block
    [('host_to_device', '2'), ('scalar_reads', '4')]
    """
    report = DispatchReport()
    recorder = _Recorder(report, expected)
    try:
        with _FunctionAudit(recorder), _DispatchAudit(recorder):
            yield report
    finally:
        report.op_counts = Counter({str(op): n for op, n in report.op_counts.items()})
    logger.debug("dispatch audit: %s", report.summary())
