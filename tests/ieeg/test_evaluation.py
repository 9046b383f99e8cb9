"""Seizure-detection evaluation: window metrics against scikit-learn, alarms and events by hand."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from neuroattn.ieeg import (
    DetectionRule,
    RecordingPrediction,
    alarms,
    evaluate,
    event_metrics,
    format_table,
    save_results,
    window_metrics,
)
from neuroattn.ieeg.evaluation import (
    OperatingPoint,
    choose_operating_point,
    choose_operating_points,
    detector_on,
    evaluate_at_operating_points,
    hypothesis_events,
    sensitivity_fa_curve,
)
from neuroattn.ieeg.szcore import detections_to_events, szcore_event_scores

# ----------------------------------------------------------------------------- window level


@pytest.mark.parametrize("n", [7, 50, 333])
@pytest.mark.parametrize("decimals", [1, 2, 6])
@pytest.mark.parametrize("threshold", [0.3, 0.5])
def test_window_metrics_match_sklearn(n, decimals, threshold):
    metrics = pytest.importorskip("sklearn.metrics")  # scikit-learn is only the test oracle
    rng = np.random.default_rng(n * 100 + decimals)
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]  # both classes
    # Rounding makes many tied scores, across and within classes.
    p = np.round(np.clip(0.35 * y + rng.uniform(0, 0.65, n), 0, 1), decimals)
    got = window_metrics(p, y, threshold=threshold)
    pred = (p > threshold).astype(int)
    assert got["auroc"] == pytest.approx(metrics.roc_auc_score(y, p), abs=1e-12)
    assert got["auprc"] == pytest.approx(metrics.average_precision_score(y, p), abs=1e-12)
    assert got["f1"] == pytest.approx(metrics.f1_score(y, pred, zero_division=np.nan),
                                      abs=1e-12, nan_ok=True)
    assert got["kappa"] == pytest.approx(metrics.cohen_kappa_score(y, pred), abs=1e-12)
    assert got["sensitivity"] == pytest.approx(metrics.recall_score(y, pred), abs=1e-12)
    assert got["specificity"] == pytest.approx(metrics.recall_score(1 - y, 1 - pred), abs=1e-12)
    assert got["precision"] == pytest.approx(
        metrics.precision_score(y, pred, zero_division=np.nan), abs=1e-12, nan_ok=True)
    assert (got["n_windows"], got["n_positive"]) == (n, int(y.sum()))


def test_window_metrics_by_hand():
    m = window_metrics([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1])  # all tied: chance, nothing predicted
    assert m["auroc"] == 0.5 and m["auprc"] == 0.5
    assert m["sensitivity"] == 0.0 and m["specificity"] == 1.0 and np.isnan(m["precision"])
    assert m["kappa"] == 0.0
    # Threshold is strict: a probability equal to it is not a positive prediction.
    assert window_metrics([0.2, 0.9], [0, 1], threshold=0.9)["sensitivity"] == 0.0
    assert all(type(v) in (int, float) for v in m.values())


@pytest.mark.parametrize("label", [0, 1])
def test_one_class_gives_nan_and_warns(label, caplog):
    with caplog.at_level(logging.WARNING, logger="neuroattn"):
        m = window_metrics([0.1, 0.7, 0.3], [label] * 3)
    assert np.isnan(m["auroc"]) and np.isnan(m["auprc"])
    assert "undefined" in caplog.text
    if label == 0:
        assert np.isnan(m["sensitivity"]) and m["specificity"] == pytest.approx(2 / 3)
    else:
        assert np.isnan(m["specificity"]) and m["sensitivity"] == pytest.approx(1 / 3)


@pytest.mark.parametrize("p, y, kwargs, match", [
    ([0.1, 0.2], [0, 1, 1], {}, "probabilities has 2, labels has 3"),
    ([[0.1, 0.2]], [[0, 1]], {}, "must be 1-D"),
    ([0.1, np.nan], [0, 1], {}, "NaN"),
    ([0.1, 0.2], [0, 2], {}, r"labels must be 0 .* or 1"),
    ([0.1, 1.5], [0, 1], {}, r"\[0, 1\].*not logits"),
    ([], [], {}, "empty"),
    ([0.1, 0.2], [0, 1], {"threshold": 2.0}, r"threshold=2.0 must lie in \[0, 1\]"),
])
def test_window_metrics_bad_input(p, y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        window_metrics(p, y, **kwargs)


# ----------------------------------------------------------------------------- alarms


def test_smoothing_is_causal():
    t = np.arange(1.0, 8.0)
    p = np.array([0, 0, 0, 0.9, 0, 0, 0])
    rule = DetectionRule(smooth_windows=3, threshold=0.29, refractory_s=0.0)
    # Mean of the last 3 windows is 0.3 at t=4, 5, 6 only: nothing before the spike.
    np.testing.assert_array_equal(alarms(t, p, rule), [4.0, 5.0, 6.0])
    # The first windows average what is available: 0.9 alone at t=1 is an alarm.
    np.testing.assert_array_equal(alarms(t[:2], [0.9, 0.0], rule), [1.0, 2.0])
    # Appending future windows never changes past alarms.
    for stop in range(1, len(t)):
        np.testing.assert_array_equal(alarms(t[:stop], p[:stop], rule),
                                      alarms(t, p, rule)[alarms(t, p, rule) <= t[stop - 1]])


def test_min_consecutive_and_strict_threshold():
    t = np.arange(1.0, 9.0)
    p = np.array([0.9, 0.0, 0.9, 0.9, 0.5, 0.9, 0.9, 0.9])  # 0.5 is not above 0.5
    rule = DetectionRule(smooth_windows=1, min_consecutive=2, refractory_s=0.0)
    np.testing.assert_array_equal(alarms(t, p, rule), [4.0, 7.0, 8.0])
    rule.min_consecutive = 3
    np.testing.assert_array_equal(alarms(t, p, rule), [8.0])
    rule.min_consecutive = 4
    assert alarms(t, p, rule).size == 0


def test_refractory_period():
    t = np.arange(1.0, 11.0)
    p = np.full(10, 0.9)
    rule = DetectionRule(smooth_windows=1, refractory_s=3.0)
    np.testing.assert_array_equal(alarms(t, p, rule), [1.0, 4.0, 7.0, 10.0])  # 3 s later is allowed
    rule.refractory_s = 2.5
    np.testing.assert_array_equal(alarms(t, p, rule), [1.0, 4.0, 7.0, 10.0])
    rule.refractory_s = 0.0
    np.testing.assert_array_equal(alarms(t, p, rule), t)
    rule.refractory_s = 100.0
    np.testing.assert_array_equal(alarms(t, p, rule), [1.0])
    # A gap below threshold does not reset the refractory period.
    p[1:3] = 0.0
    rule.refractory_s = 5.0
    np.testing.assert_array_equal(alarms(t, p, rule), [1.0, 6.0])


@pytest.mark.parametrize("field, value", [
    ("smooth_windows", 0), ("smooth_windows", 2.5), ("min_consecutive", True),
    ("threshold", -0.1), ("refractory_s", -1.0), ("tolerance_s", float("nan")),
])
def test_rule_validation(field, value):
    with pytest.raises(ValueError, match=f"{field}"):
        DetectionRule(**{field: value})


def test_alarms_bad_times():
    with pytest.raises(ValueError, match="strictly increasing"):
        alarms([1.0, 3.0, 2.0], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="times has 2, probabilities has 3"):
        alarms([1.0, 2.0], [0.1, 0.2, 0.3])


# ----------------------------------------------------------------------------- events


@pytest.fixture
def hour():
    """One hour of 10-s windows with three seizures, one missed and two false alarms."""
    t = np.arange(10.0, 3610.0, 10.0)
    p = np.full(t.size, 0.1)
    p[(t >= 630) & (t <= 650)] = 0.9  # seizure 1 [600, 660] found at 630: latency 30
    p[t == 1200] = 0.8                # false alarm; seizure 2 [1800, 1900] is missed
    p[t == 3060] = 0.7                # 10 s after seizure 3 [3000, 3050] ends
    return t, p, np.array([[600.0, 660.0], [1800.0, 1900.0], [3000.0, 3050.0]])


def test_event_metrics_by_hand(hour):
    t, p, seizures = hour
    rule = DetectionRule(smooth_windows=1, refractory_s=60.0, scoring="onset")
    ev = event_metrics(t, p, seizures, rule)
    assert ev["n_seizures"] == 3 and ev["n_detected"] == 1
    assert ev["sensitivity"] == pytest.approx(1 / 3)
    assert ev["n_alarms"] == 3 and ev["false_alarms"] == 2
    assert ev["hours"] == pytest.approx(1.0)  # 360 windows x 10 s
    assert ev["false_alarms_per_hour"] == pytest.approx(2.0)
    assert ev["latencies_s"] == [30.0] and ev["median_latency_s"] == 30.0

    rule.tolerance_s = 10.0  # the late alarm now detects seizure 3 (latency 60)
    ev = event_metrics(t, p, seizures, rule, duration_s=7200.0)
    assert (ev["n_detected"], ev["false_alarms"]) == (2, 1)
    assert ev["hours"] == 2.0 and ev["false_alarms_per_hour"] == 0.5
    assert ev["latencies_s"] == [30.0, 60.0] and ev["median_latency_s"] == 45.0

    rule.smooth_windows, rule.threshold = 3, 0.5  # smoothing delays detection by one window
    ev = event_metrics(t, p, seizures, rule)
    assert ev["latencies_s"] == [40.0] and ev["false_alarms"] == 0


def test_event_metrics_without_seizures_or_alarms():
    t = np.arange(1.0, 101.0)
    ev = event_metrics(t, np.zeros(100), np.zeros((0, 2)), DetectionRule(scoring="onset"))
    assert np.isnan(ev["sensitivity"]) and np.isnan(ev["median_latency_s"])
    assert ev["false_alarms"] == 0 and ev["latencies_s"] == []
    ev = event_metrics(t, np.zeros(100), np.zeros((0, 2)))  # SzCORE: no events at all
    assert np.isnan(ev["sensitivity"]) and np.isnan(ev["precision"]) and np.isnan(ev["f1"])
    assert (ev["false_alarms"], ev["n_events"], ev["false_alarms_per_hour"]) == (0, 0, 0.0)
    with pytest.raises(ValueError, match=r"\(n, 2\) array"):
        event_metrics(t, np.zeros(100), [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="offset before its onset"):
        event_metrics(t, np.zeros(100), [[5.0, 2.0]])


# ----------------------------------------------------------------------------- aggregation


def _recording(name, patient, rng, n, seizure=None, hours=1.0):
    t = np.arange(1, n + 1) * 3600.0 * hours / n
    y = np.zeros(n, int)
    if seizure is not None:
        y[(t > seizure[0]) & (t <= seizure[1])] = 1
    p = np.round(np.clip(0.1 + 0.7 * y + rng.normal(0, 0.2, n), 0, 1), 2)
    return RecordingPrediction(name, patient, t, p, y,
                               [seizure] if seizure else [], 3600.0 * hours)


def test_evaluate_per_patient_and_pooled(rng, tmp_path, caplog):
    recs = [_recording("a1", "A", rng, 70, (600.0, 900.0)),
            _recording("b1", "B", rng, 90, None, hours=2.0),
            _recording("a2", "A", rng, 80, (1500.0, 1800.0))]
    rule = DetectionRule(smooth_windows=2, refractory_s=120.0, tolerance_s=30.0,
                         scoring="onset")
    with caplog.at_level(logging.WARNING, logger="neuroattn"):
        res = evaluate(recs, rule, threshold=0.4)
    assert "patient B" in caplog.text  # B has no seizure windows
    assert list(res["per_patient"]) == ["A", "B"]
    assert res["rule"] == {"smooth_windows": 2, "threshold": 0.5, "min_consecutive": 1,
                           "refractory_s": 120.0, "tolerance_s": 30.0, "scoring": "onset"}

    a = res["per_patient"]["A"]
    assert a["n_recordings"] == 2 and res["pooled"]["n_recordings"] == 3
    expected = window_metrics(np.r_[recs[0].probabilities, recs[2].probabilities],
                              np.r_[recs[0].labels, recs[2].labels], threshold=0.4)
    assert a["window"] == expected
    assert res["pooled"]["window"] == window_metrics(
        np.concatenate([r.probabilities for r in recs]),
        np.concatenate([r.labels for r in recs]), threshold=0.4)

    events = [event_metrics(r.times, r.probabilities, r.seizures, rule, duration_s=r.duration_s)
              for r in recs]
    assert a["event"]["n_seizures"] == 2
    assert a["event"]["hours"] == pytest.approx(2.0)
    assert res["pooled"]["event"]["hours"] == pytest.approx(4.0)
    for key in ("n_seizures", "n_detected", "n_alarms", "false_alarms"):
        assert res["pooled"]["event"][key] == sum(e[key] for e in events)
        assert a["event"][key] == events[0][key] + events[2][key]
    assert a["event"]["latencies_s"] == events[0]["latencies_s"] + events[2]["latencies_s"]
    pooled = res["pooled"]["event"]
    assert pooled["false_alarms_per_hour"] == pytest.approx(pooled["false_alarms"] / 4.0)
    assert pooled["sensitivity"] == pytest.approx(pooled["n_detected"] / 2)
    b = res["per_patient"]["B"]
    assert np.isnan(b["window"]["auroc"]) and np.isnan(b["event"]["sensitivity"])

    # Plain Python values only: a JSON round trip keeps everything (NaN included).
    text = json.dumps(res)
    assert json.loads(text)["per_patient"]["A"] == a
    save_results(res, tmp_path / "out" / "results.json")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["results.json"]
    assert json.loads((tmp_path / "out" / "results.json").read_text())["pooled"]["event"] == \
        json.loads(json.dumps(pooled))

    table = format_table(res).splitlines()
    assert len(table) == 5  # header, rule, A, B, pooled
    assert table[0].split()[:4] == ["detector", "patient", "windows", "AUROC"]
    assert table[2].split()[:3] == ["model", "A", "150"]
    assert table[4].split()[:3] == ["model", "pooled", "240"]
    assert table[3].split()[3] == "n/a"  # B's AUROC
    assert len({len(line) for line in table}) == 1  # fixed width


def test_evaluate_errors(rng):
    with pytest.raises(ValueError, match="No recordings"):
        evaluate([])
    with pytest.raises(ValueError, match="Recording 'bad': One value per window"):
        RecordingPrediction("bad", "A", np.arange(1.0, 4.0), np.zeros(3), np.zeros(2), [], 3.0)
    with pytest.raises(TypeError, match="RecordingPrediction"):
        evaluate([{"patient": "A"}])


# ----------------------------------------------------------------------------- SzCORE scoring


def _on_by_hand(p, k, threshold, m):
    """Causal mean of the last k, strictly above threshold, m in a row: loops, no numpy tricks."""
    smoothed = [float(np.mean(p[max(0, i - k + 1): i + 1])) for i in range(len(p))]
    above = [v > threshold for v in smoothed]
    return np.array([i >= m - 1 and all(above[i - m + 1: i + 1]) for i in range(len(p))])


def _events_by_hand(t, on, hop):
    events, start = [], None
    for i, flag in enumerate(on):
        if flag and start is None:
            start = max(t[i] - hop, 0.0)
        if start is not None and (not flag or i == len(on) - 1):
            events.append((start, t[i] if flag else t[i - 1]))
            start = None
    return events


def _random_recording(rng, name, patient):
    """An hour-ish recording: 2-s windows, 0-4 seizures (some close, some long), noisy scores."""
    hop = 2.0
    n = int(rng.integers(900, 2000))
    t = np.arange(1, n + 1) * hop
    duration = float(t[-1])
    seizures = []
    for onset in np.sort(rng.uniform(0, duration, rng.integers(0, 5))):
        seizures.append((onset, min(duration, onset + rng.choice([20.0, 90.0, 400.0]))))
    y = np.zeros(n, int)
    for a, b in seizures:
        y[(t > a) & (t <= b)] = 1
    p = np.clip(0.15 + 0.55 * y + rng.normal(0, 0.18, n), 0, 1).round(3)
    p[: int(rng.integers(0, 3))] = 0.95  # a detection at the very start, now and then
    return RecordingPrediction(name, patient, t, p, y, np.array(seizures).reshape(-1, 2),
                               duration)


@pytest.mark.parametrize("seed", range(4))
def test_szcore_evaluation_equals_timescoring(seed):
    pytest.importorskip("timescoring", reason="timescoring (the SzCORE oracle) is in the test "
                        "extra: pip install -e '.[test]'")
    from timescoring.annotations import Annotation
    from timescoring.scoring import EventScoring

    rng = np.random.default_rng(seed)
    recs = [_random_recording(rng, f"r{i}", "AB"[i % 2]) for i in range(4)]
    rule = DetectionRule(smooth_windows=int(rng.integers(1, 5)), threshold=0.5,
                         min_consecutive=int(rng.integers(1, 3)))
    res = evaluate(recs, rule)
    totals = dict.fromkeys(["tp", "fp", "ref", "hours"], 0)
    for rec in recs:
        on = _on_by_hand(rec.probabilities, rule.smooth_windows, rule.threshold,
                         rule.min_consecutive)
        np.testing.assert_array_equal(detector_on(rec.times, rec.probabilities, rule), on)
        hyp = _events_by_hand(rec.times, on, 2.0)
        np.testing.assert_allclose(hypothesis_events(rec.times, rec.probabilities, rule),
                                   np.array(hyp).reshape(-1, 2))
        n = round(rec.duration_s * 10)
        oracle = EventScoring(Annotation([tuple(e) for e in rec.seizures], 10, n),
                              Annotation(hyp, 10, n))
        ev = event_metrics(rec.times, rec.probabilities, rec.seizures, rule,
                           duration_s=rec.duration_s)
        got = [ev["sensitivity"], ev["precision"], ev["f1"], ev["false_alarms_per_day"]]
        want = [oracle.sensitivity, oracle.precision, oracle.f1, oracle.fpRate]
        np.testing.assert_array_equal(got, want)  # bit-equal, NaN where timescoring has NaN
        assert (ev["n_detected"], ev["false_alarms"], ev["n_seizures"]) == (
            oracle.tp, oracle.fp, oracle.refTrue)
        assert ev["false_alarms_per_hour"] == oracle.fpRate / 24
        totals["tp"] += oracle.tp
        totals["fp"] += oracle.fp
        totals["ref"] += oracle.refTrue
        totals["hours"] += n / 10 / 3600
    pooled = res["pooled"]["event"]
    assert pooled["scoring"] == "szcore"
    assert (pooled["n_detected"], pooled["false_alarms"], pooled["n_seizures"]) == (
        totals["tp"], totals["fp"], totals["ref"])
    assert pooled["hours"] == pytest.approx(totals["hours"], rel=1e-12)
    # Pooled rates come from the pooled counts, not from averaging recordings.
    assert pooled["sensitivity"] == pytest.approx(totals["tp"] / totals["ref"], rel=1e-12)
    assert pooled["false_alarms_per_hour"] == pytest.approx(totals["fp"] / totals["hours"],
                                                            rel=1e-12)


def test_szcore_and_onset_scoring_differ_where_documented():
    t = np.arange(2.0, 3602.0, 2.0)
    p = np.full(t.size, 0.1)
    p[(t > 580) & (t <= 596)] = 0.9     # on 20 s BEFORE the seizure [600, 660]: tolerated
    p[(t > 1200) & (t <= 1500)] = 0.9   # 5 min on: one onset alarm per 60 s, one SzCORE event
    seizures = [[600.0, 660.0]]
    szcore = event_metrics(t, p, seizures, DetectionRule(smooth_windows=1), duration_s=3600.0)
    onset = event_metrics(t, p, seizures, DetectionRule(smooth_windows=1, scoring="onset"),
                          duration_s=3600.0)
    assert (szcore["n_detected"], szcore["false_alarms"], szcore["n_events"]) == (1, 1, 2)
    assert (onset["n_detected"], onset["false_alarms"]) == (0, 6)
    assert szcore["false_alarms_per_hour"] == szcore_event_scores(
        seizures, detections_to_events(t, p > 0.5, 2.0), 3600.0)["false_positives_per_day"] / 24


# ----------------------------------------------------------------------------- operating point


@pytest.fixture
def val_recs():
    rng = np.random.default_rng(11)
    return [_random_recording(rng, f"v{i}", f"V{i}") for i in range(3)]


def test_curve_equals_evaluate_at_every_threshold(val_recs):
    rule = DetectionRule(smooth_windows=3, min_consecutive=2)
    curve = sensitivity_fa_curve(val_recs, rule)
    th = np.array(curve["thresholds"])
    assert np.all(np.diff(th) > 0) and th[0] == 0.0 and len(th) <= 257
    for i in range(0, len(th), 16):
        pooled = evaluate(val_recs, DetectionRule(smooth_windows=3, min_consecutive=2,
                                                  threshold=th[i]))["pooled"]["event"]
        assert curve["sensitivity"][i] == pooled["sensitivity"]
        assert curve["false_alarms_per_hour"][i] == pooled["false_alarms_per_hour"]
    # Nothing is above the largest smoothed value: no events, no false alarms.
    assert curve["sensitivity"][-1] == 0.0 and curve["false_alarms_per_hour"][-1] == 0.0
    onset = sensitivity_fa_curve(val_recs, DetectionRule(scoring="onset"), [0.3, 0.6])
    for i, x in enumerate([0.3, 0.6]):
        pooled = evaluate(val_recs, DetectionRule(scoring="onset", threshold=x))["pooled"]
        assert onset["false_alarms_per_hour"][i] == pooled["event"]["false_alarms_per_hour"]


def test_chooser_against_brute_force(val_recs):
    options, grid = [1, 4], np.round(np.linspace(0.3, 0.95, 27), 4)
    budgets = [0.5, 1.0, 2.0, 5.0]
    points = choose_operating_points(val_recs, DetectionRule(), budgets, smooth_options=options,
                                     thresholds=grid)
    table = []  # (sensitivity, threshold, -option index, FA/h) of every candidate
    for j, k in enumerate(options):
        for x in grid:
            ev = evaluate(val_recs, DetectionRule(smooth_windows=k, threshold=x))["pooled"]
            table.append((ev["event"]["sensitivity"], x, -j, ev["event"]["false_alarms_per_hour"]))
    for budget, op in zip(budgets, points, strict=True):
        best = max(c for c in table if c[3] <= budget)
        assert (op.sensitivity, op.threshold, op.smooth_windows) == (
            best[0], best[1], options[-best[2]])
        assert op.false_alarms_per_hour == best[3] <= budget and op.within_budget
        assert op.max_fa_per_hour == budget
    assert choose_operating_point(val_recs, max_fa_per_hour=1.0, smooth_options=options,
                                  thresholds=grid) == points[1]
    sens = [op.sensitivity for op in points]
    assert sens == sorted(sens)  # a larger budget never lowers the validation sensitivity


def test_chooser_when_no_threshold_meets_the_budget(val_recs, caplog):
    with caplog.at_level(logging.WARNING, logger="neuroattn"):
        op = choose_operating_point(val_recs, DetectionRule(smooth_windows=1),
                                    max_fa_per_hour=0.5, thresholds=[0.0, 0.05])
    assert "No threshold meets 0.5 false alarm" in caplog.text
    events = [evaluate(val_recs, DetectionRule(smooth_windows=1, threshold=x))["pooled"]["event"]
              for x in (0.0, 0.05)]
    # The fewest false alarms; ties: the higher sensitivity, then the higher threshold.
    best = max((-e["false_alarms_per_hour"], e["sensitivity"], x)
               for e, x in zip(events, (0.0, 0.05), strict=True))
    assert not op.within_budget and op.false_alarms_per_hour == -best[0] > 0.5
    assert (op.sensitivity, op.threshold) == best[1:]


def test_chooser_warns_when_validation_is_too_short_for_a_budget(val_recs, caplog):
    hours = sum(r.duration_s for r in val_recs) / 3600  # 1.43 h: one false alarm is 0.70/h
    with caplog.at_level(logging.WARNING, logger="neuroattn"):
        choose_operating_points(val_recs, DetectionRule(), [1.0, 2.0])
    assert caplog.text == ""
    with caplog.at_level(logging.WARNING, logger="neuroattn"):
        points = choose_operating_points(val_recs, DetectionRule(), [0.5, 1.0])
    assert f"hold {hours:.2f} h, so one false alarm is {1 / hours:.2f} per hour" in caplog.text
    assert "budget(s) 0.5:" in caplog.text and points[0].false_alarms_per_hour == 0.0


def test_chooser_errors(val_recs):
    with pytest.raises(ValueError, match="budget 0.0 must be .* > 0"):
        choose_operating_points(val_recs, budgets=[1.0, 0.0])
    with pytest.raises(ValueError, match="budget -1 must be"):
        choose_operating_point(val_recs, max_fa_per_hour=-1)
    quiet = [RecordingPrediction("q", "Q", np.arange(1.0, 11.0), np.full(10, 0.2),
                                 np.zeros(10), [], 10.0)]
    with pytest.raises(ValueError, match="no annotated seizure.*--val-patients"):
        choose_operating_point(quiet)
    with pytest.raises(ValueError, match="exactly the keys"):
        OperatingPoint.from_dict({"threshold": 0.5})
    with pytest.raises(ValueError, match="No operating point for 2 false alarm"):
        evaluate_at_operating_points(val_recs, DetectionRule(),
                                     [OperatingPoint(0.5, 1, 1.0, 1.0, 0.0, True)],
                                     max_fa_per_hour=2.0)


def test_points_applied_to_test_unchanged_and_json_round_trip(val_recs, tmp_path):
    points = choose_operating_points(val_recs, DetectionRule(), [0.5, 1.0, 2.0])
    rng = np.random.default_rng(5)
    test = [_random_recording(rng, "t1", "T1"), _random_recording(rng, "t2", "T2")]
    res = evaluate_at_operating_points(test, DetectionRule(), points, max_fa_per_hour=1.0)
    assert res["operating_point"] == points[1].to_dict()
    assert res["pooled"] == evaluate(test, points[1].apply(DetectionRule()))["pooled"]
    for op in points:
        at = res["budgets"][f"{op.max_fa_per_hour:g}"]
        direct = evaluate(test, op.apply(DetectionRule()))
        assert at["pooled"] == direct["pooled"]["event"]
        assert at["per_patient"]["T2"] == direct["per_patient"]["T2"]["event"]
        assert at["operating_point"] == op.to_dict()
    assert res["curve"] == sensitivity_fa_curve(test, points[1].apply(DetectionRule()))
    text = json.dumps(res)
    assert [OperatingPoint.from_dict(d["operating_point"]) for d in
            json.loads(text)["budgets"].values()] == points
    save_results(res, tmp_path / "r.json")
    table = format_table({**res, "baselines": {"linelength": res}}, detector="MVPFormer")
    lines = table.splitlines()
    assert lines[0].split("  ")[-3:] == ["@0.5 FA/h: sens (FA/h)", "@1 FA/h: sens (FA/h)",
                                         "@2 FA/h: sens (FA/h)"]
    pooled = [line for line in lines if " pooled " in line]
    assert [line.split()[0] for line in pooled] == ["MVPFormer", "linelength"]
    b = res["budgets"]["2"]["pooled"]
    assert pooled[0].endswith(f"{b['sensitivity']:.2f} ({b['false_alarms_per_hour']:.2f})")
