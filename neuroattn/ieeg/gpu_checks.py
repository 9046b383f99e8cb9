"""Measurements for one GPU run: accuracy, recompiles, step time, memory, streaming speed.

``benchmarks/gpu_suite.sh`` orchestrates these on a CUDA machine (and at toy
sizes on the CPU with ``--dry-run``); the measuring logic lives here so that
it is tested. Every function is device-agnostic: it synchronises the device
and reads CUDA's peak-memory counters only when the model or the tensors are
on CUDA, and reports ``None`` for the peak memory elsewhere.

* :func:`streaming_realtime_factor`: recording seconds classified per wall
  second, one window forward per new segment (hop one segment).
* :func:`mvpa_accuracy`: one attention path against a float64
  :func:`~neuroattn.ieeg.mvpa_functional.mvpa_reference`, forward and the
  gradients of all eight inputs, in float32 or under autocast.
* :func:`time_steps` and :func:`timed_training_step`: seconds per step and peak memory.
* :func:`peak_memory_sweep` and :func:`extrapolate_linear`: peak memory at a
  few batch sizes, fitted by a line and extrapolated.
* :func:`flex_recompiles`: graphs compiled by ``torch.compile`` across
  channel counts, and the first call's time.
* :func:`warnings_by_source` and :func:`sync_audit`: warnings (CUDA's
  synchronising-operation warnings) grouped by the source line that caused them.
* :func:`pinned_tensors`: how many tensors of a few batches sit in pinned memory.

Examples
--------
>>> import torch
>>> from neuroattn.ieeg import MVPFormer
>>> from neuroattn.ieeg.gpu_checks import streaming_realtime_factor
>>> model = MVPFormer("tiny").eval()
>>> factor = streaming_realtime_factor(model, 3, window_segments=4, n_windows=4, batch_size=2)
>>> factor > 0
True
"""

from __future__ import annotations

import gc
import math
import statistics
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuroattn.device import autocast
from neuroattn.errors import ParameterError
from neuroattn.ieeg.config import preset
from neuroattn.ieeg.mvpa_flash import mvpa_flash
from neuroattn.ieeg.mvpa_functional import (
    flex_compilations,
    mvpa_chunked,
    mvpa_flex,
    mvpa_reference,
)

#: The attention functions :func:`mvpa_accuracy` checks, by ``MVPFormerConfig.attention`` name.
PATHS: dict[str, Callable[..., torch.Tensor]] = {
    "flash": mvpa_flash, "chunked": mvpa_chunked, "flex": mvpa_flex, "reference": mvpa_reference}

#: The eight inputs of an MVPA function, in call order.
INPUTS = ("q", "k", "v", "time_keys", "chan_keys", "u", "v_bias", "w_bias")

LossFn = Callable[[torch.nn.Module, Any], tuple[torch.Tensor, dict[str, Any]]]


def synchronize(device: torch.device | str) -> None:
    """Wait for the device's queued work (CUDA only; a no-op elsewhere).

    Examples
    --------
    >>> synchronize("cpu")
    """
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)


def _peak_mb(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) / 2**20


