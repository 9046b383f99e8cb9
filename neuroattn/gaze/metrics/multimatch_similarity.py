"""MultiMatch scanpath similarity, vectorised over many scanpath pairs.

MultiMatch (Jarodzka, Holmqvist & Nyström 2010; Dewhurst et al. 2012) turns
each scanpath into its saccade vectors, aligns the two saccade sequences by
the cheapest monotone path through their matrix of vector differences, and
scores the aligned saccade pairs on five dimensions. This module reproduces
``multimatch_gaze.docomparison`` (multimatch-gaze 0.1.3) to floating-point
rounding wherever that package returns a value, and scores whole batches of
pairs at once: a dynamic-programming alignment over padded arrays replaces
the per-pair graph and Dijkstra search.

Examples
--------
>>> import numpy as np
>>> from neuroattn.gaze.metrics.multimatch_similarity import MULTIMATCH_DIMENSIONS, multimatch
>>> path = np.array([[100.0, 100.0, 0.25], [400.0, 300.0, 0.30], [700.0, 200.0, 0.20]])
>>> dict(zip(MULTIMATCH_DIMENSIONS, multimatch(path, path, (1280, 720)).tolist()))
{'vector': 1.0, 'direction': 1.0, 'length': 1.0, 'position': 1.0, 'duration': 1.0}
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from neuroattn._logging import logger
from neuroattn.errors import ParameterError
from neuroattn.progress import progress as progress_bar

__all__ = ["MULTIMATCH_DIMENSIONS", "multimatch", "multimatch_scores"]

#: The five similarities, in the order both functions return them.
MULTIMATCH_DIMENSIONS: tuple[str, ...] = ("vector", "direction", "length", "position", "duration")

#: Alignment cells (pairs x saccades_a x saccades_b) scored together by default.
_CELL_BUDGET = 2**22

_FIELDS = ("x", "y", "dx", "dy", "theta", "rho")  # one saccade, as the grouping passes see it


@dataclass
class _Saccades:
    """The saccades of S scanpaths, flat: scanpath s owns ``offset[s]:offset[s] + count[s]``.

    Per saccade: start point (x, y), vector (dx, dy), direction ``theta``, amplitude ``rho``
    and the duration ``dur`` of its starting fixation. ``null[s]`` marks a single-fixation
    scanpath (one zero-length saccade).
    """

    x: np.ndarray
    y: np.ndarray
    dx: np.ndarray
    dy: np.ndarray
    theta: np.ndarray
    rho: np.ndarray
    dur: np.ndarray
    offset: np.ndarray
    count: np.ndarray
    null: np.ndarray

    def padded(self, name: str, rows: np.ndarray, width: int) -> np.ndarray:
        """Field ``name`` of scanpaths ``rows`` as (len(rows), width), padded by repetition."""
        k = np.minimum(np.arange(width)[None, :], self.count[rows, None] - 1)
        return getattr(self, name)[self.offset[rows, None] + k]

    def along(self, name: str, rows: np.ndarray, index: np.ndarray) -> np.ndarray:
        """Field ``name`` at saccade ``index[p, t]`` of scanpath ``rows[p]``."""
        return getattr(self, name)[self.offset[rows, None] + index]


def _as_scanpath(obj: Any, label: str) -> np.ndarray:
    """One scanpath as a float64 (n, 3) array; checks shape and emptiness only."""
    if getattr(getattr(obj, "dtype", None), "names", None):  # the peer's record arrays
        names = obj.dtype.names
        if not {"start_x", "start_y", "duration"} <= set(names):
            raise ParameterError(f"{label} is a record array with fields {names}; MultiMatch needs "
                                 "'start_x', 'start_y' and 'duration'.")
        obj = np.stack([obj["start_x"], obj["start_y"], obj["duration"]], axis=-1)
    elif hasattr(obj, "detach") and hasattr(obj, "cpu"):  # torch.Tensor
        obj = obj.detach().cpu().double().numpy()
    try:
        arr = np.asarray(obj, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{label} must be a numeric (n_fixations, 3) array of (x px, y px, "
                        f"duration s); got {type(obj).__name__}.") from err
    if arr.ndim != 2 or arr.shape[1] != 3:
        hint = " (one fixation: reshape it to (1, 3))" if arr.shape == (3,) else ""
        raise ParameterError(f"{label} has shape {arr.shape}; a scanpath is an (n_fixations, 3) "
                             f"array of (x px, y px, duration s){hint}.")
    if arr.shape[0] == 0:
        raise ParameterError(f"{label} is empty; MultiMatch needs at least one fixation.")
    return arr


def _check_values(paths: list[np.ndarray], labels: Sequence[str]) -> None:
    """Finite coordinates and non-negative durations, checked in bulk."""
    flat = np.concatenate(paths)
    finite, nonneg = np.isfinite(flat).all(), (flat[:, 2] >= 0).all()
    if finite and nonneg:
        return
    for path, label in zip(paths, labels, strict=False):
        if not np.isfinite(path).all():
            raise ParameterError(f"{label} holds NaN or Inf; drop or interpolate those fixations "
                                 "first.")
        if (path[:, 2] < 0).any():
            raise ParameterError(f"{label} has negative fixation durations; durations are in "
                                 "seconds and must be >= 0.")


def _screen_diagonal(screen_size: Any) -> float:
    try:
        size = np.asarray(screen_size, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"screen_size must be (width, height) in px; got {screen_size!r}.") from err
    if size.shape != (2,) or not np.isfinite(size).all() or (size <= 0).any():
        raise ParameterError(f"screen_size must be two positive, finite numbers (width, height) in "
                             f"px; got {screen_size!r}.")
    return math.sqrt(float(size[0]) ** 2 + float(size[1]) ** 2)


def _check_threshold(value: Any, name: str) -> float:
    value = float(value)
    if math.isnan(value) or value < 0:
        raise ParameterError(f"{name} must be >= 0 (0 disables that criterion); got {value}.")
    return value


# --------------------------------------------------------------------------- grouping
# A saccade is the tuple (x, y, dx, dy, theta, rho); durations are a parallel list whose
# entry k is the duration at the start of saccade k (it may carry extra trailing entries,
# as the peer's does after an amplitude merge of the last saccade).


def _summed(start: tuple[float, ...], dx: float, dy: float) -> tuple[float, ...]:
    """A saccade from ``start``'s start point with the vector (dx, dy)."""
    return (start[0], start[1], dx, dy, math.atan2(dy, dx), math.sqrt(dx * dx + dy * dy))


