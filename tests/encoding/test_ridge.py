"""RidgeEncoder against scikit-learn's RidgeCV (and himalaya's) on small unequal shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.model_selection import KFold, ShuffleSplit, cross_val_score

from neuroattn.encoding.ridge import DEFAULT_ALPHAS, RidgeEncoder

ALPHAS = np.logspace(-2, 4, 9)
EXACT = dict(alphas=ALPHAS, device="cpu", dtype="float64")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny problems: one thread avoids OpenMP waits on a busy, shared CPU (20x faster)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_data(n: int, p: int, t: int, seed: int = 0):
    """Offset features, targets with a different signal-to-noise ratio and offset each."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) + rng.normal(size=p)
    W = rng.normal(size=(p, t)) * np.linspace(0.05, 2.0, t)
    Y = X @ W + rng.normal(size=(n, t)) * 3 + rng.normal(size=t) * 5
    return X, Y, rng.normal(size=(9, p))


# n=40, p=7: primal (p < n_train); n=26, p=31: dual (p > n_train)
@pytest.fixture(scope="module", params=[(40, 7), (26, 31)], ids=["primal", "dual"])
def data(request):
    return make_data(*request.param, t=4)


def shuffled_folds(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(tr, va) for tr, va in ShuffleSplit(4, test_size=0.3, random_state=0).split(
        np.zeros(n))]


@pytest.mark.parametrize(("cv", "fit_intercept"),
                         [("kfold", True), ("explicit", True), ("kfold", False)])
