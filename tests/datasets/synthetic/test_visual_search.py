"""Tests of the synthetic visual-search benchmark (neuroattn.datasets.synthetic.visual_search)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from scipy import stats

from neuroattn.datasets.synthetic import VisualSearchConfig, make_visual_search
from neuroattn.datasets.synthetic.visual_search import PALETTE, PolicyError, shape_masks

# Small and deliberately unequal: a 3 x 5 grid of 12 x 10 patches, 2-5 subjects.
SMALL = dict(n_rows=3, n_cols=5, patch_size=(12, 10), n_train=7, n_val=3, n_test=4,
             n_subjects=3, n_held_out_targets=2)


@pytest.fixture(scope="module")
def data():
    return make_visual_search(seed=0)


@pytest.fixture(scope="module")
def small():
    return make_visual_search(**SMALL, seed=5)


def test_shapes_and_dtypes(data, small):
    cfg = data.config
    p, (h, w) = cfg.n_cells, cfg.patch_size
    for name, n in (("train", cfg.n_train), ("val", cfg.n_val), ("test", cfg.n_test)):
        split = data.split(name)
        assert len(split) == n
        assert split.patches.shape == (n, p, h, w, 3) and split.patches.dtype == np.uint8
        assert split.target_patches.shape == (n, h, w, 3)
        for arr in (split.colours, split.shapes, split.rows, split.cols):
            assert arr.shape == (n, p) and arr.dtype == np.int64
        assert split.boxes.shape == (n, p, 4)
        assert len(split.scanpaths) == n and all(len(s) == cfg.n_subjects for s in split.scanpaths)
        assert split.grid_shape == (4, 6)
    assert small.train.patches.shape == (7, 15, 12, 10, 3)
    assert small.test.image(0).shape == (3 * 16 + 4, 5 * 14 + 4, 3)  # (12 + 4) and (10 + 4) px


def test_layout_labels_and_cells(data):
    cfg = data.config
    tr = data.train
    assert (tr.n_objects == cfg.n_cells).all()
    np.testing.assert_array_equal(tr.rows[0], np.arange(cfg.n_cells) // cfg.n_cols)
    np.testing.assert_array_equal(tr.cols[0], np.arange(cfg.n_cells) % cfg.n_cols)
    assert tr.colours.min() == 0 and tr.colours.max() == cfg.n_colours - 1
    assert tr.shapes.min() == 0 and tr.shapes.max() == cfg.n_shapes - 1
    for split in (data.train, data.val, data.test):
        for i, t in enumerate(split.targets):
            same = ((split.colours[i] == split.colours[i, t])
                    & (split.shapes[i] == split.shapes[i, t]))
            assert same.sum() == 1, "the target's conjunction must be unique in its grid"


def test_scanpaths_follow_the_search_rules(data):
    cfg = data.config
    for split in (data.train, data.val, data.test):
        for paths, target, n in zip(split.scanpaths, split.targets, split.n_objects, strict=True):
            for path in paths:
                assert 1 <= len(path) <= cfg.max_length
                assert all(0 <= f < n for f in path)
                assert target not in path[:-1], "the search stops at the first target fixation"
                if len(path) < cfg.max_length:
                    assert path[-1] == target
    lengths = np.array([len(p) for ps in data.test.scanpaths for p in ps])
    assert 4.0 < lengths.mean() < 10.0  # a real search, not a one-shot
    assert np.mean([ps[0] == ps[1] for ps in data.train.scanpaths]) < 0.6  # subjects differ


def test_held_out_targets(data, small):
    for d in (data, small):
        held = set(d.held_out_targets)
        assert len(held) == d.config.n_held_out_targets
        for name in ("train", "val"):
            split = d.split(name)
            conj = {(int(split.colours[i, t]), int(split.shapes[i, t]))
                    for i, t in enumerate(split.targets)}
            assert not conj & held
        test = d.test
        assert {(int(test.colours[i, t]), int(test.shapes[i, t]))
                for i, t in enumerate(test.targets)} <= held
    everything = make_visual_search(n_held_out_targets=0, n_train=30, n_val=2, n_test=40)
    assert everything.held_out_targets == []


def test_determinism_and_independent_splits():
    a = make_visual_search(**SMALL, seed=11)
    b = make_visual_search(**SMALL, seed=11)
    c = make_visual_search(**{**SMALL, "n_train": 9}, seed=11)
    d = make_visual_search(**SMALL, seed=12)
    np.testing.assert_array_equal(a.train.patches, b.train.patches)
    assert a.train.scanpaths == b.train.scanpaths
    np.testing.assert_array_equal(a.test.patches, c.test.patches)
    assert a.test.scanpaths == c.test.scanpaths and a.val.scanpaths == c.val.scanpaths
    assert not np.array_equal(a.test.patches, d.test.patches)
    assert make_visual_search(a.config).train.scanpaths == a.train.scanpaths


def test_rendering_pixels(data):
    """Patches are crops of the image; the centre pixels carry the object's palette colour."""
    cfg = data.config
    tr = data.train
    img = tr.image(3)
    for k in (0, 11, 23):
        x0, y0, x1, y1 = tr.boxes[3, k].astype(int)
        np.testing.assert_array_equal(img[y0:y1, x0:x1], tr.patches[3, k])
    h, w = cfg.patch_size
    centre = tr.patches[:, :, h // 2 - 1:h // 2 + 1, w // 2 - 1:w // 2 + 1].astype(float) / 255
    palette = np.asarray(list(PALETTE.values()))
    shape_has_centre = tr.shapes != 5  # every shape but the ring covers the centre
    expected = palette[tr.colours]
    got = centre.mean(axis=(2, 3))
    err = np.abs(got - expected)[shape_has_centre]
    assert np.median(err) < 0.06 and err.max() < 0.3
    # the template is a fresh rendering of the target: similar, not identical
    t = tr.targets[0]
    diff = np.abs(tr.target_patches[0].astype(int) - tr.patches[0, t].astype(int))
    assert 0 < diff.mean() < 25
    np.testing.assert_allclose(tr.object_centres(0)[:, 0], tr.boxes[0, :, [0, 2]].mean(0))


def testshape_masks_are_distinct():
    masks = shape_masks((16, 16), 6)
    assert masks.shape == (6, 16, 16) and masks.min() >= 0 and masks.max() <= 1
    flat = masks.reshape(6, -1)
    dist = np.abs(flat[:, None] - flat[None]).mean(-1)
    assert dist[~np.eye(6, dtype=bool)].min() > 0.05


def test_variable_number_of_objects():
    d = make_visual_search(min_objects=10, n_train=30, n_val=2, n_test=2, seed=2)
    tr = d.train
    assert tr.n_objects.min() >= 10 and tr.n_objects.max() <= 24 and len(set(tr.n_objects)) > 3
    for i in range(len(tr)):
        n = tr.n_objects[i]
        assert (tr.colours[i, n:] == -1).all() and (tr.rows[i, n:] == -1).all()
        assert (tr.patches[i, n:] == 0).all() and np.isnan(tr.boxes[i, n:]).all()
        cells = tr.rows[i, :n] * 6 + tr.cols[i, :n]
        assert (np.diff(cells) > 0).all(), "objects are numbered in row-major cell order"
        assert all(max(p) < n for p in tr.scanpaths[i])
    assert tr.object_centres(0).shape == (tr.n_objects[0], 2)


def test_policy_probabilities_follow_the_formula(data):
    cfg = data.config
    tr = data.train
    i = 4
    rows, cols, colours = tr.rows[i], tr.cols[i], tr.colours[i]
    sim = cfg.colour_weight * (colours == colours[tr.targets[i]])
    start = np.array([(cfg.n_rows - 1) / 2, (cfg.n_cols - 1) / 2])
    logits = cfg.beta_similarity * sim - cfg.beta_distance * np.hypot(rows - start[0],
                                                                      cols - start[1])
    first = np.exp(logits - logits.max())
    np.testing.assert_allclose(tr.policy_probabilities(i, []), first / first.sum())
    a, b = [int(x) for x in np.flatnonzero(np.arange(24) != tr.targets[i])[:2]]
    p = tr.policy_probabilities(i, [a, b])
    assert p.sum() == pytest.approx(1.0)
    assert p[b] == pytest.approx(cfg.p_refix)  # current object: refixation only
    unvisited = np.ones(24, bool)
    unvisited[[a, b]] = False
    q = np.where(unvisited, cfg.beta_similarity * sim
                 - cfg.beta_distance * np.hypot(rows - rows[b], cols - cols[b]), -np.inf)
    q = np.exp(q - q.max())
    q /= q.sum()
    assert p[a] == pytest.approx(cfg.p_revisit)  # the only other fixated object
    np.testing.assert_allclose(p[unvisited], (1 - cfg.p_refix - cfg.p_revisit) * q[unvisited])
    assert p[b] + p[a] + p[unvisited].sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="already contains the target"):
        tr.policy_probabilities(i, [int(tr.targets[i])])
    with pytest.raises(ValueError, match="outside"):
        tr.policy_probabilities(i, [99])
    with pytest.raises(ValueError, match="out of range"):
        tr.policy_probabilities(len(tr), [])


