"""Encoding metrics: hand-computed values, NumPy's corrcoef as the reference, input types."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import xarray as xr

from neuroattn.encoding.metrics import (
    algonauts_score,
    noise_ceiling,
    noise_normalized_accuracy,
    pearson_r,
)


def test_pearson_r_hand_computed():
    # deviations (-1, 0, 1) and (-4/3, -1/3, 5/3): r = 3 / sqrt(2 * 42/9) = 9 / sqrt(84)
    r = pearson_r(np.array([[1.0], [2.0], [3.0]]), np.array([[1.0], [2.0], [4.0]]))
    np.testing.assert_allclose(r, [9 / np.sqrt(84)], rtol=1e-14)
    assert pearson_r([1.0, 2.0, 3.0], [3.0, 2.0, 1.0]) == pytest.approx(-1.0)


def test_pearson_r_matches_numpy_corrcoef(rng):
    pred, true = rng.normal(size=(37, 11)), rng.normal(size=(37, 11))
    true[:, 3] = 2.5 * pred[:, 3] - 1  # a perfect correlation too
    expected = [np.corrcoef(pred[:, v], true[:, v])[0, 1] for v in range(11)]
    np.testing.assert_allclose(pearson_r(pred, true), expected, rtol=1e-12, atol=1e-14)


def test_pearson_r_constant_columns_are_zero_and_silent(rng):
    pred, true = rng.normal(size=(9, 4)), rng.normal(size=(9, 4))
    pred[:, 1] = 3.0
    true[:, 2] = -1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = pearson_r(pred, true)
    assert r[1] == 0 and r[2] == 0 and np.all(r[[0, 3]] != 0)


def test_metrics_accept_torch_and_xarray(rng):
    pred, true = rng.normal(size=(13, 5)), rng.normal(size=(13, 5))
    expected = pearson_r(pred, true)
    t_pred = torch.tensor(pred, requires_grad=True)
    np.testing.assert_array_equal(pearson_r(t_pred, torch.tensor(true)), expected)
    da = xr.DataArray(true, dims=("stimulus", "voxel"))
    np.testing.assert_array_equal(pearson_r(pred, da), expected)
    nc = rng.uniform(0.2, 0.9, size=5)
    np.testing.assert_array_equal(
        noise_normalized_accuracy(t_pred, da, torch.tensor(nc)),
        noise_normalized_accuracy(pred, true, nc))
    bf16 = pearson_r(torch.tensor(pred).bfloat16(), true)  # no NumPy dtype for bf16
    np.testing.assert_allclose(bf16, expected, atol=0.02)


def test_pearson_r_errors():
    with pytest.raises(ValueError, match="same stimuli and voxels"):
        pearson_r(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="at least 2 stimuli"):
        pearson_r(np.zeros((1, 3)), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="NaN"):
        pearson_r(np.array([[1.0], [np.nan]]), np.ones((2, 1)))


def test_noise_ceiling_formula():
    # NC = s² / (s² + 1/n): s = 1, n = 3 → 1 / (4/3) = 0.75; s = 2 → 4 / (13/3) = 12/13
    np.testing.assert_allclose(noise_ceiling([0.0, 1.0, 2.0]), [0.0, 0.75, 12 / 13])
    assert float(noise_ceiling(1.0, n_repeats=1)) == 0.5
    assert float(noise_ceiling(3.0, n_repeats=9)) == pytest.approx(81 / 82)
    with pytest.raises(ValueError, match="n_repeats"):
        noise_ceiling([1.0], n_repeats=0)
    with pytest.raises(ValueError, match=">= 0"):
        noise_ceiling([-1.0])
    with pytest.raises(ValueError, match="NaN"):
        noise_ceiling([np.nan])


def test_noise_normalized_accuracy_hand_computed():
    true = np.array([[0.0] * 5, [1.0] * 5, [2.0] * 5])
    # r per column: 0.5, -1, 1, 0.5, 0 (constant prediction)
    pred = np.array([[0.0, 2.0, 0.0, 0.0, 1.0],
                     [2.0, 1.0, 1.0, 2.0, 1.0],
                     [1.0, 0.0, 2.0, 1.0, 1.0]])
    nc = np.array([0.5, 0.5, 0.5, 0.0, 0.0])
    np.testing.assert_allclose(pearson_r(pred, true), [0.5, -1.0, 1.0, 0.5, 0.0], atol=1e-15)
    acc = noise_normalized_accuracy(pred, true, nc)
    # 0.25 / 0.5; negative r → 0; 1 / 0.5 capped at 1; NC = 0 → 1e-14, capped; r = 0 → 0
    np.testing.assert_allclose(acc, [0.5, 0.0, 1.0, 1.0, 0.0], atol=1e-12)


def test_noise_normalized_accuracy_errors():
    pred = true = np.arange(6.0).reshape(3, 2)
    with pytest.raises(ValueError, match="divide by 100"):
        noise_normalized_accuracy(pred, true, [50.0, 80.0])
    with pytest.raises(ValueError, match="one noise ceiling per voxel"):
        noise_normalized_accuracy(pred, true, [0.5])


def test_algonauts_score_averages_hemispheres():
    true = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    pred = np.array([[0.0, 2.0], [2.0, 1.0], [1.0, 0.0]])  # r = 0.5 and -1
    assert algonauts_score(pred, true, [0.5, 0.5]) == pytest.approx(25.0)  # (0.5 + 0) / 2
    # right hemisphere: 3 vertices, all perfect → 100; hemispheres count once each
    true_rh = np.tile(true[:, :1], (1, 3))
    score = algonauts_score(pred, true, [0.5, 0.5], true_rh, true_rh, [1.0, 1.0, 1.0])
    assert score == pytest.approx((25.0 + 100.0) / 2)
    pooled = 100 * np.mean([0.5, 0.0, 1.0, 1.0, 1.0])
    assert score != pytest.approx(pooled)  # not the mean over the 5 pooled vertices
    with pytest.raises(ValueError, match="all of pred_rh"):
        algonauts_score(pred, true, [0.5, 0.5], pred_rh=pred)


def test_algonauts_score_with_noise_ceiling_end_to_end(rng):
    """Signal + noise of known SNR: a perfect model scores close to 100 %."""
    n, v, snr = 2000, 6, np.array([0.5, 0.8, 1.0, 1.2, 1.5, 2.0])
    signal = rng.normal(size=(n, v)) * snr
    trials = signal[None] + rng.normal(size=(3, n, v))
    score = algonauts_score(signal, trials.mean(0), noise_ceiling(snr, n_repeats=3))
    assert 95.0 < score <= 100.0
