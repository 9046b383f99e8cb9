"""Reading scanpaths, maps and symbols: the input checks every gaze metric shares.

Every metric module (:mod:`~neuroattn.gaze.metrics.sequence`,
:mod:`~neuroattn.gaze.metrics.semantic`, :mod:`~neuroattn.gaze.metrics.saliency`,
:mod:`~neuroattn.gaze.metrics.behavioural`) reads its inputs through these
functions, so the same mistake gets the same message everywhere. Inputs may be
lists, NumPy arrays or torch tensors on any device.

Examples
--------
>>> from neuroattn.gaze.metrics.scanpaths import as_xy, semantic_symbols
>>> as_xy([[1, 2], [3, 4]], "scanpath").dtype
dtype('float64')
>>> import numpy as np
>>> semantic_symbols([[0, 0], [2.7, 1.2]], np.arange(12).reshape(3, 4))
array([0, 6])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neuroattn._validation import as_array
from neuroattn.errors import ParameterError

__all__ = ["as_label_map", "as_list", "as_shape", "as_symbols", "as_xy", "check_same_count",
           "label_symbols", "pixel_indices", "semantic_symbols"]


def as_symbols(seq: Any, name: str) -> np.ndarray:
    """One scanpath of integer symbols as a 1-D int64 array (non-empty, finite)."""
    arr = as_array(name, seq, dtype=None, finite=False,
                   hint="pass integers (object indices, grid cells or cluster labels)")
    if arr.ndim != 1:
        raise ParameterError(
            f"{name} must be a 1-D sequence of integer symbols (object indices, grid cells or "
            f"cluster labels); got shape {arr.shape}. Batched functions take a list of such "
            "scanpaths; turn (x, y) fixations into symbols with grid_symbols() first.")
    if arr.size == 0:
        raise ParameterError(f"{name} is an empty scanpath; every scanpath needs at least one "
                             "fixation (drop the empty trials first).")
    if arr.dtype.kind in "biu":
        return arr.astype(np.int64)
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ParameterError(f"{name} holds NaN or Inf; symbols must be finite integers.")
        if not np.array_equal(arr, np.round(arr)):
            raise ParameterError(f"{name} holds non-integer values; symbols must be integers "
                                 "(object indices or labels), not coordinates.")
        return arr.astype(np.int64)
    raise TypeError(f"{name} must hold integers; got dtype {arr.dtype}.")


def as_xy(fixations: Any, name: str, *, min_columns: int = 2) -> np.ndarray:
    """One scanpath of fixations ``(n, >= min_columns)`` as float64 (x, y[, duration])."""
    arr = as_array(name, fixations, dtype=None, finite=False)
    if arr.ndim != 2 or arr.shape[1] < min_columns:
        cols = "(x, y)" if min_columns == 2 else "(x, y, duration)"
        raise ParameterError(f"{name} must be an (n_fixations, {min_columns}) array of {cols} "
                             f"rows; got shape {arr.shape}.")
    if arr.shape[0] == 0:
        raise ParameterError(f"{name} is an empty scanpath; every scanpath needs at least one "
                             "fixation (drop the empty trials first).")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers; got dtype {arr.dtype}.")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ParameterError(f"{name} holds NaN or Inf; drop the invalid fixations first.")
    return arr


def as_shape(shape: Any, name: str) -> tuple[int, int]:
    """A positive ``(height, width)`` or ``(rows, cols)`` pair."""
    try:
        first, second = (int(v) for v in shape)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a pair of positive integers; got {shape!r}.") from err
    if first < 1 or second < 1:
        raise ParameterError(f"{name} must be a pair of positive integers; got {shape!r}.")
    return first, second


def pixel_indices(xy: np.ndarray, shape: tuple[int, int], name: str
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the pixels under fixations ``xy`` in an image of ``shape``.

    Pixel ``(r, c)`` covers ``c <= x < c + 1`` and ``r <= y < r + 1`` (the index is
    ``floor``, as pysaliency's ``x_int``); a fixation outside ``[0, W) x [0, H)`` is an error.
    """
    height, width = shape
    x, y = xy[:, 0], xy[:, 1]
    outside = (x < 0) | (x >= width) | (y < 0) | (y >= height)
    if outside.any():
        k = int(np.flatnonzero(outside)[0])
        raise ParameterError(
            f"{name}: fixation {k} at (x={x[k]:g}, y={y[k]:g}) lies outside the "
            f"{height} x {width} (height x width) image; x indexes the width and y the "
            "height. Clip or drop off-image fixations first.")
    return np.floor(y).astype(np.int64), np.floor(x).astype(np.int64)


def as_list(batch: Any, name: str) -> list[Any]:
    """A batch (list, tuple or array of scanpaths) as a list."""
    if isinstance(batch, (str, bytes)) or not hasattr(batch, "__len__"):
        raise TypeError(f"{name} must be a list of scanpaths; got {type(batch).__name__}.")
    return list(batch)


def check_same_count(a: list[Any], b: list[Any], names: str = "a_list and b_list") -> None:
    if len(a) != len(b):
        raise ParameterError(f"{names} must hold the same number of scanpaths (pair k is "
                             f"a_list[k] with b_list[k]); got {len(a)} and {len(b)}.")


def as_label_map(label_map: Any, name: str) -> np.ndarray:
    """A 2-D integer label map (integral floats accepted, NaN not)."""
    arr = as_array(name, label_map, dtype=None, finite=False)
    if arr.ndim != 2 or arr.size == 0:
        raise ParameterError(f"{name} must be a non-empty (height, width) map of integer labels; "
                             f"got shape {arr.shape}.")
    if arr.dtype.kind in "biu":
        return arr.astype(np.int64)
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ParameterError(f"{name} holds NaN or Inf; labels must be finite integers.")
        if not np.array_equal(arr, np.round(arr)):
            raise ParameterError(f"{name} holds non-integer values; a label map holds integer "
                                 "category ids (not a saliency or probability map).")
        return arr.astype(np.int64)
    raise TypeError(f"{name} must hold integer labels; got dtype {arr.dtype}.")


def label_symbols(fixations: Any, label_map: np.ndarray, name: str) -> np.ndarray:
    """The labels under ``fixations`` in a checked ``label_map`` (see :func:`semantic_symbols`)."""
    xy = as_xy(fixations, name)
    rows, cols = pixel_indices(xy, label_map.shape, name)
    return label_map[rows, cols]


def semantic_symbols(fixations: Any, label_map: Any) -> np.ndarray:
    """The label of the pixel under each fixation.

    Parameters
    ----------
    fixations : array-like of shape (n_fixations, 2 or more)
        ``(x, y[, ...])`` in pixels of ``label_map``; extra columns are ignored.
    label_map : array-like of shape (height, width)
        Integer labels per pixel.

    Returns
    -------
    ndarray of shape (n_fixations,), int64
        ``label_map[floor(y), floor(x)]`` per fixation.

    Examples
    --------
    >>> import numpy as np
    >>> semantic_symbols([[0, 0], [2.7, 1.2]], np.arange(12).reshape(3, 4))
    array([0, 6])
    """
    return label_symbols(fixations, as_label_map(label_map, "label_map"), "fixations")
