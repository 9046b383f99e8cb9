"""Device selection and mixed precision, with no CUDA call at import time.

Examples
--------
>>> from neuroattn.device import resolve_device
>>> resolve_device("cpu")
device(type='cpu')
"""

from __future__ import annotations

import contextlib

import torch

from neuroattn._logging import logger
from neuroattn.errors import NeuroattnError, ParameterError


class DeviceError(NeuroattnError, ValueError, RuntimeError):
    """A device that is not a device name, or is not available on this machine."""


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"`` into a device.

    ``"auto"`` picks CUDA, then MPS, then the CPU. Asking for a device that is
    not there raises an error that says what is available.
    """
    if isinstance(device, torch.device):
        device = str(device)
    name = device.lower().strip()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as err:
        raise DeviceError(
            f"device={device!r} is not a device; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'."
        ) from err
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(
                f"device={device!r} was requested but this torch ({torch.__version__}) sees no "
                "CUDA GPU. Use --device cpu, or install a CUDA build of torch (see README)."
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(
                f"device={device!r} does not exist: {torch.cuda.device_count()} CUDA device(s) "
                "are visible (check CUDA_VISIBLE_DEVICES)."
            )
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError(f"device={device!r} was requested but MPS is not available here.")
    return dev


_FULL = frozenset({"32", "fp32", "float32"})
_LOW = {"bf16": torch.bfloat16, "bf16-mixed": torch.bfloat16, "bfloat16": torch.bfloat16,
        "16": torch.float16, "16-mixed": torch.float16, "fp16": torch.float16,
        "float16": torch.float16}
PRECISIONS = ("auto", *sorted(_FULL), *_LOW)
"""Every accepted spelling of ``precision`` (one vocabulary for the whole project)."""


def precision_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype that ``precision`` means on ``device``; ``None`` for full precision.

    ``"auto"`` is bf16 on CUDA and full precision elsewhere. The fp16 spellings
    (``"16"``, ``"16-mixed"``, ``"fp16"``, ``"float16"``) fall back to bf16 on
    the CPU, where fp16 autocast is slow. The ``meta`` device (a data-free
    stand-in used to audit dispatch) has no autocast: always ``None`` there.

    Parameters
    ----------
    device : torch.device
        Where the model runs.
    precision : str
        One of :data:`PRECISIONS`.

    Returns
    -------
    torch.dtype or None
        ``torch.bfloat16`` or ``torch.float16`` under autocast, ``None`` without it.

    Examples
    --------
    >>> import torch
    >>> precision_dtype(torch.device("cpu"), "fp16")
    torch.bfloat16
    >>> precision_dtype(torch.device("cuda"), "16-mixed"), precision_dtype(torch.device("cuda"))
    (torch.float16, torch.bfloat16)
    >>> precision_dtype(torch.device("cpu")) is None
    True
    """
    if precision not in PRECISIONS:
        raise ParameterError(
            f"precision={precision!r} is unknown; use 'auto', '32', 'bf16' or '16' "
            f"(accepted spellings: {', '.join(PRECISIONS)})."
        )
    if precision == "auto":
        precision = "bf16" if device.type == "cuda" else "32"
    if precision in _FULL or device.type == "meta":
        return None
    if _LOW[precision] is torch.float16 and device.type == "cpu":
        return torch.bfloat16
    return _LOW[precision]


def needs_grad_scaler(device: torch.device, precision: str = "auto") -> bool:
    """Whether training at ``precision`` on ``device`` needs a ``GradScaler`` (fp16 autocast).

    Examples
    --------
    >>> import torch
    >>> needs_grad_scaler(torch.device("cuda"), "fp16")
    True
    >>> needs_grad_scaler(torch.device("cpu"), "16")  # bf16 on the CPU: no scaler
    False
    """
    return precision_dtype(device, precision) is torch.float16


def autocast(device: torch.device, precision: str = "auto") -> contextlib.AbstractContextManager:
    """Autocast context for ``precision`` (see :func:`precision_dtype` for the spellings).

    ``"auto"`` means bf16 on CUDA and full precision elsewhere.

    Examples
    --------
    >>> import torch
    >>> with autocast(torch.device("cpu")):
    ...     (torch.ones(2) * 2).dtype
    torch.float32
    """
    dtype = precision_dtype(device, precision)
    if dtype is None:
        return contextlib.nullcontext()
    if device.type == "cpu" and _LOW.get(precision) is torch.float16:
        logger.warning("fp16 autocast is slow on the CPU; using bf16 instead.")
    return torch.autocast(device.type, dtype=dtype)


def autocast_off(device: torch.device) -> contextlib.AbstractContextManager:
    """A context that turns autocast off on ``device``, for work that must stay in float32.

    A no-op where torch has no autocast for the device type (e.g. ``meta``).

    Examples
    --------
    >>> import torch
    >>> with torch.autocast("cpu", dtype=torch.bfloat16), autocast_off(torch.device("cpu")):
    ...     (torch.ones(2, 2) @ torch.ones(2, 2)).dtype
    torch.float32
    """
    if torch.amp.is_autocast_available(device.type):
        return torch.autocast(device.type, enabled=False)
    return contextlib.nullcontext()


def enable_tf32(device: torch.device, enabled: bool = True) -> bool:
    """Allow (or forbid) TF32 matmuls and convolutions for float32 work on CUDA.

    TF32 keeps float32's range with a 10-bit mantissa and runs float32 matmuls
    on the tensor cores of Ampere and later GPUs. Only the CUDA backend flags
    change (no CUDA call, so this is safe before any GPU work); on any other
    device nothing changes.

    Parameters
    ----------
    device : torch.device
        The training device.
    enabled : bool
        ``True`` allows TF32, ``False`` forces full float32.

    Returns
    -------
    bool
        Whether the flags were set (``device`` is CUDA).

    Examples
    --------
    >>> import torch
    >>> enable_tf32(torch.device("cpu"))
    False
    """
    if device.type != "cuda":
        return False
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled
    logger.info("TF32 matmuls and convolutions %s on %s", "on" if enabled else "off", device)
    return True
