"""Semantic sequence score (SemSS): the sequence score on the labels of the fixated pixels.

Each fixation becomes the label, in an integer label map of its image (for
instance COCO panoptic category ids), of the pixel under it; two scanpaths are
then compared with the sequence score of
:func:`~neuroattn.gaze.metrics.sequence.sequence_scores` (Needleman–Wunsch,
match 1, mismatch 0, gap 0, divided by the longer length), as in Gazeformer.
Every label counts, background or "unlabelled" ones included; map them to a
value of your choice beforehand if they should be treated differently.

The pixel under fixation ``(x, y)`` is ``label_map[floor(y), floor(x)]``:
``x`` runs along the width, ``y`` along the height, from the top-left corner,
and a fixation outside ``[0, width) x [0, height)`` is an error. The label map
must be at the resolution of the fixation coordinates (Gazeformer resizes its
maps to 320 x 512 first).

Examples
--------
>>> import numpy as np
>>> from neuroattn.gaze.metrics.semantic import semantic_sequence_score
>>> labels = np.zeros((4, 6), dtype=int)
>>> labels[:, 3:] = 7   # the right half is category 7
>>> semantic_sequence_score([[0.5, 0.5], [4.5, 1.0]], [[1.0, 3.0], [5.9, 3.9]], labels)
1.0
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from neuroattn._validation import as_array
from neuroattn.errors import ParameterError
from neuroattn.gaze.metrics.scanpaths import (
    as_label_map,
    as_list,
    check_same_count,
    label_symbols,
    semantic_symbols,
)
from neuroattn.gaze.metrics.sequence import sequence_scores

__all__ = ["semantic_sequence_score", "semantic_sequence_scores", "semantic_symbols"]


def semantic_sequence_scores(a_list: Sequence[Any], b_list: Sequence[Any], label_maps: Any
                             ) -> np.ndarray:
    """SemSS of many pairs of scanpaths.

    Both scanpaths of pair ``k`` are read in the same label map: ``label_maps``
    is either one ``(height, width)`` map shared by every pair (two observers
    of one image), or one map per pair (a list, or an ``(n_pairs, height,
    width)`` array; maps in a list may differ in size).

    Parameters
    ----------
    a_list, b_list : list of array-like of shape (n_fixations, 2 or more)
        Equally many non-empty scanpaths of ``(x, y)`` pixel fixations.
    label_maps : array-like of shape (height, width), or a list of them
        Integer labels per pixel.

    Returns
    -------
    ndarray of shape (n_pairs,)
        In ``[0, 1]``.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.array([[1, 1, 2, 2],
    ...                    [3, 3, 2, 2]])
    >>> a = [[0.5, 0.5], [2.5, 0.5], [0.5, 1.5]]        # labels 1, 2, 3
    >>> semantic_sequence_scores([a, a], [a, [[3, 1], [1, 1]]], labels)  # vs 2, 3
    array([1.        , 0.66666667])
    """
    a_in, b_in = as_list(a_list, "a_list"), as_list(b_list, "b_list")
    check_same_count(a_in, b_in)
    maps_arr = (None if isinstance(label_maps, (list, tuple))
                else as_array("label_maps", label_maps, dtype=None, finite=False))
    if maps_arr is not None and maps_arr.ndim == 2:
        shared = as_label_map(maps_arr, "label_maps")
        maps = [shared] * len(a_in)
    else:
        listed = list(maps_arr) if maps_arr is not None else list(label_maps)
        if maps_arr is not None and maps_arr.ndim != 3:
            raise ParameterError("label_maps must be one (height, width) map, a list of them, or "
                                 f"an (n_pairs, height, width) array; got shape {maps_arr.shape}.")
        if len(listed) != len(a_in):
            raise ParameterError(f"label_maps holds {len(listed)} maps for {len(a_in)} pairs; "
                                 "give one map per pair, or a single map shared by all.")
        maps = [as_label_map(m, f"label_maps[{k}]") for k, m in enumerate(listed)]
    if not a_in:
        return np.zeros(0)
    a = [label_symbols(s, m, f"a_list[{k}]")
         for k, (s, m) in enumerate(zip(a_in, maps, strict=False))]
    b = [label_symbols(s, m, f"b_list[{k}]")
         for k, (s, m) in enumerate(zip(b_in, maps, strict=False))]
    return sequence_scores(a, b)


def semantic_sequence_score(a: Any, b: Any, label_map: Any) -> float:
    """SemSS of two scanpaths on one image (the batch of one of :func:`semantic_sequence_scores`).

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.array([[1, 1, 2, 2],
    ...                    [3, 3, 2, 2]])
    >>> semantic_sequence_score([[0, 0], [3, 0], [0, 1]], [[3, 1], [0, 0]], labels)
    0.3333333333333333
    """
    lm = as_label_map(label_map, "label_map")
    return float(sequence_scores([label_symbols(a, lm, "a")], [label_symbols(b, lm, "b")])[0])
