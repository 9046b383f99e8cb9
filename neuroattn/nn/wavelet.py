"""Full-depth Daubechies-4 discrete wavelet transform with periodic extension, in torch.

A multilevel DWT with the 8-tap Daubechies "db4" filters and periodic boundary
handling, with all levels' coefficients concatenated in the order
``[cA_n, cD_n, cD_{n-1}, ..., cD_1]``. The result is numerically identical (up
to floating point rounding) to::

    numpy.concatenate(pywt.wavedec(x, "db4", mode=mode, level=n), axis=-1)

for ``mode`` in ``"periodization"`` and ``"periodic"``, without PyWavelets
being needed at run time.

``"periodic"`` is what MVPFormer's tokenizer uses (the reference computes it
with ``ptwt``): each level is the full convolution of the periodically extended
signal, ``floor((N + 7) / 2)`` coefficients per band, so a 2560-sample segment
gives 2610 coefficients. ``"periodization"`` (the default) is the orthonormal
variant described below.

Conventions of ``"periodization"``
---------------------------------------------------------------
* One level maps a signal ``x`` of even length ``N`` to ``N / 2`` approximation and
  ``N / 2`` detail coefficients::

      cA[i] = sum_k dec_lo[k] * x[(2 * i + 4 - k) mod N]
      cD[i] = sum_k dec_hi[k] * x[(2 * i + 4 - k) mod N]

* A signal of odd length is first extended by repeating its last sample (so it
  gives ``(N + 1) / 2`` coefficients per band); this is applied at every level.
* ``level=None`` means the maximum level of ``pywt.dwt_max_level(L, 8)``: the
  largest ``n`` with ``7 * 2**n <= L`` (see :func:`db4_max_level`).
* When ``L`` is divisible by ``2**level`` the output has exactly ``L`` coefficients
  and the transform is orthonormal, so it preserves the L2 norm (and the RMS) of
  every signal.  Otherwise (an odd length at some level) the output is a little
  longer than ``L`` (see :func:`db4_coeff_lengths`) and the repeated samples make
  the transform non-orthogonal, exactly as in PyWavelets.

For ``L = 2560`` (5 s at 512 Hz) the maximum level is 8 and the coefficient
lengths are ``10, 10, 20, 40, 80, 160, 320, 640, 1280`` (2560 in total).

Examples
--------
>>> import torch
>>> from neuroattn.nn.wavelet import db4_coeff_lengths, dwt_db4
>>> x = torch.randn(2, 3, 128)
>>> y = dwt_db4(x)
>>> y.shape
torch.Size([2, 3, 128])
>>> bool(torch.allclose(y.norm(dim=-1), x.norm(dim=-1), rtol=1e-5))
True
>>> db4_coeff_lengths(2560)
[10, 10, 20, 40, 80, 160, 320, 640, 1280]
"""

from __future__ import annotations

import operator
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from neuroattn.device import autocast_off
from neuroattn.errors import ParameterError

__all__ = [
    "DB4_DEC_HI",
    "DB4_DEC_LO",
    "db4_coeff_lengths",
    "db4_max_level",
    "dwt_db4",
    "dwt_db4_levels",
]

Mode = Literal["periodization", "periodic"]

#: Daubechies-4 (4 vanishing moments, 8 taps) decomposition low-pass filter, in the
#: order of ``pywt.Wavelet("db4").dec_lo``.  It is the time reverse of the
#: minimum-phase spectral factor of the Daubechies polynomial, normalised so that
#: ``sum(DB4_DEC_LO) == sqrt(2)`` and ``sum(h**2) == 1``.
DB4_DEC_LO: tuple[float, ...] = (
    -0.010597401785069032,
    0.0328830116668852,
    0.030841381835560764,
    -0.18703481171909309,
    -0.027983769416859854,
    0.6308807679298589,
    0.7148465705529157,
    0.2303778133088965,
)

#: The matching decomposition high-pass (quadrature mirror) filter,
#: ``DB4_DEC_HI[k] = (-1)**(k + 1) * DB4_DEC_LO[7 - k]``, as ``pywt.Wavelet("db4").dec_hi``.
DB4_DEC_HI: tuple[float, ...] = tuple(
    (-1.0) ** (k + 1) * DB4_DEC_LO[len(DB4_DEC_LO) - 1 - k] for k in range(len(DB4_DEC_LO))
)

_FILTER_LEN = len(DB4_DEC_LO)  # 8
# With cA[i] = sum_k h[k] x[(2i + 4 - k) mod N] and conv1d's cross-correlation
# out[i] = sum_j w[j] xp[2i + j] with w = flip(h), the padded signal must be
# xp[m] = x[(m - 3) mod N]: 3 samples of wrap-around on the left, 3 on the right.
_PAD_LEFT = 3
_PAD_RIGHT = _FILTER_LEN - 2 - _PAD_LEFT


