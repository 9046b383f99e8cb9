"""SzCORE event scoring against its reference implementation, ``timescoring``.

``timescoring`` (the test extra) is the oracle: every score of
:func:`szcore_event_scores` must equal ``EventScoring``'s, NaN for NaN. The
oracle tests skip, with the reason, when it is not installed; the tests of
:func:`detections_to_events` and :func:`write_szcore_tsv` always run.
"""

from __future__ import annotations

import csv
import math
import pathlib

import numpy as np
import pytest

from neuroattn.ieeg.szcore import (
    SZCORE_TSV_COLUMNS,
    detections_to_events,
    pool_szcore_scores,
    szcore_event_scores,
    write_szcore_tsv,
)

HOUR = 3600.0


@pytest.fixture(scope="module")
def oracle():
    """``timescoring``'s ``EventScoring`` on [onset, offset] arrays, as our result's keys."""
    pytest.importorskip(
        "timescoring", reason="timescoring (the SzCORE oracle) is in the test extra: "
        "pip install -e '.[test]'"
    )
    from timescoring.annotations import Annotation
    from timescoring.scoring import EventScoring

    def score(reference, hypothesis, duration_s, **params):
        n = round(duration_s * 10)  # EventScoring works at 10 Hz: give it that grid directly
        ref = Annotation([tuple(map(float, e)) for e in reference], 10, n)
        hyp = Annotation([tuple(map(float, e)) for e in hypothesis], 10, n)
        s = EventScoring(ref, hyp, EventScoring.Parameters(**params))
        return {
            "sensitivity": s.sensitivity, "precision": s.precision, "f1": s.f1,
            "false_positives_per_day": s.fpRate, "true_positives": s.tp,
            "false_positives": s.fp, "n_reference": s.refTrue,
            "n_hypothesis": len(s.hyp.events),
        }

    return score


_PARAM_NAMES = {
    "toleranceStart": "tolerance_before_s", "toleranceEnd": "tolerance_after_s",
    "minOverlap": "min_overlap", "maxEventDuration": "max_event_duration_s",
    "minDurationBetweenEvents": "min_gap_s",
}


def assert_same(ours: dict, theirs: dict, context: object = "") -> None:
    for key, expected in theirs.items():
        got = ours[key]
        if isinstance(expected, float) and math.isnan(expected):
            assert math.isnan(got), (key, got, context)
        else:
            assert got == expected, (key, got, expected, context)  # exact, not approximate


def random_events(rng: np.random.Generator, duration: float) -> np.ndarray:
    """Sorted, non-overlapping events: short and long (> 5 min), close (< 90 s) and far apart,
    some starting at 0 or ending at the end of the recording."""
    events = []
    t = 0.0 if rng.random() < 0.2 else rng.uniform(0, 600)
    while t < duration and len(events) < 8:
        kind = rng.random()
        length = (rng.uniform(0, 1) if kind < 0.1 else rng.uniform(1, 120) if kind < 0.6
                  else rng.uniform(250, 1300) if kind < 0.9
                  else float(rng.choice([0.0, 300.0, 600.0])))  # exact ties of the rules
        end = duration if rng.random() < 0.15 else min(duration, t + length)
        events.append((t, end))
        gap = rng.random()
        t = end + (rng.uniform(0, 5) if gap < 0.15 else rng.uniform(5, 95) if gap < 0.55
                   else 90.0 if gap < 0.6 else rng.uniform(95, 2000))
    return np.array(events).reshape(-1, 2)


def random_hypothesis(rng: np.random.Generator, reference: np.ndarray,
                      duration: float) -> np.ndarray:
    """Detections near the seizures (some within, some beyond the tolerance) plus false alarms."""
    events = []
    for onset, _ in reference:
        if rng.random() < 0.7:
            start = min(max(0.0, onset + rng.uniform(-150, 150)), duration)
            events.append((start, min(duration, start + rng.uniform(0, 200))))
    events += [tuple(e) for e in random_events(rng, duration)]
    kept, last = [], -1.0
    for onset, offset in sorted(events):
        if onset >= last:
            kept.append((onset, offset))
            last = offset
    return np.array(kept).reshape(-1, 2)


