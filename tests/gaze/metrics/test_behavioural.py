"""OAT's behavioural measures: hand-computed trials, a run-by-run loop as the reference,
search + refix + revisit = 1, the summary, the delta (and its zero-human rule), bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuroattn.gaze.metrics import (
    BEHAVIOUR_KEYS,
    behaviour,
    behaviour_summary,
    behavioural_delta,
    behaviours,
)


def reference_behaviour(path, target):
    """Walk the runs of identical consecutive objects one by one (the reference answer)."""
    runs = []
    for obj in path:
        if runs and runs[-1][0] == obj:
            runs[-1][1] += 1
        else:
            runs.append([obj, 1])
    seen, search, revisit = set(), 0, 0
    for obj, _ in runs:
        if obj in seen:
            revisit += 1
        else:
            search += 1
            seen.add(obj)
    n = len(path)
    return {"correct": float(path[-1] == target), "length": float(n), "search": search / n,
            "refix": sum(r - 1 for _, r in runs) / n, "revisit": revisit / n}


def test_behaviour_hand_computed():
    # runs: 3 3 | 0 | 3 3 3 | 8 | 0 | 5: new 3, 0, 8, 5; revisits 3, 0; refixations 1 + 2
    out = behaviour([3, 3, 0, 3, 3, 3, 8, 0, 5], target=5)
    assert out == pytest.approx({"correct": 1.0, "length": 9.0, "search": 4 / 9,
                                 "refix": 3 / 9, "revisit": 2 / 9})
    assert list(out) == list(BEHAVIOUR_KEYS)
    assert behaviour([7], target=7) == {"correct": 1.0, "length": 1.0, "search": 1.0,
                                        "refix": 0.0, "revisit": 0.0}
    assert behaviour([1, 2, 7], target=2)["correct"] == 0.0   # target seen, but not last


def test_behaviours_match_the_run_by_run_reference(rng):
    paths = [rng.integers(0, 6, size=rng.integers(1, 25)) for _ in range(400)]
    targets = rng.integers(0, 6, size=400)
    got = behaviours(paths, targets)
    for key in BEHAVIOUR_KEYS:
        expected = [reference_behaviour(list(p), t)[key]
                    for p, t in zip(paths, targets, strict=True)]
        np.testing.assert_allclose(got[key], expected, rtol=1e-15, err_msg=key)
    total = got["search"] + got["refix"] + got["revisit"]
    np.testing.assert_allclose(total, 1.0, rtol=1e-15)
    assert set(np.unique(got["correct"])) <= {0.0, 1.0}


def test_behaviour_summary_means_over_trials():
    paths, targets = [[0, 1, 1, 2], [3, 5, 3], [4]], [2, 5, 4]
    summary = behaviour_summary(paths, targets)
    rows = [behaviour(p, t) for p, t in zip(paths, targets, strict=False)]
    assert summary == pytest.approx({k: np.mean([r[k] for r in rows]) for k in BEHAVIOUR_KEYS})
    assert summary["correct"] == pytest.approx(2 / 3)   # trials ending on the target
    assert summary["length"] == pytest.approx(8 / 3)
    same = behaviour_summary([np.array(p) for p in paths], torch.tensor(targets))
    assert same == summary


def test_behavioural_delta_hand_computed():
    human = {"correct": 0.8, "length": 5.0, "search": 0.6, "refix": 0.25, "revisit": 0.15}
    model = {"correct": 1.0, "length": 4.0, "search": 0.6, "refix": 0.3, "revisit": 0.1}
    expected = (0.2 / 0.8 + 1 / 5 + 0 + 0.05 / 0.25 + 0.05 / 0.15) / 5
    assert behavioural_delta(model, human) == pytest.approx(expected)
    assert behavioural_delta(human, human) == 0.0
    assert behavioural_delta(model | {"extra": 9.0}, human) == pytest.approx(expected)


def test_behavioural_delta_uses_the_absolute_difference_where_humans_are_zero():
    # deterministic synthetic humans never refixate or revisit
    human = behaviour_summary([[0, 1, 2], [2, 0]], targets=[2, 0])
    assert human["refix"] == 0.0 and human["revisit"] == 0.0
    model = behaviour_summary([[0, 0, 1, 2], [2, 0]], targets=[2, 0])  # one refixation
    rel = [abs(model[k] - human[k]) / human[k] for k in ("correct", "length", "search")]
    absolute = [abs(model[k] - human[k]) for k in ("refix", "revisit")]
    assert behavioural_delta(model, human) == pytest.approx(np.mean(rel + absolute))
    assert behavioural_delta(human, human) == 0.0


def test_behaviour_errors():
    with pytest.raises(ValueError, match="empty scanpath"):
        behaviour([], target=1)
    with pytest.raises(ValueError, match="NaN"):
        behaviour([1.0, np.nan], target=1)
    with pytest.raises(ValueError, match="negative"):
        behaviours([[0, -1]], [0])                        # padding or EOS left in
    with pytest.raises(ValueError, match="one entry per trial"):
        behaviours([[0, 1], [1]], [1])
    with pytest.raises(TypeError, match="bool"):
        behaviour([0, 1], target=True)
    with pytest.raises(ValueError, match="non-negative integer"):
        behaviour([0, 1], target=1.5)
    with pytest.raises(ValueError, match="at least one trial"):
        behaviour_summary([], [])
    assert behaviours([], [])["search"].shape == (0,)


def test_behavioural_delta_errors():
    full = {"correct": 1.0, "length": 3.0, "search": 1.0, "refix": 0.0, "revisit": 0.0}
    with pytest.raises(ValueError, match=r"lacks the behavioural keys \['revisit'\]"):
        behavioural_delta({k: v for k, v in full.items() if k != "revisit"}, full)
    with pytest.raises(ValueError, match="not finite"):
        behavioural_delta(full | {"length": np.nan}, full)
    with pytest.raises(ValueError, match="negative"):
        behavioural_delta(full, full | {"search": -0.1})
    with pytest.raises(TypeError, match="mapping"):
        behavioural_delta([1.0, 2.0], full)
