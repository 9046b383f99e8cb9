"""The model-vs-human scoring protocol of scanpath comparisons: which pairs, which means.

A model is compared with the humans (or simulated observers) of the **same
trial**: every model path of trial ``i`` against every human path of trial
``i``. The human reference compares every ordered pair of **different**
humans of the same trial (self-pairs left out). A pairwise metric is then
averaged over the pairs of each trial and then over trials, so that every
trial weighs the same whatever its number of humans or model samples
(:meth:`ScanpathPairs.trial_mean`). OAT's sequence score
(:func:`~neuroattn.gaze.metrics.sequence.sequence_scores`), the edit distance
and MultiMatch are all scored this way in the scanpath analyses; paths without
fixation durations are scored with MultiMatch by :func:`multimatch_means`.

Examples
--------
>>> from neuroattn.gaze.metrics import edit_distances
>>> model = [[[0, 1]], [[2, 0]]]                      # one model path per trial
>>> humans = [[[0, 1], [1, 0]], [[2, 1]]]             # two humans, then one
>>> pairs = model_human_pairs(model, humans)
>>> pairs.trial.tolist()
[0, 0, 1]
>>> float(pairs.trial_mean(edit_distances(pairs.a, pairs.b, normalize=True)))
0.5
>>> human_human_pairs(humans).trial.tolist()          # trial 1 has no pair
[0, 0]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from neuroattn.errors import ParameterError
from neuroattn.gaze.metrics.multimatch_similarity import MULTIMATCH_DIMENSIONS, multimatch_scores

__all__ = ["ScanpathPairs", "human_human_pairs", "model_human_pairs", "multimatch_means"]


@dataclass(frozen=True)
class ScanpathPairs:
    """Paths to compare pairwise: ``a[k]`` against ``b[k]``, both of trial ``trial[k]``.

    Attributes
    ----------
    a, b : list
        The paths, in the caller's format (object indices, pixel arrays, ...).
    trial : numpy.ndarray of int, shape (n_pairs,)
    n_trials : int
        Trials in the comparison (some may have no pair).
    """

    a: list
    b: list
    trial: np.ndarray
    n_trials: int

    def __len__(self) -> int:
        return len(self.a)

    def trial_mean(self, values: Any) -> np.ndarray:
        """Mean over the pairs of each trial, then over the trials that have pairs.

        ``values`` holds one value (or one row of values) per pair.

        Examples
        --------
        >>> pairs = ScanpathPairs([0, 0, 0], [0, 0, 0], np.array([0, 0, 1]), 2)
        >>> float(pairs.trial_mean([1.0, 0.0, 1.0]))         # (0.5 + 1) / 2, not 2 / 3
        0.75
        """
        values = np.asarray(values, dtype=float)
        if len(values) != len(self):
            raise ParameterError(f"values hold {len(values)} rows for {len(self)} pairs; pass "
                                 "one value per pair, in the pairs' order.")
        present = np.unique(self.trial)
        if not len(present):
            raise ParameterError("there are no pairs to average; every trial needs at least "
                                 "one model path and one human path (two for humans).")
        return np.mean([values[self.trial == i].mean(0) for i in present], axis=0)

    def map_paths(self, function: Callable[[Any, int], Any]) -> ScanpathPairs:
        """The same pairs with every path ``p`` of trial ``i`` replaced by ``function(p, i)``.

        For scoring one pairing in several forms: object indices turned into pixel
        centres, pixel fixations into the symbols of the objects under them...

        Examples
        --------
        >>> pairs = model_human_pairs([[[0, 1]]], [[[1, 0], [1]]])
        >>> pairs.map_paths(lambda path, trial: [10 * k + trial for k in path]).b
        [[10, 0], [10]]
        """
        return ScanpathPairs([function(p, int(i)) for p, i in zip(self.a, self.trial, strict=True)],
                             [function(p, int(i)) for p, i in zip(self.b, self.trial, strict=True)],
                             self.trial, self.n_trials)


def model_human_pairs(model_paths: Sequence[Sequence[Any]],
                      human_paths: Sequence[Sequence[Any]]) -> ScanpathPairs:
    """Every (model path, human path) pair of the same trial.

    Parameters
    ----------
    model_paths : sequence
        ``model_paths[i]``: the model's paths of trial ``i`` (one or more samples).
    human_paths : sequence
        ``human_paths[i]``: the human paths of trial ``i``.
    """
    if len(model_paths) != len(human_paths):
        raise ParameterError(f"model paths cover {len(model_paths)} trials but human paths "
                             f"{len(human_paths)}; pass one entry per trial to both.")
    a, b, trial = [], [], []
    for i, (mine, theirs) in enumerate(zip(model_paths, human_paths, strict=True)):
        for p in mine:
            for h in theirs:
                a.append(p)
                b.append(h)
                trial.append(i)
    return ScanpathPairs(a, b, np.asarray(trial, dtype=int), len(human_paths))


def human_human_pairs(human_paths: Sequence[Sequence[Any]]) -> ScanpathPairs:
    """Every ordered pair of different humans' paths of the same trial (the human reference)."""
    a, b, trial = [], [], []
    for i, theirs in enumerate(human_paths):
        for s, p in enumerate(theirs):
            for t, h in enumerate(theirs):
                if s != t:
                    a.append(p)
                    b.append(h)
                    trial.append(i)
    return ScanpathPairs(a, b, np.asarray(trial, dtype=int), len(human_paths))


def multimatch_means(pairs: ScanpathPairs, screen_size: Sequence[float], *,
                     duration: float = 0.25, progress: bool | None = False) -> dict[str, float]:
    """Trial-mean MultiMatch of pixel scanpaths that have no fixation durations.

    Every fixation is given the same ``duration``, so the duration dimension is 1
    for every pair and is left out; the others do not depend on it. MultiMatch is
    :func:`~neuroattn.gaze.metrics.multimatch_similarity.multimatch_scores` without
    grouping.

    Parameters
    ----------
    pairs : ScanpathPairs
        Pixel paths, array-like ``(n_fixations, 2)`` of ``(x, y)`` each
        (:meth:`ScanpathPairs.map_paths` turns other forms into these).
    screen_size : (width, height)
        Image size in px.
    duration : float
        Seconds given to every fixation.
    progress : bool, optional
        Progress bar over the pair groups (``None``: on a terminal).

    Returns
    -------
    dict of str to float
        ``vector``, ``direction``, ``length`` and ``position``, each averaged over the
        pairs of each trial, then over the trials.

    Examples
    --------
    >>> path = [[10, 10], [50, 10], [50, 40]]
    >>> pairs = model_human_pairs([[path]], [[path, [[10, 10], [50, 40], [50, 10]]]])
    >>> {k: round(v, 3) for k, v in multimatch_means(pairs, (64, 48)).items()}
    {'vector': 0.859, 'direction': 0.699, 'length': 0.969, 'position': 0.906}
    """
    def timed(path: Any) -> np.ndarray:
        xy = np.asarray(path, dtype=float)
        return np.column_stack([xy, np.full(len(xy), duration)])

    names = [d for d in MULTIMATCH_DIMENSIONS if d != "duration"]
    scores = multimatch_scores([timed(p) for p in pairs.a], [timed(p) for p in pairs.b],
                               screen_size, progress=progress)
    means = pairs.trial_mean(scores[:, [MULTIMATCH_DIMENSIONS.index(d) for d in names]])
    return {d: float(v) for d, v in zip(names, means, strict=True)}