def random_pairs(seed: int, n: int):
    rng = np.random.default_rng(seed)
    for i in range(n):
        on_grid = i % 2 == 0  # half on the 0.1 s grid, half arbitrary floats
        duration = rng.uniform(300, 4 * HOUR)
        ref = random_events(rng, duration) if rng.random() > 0.1 else np.zeros((0, 2))
        hyp = random_hypothesis(rng, ref, duration) if rng.random() > 0.1 else np.zeros((0, 2))
        if on_grid:
            duration, ref, hyp = round(duration, 1), np.round(ref, 1), np.round(hyp, 1)
        yield ref, hyp, duration


# --------------------------------------------------------------------------- equality


def test_equals_timescoring_on_random_pairs(oracle):
    seen = dict.fromkeys(
        ["at_start", "at_end", "long", "close", "empty_ref", "empty_hyp", "both_empty", "tp",
         "fp", "fn"], 0)
    for ref, hyp, duration in random_pairs(seed=18, n=300):
        ours = szcore_event_scores(ref, hyp, duration)
        theirs = oracle(ref, hyp, duration)
        assert_same(ours, theirs, (ref.tolist(), hyp.tolist(), duration))
        both = np.concatenate([ref, hyp])
        seen["at_start"] += bool((both[:, 0] == 0).any())
        seen["at_end"] += bool((both[:, 1] == duration).any())
        seen["long"] += bool((np.diff(both, axis=1) > 300).any())
        seen["close"] += any(len(e) > 1 and (np.diff(e.ravel())[1::2] < 90).any()
                             for e in (ref, hyp))
        seen["empty_ref"] += len(ref) == 0
        seen["empty_hyp"] += len(hyp) == 0
        seen["both_empty"] += len(ref) == len(hyp) == 0
        seen["tp"] += theirs["true_positives"] > 0
        seen["fp"] += theirs["false_positives"] > 0
        seen["fn"] += theirs["n_reference"] > theirs["true_positives"]
    # The random pairs exercise every rule, not just the easy cases.
    assert min(seen.values()) >= 1, seen
    assert min(v for k, v in seen.items() if k != "both_empty") >= 20, seen


def test_equals_timescoring_with_other_parameters(oracle):
    rng = np.random.default_rng(7)
    for ref, hyp, duration in random_pairs(seed=19, n=100):
        params = {
            "toleranceStart": rng.uniform(0, 60), "toleranceEnd": rng.uniform(0, 90),
            "minOverlap": float(rng.choice([0.0, 0.1, 0.5])),
            "maxEventDuration": rng.uniform(30, 400),
            "minDurationBetweenEvents": rng.uniform(0, 120),
        }
        ours = szcore_event_scores(ref, hyp, duration,
                                   **{_PARAM_NAMES[k]: v for k, v in params.items()})
        assert_same(ours, oracle(ref, hyp, duration, **params), params)


