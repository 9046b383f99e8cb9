"""Tests of the synthetic image → fMRI benchmark (neuroattn.datasets.synthetic.encoding)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neuroattn.config import ConfigError
from neuroattn.datasets.synthetic.encoding import (
    FSAVERAGE5_N_VERTICES,
    SyntheticEncoding,
    SyntheticEncodingConfig,
    _fsaverage5,
    make_synthetic_encoding,
)

# Small and deliberately unequal: 7 x 9 grid, 12 channels, 3 + 1 + 2 ROIs of 11 voxels.
SMALL = dict(height=7, width=9, n_features=12, n_categories=3, n_train=60, n_test=12,
             n_retinotopic=3, n_category=1, n_mixed=2, voxels_per_roi=11)


@pytest.fixture(scope="module")
def data() -> SyntheticEncoding:
    """The default benchmark (2000 + 200 images, 6 ROIs x 40 voxels)."""
    return make_synthetic_encoding(seed=0)


@pytest.fixture(scope="module")
def small() -> SyntheticEncoding:
    return make_synthetic_encoding(**SMALL, seed=4)


def _pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(0)
    b = b - b.mean(0)
    return (a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0))


def test_shapes_and_dtypes(data, small):
    cfg = data.config
    v = 6 * 40
    assert data.X_train.shape == (2000, 8, 8, 32) and data.X_train.dtype == np.float32
    assert data.X_test.shape == (200, 8, 8, 32)
    assert data.Y_train.shape == (2000, v) and data.Y_train.dtype == np.float32
    assert data.Y_test.shape == (200, v) and data.Y_test.dtype == np.float32
    assert data.Y_test_repeats.shape == (cfg.n_repeats, 200, v)
    assert data.ncsnr.shape == data.noise_ceiling.shape == (v,)
    assert data.roi_membership.shape == (v, 6) and data.roi_membership.dtype == bool
    assert data.roi_names == ["ret0", "ret1", "cat0", "cat1", "mix0", "mix1"]
    assert data.roi_kinds == ["retinotopic"] * 2 + ["category"] * 2 + ["mixed"] * 2
    assert data.roi_hemispheres == ["lh", "rh"] * 3
    assert data.roi_categories.tolist() == [-1, -1, 0, 1, 2, 3]
    assert data.voxel_positions.shape == (v, 3) and data.voxel_weights.shape == (v, 32)
    assert data.prototypes.shape == (4, 32)
    assert data.routing(data.X_test[:5]).shape == (5, 6, 8, 8)
    # the unequal grid
    assert small.X_train.shape == (60, 7, 9, 12) and small.Y_train.shape == (60, 66)
    assert small.routing(small.X_test).shape == (12, 6, 7, 9)
    assert all(np.isfinite(a).all() for a in (data.X_train, data.Y_train, data.Y_test))


def test_deterministic_by_seed_and_splits_independent():
    a = make_synthetic_encoding(**SMALL, seed=1)
    b = make_synthetic_encoding(**SMALL, seed=1)
    c = make_synthetic_encoding(**SMALL, seed=2)
    for name in ("X_train", "Y_train", "X_test", "Y_test_repeats", "voxel_vertex", "ncsnr"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.allclose(a.Y_train, c.Y_train)
    assert not np.array_equal(a.voxel_vertex, c.voxel_vertex)
    # more training images leave the test split (and the voxels) unchanged
    d = make_synthetic_encoding(**{**SMALL, "n_train": 90}, seed=1)
    np.testing.assert_array_equal(d.X_test, a.X_test)
    np.testing.assert_array_equal(d.voxel_weights, a.voxel_weights)
    np.testing.assert_array_equal(d.Y_test, a.Y_test)
    again = make_synthetic_encoding(a.config)
    np.testing.assert_array_equal(again.Y_train, a.Y_train)


def test_routing_is_a_distribution_and_retinotopy_is_static(data, small):
    for ds in (data, small):
        maps = ds.routing(ds.X_test)
        assert maps.dtype == np.float32 and (maps >= 0).all()
        np.testing.assert_allclose(maps.sum((2, 3)), 1.0, atol=1e-5)
        ret = [r for r, k in enumerate(ds.roi_kinds) if k == "retinotopic"]
        noise = np.random.default_rng(0).normal(size=(3, *ds.X_test.shape[1:]))
        other = ds.routing(noise)
        for r in ret:  # the same map for every image, and for any input
            np.testing.assert_allclose(maps[:, r], maps[:1, r].repeat(len(maps), 0), atol=1e-7)
            np.testing.assert_allclose(other[:, r], maps[:3, r], atol=1e-7)
            # the pRF peaks at its centre
            cy, cx = ds.roi_centres[r]
            iy, ix = np.unravel_index(np.argmax(maps[0, r]), maps.shape[2:])
            assert abs(iy - cy) <= 0.5 + 1e-9 and abs(ix - cx) <= 0.5 + 1e-9
        cat = [r for r, k in enumerate(ds.roi_kinds) if k != "retinotopic"]
        assert all(np.ptp(maps[:, r], axis=0).max() > 0.1 for r in cat)  # image-dependent


def test_contralateral_centres(data):
    w = data.config.width
    for r, hemi in enumerate(data.roi_hemispheres):
        if data.roi_kinds[r] == "category":
            assert np.isnan(data.roi_centres[r]).all() and np.isnan(data.roi_sigmas[r])
            continue
        x = data.roi_centres[r, 1]
        assert (x >= w / 2) if hemi == "lh" else (x <= w / 2 - 1)


def test_category_maps_peak_on_their_category(data):
    maps = data.routing(data.X_test)
    obj = data.objects_test
    gy, gx = np.meshgrid(np.arange(8.0), np.arange(8.0), indexing="ij")
    for r, kind in enumerate(data.roi_kinds):
        if kind != "category":
            continue
        k = data.roi_categories[r]
        hits, total = 0, 0
        for n in np.unique(obj["image"][obj["category"] == k]):
            sel = (obj["image"] == n) & (obj["category"] == k)
            iy, ix = np.unravel_index(np.argmax(maps[n, r]), (8, 8))
            dist = np.hypot(obj["y"][sel] - gy[iy, ix], obj["x"][sel] - gx[iy, ix])
            hits += bool(dist.min() <= 1.5)  # the peak token or a (diagonal) neighbour
            total += 1
        assert total > 30 and hits / total >= 0.9, (data.roi_names[r], hits, total)
        # and the map puts most of its mass near such objects, not near other categories
        near_own, near_other = [], []
        for n in range(len(maps)):
            for sel, out in (((obj["image"] == n) & (obj["category"] == k), near_own),
                             ((obj["image"] == n) & (obj["category"] != k), near_other)):
                if sel.any():
                    d = np.min(np.hypot(gy[..., None] - obj["y"][sel], gx[..., None]
                                        - obj["x"][sel]), axis=-1)
                    out.append(maps[n, r][d <= 1.0].sum())
        assert np.mean(near_own) > 0.7 > 0.3 > np.mean(near_other)


def test_beta_zero_makes_category_routing_uniform():
    ds = make_synthetic_encoding(**SMALL, beta=0.0)
    maps = ds.routing(ds.X_test)
    np.testing.assert_allclose(maps[:, 3], 1.0 / (7 * 9), atol=1e-6)


def test_noise_ceiling_formula_and_repeats(data, small):
    for ds in (data, small):
        r = ds.config.n_repeats
        lo, hi = ds.config.ncsnr_range
        assert ds.ncsnr.min() >= lo and ds.ncsnr.max() <= hi
        np.testing.assert_allclose(ds.noise_ceiling, ds.ncsnr**2 / (ds.ncsnr**2 + 1 / r))
        np.testing.assert_allclose(ds.Y_test, ds.Y_test_repeats.mean(0), atol=1e-6)
    one = make_synthetic_encoding(**SMALL, n_repeats=1)
    np.testing.assert_array_equal(one.Y_test, one.Y_test_repeats[0])
    np.testing.assert_allclose(one.noise_ceiling, one.ncsnr**2 / (one.ncsnr**2 + 1))


def test_noise_model(data):
    """Signal has unit sd; single-trial noise has sd 1/ncsnr, on train and test."""
    s_train = data.true_response(data.X_train)
    s_test = data.true_response(data.X_test)
    sd_signal = s_train.std(0)
    assert abs(np.median(sd_signal) - 1) < 0.1
    assert abs(np.median(s_train.mean(0))) < 0.1
    noise_sd = (data.Y_train - s_train).std(0) * data.ncsnr
    np.testing.assert_allclose(np.median(noise_sd), 1.0, atol=0.05)
    rep_sd = (data.Y_test_repeats - s_test[None]).std((0, 1)) * data.ncsnr
    np.testing.assert_allclose(np.median(rep_sd), 1.0, atol=0.05)


def test_ground_truth_model_reaches_the_noise_ceiling(data):
    """r²/NC of the true model on the test means ≈ 1: test noise is what NC accounts for."""
    r = np.clip(_pearson(data.true_response(data.X_test), data.Y_test), 0, None)
    score = np.minimum(r**2 / data.noise_ceiling, 1.0)
    assert score.mean() >= 0.9
    for kind in ("retinotopic", "category", "mixed"):
        cols = [i for i, k in enumerate(data.roi_kinds) if k == kind]
        rows = data.roi_membership[:, cols].any(1)
        assert score[rows].mean() >= 0.85, kind
    # the true weights with the wrong routing (mean pooling) fall behind on every ROI kind
    pooled = data.X_test.mean((1, 2)) @ data.voxel_weights.T
    r_pool = np.clip(_pearson(pooled, data.Y_test), 0, None)
    pooled_score = np.minimum(r_pool**2 / data.noise_ceiling, 1)
    for cols in ([0, 1], [2, 3], [4, 5]):
        rows = data.roi_membership[:, cols].any(1)
        assert pooled_score[rows].mean() < score[rows].mean() - 0.15


def test_voxels_sit_on_distinct_fsaverage5_vertices(data, small):
    for ds in (data, small):
        key = [f"{h}{v}" for h, v in zip(ds.voxel_hemisphere, ds.voxel_vertex, strict=True)]
        assert len(set(key)) == ds.n_voxels
        assert ds.voxel_vertex.min() >= 0 and ds.voxel_vertex.max() < FSAVERAGE5_N_VERTICES
        for hemi in ("lh", "rh"):
            rows = ds.voxel_hemisphere == hemi
            coords, _ = _fsaverage5(hemi)
            np.testing.assert_array_equal(ds.voxel_positions[rows], coords[ds.voxel_vertex[rows]])
            x = ds.voxel_positions[rows, 0]
            assert (x < 2).all() if hemi == "lh" else (x > -2).all()
        # each voxel's hemisphere is its ROI's
        assert [ds.roi_hemispheres[r] for r in ds.voxel_roi] == ds.voxel_hemisphere.tolist()
    pos = data.voxel_positions
    for r, kind in enumerate(data.roi_kinds):
        p = pos[data.voxel_roi == r]
        if kind == "retinotopic":  # occipital pole
            assert p[:, 1].mean() < -75
        elif kind == "category":  # ventral temporal: inferior, mid-posterior
            assert p[:, 2].mean() < -5 and -80 < p[:, 1].mean() < -25
        else:  # lateral occipital
            assert np.abs(p[:, 0]).mean() > 30 and p[:, 1].mean() < -60
        # a patch is compact: every voxel within 40 mm of its ROI's centroid
        assert np.linalg.norm(p - p.mean(0), axis=1).max() < 40


def test_neighbouring_voxels_have_similar_weights():
    def neighbour_similarity(ds):
        sims = []
        for r in range(ds.n_rois):
            rows = np.flatnonzero(ds.voxel_roi == r)
            direction = ds.voxel_weights[rows].mean(0)
            z = ds.voxel_weights[rows] - direction
            z /= np.linalg.norm(z, axis=1, keepdims=True)
            _, graph = _fsaverage5(ds.roi_hemispheres[r])
            adj = graph[ds.voxel_vertex[rows]][:, ds.voxel_vertex[rows]].toarray() > 0
            sims.append((z @ z.T)[adj].mean())
        return float(np.mean(sims))

    smooth = make_synthetic_encoding(**SMALL, smoothing_steps=3)
    rough = make_synthetic_encoding(**SMALL, smoothing_steps=0)
    assert neighbour_similarity(smooth) > 0.5 > 0.2 > neighbour_similarity(rough)


def test_overlapping_voxels_read_the_mean_of_their_rois():
    ds = make_synthetic_encoding(**SMALL, overlap_fraction=0.2)  # 2 of 11 voxels per ROI
    m = ds.roi_membership
    assert m.sum(1).max() == 2 and (m.sum(1) == 2).sum() == 2 * ds.n_rois
    owned = m[np.arange(ds.n_voxels), ds.voxel_roi]
    assert owned.all()
    # partners are in the same hemisphere when possible
    for v in np.flatnonzero(m.sum(1) == 2):
        r1, r2 = np.flatnonzero(m[v])
        assert ds.roi_hemispheres[r1] == ds.roi_hemispheres[r2]
    # response of an overlapping voxel: u_v . mean(h_r1, h_r2), standardised
    X = ds.X_test
    maps = ds.routing(X).astype(np.float64).reshape(len(X), ds.n_rois, -1)
    tokens = np.einsum("nrp,npc->nrc", maps, X.reshape(len(X), -1, X.shape[-1]))
    v = int(np.flatnonzero(m.sum(1) == 2)[0])
    raw = tokens[:, m[v]].mean(1) @ ds.voxel_weights[v]
    expected = (raw - ds.signal_mean[v]) / ds.signal_sd[v]
    np.testing.assert_allclose(ds.true_response(X)[:, v], expected, rtol=1e-4, atol=1e-4)
    # without overlap the membership is one-hot
    assert (make_synthetic_encoding(**SMALL).roi_membership.sum(1) == 1).all()


def test_to_stores_round_trip(small, tmp_path):
    from neuroattn.store import open_store

    paths = small.to_stores(tmp_path / "bench")
    feats = open_store(paths["features"], kind="features")
    fmri = open_store(paths["fmri"], kind="fmri")
    n_tr, n_te = len(small.X_train), len(small.X_test)
    np.testing.assert_array_equal(feats.features.values, np.concatenate([small.X_train,
                                                                        small.X_test]))
    assert feats.split.values.tolist() == ["train"] * n_tr + ["test"] * n_te
    np.testing.assert_array_equal(fmri.responses.values[:n_tr], small.Y_train)
    np.testing.assert_array_equal(fmri.responses.values[n_tr:], small.Y_test)
    assert fmri.stimulus.values.tolist() == feats.stimulus.values.tolist()
    assert fmri.n_repeats.values.tolist() == [1] * n_tr + [3] * n_te
    np.testing.assert_allclose(fmri.noise_ceiling.values, small.noise_ceiling)
    np.testing.assert_allclose(fmri.ncsnr.values, small.ncsnr)
    np.testing.assert_array_equal(fmri.roi_membership.values, small.roi_membership)
    assert fmri.roi_name.values.tolist() == small.roi_names
    assert fmri.roi.values.tolist() == small.voxel_labels.tolist()
    assert fmri.hemisphere.values.tolist() == small.voxel_hemisphere.tolist()
    np.testing.assert_array_equal(fmri.vertex.values, small.voxel_vertex)
    assert fmri.attrs["space"] == "fsaverage5"
    assert fmri.attrs["noise_ceiling_units"] == "fraction"
    assert fmri.attrs["ground_truth"]["config"]["seed"] == 4
    with pytest.raises(FileExistsError, match="overwrite=True"):
        small.to_stores(tmp_path / "bench")
    small.to_stores(tmp_path / "bench", overwrite=True)


def test_ground_truth_is_json(small):
    gt = json.loads(json.dumps(small.ground_truth()))
    assert gt["generator"] == "neuroattn.datasets.synthetic.encoding"
    assert [r["name"] for r in gt["rois"]] == small.roi_names
    assert gt["rois"][3]["kind"] == "category" and gt["rois"][3]["center_yx"] is None
    assert make_synthetic_encoding(SyntheticEncodingConfig(**gt["config"])).Y_train.tolist() \
        == small.Y_train.tolist()


@pytest.mark.parametrize(("overrides", "match"), [
    ({"prototype_norm": 0.0}, "prototype_norm"),
    ({"n_retinotopic": 0, "n_category": 0, "n_mixed": 0}, "at least one ROI"),
    ({"overlap_fraction": 0.1, "n_retinotopic": 1, "n_category": 0, "n_mixed": 0},
     "two ROIs"),
    ({"objects_per_image": (3, 1)}, "low > high"),
    ({"ncsnr_range": (0.0, 1.0)}, "ncsnr_range"),
    ({"height": 3}, "height"),
    ({"n_repeats": 0}, "n_repeats"),
    ({"beta": -1.0}, "beta"),
    ({"voxels_per_roi": 5000}, "voxels_per_roi"),
    ({"colour": 1}, "Unknown parameter"),
])
def test_bad_parameters_say_what_to_fix(overrides, match):
    with pytest.raises(ValueError, match=match):
        make_synthetic_encoding(**overrides)


def test_bad_inputs(small):
    with pytest.raises(ValueError, match=r"must be \(n, 7, 9, 12\)"):
        small.routing(np.zeros((2, 9, 7, 12)))
    with pytest.raises(ValueError, match="channels last"):
        small.true_response(np.zeros((7, 9, 12)))
    with pytest.raises(ValueError, match="SyntheticEncodingConfig or None"):
        make_synthetic_encoding({"seed": 1})
    with pytest.raises(ValueError, match="free connected vertices"):
        make_synthetic_encoding(**{**SMALL, "voxels_per_roi": 2000, "n_retinotopic": 12})


# ----------------------------------------------------------------------------------------------
# Readouts outside the encoder's class, and the overlap rule
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_prf() -> SyntheticEncoding:
    return make_synthetic_encoding(**SMALL, seed=4, readout="prf", overlap_fraction=0.2)


@pytest.fixture(scope="module")
def small_max() -> SyntheticEncoding:
    return make_synthetic_encoding(**SMALL, seed=4, readout="max")


def _raw(ds: SyntheticEncoding, X: np.ndarray) -> np.ndarray:
    """The clean response before standardisation."""
    return ds.true_response(X).astype(np.float64) * ds.signal_sd + ds.signal_mean


def test_readouts_share_images_voxels_and_noise(small, small_prf, small_max):
    for ds in (small_prf, small_max):
        for name in ("X_train", "X_test", "voxel_weights", "voxel_vertex", "ncsnr"):
            np.testing.assert_array_equal(getattr(ds, name), getattr(small, name))
        assert not np.allclose(ds.Y_train, small.Y_train)
        # the noise is the same draw: Y - clean signal agrees with the attention data's
        np.testing.assert_allclose(ds.Y_train - ds.true_response(ds.X_train),
                                   small.Y_train - small.true_response(small.X_train),
                                   atol=1e-4)
        with pytest.raises(ConfigError, match="no ROI routing map"):
            ds.routing(ds.X_test)
    assert np.isnan(small.voxel_prf_centres).all() and np.isnan(small_max.voxel_prf_sigmas).all()
    assert small_prf.ground_truth()["readout"] == "prf"


def test_overlap_sum_and_mean_give_the_same_standardised_responses():
    mean = make_synthetic_encoding(**SMALL, overlap_fraction=0.2)
    summed = make_synthetic_encoding(**SMALL, overlap_fraction=0.2, overlap_rule="sum")
    two = mean.roi_membership.sum(1) == 2
    assert two.sum() == 2 * mean.n_rois
    # the raw sum is twice the raw mean for an overlapping voxel, and equal otherwise ...
    np.testing.assert_allclose(summed.signal_sd[two], 2 * mean.signal_sd[two], rtol=1e-10)
    np.testing.assert_allclose(summed.signal_sd[~two], mean.signal_sd[~two], rtol=1e-10)
    # ... so standardisation leaves the same data
    np.testing.assert_allclose(summed.Y_train, mean.Y_train, atol=1e-5)
    np.testing.assert_allclose(summed.Y_test, mean.Y_test, atol=1e-5)
    assert "sum" in summed.ground_truth()["overlap_rule"]


def test_prf_readout_is_a_gaussian_per_voxel_on_one_channel_block(small_prf):
    ds, cfg = small_prf, small_prf.config
    h, w, c = cfg.height, cfg.width, cfg.n_features
    assert ds.voxel_prf_centres.shape == (ds.n_voxels, 2)
    assert (ds.voxel_prf_centres >= 0).all()
    assert (ds.voxel_prf_centres <= [h - 1, w - 1]).all()
    assert not np.isnan(ds.roi_centres).any()  # category ROIs have a place too
    lo, hi = 0.75 * ds.roi_sigmas[ds.voxel_roi], 1.25 * ds.roi_sigmas[ds.voxel_roi]
    assert ((ds.voxel_prf_sigmas >= lo) & (ds.voxel_prf_sigmas <= hi)).all()
    # The response, transcribed from the definition: a normalised Gaussian over the grid,
    # the voxel's weights on its ROIs' channel blocks (3 blocks of 4 channels here), the mean
    # of the reads of an overlapping voxel.
    X = ds.X_test.astype(np.float64)
    gy, gx = np.mgrid[:h, :w].astype(float)
    for v in [0, *np.flatnonzero(ds.roi_membership.sum(1) == 2)[:2]]:
        (cy, cx), s = ds.voxel_prf_centres[v], ds.voxel_prf_sigmas[v]
        g = np.exp(-((gy - cy) ** 2 + (gx - cx) ** 2) / (2 * s**2))
        pooled = np.einsum("hw,nhwc->nc", g / g.sum(), X)
        reads = []
        for r in np.flatnonzero(ds.roi_membership[v]):
            block = (r % cfg.n_feature_subsets) * c // cfg.n_feature_subsets
            channels = slice(block, block + c // cfg.n_feature_subsets)
            reads.append(pooled[:, channels] @ ds.voxel_weights[v, channels])
        np.testing.assert_allclose(_raw(ds, ds.X_test)[:, v], np.mean(reads, 0), rtol=1e-4,
                                   atol=1e-4)
    # linear in the features (ridge's class on the flattened grid)
    a, b = ds.X_test[:4].astype(np.float64), ds.X_test[4:8].astype(np.float64)
    np.testing.assert_allclose(_raw(ds, a + b), _raw(ds, a) + _raw(ds, b), atol=1e-4)


def test_prf_centres_form_a_map_across_each_patch():
    ds = make_synthetic_encoding(seed=0, n_train=16, n_test=4, readout="prf")
    for r in range(ds.n_rois):
        rows = np.flatnonzero(ds.voxel_roi == r)
        centres = ds.voxel_prf_centres[rows]
        unclipped = (centres > 0).all(1) & (centres < 7).all(1)
        # within prf_scatter of the ROI centre along the patch axes, and spread over it
        dist = np.abs(centres[unclipped] - ds.roi_centres[r]).max(1)
        assert dist.max() <= ds.config.prf_scatter * np.sqrt(2) + 1e-9
        assert np.ptp(centres, axis=0).max() > 1.0
        # neighbouring voxels on the mesh see neighbouring places (a retinotopic map)
        _, graph = _fsaverage5(ds.roi_hemispheres[r])
        adj = graph[ds.voxel_vertex[rows]][:, ds.voxel_vertex[rows]].toarray() > 0
        gaps = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
        assert gaps[adj].mean() < 0.5 * gaps[~np.eye(len(rows), dtype=bool)].mean()


def test_max_readout_max_pools_each_channel_over_the_roi_window(small_max):
    ds, cfg = small_max, small_max.config
    X = ds.X_test.astype(np.float64)
    gy, gx = np.mgrid[:cfg.height, :cfg.width].astype(float)
    for r, kind in enumerate(ds.roi_kinds):
        if kind == "category":
            window = np.ones(gy.shape, bool)
        else:
            (cy, cx), s = ds.roi_centres[r], ds.roi_sigmas[r]
            d2 = (gy - cy) ** 2 + (gx - cx) ** 2
            window = (d2 <= (2 * s) ** 2) | (d2 == d2.min())
        pooled = X[:, window].max(1)  # (n, C): every channel's own maximum
        v = int(np.flatnonzero(ds.voxel_roi == r)[0])
        np.testing.assert_allclose(_raw(ds, ds.X_test)[:, v], pooled @ ds.voxel_weights[v],
                                   rtol=1e-4, atol=1e-4)
    # not linear: the response to a sum of images is not the sum of the responses
    a, b = X[:4], X[4:8]
    assert np.abs(_raw(ds, a + b) - _raw(ds, a) - _raw(ds, b)).max() > 0.5


@pytest.mark.parametrize(("overrides", "match"), [
    ({"readout": "gaussian"}, "readout='gaussian' is not a readout"),
    ({"overlap_rule": "median"}, "overlap_rule='median' is not a rule"),
    ({"n_feature_subsets": 0}, "n_feature_subsets"),
    ({"n_feature_subsets": 33}, "n_feature_subsets"),
    ({"prf_scatter": -1.0}, "prf_scatter"),
])
def test_bad_readout_parameters_say_what_to_fix(overrides, match):
    with pytest.raises(ValueError, match=match):
        SyntheticEncodingConfig(**overrides)
