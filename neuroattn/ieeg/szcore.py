"""SzCORE event scoring of seizure detections, and the SzCORE events TSV.

SzCORE (Dan et al., *Epilepsia* 2024, doi:10.1111/epi.18113) is the scoring
of the open seizure-detection benchmarks. Its reference implementation is
``EventScoring`` of the `timescoring <https://pypi.org/project/timescoring/>`_
package; :func:`szcore_event_scores` computes the same numbers on
``[onset, offset]`` arrays in seconds (the tests compare the two on hundreds
of random annotation pairs).

The scoring
-----------
Both annotations are first *merged* (events separated by less than
``min_gap_s`` become one) and then *split* (events longer than
``max_event_duration_s`` are cut into consecutive pieces of that length,
the remainder last). Each reference event is then extended by
``tolerance_before_s`` before its onset and ``tolerance_after_s`` after its
offset (clipped to the recording). A reference event is a **true positive**
when hypothesis events cover more than ``min_overlap`` of its extended
window (any overlap, with the default 0). A hypothesis event is a **false
positive** when it overlaps no extended window of a true positive. Then

* sensitivity = TP / n_reference (NaN without reference events),
* precision = TP / (TP + FP) (NaN without true or false positives),
* F1 = 2 TP / (2 TP + FP + FN) (NaN when n_reference + FP = 0),
* false positives per day = FP / recording days.

Like ``timescoring``, the overlaps are counted on a 10 Hz grid: a time ``t``
falls on sample ``round(10 t)`` (round half to even), so an event
``[a, b]`` covers the samples ``round(10 a), ..., round(10 b) - 1`` and the
recording ``round(10 duration_s)`` samples. An event that covers no sample
(shorter than 0.1 s) overlaps nothing and, in the hypothesis, is always a
false positive.

Where this differs from ``timescoring``: the events are sorted by onset
first, and a merged event ends at the latest offset of its members
(``timescoring`` merges in the order given and keeps the offset of the
last member, which truncates an event nested inside another). On sorted,
non-nested events -- any annotation whose events do not contain one
another -- the results are identical. Events must lie inside the recording.

The events TSV
--------------
:func:`write_szcore_tsv` writes a recording's hypotheses as the BIDS-style
``*_events.tsv`` that the SzCORE evaluation reads
(`szcore-evaluation <https://github.com/esl-epfl/szcore-evaluation>`_). The
layout is documented by the ``Annotation`` fields and the TSV writer of
`epilepsy2bids <https://github.com/esl-epfl/epilepsy2bids>`_
(``src/epilepsy2bids/annotations.py``), the converter that formats the
SzCORE datasets: the tab-separated columns ``onset``, ``duration``,
``eventType``, ``confidence``, ``channels``, ``dateTime``,
``recordingDuration``, in that order; seconds with two decimals; event types
from its HED-SCORE ``events.json`` (``sz`` for an unclassified seizure,
``bckg`` for background); ``dateTime`` as ``%Y-%m-%d %H:%M:%S``; ``n/a`` for a
value that is not available. A recording without seizures gets one ``bckg``
row spanning the whole recording, as the epilepsy2bids converters write it
(the SzCORE reader takes ``recordingDuration`` from the first row, so the
file is never empty).

Examples
--------
>>> import numpy as np
>>> from neuroattn.ieeg.szcore import detections_to_events, szcore_event_scores
>>> times = np.arange(1.0, 3601.0)                 # 1-s windows, decided at their end
>>> on = (times > 100) & (times <= 130)            # the detector is on for 30 s
>>> hyp = detections_to_events(times, on, hop_s=1.0)
>>> hyp
array([[100., 130.]])
>>> s = szcore_event_scores([[110.0, 170.0]], hyp, duration_s=3600.0)
>>> s["sensitivity"], s["precision"], s["false_positives_per_day"]
(1.0, 1.0, 0.0)
"""

from __future__ import annotations

import datetime as _dt
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neuroattn._atomic import atomic_path
from neuroattn._logging import logger
from neuroattn.errors import ParameterError