def test_matches_sklearn_ridgecv_per_target(data, cv, fit_intercept):
    """Same alpha, CV score and predictions as RidgeCV fit on each target on its own.

    (scikit-learn refuses ``alpha_per_target=True`` together with ``cv``; a per-target
    RidgeCV is what that would mean.)
    """
    X, Y, X_new = data
    folds = KFold(4) if cv == "kfold" else shuffled_folds(len(X))
    enc = RidgeEncoder(cv=folds, fit_intercept=fit_intercept, **EXACT).fit(X, Y)
    pred = enc.predict(X_new)
    for j in range(Y.shape[1]):
        ref = RidgeCV(alphas=ALPHAS, cv=folds, fit_intercept=fit_intercept).fit(X, Y[:, j])
        assert enc.best_alphas_[j] == ref.alpha_
        assert enc.cv_scores_[:, j].max() == pytest.approx(ref.best_score_, abs=1e-10)
        np.testing.assert_allclose(pred[:, j], ref.predict(X_new), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(enc.coef_[:, j], ref.coef_, rtol=1e-8, atol=1e-10)
        assert enc.intercept_[j] == pytest.approx(ref.intercept_, abs=1e-8)
    if fit_intercept:  # (without, the uncentred offsets dominate every target alike)
        assert len(set(enc.best_alphas_)) > 1  # the targets really chose different alphas


def test_cv_scores_grid_is_mean_fold_r2(data):
    X, Y, _ = data
    enc = RidgeEncoder(cv=3, **EXACT).fit(X, Y)
    assert enc.cv_scores_.shape == (len(ALPHAS), Y.shape[1])
    j = Y.shape[1] - 1
    expected = [cross_val_score(Ridge(alpha=a), X, Y[:, j], cv=KFold(3)).mean() for a in ALPHAS]
    np.testing.assert_allclose(enc.cv_scores_[:, j], expected, rtol=1e-9, atol=1e-10)


def test_float32_close_to_float64(data):
    X, Y, X_new = data
    exact = RidgeEncoder(**EXACT, cv=4).fit(X, Y)
    fast = RidgeEncoder(alphas=ALPHAS, cv=4, device="cpu").fit(X, Y)
    assert fast.coef_.dtype == np.float32
    np.testing.assert_allclose(fast.cv_scores_, exact.cv_scores_, atol=1e-4)
    np.testing.assert_allclose(fast.predict(X_new), exact.predict(X_new), rtol=1e-4, atol=1e-3)


def test_numpy_torch_xarray_and_grid_inputs_agree():
    X, Y, X_new = make_data(30, 12, 5, seed=3)
    ref = RidgeEncoder(cv=3, **EXACT).fit(X, Y)
    fits = [RidgeEncoder(cv=3, **EXACT).fit(torch.from_numpy(X), torch.from_numpy(Y)),
            RidgeEncoder(cv=3, **EXACT).fit(xr.DataArray(X, dims=("stimulus", "feature")),
                                            xr.DataArray(Y, dims=("stimulus", "voxel"))),
            RidgeEncoder(cv=3, **EXACT).fit(X.reshape(30, 2, 3, 2), Y)]
    for enc in fits:
        np.testing.assert_array_equal(enc.best_alphas_, ref.best_alphas_)
        np.testing.assert_allclose(enc.coef_, ref.coef_, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(fits[2].predict(X_new.reshape(9, 2, 3, 2)), ref.predict(X_new),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(fits[0].predict(torch.from_numpy(X_new)), ref.predict(X_new))


def test_target_batches_and_1d_targets_change_nothing():
    X, Y, X_new = make_data(33, 10, 7, seed=4)
    whole = RidgeEncoder(cv=3, n_targets_batch=None, **EXACT).fit(X, Y)
    batched = RidgeEncoder(cv=3, n_targets_batch=3, **EXACT).fit(X, Y)
    np.testing.assert_array_equal(batched.best_alphas_, whole.best_alphas_)
    np.testing.assert_allclose(batched.coef_, whole.coef_, rtol=1e-12, atol=1e-13)
    one = RidgeEncoder(cv=3, **EXACT).fit(X, Y[:, 2])
    assert one.coef_.shape == (10,) and one.predict(X_new).shape == (9,)
    np.testing.assert_allclose(one.predict(X_new), whole.predict(X_new)[:, 2], rtol=1e-12)
    assert isinstance(one.intercept_, float)
    assert one.score(X, Y[:, 2]) == pytest.approx(np.corrcoef(one.predict(X), Y[:, 2])[0, 1])


def test_score_is_mean_pearson_r():
    X, Y, _ = make_data(30, 6, 4, seed=5)
    enc = RidgeEncoder(cv=3, **EXACT).fit(X, Y)
    pred = enc.predict(X)
    expected = np.mean([np.corrcoef(pred[:, j], Y[:, j])[0, 1] for j in range(4)])
    assert enc.score(X, Y) == pytest.approx(expected)


def test_clone_and_params_round_trip():
    enc = RidgeEncoder(alphas=[1.0, 10.0], cv=KFold(3), fit_intercept=False, device="cpu",
                       n_targets_batch=7, dtype="float64")
    twin = clone(enc)
    params, twin_params = enc.get_params(), twin.get_params()
    assert params.keys() == twin_params.keys() == {
        "alphas", "cv", "fit_intercept", "device", "n_targets_batch", "dtype"}
    assert twin_params["alphas"] == [1.0, 10.0] and twin_params["n_targets_batch"] == 7
    assert twin.set_params(n_targets_batch=2).n_targets_batch == 2
    np.testing.assert_array_equal(RidgeEncoder().alphas, np.logspace(-2, 6, 20))
    assert RidgeEncoder().alphas is DEFAULT_ALPHAS
    assert "RidgeEncoder(" in repr(clone(RidgeEncoder()))


def test_sklearn_cross_validation_works():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(40, 6))
    Y = X @ rng.normal(size=(6, 3)) + 0.3 * rng.normal(size=(40, 3))
    scores = cross_val_score(RidgeEncoder(alphas=[0.1, 10.0], cv=3, device="cpu"), X, Y, cv=2)
    assert scores.shape == (2,) and np.all(scores > 0.9)


@pytest.mark.parametrize(("kwargs", "match"), [
    (dict(alphas=[1.0, -1.0]), "alphas must be finite and > 0"),
    (dict(alphas=[]), "non-empty"),
    (dict(dtype="float16"), "dtype='float16' is not supported"),
    (dict(n_targets_batch=0), "n_targets_batch must be a positive int"),
    (dict(cv=[(np.arange(5), np.arange(5, 50))]), "indexes stimulus 49"),
    (dict(cv=50), "cannot split 20 stimuli"),
    (dict(device="tpu"), "not a device"),
    (dict(fit_intercept="yes"), "fit_intercept must be True or False"),
])
def test_parameter_errors(kwargs, match):
    X, Y, _ = make_data(20, 4, 2)
    with pytest.raises(ValueError, match=match):
        RidgeEncoder(**kwargs).fit(X, Y)


def test_data_errors():
    X, Y, _ = make_data(20, 4, 2)
    enc = RidgeEncoder(alphas=[1.0], cv=2, device="cpu")
    with pytest.raises(ValueError, match="X has 20 stimuli but Y has 19"):
        enc.fit(X, Y[:19])
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        enc.fit(bad, Y)
    with pytest.raises(ValueError, match="2 or 4 dimensions"):
        enc.fit(X[:, :, None], Y)
    with pytest.raises(ValueError, match="zero variance"):
        enc.fit(np.ones((20, 4)), Y)
    with pytest.raises(NotFittedError):
        enc.predict(X)
    enc.fit(X, Y)
    with pytest.raises(ValueError, match="X has 5 features, but RidgeEncoder is expecting 4 "
                                         "features as input"):
        enc.predict(np.ones((3, 5)))


def test_matches_himalaya_ridgecv():
    """The peer: himalaya's RidgeCV with R² scoring, same folds, numpy backend."""
    pytest.importorskip("himalaya")
    from himalaya.backend import get_backend, set_backend
    from himalaya.ridge import RidgeCV as HimalayaRidgeCV
    from himalaya.scoring import r2_score

    X, Y, X_new = make_data(45, 9, 8, seed=7)
    folds = list(KFold(3).split(X))
    previous = get_backend().name
    set_backend("numpy")
    try:
        ref = HimalayaRidgeCV(alphas=ALPHAS, cv=folds, fit_intercept=True,
                              solver_params=dict(score_func=r2_score)).fit(X, Y)
        ref_pred = np.asarray(ref.predict(X_new))
    finally:
        set_backend(previous)
    enc = RidgeEncoder(cv=folds, **EXACT).fit(X, Y)
    np.testing.assert_allclose(enc.best_alphas_, np.asarray(ref.best_alphas_), rtol=1e-12)
    np.testing.assert_allclose(enc.predict(X_new), ref_pred, rtol=1e-8, atol=1e-8)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu():
    X, Y, X_new = make_data(50, 20, 9, seed=8)
    cpu = RidgeEncoder(cv=3, **EXACT).fit(X, Y)
    gpu = RidgeEncoder(alphas=ALPHAS, cv=3, device="cuda", dtype="float64").fit(X, Y)
    np.testing.assert_array_equal(gpu.best_alphas_, cpu.best_alphas_)
    np.testing.assert_allclose(gpu.predict(X_new), cpu.predict(X_new), rtol=1e-9, atol=1e-9)