def db4_max_level(length: int) -> int:
    """Maximum useful db4 decomposition level for a signal of ``length`` samples.

    Same value as ``pywt.dwt_max_level(length, 8)``: the largest ``n`` with
    ``7 * 2**n <= length``, or 0 when ``length < 14`` (too short for one level).

    Parameters
    ----------
    length : int
        Number of samples of the signal (non-negative).

    Returns
    -------
    int
        The maximum level.

    Examples
    --------
    >>> db4_max_level(2560), db4_max_level(128), db4_max_level(13), db4_max_level(14)
    (8, 4, 0, 1)
    """
    length = _as_int(length, "length")
    if length < 0:
        raise ParameterError(f"length must be a non-negative number of samples, got {length}.")
    level = 0
    while (_FILTER_LEN - 1) << (level + 1) <= length:
        level += 1
    return level


def db4_coeff_lengths(length: int, level: int | None = None,
                      mode: Mode = "periodization") -> list[int]:
    """Lengths of ``[cA_n, cD_n, ..., cD_1]`` for a signal of ``length`` samples.

    Parameters
    ----------
    length : int
        Number of samples of the signal.
    level : int or None
        Decomposition level, ``1 <= level <= db4_max_level(length)``; ``None`` for
        the maximum.

    Returns
    -------
    list of int
        One length per returned band, in PyWavelets ``wavedec`` order.  Their sum is
        the length of :func:`dwt_db4`'s output (``length`` itself when
        ``length`` is divisible by ``2**level``).

    Examples
    --------
    >>> db4_coeff_lengths(128)
    [8, 8, 16, 32, 64]
    >>> db4_coeff_lengths(1000, level=3)
    [125, 125, 250, 500]
    """
    length = _as_int(length, "length")
    level = _check_level(length, level)
    _check_mode(mode)
    details = []
    n = length
    for _ in range(level):
        n = (n + 1) // 2 if mode == "periodization" else (n + _FILTER_LEN - 1) // 2
        details.append(n)
    return [n, *details[::-1]]


