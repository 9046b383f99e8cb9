"""Sequence-based scanpath similarity: string edit distance, sequence score and ScanMatch.

Each metric compares two scanpaths after they have been turned into strings of
integer symbols: object indices (OAT), grid cells (:func:`grid_symbols`),
fixation clusters (:func:`cluster_symbols`) or semantic labels
(:mod:`neuroattn.gaze.metrics.semantic`). All of them rest on one aligner, a
Needleman–Wunsch global alignment with a linear gap score, run over a whole
batch of pairs at once: pairs of similar sizes are padded into blocks, and the
dynamic programme advances one row for every pair of a block at a time; within
a row the gap recurrence is a running maximum (``np.maximum.accumulate``), so
the only Python loop runs over the fixations of a block's longest first
scanpath. One batched call over many pairs is some 20 times faster than a
loop of single-pair calls.

Conventions, shared by every function here:

* a scanpath has at least one fixation; an empty one is a ``ValueError``;
* symbols are integers (floats that hold integers are accepted; NaN is not);
* the batched function (``edit_distances``, ``sequence_scores``,
  ``scanmatch_scores``) takes two equally long lists of scanpaths and scores
  pair ``k`` = (``a_list[k]``, ``b_list[k]``); the single-pair function is the
  batch of one;
* fixation coordinates are pixels, ``x`` along the width and ``y`` along the
  height, with the origin at the top-left corner of the image; image shapes
  and grids are given as ``(height, width)`` and ``(rows, cols)``, and a grid
  cell's symbol is ``row * cols + col``.

Examples
--------
>>> from neuroattn.gaze.metrics.sequence import edit_distance, sequence_score
>>> sequence_score([3, 1, 4, 1, 5], [3, 1, 4, 1, 5])
1.0
>>> edit_distance([3, 1, 4], [3, 4])
1.0
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

from neuroattn.errors import ParameterError
from neuroattn.gaze.metrics.scanpaths import (
    as_label_map,
    as_list,
    as_shape,
    as_symbols,
    as_xy,
    check_same_count,
    semantic_symbols,
)

__all__ = [
    "cluster_centres",
    "cluster_symbols",
    "edit_distance",
    "edit_distances",
    "grid_symbols",
    "scanmatch",
    "scanmatch_scores",
    "scanmatch_substitution_matrix",
    "sequence_score",
    "sequence_score_vs_humans",
    "sequence_scores",
]

#: How fixations become symbols in :func:`sequence_score_vs_humans`.
Symbols = Literal["labels", "grid", "clusters", "semantic"]


# --------------------------------------------------------------------------------------------
# The batched aligner
# --------------------------------------------------------------------------------------------
def _align(a_seqs: list[np.ndarray], b_seqs: list[np.ndarray],
           substitution: Callable[[np.ndarray, np.ndarray], np.ndarray], gap: float
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Needleman–Wunsch scores of every pair ``(a_seqs[k], b_seqs[k])``.

    ``substitution(a, b)`` scores symbols against symbols by broadcasting (``a`` of shape
    ``(m, La, 1)`` against ``b`` of shape ``(m, 1, Lb)``). The alignment score is maximised;
    ``F[i, 0] = i * gap`` and ``F[0, j] = j * gap``. Pairs are sorted by size and aligned
    in blocks of similar sizes, which bounds both the padding and the ``(m, La, Lb)``
    substitution table of a block.

    Returns the scores and the two length arrays.
    """
    la = np.array([s.size for s in a_seqs], dtype=np.int64)
    lb = np.array([s.size for s in b_seqs], dtype=np.int64)
    scores = np.empty(la.size, dtype=np.float64)
    order = np.argsort(la * lb, kind="stable")
    start = 0
    while start < order.size:
        # the next pairs in size order, halved until their padded table fits _BLOCK_CELLS
        first = order[start]
        block = order[start : start + max(1, _BLOCK_CELLS // int(la[first] * lb[first]))]
        while block.size > 1 and (block.size * int(la[block].max()) * int(lb[block].max())
                                  > _BLOCK_CELLS):
            block = block[: block.size // 2]
        scores[block] = _align_block([a_seqs[k] for k in block], la[block],
                                     [b_seqs[k] for k in block], lb[block], substitution, gap)
        start += block.size
    return scores, la, lb


#: The most substitution-table cells one block of pairs holds (32 MiB of float64).
_BLOCK_CELLS = 1 << 22


def _align_block(a_seqs: list[np.ndarray], la: np.ndarray, b_seqs: list[np.ndarray],
                 lb: np.ndarray, substitution: Callable[[np.ndarray, np.ndarray], np.ndarray],
                 gap: float) -> np.ndarray:
    """The dynamic programme of :func:`_align` on one block, advancing every pair a row at a time.

    Padding never reaches a cell ``F[i, j]`` with ``i <= len(a)`` and ``j <= len(b)``, so it
    needs no masking; ``F[len(a), len(b)]`` is read off the row ``len(a)`` of each pair.
    """
    m = la.size
    a_pad = np.zeros((m, int(la.max())), dtype=np.int64)
    b_pad = np.zeros((m, int(lb.max())), dtype=np.int64)
    for k in range(m):
        a_pad[k, : la[k]] = a_seqs[k]
        b_pad[k, : lb[k]] = b_seqs[k]
    sub = substitution(a_pad[:, :, None], b_pad[:, None, :])
    ramp = gap * np.arange(b_pad.shape[1] + 1, dtype=np.float64)
    prev = np.broadcast_to(ramp, (m, ramp.size))  # row F[0, :]
    cand = np.empty((m, ramp.size))
    pairs = np.arange(m)
    at_end = np.empty((a_pad.shape[1], m))
    for i in range(1, a_pad.shape[1] + 1):
        cand[:, 0] = gap * i
        np.maximum(prev[:, :-1] + sub[:, i - 1], prev[:, 1:] + gap, out=cand[:, 1:])
        # F[i, j] = max(cand[j], F[i, j-1] + gap) = j*gap + max_{k<=j} (cand[k] - k*gap)
        if gap == 0:
            prev = np.maximum.accumulate(cand, axis=1)
        else:
            prev = np.maximum.accumulate(cand - ramp, axis=1) + ramp
        at_end[i - 1] = prev[pairs, lb]
    return at_end[la - 1, pairs]


def _match(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a == b).astype(np.float64)


def _minus_mismatch(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return -(a != b).astype(np.float64)


def _symbol_batch(batch: Any, name: str) -> list[np.ndarray]:
    return [as_symbols(s, f"{name}[{k}]") for k, s in enumerate(as_list(batch, name))]


def _edit_distances(a: list[np.ndarray], b: list[np.ndarray], normalize: bool) -> np.ndarray:
    if not a:
        return np.zeros(0)
    # Levenshtein = -(best alignment with substitution -1 for a mismatch and gap -1)
    score, la, lb = _align(a, b, _minus_mismatch, -1.0)
    dist = -score
    return dist / np.maximum(la, lb) if normalize else dist


def _sequence_scores(a: list[np.ndarray], b: list[np.ndarray]) -> np.ndarray:
    if not a:
        return np.zeros(0)
    score, la, lb = _align(a, b, _match, 0.0)
    return score / np.maximum(la, lb)


# --------------------------------------------------------------------------------------------
# String edit distance and sequence score
# --------------------------------------------------------------------------------------------
def edit_distances(a_list: Sequence[Sequence[int]], b_list: Sequence[Sequence[int]], *,
                   normalize: bool = False) -> np.ndarray:
    """Levenshtein distance between many pairs of symbol strings.

    The distance is the fewest insertions, deletions and substitutions (each
    costing 1) that turn ``a_list[k]`` into ``b_list[k]``. With
    ``normalize=True`` it is divided by ``max(len(a), len(b))``, so it lies in
    ``[0, 1]``: 0 for identical strings, 1 when no symbol can be kept in place.
    OAT reports the raw distance; the string-edit distance of the
    NevaClip/Gazeformer literature is the normalised one.

    Parameters
    ----------
    a_list, b_list : list of 1-D integer sequences
        Equally many non-empty scanpaths; pair ``k`` is ``(a_list[k], b_list[k])``.
    normalize : bool
        Divide by the longer length.

    Returns
    -------
    ndarray of shape (n_pairs,)
        float64 (whole numbers when not normalised).

    Examples
    --------
    >>> edit_distances([[1, 2, 3], [5, 5]], [[1, 3], [6, 5, 5, 7]])
    array([1., 2.])
    >>> edit_distances([[1, 2, 3], [5, 5]], [[1, 3], [6, 5, 5, 7]], normalize=True)
    array([0.33333333, 0.5       ])
    """
    a, b = _symbol_batch(a_list, "a_list"), _symbol_batch(b_list, "b_list")
    check_same_count(a, b)
    return _edit_distances(a, b, normalize)


def edit_distance(a: Sequence[int], b: Sequence[int], *, normalize: bool = False) -> float:
    """Levenshtein distance between two symbol strings (the batch of one of :func:`edit_distances`).

    Insertions, deletions and substitutions cost 1 each; ``normalize=True``
    divides by ``max(len(a), len(b))``.

    Examples
    --------
    >>> edit_distance([0, 1, 2, 3], [0, 2, 2])
    2.0
    >>> edit_distance([0, 1, 2, 3], [0, 2, 2], normalize=True)
    0.5
    """
    return float(_edit_distances([as_symbols(a, "a")], [as_symbols(b, "b")], normalize)[0])


def sequence_scores(a_list: Sequence[Sequence[int]], b_list: Sequence[Sequence[int]]
                    ) -> np.ndarray:
    """Sequence score (SS) of many pairs of symbol strings.

    SS is the Needleman–Wunsch alignment score with match 1, mismatch 0 and
    gap 0, divided by ``max(len(a), len(b))`` (the convention of OAT, of the
    COCO-Search18 IRL code and of Gazeformer). With a zero gap the alignment
    score is the length of the longest common subsequence, so SS lies in
    ``[0, 1]``, is symmetric, and is 1 exactly when the strings are equal.

    Parameters
    ----------
    a_list, b_list : list of 1-D integer sequences
        Equally many non-empty scanpaths; pair ``k`` is ``(a_list[k], b_list[k])``.

    Returns
    -------
    ndarray of shape (n_pairs,)

    See Also
    --------
    sequence_score_vs_humans : SS of model scanpaths against human ones under a pinned protocol.

    Examples
    --------
    >>> sequence_scores([[1, 2, 3, 4], [7]], [[1, 3, 4], [8, 8]])
    array([0.75, 0.  ])
    """
    a, b = _symbol_batch(a_list, "a_list"), _symbol_batch(b_list, "b_list")
    check_same_count(a, b)
    return _sequence_scores(a, b)


def sequence_score(a: Sequence[int], b: Sequence[int]) -> float:
    """Sequence score of two symbol strings (the batch of one of :func:`sequence_scores`).

    Needleman–Wunsch with match 1, mismatch 0, gap 0, divided by
    ``max(len(a), len(b))``.

    Examples
    --------
    >>> sequence_score([4, 8, 15, 16], [4, 15, 16, 23, 42])
    0.6
    """
    return float(_sequence_scores([as_symbols(a, "a")], [as_symbols(b, "b")])[0])


# --------------------------------------------------------------------------------------------
# Fixations -> symbols
# --------------------------------------------------------------------------------------------
def grid_symbols(fixations: Any, *, image_shape: tuple[int, int], grid: tuple[int, int]
                 ) -> np.ndarray:
    """The grid cell of each fixation, numbered row-major: ``row * cols + col``.

    The image of ``image_shape = (height, width)`` pixels is cut into
    ``grid = (rows, cols)`` equal cells; ``col = floor(x * cols / width)`` and
    ``row = floor(y * rows / height)``. Fixations on the right or bottom edge
    (``x == width`` or ``y == height``) go to the last cell; fixations outside
    the image are an error.

    Parameters
    ----------
    fixations : array-like of shape (n_fixations, 2 or more)
        ``(x, y[, ...])`` in pixels; extra columns (durations) are ignored.
    image_shape : (int, int)
        ``(height, width)`` in pixels.
    grid : (int, int)
        ``(rows, cols)``.

    Returns
    -------
    ndarray of shape (n_fixations,), int64

    Examples
    --------
    >>> grid_symbols([[10, 10], [110, 10], [199, 99], [200, 100]],
    ...              image_shape=(100, 200), grid=(2, 4))
    array([0, 2, 7, 7])
    """
    xy = as_xy(fixations, "fixations")
    height, width = as_shape(image_shape, "image_shape")
    rows, cols = as_shape(grid, "grid")
    x, y = xy[:, 0], xy[:, 1]
    outside = (x < 0) | (x > width) | (y < 0) | (y > height)
    if outside.any():
        k = int(np.flatnonzero(outside)[0])
        raise ParameterError(
            f"fixation {k} at (x={x[k]:g}, y={y[k]:g}) lies outside the {height} x {width} "
            "(height x width) image; x indexes the width and y the height. Clip or drop "
            "off-image fixations first.")
    col = np.minimum(np.floor(x * cols / width), cols - 1).astype(np.int64)
    row = np.minimum(np.floor(y * rows / height), rows - 1).astype(np.int64)
    return row * cols + col


def cluster_centres(fixations: Any, *, bandwidth: float | None = None) -> np.ndarray:
    """MeanShift cluster centres of a set of fixations (the IRL/Gazeformer symbol alphabet).

    The COCO-Search18 sequence score turns fixations into the label of the
    MeanShift cluster they fall in, with clusters fitted on all the human
    fixations of one image. This fits scikit-learn's ``MeanShift`` (flat
    kernel, every point clustered) with the given ``bandwidth`` in pixels, or,
    when it is ``None``, with ``sklearn.cluster.estimate_bandwidth`` at its
    default quantile 0.3 on the same fixations. The IRL authors chose their
    bandwidths per image by another rule and shipped the clusters as a file;
    pass those centres straight to :func:`cluster_symbols` to reproduce them.
    Identical fixations (a zero estimated bandwidth) form one cluster.

    Parameters
    ----------
    fixations : array-like of shape (n_fixations, 2 or more)
        Pooled ``(x, y)`` fixations, typically every human fixation on one image.
    bandwidth : float or None
        MeanShift bandwidth in pixels.

    Returns
    -------
    ndarray of shape (n_clusters, 2)
        ``(x, y)`` centres, in scikit-learn's order (by decreasing cluster size).

    Examples
    --------
    >>> pts = [[10, 10], [12, 11], [11, 9], [90, 50], [91, 52]]
    >>> cluster_centres(pts, bandwidth=5.0).round(1)
    array([[11. , 10. ],
           [90.5, 51. ]])
    """
    from sklearn.cluster import MeanShift, estimate_bandwidth  # scikit-learn is slow to import

    xy = as_xy(fixations, "fixations")[:, :2]
    if bandwidth is None:
        bandwidth = float(estimate_bandwidth(xy)) if len(xy) > 1 else 0.0
        if bandwidth <= 0:
            return xy.mean(axis=0, keepdims=True)
    elif not (np.isfinite(bandwidth) and bandwidth > 0):
        raise ParameterError(f"bandwidth must be a positive number of pixels; got {bandwidth!r}.")
    return np.asarray(MeanShift(bandwidth=bandwidth).fit(xy).cluster_centers_, dtype=np.float64)


def cluster_symbols(fixations: Any, centres: Any) -> np.ndarray:
    """The index of the nearest cluster centre for each fixation (Euclidean, in pixels).

    This is MeanShift's ``predict``; a tie goes to the lower index.

    Parameters
    ----------
    fixations : array-like of shape (n_fixations, 2 or more)
        ``(x, y[, ...])`` in pixels.
    centres : array-like of shape (n_clusters, 2)
        From :func:`cluster_centres` or a published cluster file.

    Returns
    -------
    ndarray of shape (n_fixations,), int64

    Examples
    --------
    >>> cluster_symbols([[0, 0], [9, 9], [4, 6]], [[1, 1], [8, 8]])
    array([0, 1, 1])
    """
    xy = as_xy(fixations, "fixations")[:, :2]
    c = as_xy(centres, "centres")
    if c.shape[1] != 2:
        raise ParameterError(f"centres must be (n_clusters, 2) (x, y) rows; got shape {c.shape}.")
    d2 = ((xy[:, None, :] - c[None, :, :]) ** 2).sum(axis=-1)
    return np.argmin(d2, axis=1).astype(np.int64)


# --------------------------------------------------------------------------------------------
# Sequence score against a set of human scanpaths, with the protocol pinned
# --------------------------------------------------------------------------------------------
def _truncate(path: np.ndarray, hits: np.ndarray | None, max_length: int | None) -> np.ndarray:
    if hits is not None and hits.any():
        path = path[: int(np.argmax(hits)) + 1]
    return path if max_length is None else path[:max_length]


def sequence_score_vs_humans(
    predicted: Sequence[Any] | None,
    humans: Sequence[Any],
    *,
    symbols: Symbols = "labels",
    include_self: bool = False,
    stop_at_target: bool = False,
    max_length: int | None = None,
    target: int | Sequence[float] | None = None,
    image_shape: tuple[int, int] | None = None,
    grid: tuple[int, int] | None = None,
    bandwidth: float | None = None,
    centres: Any = None,
    label_map: Any = None,
) -> float:
    """Mean sequence score of scanpaths against the human scanpaths of one trial or image.

    Published sequence scores differ by several points depending on three
    choices that are rarely stated; each is an explicit parameter here.

    1. **Symbols** (``symbols``): how fixations become strings.

       * ``"labels"`` (default): scanpaths already are integer strings
         (object indices, as in OAT);
       * ``"grid"``: ``(x, y)`` fixations become cells of a ``grid`` over an
         image of ``image_shape`` (:func:`grid_symbols`);
       * ``"clusters"``: ``(x, y)`` fixations become the nearest of ``centres``,
         or, when ``centres`` is ``None``, of the MeanShift clusters of all the
         human fixations of this image, fitted before truncation
         (:func:`cluster_centres` with ``bandwidth``; the COCO-Search18 protocol);
       * ``"semantic"``: ``(x, y)`` fixations become the label under them in
         ``label_map`` (SemSS, :func:`~neuroattn.gaze.metrics.semantic.semantic_symbols`).

    2. **Self-comparison** (``include_self``): with ``predicted=None`` the
       humans are scored against each other (the human–human oracle). Every
       ordered pair ``(i, j)`` with ``i != j`` counts; ``include_self=True``
       also counts ``i == j``, which always scores 1 and inflates the oracle
       (the IRL paper's human SS of 0.490 is reproduced only that way). The
       default, ``False``, leaves each human's own scanpath out. With a model's
       ``predicted`` scanpaths there is no self to leave out, and
       ``include_self=True`` is an error.

    3. **Truncation**, applied identically to predicted and human scanpaths,
       before symbols are made: ``stop_at_target=True`` cuts each scanpath
       after its first fixation on the target (``target`` is the target's
       symbol for ``"labels"``, or its box ``(x_min, y_min, x_max, y_max)`` in
       pixels, edges included, for the coordinate modes; a scanpath that never
       reaches the target is kept whole); then ``max_length`` keeps at most that
       many fixations. By default nothing is cut (OAT's scanpaths already end at
       the target).

    The score is the mean of :func:`sequence_scores` (match 1, mismatch 0,
    gap 0, divided by the longer length) over every (predicted, human) pair,
    or over the human pairs above.

    Parameters
    ----------
    predicted : list of scanpaths, or None
        The model's scanpaths for this trial (e.g. N sampled paths); ``None``
        scores the humans against each other.
    humans : list of scanpaths
        The human scanpaths for the same trial or image.
    symbols : {"labels", "grid", "clusters", "semantic"}
        How fixations become symbols (above). Scanpaths are 1-D integer
        sequences for ``"labels"`` and ``(n, 2 or more)`` ``(x, y[, ...])``
        pixel arrays otherwise.
    include_self : bool
        Count each human against itself in the human–human oracle.
    stop_at_target : bool
        Cut each scanpath after its first target fixation (needs ``target``).
    max_length : int or None
        Keep at most this many fixations per scanpath.
    target : int or (float, float, float, float) or None
        The target's symbol or box, used only by ``stop_at_target``.
    image_shape, grid : (int, int) or None
        ``(height, width)`` and ``(rows, cols)`` for ``symbols="grid"``.
    bandwidth : float or None
        MeanShift bandwidth in pixels for ``symbols="clusters"`` (``None``:
        scikit-learn's estimate).
    centres : array-like of shape (n_clusters, 2) or None
        Fixed cluster centres for ``symbols="clusters"`` instead of fitting them.
    label_map : array-like of shape (height, width) or None
        Integer semantic labels per pixel for ``symbols="semantic"``.

    Returns
    -------
    float
        The mean sequence score, in ``[0, 1]``.

    Examples
    --------
    >>> humans = [[0, 1, 2], [0, 2], [1, 2]]
    >>> round(sequence_score_vs_humans([[0, 1, 2]], humans), 4)   # (1 + 2/3 + 2/3) / 3
    0.7778
    >>> round(sequence_score_vs_humans(None, humans), 4)   # (2/3 + 2/3 + 1/2) / 3
    0.6111
    >>> round(sequence_score_vs_humans(None, humans, include_self=True), 4)   # + 3 ones
    0.7407
    >>> round(sequence_score_vs_humans([[0, 1, 2, 1, 0]], humans, stop_at_target=True,
    ...                                target=2), 4)
    0.7778
    """
    if symbols not in ("labels", "grid", "clusters", "semantic"):
        raise ParameterError(f"symbols must be 'labels', 'grid', 'clusters' or 'semantic'; got "
                             f"{symbols!r}.")
    humans_list = as_list(humans, "humans")
    predicted_list = None if predicted is None else as_list(predicted, "predicted")
    if not humans_list:
        raise ParameterError("humans is empty; give at least one human scanpath for this trial.")
    if predicted_list is not None:
        if include_self:
            raise ParameterError("include_self applies to the human-human oracle (predicted=None); "
                                 "a model's scanpaths have no self to include.")
        if not predicted_list:
            raise ParameterError("predicted is empty; give at least one scanpath for this trial "
                                 "(or None for the human-human oracle).")
    elif len(humans_list) < 2 and not include_self:
        raise ParameterError("the human-human oracle without self-comparison needs at least 2 "
                             f"human scanpaths; got {len(humans_list)}.")
    if stop_at_target and target is None:
        raise ParameterError("stop_at_target=True needs target: the target's symbol for "
                             "symbols='labels', or its (x_min, y_min, x_max, y_max) box.")
    if target is not None and not stop_at_target:
        raise ParameterError("target is used only to cut scanpaths at the target; pass "
                             "stop_at_target=True with it (or drop target).")
    if max_length is not None and (isinstance(max_length, bool) or int(max_length) != max_length
                                   or max_length < 1):
        raise ParameterError(f"max_length must be a positive integer or None; got {max_length!r}.")
    for param, value, needed in (("image_shape", image_shape, "grid"), ("grid", grid, "grid"),
                                 ("bandwidth", bandwidth, "clusters"),
                                 ("centres", centres, "clusters"),
                                 ("label_map", label_map, "semantic")):
        if value is not None and symbols != needed:
            raise ParameterError(f"{param} is used only with symbols={needed!r}; got "
                                 f"symbols={symbols!r}.")
    if symbols == "grid" and (image_shape is None or grid is None):
        raise ParameterError("symbols='grid' needs image_shape=(height, width) and grid=(rows, "
                             "cols).")
    if symbols == "semantic" and label_map is None:
        raise ParameterError("symbols='semantic' needs label_map, the (height, width) integer "
                             "label image of this image.")

    def read(group: list[Any], name: str) -> list[np.ndarray]:
        if symbols == "labels":
            return [as_symbols(s, f"{name}[{k}]") for k, s in enumerate(group)]
        return [as_xy(s, f"{name}[{k}]") for k, s in enumerate(group)]

    raw_humans = read(humans_list, "humans")
    raw_pred = None if predicted_list is None else read(predicted_list, "predicted")

    if symbols == "labels":
        if stop_at_target and isinstance(target, (Sequence, np.ndarray)):
            raise TypeError("with symbols='labels', target is the target's symbol (an int).")

        def hits(p: np.ndarray) -> np.ndarray | None:
            return p == int(target) if stop_at_target else None  # type: ignore[arg-type]
    else:
        box = None
        if stop_at_target:
            box = np.asarray(target, dtype=np.float64).ravel()
            if box.size != 4 or not np.isfinite(box).all() or box[0] > box[2] or box[1] > box[3]:
                raise ParameterError("with coordinate symbols, target is the target's box "
                                     f"(x_min, y_min, x_max, y_max) in pixels; got {target!r}.")

        def hits(p: np.ndarray) -> np.ndarray | None:
            if box is None:
                return None
            return ((p[:, 0] >= box[0]) & (p[:, 0] <= box[2])
                    & (p[:, 1] >= box[1]) & (p[:, 1] <= box[3]))

    if symbols == "clusters" and centres is None:
        centres = cluster_centres(np.concatenate(raw_humans), bandwidth=bandwidth)
    if symbols == "semantic":
        label_map = as_label_map(label_map, "label_map")

    def to_symbols(p: np.ndarray) -> np.ndarray:
        p = _truncate(p, hits(p), max_length)
        if symbols == "grid":
            return grid_symbols(p, image_shape=image_shape, grid=grid)  # type: ignore[arg-type]
        if symbols == "clusters":
            return cluster_symbols(p, centres)
        if symbols == "semantic":
            return semantic_symbols(p, label_map)
        return p

    human_syms = [to_symbols(p) for p in raw_humans]
    n_h = len(human_syms)
    if raw_pred is None:
        pairs = [(i, j) for i in range(n_h) for j in range(n_h) if include_self or i != j]
        a = [human_syms[i] for i, _ in pairs]
        b = [human_syms[j] for _, j in pairs]
    else:
        pred_syms = [to_symbols(p) for p in raw_pred]
        a = [p for p in pred_syms for _ in range(n_h)]
        b = human_syms * len(pred_syms)
    return float(_sequence_scores(a, b).mean())


# --------------------------------------------------------------------------------------------
# ScanMatch
# --------------------------------------------------------------------------------------------
def scanmatch_substitution_matrix(grid: tuple[int, int], threshold: float) -> np.ndarray:
    """ScanMatch's substitution matrix: ``threshold - distance`` between grid cells.

    The distance is Euclidean between cell centres, in cell units (one cell
    apart horizontally or vertically is 1). A symbol aligned with itself scores
    ``threshold`` (the maximum, ``max_sub``); the score falls linearly with
    distance, is 0 at ``threshold`` cells and negative beyond, exactly as
    Cristino et al.'s ``ScanMatch_CreateSubMatrix``. They advise a threshold
    of about twice the standard deviation of the saccade amplitudes, in cells.

    Parameters
    ----------
    grid : (int, int)
        ``(rows, cols)``; cells are numbered ``row * cols + col``.
    threshold : float
        Distance (cells) at which substitution turns from reward to penalty; > 0.

    Returns
    -------
    ndarray of shape (rows * cols, rows * cols)

    Examples
    --------
    >>> scanmatch_substitution_matrix((1, 3), threshold=2.0)
    array([[2., 1., 0.],
           [1., 2., 1.],
           [0., 1., 2.]])
    """
    rows, cols = as_shape(grid, "grid")
    if not (np.isfinite(threshold) and threshold > 0):
        raise ParameterError(f"threshold must be a positive number of grid cells; got "
                             f"{threshold!r}.")
    r, c = np.divmod(np.arange(rows * cols), cols)
    dist = np.hypot(r[:, None] - r[None, :], c[:, None] - c[None, :])
    return float(threshold) - dist


def _scanmatch_sequence(fixations: Any, name: str, image_shape: tuple[int, int],
                        grid: tuple[int, int], temporal_bin: float | None) -> np.ndarray:
    xy = as_xy(fixations, name, min_columns=2 if temporal_bin is None else 3)
    try:
        cells = grid_symbols(xy, image_shape=image_shape, grid=grid)
    except ValueError as err:
        raise ParameterError(f"{name}: {err}") from None
    if temporal_bin is None:
        return cells
    durations = xy[:, 2]
    if (durations < 0).any():
        raise ParameterError(f"{name} has negative fixation durations; durations are seconds >= 0.")
    repeats = np.maximum(1, np.floor(durations / temporal_bin + 0.5)).astype(np.int64)
    return np.repeat(cells, repeats)


def _scanmatch(a_in: list[Any], b_in: list[Any], a_names: list[str], b_names: list[str], *,
               image_shape: tuple[int, int], grid: tuple[int, int], threshold: float,
               gap: float, temporal_bin: float | None) -> np.ndarray:
    """ScanMatch scores of the pairs ``(a_in[k], b_in[k])``, named in errors as given."""
    try:
        gap = float(gap)
    except (TypeError, ValueError) as err:
        raise TypeError(f"gap must be a number; got {gap!r}.") from err
    if not np.isfinite(gap):
        raise ParameterError(f"gap must be a finite number; got {gap!r}.")
    if temporal_bin is not None and not (np.isfinite(temporal_bin) and temporal_bin > 0):
        raise ParameterError(f"temporal_bin must be a positive duration in seconds or None; got "
                             f"{temporal_bin!r}.")
    shape = as_shape(image_shape, "image_shape")
    cells = as_shape(grid, "grid")
    sub = scanmatch_substitution_matrix(cells, threshold)
    if not a_in:
        return np.zeros(0)
    a = [_scanmatch_sequence(s, n, shape, cells, temporal_bin)
         for s, n in zip(a_in, a_names, strict=True)]
    b = [_scanmatch_sequence(s, n, shape, cells, temporal_bin)
         for s, n in zip(b_in, b_names, strict=True)]
    score, la, lb = _align(a, b, lambda a_sym, b_sym: sub[a_sym, b_sym], gap)
    return score / (float(threshold) * np.maximum(la, lb))


def scanmatch_scores(
    a_list: Sequence[Any],
    b_list: Sequence[Any],
    *,
    image_shape: tuple[int, int],
    grid: tuple[int, int] = (8, 12),
    threshold: float = 3.5,
    gap: float = 0.0,
    temporal_bin: float | None = 0.05,
) -> np.ndarray:
    """ScanMatch similarity (Cristino et al., 2010) of many pairs of scanpaths.

    1. **Spatial binning**: each fixation becomes its cell in a
       ``grid = (rows, cols)`` over the image (:func:`grid_symbols`).
    2. **Temporal binning**: with ``temporal_bin`` (seconds), a fixation of
       duration ``d`` repeats its cell ``round(d / temporal_bin)`` times
       (halves round up), so long fixations weigh more; unlike the original
       toolbox, a fixation shorter than half a bin still counts once, and the
       first fixation is kept (the toolbox drops it when binning in time).
       ``temporal_bin=None`` uses one symbol per fixation.
    3. **Alignment**: Needleman–Wunsch with the substitution matrix
       ``threshold - distance`` between cells
       (:func:`scanmatch_substitution_matrix`) and the linear ``gap`` score
       per gap (0 by default, as in the toolbox; use a negative value to
       penalise gaps).
    4. **Normalisation**: the score is divided by ``threshold * max(len_a, len_b)``,
       the best possible score (``max_sub`` per symbol of the longer sequence),
       lengths counted after temporal binning. Identical scanpaths score 1; with
       ``gap=0`` the score lies in ``[0, 1]``.

    Defaults are the toolbox's: a 12 x 8 (cols x rows) grid, threshold 3.5
    cells and gap 0, with 50 ms time bins.

    Parameters
    ----------
    a_list, b_list : list of array-like of shape (n_fixations, 3)
        Equally many scanpaths of ``(x, y, duration)`` rows: pixels and
        seconds. ``(n, 2)`` rows suffice with ``temporal_bin=None``.
    image_shape : (int, int)
        ``(height, width)`` of the image or screen in pixels.
    grid : (int, int)
        ``(rows, cols)``.
    threshold : float
        The substitution threshold in cells (> 0), also ``max_sub``.
    gap : float
        Score added per gap (<= 0 in practice).
    temporal_bin : float or None
        Time bin in seconds, or ``None`` for no temporal binning.

    Returns
    -------
    ndarray of shape (n_pairs,)

    Examples
    --------
    >>> a = [[5, 5, 0.10], [25, 5, 0.05]]   # cells 0 (twice) and 2
    >>> b = [[5, 5, 0.05], [15, 5, 0.10]]   # cells 0 and 1 (twice)
    >>> scanmatch_scores([a, a], [b, a], image_shape=(10, 30), grid=(1, 3), threshold=2.0)
    array([0.66666667, 1.        ])
    """
    a_in, b_in = as_list(a_list, "a_list"), as_list(b_list, "b_list")
    check_same_count(a_in, b_in)
    return _scanmatch(a_in, b_in, [f"a_list[{k}]" for k in range(len(a_in))],
                      [f"b_list[{k}]" for k in range(len(b_in))], image_shape=image_shape,
                      grid=grid, threshold=threshold, gap=gap, temporal_bin=temporal_bin)


def scanmatch(
    a: Any,
    b: Any,
    *,
    image_shape: tuple[int, int],
    grid: tuple[int, int] = (8, 12),
    threshold: float = 3.5,
    gap: float = 0.0,
    temporal_bin: float | None = 0.05,
) -> float:
    """ScanMatch similarity of two scanpaths (the batch of one of :func:`scanmatch_scores`).

    ``a`` and ``b`` are ``(n, 3)`` arrays of ``(x, y, duration)`` in pixels
    and seconds; see :func:`scanmatch_scores` for the binning, substitution
    matrix, gap and normalisation.

    Examples
    --------
    >>> a = [[100, 100, 0.2], [700, 300, 0.3], [1200, 900, 0.25]]
    >>> round(scanmatch(a, a, image_shape=(1024, 1280)), 6)
    1.0
    >>> b = [[120, 90, 0.2], [650, 320, 0.3]]   # cells 1 (4 bins) and 30 (6 bins)
    >>> round(scanmatch(a, b, image_shape=(1024, 1280)), 4)   # (4 * 2.5 + 6 * 3.5) / (3.5 * 15)
    0.5905
    """
    return float(_scanmatch([a], [b], ["a"], ["b"], image_shape=image_shape, grid=grid,
                            threshold=threshold, gap=gap, temporal_bin=temporal_bin)[0])
