"""Tests for the torch db4 periodization DWT (neuroattn.nn.wavelet).

The PyWavelets comparisons need ``pywt`` (package ``PyWavelets``) from the
``test`` extra; they are skipped without it, the rest runs anyway.
"""

from __future__ import annotations

from math import comb, sqrt

import numpy as np
import pytest
import torch

from neuroattn.dispatch_audit import audit_dispatch
from neuroattn.nn.wavelet import (
    DB4_DEC_HI,
    DB4_DEC_LO,
    db4_coeff_lengths,
    db4_max_level,
    dwt_db4,
    dwt_db4_levels,
)


def _pywt():
    return pytest.importorskip("pywt")


def _pywt_concat(x: np.ndarray, level: int | None = None) -> np.ndarray:
    pywt = _pywt()
    return np.concatenate(pywt.wavedec(x, "db4", mode="periodization", level=level), axis=-1)


# --------------------------------------------------------------------------- filters


def test_filter_constants_from_daubechies_construction():
    """Rebuild db4 by spectral factorisation and compare with the module's constants."""
    n = 4  # vanishing moments
    # |H(w)|^2 ∝ cos^{2n}(w/2) P(sin^2(w/2)), P(y) = sum_k C(n-1+k, k) y^k.
    y_roots = np.roots([comb(n - 1 + k, k) for k in range(n)][::-1])
    z_roots = []
    for y in y_roots:  # sin^2(w/2) = (2 - z - 1/z) / 4  ->  z^2 - (2 - 4y) z + 1 = 0
        pair = np.roots([1.0, -(2.0 - 4.0 * y), 1.0])
        z_roots.append(pair[np.argmin(np.abs(pair))])  # minimum phase
    h = np.real(np.poly([-1.0] * n + z_roots))
    h *= sqrt(2.0) / h.sum()
    np.testing.assert_allclose(np.asarray(DB4_DEC_LO), h[::-1], rtol=0, atol=1e-14)


def test_filter_properties():
    lo, hi = np.asarray(DB4_DEC_LO), np.asarray(DB4_DEC_HI)
    assert lo.shape == hi.shape == (8,)
    assert lo.sum() == pytest.approx(sqrt(2.0), abs=1e-14)
    assert hi.sum() == pytest.approx(0.0, abs=1e-14)
    for shift in range(0, 8, 2):  # orthonormal under even shifts, lo ⟂ hi
        expected = 1.0 if shift == 0 else 0.0
        assert np.dot(lo[shift:], lo[: 8 - shift]) == pytest.approx(expected, abs=1e-14)
        assert np.dot(hi[shift:], hi[: 8 - shift]) == pytest.approx(expected, abs=1e-14)
        assert np.dot(lo[shift:], hi[: 8 - shift]) == pytest.approx(0.0, abs=1e-14)
        assert np.dot(hi[shift:], lo[: 8 - shift]) == pytest.approx(0.0, abs=1e-14)
    k = np.arange(8.0)
    for p in range(4):  # 4 vanishing moments
        assert np.dot(k**p, hi) == pytest.approx(0.0, abs=1e-10)
    np.testing.assert_array_equal(hi, [(-1.0) ** (j + 1) * lo[7 - j] for j in range(8)])


def test_filters_equal_pywt():
    pywt = _pywt()
    w = pywt.Wavelet("db4")
    np.testing.assert_allclose(DB4_DEC_LO, w.dec_lo, rtol=0, atol=1e-15)
    np.testing.assert_allclose(DB4_DEC_HI, w.dec_hi, rtol=0, atol=1e-15)


# --------------------------------------------------------------------- levels/lengths


def test_max_level_equals_pywt():
    pywt = _pywt()
    for length in [*range(0, 3000), 4095, 4096, 7 * 2**12 - 1, 7 * 2**12, 10**6]:
        assert db4_max_level(length) == pywt.dwt_max_level(length, 8), length