def dwt_db4_levels(x: Tensor, level: int | None = None,
                   mode: Mode = "periodization") -> list[Tensor]:
    """Multilevel db4 DWT (periodization) of the last axis, one tensor per band.

    Parameters
    ----------
    x : Tensor
        Real floating point signals of shape ``(..., L)``, on any device.  float32,
        float64, float16 and bfloat16 are accepted; float64 is computed in float64,
        everything else in float32, and the result is cast back to ``x.dtype``.
        Autocast is switched off inside (under a bf16 autocast the convolutions
        would otherwise lose about 3 significant digits).
    level : int or None
        Number of levels, ``1 <= level <= db4_max_level(L)``; ``None`` (default) for
        the maximum, as ``pywt.dwt_max_level(L, 8)``.

    Returns
    -------
    list of Tensor
        ``[cA_n, cD_n, cD_{n-1}, ..., cD_1]``, each of shape ``(..., L_k)`` with the
        lengths of :func:`db4_coeff_lengths`, same dtype and device as ``x``;
        the order and values of ``pywt.wavedec(x, "db4", mode="periodization")``.

    Raises
    ------
    TypeError
        If ``x`` is not a real floating point tensor or ``level`` not an integer.
    ValueError
        If ``x`` is 0-d, its last axis is too short for one level (< 14 samples),
        or ``level`` is out of range.

    Examples
    --------
    >>> import torch
    >>> bands = dwt_db4_levels(torch.ones(4, 64), level=2)
    >>> [tuple(b.shape) for b in bands]
    [(4, 16), (4, 16), (4, 32)]
    >>> round(float(bands[0][0, 0]), 4)  # a constant only feeds the approximation: 2**(2/2)
    2.0
    >>> float(bands[1].abs().max()) < 1e-6 and float(bands[2].abs().max()) < 1e-6
    True
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}.")
    if x.dim() == 0:
        raise ParameterError(
            "x is a 0-d tensor; the DWT runs along the last axis, so pass signals of "
            "shape (..., L), e.g. x.reshape(1, -1)."
        )
    if not x.is_floating_point():
        raise TypeError(
            f"x must be a real floating point tensor, got dtype {x.dtype}; convert it "
            "first, e.g. x.float()."
        )
    length = x.shape[-1]
    level = _check_level(length, level)
    _check_mode(mode)

    out_dtype = x.dtype
    compute_dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    lead_shape = x.shape[:-1]
    # (B, 1, L) for conv1d; reshape copies only if x is not contiguous enough.
    a = x.to(compute_dtype).reshape(-1, 1, length)
    weight = _filter_bank(x.device, compute_dtype)

    details: list[Tensor] = []
    with autocast_off(x.device):  # conv1d would otherwise run in bf16/fp16 under autocast
        for _ in range(level):
            if mode == "periodization":
                if a.shape[-1] % 2:  # PyWavelets: an odd signal gets its last sample repeated
                    a = torch.cat((a, a[..., -1:]), dim=-1)
                left, right = _PAD_LEFT, _PAD_RIGHT
            else:  # "periodic": full convolution of the periodically extended signal
                left, right = _FILTER_LEN - 2, _FILTER_LEN - 2 + a.shape[-1] % 2
            n = a.shape[-1]
            padded = torch.cat((a[..., n - left:], a, a[..., :right]), dim=-1)
            bands = F.conv1d(padded, weight, stride=2)  # (B, 2, n / 2)
            a = bands[:, :1]
            details.append(bands[:, 1:])

    coeffs = [a, *details[::-1]]
    return [c.reshape(*lead_shape, c.shape[-1]).to(out_dtype) for c in coeffs]


def dwt_db4(x: Tensor, level: int | None = None, mode: Mode = "periodization") -> Tensor:
    """Full-depth db4 DWT (periodization) of the last axis, all bands concatenated.

    Equal to ``numpy.concatenate(pywt.wavedec(x, "db4", mode="periodization",
    level=level), axis=-1)``; see :func:`dwt_db4_levels` for the
    parameters, dtype rules and errors.  Differentiable; works under
    ``torch.no_grad()``, on any device, and under autocast (which it switches
    off: the convolutions stay in float32 or float64).

    Parameters
    ----------
    x : Tensor
        Real floating point signals of shape ``(..., L)``.
    level : int or None
        Number of levels; ``None`` (default) for ``db4_max_level(L)``.

    Returns
    -------
    Tensor
        Shape ``(..., sum(db4_coeff_lengths(L, level)))`` (``(..., L)`` when ``L`` is
        divisible by ``2**level``), ordered ``[cA_n, cD_n, ..., cD_1]``, same dtype
        and device as ``x``.

    Examples
    --------
    >>> import torch
    >>> x = torch.randn(5, 2560)
    >>> y = dwt_db4(x)  # 8 levels: 10 + 10 + 20 + ... + 1280 = 2560
    >>> y.shape
    torch.Size([5, 2560])
    >>> bool(torch.allclose((y**2).mean(-1), (x**2).mean(-1), rtol=1e-4))  # RMS kept
    True
    >>> dwt_db4(torch.randn(3, 1000)).shape  # odd lengths: as pywt, 1002
    torch.Size([3, 1002])
    """
    return torch.cat(dwt_db4_levels(x, level, mode), dim=-1)


_FILTER_BANKS: dict[tuple[torch.device, torch.dtype], Tensor] = {}


def _filter_bank(device: torch.device, dtype: torch.dtype) -> Tensor:
    """Both filters as one (2, 1, 8) conv1d weight (flipped: conv1d correlates).

    Cached per (device, dtype) and built on the device from 16 fills, so there
    is no host-to-device copy, not even the first time. Tensors of a tracing
    mode (FakeTensor subclasses, ``torch.compile``) are not cached; the bank is
    never an inference tensor.
    """
    bank = _FILTER_BANKS.get((device, dtype))
    if bank is None:
        with torch.inference_mode(False):
            bank = torch.stack([torch.full((), value, dtype=dtype, device=device)
                                for taps in (DB4_DEC_LO[::-1], DB4_DEC_HI[::-1])
                                for value in taps]).view(2, 1, _FILTER_LEN)
        if type(bank) is Tensor and not torch.compiler.is_compiling():
            _FILTER_BANKS[(device, dtype)] = bank
    return bank


def _check_mode(mode: str) -> None:
    if mode not in ("periodization", "periodic"):
        raise ParameterError(
            f"mode={mode!r}; use 'periodization' (orthonormal, L coefficients) or 'periodic' "
            "(PyWavelets' periodic mode, as MVPFormer's tokenizer)."
        )


def _as_int(value: object, name: str) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got a bool ({value}).")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}.") from None


def _check_level(length: int, level: int | None) -> int:
    max_level = db4_max_level(length)
    if max_level == 0:
        raise ParameterError(
            f"a signal of {length} samples is too short for one db4 DWT level; the last "
            f"axis needs at least {2 * (_FILTER_LEN - 1)} samples (use longer segments or "
            "a higher sampling rate)."
        )
    if level is None:
        return max_level
    level = _as_int(level, "level")
    if not 1 <= level <= max_level:
        raise ParameterError(
            f"level={level} is out of range for a signal of {length} samples: use "
            f"1 <= level <= {max_level} (= db4_max_level({length}), as "
            f"pywt.dwt_max_level({length}, 8)), or level=None for the maximum."
        )
    return level
