"""The fitting loop the neural encoders share: standardise, train, stop early, predict.

Features are standardised per channel and responses per voxel on the
training stimuli; a held-out fraction (or an explicit validation set) stops
training when its mean Pearson r has not improved for ``patience`` epochs,
and the best epoch's weights are kept.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn

from neuroattn._logging import logger
from neuroattn.device import autocast, resolve_device
from neuroattn.encoding._base import BaseEncoder, as_tensor, check_pair
from neuroattn.progress import progress as progress_bar


def _membership(rois: Any, n_voxels: int) -> tuple[torch.Tensor, list[str] | None]:
    """ROI labels (V,) or a membership matrix (V, R) → bool (V, R), plus names if given."""
    names = None
    if hasattr(rois, "columns"):  # a pandas DataFrame of bool columns
        names = [str(c) for c in rois.columns]
        rois = rois.to_numpy()
    rois = np.asarray(rois)
    if rois.ndim == 1:
        labels, inverse = np.unique(rois, return_inverse=True)
        matrix = np.zeros((len(rois), len(labels)), bool)
        matrix[np.arange(len(rois)), inverse] = True
        names = [str(label) for label in labels]
        rois = matrix
    if rois.ndim != 2 or rois.shape[0] != n_voxels:
        raise ValueError(f"rois must be labels (n_voxels,) or a membership (n_voxels, n_rois) "
                         f"for the {n_voxels} voxels of Y; got shape {rois.shape}.")
    rois = rois.astype(bool)
    orphans = np.flatnonzero(~rois.any(1))
    if orphans.size:
        raise ValueError(f"{orphans.size} voxel(s) (e.g. {orphans[:5].tolist()}) are in no ROI; "
                         "add a 'rest' ROI for them, as the paper does.")
    return torch.from_numpy(rois), names


class TorchEncoder(BaseEncoder):
    """Base of the gradient-trained encoders (see the module docstring).

    Subclasses implement ``_build(height, width, n_features, n_voxels, membership)``
    returning a module ``grid (B, H, W, F) -> (responses (B, V), routing (B, Q, H·W))``.
    """

    def fit(self, X: Any, Y: Any, *, rois: Any = None, X_val: Any = None,
            Y_val: Any = None) -> TorchEncoder:
        """Train on features ``X`` (n, H, W, F) and responses ``Y`` (n, voxels).

        Parameters
        ----------
        rois : array-like, optional
            ROI label per voxel (n_voxels,) or a bool membership (n_voxels, n_rois)
            that may overlap. Needed by ``query_mode="roi"``.
        X_val, Y_val : array-like, optional
            Validation set for early stopping (default: ``val_fraction`` of the
            training stimuli, drawn with ``random_state``).
        """
        device = resolve_device(self.device)
        X = as_tensor(X, "X", ndim=4)
        Y = as_tensor(Y, "Y", ndim=2)
        check_pair(X, Y)
        generator = torch.Generator().manual_seed(self.random_state)
        if X_val is None:
            order = torch.randperm(len(X), generator=generator)
            n_val = max(1, int(round(self.val_fraction * len(X))))
            if n_val >= len(X):
                raise ValueError(f"val_fraction={self.val_fraction} leaves no training stimuli.")
            X_val, Y_val, X, Y = X[order[:n_val]], Y[order[:n_val]], X[order[n_val:]], \
                Y[order[n_val:]]
        else:
            X_val, Y_val = as_tensor(X_val, "X_val", ndim=4), as_tensor(Y_val, "Y_val", ndim=2)
        self.n_features_in_ = X.shape[-1]
        self.grid_shape_ = tuple(X.shape[1:3])
        self.x_mean_, self.x_std_ = X.mean((0, 1, 2)), X.std((0, 1, 2)).clamp_min(1e-6)
        self.y_mean_, self.y_std_ = Y.mean(0), Y.std(0).clamp_min(1e-6)
        membership = None
        self.roi_names_ = None
        if self.query_mode == "roi":
            if rois is None:
                raise ValueError('query_mode="roi" needs fit(..., rois=...): a label per voxel '
                                 "or a (voxels, ROIs) membership.")
            membership, self.roi_names_ = _membership(rois, Y.shape[1])
        torch.manual_seed(self.random_state)
        self.module_ = self._build(*self.grid_shape_, X.shape[-1], Y.shape[1], membership
                                   ).to(device)
        self._train(self._scale_x(X), (Y - self.y_mean_) / self.y_std_, self._scale_x(X_val),
                    Y_val, device, generator)
        return self

    def _scale_x(self, X: torch.Tensor) -> torch.Tensor:
        return (X - self.x_mean_) / self.x_std_

    def _train(self, X, Y, X_val, Y_val, device, generator) -> None:
        from neuroattn.encoding.metrics import pearson_r

        opt = torch.optim.AdamW(self.module_.parameters(), lr=self.lr,
                                weight_decay=self.weight_decay)
        steps = self.max_epochs * -(-len(X) // self.batch_size)
        schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.lr, total_steps=steps,
                                                       pct_start=0.1)
        best, best_state, stale = -np.inf, None, 0
        self.history_ = []
        epochs = progress_bar(range(self.max_epochs), desc=type(self).__name__,
                              enabled=self.progress)
        for epoch in epochs:
            self.module_.train()
            order = torch.randperm(len(X), generator=generator)
            total = 0.0
            for idx in order.split(self.batch_size):
                x, y = X[idx].to(device), Y[idx].to(device)
                with autocast(device, self.precision):
                    pred, _ = self.module_(x)
                loss = nn.functional.mse_loss(pred.float(), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if self.grad_clip:
                    nn.utils.clip_grad_norm_(self.module_.parameters(), self.grad_clip)
                opt.step()
                schedule.step()
                total += loss.item() * len(idx)
            val_r = float(np.mean(pearson_r(self._predict_scaled(X_val, device), Y_val)))
            self.history_.append({"epoch": epoch + 1, "loss": total / len(X), "val_r": val_r})
            logger.debug("%s epoch %d: loss %.4f, val r %.4f", type(self).__name__, epoch + 1,
                         total / len(X), val_r)
            if val_r > best:
                best, stale = val_r, 0
                best_state = copy.deepcopy(self.module_.state_dict())
                self.best_epoch_ = epoch + 1
            else:
                stale += 1
                if stale >= self.patience:
                    break
        self.module_.load_state_dict(best_state)
        self.best_val_r_ = best

    @torch.no_grad()
    def _run(self, X: torch.Tensor, device: torch.device, batch: int = 256
             ) -> tuple[torch.Tensor, torch.Tensor]:
        self.module_.eval()
        outs, maps = [], []
        for x in X.split(batch):
            with autocast(device, self.precision):
                pred, routing = self.module_(x.to(device))
            outs.append(pred.float().cpu())
            maps.append(routing.float().cpu())
        return torch.cat(outs), torch.cat(maps)

    def _predict_scaled(self, X_scaled: torch.Tensor, device: torch.device) -> np.ndarray:
        pred = self._run(X_scaled, device)[0] * self.y_std_ + self.y_mean_
        return pred.numpy()

    def _checked(self, X: Any) -> tuple[torch.Tensor, torch.device]:
        """Scaled features, checked against the fitted grid, and the model's device."""
        if not hasattr(self, "module_"):
            raise RuntimeError(f"This {type(self).__name__} is not fitted yet; call fit first.")
        X = as_tensor(X, "X", ndim=4)
        if tuple(X.shape[1:3]) != self.grid_shape_ or X.shape[-1] != self.n_features_in_:
            raise ValueError(f"X has grid {tuple(X.shape[1:3])} and {X.shape[-1]} features; the "
                             f"encoder was fitted on {self.grid_shape_} and "
                             f"{self.n_features_in_}.")
        return self._scale_x(X), next(self.module_.parameters()).device

    def predict(self, X: Any) -> np.ndarray:
        """Predicted responses (n, voxels) for features ``X`` (n, H, W, F)."""
        return self._predict_scaled(*self._checked(X))

    def attention_maps(self, X: Any) -> np.ndarray:
        """Routing maps (n, queries, H, W): where each query reads the grid, per image.

        For ``query_mode="roi"`` the queries are the ROIs (``roi_names_``);
        maps are averaged over heads (last decoder layer) and sum to one.
        """
        maps = self._run(*self._checked(X))[1]
        return maps.reshape(maps.shape[0], maps.shape[1], *self.grid_shape_).numpy()
