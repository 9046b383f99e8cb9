"""Saliency-map metrics against pysaliency (the reference) on random maps, hand-computed
cases, batches, fixation maps, and bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from neuroattn.gaze.metrics import auc_judd, cc, kl_divergence, nss, sim

H, W, N_MAPS = 23, 31, 6  # unequal sizes, so a transposed index shows


@pytest.fixture(scope="module")
def pysaliency():
    """pysaliency, imported quietly; its ROC code still calls ``np.trapz`` (gone in NumPy 2.4)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pkg_resources deprecation
        ps = pytest.importorskip("pysaliency")
    with pytest.MonkeyPatch.context() as mp:
        if not hasattr(np, "trapz"):
            mp.setattr(np, "trapz", np.trapezoid, raising=False)
        yield ps


@pytest.fixture(scope="module")
def data():
    """Random maps (two with negative values), sparse references, fixations with a repeat."""
    rng = np.random.default_rng(7)
    maps = rng.random((N_MAPS, H, W))
    maps[1] -= 0.5
    maps[4] = rng.normal(size=(H, W))
    refs = np.zeros((N_MAPS, H, W))
    fixations = []
    for k in range(N_MAPS):
        n = int(rng.integers(3, 15))
        xy = np.column_stack([rng.uniform(0, W, n), rng.uniform(0, H, n)])
        xy[-1] = xy[0] + 0.01          # two fixations on one pixel
        fixations.append(xy)
        counts = np.zeros((H, W))
        np.add.at(counts, (xy[:, 1].astype(int), xy[:, 0].astype(int)), 1)
        refs[k] = gaussian_filter(counts, 1.5, truncate=2.0)  # exact zeros far from fixations
    return maps, refs, fixations


def array_model(ps, maps):
    class ArrayModel(ps.SaliencyMapModel):
        """Map k for the stimulus whose pixels all equal k."""

        def _saliency_map(self, stimulus):
            return maps[int(stimulus[0, 0, 0])]

    stimuli = ps.Stimuli([np.full((H, W, 3), k, dtype=np.uint8) for k in range(len(maps))])
    return ArrayModel(caching=False), stimuli


def test_nss_matches_pysaliency(pysaliency, data):
    maps, _, fixations = data
    expected = [pysaliency.metrics.NSS(m, f[:, 0], f[:, 1]).mean()
                for m, f in zip(maps, fixations, strict=True)]
    np.testing.assert_allclose(nss(maps, fixations), expected, rtol=1e-12)
    assert nss(maps[2], fixations[2]) == pytest.approx(expected[2], rel=1e-12)


def test_auc_judd_matches_pysaliency(pysaliency, data):
    maps, _, fixations = data
    model, stimuli = array_model(pysaliency, maps)
    fix = pysaliency.Fixations.create_without_history(
        np.concatenate([f[:, 0] for f in fixations]), np.concatenate([f[:, 1] for f in fixations]),
        np.concatenate([np.full(len(f), k) for k, f in enumerate(fixations)]))
    per_image = model.AUC_per_image(stimuli, fix, nonfixations="unfixated", thresholds="fixations")
    got = auc_judd(maps, fixations)
    np.testing.assert_allclose(got, per_image, rtol=1e-12)
    assert got.mean() == pytest.approx(model.AUC_Judd(stimuli, fix, jitter=False), rel=1e-12)
    # the benchmark's default 1e-7 jitter only reorders near-equal pixels of continuous maps
    assert got.mean() == pytest.approx(model.AUC_Judd(stimuli, fix), abs=1e-3)


def test_map_metrics_match_pysaliency(pysaliency, data):
    maps, refs, _ = data
    pm = pysaliency.metrics
    with np.errstate(divide="ignore"):  # pysaliency takes log(0) of densities it then ignores
        check_map_metrics(pm, maps, refs)


def check_map_metrics(pm, maps, refs):
    pairs = list(zip(maps, refs, strict=True))
    np.testing.assert_allclose(cc(maps, refs), [pm.CC(m, r) for m, r in pairs], rtol=1e-12)
    np.testing.assert_allclose(sim(maps, refs), [pm.SIM(m, r) for m, r in pairs], rtol=1e-12)
    np.testing.assert_allclose(kl_divergence(maps, refs),
                               [pm.MIT_KLDiv(m, r) for m, r in pairs], rtol=1e-10)
    np.testing.assert_allclose(kl_divergence(maps, refs, kind="image"),
                               [pm.image_based_kl_divergence(m, r) for m, r in pairs],
                               rtol=1e-10)
    # zeros in the *prediction* are where the two KL conventions part ways
    sparse = np.where(maps[0] > 0.7, maps[0], 0.0)
    mit, image = kl_divergence(sparse, refs[0]), kl_divergence(sparse, refs[0], kind="image")
    assert mit == pytest.approx(pm.MIT_KLDiv(sparse, refs[0]), rel=1e-10)
    assert image == pytest.approx(pm.image_based_kl_divergence(sparse, refs[0]), rel=1e-10)
    assert image > mit + 1.0


