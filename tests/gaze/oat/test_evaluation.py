"""Tests of the scanpath scoring protocol (neuroattn.gaze.oat.evaluation)."""

from __future__ import annotations

import numpy as np
import pytest

from neuroattn.datasets.synthetic import make_visual_search
from neuroattn.gaze.metrics import behaviour_summary, behavioural_delta, sequence_score
from neuroattn.gaze.oat import (
    as_search_trials,
    eos_after_target_rate,
    gap_closed,
    human_agreement,
    human_behaviour,
    scanpath_report,
)


@pytest.fixture(scope="module")
def test():
    return as_search_trials(make_visual_search(n_train=2, n_val=1, n_test=7, n_subjects=3,
                                               seed=8).test)


def test_human_agreement_leaves_self_pairs_out(test):
    expected = np.mean([np.mean([sequence_score(ps[a], ps[b]) for a in range(3) for b in range(3)
                                 if a != b]) for ps in test.scanpaths])
    assert human_agreement(test) == pytest.approx(expected)
    single = test.subset([0])
    single.scanpaths = [[single.scanpaths[0][0]]]
    with pytest.raises(ValueError, match="two subjects"):
        human_agreement(single)


def test_report_against_a_hand_computation(test):
    predicted = [[ps[0], ps[1][:1]] for ps in test.scanpaths]  # two "samples" per trial
    report = scanpath_report(predicted, test)
    ss = np.mean([np.mean([sequence_score(p, h) for p in pred for h in humans])
                  for pred, humans in zip(predicted, test.scanpaths, strict=True)])
    assert report["sequence_score"] == pytest.approx(ss)
    flat = [p for ps in predicted for p in ps]
    targets = [int(t) for t in test.targets for _ in range(2)]
    model = behaviour_summary(flat, targets)
    human = human_behaviour(test)
    assert report["delta"] == pytest.approx(behavioural_delta(model, human))
    assert report["length"] == pytest.approx(model["length"])
    assert report["human_refix"] == pytest.approx(human["refix"])
    assert report["human_correct"] == 1.0
    assert set(report) >= {"sequence_score", "delta", "eos_after_target", "correct", "revisit"}


def test_humans_score_themselves_perfectly_on_behaviour(test):
    report = scanpath_report(test.scanpaths, test)
    assert report["delta"] == pytest.approx(0.0)
    assert report["eos_after_target"] == 1.0


def test_eos_after_target_rate():
    predicted = [[[1, 2], [2, 1]], [[0]], [[3, 3]]]
    targets = [2, 0, 1]
    assert eos_after_target_rate(predicted, targets) == pytest.approx(2 / 4)
    ended = np.array([[False, True], [True, False], [True, True]], dtype=object)
    assert eos_after_target_rate(predicted, targets, ended) == pytest.approx(1 / 4)
    with pytest.raises(ValueError, match="entries"):
        eos_after_target_rate(predicted, [2, 0])
    with pytest.raises(ValueError, match="no paths"):
        eos_after_target_rate([[[1]], []], [1, 1])


def test_gap_closed():
    assert gap_closed(0.5, baseline=0.3, ceiling=0.5) == pytest.approx(1.0)
    assert gap_closed(0.3, baseline=0.3, ceiling=0.5) == 0.0
    assert gap_closed(0.2, baseline=0.3, ceiling=0.5) == pytest.approx(-0.5)  # below baseline
    assert gap_closed(0.6, baseline=0.5, ceiling=0.0) == pytest.approx(-0.2)  # lower is better
    with pytest.raises(ValueError, match="no gap"):
        gap_closed(0.4, baseline=0.4, ceiling=0.4)
    with pytest.raises(ValueError, match="finite"):
        gap_closed(float("nan"), baseline=0.3, ceiling=0.5)