def test_generator_samples_the_policy():
    """Chi-square: first and second fixations of many subjects match policy_probabilities."""
    d = make_visual_search(n_train=1, n_val=1, n_test=1, n_subjects=3000, seed=9, max_length=2,
                           beta_similarity=2.0, beta_distance=1.0, p_refix=0.2, p_revisit=0.1)
    tr = d.train
    paths = tr.scanpaths[0]
    firsts = np.bincount([p[0] for p in paths], minlength=24)
    expected = tr.policy_probabilities(0, []) * len(paths)
    keep = expected > 5
    chi2 = (((firsts - expected) ** 2 / expected)[keep]).sum()
    assert stats.chi2.sf(chi2, keep.sum() - 1) > 1e-3
    assert firsts[~keep].sum() < 0.02 * len(paths)
    # refixation rate after a first fixation that is not the target
    seconds = [p[:2] for p in paths if len(p) > 1]
    refix = np.mean([a == b for a, b in seconds])
    assert refix == pytest.approx(0.2, abs=0.025)


def test_generated_data_is_pinned():
    """The scanpaths of a fixed config, written down: the policy oracle's additions (and any
    later change) must not alter the data the cards report."""
    assert make_visual_search(**SMALL, seed=5).test.scanpaths == [
        [[7, 9, 8, 3, 2, 1, 5], [7, 9, 14, 13, 14, 14, 8, 3, 2, 5], [7, 8, 9, 9, 14, 13, 12, 5]],
        [[1, 6], [12, 6], [1, 6]],
        [[8, 9, 4, 9, 14, 13, 1, 5], [8, 8, 9, 4, 3, 2, 1, 1, 1, 5], [8, 9, 4, 3, 1, 5]],
        [[12, 13], [8, 8, 13], [13]]]


