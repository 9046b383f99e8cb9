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
    rule = DetectionRule(smooth_windows=1, refractory_s=60.0)
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
    ev = event_metrics(t, np.zeros(100), np.zeros((0, 2)))
    assert np.isnan(ev["sensitivity"]) and np.isnan(ev["median_latency_s"])
    assert ev["false_alarms"] == 0 and ev["latencies_s"] == []
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
    rule = DetectionRule(smooth_windows=2, refractory_s=120.0, tolerance_s=30.0)
    with caplog.at_level(logging.WARNING, logger="neuroattn"):
        res = evaluate(recs, rule, threshold=0.4)
    assert "patient B" in caplog.text  # B has no seizure windows
    assert list(res["per_patient"]) == ["A", "B"]
    assert res["rule"] == {"smooth_windows": 2, "threshold": 0.5, "min_consecutive": 1,
                           "refractory_s": 120.0, "tolerance_s": 30.0}

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
    assert len(table) == 6  # header, rule, A, B, rule, pooled
    assert table[0].split()[:3] == ["patient", "windows", "AUROC"]
    assert table[2].split()[:2] == ["A", "150"] and table[5].split()[:2] == ["pooled", "240"]
    assert table[3].split()[2] == "n/a"  # B's AUROC
    assert len({len(line) for line in table}) == 1  # fixed width


def test_evaluate_errors(rng):
    with pytest.raises(ValueError, match="No recordings"):
        evaluate([])
    with pytest.raises(ValueError, match="Recording 'bad': One value per window"):
        RecordingPrediction("bad", "A", np.arange(1.0, 4.0), np.zeros(3), np.zeros(2), [], 3.0)
    with pytest.raises(TypeError, match="RecordingPrediction"):
        evaluate([{"patient": "A"}])
