"""Clinic-style evaluation of a window-level seizure detector.

Two views of the same predictions:

* **Window level** (:func:`window_metrics`): every window's seizure
  probability against its label: AUROC, AUPRC (average precision), and F1,
  Cohen's kappa, sensitivity, specificity and precision of the predictions
  ``probability > threshold``.
* **Event level** (:func:`event_metrics`): what a clinician sees. The
  probabilities are turned into a "detector on" trace online by a
  :class:`DetectionRule`, and the detections are scored against the
  annotated seizures, by default with **SzCORE** (Dan et al., Epilepsia
  2024; :mod:`neuroattn.ieeg.szcore`, equal to ``timescoring``'s
  ``EventScoring``): sensitivity, precision, F1 and false alarms per hour.

An operating point (threshold and smoothing) meeting a false-alarm budget
is chosen on *validation* recordings (:func:`choose_operating_points`) and
then applied, unchanged, to the test recordings; :func:`sensitivity_fa_curve`
gives the whole sensitivity-vs-false-alarm curve of a set of recordings.

The detection rule
------------------
Windows are processed in time order; ``times[i]`` is the decision time of
window ``i`` (the end of the window, in seconds from the recording start),
so the rule only ever looks at the past.

1. *Smoothing*: ``s[i]`` is the mean of the last ``smooth_windows``
   probabilities ``p[i - k + 1], ..., p[i]`` (causal moving average; the
   first ``k - 1`` windows average the windows available so far).
2. *Threshold*: window ``i`` is *above* when ``s[i] > threshold`` (strictly).
3. *Persistence*: the detector is *on* at window ``i`` when windows
   ``i - min_consecutive + 1, ..., i`` are all above (:func:`detector_on`).

Then one of two scorings (``DetectionRule.scoring``):

``"szcore"`` (the default)
   Each run of consecutive on windows is one hypothesis event (a window
   stands for its newest hop, the spacing of ``times``;
   :func:`neuroattn.ieeg.szcore.detections_to_events`), and events are
   scored with SzCORE's defaults: reference and hypothesis events closer
   than 90 s are merged and events longer than 5 min split; a reference
   seizure is detected when a hypothesis overlaps it, extended by 30 s
   before its onset and 60 s after its offset; a hypothesis event
   overlapping no detected (extended) seizure is a false alarm.
   ``refractory_s`` and ``tolerance_s`` are not used.
``"onset"`` (the earlier rule, kept as an option)
   Alarm *points* instead of events: an alarm is raised at ``times[i]``
   when the detector is on and no alarm was raised in the ``refractory_s``
   seconds before (an earlier alarm at ``t`` blocks until ``t +
   refractory_s``, exclusive). An alarm at ``a`` is inside a seizure
   ``[onset, offset]`` when ``onset <= a <= offset + tolerance_s``; a
   seizure is detected when at least one alarm is inside it, its latency is
   the first such alarm minus the onset, and every alarm inside no seizure
   is a false alarm. It differs from SzCORE in three ways: no tolerance
   before the onset, an alarm per refractory period instead of one event per
   detection, and no merging of close or splitting of long events.

Pooling over recordings sums the counts and recomputes the rates from the
sums: sensitivity = detected seizures / annotated seizures, and false
alarms per hour = false alarms / hours recorded (not the mean of the
per-recording rates).

Examples
--------
>>> import numpy as np
>>> from neuroattn.ieeg.evaluation import DetectionRule, alarms, event_metrics
>>> times = np.arange(1.0, 11.0)                  # ten 1-s windows, decided at their end
>>> probs = np.array([0, 0, .9, .9, .9, .9, .9, .9, 0, 0])
>>> rule = DetectionRule(smooth_windows=2, min_consecutive=2, refractory_s=3.0,
...                      scoring="onset")
>>> alarms(times, probs, rule)                    # on from t=5 to t=8; re-alarms after 3 s
array([5., 8.])
>>> ev = event_metrics(times, probs, [[2.5, 6.0]], rule, duration_s=3600.0)
>>> ev["n_detected"], ev["latencies_s"], ev["false_alarms"]
(1, [2.5], 1)
>>> rule.tolerance_s = 2.0                        # alarms up to 2 s after the offset count
>>> event_metrics(times, probs, [[2.5, 6.0]], rule, duration_s=3600.0)["false_alarms"]
0
>>> rule.scoring = "szcore"                       # one event [4, 8] s: it detects the seizure
>>> ev = event_metrics(times, probs, [[2.5, 6.0]], rule, duration_s=3600.0)
>>> ev["n_detected"], ev["false_alarms"], ev["precision"]
(1, 0, 1.0)
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np

from neuroattn._atomic import atomic_path
from neuroattn._logging import logger
from neuroattn._validation import as_array, to_jsonable
from neuroattn.errors import ParameterError
from neuroattn.ieeg.szcore import (
    as_events,
    detections_to_events,
    pool_szcore_scores,
    szcore_event_scores,
)

__all__ = [
    "BUDGETS",
    "DetectionRule",
    "OperatingPoint",
    "RecordingPrediction",
    "alarms",
    "budget_key",
    "choose_operating_point",
    "choose_operating_points",
    "detector_on",
    "evaluate",
    "evaluate_at_operating_points",
    "event_metrics",
    "format_table",
    "hypothesis_events",
    "save_results",
    "sensitivity_fa_curve",
    "window_metrics",
]

#: The false-alarm budgets (per hour) every evaluation reports.
BUDGETS = (0.5, 1.0, 2.0)
#: Scorings of :class:`DetectionRule` (see the module docstring).
SCORINGS = ("szcore", "onset")
#: At most this many thresholds per sensitivity-vs-false-alarm curve by default.
MAX_CURVE_POINTS = 256

_NAN = float("nan")


# --------------------------------------------------------------------------- validation


#: How to fix per-window input of the wrong shape.
ONE_PER_WINDOW = "one value per window: flatten it or pass one recording at a time"


def _probabilities(x: Any, name: str = "probabilities") -> np.ndarray:
    p = as_array(name, x, ndim=1, allow_empty=False, hint=ONE_PER_WINDOW)
    if p.min() < 0 or p.max() > 1:
        raise ParameterError(
            f"{name} must lie in [0, 1], got values in [{p.min():g}, {p.max():g}]; "
            "pass probabilities (e.g. a softmax or sigmoid output), not logits."
        )
    return p


def _labels(x: Any) -> np.ndarray:
    y = as_array("labels", x, ndim=1, allow_empty=False, hint=ONE_PER_WINDOW)
    bad = ~np.isin(y, (0.0, 1.0))
    if bad.any():
        raise ParameterError(
            f"labels must be 0 (no seizure) or 1 (seizure), got {np.unique(y[bad])[:5]}; "
            "binarise them first."
        )
    return y.astype(np.int64)


def _same_length(**arrays: np.ndarray) -> None:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ParameterError(f"One value per window is needed, but {detail}; pass matching arrays.")


def _times(x: Any) -> np.ndarray:
    t = as_array("times", x, ndim=1, allow_empty=False, hint=ONE_PER_WINDOW)
    if len(t) > 1 and not (np.diff(t) > 0).all():
        raise ParameterError(
            "times must be strictly increasing (each window's decision time); "
            "sort the windows by time and evaluate recordings separately."
        )
    return t


def _seizures(x: Any) -> np.ndarray:
    s = as_events(x, "seizures")
    return s[np.argsort(s[:, 0], kind="stable")]


def _threshold(threshold: Any) -> float:
    value = float(threshold)
    if not 0.0 <= value <= 1.0:
        raise ParameterError(f"threshold={threshold} must lie in [0, 1].")
    return value


# --------------------------------------------------------------------------- window level


def _auroc(p: np.ndarray, y: np.ndarray) -> float:
    """Mann-Whitney AUROC; tied scores get the average of their ranks."""
    order = np.argsort(p, kind="mergesort")
    sorted_p = p[order]
    starts = np.r_[True, sorted_p[1:] != sorted_p[:-1]]
    first = np.flatnonzero(starts)
    last = np.r_[first[1:], len(p)] - 1
    ranks = np.empty(len(p))
    ranks[order] = ((first + last) / 2.0 + 1.0)[np.cumsum(starts) - 1]
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _average_precision(p: np.ndarray, y: np.ndarray) -> float:
    """Sum over distinct thresholds of (recall step) x precision."""
    order = np.argsort(-p, kind="mergesort")
    sorted_p, sorted_y = p[order], y[order]
    ends = np.r_[sorted_p[1:] != sorted_p[:-1], True]
    tps = np.cumsum(sorted_y)[ends]
    fps = np.cumsum(1 - sorted_y)[ends]
    precision = tps / (tps + fps)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else _NAN


def _window_metrics(p: np.ndarray, y: np.ndarray, threshold: float, where: str = "") -> dict:
    n = len(y)
    n_pos = int(y.sum())
    if 0 < n_pos < n:
        auroc, auprc = _auroc(p, y), _average_precision(p, y)
    else:
        only = "seizure (1)" if n_pos else "non-seizure (0)"
        logger.warning(
            "Only %s windows%s (%d windows): AUROC and AUPRC are undefined and set to NaN.",
            only, f" for {where}" if where else "", n)
        auroc = auprc = _NAN
    pred = p > threshold
    tp = int(np.sum(pred & (y == 1)))
    fp = int(np.sum(pred & (y == 0)))
    fn = n_pos - tp
    tn = n - n_pos - fp
    observed = (tp + tn) / n
    expected = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / n**2
    return {
        "auroc": auroc,
        "auprc": auprc,
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "kappa": _ratio(observed - expected, 1.0 - expected),
        "sensitivity": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
        "precision": _ratio(tp, tp + fp),
        "n_windows": int(n),
        "n_positive": n_pos,
    }


def window_metrics(
    probabilities: np.ndarray | Sequence[float],
    labels: np.ndarray | Sequence[int],
    *,
    threshold: float = 0.5,
) -> dict[str, float | int]:
    """Window-level detection metrics.

    Parameters
    ----------
    probabilities : array-like of shape (n_windows,)
        Seizure probability of each window, in [0, 1].
    labels : array-like of shape (n_windows,)
        1 for seizure windows, 0 otherwise.
    threshold : float
        A window is predicted a seizure when its probability is strictly above
        ``threshold`` (used for F1, kappa, sensitivity, specificity, precision).

    Returns
    -------
    dict
        ``auroc`` (ties get average ranks), ``auprc`` (average precision: the
        precision at each distinct threshold weighted by the recall gained,
        no interpolation), ``f1``, ``kappa`` (Cohen's), ``sensitivity``,
        ``specificity``, ``precision``, ``n_windows``, ``n_positive``. A ratio
        with a zero denominator is NaN; with a single class present AUROC and
        AUPRC are NaN and a warning is logged.

    Examples
    --------
    >>> m = window_metrics([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    >>> m["auroc"], round(m["auprc"], 4), m["f1"]
    (0.75, 0.8333, 0.6666666666666666)
    """
    p = _probabilities(probabilities)
    y = _labels(labels)
    _same_length(probabilities=p, labels=y)
    return _window_metrics(p, y, _threshold(threshold))


# --------------------------------------------------------------------------- event level


def _is_int(x: Any) -> bool:
    return isinstance(x, int | np.integer) and not isinstance(x, bool | np.bool_)


@dataclass
class DetectionRule:
    """How window probabilities become detections, and how detections meet seizures.

    The rule is applied online, window by window in time order:

    1. ``s[i]`` = mean of the last ``smooth_windows`` probabilities (causal;
       the first windows average what is available so far);
    2. window ``i`` is above when ``s[i] > threshold``;
    3. the detector is on when the last ``min_consecutive`` windows are all
       above;
    4. ``scoring="szcore"``: runs of on windows are hypothesis events scored
       with SzCORE; ``scoring="onset"``: an alarm is raised at ``times[i]``
       when the detector is on and no alarm was raised within the previous
       ``refractory_s`` seconds, and an alarm at ``a`` is inside seizure
       ``[onset, offset]`` when ``onset <= a <= offset + tolerance_s``
       (see the module docstring for how the two differ).

    Parameters
    ----------
    smooth_windows : int
        Length ``k >= 1`` of the causal moving average (1: no smoothing).
    threshold : float
        Threshold on the smoothed probability, in [0, 1].
    min_consecutive : int
        Number ``>= 1`` of consecutive above-threshold windows needed.
    refractory_s : float
        ``"onset"`` scoring only: seconds ``>= 0`` after an alarm during which
        further alarms are merged into it.
    tolerance_s : float
        ``"onset"`` scoring only: seconds ``>= 0`` after a seizure offset
        during which an alarm still counts as detecting that seizure.
    scoring : {"szcore", "onset"}
        Event scoring: SzCORE (the default) or the onset-matching rule.

    Examples
    --------
    >>> DetectionRule(smooth_windows=5, min_consecutive=2)
    DetectionRule(smooth_windows=5, threshold=0.5, min_consecutive=2, ..., scoring='szcore')
    """

    smooth_windows: int = 3
    threshold: float = 0.5
    min_consecutive: int = 1
    refractory_s: float = 60.0
    tolerance_s: float = 0.0
    scoring: str = "szcore"

    def __post_init__(self) -> None:
        for name in ("smooth_windows", "min_consecutive"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ParameterError(f"DetectionRule.{name}={value!r} must be an integer >= 1.")
            setattr(self, name, int(value))
        self.threshold = _threshold(self.threshold)
        for name in ("refractory_s", "tolerance_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not math.isfinite(float(value)) or float(value) < 0:
                raise ParameterError(
                    f"DetectionRule.{name}={value!r} must be a finite number of seconds >= 0."
                )
            setattr(self, name, float(value))
        if self.scoring not in SCORINGS:
            raise ParameterError(f"DetectionRule.scoring={self.scoring!r} is not one of "
                                 f"{', '.join(SCORINGS)}.")


def _smooth(p: np.ndarray, k: int) -> np.ndarray:
    k = min(k, len(p))
    head = np.cumsum(p[: k - 1]) / np.arange(1, k)
    body = np.lib.stride_tricks.sliding_window_view(p, k).mean(axis=1)
    return np.concatenate([head, body])


def _persistent(above: np.ndarray, min_consecutive: int) -> np.ndarray:
    """On where the last ``min_consecutive`` entries (along the last axis) are all above."""
    if min_consecutive == 1:
        return above
    index = np.arange(above.shape[-1])
    last_below = np.maximum.accumulate(np.where(above, -1, index), axis=-1)
    return index - last_below >= min_consecutive


def _on(p: np.ndarray, rule: DetectionRule) -> np.ndarray:
    return _persistent(_smooth(p, rule.smooth_windows) > rule.threshold, rule.min_consecutive)


def _alarms_from_on(t: np.ndarray, on: np.ndarray, refractory_s: float) -> np.ndarray:
    candidates = t[on]
    out: list[float] = []
    j = 0
    while j < len(candidates):
        out.append(float(candidates[j]))
        nxt = int(np.searchsorted(candidates, candidates[j] + refractory_s, side="left"))
        j = max(j + 1, nxt)
    return np.asarray(out, dtype=float)


def _alarms(t: np.ndarray, p: np.ndarray, rule: DetectionRule) -> np.ndarray:
    return _alarms_from_on(t, _on(p, rule), rule.refractory_s)


def detector_on(
    times: np.ndarray | Sequence[float],
    probabilities: np.ndarray | Sequence[float],
    rule: DetectionRule | None = None,
) -> np.ndarray:
    """Whether the online detector of ``rule`` is on at each window (smoothing,
    threshold and persistence; steps 1-3 of the module docstring).

    Parameters
    ----------
    times : array-like of shape (n_windows,)
        Decision time of each window (its end), strictly increasing seconds.
    probabilities : array-like of shape (n_windows,)
        Seizure probability of each window, in [0, 1].
    rule : DetectionRule, optional
        Default ``DetectionRule()``.

    Returns
    -------
    numpy.ndarray of bool, shape (n_windows,)

    Examples
    --------
    >>> detector_on([1., 2., 3., 4.], [0.2, 0.9, 0.9, 0.1],
    ...             DetectionRule(smooth_windows=1, min_consecutive=2))
    array([False, False,  True, False])
    """
    rule = DetectionRule() if rule is None else rule
    t = _times(times)
    p = _probabilities(probabilities)
    _same_length(times=t, probabilities=p)
    return _on(p, rule)


def alarms(
    times: np.ndarray | Sequence[float],
    probabilities: np.ndarray | Sequence[float],
    rule: DetectionRule | None = None,
) -> np.ndarray:
    """Alarm times of the online detector defined by ``rule`` (``"onset"`` scoring's alarms).

    Parameters
    ----------
    times : array-like of shape (n_windows,)
        Decision time of each window (its end), in seconds from the recording
        start, strictly increasing.
    probabilities : array-like of shape (n_windows,)
        Seizure probability of each window, in [0, 1].
    rule : DetectionRule, optional
        Smoothing, threshold, persistence and refractory rule; default
        ``DetectionRule()``.

    Returns
    -------
    numpy.ndarray
        Alarm times in seconds, increasing (a subset of ``times``).

    Examples
    --------
    >>> alarms([10., 20., 30., 40.], [0.2, 0.9, 0.9, 0.9], DetectionRule(smooth_windows=1))
    array([20.])
    """
    rule = DetectionRule() if rule is None else rule
    t = _times(times)
    p = _probabilities(probabilities)
    _same_length(times=t, probabilities=p)
    return _alarms(t, p, rule)


def _covered_seconds(t: np.ndarray) -> float:
    """Span covered by windows whose decision times are ``t`` (n x the median hop)."""
    if len(t) < 2:
        return 0.0
    return float(t[-1] - t[0] + np.median(np.diff(t)))


def _hop(t: np.ndarray) -> float:
    """Seconds each window stands for: the median spacing of the decision times."""
    return float(np.median(np.diff(t))) if len(t) > 1 else float(t[0])


def _match(alarm_times: np.ndarray, seizures: np.ndarray, tolerance_s: float) -> tuple:
    """Mask of alarms inside a seizure, and the first alarm of each seizure (NaN if none)."""
    lo, hi = seizures[:, 0], seizures[:, 1] + tolerance_s
    inside = ((alarm_times[:, None] >= lo) & (alarm_times[:, None] <= hi)).any(axis=1)
    first = np.full(len(seizures), np.nan)
    j = np.searchsorted(alarm_times, lo, side="left")
    hit = j < len(alarm_times)
    hit[hit] = alarm_times[j[hit]] <= hi[hit]
    first[hit] = alarm_times[j[hit]]
    return inside, first


def _onset_summary(n_seizures: int, n_detected: int, n_alarms: int, false_alarms: int,
                   hours: float, latencies: list[float]) -> dict:
    return {
        "scoring": "onset",
        "n_seizures": int(n_seizures),
        "n_detected": int(n_detected),
        "sensitivity": _ratio(n_detected, n_seizures),
        "n_alarms": int(n_alarms),
        "false_alarms": int(false_alarms),
        "hours": float(hours),
        "false_alarms_per_hour": _ratio(false_alarms, hours),
        "latencies_s": [float(x) for x in latencies],
        "median_latency_s": float(np.median(latencies)) if latencies else _NAN,
    }


def _from_szcore(s: dict) -> dict:
    """Our names for :func:`~neuroattn.ieeg.szcore.szcore_event_scores`' numbers."""
    return {
        "scoring": "szcore",
        "n_seizures": int(s["n_reference"]),
        "n_detected": int(s["true_positives"]),
        "sensitivity": float(s["sensitivity"]),
        "precision": float(s["precision"]),
        "f1": float(s["f1"]),
        "n_events": int(s["n_hypothesis"]),
        "false_alarms": int(s["false_positives"]),
        "hours": float(s["hours"]),
        "false_alarms_per_hour": float(s["false_positives_per_day"]) / 24.0,
        "false_alarms_per_day": float(s["false_positives_per_day"]),
    }


@dataclass(frozen=True)
class DetectionTrace:
    """One recording's checked inputs and what an alarm rule makes of them (for plotting).

    Attributes
    ----------
    times, probabilities : numpy.ndarray of shape (n_windows,)
        Checked (finite, increasing times; probabilities in [0, 1]).
    seizures : numpy.ndarray of shape (n_seizures, 2)
        Annotated seizures, sorted by onset.
    labels : numpy.ndarray of shape (n_windows,) or None
        Window labels (0/1), when given.
    smoothed : numpy.ndarray of shape (n_windows,) or None
        The rule's causal moving average (None without a rule).
    alarm_times : numpy.ndarray
        Onset-rule alarms (empty without a rule).
    alarm_in_seizure : numpy.ndarray of bool
        Per alarm: inside a seizure (plus the tolerance).
    first_alarm : numpy.ndarray of shape (n_seizures,)
        Per seizure: its first alarm, NaN when it was missed.
    """

    times: np.ndarray
    probabilities: np.ndarray
    seizures: np.ndarray
    labels: np.ndarray | None
    smoothed: np.ndarray | None
    alarm_times: np.ndarray
    alarm_in_seizure: np.ndarray
    first_alarm: np.ndarray


def detection_trace(
    times: np.ndarray | Sequence[float],
    probabilities: np.ndarray | Sequence[float],
    seizures: np.ndarray | Sequence[Sequence[float]],
    rule: DetectionRule | None = None,
    labels: np.ndarray | Sequence[int] | None = None,
) -> DetectionTrace:
    """Check one recording's windows and apply ``rule`` (see :class:`DetectionTrace`).

    Raises the same errors as :func:`evaluate` for bad input.

    Examples
    --------
    >>> t = np.arange(1.0, 11.0)
    >>> p = np.where((t > 4) & (t <= 6), 0.9, 0.1)
    >>> tr = detection_trace(t, p, [[4.0, 6.0]], DetectionRule(smooth_windows=1))
    >>> tr.alarm_times.tolist(), tr.alarm_in_seizure.tolist(), tr.first_alarm.tolist()
    ([5.0], [True], [5.0])
    """
    t, p = _times(times), _probabilities(probabilities)
    _same_length(times=t, probabilities=p)
    y = None
    if labels is not None:
        y = _labels(labels)
        _same_length(times=t, labels=y)
    sz = _seizures(seizures)
    if rule is None:
        empty = np.zeros(0)
        return DetectionTrace(t, p, sz, y, None, empty, empty.astype(bool),
                              np.full(len(sz), np.nan))
    found = _alarms(t, p, rule)
    inside, first = _match(found, sz, rule.tolerance_s)
    return DetectionTrace(t, p, sz, y, _smooth(p, rule.smooth_windows), found, inside, first)


def hypothesis_events(
    times: np.ndarray | Sequence[float],
    probabilities: np.ndarray | Sequence[float],
    rule: DetectionRule | None = None,
) -> np.ndarray:
    """The SzCORE hypothesis events of the detector of ``rule``: one per run of on windows.

    Each window stands for its newest hop (the median spacing of ``times``);
    see :func:`neuroattn.ieeg.szcore.detections_to_events`.

    Returns
    -------
    numpy.ndarray of shape (n_events, 2)
        Onset and offset seconds.

    Examples
    --------
    >>> hypothesis_events([4., 8., 12., 16.], [0.9, 0.9, 0.1, 0.9], DetectionRule(smooth_windows=1))
    array([[ 0.,  8.],
           [12., 16.]])
    """
    t = _times(times)
    return detections_to_events(t, detector_on(t, probabilities, rule), _hop(t))


def _events_from_on(t: np.ndarray, on: np.ndarray, seizures: np.ndarray, duration_s: float,
                    rule: DetectionRule) -> dict:
    """One recording's event metrics from its detector-on trace."""
    if rule.scoring == "szcore":
        return _from_szcore(szcore_event_scores(
            seizures, detections_to_events(t, on, _hop(t)), duration_s))
    found = _alarms_from_on(t, on, rule.refractory_s)
    inside, first = _match(found, seizures, rule.tolerance_s)
    detected = ~np.isnan(first)
    return _onset_summary(
        len(seizures), int(detected.sum()), len(found), int((~inside).sum()),
        float(duration_s) / 3600.0, list(first[detected] - seizures[detected, 0]))


def _pool_events(events: list[dict], scoring: str) -> dict:
    """Sum the counts of several recordings and recompute the rates from the sums."""

    def total(key: str) -> Any:
        return sum(e[key] for e in events)

    if scoring == "szcore":
        return _from_szcore(pool_szcore_scores(
            {"true_positives": e["n_detected"], "false_positives": e["false_alarms"],
             "n_reference": e["n_seizures"], "n_hypothesis": e["n_events"], "hours": e["hours"]}
            for e in events))
    return _onset_summary(total("n_seizures"), total("n_detected"), total("n_alarms"),
                          total("false_alarms"), total("hours"),
                          [x for e in events for x in e["latencies_s"]])


def event_metrics(
    times: np.ndarray | Sequence[float],
    probabilities: np.ndarray | Sequence[float],
    seizures: np.ndarray | Sequence[Sequence[float]],
    rule: DetectionRule | None = None,
    *,
    duration_s: float | None = None,
) -> dict[str, Any]:
    """Seizure-level sensitivity and false alarms per hour of one recording.

    Parameters
    ----------
    times : array-like of shape (n_windows,)
        Decision time of each window (its end), seconds from the recording start.
    probabilities : array-like of shape (n_windows,)
        Seizure probability of each window, in [0, 1].
    seizures : array-like of shape (n_seizures, 2)
        Annotated onset and offset of each seizure, in seconds (may be empty).
    rule : DetectionRule, optional
        The detection rule and its scoring (see the module docstring); default
        ``DetectionRule()`` (SzCORE).
    duration_s : float, optional
        Recording length used for the false-alarm rate; by default the span the
        windows cover, ``times[-1] - times[0]`` plus the median window hop.

    Returns
    -------
    dict
        Always ``scoring``, ``n_seizures``, ``n_detected``, ``sensitivity``
        (NaN without seizures), ``false_alarms``, ``hours`` and
        ``false_alarms_per_hour``. SzCORE adds ``precision``, ``f1``,
        ``false_alarms_per_day`` (equal to ``timescoring``'s) and ``n_events``
        (hypothesis events); its ``n_seizures`` counts the reference events
        after SzCORE's merging and splitting. Onset scoring adds ``n_alarms``,
        ``latencies_s`` (first alarm minus onset, per detected seizure) and
        ``median_latency_s`` (NaN when none is detected).

    Examples
    --------
    >>> t = np.arange(60.0, 7260.0, 60.0)              # two hours of 1-min windows
    >>> p = np.where(t == 660, 0.9, 0.1)                # seizure seen at t=660 s
    >>> p[100] = 0.95                                   # one spurious window
    >>> ev = event_metrics(t, p, [[630.0, 700.0]], DetectionRule(smooth_windows=1))
    >>> ev["sensitivity"], ev["false_alarms_per_hour"], ev["precision"]
    (1.0, 0.5, 0.5)
    >>> onset = DetectionRule(smooth_windows=1, scoring="onset")
    >>> event_metrics(t, p, [[630.0, 700.0]], onset)["median_latency_s"]
    30.0
    """
    rule = DetectionRule() if rule is None else rule
    t = _times(times)
    p = _probabilities(probabilities)
    _same_length(times=t, probabilities=p)
    sz = _seizures(seizures)
    if duration_s is None:
        duration_s = _covered_seconds(t)
    elif not math.isfinite(float(duration_s)) or float(duration_s) < 0:
        raise ParameterError(f"duration_s={duration_s} must be a finite number of seconds >= 0.")
    return _events_from_on(t, _on(p, rule), sz, float(duration_s), rule)


# --------------------------------------------------------------------------- many recordings


@dataclass
class RecordingPrediction:
    """The detector's output on one recording, with the ground truth.

    Parameters
    ----------
    name : str
        Recording identifier.
    patient : str
        Patient identifier; recordings are grouped by it.
    times : numpy.ndarray of shape (n_windows,)
        Decision time (end) of each window, seconds from the recording start.
    probabilities : numpy.ndarray of shape (n_windows,)
        Seizure probability of each window.
    labels : numpy.ndarray of shape (n_windows,)
        Window labels (1 = seizure).
    seizures : numpy.ndarray of shape (n_seizures, 2)
        Annotated seizure onsets and offsets in seconds.
    duration_s : float
        Recording length in seconds (for false alarms per hour).

    Examples
    --------
    >>> rec = RecordingPrediction("run-01", "P1", np.array([1., 2.]), np.array([.1, .9]),
    ...                           np.array([0, 1]), np.array([[1.2, 2.0]]), 2.0)
    >>> rec.seizures.shape
    (1, 2)
    """

    name: str
    patient: str
    times: np.ndarray
    probabilities: np.ndarray
    labels: np.ndarray
    seizures: np.ndarray
    duration_s: float

    def __post_init__(self) -> None:
        try:
            self.times = _times(self.times)
            self.probabilities = _probabilities(self.probabilities)
            self.labels = _labels(self.labels)
            _same_length(times=self.times, probabilities=self.probabilities,
                         labels=self.labels)
            self.seizures = _seizures(self.seizures)
            self.duration_s = float(self.duration_s)
            if not math.isfinite(self.duration_s) or self.duration_s < 0:
                raise ParameterError(f"duration_s={self.duration_s} must be >= 0 seconds.")
        except ValueError as err:
            raise ParameterError(f"Recording {self.name!r}: {err}") from None


def _group_metrics(recordings: Sequence[RecordingPrediction], rule: DetectionRule,
                   threshold: float, where: str) -> dict:
    p = np.concatenate([r.probabilities for r in recordings])
    y = np.concatenate([r.labels for r in recordings])
    events = [_events_from_on(r.times, _on(r.probabilities, rule), r.seizures, r.duration_s, rule)
              for r in recordings]
    return {"window": _window_metrics(p, y, threshold, where),
            "event": _pool_events(events, rule.scoring), "n_recordings": len(recordings)}


def _checked(recordings: Sequence[RecordingPrediction], what: str) -> list[RecordingPrediction]:
    recordings = list(recordings)
    if not recordings:
        raise ParameterError(f"No recordings to {what}; pass at least one RecordingPrediction.")
    for rec in recordings:
        if not isinstance(rec, RecordingPrediction):
            raise TypeError(f"Expected RecordingPrediction objects, got {type(rec).__name__}.")
    return recordings


def evaluate(
    recordings: Sequence[RecordingPrediction],
    rule: DetectionRule | None = None,
    *,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """Window- and event-level metrics per patient and pooled over all recordings.

    Window metrics are computed on the concatenated windows of a group; event
    counts (seizures, detections, events or alarms, false alarms, hours) are
    summed over its recordings and the rates recomputed from the sums
    (pooled sensitivity = detected / annotated seizures, pooled false alarms
    per hour = false alarms / hours); latencies are concatenated.

    Parameters
    ----------
    recordings : sequence of RecordingPrediction
        Detector output per recording.
    rule : DetectionRule, optional
        Detection rule and scoring of the event metrics; default
        ``DetectionRule()`` (SzCORE).
    threshold : float
        Window-level decision threshold (F1, kappa, ...), separate from
        ``rule.threshold``.

    Returns
    -------
    dict
        JSON-serialisable ``{"rule", "threshold", "per_patient": {patient:
        {"window", "event", "n_recordings"}}, "pooled": {...}}``; patients in
        order of first appearance.

    Examples
    --------
    >>> t = np.arange(1.0, 101.0)
    >>> p = np.where((t > 40) & (t <= 50), 0.9, 0.1)
    >>> recs = [RecordingPrediction(f"run-{i}", "P1", t, p, (p > 0.5).astype(int),
    ...                             [[40.0, 50.0]], 100.0) for i in range(2)]
    >>> res = evaluate(recs, DetectionRule(smooth_windows=1))
    >>> res["pooled"]["event"]["n_detected"], res["per_patient"]["P1"]["window"]["auroc"]
    (2, 1.0)
    """
    rule = DetectionRule() if rule is None else rule
    threshold = _threshold(threshold)
    recordings = _checked(recordings, "evaluate")
    by_patient: dict[str, list[RecordingPrediction]] = {}
    for rec in recordings:
        by_patient.setdefault(str(rec.patient), []).append(rec)
    return {
        "rule": asdict(rule),
        "threshold": threshold,
        "per_patient": {patient: _group_metrics(recs, rule, threshold, f"patient {patient}")
                        for patient, recs in by_patient.items()},
        "pooled": _group_metrics(recordings, rule, threshold, "the pooled recordings"),
    }


# --------------------------------------------------------------------------- operating point


def _curve_thresholds(smoothed: list[np.ndarray], max_points: int) -> np.ndarray:
    """Distinct smoothed values (an evenly ranked subset past ``max_points``), plus 0."""
    values = np.unique(np.concatenate(smoothed))
    if len(values) > max_points:
        values = values[np.unique(np.linspace(0, len(values) - 1, max_points).round()
                                  .astype(int))]
    return values if values[0] <= 0.0 else np.r_[0.0, values]


def sensitivity_fa_curve(
    predictions: Sequence[RecordingPrediction],
    rule: DetectionRule | None = None,
    thresholds: np.ndarray | Sequence[float] | None = None,
) -> dict[str, Any]:
    """Pooled event sensitivity and false alarms per hour at each threshold.

    Everything but the threshold comes from ``rule`` (smoothing,
    persistence, scoring). Counts are summed over the recordings before the
    rates are taken (see :func:`evaluate`).

    Parameters
    ----------
    predictions : sequence of RecordingPrediction
    rule : DetectionRule, optional
        Default ``DetectionRule()``; its own threshold is ignored.
    thresholds : array-like, optional
        Thresholds in [0, 1]. By default every distinct smoothed probability
        (where the detections change; above it, ``s > t``, nothing at the
        largest), plus 0; past :data:`MAX_CURVE_POINTS` distinct values an
        evenly ranked subset of them.

    Returns
    -------
    dict
        ``thresholds``, ``sensitivity`` and ``false_alarms_per_hour`` (lists,
        increasing thresholds), and ``smooth_windows``, ``n_seizures``,
        ``hours``.

    Examples
    --------
    >>> t = np.arange(4.0, 3604.0, 4.0)                       # one hour of 4-s windows
    >>> p = np.full(t.size, 0.1)
    >>> p[(t > 1000) & (t <= 1040)] = 0.9                     # the seizure
    >>> p[(t > 2000) & (t <= 2008)] = 0.6                     # a weaker false detection
    >>> rec = RecordingPrediction("r1", "P1", t, p, (p > 0.8).astype(int), [[1000., 1040.]],
    ...                           3600.0)
    >>> curve = sensitivity_fa_curve([rec], DetectionRule(smooth_windows=1))
    >>> curve["thresholds"], curve["sensitivity"], curve["false_alarms_per_hour"]
    ([0.0, 0.1, 0.6, 0.9], [1.0, 1.0, 1.0, 0.0], [11.0, 1.0, 0.0, 0.0])

    At threshold 0 the detector is always on: SzCORE splits that hour into
    twelve 5-min events, and the eleven away from the seizure are false alarms.
    """
    rule = DetectionRule() if rule is None else rule
    recordings = _checked(predictions, "score")
    smoothed = [_smooth(r.probabilities, rule.smooth_windows) for r in recordings]
    if thresholds is None:
        th = _curve_thresholds(smoothed, MAX_CURVE_POINTS)
    else:
        th = np.unique([_threshold(x) for x in np.atleast_1d(np.asarray(thresholds, float))])
        if th.size == 0:
            raise ParameterError("thresholds is empty; pass at least one threshold in [0, 1].")
    per_threshold: list[list[dict]] = [[] for _ in th]
    for rec, s in zip(recordings, smoothed, strict=True):
        on = _persistent(s[None, :] > th[:, None], rule.min_consecutive)
        seen: dict[bytes, dict] = {}  # thresholds between two values give the same detections
        for i, row in enumerate(on):
            key = np.packbits(row).tobytes()
            if key not in seen:
                seen[key] = _events_from_on(rec.times, row, rec.seizures, rec.duration_s, rule)
            per_threshold[i].append(seen[key])
    pooled = [_pool_events(events, rule.scoring) for events in per_threshold]
    return {
        "thresholds": [float(x) for x in th],
        "sensitivity": [e["sensitivity"] for e in pooled],
        "false_alarms_per_hour": [e["false_alarms_per_hour"] for e in pooled],
        "smooth_windows": rule.smooth_windows,
        "n_seizures": pooled[0]["n_seizures"],
        "hours": pooled[0]["hours"],
    }


def budget_key(budget: float) -> str:
    """The JSON key of a false-alarm budget: ``budget_key(1.0) == "1"``, ``"0.5"``.

    Examples
    --------
    >>> [budget_key(b) for b in BUDGETS]
    ['0.5', '1', '2']
    """
    return f"{float(budget):g}"


def _budget(value: Any) -> float:
    budget = float(value)
    if isinstance(value, bool) or not math.isfinite(budget) or budget <= 0:
        raise ParameterError(f"The false-alarm budget {value!r} must be a number of false alarms "
                             "per hour > 0 (e.g. --max-fa-per-hour 1).")
    return budget


@dataclass
class OperatingPoint:
    """An alarm rule's threshold and smoothing, chosen on validation for a false-alarm budget.

    Parameters
    ----------
    threshold : float
        Threshold on the smoothed probability.
    smooth_windows : int
        Causal moving-average length.
    max_fa_per_hour : float
        The budget it was chosen for.
    sensitivity, false_alarms_per_hour : float
        What it achieved on the validation recordings (pooled).
    within_budget : bool
        False when no candidate met the budget on validation (then it is the
        candidate with the fewest false alarms).

    Examples
    --------
    >>> op = OperatingPoint(0.7, 3, 1.0, 0.9, 0.5, True)
    >>> OperatingPoint.from_dict(op.to_dict()) == op
    True
    >>> op.apply(DetectionRule(threshold=0.5, smooth_windows=1)).threshold
    0.7
    """

    threshold: float
    smooth_windows: int
    max_fa_per_hour: float
    sensitivity: float
    false_alarms_per_hour: float
    within_budget: bool

    def apply(self, rule: DetectionRule) -> DetectionRule:
        """``rule`` with this threshold and smoothing (the rest unchanged)."""
        return replace(rule, threshold=self.threshold, smooth_windows=self.smooth_windows)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OperatingPoint:
        """Inverse of :meth:`to_dict`; names missing or unknown keys."""
        names = {f.name for f in fields(cls)}
        if not isinstance(data, dict) or set(data) != names:
            got = sorted(data) if isinstance(data, dict) else type(data).__name__
            raise ParameterError(f"An operating point needs exactly the keys {sorted(names)}, "
                                 f"got {got}.")
        return cls(threshold=_threshold(data["threshold"]),
                   smooth_windows=int(data["smooth_windows"]),
                   max_fa_per_hour=_budget(data["max_fa_per_hour"]),
                   sensitivity=float(data["sensitivity"]),
                   false_alarms_per_hour=float(data["false_alarms_per_hour"]),
                   within_budget=bool(data["within_budget"]))


def choose_operating_points(
    val_predictions: Sequence[RecordingPrediction],
    rule: DetectionRule | None = None,
    budgets: Sequence[float] = BUDGETS,
    *,
    smooth_options: Sequence[int] | None = None,
    thresholds: np.ndarray | Sequence[float] | None = None,
) -> list[OperatingPoint]:
    """One operating point per false-alarm budget, chosen on validation recordings only.

    For each budget, among every threshold of :func:`sensitivity_fa_curve`
    and every smoothing option, the candidates whose pooled validation false
    alarms per hour are within the budget are kept, and the one with the
    highest pooled event sensitivity wins; ties go to the higher threshold,
    then to the earlier smoothing option. When no candidate meets the budget
    (possible only with explicit ``thresholds``), the one with the fewest
    false alarms per hour is taken (ties: higher sensitivity, then higher
    threshold), ``within_budget`` is False, and a warning is logged.

    A budget is only resolved by enough validation: with ``h`` hours, one
    false alarm is ``1 / h`` per hour, so a budget below that means "no false
    alarm on validation" (a warning says so).

    Parameters
    ----------
    val_predictions : sequence of RecordingPrediction
        Validation recordings (never the test recordings); they must hold at
        least one annotated seizure.
    rule : DetectionRule, optional
        Everything but the threshold and smoothing (default ``DetectionRule()``).
    budgets : sequence of float
        False alarms per hour, each > 0.
    smooth_options : sequence of int, optional
        Moving-average lengths to try (default: ``rule.smooth_windows`` only).
    thresholds : array-like, optional
        Candidate thresholds (default: see :func:`sensitivity_fa_curve`).

    Returns
    -------
    list of OperatingPoint
        In the order of ``budgets``.

    Examples
    --------
    >>> t = np.arange(4.0, 3604.0, 4.0)
    >>> p = np.full(t.size, 0.1)
    >>> p[(t > 1000) & (t <= 1040)] = 0.9
    >>> p[(t > 2000) & (t <= 2008)] = 0.6
    >>> val = [RecordingPrediction("r1", "P1", t, p, (p > .8).astype(int), [[1000., 1040.]],
    ...                            3600.0)]
    >>> [(op.threshold, op.sensitivity, op.false_alarms_per_hour)
    ...  for op in choose_operating_points(val, DetectionRule(smooth_windows=1), [0.5, 2.0])]
    [(0.6, 1.0, 0.0), (0.6, 1.0, 0.0)]
    """
    rule = DetectionRule() if rule is None else rule
    budgets = [_budget(b) for b in budgets]
    options = [rule.smooth_windows] if smooth_options is None else list(smooth_options)
    if not options:
        raise ParameterError("smooth_options is empty; pass at least one moving-average length.")
    curves = [sensitivity_fa_curve(val_predictions, replace(rule, smooth_windows=int(k)),
                                   thresholds) for k in options]
    if curves[0]["n_seizures"] == 0:
        raise ParameterError("The validation recordings hold no annotated seizure, so no operating "
                             "point can be chosen for a false-alarm budget; validate on patients "
                             "with seizures (--val-patients).")
    hours = curves[0]["hours"]
    coarse = [b for b in budgets if b * hours < 1.0]
    if coarse:
        logger.warning(
            "The validation recordings hold %.2f h, so one false alarm is %.2f per hour, above "
            "the budget(s) %s: for those the rule allows no false alarm on validation at all. "
            "Validate on at least %.1f h for every budget to be resolved.",
            hours, 1.0 / hours, ", ".join(f"{b:g}" for b in coarse), 1.0 / min(coarse))
    th = np.concatenate([c["thresholds"] for c in curves])
    sens = np.concatenate([c["sensitivity"] for c in curves])
    fa = np.concatenate([c["false_alarms_per_hour"] for c in curves])
    option = np.concatenate([np.full(len(c["thresholds"]), i) for i, c in enumerate(curves)])
    points = []
    for budget in budgets:
        ok = fa <= budget
        if ok.any():
            # lexsort: the last key is the primary one; the best candidate sorts last.
            order = np.lexsort((-option, th, sens, ok))
        else:
            order = np.lexsort((th, sens, -fa))
        best = int(order[-1])
        if not ok.any():
            logger.warning(
                "No threshold meets %g false alarm(s) per hour on the validation recordings; "
                "taking the one with the fewest, %.3g per hour (threshold %g, sensitivity %.3g).",
                budget, fa[best], th[best], sens[best])
        points.append(OperatingPoint(
            threshold=float(th[best]), smooth_windows=int(options[option[best]]),
            max_fa_per_hour=budget, sensitivity=float(sens[best]),
            false_alarms_per_hour=float(fa[best]), within_budget=bool(ok.any())))
    return points


def choose_operating_point(
    val_predictions: Sequence[RecordingPrediction],
    rule: DetectionRule | None = None,
    *,
    max_fa_per_hour: float = 1.0,
    smooth_options: Sequence[int] | None = None,
    thresholds: np.ndarray | Sequence[float] | None = None,
) -> OperatingPoint:
    """The operating point for one false-alarm budget (see :func:`choose_operating_points`).

    Examples
    --------
    >>> t = np.arange(4.0, 3604.0, 4.0)
    >>> p = np.where((t > 1000) & (t <= 1040), 0.9, 0.1)
    >>> val = [RecordingPrediction("r1", "P1", t, p, (p > .5).astype(int), [[1000., 1040.]],
    ...                            3600.0)]
    >>> op = choose_operating_point(val, DetectionRule(), smooth_options=[1, 3])
    >>> round(op.threshold, 3), op.smooth_windows, op.within_budget  # ties: higher threshold
    (0.633, 3, True)
    """
    return choose_operating_points(val_predictions, rule, [max_fa_per_hour],
                                   smooth_options=smooth_options, thresholds=thresholds)[0]


def evaluate_at_operating_points(
    recordings: Sequence[RecordingPrediction],
    rule: DetectionRule,
    points: Sequence[OperatingPoint],
    *,
    max_fa_per_hour: float = 1.0,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """:func:`evaluate` at operating points chosen beforehand (on validation), plus the curve.

    Nothing here is fitted to ``recordings``: the points are applied as given.

    Parameters
    ----------
    recordings : sequence of RecordingPrediction
        The test recordings.
    rule : DetectionRule
        The rule the points complete (scoring, persistence, ...).
    points : sequence of OperatingPoint
        One per budget; the one for ``max_fa_per_hour`` gives the main
        results.
    max_fa_per_hour : float
        The main budget.
    threshold : float
        Window-level decision threshold (see :func:`evaluate`).

    Returns
    -------
    dict
        :func:`evaluate`'s result at the main point, plus ``operating_point``
        (the main point), ``budgets`` (``{budget_key: {"operating_point",
        "per_patient": {patient: event}, "pooled": event}}``) and ``curve``
        (:func:`sensitivity_fa_curve` of ``recordings`` at the main point's
        smoothing).

    Examples
    --------
    >>> t = np.arange(4.0, 3604.0, 4.0)
    >>> p = np.where((t > 1000) & (t <= 1040), 0.9, 0.1)
    >>> test = [RecordingPrediction("r1", "P1", t, p, (p > .5).astype(int), [[1000., 1040.]],
    ...                             3600.0)]
    >>> op = OperatingPoint(0.5, 1, 1.0, 1.0, 0.0, True)
    >>> res = evaluate_at_operating_points(test, DetectionRule(), [op])
    >>> res["pooled"]["event"]["sensitivity"], res["budgets"]["1"]["pooled"]["sensitivity"]
    (1.0, 1.0)
    """
    points = list(points)
    main = [p for p in points if p.max_fa_per_hour == _budget(max_fa_per_hour)]
    if not main:
        budgets = [budget_key(p.max_fa_per_hour) for p in points]
        raise ParameterError(f"No operating point for {max_fa_per_hour:g} false alarm(s) per hour "
                             f"among the budgets {budgets}; choose one for it on the validation "
                             "recordings.")
    results = evaluate(recordings, main[0].apply(rule), threshold=threshold)
    results["operating_point"] = main[0].to_dict()
    results["budgets"] = {}
    for point in points:
        at = evaluate(recordings, point.apply(rule), threshold=threshold)
        results["budgets"][budget_key(point.max_fa_per_hour)] = {
            "operating_point": point.to_dict(),
            "per_patient": {k: v["event"] for k, v in at["per_patient"].items()},
            "pooled": at["pooled"]["event"]}
    results["curve"] = sensitivity_fa_curve(recordings, main[0].apply(rule))
    return results


# --------------------------------------------------------------------------- reporting

_COLUMNS = [
    # header, section, key, format
    ("windows", "window", "n_windows", "d"),
    ("AUROC", "window", "auroc", ".3f"),
    ("AUPRC", "window", "auprc", ".3f"),
    ("F1", "window", "f1", ".3f"),
    ("kappa", "window", "kappa", ".3f"),
    ("seizures", "event", "n_seizures", "d"),
    ("detected", "event", "n_detected", "d"),
    ("sensitivity", "event", "sensitivity", ".3f"),
    ("FA/h", "event", "false_alarms_per_hour", ".2f"),
    ("hours", "event", "hours", ".2f"),
]


def _cell(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return format(value, fmt)


def _budget_cell(event: dict | None) -> str:
    if event is None:
        return "n/a"
    return f"{_cell(event['sensitivity'], '.2f')} ({_cell(event['false_alarms_per_hour'], '.2f')})"


def _rows(label: str, results: dict[str, Any], budgets: list[str]) -> list[list[str]]:
    groups = [(str(patient), group) for patient, group in results["per_patient"].items()]
    groups.append(("pooled", results["pooled"]))
    rows = []
    for patient, group in groups:
        cells = []
        for b in budgets:
            at = results.get("budgets", {}).get(b)
            cells.append(_budget_cell(None if at is None else at["pooled"] if patient == "pooled"
                                      else at["per_patient"].get(patient)))
        rows.append([label, patient]
                    + [_cell(group[section].get(key), fmt) for _, section, key, fmt in _COLUMNS]
                    + cells)
    return rows


def format_table(results: dict[str, Any], *, detector: str = "model") -> str:
    """A fixed-width text table of :func:`evaluate` results: one row per patient plus pooled.

    Results of :func:`evaluate_at_operating_points` add a column per
    false-alarm budget, ``sensitivity (FA/h)`` on these recordings at the
    threshold chosen on validation for that budget; ``results["baselines"]``
    (``{name: results}``) adds their rows below. NaN values (undefined
    metrics) are shown as ``n/a``.

    Examples
    --------
    >>> t = np.arange(1.0, 101.0)
    >>> p = np.where((t > 40) & (t <= 50), 0.9, 0.1)
    >>> rec = RecordingPrediction("run-1", "P1", t, p, (p > .5).astype(int), [[40., 50.]], 100.)
    >>> print(format_table(evaluate([rec], DetectionRule(smooth_windows=1))))
    detector  patient  windows  AUROC  AUPRC     F1  kappa  seizures  detected  sensitivity ...
    --------  -------  -------  -----  -----  -----  -----  --------  --------  ----------- ...
    model     P1           100  1.000  1.000  1.000  1.000         1         1        1.000 ...
    model     pooled       100  1.000  1.000  1.000  1.000         1         1        1.000 ...
    """
    parts = [(detector, results), *results.get("baselines", {}).items()]
    budgets = sorted({b for _, r in parts for b in r.get("budgets", {})}, key=float)
    header = ["detector", "patient"] + [col[0] for col in _COLUMNS] \
        + [f"@{b} FA/h: sens (FA/h)" for b in budgets]
    blocks = [_rows(label, r, budgets) for label, r in parts]
    widths = [max(len(row[i]) for row in [header, *(r for blk in blocks for r in blk)])
              for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join([c.ljust(w) for c, w in zip(cells[:2], widths[:2], strict=True)]
                         + [c.rjust(w) for c, w in zip(cells[2:], widths[2:], strict=True)])

    rule = line(["-" * w for w in widths])
    out = [line(header), rule]
    for block in blocks:
        out += [line(r) for r in block] + [rule]
    return "\n".join(out[:-1])


def save_results(results: dict[str, Any], path: str | os.PathLike) -> None:
    """Write :func:`evaluate` results as JSON, atomically (NaN is written as ``NaN``).

    Examples
    --------
    >>> import json, pathlib, tempfile
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "results.json"
    >>> save_results({"pooled": {"auroc": float("nan")}}, out)
    >>> json.loads(out.read_text())["pooled"]["auroc"]
    nan
    """
    text = json.dumps(to_jsonable(results), indent=2)
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n")
