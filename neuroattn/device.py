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
        raise ValueError(
            f"device={device!r} is not a device; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'."
        ) from err
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"device={device!r} was requested but this torch ({torch.__version__}) sees no "
                "CUDA GPU. Use --device cpu, or install a CUDA build of torch (see README)."
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise RuntimeError(
                f"device={device!r} does not exist: {torch.cuda.device_count()} CUDA device(s) "
                "are visible (check CUDA_VISIBLE_DEVICES)."
            )
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError(f"device={device!r} was requested but MPS is not available here.")
    return dev


def autocast(device: torch.device, precision: str = "auto") -> contextlib.AbstractContextManager:
    """Autocast context for ``precision`` in ``{"auto", "32", "bf16", "16"}``.

    ``"auto"`` means bf16 on CUDA and full precision elsewhere.

    Examples
    --------
    >>> import torch
    >>> with autocast(torch.device("cpu")):
    ...     (torch.ones(2) * 2).dtype
    torch.float32
    """
    if precision == "auto":
        precision = "bf16" if device.type == "cuda" else "32"
    if precision in {"32", "fp32", "float32"}:
        return contextlib.nullcontext()
    dtypes = {"bf16": torch.bfloat16, "bf16-mixed": torch.bfloat16, "16": torch.float16,
              "16-mixed": torch.float16, "fp16": torch.float16}
    if precision not in dtypes:
        raise ValueError(
            f"precision={precision!r} is unknown; use 'auto', '32', 'bf16' or '16'."
        )
    if dtypes[precision] is torch.float16 and device.type == "cpu":
        logger.warning("fp16 autocast is slow on the CPU; using bf16 instead.")
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return torch.autocast(device.type, dtype=dtypes[precision])