def test_max_level_and_lengths_known_values():
    assert db4_max_level(2560) == 8
    assert db4_max_level(128) == 4
    assert db4_max_level(13) == 0
    assert db4_max_level(14) == 1
    assert db4_coeff_lengths(2560) == [10, 10, 20, 40, 80, 160, 320, 640, 1280]
    assert db4_coeff_lengths(128) == [8, 8, 16, 32, 64]
    assert db4_coeff_lengths(128, level=2) == [32, 32, 64]
    assert sum(db4_coeff_lengths(1000)) == 1002


@pytest.mark.parametrize("length", [14, 15, 37, 100, 128, 1000, 2560])
def test_coeff_lengths_equal_pywt(length):
    pywt = _pywt()
    x = np.zeros(length)
    for level in [None, *range(1, db4_max_level(length) + 1)]:
        ref = pywt.wavedec(x, "db4", mode="periodization", level=level)
        assert db4_coeff_lengths(length, level) == [len(c) for c in ref]


# ------------------------------------------------------------------- values vs pywt


@pytest.mark.parametrize("length", [14, 15, 37, 128, 256, 1000, 2560])
@pytest.mark.parametrize("shape", [(), (3,), (2, 3, 5)])
def test_equals_pywt_float64(length, shape):
    x = np.random.default_rng(length).standard_normal((*shape, length))
    ref = _pywt_concat(x)
    y = dwt_db4(torch.from_numpy(x))
    assert y.dtype == torch.float64
    assert tuple(y.shape) == ref.shape
    np.testing.assert_allclose(y.numpy(), ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("length", [128, 256, 1000, 2560])
def test_equals_pywt_float32(length):
    x = np.random.default_rng(0).standard_normal((2, 3, 5, length))
    ref = _pywt_concat(x)
    y = dwt_db4(torch.from_numpy(x).float())
    assert y.dtype == torch.float32
    np.testing.assert_allclose(y.numpy(), ref, rtol=0, atol=1e-5)


def test_every_length_and_level_equals_pywt():
    """Sweep all lengths 14..300 (odd levels included) and every level."""
    pywt = _pywt()
    rng = np.random.default_rng(1)
    for length in range(14, 301):
        x = rng.standard_normal((2, length))
        for level in range(1, db4_max_level(length) + 1):
            ref = pywt.wavedec(x, "db4", mode="periodization", level=level)
            got = dwt_db4_levels(torch.from_numpy(x), level=level)
            assert len(got) == len(ref) == level + 1
            for g, r in zip(got, ref, strict=True):
                np.testing.assert_allclose(g.numpy(), r, rtol=0, atol=1e-12)


@pytest.mark.parametrize("level", [1, 3, 8])
def test_level_argument_equals_pywt(level):
    x = np.random.default_rng(level).standard_normal((4, 2560))
    ref = _pywt_concat(x, level=level)
    y = dwt_db4(torch.from_numpy(x), level=level)
    np.testing.assert_allclose(y.numpy(), ref, rtol=0, atol=1e-12)


# ------------------------------------------------------------------------ properties


@pytest.mark.parametrize("length", [128, 2560])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_norm_and_rms_preserved(length, dtype):
    x = torch.randn(2, 3, length, dtype=dtype, generator=torch.Generator().manual_seed(0))
    rtol = 1e-12 if dtype == torch.float64 else 1e-5
    for level in [None, 1, 2]:
        y = dwt_db4(x, level=level)
        assert y.shape == x.shape
        torch.testing.assert_close(y.norm(dim=-1), x.norm(dim=-1), rtol=rtol, atol=0)
        torch.testing.assert_close(
            y.pow(2).mean(-1).sqrt(), x.pow(2).mean(-1).sqrt(), rtol=rtol, atol=0
        )


def test_transform_matrix_is_orthogonal():
    length = 64
    w = dwt_db4(torch.eye(length, dtype=torch.float64))  # row i = DWT(e_i)
    torch.testing.assert_close(w @ w.T, torch.eye(length, dtype=torch.float64))
    torch.testing.assert_close(w.T @ w, torch.eye(length, dtype=torch.float64))


def test_constant_signal_goes_to_approximation():
    x = torch.full((3, 256), 2.0, dtype=torch.float64)
    bands = dwt_db4_levels(x)  # 5 levels
    torch.testing.assert_close(bands[0], torch.full((3, 8), 2.0 * 2 ** (5 / 2), dtype=x.dtype))
    for detail in bands[1:]:
        assert detail.abs().max() < 1e-12


def test_levels_concatenate_to_full_output():
    x = torch.randn(4, 2560)
    bands = dwt_db4_levels(x)
    assert [b.shape[-1] for b in bands] == db4_coeff_lengths(2560)
    torch.testing.assert_close(torch.cat(bands, -1), dwt_db4(x), rtol=0, atol=0)


def test_batch_rows_are_independent_and_noncontiguous_ok():
    x = torch.randn(6, 128, dtype=torch.float64)
    full = dwt_db4(x)
    for i in range(6):
        torch.testing.assert_close(dwt_db4(x[i]), full[i], rtol=0, atol=1e-14)
    xt = x.T.contiguous().T  # non-contiguous view with the same values
    assert not xt.is_contiguous()
    torch.testing.assert_close(dwt_db4(xt), full, rtol=0, atol=1e-14)
    assert dwt_db4(torch.randn(0, 3, 128)).shape == (0, 3, 128)


# -------------------------------------------------------------------- autograd/dtype


def test_gradcheck_float64():
    x = torch.randn(2, 30, dtype=torch.float64, requires_grad=True)  # 30 -> 15 (odd) -> 8
    assert torch.autograd.gradcheck(lambda t: dwt_db4(t), (x,))
    x = torch.randn(2, 33, dtype=torch.float64, requires_grad=True)  # odd input length
    assert torch.autograd.gradcheck(lambda t: dwt_db4(t, level=2), (x,))


def test_gradient_of_orthonormal_transform():
    # For y = W x with W orthogonal, d/dx 0.5 * ||y||^2 = W^T W x = x.
    x = torch.randn(3, 128, requires_grad=True)
    (0.5 * dwt_db4(x).pow(2).sum()).backward()
    torch.testing.assert_close(x.grad, x.detach(), rtol=1e-5, atol=1e-5)


def test_no_grad():
    x = torch.randn(2, 128, requires_grad=True)
    with torch.no_grad():
        y = dwt_db4(x)
    assert not y.requires_grad
    assert dwt_db4(x).requires_grad


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_dtype_preserved(dtype):
    x = torch.randn(2, 3, 256)
    ref = dwt_db4(x)
    y = dwt_db4(x.to(dtype))
    assert y.dtype == dtype
    # Only the input/output roundings are in low precision (computed in float32).
    tol = 2e-2 if dtype == torch.bfloat16 else 2e-3
    torch.testing.assert_close(y.float(), ref, rtol=tol, atol=tol * ref.abs().max().item())


def test_meta_device_preserved():
    y = dwt_db4(torch.empty(2, 5, 2560, device="meta"))
    assert y.device.type == "meta" and y.shape == (2, 5, 2560)


@pytest.mark.parametrize("mode", ["periodic", "periodization"])
def test_float32_under_bf16_autocast(mode):
    """Autocast is off inside: conv1d under a bf16 autocast used to give a relative
    error of 5e-3 (1.2 % on the deepest band); float32 gives about 1e-7."""
    x = torch.randn(16, 2560, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    reference = dwt_db4_levels(x, mode=mode)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        bands = dwt_db4_levels(x.float(), mode=mode)
    for band, ref in zip(bands, reference, strict=True):
        assert band.dtype == torch.float32
        error = (band.double() - ref).norm(dim=-1) / ref.norm(dim=-1)
        assert float(error.max()) < 1e-6  # measured 1e-7 to 3e-7 per band


def test_filter_bank_is_built_on_the_device_once(monkeypatch):
    monkeypatch.setattr("neuroattn.nn.wavelet._FILTER_BANKS", {})  # a fresh cache
    x = torch.empty(2, 3, 2560, device="meta")
    with audit_dispatch() as first:
        dwt_db4(x)
    with audit_dispatch() as later:
        dwt_db4(x)
    assert first.host_to_device == first.mixed_device == later.host_to_device == 0
    assert first.aten_ops - later.aten_ops == 18  # 16 fills, a stack and a view, once
    with torch.inference_mode():  # a cached bank made here must not be an inference tensor
        dwt_db4(torch.randn(2, 64, dtype=torch.float64))
    x = torch.randn(2, 64, dtype=torch.float64, requires_grad=True)
    dwt_db4(x).sum().backward()
    expected = dwt_db4(torch.eye(64, dtype=torch.float64)).sum(-1)  # column sums of W
    torch.testing.assert_close(x.grad, expected.expand(2, -1))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    x = torch.randn(2, 3, 2560, dtype=torch.float64)
    y = dwt_db4(x.cuda())
    assert y.device.type == "cuda" and y.dtype == torch.float64
    torch.testing.assert_close(y.cpu(), dwt_db4(x), rtol=0, atol=1e-12)
    yb = dwt_db4(x.cuda().bfloat16())
    assert yb.device.type == "cuda" and yb.dtype == torch.bfloat16


# ------------------------------------------------------------------------ bad inputs


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="0-d"):
        dwt_db4(torch.tensor(1.0))
    with pytest.raises(ValueError, match="too short.*at least 14"):
        dwt_db4(torch.randn(4, 13))
    with pytest.raises(ValueError, match=r"level=5 is out of range.*1 <= level <= 4"):
        dwt_db4(torch.randn(4, 128), level=5)
    with pytest.raises(ValueError, match="level=0 is out of range"):
        dwt_db4(torch.randn(4, 128), level=0)
    with pytest.raises(TypeError, match="integer"):
        dwt_db4(torch.randn(4, 128), level=1.5)
    with pytest.raises(TypeError, match="bool"):
        dwt_db4(torch.randn(4, 128), level=True)
    with pytest.raises(TypeError, match="floating point"):
        dwt_db4(torch.ones(4, 128, dtype=torch.int64))
    with pytest.raises(TypeError, match="floating point"):
        dwt_db4(torch.ones(4, 128, dtype=torch.complex64))
    with pytest.raises(TypeError, match="torch.Tensor"):
        dwt_db4(np.ones(128))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-negative"):
        db4_max_level(-1)
    with pytest.raises(ValueError, match="too short"):
        db4_coeff_lengths(10)


@pytest.mark.parametrize("length", [14, 15, 64, 100, 257, 2560, 2561])
def test_periodic_mode_matches_pywt(length):
    """MVPFormer's tokenizer mode: full periodic convolution, floor((N + 7) / 2) per band."""
    pywt = pytest.importorskip("pywt")
    x = np.random.default_rng(length).standard_normal((2, length))
    ours = dwt_db4(torch.from_numpy(x), mode="periodic").numpy()
    ref = np.concatenate(pywt.wavedec(x, "db4", mode="periodic"), axis=-1)
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    assert db4_coeff_lengths(length, mode="periodic") == [
        c.shape[-1] for c in pywt.wavedec(x, "db4", mode="periodic")]


def test_periodic_mode_size_for_mvpformer_segments():
    assert sum(db4_coeff_lengths(2560, mode="periodic")) == 2610
    with pytest.raises(ValueError, match="mode='zero'"):
        dwt_db4(torch.zeros(64), mode="zero")