__all__ = [
    "SCORING_FS",
    "SZCORE_TSV_COLUMNS",
    "as_events",
    "detections_to_events",
    "pool_szcore_scores",
    "szcore_event_scores",
    "write_szcore_tsv",
]

SCORING_FS = 10
"""Time resolution of SzCORE event scoring, in samples per second (as ``timescoring``)."""

SZCORE_TSV_COLUMNS = (
    "onset",
    "duration",
    "eventType",
    "confidence",
    "channels",
    "dateTime",
    "recordingDuration",
)
"""The columns of an SzCORE events TSV, in their order."""

_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_NA = "n/a"


# --------------------------------------------------------------------------- validation


def _number(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a number, got {value!r}.") from None
    if not math.isfinite(number):
        raise ParameterError(f"{name}={value!r} must be finite.")
    return number


def _duration(duration_s: Any) -> float:
    value = _number(duration_s, "duration_s")
    if round(value * SCORING_FS) < 1:
        raise ParameterError(
            f"duration_s={duration_s!r} must be a recording length of at least "
            f"{1 / SCORING_FS} s."
        )
    return value


def as_events(x: Any, name: str = "events", duration_s: float | None = None) -> np.ndarray:
    """Check ``x`` as an (n, 2) array of [onset, offset] seconds and return it as floats.

    Parameters
    ----------
    x : array-like
        Events, one [onset, offset] row each (empty is fine).
    name : str
        What the events are, for the error messages.
    duration_s : float, optional
        When given, every event must lie within [0, duration_s].

    Examples
    --------
    >>> as_events([[2.0, 5.0]], "seizures").tolist()
    [[2.0, 5.0]]
    >>> as_events([[5.0, 2.0]], "seizures")
    Traceback (most recent call last):
    neuroattn.errors.ParameterError: seizures has an offset before its onset; columns are ...
    """
    try:
        ev = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise ParameterError(
            f"{name} must be an (n, 2) array of [onset, offset] seconds, got {type(x).__name__}."
        ) from None
    if ev.size == 0:
        return np.zeros((0, 2))
    if ev.ndim != 2 or ev.shape[1] != 2:
        raise ParameterError(
            f"{name} must be an (n, 2) array of [onset, offset] seconds, got shape {ev.shape}."
        )
    if not np.isfinite(ev).all():
        raise ParameterError(f"{name} contains NaN or infinite onsets/offsets.")
    if (ev[:, 1] < ev[:, 0]).any():
        raise ParameterError(f"{name} has an offset before its onset; columns are (onset, offset).")
    if duration_s is not None and (ev.min() < 0 or ev.max() > duration_s):
        raise ParameterError(
            f"{name} has events outside the recording [0, {duration_s:g}] s (values in "
            f"[{ev.min():g}, {ev.max():g}]); clip them first, e.g. "
            "np.clip(events, 0, duration_s)."
        )
    return ev


def _by_onset(events: np.ndarray) -> np.ndarray:
    return events[np.argsort(events[:, 0], kind="stable")]


def _nonnegative(value: Any, name: str) -> float:
    number = _number(value, name)
    if number < 0:
        raise ParameterError(f"{name}={value!r} must be >= 0.")
    return number


def _positive(value: Any, name: str) -> float:
    number = _number(value, name)
    if number <= 0:
        raise ParameterError(f"{name}={value!r} must be > 0.")
    return number


# --------------------------------------------------------------------------- scoring


def _merge(events: np.ndarray, min_gap_s: float) -> np.ndarray:
    """Merge sorted events separated by less than ``min_gap_s``; a merged event ends last."""
    if len(events) < 2:
        return events
    run_end = np.maximum.accumulate(events[:, 1])
    new = np.r_[True, events[1:, 0] - run_end[:-1] >= min_gap_s]
    first = np.flatnonzero(new)
    last = np.r_[first[1:], len(events)] - 1
    return np.column_stack([events[first, 0], run_end[last]])


def _split(events: np.ndarray, max_duration_s: float) -> np.ndarray:
    """Cut events longer than ``max_duration_s`` into consecutive pieces of that length."""
    pieces = []
    for onset, offset in events.tolist():
        # Repeated addition, as timescoring does, so the piece bounds agree to the bit.
        while offset - onset > max_duration_s:
            pieces.append((onset, onset + max_duration_s))
            onset = onset + max_duration_s
        pieces.append((onset, offset))
    return np.asarray(pieces, dtype=float).reshape(-1, 2)


def _samples(t: np.ndarray, n_samples: int) -> np.ndarray:
    """Sample index of each time on the scoring grid (round half to even, as ``round``)."""
    return np.clip(np.rint(t * SCORING_FS), 0, n_samples).astype(np.int64)


def _scores(tp: int, fp: int, n_reference: int, n_hypothesis: int, hours: float) -> dict:
    nan = float("nan")
    return {
        "sensitivity": tp / n_reference if n_reference > 0 else nan,
        "precision": tp / (tp + fp) if tp + fp > 0 else nan,
        "f1": 2 * tp / (2 * tp + fp + (n_reference - tp)) if n_reference + fp > 0 else nan,
        "false_positives_per_day": fp / (hours / 24),
        "true_positives": int(tp),
        "false_positives": int(fp),
        "n_reference": int(n_reference),
        "n_hypothesis": int(n_hypothesis),
        "hours": float(hours),
    }


def szcore_event_scores(
    reference: np.ndarray | Sequence[Sequence[float]],
    hypothesis: np.ndarray | Sequence[Sequence[float]],
    duration_s: float,
    *,
    tolerance_before_s: float = 30.0,
    tolerance_after_s: float = 60.0,
    min_overlap: float = 0.0,
    max_event_duration_s: float = 300.0,
    min_gap_s: float = 90.0,
) -> dict[str, float | int]:
    """SzCORE event scores of one recording, equal to ``timescoring``'s ``EventScoring``.

    See the module docstring for the rules (merge, split, tolerance, matching).

    Parameters
    ----------
    reference : array-like of shape (n_ref, 2)
        Annotated seizures as ``[onset, offset]`` seconds from the recording
        start, inside ``[0, duration_s]``. May be empty.
    hypothesis : array-like of shape (n_hyp, 2)
        Detected events, same format (e.g. from :func:`detections_to_events`).
        May be empty.
    duration_s : float
        Length of the recording in seconds (at least 0.1 s).
    tolerance_before_s, tolerance_after_s : float
        A detection up to this long before a seizure's onset, or after its
        offset, still counts (``timescoring``'s ``toleranceStart`` and
        ``toleranceEnd``).
    min_overlap : float
        Fraction of a seizure's extended window that detections must cover,
        strictly (``minOverlap``); 0 means any overlap. In ``[0, 1)``.
    max_event_duration_s : float
        Longer events are split into pieces of this length (``maxEventDuration``).
    min_gap_s : float
        Events closer than this are merged (``minDurationBetweenEvents``).

    Returns
    -------
    dict
        ``sensitivity``, ``precision``, ``f1`` (NaN where undefined, as
        ``timescoring``), ``false_positives_per_day``, ``true_positives``,
        ``false_positives``, ``n_reference`` and ``n_hypothesis`` (event
        counts after merging and splitting) and ``hours`` (the recording
        length on the 0.1-s grid).

    Raises
    ------
    ValueError
        If an annotation is not an (n, 2) array of ordered onsets and offsets
        inside the recording, or a parameter is out of range.

    Examples
    --------
    >>> from neuroattn.ieeg.szcore import szcore_event_scores
    >>> ref = [[600.0, 660.0]]
    >>> hyp = [[700.0, 710.0],                      # 40 s after the offset: inside the tolerance
    ...        [2000.0, 2600.0]]                    # 10 min of false alarm: split into two events
    >>> s = szcore_event_scores(ref, hyp, duration_s=3600.0)
    >>> s["true_positives"], s["false_positives"], s["n_hypothesis"]
    (1, 2, 3)
    >>> s["sensitivity"], round(s["precision"], 3), s["f1"], s["false_positives_per_day"]
    (1.0, 0.333, 0.5, 48.0)
    >>> szcore_event_scores([], [], duration_s=3600.0)["sensitivity"]
    nan
    """
    duration = _duration(duration_s)
    before = _nonnegative(tolerance_before_s, "tolerance_before_s")
    after = _nonnegative(tolerance_after_s, "tolerance_after_s")
    gap = _nonnegative(min_gap_s, "min_gap_s")
    overlap = _nonnegative(min_overlap, "min_overlap")
    if overlap >= 1.0:
        raise ParameterError(f"min_overlap={min_overlap!r} must lie in [0, 1) (0: any overlap).")
    max_duration = _positive(max_event_duration_s, "max_event_duration_s")

    ref = _by_onset(as_events(reference, "reference", duration))
    hyp = _by_onset(as_events(hypothesis, "hypothesis", duration))
    ref = _split(_merge(ref, gap), max_duration)
    hyp = _split(_merge(hyp, gap), max_duration)
    n_samples = round(duration * SCORING_FS)
    recording_s = n_samples / SCORING_FS

    # Each reference event's tolerance window, in seconds and in samples.
    win_on = np.maximum(0.0, ref[:, 0] - before)
    win_off = np.minimum(recording_s, ref[:, 1] + after)
    w0, w1 = _samples(win_on, n_samples), _samples(win_off, n_samples)
    h0, h1 = _samples(hyp[:, 0], n_samples), _samples(hyp[:, 1], n_samples)

    # Hypothesis samples inside each window (merged hypothesis events never overlap).
    covered = np.clip(
        np.minimum(w1[:, None], h1[None, :]) - np.maximum(w0[:, None], h0[None, :]), 0, None
    ).sum(axis=1)
    width = win_off - win_on
    fraction = np.divide(covered / SCORING_FS, width, out=np.zeros(len(ref)), where=width > 0)
    matched = fraction > overlap + 1e-6

    # A hypothesis event is false when it touches no sample of a matched window.
    touches = (w0[None, :] < h1[:, None]) & (h0[:, None] < w1[None, :]) & matched[None, :]
    false = (h1 <= h0) | ~touches.any(axis=1)

    hours = n_samples / SCORING_FS / 3600
    return _scores(int(matched.sum()), int(false.sum()), len(ref), len(hyp), hours)


def pool_szcore_scores(scores: Iterable[dict]) -> dict[str, float | int]:
    """Pool per-recording SzCORE scores by summing their counts and hours.

    This is how the SzCORE evaluation cumulates recordings (its
    ``avg_per_subject=False`` path): true and false positives, reference
    events and hours are summed, then the scores are recomputed.

    Parameters
    ----------
    scores : iterable of dict
        Results of :func:`szcore_event_scores`, one per recording.

    Returns
    -------
    dict
        The same keys as :func:`szcore_event_scores`, for all recordings together.

    Raises
    ------
    ValueError
        If ``scores`` is empty, an item lacks a count, or the hours sum to 0.

    Examples
    --------
    >>> from neuroattn.ieeg.szcore import pool_szcore_scores, szcore_event_scores
    >>> a = szcore_event_scores([[600, 660]], [[610, 620]], duration_s=3600)
    >>> b = szcore_event_scores([[600, 660]], [[3000, 3010]], duration_s=3600)
    >>> p = pool_szcore_scores([a, b])
    >>> p["sensitivity"], p["false_positives"], p["hours"], p["false_positives_per_day"]
    (0.5, 1, 2.0, 12.0)
    """
    items = list(scores)
    if not items:
        raise ParameterError("pool_szcore_scores needs at least one recording's scores.")
    keys = ("true_positives", "false_positives", "n_reference", "n_hypothesis", "hours")
    missing = [k for k in keys if any(k not in s for s in items)]
    if missing:
        raise ParameterError(
            f"Every item must be a result of szcore_event_scores; missing {missing}."
        )
    total = {k: sum(s[k] for s in items) for k in keys}
    if not total["hours"] > 0:
        raise ParameterError(
            f"The recordings total {total['hours']} hours; false positives per day need > 0."
        )
    return _scores(
        total["true_positives"], total["false_positives"], total["n_reference"],
        total["n_hypothesis"], total["hours"],
    )


# --------------------------------------------------------------------------- detections


def detections_to_events(
    times: np.ndarray | Sequence[float],
    on: np.ndarray | Sequence[bool],
    hop_s: float,
) -> np.ndarray:
    """Turn per-window detector states into ``[onset, offset]`` hypothesis events.

    Window ``i`` is decided at ``times[i]`` (its end) and stands for its
    newest ``hop_s`` seconds, ``[times[i] - hop_s, times[i]]``. A run of
    consecutive *on* windows whose spans touch or overlap (the next window
    starts no later than the previous one ends) becomes one event from the
    start of its first window (clipped at 0) to the end of its last. A gap
    in ``times`` ends a run.

    Parameters
    ----------
    times : array-like of shape (n_windows,)
        Decision time of each window in seconds, strictly increasing.
    on : array-like of shape (n_windows,)
        Whether the detector is on at each window (bool, or 0/1).
    hop_s : float
        Seconds each window stands for (the hop between windows), > 0.

    Returns
    -------
    numpy.ndarray of shape (n_events, 2)
        Onset and offset of each event in seconds, sorted; ``(0, 2)`` when
        the detector is never on.

    Raises
    ------
    ValueError
        If the arrays are not 1-D of the same length, ``times`` is not
        strictly increasing and finite, ``on`` is not boolean, or ``hop_s`` is
        not positive.

    Examples
    --------
    >>> import numpy as np
    >>> from neuroattn.ieeg.szcore import detections_to_events
    >>> times = np.array([2.0, 4.0, 6.0, 8.0, 10.0, 12.0])
    >>> on = [True, True, False, True, True, True]
    >>> detections_to_events(times, on, hop_s=2.0)
    array([[ 0.,  4.],
           [ 6., 12.]])
    """
    t = np.asarray(times, dtype=float)
    state = np.asarray(on)
    if t.ndim != 1 or state.ndim != 1 or len(t) != len(state):
        raise ParameterError(
            f"times and on must be 1-D with one value per window, got shapes {t.shape} and "
            f"{state.shape}."
        )
    if not np.isfinite(t).all() or (len(t) > 1 and not (np.diff(t) > 0).all()):
        raise ParameterError("times must be finite and strictly increasing (window decision "
                             "times).")
    if state.dtype != bool:
        if not np.isin(state, (0, 1)).all():
            raise ParameterError("on must be boolean (or 0/1): whether the detector is on per "
                                 "window.")
        state = state.astype(bool)
    hop = _positive(hop_s, "hop_s")
    idx = np.flatnonzero(state)
    if idx.size == 0:
        return np.zeros((0, 2))
    # A new event starts at an on window whose predecessor is off or not adjacent in time.
    tol = 1e-9 * max(1.0, hop)
    joined = (np.diff(idx) == 1) & (t[idx[1:]] - hop <= t[idx[:-1]] + tol)
    first = idx[np.r_[True, ~joined]]
    last = idx[np.r_[~joined, True]]
    return np.column_stack([np.maximum(t[first] - hop, 0.0), t[last]])


# --------------------------------------------------------------------------- TSV


def _confidences(confidence: Any, n: int) -> list[str]:
    if confidence is None:
        return [_NA] * n
    try:
        c = np.asarray(confidence, dtype=float)
    except (TypeError, ValueError):
        raise ParameterError(f"confidence must be numbers in [0, 1], got {confidence!r}.") from None
    if c.ndim == 0:
        c = np.full(n, float(c))
    elif c.shape != (n,):
        raise ParameterError(
            f"confidence must be one number or one per event ({n}), got shape {c.shape}."
        )
    if not (np.isfinite(c).all() and ((c >= 0) & (c <= 1)).all()):
        raise ParameterError("confidence must lie in [0, 1] (e.g. the detector's mean "
                             "probability).")
    return [f"{v:.2f}" for v in c]


def _channels(channels: str | Sequence[str]) -> str:
    names = [channels] if isinstance(channels, str) else list(channels)
    if not names or not all(isinstance(c, str) and c for c in names):
        raise ParameterError("channels must be 'n/a', a channel name or a list of channel names.")
    bad = [c for c in names if any(ch in c for ch in "\t\n,")]
    if bad:
        raise ParameterError(f"Channel names cannot contain tabs, newlines or commas: {bad}.")
    return ",".join(names)


def _date_time(date_time: _dt.datetime | str | None) -> str:
    if date_time is None:
        return _NA
    if isinstance(date_time, _dt.datetime):
        return date_time.strftime(_DATETIME_FORMAT)
    try:
        _dt.datetime.strptime(date_time, _DATETIME_FORMAT)
    except (TypeError, ValueError):
        raise ParameterError(
            f"date_time={date_time!r} must be a datetime or a string formatted "
            f"{_DATETIME_FORMAT!r} (e.g. '2024-01-31 08:00:00')."
        ) from None
    return date_time


def write_szcore_tsv(
    path: str | os.PathLike,
    events: np.ndarray | Sequence[Sequence[float]],
    duration_s: float,
    *,
    confidence: float | Sequence[float] | np.ndarray | None = None,
    channels: str | Sequence[str] = "n/a",
    date_time: _dt.datetime | str | None = None,
) -> Path:
    """Write one recording's seizure events as an SzCORE ``*_events.tsv``.

    The columns are :data:`SZCORE_TSV_COLUMNS`; each event is a row with
    ``eventType`` ``sz``, and a recording without events gets a single
    ``bckg`` row spanning it (see the module docstring for where the format
    is documented). The file is written atomically: a reader never sees a
    half-written file.

    Parameters
    ----------
    path : str or os.PathLike
        Destination, by BIDS convention ``sub-<label>_..._events.tsv``.
        Parent directories are created.
    events : array-like of shape (n_events, 2)
        ``[onset, offset]`` seconds inside ``[0, duration_s]``; written sorted
        by onset.
    duration_s : float
        Length of the recording in seconds (``recordingDuration``).
    confidence : float or array-like of shape (n_events,), optional
        Confidence of each event in [0, 1]; ``n/a`` when omitted.
    channels : str or sequence of str
        Channels the events involve, ``n/a`` (the default) when not localised.
    date_time : datetime.datetime or str, optional
        Start of the recording (``dateTime``), formatted ``%Y-%m-%d %H:%M:%S``;
        ``n/a`` when omitted. The SzCORE evaluation's TSV reader parses this
        column, so pass it for files that its tooling will read.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    ValueError
        If the events, confidence, channels or date are malformed.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from neuroattn.ieeg.szcore import write_szcore_tsv
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "sub-01_task-szMonitoring_run-01_events.tsv"
    >>> _ = write_szcore_tsv(out, [[12.5, 70.0]], 3600.0, confidence=[0.9],
    ...                      date_time="2024-01-31 08:00:00")
    >>> print(out.read_text().replace("\\t", " | "), end="")
    onset | duration | eventType | confidence | channels | dateTime | recordingDuration
    12.50 | 57.50 | sz | 0.90 | n/a | 2024-01-31 08:00:00 | 3600.00
    >>> _ = write_szcore_tsv(out, [], 3600.0)        # no seizure: one background row
    >>> print(out.read_text().splitlines()[1].replace("\\t", " | "))
    0.00 | 3600.00 | bckg | n/a | n/a | n/a | 3600.00
    """
    duration = _duration(duration_s)
    raw = as_events(events, "events", duration)
    conf = _confidences(confidence, len(raw))
    order = np.argsort(raw[:, 0], kind="stable")
    chans = _channels(channels)
    when = _date_time(date_time)

    lines = ["\t".join(SZCORE_TSV_COLUMNS)]
    rows = [(raw[i, 0], raw[i, 1] - raw[i, 0], "sz", conf[i]) for i in order]
    if not rows:
        rows = [(0.0, duration, "bckg", _NA)]
    for onset, length, kind, c in rows:
        lines.append(
            f"{onset:.2f}\t{length:.2f}\t{kind}\t{c}\t{chans}\t{when}\t{duration:.2f}"
        )
    dst = Path(path)
    with atomic_path(dst) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    logger.debug("Wrote %d SzCORE event row(s) to %s.", len(rows), dst)
    return dst