# Tiny instances on which every path can be enumerated: 2 x 2 and 2 x 3 grids, paths of at
# most 4 fixations; the second policy refixates so often that the step-wise arg-max loops.
TINY = dict(n_colours=2, n_shapes=2, n_held_out_targets=0, n_train=6, n_val=1, n_test=1,
            n_subjects=2, max_length=4, seed=3)


@pytest.mark.parametrize("grid, policy", [((2, 2), {}), ((2, 3), {}),
                                          ((2, 2), dict(p_refix=0.5, p_revisit=0.0))])
def test_most_likely_path_is_the_exact_maximum(grid, policy):
    """Brute force over every sequence: likelihoods sum to 1, most_likely_path attains the max."""
    tr = make_visual_search(n_rows=grid[0], n_cols=grid[1], **TINY, **policy).train
    n, limit = grid[0] * grid[1], TINY["max_length"]
    differs = 0
    for i in range(len(tr)):
        ll = {seq: tr.path_log_likelihood(i, list(seq)) for k in range(1, limit + 1)
              for seq in itertools.product(range(n), repeat=k)}
        assert sum(np.exp(v) for v in ll.values()) == pytest.approx(1.0, abs=1e-12)
        best = tr.most_likely_path(i)
        assert tr.path_log_likelihood(i, best) == max(ll.values())
        # the step-wise arg-max, written out
        greedy: list[int] = []
        while len(greedy) < limit and tr.targets[i] not in greedy:
            greedy.append(int(np.argmax(tr.policy_probabilities(i, greedy))))
        assert tr.greedy_path(i) == greedy
        differs += greedy != best
        for path in tr.scanpaths[i]:  # the stored subjects are complete paths of the policy
            assert np.isfinite(ll[tuple(path)])
    if policy:  # refixation beats every new object, so the arg-max loops; the max does not
        assert differs >= 3
        assert all(tr.greedy_path(i) == [tr.greedy_path(i)[0]] * 4 for i in range(len(tr))
                   if tr.greedy_path(i)[0] != tr.targets[i])