@torch.no_grad()
def streaming_realtime_factor(
    model: torch.nn.Module, n_channels: int, *, window_segments: int = 25,
    n_windows: int = 64, batch_size: int = 16, precision: str = "auto", repeats: int = 1,
    seed: int = 0,
) -> float:
    """Recording seconds classified per wall second, streaming one window per new segment.

    A synthetic recording of ``n_channels`` channels and ``n_windows +
    window_segments - 1`` segments is put on the model's device once; its
    windows of ``window_segments`` segments, one segment apart, are views of
    it (no copy), classified ``batch_size`` at a time in eval mode under
    ``autocast(device, precision)``. Each window stands for one new segment
    of recording, so the factor is ``n_windows * segment_s / wall seconds``.
    One untimed batch warms up first; the best of ``repeats`` passes counts.

    Parameters
    ----------
    model : MVPFormer
        Any model with an MVPFormer ``config`` (``segment_samples``,
        ``segment_s``) that classifies (B, C, samples) windows.
    n_channels : int
        Channels of the recording.
    window_segments, n_windows, batch_size : int
        Window length in segments, windows classified, windows per forward.
    precision : str
        See :func:`neuroattn.device.autocast` (``"auto"``: bf16 on CUDA).
    repeats : int
        Timed passes over the recording.
    seed : int
        Seed of the synthetic recording.

    Returns
    -------
    float
        The real-time factor (1000 means 1000 s of recording per second).

    Examples
    --------
    >>> from neuroattn.ieeg import MVPFormer
    >>> model = MVPFormer("tiny").eval()
    >>> streaming_realtime_factor(model, 4, window_segments=3, n_windows=2, batch_size=2) > 0
    True
    """
    for name, value in (("n_channels", n_channels), ("window_segments", window_segments),
                        ("n_windows", n_windows), ("batch_size", batch_size),
                        ("repeats", repeats)):
        if int(value) < 1:
            raise ParameterError(f"{name}={value} must be a positive integer.")
    cfg = model.config
    device = _model_device(model)
    seg = cfg.segment_samples
    g = torch.Generator().manual_seed(seed)
    recording = torch.randn(n_channels, (n_windows + window_segments - 1) * seg,
                            generator=g).to(device)
    windows = recording.unfold(1, window_segments * seg, seg).transpose(0, 1)  # (W, C, S) views
    was_training = model.training
    model.eval()
    best = math.inf
    with autocast(device, precision):
        model(windows[:batch_size])  # warm-up: kernels, caches, compilation
        for _ in range(repeats):
            synchronize(device)
            start = time.perf_counter()
            for i in range(0, n_windows, batch_size):
                model(windows[i:i + batch_size])
            synchronize(device)
            best = min(best, time.perf_counter() - start)
    model.train(was_training)
    return n_windows * cfg.segment_s / best


def relative_error(value: torch.Tensor, reference: torch.Tensor) -> float:
    """``||value - reference|| / ||reference||`` (Frobenius, in float64; 0 if both are 0).

    Examples
    --------
    >>> import torch
    >>> relative_error(torch.tensor([1.0, 3.0]), torch.tensor([1.0, 1.0]))
    1.414213562373095
    """
    value = value.detach().to("cpu", torch.float64)
    reference = reference.detach().to("cpu", torch.float64)
    norm = float(reference.norm())
    diff = float((value - reference).norm())
    return diff / norm if norm else diff


