"""Voxelwise ridge regression with a cross-validated alpha per voxel, on CPU or GPU.

For each cross-validation fold, one eigendecomposition serves every alpha
and every target: with training features ``X`` (centred) it diagonalises the
smaller of the two Gram matrices,

* **primal** (``n_features <= n_train``): ``XᵀX = V Λ Vᵀ`` (features × features),
  and the validation predictions are ``(X_val V) diag(1/(Λ+α)) (X V)ᵀ Y``;
* **dual / kernel** (``n_features > n_train``): ``XXᵀ = U Λ Uᵀ``
  (samples × samples), and the predictions are
  ``(X_val Xᵀ U) diag(1/(Λ+α)) Uᵀ Y``.

Both equal ``X_val (XᵀX + αI)⁻¹ XᵀY``, the ridge solution. The choice is made
per fold and for the final refit, from the shapes alone. The decomposition
itself is computed in float64 (it is small, and a float32 ``eigh`` of a Gram
matrix loses the small eigenvalues); the work that scales with the number of
targets runs in ``dtype`` (float32 by default). ``(X V)ᵀ Y`` is computed once
per fold and target batch; each alpha then costs one
``(n_val × k) @ (k × n_targets_batch)`` product with ``k = min(n_features, n_train)``.
Targets go through in batches of ``n_targets_batch``, so device memory holds
one batch of responses at a time.

Examples
--------
>>> import numpy as np
>>> from neuroattn.encoding.ridge import RidgeEncoder
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(60, 8))
>>> Y = X @ rng.normal(size=(8, 3)) + 0.1 * rng.normal(size=(60, 3))
>>> enc = RidgeEncoder(alphas=[0.1, 10.0, 1000.0], cv=3, device="cpu").fit(X, Y)
>>> enc.coef_.shape, enc.best_alphas_.shape, enc.cv_scores_.shape
((8, 3), (3,), (3, 3))
>>> enc.score(X, Y) > 0.99
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.model_selection import check_cv
from sklearn.utils.validation import check_is_fitted

from neuroattn._logging import logger
from neuroattn.device import resolve_device
from neuroattn.encoding._base import (
    BaseEncoder,
    check_input,
    check_n_features,
    check_pair,
    check_targets,
)
from neuroattn.errors import ParameterError

__all__ = ["DEFAULT_ALPHAS", "RidgeEncoder"]

#: The default alpha grid: ``np.logspace(-2, 6, 20)``, 20 values from 1e-2 to 1e6 evenly
#: spaced in log (a tuple: an array default would break scikit-learn's ``repr``).
DEFAULT_ALPHAS = tuple(float(a) for a in np.logspace(-2, 6, 20))

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _resolve_dtype(dtype: Any) -> torch.dtype:
    name = str(dtype).replace("torch.", "").replace("<class 'numpy.", "").rstrip("'>")
    if name not in _DTYPES:
        raise ParameterError(f"dtype={dtype!r} is not supported; use 'float32' (default, fast) "
                             "or 'float64' (exact comparisons).")
    return _DTYPES[name]


def _check_alphas(alphas: Any) -> np.ndarray:
    a = np.asarray(alphas, dtype=np.float64)
    if a.ndim == 0:
        a = a[None]
    if a.ndim != 1 or a.size == 0:
        raise ParameterError(f"alphas must be a non-empty 1-D list of values; got shape "
                             f"{a.shape}.")
    if not np.isfinite(a).all() or (a <= 0).any():
        raise ParameterError(f"alphas must be finite and > 0; got {a.tolist()}. Use a grid such "
                             "as np.logspace(-2, 6, 20).")
    return a


def _check_folds(cv: Any, n_samples: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``cv`` (int, splitter or iterable of (train, val)) as a list of index pairs."""
    try:
        splitter = check_cv(cv)
        folds = list(splitter.split(np.zeros((n_samples, 1))))
    except (TypeError, ValueError) as err:
        raise ParameterError(f"cv={cv!r} cannot split {n_samples} stimuli: {err} Use an int "
                             ">= 2, a scikit-learn splitter, or a list of (train, val) index "
                             "arrays."
                             ) from err
    out = []
    for i, (train, val) in enumerate(folds):
        train, val = np.asarray(train), np.asarray(val)
        if train.dtype == bool:
            train = np.flatnonzero(train)
        if val.dtype == bool:
            val = np.flatnonzero(val)
        if len(train) < 2 or len(val) == 0:
            raise ParameterError(f"cv fold {i} has {len(train)} training and {len(val)} "
                                 "validation stimuli; every fold needs >= 2 training and >= 1 "
                                 "validation.")
        for idx in (train, val):
            if idx.min() < 0 or idx.max() >= n_samples:
                raise ParameterError(f"cv fold {i} indexes stimulus {int(idx.max())}, but X has "
                                     f"only {n_samples}; pass folds built for this X.")
        out.append((train.astype(np.int64), val.astype(np.int64)))
    if not out:
        raise ParameterError(f"cv={cv!r} produced no folds.")
    return out


