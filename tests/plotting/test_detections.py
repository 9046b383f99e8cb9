"""plot_detections: probability trace, shaded seizures, coloured alarms, atomic save."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_rgba

from neuroattn.ieeg import DetectionRule, alarms, event_metrics
from neuroattn.ieeg.evaluation import hypothesis_events
from neuroattn.plotting import plot_detections


@pytest.fixture
def detections():
    """Half an hour of 2-s windows, three seizures (one missed) and one false alarm."""
    t = np.arange(2.0, 1802.0, 2.0)
    seizures = np.array([[200.0, 260.0], [700.0, 730.0], [1400.0, 1500.0]])
    p = np.full(t.size, 0.1)
    p[(t > 210) & (t < 250)] = 0.9
    p[(t > 1000) & (t < 1010)] = 0.8
    p[(t > 1420) & (t < 1480)] = 0.95
    labels = ((t[:, None] > seizures[:, 0]) & (t[:, None] <= seizures[:, 1])).any(axis=1)
    return t, p, seizures, labels.astype(int)


def _legend(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


def test_szcore_detections(detections):
    t, p, seizures, labels = detections
    rule = DetectionRule(smooth_windows=3)
    fig = plot_detections(t, p, seizures, rule=rule, labels=labels, duration_s=1800.0)
    ax = fig.axes[0]
    assert ax.get_title() == "2/3 seizures detected, 1 false alarm (SzCORE)"
    bars = [line for line in ax.lines if line.get_linewidth() == 4]
    events = hypothesis_events(t, p, rule)
    np.testing.assert_allclose([line.get_xdata() for line in bars], events / 60)
    assert _legend(ax)[-1] == f"detection ({len(events)})"
    expected = event_metrics(t, p, seizures, rule, duration_s=1800.0)
    assert (expected["n_detected"], expected["false_alarms"]) == (2, 1)


def test_full_figure(detections, tmp_path):
    t, p, seizures, labels = detections
    rule = DetectionRule(smooth_windows=3, refractory_s=120.0, scoring="onset")
    fig = plot_detections(t, p, seizures, rule=rule, labels=labels,
                          output_file=tmp_path / "det.png")
    ax = fig.axes[0]
    assert len(ax.patches) == len(seizures)  # one shaded span per seizure
    assert ax.get_xlabel() == "time (min)"
    assert ax.get_xlim() == pytest.approx((t[0] / 60, t[-1] / 60))
    assert ax.get_title() == "2/3 seizures detected, 1 false alarm"
    assert _legend(ax) == ["annotated seizure", "window label", "probability",
                           "smoothed (last 3)", "threshold 0.5", "alarm in seizure (2)",
                           "false alarm (1)"]
    markers = {line.get_label(): line for line in ax.lines if line.get_marker() == "v"}
    hit, false = markers["alarm in seizure (2)"], markers["false alarm (1)"]
    found = alarms(t, p, rule) / 60
    np.testing.assert_allclose(np.sort(np.r_[hit.get_xdata(), false.get_xdata()]), found)
    assert to_rgba(hit.get_color()) != to_rgba(false.get_color())
    assert (tmp_path / "det.png").stat().st_size > 1000
    assert [f.name for f in tmp_path.iterdir()] == ["det.png"]


def test_without_rule_on_given_axes(detections):
    t, p, seizures, _ = detections
    fig, ax = plt.subplots()
    out = plot_detections(t[:200], p[:200], seizures[:1], axes=ax, title="run-01")
    assert out is fig and ax.get_title() == "run-01"
    assert ax.get_xlabel() == "time (s)"  # 400 s: seconds are more readable
    assert len(ax.patches) == 1 and len(ax.lines) == 1  # probability only: no rule, no alarms
    assert _legend(ax) == ["annotated seizure", "probability"]


def test_bad_input(detections):
    t, p, seizures, labels = detections
    with pytest.raises(ValueError, match="times has 900, labels has 899"):
        plot_detections(t, p, seizures, labels=labels[1:])
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        plot_detections(t, p, seizures.ravel())


def test_sensitivity_fa_curve_figure(tmp_path):
    from neuroattn.ieeg.evaluation import (
        RecordingPrediction,
        choose_operating_points,
        evaluate_at_operating_points,
    )
    from neuroattn.plotting import plot_sensitivity_fa

    rng = np.random.default_rng(0)
    t = np.arange(4.0, 7204.0, 4.0)  # two hours, seizures every 20 min
    y = (((t % 1200) > 300) & ((t % 1200) <= 360)).astype(int)
    recs = [RecordingPrediction(f"r{i}", f"P{i}", t,
                                np.clip(0.25 + 0.4 * y + rng.normal(0, 0.15, t.size), 0, 1), y,
                                [[a, a + 60.0] for a in range(300, 7200, 1200)], 7200.0)
            for i in range(2)]
    rule = DetectionRule(smooth_windows=3)
    points = choose_operating_points(recs[:1], rule, [0.5, 1.0, 2.0])
    res = evaluate_at_operating_points(recs[1:], rule, points, max_fa_per_hour=1.0)
    other = evaluate_at_operating_points(recs[1:], DetectionRule(smooth_windows=1),
                                         choose_operating_points(recs[:1], DetectionRule(
                                             smooth_windows=1), [0.5, 1.0, 2.0]))
    fig, ax = plt.subplots()
    out = plot_sensitivity_fa({"model": res, "linelength": other}, axes=ax,
                              output_file=tmp_path / "curve.png")
    assert out is fig
    curve = ax.lines[0]
    np.testing.assert_array_equal(curve.get_xdata(), res["curve"]["false_alarms_per_hour"][::-1])
    np.testing.assert_array_equal(curve.get_ydata(), res["curve"]["sensitivity"][::-1])
    stars = [line for line in ax.lines if line.get_marker() == "*"]
    assert len(stars) == 2  # the main operating point of each detector
    main = res["budgets"]["1"]["pooled"]
    assert (stars[0].get_xdata()[0], stars[0].get_ydata()[0]) == (
        main["false_alarms_per_hour"], main["sensitivity"])
    assert len([line for line in ax.lines if line.get_marker() == "o"]) == 4  # 0.5 and 2 FA/h
    assert _legend(ax) == ["model", "model at 1 FA/h (chosen on validation)", "linelength",
                           "linelength at 1 FA/h (chosen on validation)"]
    assert ax.get_title() == "2.00 h, 6 seizures"
    assert (tmp_path / "curve.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="has no 'curve'"):
        plot_sensitivity_fa({"model": {"pooled": {}}})