def _angle_below(a: tuple[float, ...], b: tuple[float, ...], threshold: float) -> bool:
    """Whether the angle (degrees) between two saccade vectors is below ``threshold``."""
    norms = math.sqrt(a[2] * a[2] + a[3] * a[3]) * math.sqrt(b[2] * b[2] + b[3] * b[3])
    if norms == 0.0:  # undefined angle: never merged (the peer's NaN comparison is False)
        return False
    cosine = min(1.0, max(-1.0, (a[2] * b[2] + a[3] * b[3]) / norms))
    return math.degrees(math.acos(cosine)) < threshold


def _direction_pass(sacs: list, durs: list, t_dir: float, t_dur: float) -> tuple[list, list]:
    out_s, out_d, i, n = [], [], 0, len(sacs)
    while i < n:
        if i < n - 1 and _angle_below(sacs[i], sacs[i + 1], t_dir) and durs[i + 1] < t_dur:
            out_s.append(_summed(sacs[i], sacs[i][2] + sacs[i + 1][2],
                                 sacs[i][3] + sacs[i + 1][3]))
            out_d.append(durs[i])
            i += 2
        else:
            out_s.append(sacs[i])
            out_d.append(durs[i])
            i += 1
    out_d.append(durs[-1])
    return out_s, out_d


