"""One place for argument checks and plain-value conversion, with one message style.

Every message names the parameter and its value, says what is allowed, and
how to fix it: ``"n_channels=0 must be >= 1; choose a value in that range."``.
Every failure raises :class:`neuroattn.errors.ParameterError` (a
``ValueError``), so callers and the command-line tools catch one class.

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

__all__ = ["check_int", "check_number", "check_option", "check_pair", "is_real",
           "to_jsonable"]


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
