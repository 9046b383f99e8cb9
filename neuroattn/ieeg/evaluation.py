"""Clinic-style evaluation of a window-level seizure detector.

Two views of the same predictions:

* **Window level** (:func:`window_metrics`): every window's seizure
  probability against its label: AUROC, AUPRC (average precision), and F1,
  Cohen's kappa, sensitivity, specificity and precision of the predictions
  ``probability > threshold``.
* **Event level** (:func:`event_metrics`): what a clinician sees. The
  probabilities are turned into alarms online by a :class:`DetectionRule`,
  and the alarms are matched against annotated seizures: seizure
  sensitivity, false alarms per hour and detection latency.

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
   ``i - min_consecutive + 1, ..., i`` are all above.
4. *Refractory period*: an alarm is raised at ``times[i]`` when the detector
   is on and no alarm was raised in the ``refractory_s`` seconds before
   (an earlier alarm at ``t`` blocks until ``t + refractory_s``, exclusive).
   A detection that stays on therefore raises one alarm per
   ``refractory_s``; with ``refractory_s=0`` every on window is an alarm.
5. *Matching*: an alarm at ``a`` is inside a seizure ``[onset, offset]`` when
   ``onset <= a <= offset + tolerance_s``. A seizure is detected when at
   least one alarm is inside it, its latency is the first such alarm minus
   the onset, and every alarm inside no seizure is a false alarm.

Examples
--------
>>> import numpy as np
>>> from neuroattn.ieeg.evaluation import DetectionRule, alarms, event_metrics
>>> times = np.arange(1.0, 11.0)                  # ten 1-s windows, decided at their end
>>> probs = np.array([0, 0, .9, .9, .9, .9, .9, .9, 0, 0])
>>> rule = DetectionRule(smooth_windows=2, min_consecutive=2, refractory_s=3.0)
>>> alarms(times, probs, rule)                    # on from t=5 to t=8; re-alarms after 3 s
array([5., 8.])
>>> ev = event_metrics(times, probs, [[2.5, 6.0]], rule, duration_s=3600.0)
>>> ev["n_detected"], ev["latencies_s"], ev["false_alarms"]
(1, [2.5], 1)
>>> rule.tolerance_s = 2.0                        # alarms up to 2 s after the offset count
>>> event_metrics(times, probs, [[2.5, 6.0]], rule, duration_s=3600.0)["false_alarms"]
0
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from neuroattn._atomic import atomic_path
from neuroattn._logging import logger

__all__ = [
    "DetectionRule",
    "RecordingPrediction",
    "alarms",
    "evaluate",
    "event_metrics",
    "format_table",
    "save_results",
    "window_metrics",
]

_NAN = float("nan")


# --------------------------------------------------------------------------- validation


def _vector(x: Any, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be 1-D (one value per window), got shape {arr.shape}; "
            "flatten it or pass one recording at a time."
        )
    if arr.size == 0:
        raise ValueError(f"{name} is empty; pass at least one window.")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}.")
    arr = arr.astype(float)
    if np.isnan(arr).any():
        raise ValueError(
            f"{name} contains {int(np.isnan(arr).sum())} NaN value(s); drop or impute those "
            "windows first."
        )
    return arr


def _probabilities(x: Any, name: str = "probabilities") -> np.ndarray:
    p = _vector(x, name)
    if p.min() < 0 or p.max() > 1:
        raise ValueError(
            f"{name} must lie in [0, 1], got values in [{p.min():g}, {p.max():g}]; "
            "pass probabilities (e.g. a softmax or sigmoid output), not logits."
        )
    return p


def _labels(x: Any) -> np.ndarray:
    y = _vector(x, "labels")
    bad = ~np.isin(y, (0.0, 1.0))
    if bad.any():
        raise ValueError(
            f"labels must be 0 (no seizure) or 1 (seizure), got {np.unique(y[bad])[:5]}; "
            "binarise them first."
        )
    return y.astype(np.int64)


def _same_length(**arrays: np.ndarray) -> None:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"One value per window is needed, but {detail}; pass matching arrays.")


def _times(x: Any) -> np.ndarray:
    t = _vector(x, "times")
    if not np.isfinite(t).all():
        raise ValueError("times must be finite seconds from the recording start.")
    if len(t) > 1 and not (np.diff(t) > 0).all():
        raise ValueError(
            "times must be strictly increasing (each window's decision time); "
            "sort the windows by time and evaluate recordings separately."
        )
    return t


def _seizures(x: Any) -> np.ndarray:
    s = np.asarray(x, dtype=float)
    if s.size == 0:
        return np.zeros((0, 2))
    if s.ndim != 2 or s.shape[1] != 2:
        raise ValueError(
            f"seizures must be an (n, 2) array of onset/offset seconds, got shape {s.shape}."
        )
    if not np.isfinite(s).all():
        raise ValueError("seizures contains NaN or infinite onsets/offsets.")
    if (s[:, 1] < s[:, 0]).any():
        raise ValueError("seizures has an offset before its onset; columns are (onset, offset).")
    return s[np.argsort(s[:, 0], kind="stable")]


def _threshold(threshold: Any) -> float:
    value = float(threshold)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"threshold={threshold} must lie in [0, 1].")
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
    """How window probabilities become alarms, and how alarms meet seizures.

    The rule is applied online, window by window in time order:

    1. ``s[i]`` = mean of the last ``smooth_windows`` probabilities (causal;
       the first windows average what is available so far);
    2. window ``i`` is above when ``s[i] > threshold``;
    3. the detector is on when the last ``min_consecutive`` windows are all
       above;
    4. an alarm is raised at ``times[i]`` when the detector is on and no alarm
       was raised within the previous ``refractory_s`` seconds (so a detection
       that stays on alarms once per ``refractory_s``);
    5. an alarm at ``a`` is inside seizure ``[onset, offset]`` when
       ``onset <= a <= offset + tolerance_s``.

    Parameters
    ----------
    smooth_windows : int
        Length ``k >= 1`` of the causal moving average (1: no smoothing).
    threshold : float
        Alarm threshold on the smoothed probability, in [0, 1].
    min_consecutive : int
        Number ``>= 1`` of consecutive above-threshold windows needed.
    refractory_s : float
        Seconds ``>= 0`` after an alarm during which further alarms are merged
        into it.
    tolerance_s : float
        Seconds ``>= 0`` after a seizure offset during which an alarm still
        counts as detecting that seizure (not as a false alarm).

    Examples
    --------
    >>> DetectionRule(smooth_windows=5, min_consecutive=2)
    DetectionRule(smooth_windows=5, threshold=0.5, min_consecutive=2, ...)
    """

    smooth_windows: int = 3
    threshold: float = 0.5
    min_consecutive: int = 1
    refractory_s: float = 60.0
    tolerance_s: float = 0.0

    def __post_init__(self) -> None:
        for name in ("smooth_windows", "min_consecutive"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValueError(f"DetectionRule.{name}={value!r} must be an integer >= 1.")
            setattr(self, name, int(value))
        self.threshold = _threshold(self.threshold)
        for name in ("refractory_s", "tolerance_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not math.isfinite(float(value)) or float(value) < 0:
                raise ValueError(
                    f"DetectionRule.{name}={value!r} must be a finite number of seconds >= 0."
                )
            setattr(self, name, float(value))


def _smooth(p: np.ndarray, k: int) -> np.ndarray:
    k = min(k, len(p))
    head = np.cumsum(p[: k - 1]) / np.arange(1, k)
    body = np.lib.stride_tricks.sliding_window_view(p, k).mean(axis=1)
    return np.concatenate([head, body])


def _alarms(t: np.ndarray, p: np.ndarray, rule: DetectionRule) -> np.ndarray:
    above = _smooth(p, rule.smooth_windows) > rule.threshold
    index = np.arange(len(p))
    last_below = np.maximum.accumulate(np.where(above, -1, index))
    on = index - last_below >= rule.min_consecutive
    candidates = t[on]
    out: list[float] = []
    j = 0
    while j < len(candidates):
        out.append(float(candidates[j]))
        nxt = int(np.searchsorted(candidates, candidates[j] + rule.refractory_s, side="left"))
        j = max(j + 1, nxt)
    return np.asarray(out, dtype=float)


def alarms(
    times: np.ndarray | Sequence[float],
    probabilities: np.ndarray | Sequence[float],
    rule: DetectionRule | None = None,
) -> np.ndarray:
    """Alarm times of the online detector defined by ``rule``.

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


