"""Tests of OAT's object positional encoding (neuroattn.gaze.oat.positional)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuroattn.gaze.oat.positional import (
    ObjectPositionalEncoding,
    fit_position_table,
    gaussian_similarity,
    table_loss_and_grad,
)


def _cosine(w: np.ndarray) -> np.ndarray:
    unit = w / np.linalg.norm(w, axis=1, keepdims=True)
    return unit @ unit.T


@pytest.mark.parametrize("n, dim", [(14, 86), (6, 11), (7, 22)])
def test_fitted_table_has_gaussian_similarity_and_equal_norms(n, dim):
    """The reference fit (σ = 2, Adam lr 0.01, 10 000 iterations): |cos - Gaussian| < 2e-3.

    The reference's shipped 14 x 86 table gives 0.883, 0.607, 0.325, 0.135 at
    distances 1-4 with all norms equal; ours must match the Gaussian as well.
    """
    w = fit_position_table(n, dim, sigma=2.0, n_iter=10_000, lr=0.01, seed=0)
    assert w.shape == (n, dim) and w.dtype == np.float32
    err = np.abs(_cosine(w.astype(np.float64)) - gaussian_similarity(n, 2.0))
    assert err.max() < 2e-3
    np.testing.assert_allclose(_cosine(w)[0, 1:5], [0.882, 0.607, 0.325, 0.135], atol=2e-3)
    norms = np.linalg.norm(w, axis=1)
    assert norms.std() / norms.mean() < 1e-3


def test_fit_improves_on_the_random_start_and_follows_sigma():
    start = fit_position_table(8, 12, n_iter=0, seed=3)
    fitted = fit_position_table(8, 12, n_iter=3000, seed=3, sigma=1.0)
    target = gaussian_similarity(8, 1.0)
    assert np.abs(_cosine(start) - target).max() > 0.3
    assert np.abs(_cosine(fitted) - target).max() < 5e-3
    assert _cosine(fitted)[0, 1] == pytest.approx(np.exp(-0.5), abs=5e-3)


def test_fit_is_deterministic_cached_and_safe_to_mutate():
    a = fit_position_table(5, 9, n_iter=500, seed=1)
    b = fit_position_table(5, 9, n_iter=500, seed=1)
    c = fit_position_table(5, 9, n_iter=500, seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    a[:] = 0  # a copy: the cache is untouched
    assert np.abs(fit_position_table(5, 9, n_iter=500, seed=1)).sum() > 0


def test_analytic_gradient_matches_autograd():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((6, 5))
    target = gaussian_similarity(6, 2.0)
    loss, grad = table_loss_and_grad(w, target)
    wt = torch.tensor(w, requires_grad=True)
    norms = wt.norm(dim=1)
    unit = wt / norms[:, None]
    ref = ((unit @ unit.T - torch.from_numpy(target)) ** 2).sum() / 30 + norms.var()
    ref.backward()
    assert loss == pytest.approx(float(ref.detach()), rel=1e-12)
    np.testing.assert_allclose(grad, wt.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_encoding_concatenates_rows_and_truncates():
    pe = ObjectPositionalEncoding(3, 5, dim=10, n_iter=200)  # k = ceil(10/3) = 4, 12 -> 10
    table = pe.table
    assert table.shape == (5, 4)
    rows = torch.tensor([[0, 2], [1, 1]])
    cols = torch.tensor([[4, 0], [3, 2]])
    flag = torch.tensor([[False, True], [True, False]])
    out = pe(rows, cols, flag)
    assert out.shape == (2, 2, 10)
    expected = torch.cat([table[2], table[0], table[1]])[:10]
    torch.testing.assert_close(out[0, 1], expected)
    torch.testing.assert_close(out[1, 0, :4], table[1])
    torch.testing.assert_close(out[1, 0, 4:8], table[3])
    torch.testing.assert_close(out[1, 0, 8:], table[1, :2])  # flag part truncated to 2 dims
    assert "table" in pe.state_dict()


def test_encoding_takes_a_given_table_and_checks_it():
    table = np.arange(6 * 3, dtype=np.float32).reshape(6, 3)
    pe = ObjectPositionalEncoding(6, 2, dim=9, table=table)
    np.testing.assert_array_equal(pe.table.numpy(), table)
    with pytest.raises(ValueError, match="needs"):
        ObjectPositionalEncoding(6, 2, dim=12, table=table)


@pytest.mark.parametrize("call, match", [
    (lambda: fit_position_table(1, 4), "n=1"),
    (lambda: fit_position_table(4, 0), "dim"),
    (lambda: fit_position_table(4, 4, n_iter=-1), "n_iter"),
    (lambda: fit_position_table(4, 4, lr=0), "lr"),
    (lambda: fit_position_table(4, 4, sigma=0), "sigma"),
    (lambda: gaussian_similarity(0), "n=0"),
    (lambda: ObjectPositionalEncoding(0, 3, dim=8), "n_rows"),
])
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