# Hand-checked cases on a 1-hour recording with the default parameters:
# (reference, hypothesis, TP, FP, n_reference, n_hypothesis).
CASES = {
    "at_start": ([[0.0, 40.0]], [[0.0, 5.0]], 1, 0, 1, 1),
    "at_end": ([[3550.0, 3600.0]], [[3599.0, 3600.0]], 1, 0, 1, 1),
    "long_split": ([[100.0, 800.0]], [[150.0, 160.0]], 1, 0, 3, 1),  # 300 + 300 + 100 s
    "long_hypothesis": ([], [[1000.0, 1700.0]], 0, 3, 0, 3),
    "close_merged": ([[100.0, 110.0], [180.0, 190.0]], [[185.0, 186.0]], 1, 0, 1, 1),
    "far_not_merged": ([[100.0, 110.0], [210.0, 220.0]], [[215.0, 216.0]], 1, 0, 2, 1),
    "tolerance_before": ([[1000.0, 1010.0]], [[960.0, 971.0]], 1, 0, 1, 1),  # ends 29 s early
    "beyond_before": ([[1000.0, 1010.0]], [[960.0, 969.0]], 0, 1, 1, 1),     # ends 31 s early
    "tolerance_after": ([[1000.0, 1010.0]], [[1069.0, 1080.0]], 1, 0, 1, 1),  # 59 s late
    "beyond_after": ([[1000.0, 1010.0]], [[1070.0, 1080.0]], 0, 1, 1, 1),     # 60 s late
    "gap_of_90_s_not_merged": ([[100.0, 110.0], [200.0, 210.0]], [[205.0, 206.0]], 1, 0, 2, 1),
    "exactly_5_min_not_split": ([[100.0, 400.0]], [[120.0, 130.0]], 1, 0, 1, 1),
    # a zero-length detection covers no sample: a false positive even inside the tolerance
    "zero_length_hypothesis": ([[100.0, 110.0]], [[75.0, 75.0], [165.0, 170.0]], 1, 1, 1, 2),
    "empty_reference": ([], [[10.0, 20.0], [500.0, 510.0]], 0, 2, 0, 2),
    "empty_hypothesis": ([[10.0, 20.0]], [], 0, 0, 1, 0),
    "both_empty": ([], [], 0, 0, 0, 0),
}


@pytest.mark.parametrize("name", list(CASES))
def test_hand_checked_cases(name):
    ref, hyp, tp, fp, n_ref, n_hyp = CASES[name]
    ours = szcore_event_scores(ref, hyp, HOUR)
    assert (ours["true_positives"], ours["false_positives"], ours["n_reference"],
            ours["n_hypothesis"]) == (tp, fp, n_ref, n_hyp)
    assert ours["false_positives_per_day"] == fp * 24.0
    assert ours["hours"] == 1.0


@pytest.mark.parametrize("name", list(CASES))
def test_hand_checked_cases_equal_timescoring(name, oracle):
    ref, hyp = CASES[name][:2]
    assert_same(szcore_event_scores(ref, hyp, HOUR), oracle(ref, hyp, HOUR), name)


def test_empty_cases_give_nan_where_undefined():
    none = szcore_event_scores([], [], HOUR)
    assert all(math.isnan(none[k]) for k in ("sensitivity", "precision", "f1"))
    assert none["false_positives_per_day"] == 0.0
    only_fp = szcore_event_scores([], [[10, 20]], HOUR)
    assert math.isnan(only_fp["sensitivity"])
    assert (only_fp["precision"], only_fp["f1"]) == (0.0, 0.0)
    missed = szcore_event_scores([[10, 20]], [], HOUR)
    assert (missed["sensitivity"], missed["f1"]) == (0.0, 0.0)
    assert math.isnan(missed["precision"])


def test_unsorted_and_nested_events_score_as_their_union(oracle):
    # timescoring merges in the order given and truncates a nested event; we sort and take
    # the union, so our result equals timescoring on the union.
    nested = [[1000.0, 1100.0], [1010.0, 1020.0]]
    ours = szcore_event_scores(nested[::-1], [[1090.0, 1095.0]], HOUR)
    assert_same(ours, oracle([[1000.0, 1100.0]], [[1090.0, 1095.0]], HOUR))
    assert ours["true_positives"] == 1