def _event_summary(n_seizures: int, n_detected: int, n_alarms: int, false_alarms: int,
                   hours: float, latencies: list[float]) -> dict:
    return {
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


def event_metrics(
    times: np.ndarray | Sequence[float],
    probabilities: np.ndarray | Sequence[float],
    seizures: np.ndarray | Sequence[Sequence[float]],
    rule: DetectionRule | None = None,
    *,
    duration_s: float | None = None,
) -> dict[str, Any]:
    """Seizure-level sensitivity, false alarms per hour and latency of one recording.

    Parameters
    ----------
    times : array-like of shape (n_windows,)
        Decision time of each window (its end), seconds from the recording start.
    probabilities : array-like of shape (n_windows,)
        Seizure probability of each window, in [0, 1].
    seizures : array-like of shape (n_seizures, 2)
        Annotated onset and offset of each seizure, in seconds (may be empty).
    rule : DetectionRule, optional
        The alarm rule (see the module docstring); default ``DetectionRule()``.
    duration_s : float, optional
        Recording length used for the false-alarm rate; by default the span the
        windows cover, ``times[-1] - times[0]`` plus the median window hop.

    Returns
    -------
    dict
        ``n_seizures``, ``n_detected``, ``sensitivity`` (NaN without seizures),
        ``n_alarms``, ``false_alarms`` (alarms inside no seizure), ``hours``,
        ``false_alarms_per_hour``, ``latencies_s`` (first alarm minus onset, per
        detected seizure) and ``median_latency_s`` (NaN when none is detected).

    Examples
    --------
    >>> t = np.arange(60.0, 7260.0, 60.0)              # two hours of 1-min windows
    >>> p = np.where(t == 660, 0.9, 0.1)                # seizure seen at t=660 s
    >>> p[100] = 0.95                                   # one spurious window
    >>> ev = event_metrics(t, p, [[630.0, 700.0]], DetectionRule(smooth_windows=1))
    >>> ev["sensitivity"], ev["false_alarms_per_hour"], ev["median_latency_s"]
    (1.0, 0.5, 30.0)
    """
    rule = DetectionRule() if rule is None else rule
    t = _times(times)
    p = _probabilities(probabilities)
    _same_length(times=t, probabilities=p)
    sz = _seizures(seizures)
    if duration_s is None:
        duration_s = _covered_seconds(t)
    elif not math.isfinite(float(duration_s)) or float(duration_s) < 0:
        raise ValueError(f"duration_s={duration_s} must be a finite number of seconds >= 0.")
    found = _alarms(t, p, rule)
    inside, first = _match(found, sz, rule.tolerance_s)
    detected = ~np.isnan(first)
    return _event_summary(
        len(sz), int(detected.sum()), len(found), int((~inside).sum()),
        float(duration_s) / 3600.0, list(first[detected] - sz[detected, 0]))


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
                raise ValueError(f"duration_s={self.duration_s} must be >= 0 seconds.")
        except ValueError as err:
            raise ValueError(f"Recording {self.name!r}: {err}") from None


def _group_metrics(recordings: Sequence[RecordingPrediction], rule: DetectionRule,
                   threshold: float, where: str) -> dict:
    p = np.concatenate([r.probabilities for r in recordings])
    y = np.concatenate([r.labels for r in recordings])
    events = [event_metrics(r.times, r.probabilities, r.seizures, rule, duration_s=r.duration_s)
              for r in recordings]
    event = _event_summary(
        sum(e["n_seizures"] for e in events), sum(e["n_detected"] for e in events),
        sum(e["n_alarms"] for e in events), sum(e["false_alarms"] for e in events),
        sum(e["hours"] for e in events), [x for e in events for x in e["latencies_s"]])
    return {"window": _window_metrics(p, y, threshold, where), "event": event,
            "n_recordings": len(recordings)}


def evaluate(
    recordings: Sequence[RecordingPrediction],
    rule: DetectionRule | None = None,
    *,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """Window- and event-level metrics per patient and pooled over all recordings.

    Window metrics are computed on the concatenated windows of a group; event
    counts (seizures, detections, alarms, false alarms, hours) are summed over
    its recordings and the rates recomputed from the sums; latencies are
    concatenated.

    Parameters
    ----------
    recordings : sequence of RecordingPrediction
        Detector output per recording.
    rule : DetectionRule, optional
        Alarm rule for the event metrics; default ``DetectionRule()``.
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
    recordings = list(recordings)
    if not recordings:
        raise ValueError("No recordings to evaluate; pass at least one RecordingPrediction.")
    by_patient: dict[str, list[RecordingPrediction]] = {}
    for rec in recordings:
        if not isinstance(rec, RecordingPrediction):
            raise TypeError(f"Expected RecordingPrediction objects, got {type(rec).__name__}.")
        by_patient.setdefault(str(rec.patient), []).append(rec)
    return {
        "rule": asdict(rule),
        "threshold": threshold,
        "per_patient": {patient: _group_metrics(recs, rule, threshold, f"patient {patient}")
                        for patient, recs in by_patient.items()},
        "pooled": _group_metrics(recordings, rule, threshold, "the pooled recordings"),
    }


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
    ("median latency (s)", "event", "median_latency_s", ".1f"),
]


def _cell(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return format(value, fmt)


def format_table(results: dict[str, Any]) -> str:
    """A fixed-width text table of :func:`evaluate` results, one row per patient plus pooled.

    NaN values (undefined metrics) are shown as ``n/a``.

    Examples
    --------
    >>> t = np.arange(1.0, 101.0)
    >>> p = np.where((t > 40) & (t <= 50), 0.9, 0.1)
    >>> rec = RecordingPrediction("run-1", "P1", t, p, (p > .5).astype(int), [[40., 50.]], 100.)
    >>> print(format_table(evaluate([rec], DetectionRule(smooth_windows=1))))
    patient  windows  AUROC  AUPRC     F1  kappa  seizures  detected  sensitivity  FA/h ...
    -------  -------  -----  -----  -----  -----  --------  --------  -----------  ---- ...
    P1           100  1.000  1.000  1.000  1.000         1         1        1.000  0.00 ...
    -------  -------  -----  -----  -----  -----  --------  --------  -----------  ---- ...
    pooled       100  1.000  1.000  1.000  1.000         1         1        1.000  0.00 ...
    """
    rows = [(str(patient), group) for patient, group in results["per_patient"].items()]
    rows.append(("pooled", results["pooled"]))
    table = [[name] + [_cell(group[section][key], fmt) for _, section, key, fmt in _COLUMNS]
             for name, group in rows]
    header = ["patient"] + [col[0] for col in _COLUMNS]
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join([cells[0].ljust(widths[0])]
                         + [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)])

    rule = line(["-" * w for w in widths])
    body = [line(r) for r in table]
    return "\n".join([line(header), rule, *body[:-1], rule, body[-1]])


def _plain(value: Any) -> Any:
    """Convert NumPy scalars/arrays nested in dicts/lists to plain Python values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


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
    text = json.dumps(_plain(results), indent=2)
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n")
