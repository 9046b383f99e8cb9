"""Fixation coordinates: pixel ``(x, y)`` at the API, normalised ``(row, col)`` inside.

Every public function of :mod:`neuroattn.retina` and :mod:`neuroattn.gaze.neva`
takes and returns fixations as **pixel (x, y)**: ``x`` is the column (0 at the
left edge's pixel centre, ``W - 1`` at the right one) and ``y`` the row (0 at
the top). Internally the foveation works on the grid of the NeVA reference,
``torch.meshgrid(linspace(-1, 1, H), linspace(-1, 1, W))`` with ``'ij'``
indexing, so a fixation is a **normalised (row, col)** pair in ``[-1, 1]²``
with ``(-1, -1)`` the top-left pixel centre and ``(0, 0)`` the image centre.
The two conversions below are exact inverses of each other.

Examples
--------
>>> import numpy as np
>>> rc = pixels_to_fovea(np.array([[0.0, 0.0], [223.0, 111.5]]), (224, 224))
>>> rc.tolist()
[[-1.0, -1.0], [0.0, 1.0]]
>>> fovea_to_pixels(rc, (224, 224)).tolist()
[[0.0, 0.0], [223.0, 111.5]]
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

from neuroattn.errors import ParameterError

__all__ = ["fovea_to_pixels", "pixels_to_fovea"]

Array = TypeVar("Array", np.ndarray, torch.Tensor)


def _spans(size: tuple[int, int]) -> tuple[float, float]:
    height, width = (int(s) for s in size)
    if height < 2 or width < 2:
        raise ParameterError(f"image size {size} must be at least 2 x 2 pixels (height, width).")
    return float(height - 1), float(width - 1)


def _check_pairs(points: np.ndarray | torch.Tensor, what: str) -> None:
    if points.shape[-1:] != (2,):
        raise ParameterError(
            f"{what} must have a last dimension of 2, got shape {tuple(points.shape)}."
        )


def pixels_to_fovea(xy: Array, size: tuple[int, int]) -> Array:
    """Pixel ``(x, y)`` → normalised ``(row, col)`` in ``[-1, 1]`` (see the module docstring).

    Parameters
    ----------
    xy : numpy.ndarray or torch.Tensor, shape (..., 2)
        Fixations in pixels, ``x`` (column) first.
    size : (int, int)
        Image ``(height, width)`` in pixels.

    Returns
    -------
    Same type as ``xy``, shape (..., 2): ``(row, col)``.

    Examples
    --------
    >>> import torch
    >>> pixels_to_fovea(torch.tensor([127.0, 31.5]), (64, 128))
    tensor([0., 1.])
    """
    _check_pairs(xy, "xy")
    rows, cols = _spans(size)
    row = xy[..., 1] * (2.0 / rows) - 1.0
    col = xy[..., 0] * (2.0 / cols) - 1.0
    stack = torch.stack if isinstance(xy, torch.Tensor) else np.stack
    return stack([row, col], -1)


def fovea_to_pixels(rowcol: Array, size: tuple[int, int]) -> Array:
    """Normalised ``(row, col)`` → pixel ``(x, y)``; the inverse of :func:`pixels_to_fovea`.

    Parameters
    ----------
    rowcol : numpy.ndarray or torch.Tensor, shape (..., 2)
        Fixations on the ``[-1, 1]`` grid, row first.
    size : (int, int)
        Image ``(height, width)`` in pixels.

    Returns
    -------
    Same type as ``rowcol``, shape (..., 2): ``(x, y)`` in pixels.

    Examples
    --------
    >>> import numpy as np
    >>> fovea_to_pixels(np.array([0.0, -1.0]), (64, 128)).tolist()
    [0.0, 31.5]
    """
    _check_pairs(rowcol, "rowcol")
    rows, cols = _spans(size)
    x = (rowcol[..., 1] + 1.0) * (cols / 2.0)
    y = (rowcol[..., 0] + 1.0) * (rows / 2.0)
    stack = torch.stack if isinstance(rowcol, torch.Tensor) else np.stack
    return stack([x, y], -1)