def test_path_log_likelihood_of_impossible_paths(small):
    tr = small.train
    t = int(tr.targets[0])
    other = 0 if t != 0 else 1
    assert tr.path_log_likelihood(0, []) == -np.inf
    assert tr.path_log_likelihood(0, [other]) == -np.inf  # stops short of the target
    assert tr.path_log_likelihood(0, [t, other]) == -np.inf  # goes on past the target
    assert tr.path_log_likelihood(0, [other] * 2, max_length=2) == pytest.approx(
        np.log(tr.policy_probabilities(0, [])[other] * small.config.p_refix))
    assert tr.path_log_likelihood(0, [other] * 3, max_length=2) == -np.inf  # too long
    assert tr.most_likely_path(0, max_length=1) == [int(tr.policy_probabilities(0, []).argmax())]


def test_sample_paths_draw_from_the_path_likelihood():
    """4000 draws on a tiny instance: path frequencies match exp(path_log_likelihood)."""
    tr = make_visual_search(n_rows=2, n_cols=2, **{**TINY, "max_length": 3},
                            beta_similarity=1.0, beta_distance=0.5).train
    before = [list(map(list, ps)) for ps in tr.scanpaths]
    draws = tr.sample_paths(2, 4000, seed=7)
    assert tr.scanpaths == before
    assert draws[:5] == tr.sample_paths(2, 5, seed=7)
    counts: dict[tuple[int, ...], int] = {}
    for path in draws:
        counts[tuple(path)] = counts.get(tuple(path), 0) + 1
    paths = [seq for k in range(1, 4) for seq in itertools.product(range(4), repeat=k)
             if np.isfinite(tr.path_log_likelihood(2, list(seq)))]
    expected = np.array([np.exp(tr.path_log_likelihood(2, list(q))) for q in paths]) * 4000
    observed = np.array([counts.get(q, 0) for q in paths])
    assert observed.sum() == 4000
    keep = expected > 5
    chi2 = (((observed - expected) ** 2 / expected)[keep]).sum()
    assert stats.chi2.sf(chi2, keep.sum() - 1) > 1e-3
    assert all(len(p) <= 2 for p in tr.sample_paths(2, 50, seed=1, max_length=2))


def test_policy_errors(small):
    tr = small.train
    with pytest.raises(PolicyError, match="outside"):
        tr.path_log_likelihood(0, [99])
    with pytest.raises(ValueError, match="positive integer"):
        tr.most_likely_path(0, max_length=0)
    with pytest.raises(PolicyError, match="n_samples"):
        tr.sample_paths(0, 0)
    i = next(i for i in range(len(tr)) if len(tr.most_likely_path(i)) > 1)
    with pytest.raises(PolicyError, match="max_expansions"):
        tr.most_likely_path(i, max_expansions=1)  # one state is the start only


def test_ground_truth_is_json(data):
    gt = data.ground_truth()
    json.dumps(gt)
    assert gt["generator"] == "neuroattn.datasets.synthetic.visual_search"
    assert gt["config"]["n_rows"] == 4 and len(gt["palette_rgb"]) == data.config.n_colours
    assert gt["start"] == [1.5, 2.5]
    assert make_visual_search(VisualSearchConfig(**gt["config"])).test.scanpaths == \
        data.test.scanpaths


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_rows=1, n_cols=1), "fewer than 2 cells"),
    (dict(n_colours=9), "n_colours"),
    (dict(n_colours=1, n_shapes=1), "at least 2"),
    (dict(patch_size=(4, 16)), "patch_size"),
    (dict(patch_size=16), "pair"),
    (dict(p_refix=0.7, p_revisit=0.3), "must be < 1"),
    (dict(min_objects=1), "min_objects"),
    (dict(n_held_out_targets=12), "n_held_out_targets"),
    (dict(pixel_noise=-0.1), "pixel_noise"),
    (dict(seed=-1), "seed"),
])
def test_config_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        VisualSearchConfig(**kwargs)


def test_bad_calls(data):
    with pytest.raises(ValueError, match="Unknown parameter"):
        make_visual_search(n_trials=3)
    with pytest.raises(ValueError, match="VisualSearchConfig"):
        make_visual_search({"n_rows": 3})
    with pytest.raises(ValueError, match="unknown"):
        data.split("dev")
    assert VisualSearchConfig(patch_size=[12, 12]).patch_size == (12, 12)
