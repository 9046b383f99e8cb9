"""One place for argument checks and plain-value conversion, with one message style.

Every message names the parameter and its value, says what is allowed, and
how to fix it: ``"n_channels=0 must be >= 1; choose a value in that range."``.
Every failure raises :class:`neuroattn.errors.ParameterError` (a
``ValueError``), so callers and the command-line tools catch one class.
:func:`as_array` and :func:`as_tensor` take data in any of the forms users
hold it (NumPy, torch, xarray, pandas, lists) and check it the same way.

Examples
--------
>>> from neuroattn._validation import check_int, check_option, to_jsonable
>>> check_int("n_channels", 4, 1)
>>> check_option("scoring", "szcore", ("szcore", "onset"))
'szcore'
>>> import numpy as np
>>> to_jsonable({"auroc": np.float32(0.5), "n": np.int64(3), "flags": np.array([True])})
{'auroc': 0.5, 'n': 3, 'flags': [True]}
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from neuroattn.errors import ParameterError

__all__ = ["as_array", "as_tensor", "check_int", "check_number", "check_option", "check_pair",
           "is_real", "plain_values", "to_jsonable"]


def is_real(value: Any) -> bool:
    """True for a Python or NumPy integer or float (booleans excluded).

    Examples
    --------
    >>> is_real(3), is_real(2.5), is_real(True), is_real("3")
    (True, True, False, False)
    """
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_)


def check_int(name: str, value: Any, lo: int, hi: int | None = None) -> None:
    """Check that ``value`` is an integer in ``[lo, hi]`` (``hi=None``: no upper bound).

    Examples
    --------
    >>> check_int("n_seizures", 2.0, 0)
    Traceback (most recent call last):
    ...
    neuroattn.errors.ParameterError: n_seizures=2.0 must be an integer.
    """
    if not isinstance(value, int | np.integer) or isinstance(value, bool | np.bool_):
        raise ParameterError(f"{name}={value!r} must be an integer.")
    if value < lo or (hi is not None and value > hi):
        allowed = f">= {lo}" if hi is None else f"between {lo} and {hi}"
        raise ParameterError(f"{name}={value!r} must be {allowed}; choose a value in that "
                             "range.")


def check_number(name: str, value: Any, *, lo: float | None = None, hi: float | None = None,
                 strict: bool = False) -> None:
    """Check that ``value`` is a finite number, ``>= lo`` (``> lo`` if ``strict``) and ``<= hi``.

    Examples
    --------
    >>> check_number("sfreq", 0.0, lo=0.0, strict=True)
    Traceback (most recent call last):
    ...
    neuroattn.errors.ParameterError: sfreq=0.0 must be > 0; pass a value > 0.
    """
    if not is_real(value) or not math.isfinite(float(value)):
        raise ParameterError(f"{name}={value!r} must be a finite number.")
    if lo is not None and (value <= lo if strict else value < lo):
        op = ">" if strict else ">="
        raise ParameterError(f"{name}={value!r} must be {op} {lo:g}; pass a value {op} {lo:g}.")
    if hi is not None and value > hi:
        raise ParameterError(f"{name}={value!r} must be <= {hi:g}; pass a value <= {hi:g}.")


def check_pair(name: str, value: Any, *, lo: float, strict: bool = False) -> None:
    """Check a ``(low, high)`` pair of numbers, each ``>= lo`` (``> lo``), with low <= high.

    Examples
    --------
    >>> check_pair("duration_s", (5.0, 2.0), lo=0.0)
    Traceback (most recent call last):
    ...
    neuroattn.errors.ParameterError: duration_s=(5.0, 2.0) has low > high; pass (low, high) \