def _operators(X: torch.Tensor, center: bool, X_val: torch.Tensor | None = None
               ) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor, torch.Tensor,
                          torch.Tensor, str]:
    """One eigendecomposition of the smaller Gram matrix of ``X`` (float64).

    Returns ``(A, W, P, lam, x_mean, regime)`` such that, with ``d = 1/(lam + alpha)``:
    predictions on ``X_val`` are ``A @ (d[:, None] * (Wᵀ Y))`` and the coefficients are
    ``P @ (d[:, None] * (Wᵀ Y))`` (``Y`` centred when ``center``). ``A`` is None without
    ``X_val``. Eigen-directions with a numerically zero eigenvalue are dropped.
    """
    x_mean = X.mean(0) if center else torch.zeros(X.shape[1], dtype=X.dtype, device=X.device)
    Xc = X - x_mean if center else X
    n, p = Xc.shape
    primal = p <= n
    lam, vecs = torch.linalg.eigh(Xc.T @ Xc if primal else Xc @ Xc.T)
    keep = lam > lam[-1].clamp_min(0) * max(n, p) * torch.finfo(lam.dtype).eps
    if not bool(keep.any()):
        raise ParameterError("X is constant over the training stimuli (zero variance in every "
                             "feature); ridge has nothing to fit.")
    lam, vecs = lam[keep], vecs[:, keep]
    if primal:
        W, P = Xc @ vecs, vecs  # X V, V
    else:
        W, P = vecs, Xc.T @ vecs  # U, Xᵀ U
    A = None
    if X_val is not None:
        Xv = X_val - x_mean if center else X_val
        A = Xv @ P
    return A, W, P, lam, x_mean, "primal" if primal else "dual"


