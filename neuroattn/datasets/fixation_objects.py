"""Fixation-to-object assignment, and object scanpaths.

Object-level scanpath models such as OAT see a search trial as a sequence of
*objects*, not of pixels. :func:`assign_objects` maps every fixation to one
object box, vectorised over fixations and boxes:

1. a fixation inside a box (edges included: ``x0 <= x <= x1`` and
   ``y0 <= y <= y1``) goes to that box; when several boxes contain it, the
   ``overlap`` rule picks one (``"first"``, the lowest index, is what OAT's
   preprocessing does, since it stops at the first containing box);
2. a fixation inside no box goes to the box whose **centre** is nearest
   (Euclidean, in pixels); ties go to the lowest index;
3. with ``max_distance``, a fixation of case 2 whose nearest centre is
   farther than ``max_distance`` pixels gets ``-1`` (unassigned).

Boxes are ``(x0, y0, x1, y1)`` corners (``box_format="xyxy"``, the default)
or ``(x, y, w, h)`` with ``(x, y)`` the top-left corner (``"xywh"``, the
COCO convention), in the pixels of the fixations, ``y`` pointing down.

:func:`object_scanpath` then turns per-fixation object indices into the object
sequence a model is trained on, optionally merging refixations.

Examples
--------
>>> import numpy as np
>>> boxes = [[0, 0, 10, 10], [20, 0, 30, 10]]
>>> assign_objects([5, 21, 14, 40], [5, 9, 5, 90], boxes).tolist()
[0, 1, 0, 1]
>>> assign_objects([5, 40], [5, 90], boxes, max_distance=20).tolist()
[0, -1]
>>> object_scanpath([0, 0, -1, 1, 1, 0]).objects.tolist()
[0, 1, 0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

import numpy as np

from neuroattn.errors import ParameterError

BoxFormat = Literal["xyxy", "xywh"]
Overlap = Literal["first", "smallest", "nearest"]

# Fixations per block, so that the (fixations x boxes) matrices stay small.
_BLOCK_ELEMENTS = 1 << 22


def as_xyxy(boxes: np.ndarray | Sequence[Sequence[float]],
            box_format: BoxFormat = "xyxy") -> np.ndarray:
    """Validate boxes and return them as a float ``(n, 4)`` array of ``x0, y0, x1, y1``.

    Parameters
    ----------
    boxes : array-like, shape (n_boxes, 4)
        ``(x0, y0, x1, y1)`` corners, or ``(x, y, w, h)`` with ``box_format="xywh"``.
    box_format : {"xyxy", "xywh"}
        How the four numbers are to be read.

    Returns
    -------
    ndarray, shape (n_boxes, 4)

    Examples
    --------
    >>> as_xyxy([[10, 20, 5, 8]], box_format="xywh").tolist()
    [[10.0, 20.0, 15.0, 28.0]]
    """
    if box_format not in ("xyxy", "xywh"):
        raise ParameterError(f"box_format={box_format!r}; use 'xyxy' (x0, y0, x1, y1) or 'xywh' "
                             "(x, y, width, height).")
    arr = np.asarray(boxes, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 4 or arr.shape[0] == 0:
        raise ParameterError(f"boxes must have shape (n_boxes, 4) with n_boxes >= 1; got "
                             f"{arr.shape}. Pass one row of 4 numbers per object.")
    if not np.isfinite(arr).all():
        row = int(np.argwhere(~np.isfinite(arr))[0, 0])
        raise ParameterError(f"box {row} holds NaN or Inf ({arr[row].tolist()}); every box needs "
                             "four finite coordinates.")
    if box_format == "xywh":
        arr = np.concatenate([arr[:, :2], arr[:, :2] + arr[:, 2:]], axis=1)
    bad = (arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1])
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        hint = ("negative width or height" if box_format == "xywh"
                else "x1 < x0 or y1 < y0; were they given as (x, y, w, h)? pass box_format='xywh'")
        raise ParameterError(f"box {row} ({np.asarray(boxes, float)[row].tolist()}) has {hint}.")
    return arr


def box_centres(boxes: np.ndarray | Sequence[Sequence[float]],
                box_format: BoxFormat = "xyxy") -> np.ndarray:
    """Centres ``(cx, cy)`` of boxes, shape ``(n_boxes, 2)``.

    Examples
    --------
    >>> box_centres([[0, 0, 10, 4]]).tolist()
    [[5.0, 2.0]]
    """
    xyxy = as_xyxy(boxes, box_format)
    return np.stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, (xyxy[:, 1] + xyxy[:, 3]) / 2], axis=1)


def _points(x: np.ndarray | Sequence[float], y: np.ndarray | Sequence[float]) -> np.ndarray:
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if xs.ndim != 1 or ys.ndim != 1:
        raise ParameterError(f"x and y must be 1-D (one value per fixation); got shapes "
                             f"{xs.shape} and {ys.shape}.")
    if xs.shape != ys.shape:
        raise ParameterError(f"x and y have different lengths ({xs.size} and {ys.size}); "
                             "give one x and one y per fixation.")
    bad = ~(np.isfinite(xs) & np.isfinite(ys))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ParameterError(f"fixation {i} has a non-finite position ({xs[i]}, {ys[i]}); drop "
                             "fixations without a position (e.g. lost tracking) first.")
    return np.stack([xs, ys], axis=1)


def assign_objects(
    x: np.ndarray | Sequence[float],
    y: np.ndarray | Sequence[float],
    boxes: np.ndarray | Sequence[Sequence[float]],
    *,
    box_format: BoxFormat = "xyxy",
    overlap: Overlap = "first",
    max_distance: float | None = None,
) -> np.ndarray:
    """The object index of every fixation: its containing box, else the nearest box centre.

    Parameters
    ----------
    x, y : array-like, shape (n_fixations,)
        Fixation positions in pixels (``y`` down), finite.
    boxes : array-like, shape (n_boxes, 4)
        Object boxes in the same pixels, see ``box_format``.
    box_format : {"xyxy", "xywh"}
        ``(x0, y0, x1, y1)`` corners, or ``(x, y, w, h)`` with a top-left ``(x, y)``.
    overlap : {"first", "smallest", "nearest"}
        Which box a fixation inside several boxes goes to: the lowest index
        (OAT's rule), the smallest area, or the nearest centre among them.
        Remaining ties go to the lowest index.
    max_distance : float, optional
        For fixations inside no box: beyond this distance (pixels) from the
        nearest box centre, return ``-1`` instead of that box.

    Returns
    -------
    ndarray of int64, shape (n_fixations,)
        Indices into ``boxes``; ``-1`` only with ``max_distance``.

    Examples
    --------
    >>> nested = [[0, 0, 100, 100], [40, 40, 60, 60]]
    >>> assign_objects([50], [50], nested).tolist(), assign_objects(
    ...     [50], [50], nested, overlap="smallest").tolist()
    ([0], [1])
    >>> assign_objects([12], [3], [[0, 0, 10, 5]], box_format="xywh").tolist()
    [0]
    """
    if overlap not in ("first", "smallest", "nearest"):
        raise ParameterError(f"overlap={overlap!r}; use 'first' (lowest index, OAT), 'smallest' "
                             "(smallest box) or 'nearest' (nearest centre).")
    if max_distance is not None and not (np.isfinite(max_distance) and max_distance >= 0):
        raise ParameterError(f"max_distance={max_distance!r} must be a non-negative number of "
                             "pixels, or None for no limit.")
    xyxy = as_xyxy(boxes, box_format)
    pts = _points(x, y)
    centres = np.stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, (xyxy[:, 1] + xyxy[:, 3]) / 2], axis=1)
    area = (xyxy[:, 2] - xyxy[:, 0]) * (xyxy[:, 3] - xyxy[:, 1])
    out = np.empty(len(pts), dtype=np.int64)
    block = max(1, _BLOCK_ELEMENTS // len(xyxy))
    for start in range(0, len(pts), block):
        p = pts[start:start + block]
        inside = ((p[:, :1] >= xyxy[:, 0]) & (p[:, :1] <= xyxy[:, 2])
                  & (p[:, 1:] >= xyxy[:, 1]) & (p[:, 1:] <= xyxy[:, 3]))
        dist2 = ((p[:, None, :] - centres[None]) ** 2).sum(-1)
        nearest = dist2.argmin(axis=1)
        if overlap == "first":
            chosen = inside.argmax(axis=1)
        else:
            score = area[None, :] if overlap == "smallest" else dist2
            chosen = np.where(inside, score, np.inf).argmin(axis=1)
        contained = inside.any(axis=1)
        idx = np.where(contained, chosen, nearest)
        if max_distance is not None:
            far = ~contained & (dist2[np.arange(len(p)), nearest] > float(max_distance) ** 2)
            idx[far] = -1
        out[start:start + len(p)] = idx
    return out


class ObjectScanpath(NamedTuple):
    """An object scanpath: one entry per visit (see :func:`object_scanpath`)."""

    objects: np.ndarray
    """Object index per entry (int64)."""
    durations: np.ndarray | None
    """Summed fixation duration per entry, or None when no durations were given."""
    n_fixations: np.ndarray
    """How many fixations each entry merges (all 1 without ``merge_repeats``)."""


def object_scanpath(
    objects: np.ndarray | Sequence[int],
    durations: np.ndarray | Sequence[float] | None = None,
    *,
    merge_repeats: bool = True,
    drop_unassigned: bool = True,
) -> ObjectScanpath:
    """Collapse per-fixation object indices into an object scanpath.

    Unassigned fixations (``-1``) are dropped first (``drop_unassigned``), then
    runs of the same object are merged into one entry (``merge_repeats``), their
    durations summed. So ``A, -1, A`` becomes a single visit of ``A``.

    Note that OAT models *every* fixation (its behavioural metric counts
    refixations as repeated entries): for OAT targets use ``merge_repeats=False``.

    Parameters
    ----------
    objects : array-like of int, shape (n_fixations,)
        From :func:`assign_objects`.
    durations : array-like of float, optional
        Per-fixation durations (any unit), summed over merged fixations.
    merge_repeats : bool
        Merge consecutive fixations on the same object.
    drop_unassigned : bool
        Drop ``-1`` entries; if False they are kept (and merged like any object).

    Returns
    -------
    ObjectScanpath
        ``objects``, ``durations`` (None without input durations) and ``n_fixations``.

    Examples
    --------
    >>> path = object_scanpath([3, 3, 5, -1, 3], [0.1, 0.2, 0.3, 0.1, 0.2])
    >>> path.objects.tolist(), path.n_fixations.tolist()
    ([3, 5, 3], [2, 1, 1])
    >>> path.durations.round(3).tolist()
    [0.3, 0.3, 0.2]
    >>> object_scanpath([3, 3, 5], merge_repeats=False).objects.tolist()
    [3, 3, 5]
    """
    obj = np.asarray(objects)
    if obj.ndim != 1:
        raise ParameterError("objects must be 1-D (one index per fixation); got shape "
                             f"{obj.shape}.")
    if obj.size and not np.issubdtype(obj.dtype, np.integer):
        if not np.issubdtype(obj.dtype, np.floating) or not np.all(obj == np.round(obj)):
            raise TypeError(f"objects must be integer object indices; got dtype {obj.dtype}.")
    obj = obj.astype(np.int64)
    dur = None
    if durations is not None:
        dur = np.asarray(durations, dtype=float)
        if dur.shape != obj.shape:
            raise ParameterError(f"durations has {dur.size} values for {obj.size} fixations; give "
                                 "one duration per fixation.")
    if (obj < -1).any():
        raise ParameterError(f"object indices must be >= 0, or -1 for unassigned; got "
                             f"{int(obj.min())}.")
    keep = obj >= 0 if drop_unassigned else np.ones(obj.shape, bool)
    obj = obj[keep]
    dur = dur[keep] if dur is not None else None
    if merge_repeats and obj.size:
        starts = np.flatnonzero(np.r_[True, obj[1:] != obj[:-1]])
        counts = np.diff(np.r_[starts, obj.size])
        merged_dur = np.add.reduceat(dur, starts) if dur is not None else None
        return ObjectScanpath(obj[starts], merged_dur, counts)
    return ObjectScanpath(obj, dur, np.ones(obj.size, dtype=np.int64))