with low <= high.
    """
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise ParameterError(f"{name}={value!r} must be a (low, high) pair of numbers.")
    for v in value:
        check_number(name, v, lo=lo, strict=strict)
    if value[0] > value[1]:
        raise ParameterError(
            f"{name}={tuple(value)!r} has low > high; pass (low, high) with low <= high.")


def check_option(name: str, value: Any, options: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``options``; otherwise say which are allowed.

    Examples
    --------
    >>> check_option("rows", "diagonal", ("table", "relative"))
    Traceback (most recent call last):
    ...
    neuroattn.errors.ParameterError: rows='diagonal' is not one of 'table', 'relative'; pass \
one of those.
    """
    options = tuple(options)
    if value not in options:
        listed = ", ".join(repr(o) for o in options)
        raise ParameterError(f"{name}={value!r} is not one of {listed}; pass one of those.")
    return value


def to_jsonable(value: Any) -> Any:
    """Plain Python values for JSON or YAML: NumPy scalars and arrays, tuples, paths, dataclasses.

    Dict keys become strings; NaN stays a float (``json.dumps`` writes it as
    ``NaN``).

    Examples
    --------
    >>> import numpy as np
    >>> to_jsonable({1: (np.int32(2), np.nan)})
    {'1': [2, nan]}
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def plain_values(name: str, value: Any) -> Any:
    """The data inside an xarray object (in its stored dimension order); else ``value``.

    A :class:`xarray.Dataset` gives its one data variable; one with several is refused.
    Anything else (NumPy, torch, pandas) is returned as it is.

    Examples
    --------
    >>> import xarray as xr
    >>> plain_values("x", xr.DataArray([[1, 2]], dims=("a", "b"))).shape
    (1, 2)
    >>> plain_values("x", xr.Dataset({"u": ("t", [1]), "v": ("t", [2])}))
    Traceback (most recent call last):
    ...
    neuroattn.errors.ParameterError: x is an xarray.Dataset with variables ['u', 'v']; pass \
the one to use, such as x['u'].
    """
    if hasattr(value, "data_vars"):                            # xarray.Dataset
        names = list(value.data_vars)
        if len(names) != 1:
            raise ParameterError(f"{name} is an xarray.Dataset with variables {names}; pass "
                                 f"the one to use, such as {name}[{names[0]!r}].")
        return value[names[0]].values
    if hasattr(value, "dims") and hasattr(value, "values"):    # xarray.DataArray
        return value.values
    return value


def _check_array(name: str, shape: tuple[int, ...], ndim: int | tuple[int, ...] | None,
                 allow_empty: bool, hint: str) -> None:
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if len(shape) not in allowed:
            dims = " or ".join(f"{n}-D" for n in allowed)
            raise ParameterError(f"{name} must be {dims}; got shape {shape}; "
                                 f"{hint or 'reshape it'}.")
    if not allow_empty and 0 in shape:
        raise ParameterError(f"{name} is empty (shape {shape}); pass at least one value.")


def _non_finite(name: str, count: int) -> ParameterError:
    return ParameterError(f"{name} holds {count} NaN or infinite value(s); drop or impute "
                          "them first.")


def as_array(name: str, value: Any, *, ndim: int | tuple[int, ...] | None = None,
             dtype: Any = np.float64, finite: bool = True, allow_empty: bool = True,
             hint: str = "") -> np.ndarray:
    """``value`` (NumPy, torch, xarray, pandas, list, scalar) as a checked NumPy array.

    Parameters
    ----------
    name : str
        The argument's name, for the messages.
    value : array-like
        Numbers or booleans; text, complex and other objects are refused.
    ndim : int or tuple of int, optional
        Accepted numbers of dimensions.
    dtype : numpy dtype or None
        Of the result; ``None`` keeps the input's (text and other objects still refused;
        torch half precision becomes float32).
    finite : bool
        Refuse NaN and infinite values (always refused for an integer or bool ``dtype``).
    allow_empty : bool
        Accept an array with no values.
    hint : str
        How to fix a wrong number of dimensions or values that are not numbers (default:
        "reshape it", "convert it to numbers first").

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    ParameterError
        For each failure, naming ``name`` and the fix.

    Examples
    --------
    >>> import torch
    >>> as_array("scores", torch.tensor([0.5, 1.0]), ndim=1)
    array([0.5, 1. ])
    >>> as_array("scores", [[0.5, float("nan")]], ndim=1, hint="pass one value per window")
    Traceback (most recent call last):
    ...
    neuroattn.errors.ParameterError: scores must be 1-D; got shape (1, 2); pass one value per \
