"""Scoring predicted object scanpaths against the human ones, with the protocol pinned.

* **Sequence score** (:func:`~neuroattn.gaze.metrics.sequence.sequence_score_vs_humans`,
  object indices as symbols, nothing truncated): per trial, the mean over
  every (predicted path, human path) pair; then the mean over trials.
* **Human-human agreement**: per trial, the mean over ordered pairs of
  *different* subjects (no self-comparison); then the mean over trials.
* **Behaviour**: :func:`~neuroattn.gaze.metrics.behavioural.behaviour_summary`
  over all predicted paths (each with its trial's target) and over all
  human paths; **delta** is
  :func:`~neuroattn.gaze.metrics.behavioural.behavioural_delta` between them.
* **EOS after target**: the fraction of predicted paths whose first
  fixation on the target is their last one and that ended with EOS (the
  model pointed at the target token right after fixating the target).
* **Gap closed** (:func:`gap_closed`): where a model's score lies between
  the best baseline (0) and a ceiling such as the generating policy (1).

Examples
--------
>>> from neuroattn.datasets.synthetic.visual_search import make_visual_search
>>> from neuroattn.gaze.oat.evaluation import human_agreement, scanpath_report
>>> test = make_visual_search(n_train=2, n_val=1, n_test=6).test
>>> report = scanpath_report([[p[0]] for p in test.scanpaths], test)  # subject 0 as a "model"
>>> report["eos_after_target"], round(report["sequence_score"], 3) > human_agreement(test) - 0.2
(1.0, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from neuroattn.errors import ParameterError
from neuroattn.gaze.metrics.behavioural import (
    BEHAVIOUR_KEYS,
    behaviour_summary,
    behavioural_delta,
)
from neuroattn.gaze.metrics.sequence import sequence_score_vs_humans
from neuroattn.gaze.oat.data import as_search_trials

__all__ = ["eos_after_target_rate", "gap_closed", "human_agreement", "human_behaviour",
           "scanpath_report"]


def _check_predicted(predicted: Sequence[Sequence[Sequence[int]]], n_trials: int) -> None:
    if len(predicted) != n_trials:
        raise ParameterError(f"predicted has {len(predicted)} entries for {n_trials} trials; pass "
                             "one list of paths per trial (paths[i][s]).")
    for i, paths in enumerate(predicted):
        if len(paths) == 0:
            raise ParameterError(f"predicted[{i}] has no paths; give every trial at least one.")


def human_agreement(trials: Any) -> float:
    """Mean human-human sequence score (different subjects only), averaged over trials.

    Trials with a single subject are skipped; at least one trial needs two.

    Examples
    --------
    >>> from neuroattn.datasets.synthetic.visual_search import make_visual_search
    >>> 0.0 < human_agreement(make_visual_search(n_train=2, n_val=1, n_test=5).test) < 1.0
    True
    """
    trials = as_search_trials(trials)
    trials.require_scanpaths()
    scores = [sequence_score_vs_humans(None, paths) for paths in trials.scanpaths
              if len(paths) > 1]
    if not scores:
        raise ParameterError("every trial has a single human scanpath; human-human agreement needs "
                             "at least two subjects in some trial.")
    return float(np.mean(scores))


def human_behaviour(trials: Any) -> dict[str, float]:
    """:func:`~neuroattn.gaze.metrics.behavioural.behaviour_summary` of all human scanpaths.

    Examples
    --------
    >>> from neuroattn.datasets.synthetic.visual_search import make_visual_search
    >>> human_behaviour(make_visual_search(n_train=2, n_val=1, n_test=5).test)["correct"]
    1.0
    """
    trials = as_search_trials(trials)
    trials.require_scanpaths()
    paths = [p for ps in trials.scanpaths for p in ps]
    targets = [int(t) for ps, t in zip(trials.scanpaths, trials.targets, strict=True)
               for _ in ps]
    return behaviour_summary(paths, targets)


def eos_after_target_rate(predicted: Sequence[Sequence[Sequence[int]]], targets: Sequence[int],
                          ended: np.ndarray | None = None) -> float:
    """Fraction of predicted paths that end (with EOS) right after their first target fixation.

    ``ended`` (``(n_trials, n_samples)`` bool, from ``return_ended=True``)
    marks paths that emitted EOS; ``None`` treats every path as ended.

    Examples
    --------
    >>> eos_after_target_rate([[[1, 2]], [[2, 0]], [[0, 2, 2]]], targets=[2, 2, 2])
    0.3333333333333333
    """
    _check_predicted(predicted, len(targets))
    hits = []
    for i, (paths, target) in enumerate(zip(predicted, targets, strict=True)):
        for s, path in enumerate(paths):
            first = next((k for k, f in enumerate(path) if f == int(target)), None)
            ok = first is not None and first == len(path) - 1
            if ended is not None:
                ok = ok and bool(ended[i][s])
            hits.append(ok)
    return float(np.mean(hits))


def scanpath_report(predicted: Sequence[Sequence[Sequence[int]]], trials: Any, *,
                    ended: np.ndarray | None = None) -> dict[str, float]:
    """Sequence score, behaviour, delta and EOS-after-target of predicted paths.

    Parameters
    ----------
    predicted : list of list of list of int
        ``predicted[i][s]``: path ``s`` for trial ``i`` (as the generators return).
    trials : SearchTrials or compatible
        The same trials, with human scanpaths.
    ended : numpy.ndarray, optional
        Which paths emitted EOS (see :func:`eos_after_target_rate`).

    Returns
    -------
    dict of str to float
        ``sequence_score``, ``delta``, ``eos_after_target``, the model's
        behavioural summary (``correct``, ``length``, ``search``, ``refix``,
        ``revisit``) and the humans' (``human_correct``, ...).
    """
    trials = as_search_trials(trials)
    trials.require_scanpaths()
    _check_predicted(predicted, len(trials))
    ss = [sequence_score_vs_humans(list(paths), humans)
          for paths, humans in zip(predicted, trials.scanpaths, strict=True)]
    model_paths = [p for ps in predicted for p in ps]
    model_targets = [int(t) for ps, t in zip(predicted, trials.targets, strict=True) for _ in ps]
    model = behaviour_summary(model_paths, model_targets)
    human = human_behaviour(trials)
    report = {"sequence_score": float(np.mean(ss)),
              "delta": behavioural_delta(model, human),
              "eos_after_target": eos_after_target_rate(predicted, trials.targets, ended)}
    report.update({k: model[k] for k in BEHAVIOUR_KEYS})
    report.update({f"human_{k}": human[k] for k in BEHAVIOUR_KEYS})
    return report


def gap_closed(model: float, baseline: float, ceiling: float) -> float:
    """Share of the gap from ``baseline`` to ``ceiling`` that ``model`` closes.

    ``(model - baseline) / (ceiling - baseline)``: 0 at the baseline, 1 at the
    ceiling, negative below the baseline and above 1 past the ceiling. The
    direction of "better" does not matter (it works for a score to maximise,
    like the sequence score, and for one to minimise, like the delta).

    Raises
    ------
    ValueError
        If ``ceiling == baseline`` (no gap to close) or a value is not finite.

    Examples
    --------
    >>> round(gap_closed(0.45, baseline=0.30, ceiling=0.50), 3)   # sequence score, higher better
    0.75
    >>> round(gap_closed(0.33, baseline=0.49, ceiling=0.03), 3)   # delta, lower better
    0.348
    """
    values = np.array([model, baseline, ceiling], dtype=np.float64)
    if not np.isfinite(values).all():
        raise ParameterError(f"gap_closed needs finite numbers; got model={model!r}, "
                             f"baseline={baseline!r}, ceiling={ceiling!r}.")
    if ceiling == baseline:
        raise ParameterError(f"the ceiling equals the baseline ({baseline!r}): there is no gap to "
                             "close; report the raw scores instead.")
    return float((model - baseline) / (ceiling - baseline))