def _amplitude_pass(sacs: list, durs: list, t_amp: float, t_dur: float) -> tuple[list, list]:
    out_s, out_d, i, n = [], [], 0, len(sacs)
    while i < n:
        short = sacs[i][5] < t_amp
        if i == n - 1:
            if n > 1 and short and (durs[-1] < t_dur or durs[-2] < t_dur):
                dx, dy = sacs[-2][2] + sacs[-1][2], sacs[-2][3] + sacs[-1][3]
                out_s[-1] = _summed(out_s[-1], dx, dy)
                out_d.append(durs[i - 1])
            else:
                out_s.append(sacs[i])
                out_d.append(durs[i])
            i += 1
        elif short and (durs[i + 1] < t_dur or durs[i] < t_dur):
            out_s.append(_summed(sacs[i], sacs[i][2] + sacs[i + 1][2],
                                 sacs[i][3] + sacs[i + 1][3]))
            out_d.append(durs[i])
            i += 2
        else:
            out_s.append(sacs[i])
            out_d.append(durs[i])
            i += 1
    out_d.append(durs[-1])
    return out_s, out_d


def _simplify(sacs: list, durs: list, t_amp: float, t_dir: float, t_dur: float
              ) -> tuple[list, list]:
    """Alternate the two passes until the number of stored durations is stable."""
    previous = len(durs)
    while True:
        sacs, durs = _direction_pass(sacs, durs, t_dir, t_dur)
        sacs, durs = _amplitude_pass(sacs, durs, t_amp, t_dur)
        if len(durs) == previous:
            return sacs, durs
        previous = len(durs)


# --------------------------------------------------------------------------- saccade tables


def _saccade_table(paths: list[np.ndarray], grouping: tuple[float, float, float] | None
                   ) -> _Saccades:
    """The saccades of all ``paths`` (grouped if asked), flat."""
    n_fix = np.fromiter((len(p) for p in paths), dtype=np.int64, count=len(paths))
    flat = np.concatenate(paths)
    fix_offset = np.concatenate([[0], np.cumsum(n_fix)[:-1]])
    count = np.maximum(n_fix - 1, 1)
    offset = np.concatenate([[0], np.cumsum(count)[:-1]])
    owner = np.repeat(np.arange(len(paths)), count)
    start = fix_offset[owner] + np.arange(count.sum()) - offset[owner]
    end = start + (n_fix[owner] >= 2)  # a single fixation: a zero-length saccade
    x, y, dur = flat[start, 0], flat[start, 1], flat[start, 2]
    dx, dy = flat[end, 0] - x, flat[end, 1] - y
    table = _Saccades(x=x, y=y, dx=dx, dy=dy, theta=np.arctan2(dy, dx),
                      rho=np.sqrt(dx**2 + dy**2), dur=dur, offset=offset, count=count,
                      null=n_fix == 1)
    if grouping is None or not (n_fix >= 3).any():
        return table
    return _grouped(table, [p[:, 2] for p in paths], grouping)


def _grouped(table: _Saccades, durations: list[np.ndarray],
             thresholds: tuple[float, float, float]) -> _Saccades:
    """``table`` with every scanpath of 3 or more fixations simplified."""
    pieces: dict[str, list] = {name: [] for name in (*_FIELDS, "dur")}
    count = table.count.copy()
    for s, (start, c) in enumerate(zip(table.offset.tolist(), table.count.tolist(), strict=False)):
        if c < 2:
            for name in pieces:
                pieces[name].append(getattr(table, name)[start:start + c])
            continue
        columns = (getattr(table, name)[start:start + c].tolist() for name in _FIELDS)
        sacs = list(zip(*columns, strict=True))
        sacs, durs = _simplify(sacs, durations[s].tolist(), *thresholds)
        for name, values in zip(_FIELDS, zip(*sacs, strict=False), strict=False):
            pieces[name].append(np.array(values))
        pieces["dur"].append(np.array(durs[:len(sacs)]))
        count[s] = len(sacs)
    flat = {name: np.concatenate(values) for name, values in pieces.items()}
    return _Saccades(**flat, offset=np.concatenate([[0], np.cumsum(count)[:-1]]), count=count,
                     null=table.null)


# --------------------------------------------------------------------------- alignment