window.
    """
    value = plain_values(name, value)
    if hasattr(value, "detach") and hasattr(value, "cpu"):       # torch.Tensor
        value = value.detach().cpu()
        if str(value.dtype) in ("torch.bfloat16", "torch.float16"):  # bf16 has no NumPy type
            value = value.float()
        value = value.numpy()
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError) as err:                      # ragged nested lists
        raise ParameterError(f"{name} must hold numbers in a regular array; got "
                             f"{type(value).__name__} that is not one ({err}).") from None
    text = raw.dtype == object and any(isinstance(v, str | bytes) for v in raw.flat)
    if text or (raw.dtype.kind not in "biuf" and raw.dtype != object):
        kind = "text" if text else f"dtype {raw.dtype}"
        raise ParameterError(f"{name} must hold real numbers; got {kind} "
                             f"({type(value).__name__}); {hint or 'convert it to numbers first'}.")
    try:
        floats = raw.astype(np.float64) if raw.dtype == object else raw
    except (TypeError, ValueError) as err:
        raise ParameterError(f"{name} must hold numbers; got {type(value).__name__} that "
                             f"cannot be read as numbers ({err}).") from None
    _check_array(name, raw.shape, ndim, allow_empty, hint)
    exact = dtype is not None and np.dtype(dtype).kind in "biu"   # no integer stands for NaN
    if (finite or exact) and floats.dtype.kind == "f" and not np.isfinite(floats).all():
        raise _non_finite(name, int((~np.isfinite(floats)).sum()))
    array = floats if dtype is None else floats.astype(dtype, copy=False)
    return array


def as_tensor(name: str, value: Any, *, ndim: int | tuple[int, ...] | None = None,
              dtype: Any = None, device: Any = None, finite: bool = True,
              allow_empty: bool = True, hint: str = "") -> Any:
    """``value`` as a checked torch tensor; a tensor stays on its device unless ``device``.

    The result is detached from any autograd graph (this converts inputs; it is not
    for tensors that must keep their gradients).

    Parameters
    ----------
    name, ndim, finite, allow_empty, hint
        As for :func:`as_array`.
    value : array-like or torch.Tensor
    dtype : torch.dtype, optional
        Default: ``torch.float32``.
    device : str or torch.device, optional
        Where the result lives (default: where a tensor already is, else the CPU).

    Returns
    -------
    torch.Tensor

    Examples
    --------
    >>> import numpy as np, torch
    >>> as_tensor("labels", np.array([1, 0]), dtype=torch.long)
    tensor([1, 0])
    >>> as_tensor("images", torch.full((1, 2), float("inf")))
    Traceback (most recent call last):
    ...
    neuroattn.errors.ParameterError: images holds 2 NaN or infinite value(s); drop or impute \
them first.
    """
    import torch

    dtype = torch.float32 if dtype is None else dtype
    value = plain_values(name, value)
    if not isinstance(value, torch.Tensor):
        host = torch.float32 if dtype == torch.bfloat16 else dtype   # bf16 has no NumPy type
        array = as_array(name, value, dtype=torch.empty(0, dtype=host).numpy().dtype,
                         finite=finite)
        value = torch.from_numpy(array if array.flags.writeable else array.copy())
    elif value.is_complex():
        raise ParameterError(f"{name} must hold real numbers; got dtype {value.dtype}; "
                             "pass its real part or its magnitude.")
    elif finite and value.is_floating_point():
        bad = ~torch.isfinite(value.detach())
        if bool(bad.any()):
            raise _non_finite(name, int(bad.sum()))
    tensor = value.detach().to(dtype=dtype, device=device)
    _check_array(name, tuple(tensor.shape), ndim, allow_empty, hint)
    return tensor