class RidgeEncoder(BaseEncoder):
    """Voxelwise ridge regression, one alpha per voxel chosen by K-fold cross-validation.

    For each fold and alpha, the ridge solution is fit on the training stimuli
    and scored by R² on the validation stimuli, per target; each target keeps
    the alpha with the best R² averaged over folds (the first one on ties),
    and the model is refit on all stimuli with it. This is what scikit-learn's
    ``RidgeCV(alphas, cv=...)`` computes for each target on its own (its
    default scoring is R²), done for all targets at once (see the module
    docstring for the algorithm).

    Parameters
    ----------
    alphas : array-like of shape (n_alphas,)
        Ridge penalties to try, all > 0. Default: ``np.logspace(-2, 6, 20)``
        (:data:`DEFAULT_ALPHAS`), 20 values from 0.01 to 1e6, which covers
        features of unit variance up to a few thousand samples; scale it with
        ``n_samples * feature variance`` for other data.
    cv : int, scikit-learn splitter or iterable of (train, val) index arrays
        An int ``k`` means ``KFold(k)`` (no shuffling, as in scikit-learn).
    fit_intercept : bool
        Centre ``X`` and ``Y`` on the training stimuli of each fold and of the
        refit, and fit an intercept. If False, the data must already be centred.
    device : str or torch.device
        ``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda[:N]"``, ``"mps"``.
    n_targets_batch : int or None
        Targets processed together (bounds device memory: one batch of
        responses plus ``n_stimuli × n_targets_batch`` scratch). None: all.
    dtype : {"float32", "float64"}
        Precision of the target-side computation and of ``coef_``.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features, n_targets)
        On the CPU, in ``dtype``. (n_features,) when ``Y`` was 1-D.
    intercept_ : ndarray of shape (n_targets,)
        Zeros when ``fit_intercept=False``; a float when ``Y`` was 1-D.
    best_alphas_ : ndarray of shape (n_targets,)
    cv_scores_ : ndarray of shape (n_alphas, n_targets)
        Validation R² per alpha and target, averaged over folds.
    n_features_in_ : int
        Features after flattening a ``(n, y, x, f)`` grid.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> X = rng.normal(size=(40, 5, 6, 2))  # (stimulus, y, x, feature): flattened to 60
    >>> Y = X.reshape(40, -1)[:, :3] + 0.5 * rng.normal(size=(40, 3))
    >>> enc = RidgeEncoder(alphas=[1.0, 100.0], cv=2, device="cpu").fit(X, Y)
    >>> enc.n_features_in_, enc.predict(X).shape
    (60, (40, 3))
    """

    def __init__(self, alphas: Any = DEFAULT_ALPHAS, cv: Any = 5, fit_intercept: bool = True,
                 device: str | torch.device = "auto", n_targets_batch: int | None = 5000,
                 dtype: str = "float32") -> None:
        self.alphas = alphas
        self.cv = cv
        self.fit_intercept = fit_intercept
        self.device = device
        self.n_targets_batch = n_targets_batch
        self.dtype = dtype

    # ------------------------------------------------------------------ checks
    def _features(self, X: Any, device: torch.device | None, dtype: torch.dtype | None, *,
                  reset: bool) -> torch.Tensor:
        """``X`` checked and flattened to (n_stimuli, n_features); sets or checks
        ``n_features_in_``."""
        X = check_input(X, "X", ndim=(2, 4), device=device, dtype=dtype, estimator=self,
                        min_samples=2 if reset else 1)
        X = X.reshape(X.shape[0], -1)
        check_n_features(self, X.shape[1], reset=reset,
                         note=" (a grid's y·x·features, flattened)" if not reset else "")
        return X

    def _batch(self, n_targets: int) -> int:
        b = self.n_targets_batch
        if b is None:
            return max(n_targets, 1)
        if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or b < 1:
            raise ParameterError(f"n_targets_batch must be a positive int or None; got {b!r}.")
        return int(b)

    # --------------------------------------------------------------------- fit
    def fit(self, X: Any, Y: Any) -> RidgeEncoder:
        """Choose an alpha per target by cross-validation, then refit on all stimuli.

        Parameters
        ----------
        X : array-like of shape (n_stimuli, n_features) or (n_stimuli, y, x, n_features)
        Y : array-like of shape (n_stimuli, n_targets) or (n_stimuli,)

        Returns
        -------
        self : RidgeEncoder
        """
        device = resolve_device(self.device)
        dtype = _resolve_dtype(self.dtype)
        alphas = _check_alphas(self.alphas)
        if not isinstance(self.fit_intercept, (bool, np.bool_)):
            raise ParameterError(f"fit_intercept must be True or False; got "
                                 f"{self.fit_intercept!r}.")
        # The decomposition runs in float64 (on the CPU for MPS, which has no float64).
        dec_device = torch.device("cpu") if device.type == "mps" else device
        X = self._features(X, dec_device, torch.float64, reset=True)
        Y = check_targets(self, Y, dtype=dtype)
        check_pair(X, Y)
        y_1d = Y.ndim == 1
        if y_1d:
            Y = Y[:, None]
        n, n_targets = Y.shape
        folds = _check_folds(self.cv, n)
        batch = self._batch(n_targets)
        center = bool(self.fit_intercept)

        score_sum = torch.zeros(len(alphas), n_targets, dtype=torch.float64)
        for i, (train, val) in enumerate(folds):
            tr = torch.from_numpy(train).to(device)
            va = torch.from_numpy(val).to(device)
            A, W, _, lam, _, regime = _operators(X[tr.to(X.device)], center,
                                                 X[va.to(X.device)])
            logger.debug("RidgeEncoder fold %d/%d: %s form, %d eigen-directions, %d targets in "
                         "batches of %d", i + 1, len(folds), regime, lam.numel(), n_targets, batch)
            A, W = A.to(device, dtype), W.to(device, dtype)
            D = self._shrink(lam, alphas, device, dtype)  # (n_alphas, k)
            for start in range(0, n_targets, batch):
                Yb = Y[:, start:start + batch].to(device)
                score_sum[:, start:start + batch] += self._fold_scores(Yb, tr, va, A, W, D,
                                                                       center).cpu()
        self.cv_scores_ = (score_sum / len(folds)).numpy()
        best = np.argmax(self.cv_scores_, axis=0)  # first best alpha on ties
        self.best_alphas_ = alphas[best]

        _, W, P, lam, x_mean, regime = _operators(X, center)
        logger.debug("RidgeEncoder refit: %s form, %d eigen-directions", regime, lam.numel())
        W, P = W.to(device, dtype), P.to(device, dtype)
        D = self._shrink(lam, alphas, device, dtype).T  # (k, n_alphas)
        best_t = torch.from_numpy(best).to(device)
        coef = np.empty((X.shape[1], n_targets), dtype=np.float32 if dtype == torch.float32
                        else np.float64)
        y_mean = Y.mean(0, dtype=torch.float64) if center else torch.zeros(n_targets,
                                                                           dtype=torch.float64)
        for start in range(0, n_targets, batch):
            Yb = Y[:, start:start + batch].to(device)
            if center:
                Yb = Yb - Yb.mean(0)
            B = (W.T @ Yb) * D[:, best_t[start:start + batch]]
            coef[:, start:start + batch] = (P @ B).cpu().numpy()
        intercept = (y_mean - x_mean.cpu() @ torch.from_numpy(coef).double()).numpy()
        self.coef_ = coef[:, 0] if y_1d else coef
        self.intercept_ = intercept.astype(coef.dtype)
        if y_1d:
            self.intercept_ = float(self.intercept_[0])
        return self

    @staticmethod
    def _shrink(lam: torch.Tensor, alphas: np.ndarray, device: torch.device,
                dtype: torch.dtype) -> torch.Tensor:
        """``1 / (lam + alpha)`` for every alpha (rows) and eigenvalue (columns)."""
        a = torch.from_numpy(alphas).to(lam.device)
        return (1.0 / (lam[None, :] + a[:, None])).to(device, dtype)

    @staticmethod
    def _fold_scores(Yb: torch.Tensor, tr: torch.Tensor, va: torch.Tensor, A: torch.Tensor,
                     W: torch.Tensor, D: torch.Tensor, center: bool) -> torch.Tensor:
        """Validation R² (n_alphas, n_targets_batch) of one fold and target batch."""
        Ytr, Yva = Yb[tr], Yb[va]
        if center:
            mu = Ytr.mean(0)
            Ytr, Yva = Ytr - mu, Yva - mu
        ss_tot = (Yva - Yva.mean(0)).square().sum(0)
        B = W.T @ Ytr  # (k, batch), once for all alphas
        scores = torch.empty(D.shape[0], Yb.shape[1], dtype=Yb.dtype, device=Yb.device)
        for j in range(D.shape[0]):
            resid = torch.addmm(Yva, A * D[j], B, alpha=-1.0)  # Y_val - prediction
            ss_res = resid.square().sum(0)
            scores[j] = torch.where(ss_tot > 0, 1.0 - ss_res / ss_tot.clamp_min(1e-30),
                                    torch.zeros_like(ss_res))
        return scores.double()

    # ----------------------------------------------------------------- predict
    def predict(self, X: Any) -> np.ndarray:
        """Predicted responses.

        Parameters
        ----------
        X : array-like of shape (n_stimuli, n_features) or (n_stimuli, y, x, n_features)

        Returns
        -------
        Y_pred : ndarray of shape (n_stimuli, n_targets), or (n_stimuli,) if fit on 1-D ``Y``
            Computed in ``dtype``; float32 for float32 ``X``, float64 otherwise.
        """
        check_is_fitted(self, "coef_")
        device = resolve_device(self.device)
        dtype = _resolve_dtype(self.dtype)
        X = self._features(X, None, None, reset=False)  # where it is, float32 or float64
        out_dtype = X.dtype
        coef = torch.as_tensor(self.coef_).to(device, dtype)
        intercept = torch.as_tensor(np.asarray(self.intercept_)).to(device, dtype)
        return (X.to(device, dtype) @ coef + intercept).cpu().to(out_dtype).numpy()