def _align(cost: np.ndarray, count_a: np.ndarray, count_b: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cheapest monotone path of every pair, by dynamic programming over anti-diagonals.

    ``cost`` is (n, La, Lb); pair p uses its top-left (count_a[p], count_b[p]) block. Returns
    the path cells ``(i, j)`` as (n, La + Lb - 1) arrays, traced from the end, and a mask of
    the cells that belong to each path.
    """
    n, la, lb = cost.shape
    cost = np.ascontiguousarray(cost.transpose(1, 2, 0))  # pairs last: contiguous gathers
    # total[i + 1, j + 1]: cheapest sum of cost over a path from (0, 0) to (i, j), cell (0, 0)
    # excluded (as in the peer's path lengths); row 0 and column 0 are an unreachable border.
    total = np.full((la + 1, lb + 1, n), np.inf)
    total[1, 1] = 0.0
    step = np.zeros((la, lb, n), dtype=np.int8)  # 0 diagonal, 1 from (i-1, j), 2 from (i, j-1)
    for d in range(1, la + lb - 1):
        i = np.arange(max(0, d - lb + 1), min(d, la - 1) + 1)
        j = d - i
        best = total[i, j]
        choice = np.zeros(best.shape, dtype=np.int8)
        for code, other in ((1, total[i, j + 1]), (2, total[i + 1, j])):
            better = other < best  # strict: ties keep the earlier option (documented order)
            best = np.where(better, other, best)
            choice[better] = code
        total[i + 1, j + 1] = best + cost[i, j]
        step[i, j] = choice
    length = la + lb - 1
    path_i = np.zeros((n, length), dtype=np.intp)
    path_j = np.zeros((n, length), dtype=np.intp)
    on_path = np.zeros((n, length), dtype=bool)
    i, j = count_a - 1, count_b - 1
    active = np.ones(n, dtype=bool)
    rows = np.arange(n)
    for t in range(length):
        path_i[:, t], path_j[:, t], on_path[:, t] = i, j, active
        active = active & ((i > 0) | (j > 0))
        if not active.any():
            break
        s = step[i, j, rows]
        i = np.where(active & (s != 2), i - 1, i)
        j = np.where(active & (s != 1), j - 1, j)
    return path_i, path_j, on_path


def _masked_median(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Median over the last axis where ``mask`` (broadcast to ``values``) holds; >= 1 per row."""
    ordered = np.sort(np.where(mask, values, np.inf), axis=-1)
    k = np.broadcast_to(mask.sum(axis=-1), ordered.shape[:-1])
    low = np.take_along_axis(ordered, ((k - 1) // 2)[..., None], axis=-1)[..., 0]
    high = np.take_along_axis(ordered, (k // 2)[..., None], axis=-1)[..., 0]
    return (low + high) / 2


def _score_pairs(a: _Saccades, b: _Saccades, pairs: np.ndarray, diagonal: float) -> np.ndarray:
    """The five similarities of the pairs ``pairs`` (row p of ``a`` with row p of ``b``)."""
    ca, cb = a.count[pairs], b.count[pairs]
    la, lb = int(ca.max()), int(cb.max())

    diff_x = a.padded("dx", pairs, la)[:, :, None] - b.padded("dx", pairs, lb)[:, None, :]
    diff_y = a.padded("dy", pairs, la)[:, :, None] - b.padded("dy", pairs, lb)[:, None, :]
    cost = np.sqrt(diff_x**2 + diff_y**2)
    pi, pj, on_path = _align(cost, ca, cb)

    def along(table: _Saccades, name: str, index: np.ndarray) -> np.ndarray:
        return table.along(name, pairs, index)

    vector = cost[np.arange(len(pairs))[:, None], pi, pj]
    ta, tb = along(a, "theta", pi), along(b, "theta", pj)
    angle = np.abs(np.where(ta < 0, ta + 2 * np.pi, ta) - np.where(tb < 0, tb + 2 * np.pi, tb))
    angle = np.where(angle > np.pi, 2 * np.pi - angle, angle)
    null_a, null_b = a.null[pairs][:, None], b.null[pairs][:, None]
    angle = np.where(null_a | null_b, np.where(null_a & null_b, 0.0, np.pi / 2), angle)
    length = np.abs(along(a, "rho", pi) - along(b, "rho", pj))
    position = np.sqrt((along(a, "x", pi) - along(b, "x", pj)) ** 2
                       + (along(a, "y", pi) - along(b, "y", pj)) ** 2)
    da, db = along(a, "dur", pi), along(b, "dur", pj)
    longer = np.maximum(da, db)
    duration = np.divide(np.abs(da - db), longer, out=np.zeros_like(longer), where=longer > 0)
    medians = _masked_median(np.stack([vector, angle, length, position, duration]), on_path)
    scale = np.array([2 * diagonal, np.pi, diagonal, diagonal, 1.0])
    return 1 - medians.T / scale


def _chunks(size: np.ndarray, batch_size: int | None) -> list[np.ndarray]:
    """Pair indices in groups of similar size; by default each within the cell budget."""
    order = np.argsort(size, kind="stable")
    cells = size[order].astype(np.int64) ** 2  # an upper bound on one pair's alignment cells
    chunks, start, n = [], 0, len(order)
    while start < n:
        if batch_size is None:  # the longest prefix whose padded size fits (at least one pair)
            padded = np.arange(1, n - start + 1) * cells[start:]
            end = start + max(1, int(np.searchsorted(padded, _CELL_BUDGET, side="right")))
        else:
            end = min(n, start + batch_size)
        chunks.append(order[start:end])
        start = end
    return chunks


def _multimatch_arrays(paths_a: list[np.ndarray], paths_b: list[np.ndarray],
                       labels_a: Sequence[str], labels_b: Sequence[str], screen_size: Any,
                       grouping: bool, amplitude_threshold: float, direction_threshold: float,
                       duration_threshold: float, batch_size: int | None,
                       progress: bool | None) -> np.ndarray:
    diagonal = _screen_diagonal(screen_size)
    thresholds = (_check_threshold(amplitude_threshold, "amplitude_threshold"),
                  _check_threshold(direction_threshold, "direction_threshold"),
                  _check_threshold(duration_threshold, "duration_threshold"))
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ParameterError(f"batch_size must be a positive integer or None; got {batch_size!r}.")
    if not grouping and any(thresholds):
        logger.warning("MultiMatch thresholds are ignored unless grouping=True.")
    if not paths_a:
        return np.empty((0, len(MULTIMATCH_DIMENSIONS)))
    _check_values(paths_a, labels_a)
    _check_values(paths_b, labels_b)
    groups = thresholds if grouping else None
    a, b = _saccade_table(paths_a, groups), _saccade_table(paths_b, groups)
    out = np.empty((len(paths_a), len(MULTIMATCH_DIMENSIONS)))
    chunks = _chunks(np.maximum(a.count, b.count), batch_size)
    for pairs in progress_bar(chunks, desc="MultiMatch", enabled=progress if len(chunks) > 1
                              else False):
        out[pairs] = _score_pairs(a, b, pairs, diagonal)
    return out


def multimatch(
    scanpath_a: Any,
    scanpath_b: Any,
    screen_size: Sequence[float],
    *,
    grouping: bool = False,
    amplitude_threshold: float = 0.0,
    direction_threshold: float = 0.0,
    duration_threshold: float = 0.0,
) -> np.ndarray:
    """The five MultiMatch similarities of two scanpaths.

    The same numbers, in the same order, as ``multimatch_gaze.docomparison``
    (0.1.3) wherever that package returns a value; a defined value, never
    NaN, where it cannot (fewer than 3 fixations). This is
    :func:`multimatch_scores` on a batch of one.

    Parameters
    ----------
    scanpath_a, scanpath_b : array-like of shape (n_fixations, 3)
        Rows of (x px, y px, duration s), in viewing order; NumPy, torch or a
        record array with fields ``start_x``, ``start_y``, ``duration`` (the
        peer's format). At least one fixation each; no NaN; durations >= 0.
    screen_size : (width, height)
        Screen or image size in px; only its diagonal is used.
    grouping : bool
        Simplify both scanpaths first (see Notes); the thresholds are used
        only then.
    amplitude_threshold : float
        Saccades shorter than this (px) may be merged with the next one.
    direction_threshold : float
        Consecutive saccades at an angle below this (degrees) may be merged.
    duration_threshold : float
        A merge needs the fixation(s) involved to be shorter than this (s).

    Returns
    -------
    similarity : ndarray of shape (5,)
        Vector (shape), direction, length, position and duration similarity
        (:data:`MULTIMATCH_DIMENSIONS`); 1 means identical.

    Notes
    -----
    Each scanpath of n fixations becomes n - 1 saccades; saccade k starts at
    fixation k, has the vector from fixation k to fixation k + 1, and carries
    the duration of fixation k (the last fixation's duration and position are
    therefore never compared, as in multimatch-gaze). M[i, j] is the Euclidean
    norm of the difference between saccade vectors i and j. The alignment is
    the monotone path from (0, 0) to (n_a - 2, n_b - 2) with steps (1, 0),
    (0, 1) and (1, 1) that minimises the sum of M over its cells (what the
    peer's Dijkstra search on the same graph finds). Exact ties between
    alignment paths (probability zero for real-valued coordinates) are broken
    cell by cell while tracing back from the end, preferring the diagonal
    predecessor, then (i - 1, j), then (i, j - 1); the peer's Dijkstra may
    break them differently. Along the path (every cell, both ends included),
    the medians of five differences are normalised, with D the screen
    diagonal sqrt(width**2 + height**2):

    * vector: 1 - median(M[i, j]) / (2 D);
    * direction: 1 - median(angle between the saccades, in [0, pi]) / pi;
    * length: 1 - median(|amplitude_i - amplitude_j|) / D;
    * position: 1 - median(distance between the saccades' start points) / D;
    * duration: 1 - median(|dur_i - dur_j| / max(dur_i, dur_j)), where two
      zero durations differ by 0 (the peer returns NaN there).

    Values lie in [0, 1] when fixations lie on the screen; they are not
    clipped, so off-screen fixations can give position or length below 0,
    exactly as in the peer.

    Scanpaths with fewer than 3 fixations (the peer returns NaN for all five)
    are scored by the same rules, so the result is never NaN:

    * 2 fixations give 1 saccade, aligned like any other: the path pairs it
      with every saccade of the other scanpath.
    * 1 fixation is a scanpath without movement. It is represented by one
      zero-length saccade at the fixation (with its duration), so vector and
      length compare the other scanpath's saccades with no movement, position
      compares the fixation with the other's saccade start points, and
      duration compares the durations. Direction is undefined for a
      zero-length saccade: its difference from a real saccade counts as
      pi / 2, the mean angle to a uniformly random direction (chance level,
      similarity 0.5), and two single-fixation scanpaths have direction
      similarity 1. Identical scanpaths therefore always score 1 on all five.

    Grouping (``grouping=True``) simplifies each scanpath of 3 or more
    fixations before the comparison, exactly as multimatch-gaze 0.1.3 does,
    quirks included. Two passes alternate until the number of stored fixation
    durations stops changing: a direction pass merges saccade k with k + 1 when the
    angle between them (degrees) is below ``direction_threshold`` and the
    duration of fixation k + 1 is below ``duration_threshold``; then an
    amplitude pass merges saccade k with k + 1 when saccade k is shorter than
    ``amplitude_threshold`` and fixation k or k + 1 is shorter than
    ``duration_threshold``. A short last saccade (with the last or
    second-to-last stored duration short) replaces the previously emitted
    saccade's vector by the sum of the last two *input* saccades, keeping
    that saccade's start point. Where the peer raises instead (a lone short
    saccade left after direction merging; an exactly parallel pair whose
    cosine rounds above 1), a lone saccade is kept and the cosine is clipped.
    Comparisons are strict (<), so thresholds of 0 merge nothing.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.array([[100.0, 100.0, 0.25], [400.0, 300.0, 0.30], [700.0, 200.0, 0.20]])
    >>> b = np.array([[120.0, 90.0, 0.20], [380.0, 330.0, 0.35], [650.0, 260.0, 0.25]])
    >>> multimatch(a, b, (1280, 720)).round(4)
    array([0.9831, 0.9641, 0.985 , 0.9801, 0.8286])
    >>> multimatch(a[:1], b[:1], (1280, 720)).round(4)  # single fixations: no NaN
    array([1.    , 1.    , 1.    , 0.9848, 0.8   ])
    """
    paths_a = [_as_scanpath(scanpath_a, "scanpath_a")]
    paths_b = [_as_scanpath(scanpath_b, "scanpath_b")]
    return _multimatch_arrays(paths_a, paths_b, ["scanpath_a"], ["scanpath_b"], screen_size,
                              grouping, amplitude_threshold, direction_threshold,
                              duration_threshold, None, False)[0]


def multimatch_scores(
    scanpaths_a: Sequence[Any],
    scanpaths_b: Sequence[Any],
    screen_size: Sequence[float],
    *,
    grouping: bool = False,
    amplitude_threshold: float = 0.0,
    direction_threshold: float = 0.0,
    duration_threshold: float = 0.0,
    batch_size: int | None = None,
    progress: bool | None = None,
) -> np.ndarray:
    """MultiMatch similarities of many scanpath pairs at once.

    Pair k is ``(scanpaths_a[k], scanpaths_b[k])``. The pairs are padded and
    aligned together (a dynamic programme over the anti-diagonals of all
    their cost matrices at once), so the cost is a few NumPy operations per
    saccade rather than a graph search per pair. Row k equals
    ``multimatch(scanpaths_a[k], scanpaths_b[k], ...)`` exactly.

    Parameters
    ----------
    scanpaths_a, scanpaths_b : sequences of array-like (n_fixations, 3)
        The same number of scanpaths each (lengths may differ between and
        within them); a 3-D array (n_pairs, n_fixations, 3) also works. Each
        as in :func:`multimatch`.
    screen_size : (width, height)
        Screen or image size in px, shared by all pairs.
    grouping, amplitude_threshold, direction_threshold, duration_threshold
        As in :func:`multimatch`.
    batch_size : int, optional
        Pairs aligned together. By default pairs of similar length are
        grouped so that each group holds at most 2**22 alignment cells
        (about 200 MB of temporaries); the result does not depend on it.
    progress : bool, optional
        Progress bar over the groups (default: on a terminal, when there is
        more than one group).

    Returns
    -------
    similarity : ndarray of shape (n_pairs, 5)
        Columns as :data:`MULTIMATCH_DIMENSIONS`.

    Notes
    -----
    The conventions (alignment, tie-break, normalisation, scanpaths of fewer
    than 3 fixations, grouping) are those stated in :func:`multimatch`.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> def random_path(n):
    ...     return np.column_stack([rng.uniform(0, 1280, n), rng.uniform(0, 720, n),
    ...                             rng.uniform(0.1, 0.5, n)])
    >>> a = [random_path(n) for n in (3, 8, 12)]
    >>> b = [random_path(n) for n in (5, 2, 12)]
    >>> scores = multimatch_scores(a, b, (1280, 720))
    >>> scores.shape
    (3, 5)
    >>> bool(np.allclose(scores[1], multimatch(a[1], b[1], (1280, 720))))
    True
    """
    if isinstance(scanpaths_a, (str, bytes)) or isinstance(scanpaths_b, (str, bytes)):
        raise TypeError("scanpaths_a and scanpaths_b must be sequences of (n_fixations, 3) "
                        "arrays.")
    paths_a = list(scanpaths_a)
    paths_b = list(scanpaths_b)
    if len(paths_a) != len(paths_b):
        raise ParameterError(f"scanpaths_a has {len(paths_a)} scanpaths but scanpaths_b has "
                             f"{len(paths_b)}; pair k is (scanpaths_a[k], scanpaths_b[k]).")
    labels_a = [f"scanpaths_a[{k}]" for k in range(len(paths_a))]
    labels_b = [f"scanpaths_b[{k}]" for k in range(len(paths_b))]
    paths_a = [_as_scanpath(p, label) for p, label in zip(paths_a, labels_a, strict=False)]
    paths_b = [_as_scanpath(p, label) for p, label in zip(paths_b, labels_b, strict=False)]
    return _multimatch_arrays(paths_a, paths_b, labels_a, labels_b, screen_size, grouping,
                              amplitude_threshold, direction_threshold, duration_threshold,
                              batch_size, progress)