def test_pool_sums_counts_and_hours():
    a = szcore_event_scores([[600, 660], [2000, 2100]], [[610, 620]], HOUR)
    b = szcore_event_scores([[600, 660]], [[3000, 3010], [100, 105]], 2 * HOUR)
    pooled = pool_szcore_scores([a, b])
    assert (pooled["true_positives"], pooled["false_positives"], pooled["n_reference"]) == (
        1, 2, 3)
    assert pooled["hours"] == 3.0
    assert pooled["sensitivity"] == 1 / 3
    assert pooled["precision"] == 1 / 3
    assert pooled["f1"] == 2 / (2 + 2 + 2)
    assert pooled["false_positives_per_day"] == 2 / (3 / 24)
    with pytest.raises(ValueError, match="at least one"):
        pool_szcore_scores([])
    with pytest.raises(ValueError, match="missing"):
        pool_szcore_scores([{"true_positives": 1}])
    with pytest.raises(ValueError, match="hours"):
        pool_szcore_scores([a | {"hours": 0.0}])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"reference": [[10, 5]]}, "offset before its onset"),
        ({"reference": [[10, 4000]]}, "outside the recording"),
        ({"hypothesis": [[-1, 5]]}, "outside the recording"),
        ({"hypothesis": [1, 2, 3]}, r"\(n, 2\)"),
        ({"hypothesis": [[np.nan, 2]]}, "NaN"),
        ({"duration_s": 0.0}, "duration_s"),
        ({"min_overlap": 1.0}, "min_overlap"),
        ({"max_event_duration_s": 0}, "max_event_duration_s"),
        ({"min_gap_s": -1}, "min_gap_s"),
    ],
)
def test_errors_name_the_problem(kwargs, match):
    args = {"reference": [[10, 20]], "hypothesis": [[15, 16]], "duration_s": HOUR} | kwargs
    with pytest.raises(ValueError, match=match):
        szcore_event_scores(args.pop("reference"), args.pop("hypothesis"), **args)


# --------------------------------------------------------------------------- detections


def test_detections_to_events_runs_and_gaps():
    times = np.arange(1.0, 13.0)  # 1-s windows decided at 1, ..., 12 s
    on = np.array([1, 1, 0, 0, 1, 0, 1, 1, 1, 0, 1, 1], dtype=bool)
    events = detections_to_events(times, on, hop_s=1.0)
    # a run at the start (from 0), a single window, a run of three, a run at the very end
    np.testing.assert_array_equal(events, [[0, 2], [4, 5], [6, 9], [10, 12]])


def test_detections_to_events_covers_exactly_the_on_windows():
    rng = np.random.default_rng(3)
    hop = 0.5
    times = 4.0 + hop * np.arange(400)
    on = rng.random(400) < 0.3
    events = detections_to_events(times, on, hop)
    assert (np.diff(events.ravel()) >= 0).all()
    assert (events[1:, 0] > events[:-1, 1]).all()  # separate runs never touch
    centres = times - hop / 2  # the middle of each window's span is inside an event iff on
    inside = ((centres[:, None] > events[:, 0]) & (centres[:, None] < events[:, 1])).any(1)
    np.testing.assert_array_equal(inside, on)


def test_detections_to_events_breaks_runs_at_gaps_in_time():
    times = np.array([2.0, 4.0, 10.0, 12.0])  # windows 3 and 4 follow a 4-s hole
    events = detections_to_events(times, [1, 1, 1, 1], hop_s=2.0)
    np.testing.assert_array_equal(events, [[0, 4], [8, 12]])


def test_detections_to_events_never_on_and_errors():
    assert detections_to_events([1.0, 2.0], [False, False], 1.0).shape == (0, 2)
    with pytest.raises(ValueError, match="strictly increasing"):
        detections_to_events([2.0, 1.0], [True, True], 1.0)
    with pytest.raises(ValueError, match="one value per window"):
        detections_to_events([1.0, 2.0], [True], 1.0)
    with pytest.raises(ValueError, match="boolean"):
        detections_to_events([1.0, 2.0], [0.3, 1.0], 1.0)
    with pytest.raises(ValueError, match="hop_s"):
        detections_to_events([1.0, 2.0], [True, True], 0.0)


# --------------------------------------------------------------------------- TSV


def read_tsv(path: pathlib.Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter="\t")
        assert tuple(reader.fieldnames) == SZCORE_TSV_COLUMNS
        return list(reader)