def mvpa_inputs(n_channels: int, n_segments: int, *, width: str = "mvpformer-s",
                batch: int = 1, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random float64 CPU inputs of an MVPA function (the names of :data:`INPUTS`).

    ``width`` is a preset name: its heads, key/value heads, head size and
    table sizes shape the inputs.

    Examples
    --------
    >>> x = mvpa_inputs(3, 2, width="tiny")
    >>> tuple(x["q"].shape), tuple(x["time_keys"].shape), x["u"].dtype
    ((1, 4, 6, 8), (2, 32, 8), torch.float64)
    """
    cfg = preset(width)
    heads, kv_heads, d = cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
    n_positions, n_table_channels = cfg.n_positions, cfg.n_channels
    g = torch.Generator().manual_seed(seed)
    n = n_channels * n_segments
    shapes = {"q": (batch, heads, n, d), "k": (batch, kv_heads, n, d),
              "v": (batch, kv_heads, n, d), "time_keys": (kv_heads, n_positions, d),
              "chan_keys": (kv_heads, n_table_channels, d), "u": (kv_heads, d),
              "v_bias": (kv_heads, d), "w_bias": (kv_heads, d)}
    return {name: torch.randn(*shape, generator=g, dtype=torch.float64)
            for name, shape in shapes.items()}


def _attend(path: str, inputs: dict[str, torch.Tensor], n_segments: int, window: int | None,
            rows: str, **options: Any) -> torch.Tensor:
    return PATHS[path](*(inputs[name] for name in INPUTS), n_segments=n_segments,
                       window=window, rows=rows, **options)


def mvpa_accuracy(
    path: str, *, n_channels: int, n_segments: int = 8, precision: str = "32",
    device: torch.device | str = "cpu", width: str = "mvpformer-s", batch: int = 1,
    window: int | None = 10, rows: str = "table", seed: int = 0,
) -> dict[str, Any]:
    """Relative errors of one MVPA path against the float64 reference, forward and backward.

    The reference runs in float64 on ``device``; the path runs on float32
    copies of the same inputs under ``autocast(device, precision)``. Both are
    differentiated against the same random output gradient, and every one of
    the eight inputs' gradients (q, k, v, both tables, the three biases) is
    compared. FlexAttention has no backward pass on the CPU, so there its
    gradients are ``None`` and ``"backward"`` says why.

    Parameters
    ----------
    path : str
        ``"flash"``, ``"chunked"``, ``"flex"`` or ``"reference"``.
    n_channels, n_segments : int
        The token grid (N = n_channels * n_segments; 87 * T is the case where
        N is not a multiple of FlexAttention's 128-token blocks).
    precision : str
        ``"32"`` or an autocast precision such as ``"bf16"``.
    device : str or torch.device
    width : str
        The preset whose head layout and tables shape the inputs (``"tiny"``,
        ``"mvpformer-s"``, ``"mvpformer-m"``).
    batch, window, rows, seed
        Batch size, content window, table-row convention and input seed.

    Returns
    -------
    dict
        ``forward`` and ``grad_<input>`` relative errors, ``max_grad`` (the
        largest), ``finite`` (no NaN or Inf in the output or any gradient),
        ``backward`` (``"ok"`` or why it was skipped) and the settings.

    Examples
    --------
    >>> r = mvpa_accuracy("chunked", n_channels=3, n_segments=4, width="tiny", window=1)
    >>> r["forward"] < 1e-5, r["max_grad"] < 1e-5, r["finite"]
    (True, True, True)
    """
    if path not in PATHS:
        raise ParameterError(f"path={path!r}; choose one of {sorted(PATHS)}.")
    device = torch.device(device)
    base = mvpa_inputs(n_channels, n_segments, width=width, batch=batch, seed=seed)
    grad_out = torch.randn(base["q"].shape, generator=torch.Generator().manual_seed(seed + 1),
                           dtype=torch.float64).to(device)
    ref_in = {k: t.to(device).detach().requires_grad_() for k, t in base.items()}
    reference = _attend("reference", ref_in, n_segments, window, rows)
    reference.backward(grad_out)
    backward = "ok"
    if path == "flex" and device.type == "cpu":
        backward = "skipped: FlexAttention has no backward pass on the CPU"
    test_in = {k: t.to(device, torch.float32).detach().requires_grad_(backward == "ok")
               for k, t in base.items()}
    with autocast(device, precision):
        out = _attend(path, test_in, n_segments, window, rows)
    result: dict[str, Any] = {
        "path": path, "device": str(device), "precision": precision, "width": width,
        "n_channels": n_channels, "n_segments": n_segments, "tokens": n_channels * n_segments,
        "forward": relative_error(out, reference), "backward": backward}
    tensors = [out]
    if backward == "ok":
        out.float().backward(grad_out.float())
        for name in INPUTS:
            result[f"grad_{name}"] = relative_error(test_in[name].grad, ref_in[name].grad)
            tensors.append(test_in[name].grad)
        result["max_grad"] = max(result[f"grad_{name}"] for name in INPUTS)
    else:
        result.update({f"grad_{name}": None for name in INPUTS}, max_grad=None)
    result["finite"] = all(bool(torch.isfinite(t).all()) for t in tensors)
    return result


def time_steps(step: Callable[[], Any], device: torch.device | str, *, steps: int = 3,
               warmup: int = 1) -> dict[str, Any]:
    """Median seconds of ``step()`` and the device's peak memory over the timed calls.

    ``warmup`` untimed calls come first (kernel selection, compilation,
    optimiser state); then CUDA's peak-memory counter is reset, and each of
    ``steps`` calls is timed between two device synchronisations.
    ``peak_memory_mb`` is ``torch.cuda.max_memory_allocated`` over the timed
    calls, everything resident included (``None`` off CUDA).

    Examples
    --------
    >>> r = time_steps(lambda: sum(range(1000)), "cpu", steps=2)
    >>> r["steps"], r["step_s"] > 0, r["peak_memory_mb"]
    (2, True, None)
    """
    if steps < 1 or warmup < 0:
        raise ParameterError(f"steps={steps} must be >= 1 and warmup={warmup} >= 0.")
    device = torch.device(device)
    for _ in range(warmup):
        step()
    _reset_peak(device)
    times = []
    for _ in range(steps):
        synchronize(device)
        start = time.perf_counter()
        step()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return {"step_s": statistics.median(times), "steps": steps,
            "peak_memory_mb": _peak_mb(device), "device": str(device)}


def timed_training_step(
    model: torch.nn.Module, loss_fn: LossFn, batch: Any, *, precision: str = "auto",
    steps: int = 3, warmup: int = 1, lr: float = 1e-4,
) -> dict[str, Any]:
    """:func:`time_steps` of a plain optimisation step of ``model`` on ``batch``.

    A step is forward and loss under ``autocast(device, precision)``,
    backward, and an AdamW step over the trainable parameters; ``batch`` must
    already be on the model's device. ``loss`` is the last step's loss.

    Examples
    --------
    >>> import torch
    >>> model = torch.nn.Linear(3, 1)
    >>> batch = torch.randn(8, 3), torch.randn(8, 1)
    >>> def loss_fn(m, b):
    ...     return torch.nn.functional.mse_loss(m(b[0]), b[1]), {}
    >>> r = timed_training_step(model, loss_fn, batch, steps=2)
    >>> r["steps"], r["step_s"] > 0, r["peak_memory_mb"], r["loss"] > 0
    (2, True, None, True)
    """
    device = _model_device(model)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ParameterError("The model has no trainable parameters.")
    optimizer = torch.optim.AdamW(params, lr=lr)
    was_training = model.training
    model.train()
    losses = []

    def one_step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with autocast(device, precision):
            loss, _ = loss_fn(model, batch)
        loss.backward()
        optimizer.step()
        losses.append(loss.detach())

    result = time_steps(one_step, device, steps=steps, warmup=warmup)
    model.train(was_training)
    return {**result, "loss": float(losses[-1]), "precision": precision}


def extrapolate_linear(xs: Sequence[float], ys: Sequence[float], x: float
                       ) -> tuple[float, float, float]:
    """Least-squares line through (xs, ys): ``(slope, intercept, value at x)``.

    Examples
    --------
    >>> extrapolate_linear([4, 8, 16], [5.0, 9.0, 17.0], 32)
    (1.0, 1.0, 33.0)
    """
    if len(xs) != len(ys) or len(xs) < 2:
        raise ParameterError(f"A line needs at least two (x, y) pairs; got {len(xs)} x and "
                             f"{len(ys)} y values.")
    slope, intercept = np.polyfit(np.asarray(xs, float), np.asarray(ys, float), 1)
    slope, intercept = round(float(slope), 9), round(float(intercept), 9)
    return slope, intercept, slope * x + intercept


def peak_memory_sweep(
    model: torch.nn.Module, loss_fn: LossFn, make_batch: Callable[[int], Any], *,
    batch_sizes: Sequence[int] = (4, 8, 16), extrapolate_to: int = 32,
    precision: str = "auto",
) -> dict[str, Any]:
    """Peak training-step memory at several batch sizes, fitted by a line and extrapolated.

    ``make_batch(b)`` returns a batch of ``b`` windows on the model's device.
    Each size runs :func:`timed_training_step` (one warm-up, one timed
    step). Off CUDA the peaks are ``None`` and so is the extrapolation.

    Examples
    --------
    >>> import torch
    >>> model = torch.nn.Linear(3, 1)
    >>> def loss_fn(m, b):
    ...     return m(b).square().mean(), {}
    >>> r = peak_memory_sweep(model, loss_fn, lambda b: torch.randn(b, 3), batch_sizes=(1, 2))
    >>> r["batch_sizes"], r["peak_memory_mb"], r["extrapolated_mb"]
    ([1, 2], [None, None], None)
    """
    peaks, times = [], []
    for b in batch_sizes:
        # free the previous size's gradients and optimiser state before measuring this one
        model.zero_grad(set_to_none=True)
        gc.collect()
        if _model_device(model).type == "cuda":
            torch.cuda.empty_cache()
        step = timed_training_step(model, loss_fn, make_batch(b), precision=precision, steps=1)
        peaks.append(step["peak_memory_mb"])
        times.append(step["step_s"])
    result: dict[str, Any] = {"batch_sizes": list(batch_sizes), "peak_memory_mb": peaks,
                              "step_s": times, "extrapolate_to": extrapolate_to,
                              "slope_mb_per_window": None, "intercept_mb": None,
                              "extrapolated_mb": None}
    if all(p is not None for p in peaks):
        slope, intercept, value = extrapolate_linear(batch_sizes, peaks, extrapolate_to)
        result.update(slope_mb_per_window=slope, intercept_mb=intercept, extrapolated_mb=value)
    return result


def flex_recompiles(
    channel_counts: Iterable[int], *, n_segments: int = 4, width: str = "tiny",
    device: torch.device | str = "cpu", backward: bool | None = None,
    compile: bool | None = None, seed: int = 0,
) -> dict[str, Any]:
    """Compilations while :func:`mvpa_flex` runs over several channel counts.

    Calls the path once per channel count (with its backward pass where
    ``backward``, default: on CUDA) and times each call: the first holds the
    compilation. ``compilations`` counts the graphs :func:`mvpa_flex`
    compiled (:func:`~neuroattn.ieeg.mvpa_functional.flex_compilations`),
    ``unique_graphs`` those of ``torch._dynamo`` as a whole. One per count
    means a recompile per montage; a bounded number means dynamic shapes or
    bucketing work. ``compile`` is passed on (default: compiled on CUDA
    only); run eagerly, nothing compiles.

    Examples
    --------
    >>> r = flex_recompiles([2, 3], n_segments=2)
    >>> r["channel_counts"], len(r["call_s"]), r["compilations"]
    ([2, 3], 2, 0)
    """
    from torch._dynamo.utils import counters

    device = torch.device(device)
    counts = list(channel_counts)
    backward = device.type == "cuda" if backward is None else backward
    before, compiled_before = Counter(counters["stats"]), flex_compilations()
    times = []
    for c in counts:
        x = {k: t.to(device, torch.float32).detach().requires_grad_(backward)
             for k, t in mvpa_inputs(c, n_segments, width=width, seed=seed).items()}
        synchronize(device)
        start = time.perf_counter()
        out = _attend("flex", x, n_segments, window=10, rows="table", compile=compile)
        if backward:
            out.sum().backward()
        synchronize(device)
        times.append(time.perf_counter() - start)
    after = Counter(counters["stats"])
    return {"channel_counts": counts, "device": str(device), "backward": backward,
            "compile": compile, "compilations": flex_compilations() - compiled_before,
            "unique_graphs": after["unique_graphs"] - before["unique_graphs"],
            "first_call_s": times[0] if times else None, "call_s": times}


def warnings_by_source(fn: Callable[[], Any], *, root: str | Path | None = None,
                       match: str = "") -> tuple[Any, dict[str, int]]:
    """Run ``fn()`` and count its warnings by the innermost source line under ``root``.

    Each warning whose message contains ``match`` is attributed to the
    innermost frame of the Python stack that lies in ``root`` (default: the
    ``neuroattn`` package), as ``"path/relative/to/root:line"``; warnings
    raised with no frame there count under ``"<outside>"``.

    Returns
    -------
    result, counts
        What ``fn`` returned, and a dict from source line to count, most
        frequent first.

    Examples
    --------
    >>> import warnings
    >>> def noisy():
    ...     for _ in range(3):
    ...         warnings.warn("synchronizing")
    >>> _, counts = warnings_by_source(noisy)
    >>> counts
    {'<outside>': 3}
    """
    root = Path(root if root is not None else Path(__file__).parents[1]).resolve()
    counts: Counter[str] = Counter()
    depth = len(traceback.extract_stack())  # frames below this one are fn's

    def record(message, category, filename, lineno, file=None, line=None) -> None:
        if match not in str(message):
            return
        where = "<outside>"
        for frame in reversed(traceback.extract_stack()[depth:-1]):
            path = Path(frame.filename).resolve()
            if path.is_relative_to(root):
                where = f"{path.relative_to(root.parent).as_posix()}:{frame.lineno}"
                break
        counts[where] += 1

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = record
        result = fn()
    return result, dict(counts.most_common())


def sync_audit(fn: Callable[[], Any], device: torch.device | str, *,
               root: str | Path | None = None) -> dict[str, Any]:
    """Synchronising CUDA operations of ``fn()``, grouped by source line.

    On CUDA, runs ``fn`` under ``torch.cuda.set_sync_debug_mode("warn")``
    (restored afterwards) and groups the warnings with
    :func:`warnings_by_source`. Elsewhere it runs nothing and says so.

    Examples
    --------
    >>> sync_audit(lambda: None, "cpu")["status"]
    'skipped: needs CUDA (torch.cuda.set_sync_debug_mode)'
    """
    device = torch.device(device)
    if device.type != "cuda":
        return {"status": "skipped: needs CUDA (torch.cuda.set_sync_debug_mode)",
                "syncs": None, "by_line": {}}
    synchronize(device)
    previous = torch.cuda.get_sync_debug_mode()
    torch.cuda.set_sync_debug_mode("warn")
    try:
        _, by_line = warnings_by_source(fn, root=root, match="synchroniz")
    finally:
        torch.cuda.set_sync_debug_mode(previous)
    return {"status": "ok", "syncs": sum(by_line.values()), "by_line": by_line}


def pinned_tensors(batches: Iterable[Any], n_batches: int = 2, *,
                   depth: int = 4) -> dict[str, int]:
    """Count the CPU tensors, and the pinned ones, in the first ``n_batches`` batches.

    Looks inside tuples, lists, dicts and objects' attributes (``__dict__``
    or ``__slots__``, such as a loader's batch object with its staging
    blocks), up to ``depth`` objects deep; a tensor reached twice counts
    once. Device tensors are counted apart.

    Examples
    --------
    >>> import torch
    >>> x = torch.zeros(2)
    >>> pinned_tensors([(x, torch.ones(2), [x])], n_batches=1)
    {'batches': 1, 'cpu_tensors': 2, 'pinned': 0, 'device_tensors': 0}
    """
    found = {"batches": 0, "cpu_tensors": 0, "pinned": 0, "device_tensors": 0}
    seen: set[int] = set()
    cuda = torch.cuda.is_available()  # pinning exists only with CUDA

    def walk(obj: Any, depth: int) -> None:
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, torch.Tensor):
            if obj.device.type == "cpu":
                found["cpu_tensors"] += 1
                found["pinned"] += int(cuda and obj.is_pinned())
            else:
                found["device_tensors"] += 1
        elif isinstance(obj, list | tuple):
            for item in obj:
                walk(item, depth)
        elif isinstance(obj, dict):
            for item in obj.values():
                walk(item, depth)
        elif depth and hasattr(obj, "__dict__"):
            for item in vars(obj).values():
                walk(item, depth - 1)
        elif depth and hasattr(obj, "__slots__"):
            for name in obj.__slots__:
                walk(getattr(obj, name, None), depth - 1)

    for i, batch in enumerate(batches):
        if i >= n_batches:
            break
        found["batches"] += 1
        walk(batch, depth)
        seen.clear()
    return found