def test_hand_computed_values():
    smap = np.array([[0.0, 1.0], [2.0, 3.0]])  # mean 1.5, population std sqrt(1.25)
    assert nss(smap, [[1.5, 1.5]]) == pytest.approx(1.5 / np.sqrt(1.25))
    assert nss(smap, [[0, 0], [1, 1]]) == pytest.approx(0.0, abs=1e-15)
    assert auc_judd(smap, [[1, 1]]) == 1.0                   # the most salient pixel
    # fixating the least salient pixel: (0,0) -> (1,1) straight, area 0.5; never below
    assert auc_judd(smap, [[0, 0]]) == 0.5
    # fixating 2.0: (0,0) -> (1/3, 1) -> (1, 1): 1/6 + 2/3
    assert auc_judd(smap, [[0, 1]]) == pytest.approx(5 / 6)
    assert cc(smap, smap.T) == pytest.approx(0.8)
    uniform = np.ones((2, 2))
    assert sim(smap, smap * 7) == pytest.approx(1.0)
    assert sim(smap, uniform) == pytest.approx(0.25 * 2 + 1 / 6 + 0)  # min(p, 1/4) summed
    assert sim(np.eye(2), 1 - np.eye(2)) == 0.0
    # KL(q || p) with q = (0.5, 0.5, 0, 0) and p uniform: log 2
    half = np.array([[1.0, 1.0], [0.0, 0.0]])
    assert kl_divergence(uniform, half) == pytest.approx(np.log(2))
    assert kl_divergence(uniform, half, kind="image") == pytest.approx(np.log(2), rel=1e-9)


def test_constant_and_all_zero_maps_are_defined():
    const, zero = np.full((3, 4), 2.0), np.zeros((3, 4))
    ramp = np.arange(12.0).reshape(3, 4)
    assert nss(const, [[1, 1]]) == 0.0
    assert auc_judd(const, [[1, 1]]) == 0.5
    assert cc(const, ramp) == 0.0 and cc(ramp, const) == 0.0
    assert sim(zero, const) == pytest.approx(1.0)           # both become uniform
    assert abs(kl_divergence(zero, const)) < 1e-12


def test_fixation_maps_equal_coordinates(data):
    maps, _, fixations = data
    counts = np.zeros((N_MAPS, H, W), dtype=int)
    for k, f in enumerate(fixations):
        np.add.at(counts[k], (np.floor(f[:, 1]).astype(int), np.floor(f[:, 0]).astype(int)), 1)
    assert counts.max() >= 2
    np.testing.assert_allclose(nss(maps, fixation_map=counts), nss(maps, fixations), rtol=1e-14)
    np.testing.assert_allclose(auc_judd(maps, fixation_map=counts), auc_judd(maps, fixations),
                               rtol=1e-14)
    binary = counts[3] > 0          # a boolean map of a single image
    assert nss(maps[3], fixation_map=binary) == pytest.approx(
        nss(maps[3], np.argwhere(binary)[:, ::-1] + 0.5), rel=1e-14)


def test_batches_equal_single_maps_and_accept_torch(data):
    maps, refs, fixations = data
    for fn, other in ((nss, fixations), (auc_judd, fixations), (cc, refs), (sim, refs),
                      (kl_divergence, refs)):
        batch = fn(maps, other)
        assert isinstance(batch, np.ndarray) and batch.shape == (N_MAPS,)
        single = [fn(maps[k], other[k]) for k in range(N_MAPS)]
        assert all(isinstance(s, float) for s in single)
        np.testing.assert_allclose(batch, single, rtol=1e-13)
    t = torch.tensor(maps, dtype=torch.float64, requires_grad=True)
    np.testing.assert_allclose(cc(t, torch.tensor(refs)), cc(maps, refs), rtol=1e-14)
    np.testing.assert_allclose(nss(t[0], torch.tensor(fixations[0])), nss(maps[0], fixations[0]),
                               rtol=1e-14)


def test_saliency_errors(data):
    maps, refs, fixations = data
    with pytest.raises(ValueError, match="NaN"):
        nss(np.full((3, 3), np.nan), [[1, 1]])
    with pytest.raises(ValueError, match=r"\(height, width\) map"):
        nss(np.zeros(9), [[1, 1]])
    with pytest.raises(ValueError, match=r"\(height, width\) map"):
        cc(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 3, 3)))
    with pytest.raises(ValueError, match=f"outside the {H} x {W}"):
        nss(maps[0], [[W, 1.0]])                     # x indexes the width: x = W is off-image
    with pytest.raises(ValueError, match="NaN"):
        auc_judd(maps[0], [[np.nan, 1.0]])
    with pytest.raises(ValueError, match="empty scanpath"):
        nss(maps[0], np.zeros((0, 2)))
    with pytest.raises(ValueError, match="5 scanpaths for 6 maps"):
        nss(maps, fixations[:5])
    with pytest.raises(ValueError, match="list of 6"):
        nss(maps, fixations[0])
    with pytest.raises(ValueError, match="non-negative integers"):
        nss(maps[0], fixation_map=np.full((H, W), 0.5))
    with pytest.raises(ValueError, match="all zero"):
        auc_judd(maps, fixation_map=np.zeros((N_MAPS, H, W), dtype=int))
    with pytest.raises(ValueError, match="unfixated pixels"):
        auc_judd(maps[0], fixation_map=np.ones((H, W), dtype=int))
    with pytest.raises(ValueError, match="fixation_map has shape"):
        nss(maps, fixation_map=np.ones((H, W), dtype=int))
    with pytest.raises(TypeError, match="exactly one"):
        nss(maps[0])
    with pytest.raises(TypeError, match="exactly one"):
        nss(maps[0], fixations[0], fixation_map=np.ones((H, W), dtype=int))
    # a (2, 2) map and two fixations: coordinates are never mistaken for a fixation map
    assert nss(np.array([[0.0, 1.0], [2.0, 3.0]]), [[0, 0], [1, 1]]) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="same size"):
        sim(maps[0], refs[0][:, :-1])
    with pytest.raises(ValueError, match="same size"):
        cc(maps[:1], refs[0])
    with pytest.raises(ValueError, match="kind must be"):
        kl_divergence(maps[0], refs[0], kind="judd")
