"""Transformer brain encoder and the spatial-feature baseline: shapes, exact properties, API."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from neuroattn.config import ConfigError
from neuroattn.encoding import SpatialFeatureEncoder, TransformerBrainEncoder
from neuroattn.encoding.layers import RoutingDecoder, VoxelReadout, sine_positions

FAST = dict(d_model=16, n_heads=2, max_epochs=2, batch_size=16, progress=False)
FAST_SPATIAL = dict(max_epochs=2, batch_size=16, progress=False)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return (rng.normal(size=(48, 4, 5, 6)).astype("float32"),
            rng.normal(size=(48, 7)).astype("float32"))


def test_sine_positions_are_distinct_and_bounded():
    code = sine_positions(4, 5, 16)
    assert code.shape == (20, 16) and code.abs().max() <= 1
    assert torch.cdist(code, code).add(torch.eye(20)).min() > 1e-3  # every position differs


def test_query_chunks_do_not_change_the_result():
    torch.manual_seed(0)
    decoder = RoutingDecoder(6, n_queries=7, d_model=16, n_heads=2, dropout=0.0).eval()
    grid = torch.randn(3, 4, 5, 6)
    whole = decoder(grid)
    decoder.query_chunk = 2
    chunked = decoder(grid)
    for a, b in zip(whole, chunked, strict=True):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(whole[1].sum(-1), torch.ones(3, 7))


def test_overlapping_readout_equals_the_dense_formula():
    torch.manual_seed(0)
    membership = torch.tensor([[1, 0, 0], [1, 1, 0], [0, 1, 1], [1, 1, 1], [0, 0, 1]],
                              dtype=torch.bool)
    readout = VoxelReadout(membership, n_voxels=5, dim=4)
    tokens = torch.randn(2, 3, 4)
    # A voxel reads the mean of its ROIs' tokens.
    mean_token = torch.einsum("vr,brd->bvd", membership.float() / membership.sum(1, True),
                              tokens)
    expected = torch.einsum("bvd,vd->bv", mean_token, readout.weight) + readout.bias
    torch.testing.assert_close(readout(tokens), expected)


def test_sum_rule_is_the_reference_readout_and_a_rescaled_mean():
    """``overlap_rule="sum"``: the reference's sum of per-ROI predictions (bias per read)."""
    torch.manual_seed(0)
    membership = torch.tensor([[1, 0, 0], [1, 1, 0], [0, 1, 1], [1, 1, 1], [0, 0, 1]],
                              dtype=torch.bool)
    summed = VoxelReadout(membership, n_voxels=5, dim=4, overlap_rule="sum")
    with torch.no_grad():
        summed.bias.normal_()
    tokens = torch.randn(2, 3, 4)
    # The reference, transcribed: every ROI token is read by every voxel (weights and bias),
    # then the ROI mask keeps each voxel's own ROIs and sums them.
    per_roi = torch.einsum("brd,vd->brv", tokens, summed.weight) + summed.bias
    reference = (per_roi * membership.T.float()).sum(1)
    torch.testing.assert_close(summed(tokens), reference)
    # The same function class as the mean: scale each voxel's weight and bias by its ROI count.
    mean = VoxelReadout(membership, n_voxels=5, dim=4)
    count = membership.sum(1, keepdim=True).float()
    with torch.no_grad():
        mean.weight.copy_(summed.weight * count)
        mean.bias.copy_(summed.bias * count[:, 0])
    torch.testing.assert_close(mean(tokens), summed(tokens))


def test_overlap_rule_reaches_both_encoders(data):
    X, Y = data
    rois = np.zeros((7, 2), bool)
    rois[:4, 0] = rois[3:, 1] = True  # voxel 3 is in both
    for cls, kwargs in ((TransformerBrainEncoder, FAST), (SpatialFeatureEncoder, FAST_SPATIAL)):
        enc = cls(overlap_rule="sum", **kwargs).fit(X, Y, rois=rois)
        assert enc.get_params()["overlap_rule"] == "sum"
        assert enc.module_.readout.bias_count.tolist() == [1, 1, 1, 2, 1, 1, 1]
        with pytest.raises(ConfigError, match="overlap_rule='max'.*'mean'.*'sum'"):
            cls(overlap_rule="max", **kwargs).fit(X, Y, rois=rois)


@pytest.mark.parametrize("mode", ["roi", "voxel", "shared"])
def test_modes_fit_predict_and_route(data, mode):
    X, Y = data
    enc = TransformerBrainEncoder(mode, **FAST).fit(X, Y, rois=[0, 0, 1, 1, 2, 2, 2])
    assert enc.predict(X).shape == (48, 7)
    n_queries = {"roi": 3, "voxel": 7, "shared": 1}[mode]
    maps = enc.attention_maps(X[:5])
    assert maps.shape == (5, n_queries, 4, 5)
    np.testing.assert_allclose(maps.sum((-2, -1)), 1, rtol=1e-5)
    assert len(enc.history_) <= 2 and 1 <= enc.best_epoch_ <= 2


def test_spatial_feature_maps_are_image_independent(data):
    X, Y = data
    enc = SpatialFeatureEncoder(max_epochs=2, progress=False).fit(X, Y, rois=[0, 0, 1, 1, 2,
                                                                              2, 2])
    maps = enc.attention_maps(X[:4])
    np.testing.assert_allclose(maps, np.broadcast_to(maps[:1], maps.shape))


def test_numpy_torch_and_xarray_inputs_agree(data):
    X, Y = data
    rois = np.array([0, 0, 1, 1, 2, 2, 2])
    ref = TransformerBrainEncoder(**FAST).fit(X, Y, rois=rois).predict(X)
    Xa = xr.DataArray(X, dims=("stimulus", "y", "x", "feature"))
    Ya = xr.DataArray(Y, dims=("stimulus", "voxel"))
    got = TransformerBrainEncoder(**FAST).fit(torch.from_numpy(X), Ya, rois=rois).predict(Xa)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_sklearn_conventions(data):
    X, Y = data
    enc = TransformerBrainEncoder(n_layers=2, **FAST)
    assert clone(enc).get_params() == enc.get_params()
    enc.set_params(lr=3e-3)
    assert enc.lr == 3e-3
    assert not hasattr(enc, "module_")
    with pytest.raises(NotFittedError, match="not fitted"):
        enc.predict(X)
    enc.fit(X, Y, rois=np.arange(7) % 3)
    assert -1 <= enc.score(X, Y) <= 1


@pytest.mark.parametrize("kwargs, message", [
    (dict(rois=None), "needs fit"),
    (dict(rois=[[True, False]] * 6 + [[False, False]]), "in no ROI"),
    (dict(rois=[0, 1]), "7 voxels"),
])
def test_bad_rois_are_named(data, kwargs, message):
    X, Y = data
    with pytest.raises(ValueError, match=message):
        TransformerBrainEncoder(**FAST).fit(X, Y, **kwargs)


def test_bad_inputs_are_named(data):
    X, Y = data
    with pytest.raises(ValueError, match="stimuli"):
        TransformerBrainEncoder(**FAST).fit(X, Y[:10], rois=np.arange(7) % 3)
    enc = TransformerBrainEncoder(**FAST).fit(X, Y, rois=np.arange(7) % 3)
    with pytest.raises(ValueError, match="fitted on"):
        enc.predict(X[:, :3])
    bad = X.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        enc.predict(bad)
