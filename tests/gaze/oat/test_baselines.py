"""Tests of the baseline scanpath models (neuroattn.gaze.oat.baselines)."""

from __future__ import annotations

import numpy as np
import pytest

from neuroattn.datasets.synthetic import make_visual_search
from neuroattn.errors import ParameterError
from neuroattn.gaze.oat import (
    BASELINES,
    CentreBiasBaseline,
    NearestFirstBaseline,
    PolicyOracle,
    RandomBaseline,
    TargetSimilarityBaseline,
    as_search_trials,
    make_baseline,
    scanpath_report,
)


@pytest.fixture(scope="module")
def data():
    return make_visual_search(n_train=60, n_val=2, n_test=12, n_subjects=3, seed=6)


@pytest.fixture(scope="module")
def padded():
    return make_visual_search(n_rows=3, n_cols=5, patch_size=(12, 10), min_objects=6,
                              n_train=10, n_val=1, n_test=8, n_subjects=2, seed=2)


def test_registry_and_common_interface(data, padded):
    assert sorted(BASELINES) == ["centre", "nearest", "random", "similarity"]
    for name in BASELINES:
        for d in (data, padded):
            base = make_baseline(name).fit(d.train)
            test = as_search_trials(d.test)
            for method, n in (("greedy", 1), ("sample", 3)):
                paths, ended = base.generate(test, method=method, n_samples=n, seed=0,
                                             return_ended=True)
                assert len(paths) == len(test) and all(len(ps) == n for ps in paths)
                assert ended.shape == (len(test), n) and ended.all()
                for i, ps in enumerate(paths):
                    target = int(test.targets[i])
                    for p in ps:
                        assert len(p) >= 1 and all(0 <= f < test.n_objects[i] for f in p)
                        assert target not in p[:-1], f"{name} must stop at the target"
            capped = base.generate(test, method="sample", n_samples=2, max_len=2)
            assert max(len(p) for ps in capped for p in ps) <= 2
    with pytest.raises(ValueError, match="unknown"):
        make_baseline("saliency")


def test_inhibition_of_return_and_stop_at_target(data):
    test = as_search_trials(data.test)
    for cls in (NearestFirstBaseline, TargetSimilarityBaseline):
        for p, t in zip(cls().fit(data.train).generate(test, method="sample", n_samples=4),
                        test.targets, strict=True):
            for q in p:
                assert len(set(q)) == len(q) and q[-1] == t  # no repeats, ends at the target
    centre = CentreBiasBaseline().fit(data.train).generate(test, method="sample", n_samples=4)
    assert all(len(set(q)) == len(q) for ps in centre for q in ps)


def test_random_matches_the_human_length_distribution(data):
    base = RandomBaseline().fit(data.train)
    test = as_search_trials(data.test)
    human = base.human_lengths_
    paths = base.generate(test, method="sample", n_samples=200, seed=3)
    lengths = np.array([len(q) for ps in paths for q in ps])
    assert lengths.max() <= human.max()
    # budget ~ human lengths, cut short when the target is hit by chance
    assert lengths.mean() <= human.mean() + 0.05
    fixations = np.concatenate([q for ps in paths for q in ps])
    counts = np.bincount(fixations, minlength=24)
    assert counts.min() > 0.5 * counts.mean(), "uniform over the objects"
    refix = np.mean([a == b for ps in paths for q in ps for a, b in zip(q, q[1:], strict=False)])
    assert refix == pytest.approx(1 / 24, abs=0.015)  # with replacement


def test_centre_bias_sigma_and_greedy_order(data):
    train = as_search_trials(data.train)
    base = CentreBiasBaseline().fit(train)
    d2 = [(train.rows[i, f] - 1.5) ** 2 + (train.cols[i, f] - 2.5) ** 2
          for i, ps in enumerate(train.scanpaths) for p in ps for f in p]
    assert base.sigma_ == pytest.approx(np.sqrt(np.mean(d2) / 2))
    assert CentreBiasBaseline(sigma=1.5).fit(train).sigma_ == 1.5
    test = as_search_trials(data.test)
    path = base.generate(test.subset([0]))[0][0]
    budget = max(1, round(float(train.human_lengths().mean())))
    assert len(path) == budget or (len(path) < budget and path[-1] == test.targets[0])
    d = np.hypot(test.rows[0, path] - 1.5, test.cols[0, path] - 2.5)
    assert (np.diff(d) >= -1e-12).all(), "greedy centre bias visits by distance to the centre"
    with pytest.raises(ValueError, match="sigma"):
        CentreBiasBaseline(sigma=0.0)


