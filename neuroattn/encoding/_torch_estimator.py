"""The fitting loop the neural encoders share: standardise, train, stop early, predict.

Features are standardised per channel and responses per voxel on the
training stimuli; a held-out fraction (or an explicit validation set) stops
training when its mean Pearson r has not improved for ``patience`` epochs,
and the best epoch's weights are kept.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

from neuroattn._logging import logger, use_log_level
from neuroattn.device import autocast, resolve_device
from neuroattn.encoding._base import (
    BaseEncoder,
    check_input,
    check_n_features,
    check_pair,
    check_targets,
)
from neuroattn.errors import ParameterError
from neuroattn.nn.pretrained import (
    PretrainedFormatError,
    PretrainedMixin,
    check_jsonable,
    load_state_strict,
    preset_config,
)
from neuroattn.training.loop import EarlyStopping, TrainConfig, Trainer
from neuroattn.training.objective import ModelObjective, objective_loss


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
        raise ParameterError(f"rois must be labels (n_voxels,) or a membership (n_voxels, n_rois) "
                             f"for the {n_voxels} voxels of Y; got shape {rois.shape}.")
    rois = rois.astype(bool)
    orphans = np.flatnonzero(~rois.any(1))
    if orphans.size:
        raise ParameterError(f"{orphans.size} voxel(s) (e.g. {orphans[:5].tolist()}) are in no "
                             "ROI; add a 'rest' ROI for them, as the paper does.")
    return torch.from_numpy(rois), names


class _ShuffledBatches:
    """``(x, y)`` batches of one epoch, in an order drawn from ``generator`` at each pass."""

    def __init__(self, X: torch.Tensor, Y: torch.Tensor, batch_size: int,
                 generator: torch.Generator) -> None:
        self.X, self.Y, self.batch_size, self.generator = X, Y, batch_size, generator

    def __len__(self) -> int:
        return -(-len(self.X) // self.batch_size)

    def __iter__(self):
        order = torch.randperm(len(self.X), generator=self.generator)
        for idx in order.split(self.batch_size):
            yield self.X[idx], self.Y[idx]


class _Regression(ModelObjective):
    """The mean squared error of the encoder's predictions, as the trainer's ``forward``."""

    def forward(self, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        x, y = batch
        pred, _ = self.model(x)
        return nn.functional.mse_loss(pred.float(), y), {}


class TorchEncoder(BaseEncoder, PretrainedMixin):
    """Base of the gradient-trained encoders (see the module docstring).

    Subclasses implement ``_build(height, width, n_features, n_voxels, membership)``
    returning a module ``grid (B, H, W, F) -> (responses (B, V), routing (B, Q, H·W))``.

    ``X`` is a feature grid (n, H, W, F), or (n, F): one feature vector per
    stimulus (a pooled or class token), read as a 1 × 1 grid. ``Y`` is
    (n, voxels), or (n,) for one target, which is then predicted 1-D.

    ``fit`` trains on :class:`~neuroattn.training.loop.Trainer` (AdamW, a one-cycle
    schedule, autocast, gradient clipping, early stopping on the validation correlation
    with the best epoch's weights restored) in a temporary run directory that is deleted
    when ``fit`` returns, so a fit leaves no files behind; its per-epoch log lines are
    kept at DEBUG, as ``GridSearchCV`` fits many times.
    """

    def _grid(self, X: Any, name: str = "X", *, reset: bool = False,
              dtype: torch.dtype | None = torch.float32, min_samples: int = 1) -> torch.Tensor:
        """``X`` checked, as a (n, H, W, F) grid on the host; sets or checks the fitted layout."""
        X = check_input(X, name, ndim=(2, 4), device="cpu", dtype=dtype, estimator=self,
                        min_samples=min_samples)
        if X.ndim == 2:
            X = X[:, None, None, :]
        check_n_features(self, X.shape[-1], reset=reset, note=" (the grid's last axis)")
        if reset:
            self.grid_shape_ = tuple(X.shape[1:3])
        elif tuple(X.shape[1:3]) != self.grid_shape_:
            raise ParameterError(f"{name} has grid {tuple(X.shape[1:3])} and {X.shape[-1]} "
                                 f"features; the encoder was fitted on {self.grid_shape_} and "
                                 f"{self.n_features_in_}.")
        return X

    def fit(self, X: Any, Y: Any, *, rois: Any = None, X_val: Any = None,
            Y_val: Any = None) -> TorchEncoder:
        """Train on features ``X`` (n, H, W, F) or (n, F) and responses ``Y`` (n, voxels) or (n,).

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
        # Training needs 2 stimuli (a std), early stopping 2 more (a correlation).
        X = self._grid(X, reset=True, min_samples=4 if X_val is None else 2)
        Y = check_targets(self, Y)
        check_pair(X, Y)
        y_1d = Y.ndim == 1
        Y = Y[:, None] if y_1d else Y
        generator = torch.Generator().manual_seed(self.random_state)
        if X_val is None:
            order = torch.randperm(len(X), generator=generator)
            n_val = max(2, int(round(self.val_fraction * len(X))))
            if n_val > len(X) - 2:
                raise ParameterError(f"val_fraction={self.val_fraction} leaves fewer than 2 "
                                     f"training stimuli of {len(X)}; lower it or pass X_val, "
                                     "Y_val.")
            X_val, Y_val, X, Y = X[order[:n_val]], Y[order[:n_val]], X[order[n_val:]], \
                Y[order[n_val:]]
        else:
            X_val = self._grid(X_val, "X_val")
            Y_val = check_input(Y_val, "Y_val", ndim=(1, 2))
            check_pair(X_val, Y_val)
            Y_val = Y_val[:, None] if Y_val.ndim == 1 else Y_val
        self.x_mean_, self.x_std_ = X.mean((0, 1, 2)), X.std((0, 1, 2)).clamp_min(1e-6)
        self.y_mean_, self.y_std_ = Y.mean(0), Y.std(0).clamp_min(1e-6)
        membership = None
        self.roi_names_ = None
        if self.query_mode == "roi":
            if rois is None:
                raise ParameterError('query_mode="roi" needs fit(..., rois=...): a label per voxel '
                                     "or a (voxels, ROIs) membership.")
            membership, self.roi_names_ = _membership(rois, Y.shape[1])
        torch.manual_seed(self.random_state)
        self.module_ = self._build(*self.grid_shape_, X.shape[-1], Y.shape[1], membership
                                   ).to(device)
        self._train(self._scale_x(X), (Y - self.y_mean_) / self.y_std_, self._scale_x(X_val),
                    Y_val, device, generator)
        if y_1d:  # a 1-D Y: 0-d statistics, and 1-D predictions
            self.y_mean_, self.y_std_ = self.y_mean_[0], self.y_std_[0]
        return self

    def _scale_x(self, X: torch.Tensor) -> torch.Tensor:
        return (X - self.x_mean_) / self.x_std_

    def _train(self, X, Y, X_val, Y_val, device, generator) -> None:
        from neuroattn.encoding.metrics import pearson_r

        steps = self.max_epochs * -(-len(X) // self.batch_size)
        config = TrainConfig(epochs=self.max_epochs, lr=self.lr, weight_decay=self.weight_decay,
                             grad_clip=self.grad_clip or None, warmup_steps=0,
                             precision=self.precision, device=str(device), seed=self.random_state,
                             log_every=max(1, steps), tf32=False)

        def one_cycle(optimizer: torch.optim.Optimizer, total: int
                      ) -> torch.optim.lr_scheduler.LRScheduler:
            # OneCycleLR divides by zero when pct_start * total_steps == 1 (0.1 × 10 steps).
            return torch.optim.lr_scheduler.OneCycleLR(
                optimizer, max_lr=self.lr, total_steps=total,
                pct_start=0.1 if total != 10 else 0.15)

        def validation(_: nn.Module) -> dict[str, float]:
            return {"r": float(np.mean(pearson_r(self._predict_scaled(X_val, device), Y_val)))}

        with tempfile.TemporaryDirectory(prefix="neuroattn_encoder_") as run_dir, \
                use_log_level("WARNING"):
            trainer = Trainer(
                _Regression(self.module_), objective_loss, config, run_dir, val_fn=validation,
                monitor="r", mode="max", model_name=type(self).__name__,
                progress=self.progress, callbacks=[EarlyStopping(self.patience)],
                scheduler_factory=one_cycle,
                run_config={"train": config, "estimator": type(self).__name__})
            summary = trainer.fit(_ShuffledBatches(X, Y, self.batch_size, generator))
        self.history_ = [{"epoch": row["epoch"] + 1, "loss": row["loss"], "val_r": row["val_r"]}
                         for row in summary["history"]]
        self.best_epoch_ = summary["best_epoch"] + 1
        self.best_val_r_ = float(trainer.best)
        for row in self.history_:
            logger.debug("%s epoch %d: loss %.4f, val r %.4f", type(self).__name__,
                         row["epoch"], row["loss"], row["val_r"])

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
        return (pred[:, 0] if self.y_mean_.ndim == 0 else pred).numpy()

    def _checked(self, X: Any) -> tuple[torch.Tensor, torch.device]:
        """Scaled features, checked against the fitted grid, and the model's device."""
        check_is_fitted(self, "module_")
        X = self._grid(X)
        return self._scale_x(X), next(self.module_.parameters()).device

    def predict(self, X: Any) -> np.ndarray:
        """Predicted responses (n, voxels), or (n,) after a 1-D ``Y``, for features ``X``.

        Float32 for float32 ``X`` (the model runs in float32 or autocast), float64 otherwise.
        """
        check_is_fitted(self, "module_")
        X = self._grid(X, dtype=None)  # float32 or float64, as given
        device = next(self.module_.parameters()).device
        pred = self._predict_scaled(self._scale_x(X.float()), device)
        return pred.astype(np.float64 if X.dtype == torch.float64 else np.float32, copy=False)

    def attention_maps(self, X: Any) -> np.ndarray:
        """Routing maps (n, queries, H, W): where each query reads the grid, per image.

        For ``query_mode="roi"`` the queries are the ROIs (``roi_names_``);
        maps are averaged over heads (last decoder layer) and sum to one.
        """
        maps = self._run(*self._checked(X))[1]
        return maps.reshape(maps.shape[0], maps.shape[1], *self.grid_shape_).numpy()

    # ---------------------------------------------------------------- save / load
    #: Fitted attributes kept in config.json, and those kept as tensors in model.safetensors.
    FITTED_JSON = ("n_features_in_", "grid_shape_", "roi_names_", "history_", "best_epoch_",
                   "best_val_r_")
    FITTED_TENSORS = ("x_mean_", "x_std_", "y_mean_", "y_std_")

    @classmethod
    def preset(cls, size: str = "small", **overrides: Any) -> TorchEncoder:
        """An unfitted encoder of a named size (``presets``: parameters of ``__init__``)."""
        return cls(**preset_config(cls, size, overrides))

    def pretrained_config(self) -> dict[str, Any]:
        """``get_params()`` and the fitted values needed to predict (for ``save_pretrained``).

        Raises ``NotFittedError`` before ``fit``, and a ParameterError naming a
        parameter that JSON cannot hold.
        """
        check_is_fitted(self, "module_")
        fitted = {name: getattr(self, name) for name in self.FITTED_JSON if hasattr(self, name)}
        return {"params": check_jsonable(self.get_params(deep=False), "params"),
                "fitted": check_jsonable(fitted, "fitted")}

    def pretrained_state(self) -> dict[str, torch.Tensor]:
        """The fitted module's state (``module.*``), the standardisation statistics and the
        ROI membership (``fitted.*``)."""
        check_is_fitted(self, "module_")
        state = {f"module.{k}": v for k, v in self.module_.state_dict().items()}
        state.update({f"fitted.{name}": getattr(self, name) for name in self.FITTED_TENSORS})
        membership = self._fitted_membership()
        if membership is not None:
            state["fitted.membership"] = membership
        return state

    def _fitted_membership(self) -> torch.Tensor | None:
        """The (voxels, ROIs) membership the module was built with; None for one per voxel."""
        readout = getattr(self.module_, "readout", None)
        if readout is None or getattr(readout, "per_voxel", True):
            return None
        buffers = dict(readout.named_buffers())
        groups = []
        while f"voxels_{len(groups)}" in buffers:
            groups.append(buffers[f"voxels_{len(groups)}"].cpu())
        membership = torch.zeros(readout.bias.numel(), len(groups), dtype=torch.bool)
        for r, voxels in enumerate(groups):
            membership[voxels, r] = True
        return membership

    @classmethod
    def apply_overrides(cls, config: dict[str, Any], overrides: Any) -> dict[str, Any]:
        """``from_pretrained`` keywords replace parameters (e.g. ``device="cpu"``)."""
        params = dict(config.get("params", {}))
        return {**config, "params": super().apply_overrides(params, overrides)}

    @classmethod
    def from_pretrained_config(cls, config: dict[str, Any]) -> TorchEncoder:
        """An encoder with the saved parameters and fitted values; the module comes with the
        tensors (:meth:`load_pretrained_state`)."""
        estimator = cls(**config["params"])
        for name, value in config.get("fitted", {}).items():
            if name not in cls.FITTED_JSON:
                raise KeyError(f"unknown fitted attribute {name!r}")
            setattr(estimator, name, tuple(value) if name == "grid_shape_" else value)
        return estimator

    def load_pretrained_state(self, state: dict[str, torch.Tensor],
                              source: str | os.PathLike) -> None:
        """Set the statistics and rebuild the fitted module from tensors read from ``source``."""
        prefixed = ("module.", "fitted.")
        missing = [f"fitted.{name}" for name in self.FITTED_TENSORS
                   if f"fitted.{name}" not in state]
        unexpected = sorted(k for k in state if not k.startswith(prefixed) or (
            k.startswith("fitted.") and k[7:] not in (*self.FITTED_TENSORS, "membership")))
        if missing or unexpected or not hasattr(self, "grid_shape_"):
            raise PretrainedFormatError(
                f"{source} does not hold a fitted {type(self).__name__} (missing {missing}, "
                f"unexpected {unexpected[:6]}); save the fitted encoder again.")
        for name in self.FITTED_TENSORS:
            setattr(self, name, state[f"fitted.{name}"])
        membership = state.get("fitted.membership")
        try:
            with torch.random.fork_rng(devices=[]):
                module = self._build(*self.grid_shape_, self.n_features_in_,
                                     self.y_mean_.numel(),
                                     None if membership is None else membership.bool())
        except (AttributeError, TypeError, ValueError) as err:
            raise PretrainedFormatError(f"{source} cannot rebuild this {type(self).__name__} "
                                        f"({err}); save the fitted encoder again.") from None
        load_state_strict(module, {k[7:]: v for k, v in state.items()
                                   if k.startswith("module.")}, source)
        self.module_ = module.to(resolve_device(self.device))