def test_tsv_has_the_documented_columns_and_round_trips(tmp_path):
    # epilepsy2bids' Annotation fields, in order: the SzCORE events TSV layout.
    assert SZCORE_TSV_COLUMNS == (
        "onset", "duration", "eventType", "confidence", "channels", "dateTime",
        "recordingDuration")
    events = np.array([[1800.25, 1900.0], [12.5, 70.0]])  # unsorted on purpose
    path = write_szcore_tsv(tmp_path / "sub-01_run-01_events.tsv", events, 7200.0,
                            confidence=[0.75, 0.9], channels=["LA1", "LA2"],
                            date_time="2024-01-31 08:00:00")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].split("\t") == list(SZCORE_TSV_COLUMNS)
    assert lines[1:] == [
        "12.50\t57.50\tsz\t0.90\tLA1,LA2\t2024-01-31 08:00:00\t7200.00",
        "1800.25\t99.75\tsz\t0.75\tLA1,LA2\t2024-01-31 08:00:00\t7200.00",
    ]
    rows = read_tsv(path)
    back = np.array([[float(r["onset"]), float(r["onset"]) + float(r["duration"])]
                     for r in rows])
    np.testing.assert_allclose(back, events[::-1], atol=1e-9)

    pandas = pytest.importorskip("pandas")
    frame = pandas.read_csv(path, sep="\t", na_values="n/a", keep_default_na=False)
    assert list(frame.columns) == list(SZCORE_TSV_COLUMNS)
    assert frame["eventType"].tolist() == ["sz", "sz"]
    assert frame["recordingDuration"].tolist() == [7200.0, 7200.0]


def test_tsv_without_events_has_one_background_row(tmp_path):
    path = write_szcore_tsv(tmp_path / "x_events.tsv", np.zeros((0, 2)), 3600.0)
    assert read_tsv(path) == [{
        "onset": "0.00", "duration": "3600.00", "eventType": "bckg", "confidence": "n/a",
        "channels": "n/a", "dateTime": "n/a", "recordingDuration": "3600.00",
    }]


def test_tsv_events_score_like_the_originals(tmp_path):
    rng = np.random.default_rng(5)
    ref = np.round(random_events(rng, HOUR), 1)
    hyp = np.round(random_hypothesis(rng, ref, HOUR), 1)
    path = write_szcore_tsv(tmp_path / "h_events.tsv", hyp, HOUR)
    back = np.array([[float(r["onset"]), float(r["onset"]) + float(r["duration"])]
                     for r in read_tsv(path) if r["eventType"] == "sz"]).reshape(-1, 2)
    back = np.minimum(back, HOUR)  # onset + duration can exceed the end by a rounding error
    assert len(back) == len(hyp) > 1
    assert_same(szcore_event_scores(ref, back, HOUR), szcore_event_scores(ref, hyp, HOUR))


def test_tsv_write_is_atomic(tmp_path, monkeypatch):
    path = write_szcore_tsv(tmp_path / "a_events.tsv", [[1.0, 2.0]], 10.0)
    before = path.read_text()

    def half_written(self, data, *args, **kwargs):
        with open(self, "w") as f:
            f.write(data[: len(data) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(pathlib.Path, "write_text", half_written)
    with pytest.raises(OSError, match="disk full"):
        write_szcore_tsv(path, [[3.0, 4.0], [5.0, 6.0]], 10.0)
    monkeypatch.undo()
    assert path.read_text() == before  # the old file is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_events.tsv"]  # no leftovers


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"confidence": [0.5, 0.5]}, "one per event"),
        ({"confidence": 1.5}, r"\[0, 1\]"),
        ({"channels": ["A,B"]}, "commas"),
        ({"date_time": "31/01/2024"}, "%Y-%m-%d %H:%M:%S"),
        ({"events": [[5.0, 20.0]]}, "outside the recording"),
    ],
)
def test_tsv_errors_name_the_problem(tmp_path, kwargs, match):
    args = {"events": [[1.0, 2.0]], "duration_s": 10.0} | kwargs
    with pytest.raises(ValueError, match=match):
        write_szcore_tsv(tmp_path / "e_events.tsv", args.pop("events"), args.pop("duration_s"),
                         **args)
    assert not list(tmp_path.iterdir())