def test_nearest_first_walks_to_the_nearest(data):
    test = as_search_trials(data.test)
    path = NearestFirstBaseline().fit(data.train).generate(test.subset([1]))[0][0]
    rows, cols = test.rows[1], test.cols[1]
    pos = np.array([1.5, 2.5])
    seen: set[int] = set()
    for f in path:
        d = np.hypot(rows - pos[0], cols - pos[1])
        d[list(seen)] = np.inf
        assert d[f] == pytest.approx(d.min())
        seen.add(f)
        pos = np.array([rows[f], cols[f]], dtype=float)


def test_target_similarity_prefers_target_coloured_objects(data):
    test = data.test
    base = TargetSimilarityBaseline().fit(data.train)
    greedy = base.generate(test)
    assert all(len(ps[0]) == 1 for ps in greedy), "the template is nearest its own object"
    sampled = base.generate(test, method="sample", n_samples=20, seed=1)
    same = [test.colours[i, f] == test.colours[i, test.targets[i]]
            for i, ps in enumerate(sampled) for q in ps for f in q]
    assert np.mean(same) > 0.8


def test_unfitted_and_bad_arguments(data):
    with pytest.raises(ValueError, match="not fitted"):
        RandomBaseline().generate(data.test)
    base = NearestFirstBaseline().fit(data.train)
    with pytest.raises(ValueError, match="deterministic"):
        base.generate(data.test, n_samples=2)
    with pytest.raises(ValueError, match="method"):
        base.generate(data.test, method="beam")
    with pytest.raises(ValueError, match="temperature"):
        NearestFirstBaseline(temperature=-1.0)
    assert "temperature=0.5" in repr(base)


def test_policy_oracle_interface(data):
    test = data.test
    oracle = PolicyOracle()
    assert "oracle" not in BASELINES and repr(oracle) == "PolicyOracle()"
    for method, n in (("most_likely", 1), ("greedy", 1), ("sample", 3)):
        paths, ended = oracle.generate(test, method=method, n_samples=n, seed=0,
                                       return_ended=True)
        assert len(paths) == len(test) and all(len(ps) == n for ps in paths)
        assert ended.shape == (len(test), n) and ended.all()
        for i, ps in enumerate(paths):
            for p in ps:  # complete paths of the policy: they end at the target or at the cap
                assert np.isfinite(test.path_log_likelihood(i, p))
        capped = oracle.generate(test, method=method, n_samples=n, max_len=2)
        assert max(len(p) for ps in capped for p in ps) <= 2
    assert oracle.generate(test) == [[test.most_likely_path(i)] for i in range(len(test))]
    assert oracle.generate(test, method="greedy") == [[test.greedy_path(i)]
                                                      for i in range(len(test))]
    rng = np.random.default_rng(5)
    assert oracle.generate(test, method="sample", n_samples=2, seed=5) == [
        test.sample_paths(i, 2, seed=rng) for i in range(len(test))]


def test_policy_oracle_is_the_ceiling_of_its_own_likelihood(data):
    """Exact: the most likely path is at least as likely as every subject's and the greedy one."""
    test = data.test
    best = PolicyOracle().generate(test)
    greedy = PolicyOracle().generate(test, method="greedy")
    for i in range(len(test)):
        top = test.path_log_likelihood(i, best[i][0])
        assert top >= test.path_log_likelihood(i, greedy[i][0])
        assert all(top >= test.path_log_likelihood(i, h) for h in test.scanpaths[i])
    # sampled oracle paths are new subjects: their behaviour is the humans' (12 trials x 3
    # subjects against 12 x 40 draws; delta 0.013, 0.045, 0.068, 0.028, 0.044 for sampling
    # seeds 0-4; the baselines' deltas are about 0.5)
    report = scanpath_report(PolicyOracle().generate(test, method="sample", n_samples=40),
                             test)
    assert report["delta"] < 0.15, report


def test_policy_oracle_needs_the_policy(data):
    oracle = PolicyOracle()
    with pytest.raises(ParameterError, match="VisualSearchTrials"):
        oracle.generate(as_search_trials(data.test))
    with pytest.raises(ValueError, match="deterministic"):
        oracle.generate(data.test, n_samples=2)
    with pytest.raises(ParameterError, match="method"):
        oracle.generate(data.test, method="beam")
