"""The model-vs-human pairing and per-trial means (neuroattn.gaze.metrics.protocol)."""

import numpy as np
import pytest

from neuroattn.errors import ParameterError
from neuroattn.gaze.metrics import (
    MULTIMATCH_DIMENSIONS,
    ScanpathPairs,
    edit_distances,
    human_human_pairs,
    model_human_pairs,
    multimatch_scores,
)
from neuroattn.gaze.metrics.protocol import multimatch_means


def test_model_paths_meet_every_human_of_their_own_trial():
    model = [[[0], [1]], [[2]]]                       # two samples, then one
    humans = [[[0], [5], [6]], [[2], [3]]]
    pairs = model_human_pairs(model, humans)
    assert len(pairs) == 2 * 3 + 1 * 2
    assert pairs.trial.tolist() == [0] * 6 + [1] * 2
    assert all(a in model[i] and b in humans[i]
               for a, b, i in zip(pairs.a, pairs.b, pairs.trial, strict=True))


def test_humans_meet_every_other_human_never_themselves():
    humans = [[[0], [1], [2]], [[3]]]
    pairs = human_human_pairs(humans)
    assert len(pairs) == 3 * 2                        # ordered pairs; trial 1 has none
    assert all(a is not b for a, b in zip(pairs.a, pairs.b, strict=True))
    assert pairs.n_trials == 2


def test_every_trial_weighs_the_same():
    # trial 0: 4 pairs all equal; trial 1: 1 pair different; the pooled mean would be 0.2
    pairs = model_human_pairs([[[0]], [[0]]], [[[0]] * 4, [[1]]])
    values = edit_distances(pairs.a, pairs.b, normalize=True)
    assert values.tolist() == [0.0] * 4 + [1.0]
    assert pairs.trial_mean(values) == pytest.approx(0.5)
    rows = np.column_stack([values, 2 * values])      # several metrics at once
    np.testing.assert_allclose(pairs.trial_mean(rows), [0.5, 1.0])


def test_mistakes_are_named():
    with pytest.raises(ParameterError, match="cover 1 trials but human paths 2"):
        model_human_pairs([[[0]]], [[[0]], [[1]]])
    pairs = model_human_pairs([[[0]]], [[[0]]])
    with pytest.raises(ParameterError, match="one value per pair"):
        pairs.trial_mean([1.0, 2.0])
    with pytest.raises(ParameterError, match="no pairs"):
        ScanpathPairs([], [], np.array([], dtype=int), 1).trial_mean([])


def test_map_paths_keeps_the_pairing_and_passes_each_paths_trial():
    pairs = human_human_pairs([[[0, 1], [1]], [[2], [0], [1]]])
    seen = []
    centres = pairs.map_paths(lambda path, trial: seen.append(trial) or [trial] + path)
    assert centres.trial is pairs.trial and centres.n_trials == pairs.n_trials
    assert centres.a == [[i] + p for p, i in zip(pairs.a, pairs.trial, strict=True)]
    assert centres.b == [[i] + p for p, i in zip(pairs.b, pairs.trial, strict=True)]
    assert all(type(i) is int for i in seen) and len(seen) == 2 * len(pairs)


def test_multimatch_means_are_the_trial_means_without_durations():
    rng = np.random.default_rng(0)
    humans = [[rng.uniform(0, 60, (n, 2)) for n in (3, 4, 5)], [rng.uniform(0, 60, (4, 2))]]
    model = [[rng.uniform(0, 60, (4, 2))], [rng.uniform(0, 60, (3, 2)), humans[1][0]]]
    pairs = model_human_pairs(model, humans)
    means = multimatch_means(pairs, (60, 40), duration=0.3)
    assert list(means) == [d for d in MULTIMATCH_DIMENSIONS if d != "duration"]
    timed = [[np.column_stack([p, np.full(len(p), 0.3)]) for p in paths]
             for paths in (pairs.a, pairs.b)]
    scores = multimatch_scores(*timed, (60, 40))
    assert scores[:, MULTIMATCH_DIMENSIONS.index("duration")] == pytest.approx(1.0)
    expected = pairs.trial_mean(scores)
    assert [means[d] for d in means] == pytest.approx(
        [expected[MULTIMATCH_DIMENSIONS.index(d)] for d in means])
    assert multimatch_means(pairs, (60, 40), duration=1.0) == pytest.approx(means)
    same = human_human_pairs([[humans[0][0], humans[0][0]]])
    assert multimatch_means(same, (60, 40)) == pytest.approx(dict.fromkeys(means, 1.0))
