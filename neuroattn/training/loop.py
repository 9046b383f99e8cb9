"""The generic training loop: device, autocast, clipping, schedules, checkpoints, resume.

Every epoch ends with an atomic ``last.pt`` (the one it replaces is kept as
``last.prev.pt``, the fallback when ``last.pt`` cannot be read) and
``best.pt`` when the validation metric improves (``monitor``, ``mode``),
holding the model, optimiser, schedule, step, epoch, the per-epoch history,
the callbacks' states and every random-number state, so ``resume=True``
continues exactly where the last finished epoch left off: same steps, same
batches (loaders with ``set_epoch``), same dropout masks, same early-stopping
count.
A resume refuses changed settings, except those in ``resume_may_change``
(such as more epochs), which it applies, warns about and records in
``config.yaml``. Each run has a ``run_id``, stored in its checkpoints, so a
``best.pt`` left by another run is never taken for this run's. Metrics go to ``metrics.jsonl`` and
``metrics.csv`` in the run directory (and TensorBoard if asked): one row of
running means every ``log_every`` steps and at the end of each epoch. Rows
written after the last checkpoint of a killed run are dropped on resume.

A step does no host sync: the loss and the metrics (floats or 0-d tensors)
are summed on the device and read back in one transfer per logged row (one
all-reduce of one stacked tensor under ``torchrun``). Checkpoints are loaded
on the CPU, so the random-number states restore whatever the device.

Callbacks (:class:`Callback`) run after each epoch's validation and may
stop the run: :class:`EarlyStopping` stops after ``patience`` epochs without
a better monitored value and restores the best epoch's weights. The learning
rate follows ``TrainConfig.schedule``: a linear warmup, then a cosine decay
to zero (``"cosine"``) or a constant rate (``"constant"``). :meth:`Trainer.fit`
returns a :class:`TrainSummary`, the result type of every ``fit_*`` trainer.

Under ``torchrun`` the model is wrapped in DistributedDataParallel, logged
values are averaged over ranks, and only rank 0 validates and writes logs,
checkpoints and progress bars (see :mod:`neuroattn.training.distributed`);
rank 0's decision to stop reaches every rank, and at the end every rank gets
rank 0's parameters and buffers (the weights a callback restored there, and
the BatchNorm statistics, which each rank's last batch left its own). Exact
resume is guaranteed for one process; with several, each rank's dropout
stream is reseeded from the seed, its rank and the step.

Examples
--------
>>> import tempfile, torch
>>> from neuroattn.training.loop import TrainConfig, Trainer
>>> model = torch.nn.Linear(3, 1)
>>> data = [(torch.randn(8, 3), torch.randn(8, 1)) for _ in range(4)]
>>> def loss_fn(model, batch):
...     x, y = batch
...     loss = torch.nn.functional.mse_loss(model(x), y)
...     return loss, {"mse": loss.detach()}
>>> trainer = Trainer(model, loss_fn, TrainConfig(epochs=2, lr=0.1), tempfile.mkdtemp(),
...                   progress=False)
>>> summary = trainer.fit(data)
>>> summary["step"], summary["epoch"]
(8, 2)

Early stopping on a validation loss (lower is better), restoring the best weights:

>>> def val_fn(model):
...     return {"mse": sum(float(loss_fn(model, b)[0]) for b in data) / len(data)}
>>> trainer = Trainer(model, loss_fn, TrainConfig(epochs=50, lr=0.1, schedule="constant"),
...                   tempfile.mkdtemp(), val_fn=val_fn, monitor="mse", mode="min",
...                   callbacks=[EarlyStopping(patience=2)], progress=False)
>>> summary = trainer.fit(data)
>>> summary["stopped_early"], summary["best"] == min(h["val_mse"] for h in summary["history"])
(True, True)
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
import time
import uuid
import warnings
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import torch

from neuroattn._logging import logger
from neuroattn._validation import check_int, to_jsonable
from neuroattn.config import (
    ConfigError,
    check_ranges,
    config_changes,
    in_range,
    save_config,
    to_dict,
)
from neuroattn.device import (
    DeviceError,
    autocast,
    enable_tf32,
    needs_grad_scaler,
    resolve_device,
)
from neuroattn.errors import ParameterError
from neuroattn.progress import progress as progress_bar
from neuroattn.seeding import set_seed
from neuroattn.training import distributed
from neuroattn.training.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_latest_checkpoint,
    previous_checkpoint,
    save_checkpoint,
)

Metric = float | torch.Tensor
LossFn = Callable[[torch.nn.Module, Any], tuple[torch.Tensor, dict[str, Metric]]]

#: Settings a resume may change (the training length, where it runs, how often it logs).
RESUME_MAY_CHANGE = ("epochs", "max_steps", "device", "log_every", "tf32")

#: Learning-rate schedules of :class:`TrainConfig` (each after ``warmup_steps`` of linear warmup).
SCHEDULES = ("cosine", "constant")

#: Directions of the monitored validation value: higher (``"max"``) or lower is better.
MODES = ("max", "min")
_RESUME_HINT = ("a Trainer built with the settings in {config}, then fit(resume=True); on the "
                "command line --config {config} --resume")
_RESTART_HINT = "fit(resume=False); on the command line --overwrite"


@dataclass
class TrainConfig:
    """Optimisation settings (all recorded in the run's ``config.yaml``).

    ``precision`` is one of :data:`neuroattn.device.PRECISIONS` (the fp16
    spellings train with a gradient scaler), ``log_every`` the number of steps
    per logged row of running means, and ``tf32`` allows TF32 matmuls for the
    float32 work on CUDA (ignored elsewhere). The TF32 switches are
    process-wide ``torch.backends`` flags and stay set after training: use
    ``tf32=False`` (or reset the flags) before float32 work that must be exact.
    ``schedule`` is one of :data:`SCHEDULES`: after ``warmup_steps`` of linear
    warmup the rate decays to zero along a cosine (``"cosine"``) or stays at
    ``lr`` (``"constant"``; with ``weight_decay=0`` this is plain Adam at a
    constant rate).
    """

    epochs: int = in_range(10, low=1)
    max_steps: int | None = in_range(None, low=1)
    lr: float = in_range(1e-4, low=0, low_open=True)
    weight_decay: float = in_range(0.01, low=0)
    warmup_steps: int = in_range(0, low=0)
    grad_clip: float | None = in_range(1.0, low=0, low_open=True)
    precision: str = "auto"
    device: str = "auto"
    #: Rank r seeds with ``seed + 1000 r``: numpy takes seeds below 2**32.
    seed: int = in_range(0, low=0, high=2**31 - 1)
    log_every: int = in_range(50, low=1)
    tf32: bool = True
    schedule: str = "cosine"


def resolve_training_device(name: str) -> torch.device:
    """:func:`~neuroattn.device.resolve_device`, with a missing device as a :class:`ConfigError`.

    Examples
    --------
    >>> resolve_training_device("cpu")
    device(type='cpu')
    >>> resolve_training_device("gpu")
    Traceback (most recent call last):
    ...
    neuroattn.config.ConfigError: train.device='gpu' cannot be used: device='gpu' is not a
    device; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'.
    """
    try:
        return resolve_device(name)
    except DeviceError as err:
        raise ConfigError(f"train.device={name!r} cannot be used: {err}") from None


def warmup_cosine(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    """Learning-rate factor: linear warmup, then cosine decay to zero at ``total_steps``.

    Examples
    --------
    >>> f = warmup_cosine(100, 10)
    >>> f(0), f(10), round(f(55), 3), f(100)
    (0.1, 1.0, 0.5, 0.0)
    """
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        span = max(1, total_steps - warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup_steps) / span)))

    return factor


def warmup_constant(warmup_steps: int) -> Callable[[int], float]:
    """Learning-rate factor: linear warmup, then constant.

    Examples
    --------
    >>> f = warmup_constant(4)
    >>> [f(s) for s in (0, 3, 4, 1000)]
    [0.25, 1.0, 1.0, 1.0]
    """
    def factor(step: int) -> float:
        return (step + 1) / warmup_steps if step < warmup_steps else 1.0

    return factor


class TrainSummary(TypedDict):
    """What :meth:`Trainer.fit` (and every ``fit_*`` trainer built on it) returns.

    Callers may add their own keys (the iEEG runner adds its evaluation).

    Attributes
    ----------
    step : int
        Optimiser steps taken in all (resumed runs included).
    epoch : int
        Epochs completed.
    best : float
        Best monitored validation value (``-inf`` or ``inf`` without validation).
    best_epoch : int
        Index (from 0) of the epoch that reached ``best``; -1 without validation.
    stopped_early : bool
        Whether a callback (such as :class:`EarlyStopping`) ended the run.
    history : list of dict
        One row per epoch, on rank 0: ``epoch`` (from 0), ``step``, ``lr``, the
        running means of the loss and metrics over the epoch's last logged
        steps (the whole epoch when ``log_every`` is at least its length),
        ``val_<key>`` for each validation value, and ``seconds`` (training and
        validation of that epoch).
    seconds : float
        Wall time of this call of :meth:`Trainer.fit`.
    out_dir : str
    run_id : str
    """

    step: int
    epoch: int
    best: float
    best_epoch: int
    stopped_early: bool
    history: list[dict[str, float]]
    seconds: float
    out_dir: str
    run_id: str | None


class Callback:
    """Hooks into :meth:`Trainer.fit`; subclass and override what you need.

    :meth:`on_epoch_end` and :meth:`on_fit_end` run on rank 0 only (where
    validation runs); :meth:`on_fit_start` runs on every rank. The dict of
    :meth:`state_dict` is stored in every checkpoint and handed back to
    :meth:`load_state_dict` on resume, so a resumed run continues the
    callback where it stood.

    Examples
    --------
    >>> class Stop(Callback):
    ...     def on_epoch_end(self, trainer, scores):
    ...         return trainer.epoch >= 2
    >>> Stop().state_dict()
    {}
    """

    def on_fit_start(self, trainer: Trainer) -> None:
        """Called by :meth:`Trainer.fit` before the first epoch (new run or resumed)."""

    def on_epoch_end(self, trainer: Trainer, scores: dict[str, float]) -> bool:
        """Called after each epoch's validation (``scores``: ``val_fn``'s dict, or empty).

        ``trainer.epoch`` is the number of epochs completed, ``trainer.best``
        and ``trainer.best_epoch`` already count this epoch. Return True to
        stop training after this epoch.
        """
        return False

    def on_fit_end(self, trainer: Trainer) -> None:
        """Called when training ends (finished, stopped, or a finished run resumed)."""

    def state_dict(self) -> dict[str, Any]:
        """What to checkpoint (floats, ints, strings, tensors, lists and dicts of them)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


class EarlyStopping(Callback):
    """Stop after ``patience`` epochs without a better monitored validation value.

    "Better" is the trainer's: its ``monitor`` key of ``val_fn``'s dict, in its
    ``mode`` (strictly higher for ``"max"``, strictly lower for ``"min"``),
    which also decides ``best.pt``; so the weights restored are those of
    ``best.pt``, the epoch in ``summary["best_epoch"]``.

    Parameters
    ----------
    patience : int
        Epochs without improvement before stopping (at least 1).
    restore_best : bool
        When training ends, load the best epoch's weights (from this run's
        ``best.pt``) into the model; under ``torchrun`` every rank gets them.

    Examples
    --------
    >>> stopper = EarlyStopping(patience=3)
    >>> stopper.state_dict()
    {'bad_epochs': 0}
    """

    def __init__(self, patience: int, *, restore_best: bool = True) -> None:
        check_int("patience", patience, 1)
        self.patience, self.restore_best = int(patience), bool(restore_best)
        self.bad_epochs = 0

    def on_fit_start(self, trainer: Trainer) -> None:
        """Refuse a trainer without validation; start counting afresh in a new run."""
        if trainer.val_fn is None:
            raise ParameterError(
                "EarlyStopping needs a validation metric, but the Trainer has val_fn=None; "
                "pass val_fn= (returning a dict with the monitor key) or drop EarlyStopping.")
        if trainer.epoch == 0:  # a new run (a resumed one has its count from the checkpoint)
            self.bad_epochs = 0

    def on_epoch_end(self, trainer: Trainer, scores: dict[str, float]) -> bool:
        """Count the epochs since the best one; True once there are ``patience`` of them."""
        self.bad_epochs = 0 if trainer.best_epoch == trainer.epoch - 1 else self.bad_epochs + 1
        if self.bad_epochs >= self.patience:
            logger.info("early stopping: no better %s for %d epochs (best %.6g at epoch %d)",
                        trainer.monitor, self.patience, trainer.best, trainer.best_epoch)
            return True
        return False

    def on_fit_end(self, trainer: Trainer) -> None:
        """Restore the best epoch's weights (if ``restore_best``)."""
        if self.restore_best:
            trainer.restore_best()

    def state_dict(self) -> dict[str, Any]:
        """The count of epochs without improvement."""
        return {"bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue the count of a resumed run."""
        self.bad_epochs = int(state["bad_epochs"])


def _rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    return {"torch": torch.get_rng_state(), "python": random.getstate(),
            "numpy": (np_state[0], torch.from_numpy(np_state[1].astype(np.int64)),
                      *np_state[2:]),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def _set_rng_state(state: dict[str, Any]) -> None:
    """Restore the states of ``_rng_state`` (as CPU byte tensors, whatever their device)."""
    torch.set_rng_state(state["torch"].to("cpu", torch.uint8))
    random.setstate(state["python"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.cpu().numpy().astype(np.uint32), *rest))
    saved = [s.to("cpu", torch.uint8) for s in state["cuda"]]
    visible = torch.cuda.device_count() if torch.cuda.is_available() else 0
    restored = min(len(saved), visible)
    if restored:
        torch.cuda.set_rng_state_all(saved[:restored])
    if len(saved) != visible:
        logger.warning(
            "the checkpoint holds the random states of %d CUDA device(s) but %d are visible: "
            "restored %d; the other devices keep their current states, so dropout on them "
            "will differ from the original run (resume with the same CUDA_VISIBLE_DEVICES "
            "for an exact continuation).", len(saved), visible, restored)


class Trainer:
    """Train ``model`` with ``loss_fn(model, batch) -> (loss, metrics)``.

    Parameters
    ----------
    model : torch.nn.Module
    loss_fn : callable
        Returns the loss to minimise and a dict of metrics to log, each a float or
        a detached 0-d tensor (tensors avoid a host sync per step).
    config : TrainConfig
    out_dir : path-like
        Run directory: ``config.yaml``, ``metrics.jsonl``/``.csv``, ``last.pt``, ``best.pt``.
    val_fn : callable, optional
        ``val_fn(model) -> dict`` run after every epoch (in eval mode, no grad),
        on rank 0 only; ``model`` is the bare module, not its DDP wrapper.
    monitor : str
        Key of ``val_fn``'s dict that decides ``best.pt`` (and :class:`EarlyStopping`).
    mode : {"max", "min"}
        Whether a higher (default) or a lower ``monitor`` value is better.
    model_name : str
        Stored in checkpoints, so a checkpoint of another model is refused.
    progress : bool, optional
        Progress bars (default: on a terminal only).
    tensorboard : bool
        Also write TensorBoard event files (needs ``pip install tensorboard``).
    run_config : dataclass, optional
        The config saved as ``config.yaml`` (default ``config``); pass the
        whole run's config when the training settings are part of it.
    param_groups : list of dict, optional
        AdamW parameter groups (``{"params": [...], "lr": ...}``) for per-group
        learning rates; the schedule scales each group's rate. Default: every
        trainable parameter at ``config.lr``.
    resume_may_change : collection of str
        Dotted keys of ``run_config`` (a key also covers the keys under it)
        that a resume may change; a change to any other setting is refused.
        Default :data:`RESUME_MAY_CHANGE`.
    callbacks : sequence of Callback
        Run after each epoch's validation, in order (all of them, every epoch);
        training stops when any returns True. Their states are checkpointed.
    optimizer_factory : callable, optional
        Builds the optimiser instead of AdamW: called as
        ``optimizer_factory(params, lr=config.lr, weight_decay=config.weight_decay)``
        with the trainable parameters (or ``param_groups``), e.g.
        ``torch.optim.Adagrad``; the schedule scales its rate. It is not part of
        ``config.yaml``: put its name in ``run_config`` so that a resume checks it.
        Default: AdamW (the fused kernel on CUDA).
    scheduler_factory : callable, optional
        Builds the learning-rate schedule instead of ``config.schedule``: called
        as ``scheduler_factory(optimizer, total_steps)`` (``total_steps`` is
        ``max_steps`` or ``epochs`` times the loader's length) and stepped after
        every optimisation step, e.g. ``OneCycleLR``. Like ``optimizer_factory``,
        name it in ``run_config`` so that a resume checks it.

    Attributes
    ----------
    module : torch.nn.Module
        The model itself; ``model`` is its DDP wrapper under ``torchrun``.
    scaler : torch.amp.GradScaler
        Enabled for fp16 autocast only.
    scheduler : torch.optim.lr_scheduler.LRScheduler or None
        Warmup + ``config.schedule`` (or ``scheduler_factory``'s), made by :meth:`fit` (or by
        the first
        :meth:`training_step` outside ``fit``).
    run_id : str or None
        This run's identity, set by :meth:`fit` (new, or the resumed run's)
        and stored in every checkpoint it writes.
    best, best_epoch : float, int
        The best monitored value so far and the index (from 0) of its epoch.
    history : list of dict
        The rows of :attr:`TrainSummary.history` so far.
    stopped_early : bool
        Whether a callback has stopped the run.
    """

    def __init__(self, model: torch.nn.Module, loss_fn: LossFn, config: TrainConfig,
                 out_dir: str | os.PathLike, *, val_fn: Callable | None = None,
                 monitor: str = "auroc", mode: str = "max", model_name: str = "model",
                 progress: bool | None = None, tensorboard: bool = False,
                 run_config: Any = None, param_groups: list[dict[str, Any]] | None = None,
                 resume_may_change: Collection[str] = RESUME_MAY_CHANGE,
                 callbacks: Sequence[Callback] = (),
                 optimizer_factory: Callable[..., torch.optim.Optimizer] | None = None,
                 scheduler_factory: Callable[[torch.optim.Optimizer, int],
                                             torch.optim.lr_scheduler.LRScheduler] | None = None
                 ) -> None:
        self.scheduler_factory = scheduler_factory
        self.config, self.loss_fn, self.val_fn = config, loss_fn, val_fn
        self.run_config = config if run_config is None else run_config
        self.monitor, self.model_name = monitor, model_name
        if mode not in MODES:
            raise ParameterError(f"mode={mode!r} is not one of 'max', 'min'; pass 'max' when a "
                                 f"higher {monitor!r} is better, 'min' when a lower one is.")
        self.mode = mode
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            if not isinstance(callback, Callback):
                raise ParameterError(f"callbacks holds {callback!r}, not a Callback; pass "
                                     "instances of neuroattn.training.Callback subclasses.")
        self.out_dir = Path(out_dir)
        self.resume_may_change = tuple(resume_may_change)
        self.run_id: str | None = None
        check_ranges(config)
        if config.schedule not in SCHEDULES:
            raise ConfigError(f"train.schedule={config.schedule!r} is not one of "
                              f"{', '.join(map(repr, SCHEDULES))}; pass one of those.")
        self.device = distributed.init_distributed(resolve_training_device(config.device))
        self.scaler = torch.amp.GradScaler(
            self.device.type, enabled=needs_grad_scaler(self.device, config.precision))
        enable_tf32(self.device, config.tf32)
        self.rank, self.main = distributed.rank(), distributed.is_main()
        self.progress = progress if self.main else False
        self.module = model.to(self.device)
        params = [p for p in model.parameters() if p.requires_grad]
        if not params:
            raise ConfigError("The model has no trainable parameters: every parameter is "
                              "frozen; unfreeze some (requires_grad_) before training.")
        self.model = model if distributed.world_size() == 1 else \
            torch.nn.parallel.DistributedDataParallel(
                model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self._tensorboard = _tensorboard_writer(self.out_dir) if tensorboard and self.main \
            else None
        groups = params if param_groups is None else param_groups
        if optimizer_factory is None:
            # The fused CUDA kernel: fewer launches, and no host sync under a GradScaler.
            self.optimizer = torch.optim.AdamW(groups, lr=config.lr,
                                               weight_decay=config.weight_decay,
                                               fused=True if self.device.type == "cuda" else None)
        else:
            self.optimizer = optimizer_factory(groups, lr=config.lr,
                                               weight_decay=config.weight_decay)
            if not isinstance(self.optimizer, torch.optim.Optimizer):
                raise ParameterError(
                    f"optimizer_factory={optimizer_factory!r} returned "
                    f"{type(self.optimizer).__name__}, not a torch.optim.Optimizer; pass an "
                    "optimiser class such as torch.optim.Adagrad, or None for AdamW.")
        self.scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
        self.step, self.epoch = 0, 0
        self._reset_progress()
        self._sums: dict[str, Metric] = {}
        self._counts: dict[str, int] = {}
        self._epoch_row: dict[str, Any] = {}
        self._epoch_start = 0.0

    def _reset_progress(self) -> None:
        self.best = -math.inf if self.mode == "max" else math.inf
        self.best_epoch = -1
        self.history: list[dict[str, Any]] = []
        self.stopped_early = False

    def _improves(self, value: Any) -> bool:
        if value is None:
            return False
        return value > self.best if self.mode == "max" else value < self.best

    def _schedule(self, steps_per_epoch: int) -> torch.optim.lr_scheduler.LRScheduler:
        cfg = self.config
        total = cfg.epochs * steps_per_epoch if cfg.max_steps is None else cfg.max_steps
        if self.scheduler_factory is not None:
            return self.scheduler_factory(self.optimizer, total)
        if cfg.schedule == "constant":
            factor = warmup_constant(cfg.warmup_steps)
        else:
            factor = warmup_cosine(total, cfg.warmup_steps)
        return torch.optim.lr_scheduler.LambdaLR(self.optimizer, factor)

    def _log(self, row: dict[str, Any]) -> None:
        if not self.main:
            return
        if self._tensorboard is not None:
            for key, value in row.items():
                if key not in ("epoch", "step"):
                    self._tensorboard.add_scalar(key, value, row["step"])
        with open(self.out_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")

    def _rewrite_logs(self) -> None:
        """Keep only rows up to the checkpointed step; rebuild the CSV from the JSONL."""
        if not self.main:
            return
        path = self.out_dir / "metrics.jsonl"
        rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() \
            else []
        rows = [r for r in rows if r["step"] <= self.step]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        self._write_csv(rows)

    def _write_csv(self, rows: list[dict[str, Any]]) -> None:
        keys = sorted({k for r in rows for k in r}, key=lambda k: (k not in ("epoch", "step"), k))
        with open(self.out_dir / "metrics.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(rows)

    def _state(self, scheduler) -> dict[str, Any]:
        return {"model": self.module.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "scaler": self.scaler.state_dict(),
                "step": self.step, "epoch": self.epoch, "best": self.best,
                "best_epoch": self.best_epoch, "history": self.history,
                "stopped_early": self.stopped_early,
                "callbacks": [{"name": type(c).__name__, "state": c.state_dict()}
                              for c in self.callbacks],
                "rng": _rng_state(), "config": to_dict(self.config),
                "run_config": to_dict(self.run_config), "run_id": self.run_id}

    def training_step(self, batch: Any) -> torch.Tensor:
        """Run one optimisation step on ``batch`` exactly as :meth:`fit` does.

        Device transfer, autocast, backward (scaled under fp16), clipping,
        optimizer, scaler and scheduler steps; the loss and metrics are added
        to the running sums that :meth:`fit` logs. No host sync, no file access:
        it runs on ``TrainConfig(device="meta")`` to audit the dispatch.

        Parameters
        ----------
        batch : Any
            What the loader yields (tensors, tuples, dicts, or an object with
            ``to(device, non_blocking=True)``).

        Returns
        -------
        torch.Tensor
            The detached loss, on the device.

        Examples
        --------
        >>> import tempfile, torch
        >>> model = torch.nn.Linear(3, 1)
        >>> trainer = Trainer(model, lambda m, b: (m(b).square().mean(), {}),
        ...                   TrainConfig(device="meta"), tempfile.mkdtemp())
        >>> trainer.training_step(torch.randn(4, 3)).device, trainer.step
        (device(type='meta'), 1)
        """
        cfg = self.config
        if self.scheduler is None:  # outside fit: one step per epoch
            self.scheduler = self._schedule(1)
        batch = _to_device(batch, self.device)
        with autocast(self.device, cfg.precision):
            loss, metrics = self.loss_fn(self.model, batch)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if cfg.grad_clip is not None:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.module.parameters(), cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.step += 1
        loss = loss.detach()
        self._accumulate({"loss": loss, **metrics})
        return loss

    def _accumulate(self, values: dict[str, Metric]) -> None:
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                if value.numel() != 1:
                    raise ParameterError(
                        f"metric {key!r} is a tensor of shape {tuple(value.shape)}; loss_fn "
                        "must return floats or 0-d tensors (reduce it, e.g. with .mean()).")
                value = value.detach().reshape(()).float()
            self._sums[key] = self._sums[key] + value if key in self._sums else value
            self._counts[key] = self._counts.get(key, 0) + 1

    def _running_means(self) -> dict[str, float]:
        """Read the running sums to the host in one transfer (one all-reduce), then reset."""
        keys = sorted(self._sums, key=lambda k: k != "loss")
        on_device = [k for k in keys if isinstance(self._sums[k], torch.Tensor)]
        on_host = [k for k in keys if k not in on_device]
        sums = {k: float(self._sums[k]) for k in on_host}
        ranks = distributed.world_size()
        if ranks > 1:
            parts = [torch.tensor([sums[k] for k in on_host], dtype=torch.float32)
                     .to(self.device)] if on_host else []
            if on_device:
                parts.insert(0, torch.stack([self._sums[k].to(self.device) for k in on_device]))
            sums = dict(zip(on_device + on_host,
                            distributed.sum_over_ranks(torch.cat(parts)).tolist(), strict=True))
        elif on_device:
            sums.update(zip(on_device, torch.stack([self._sums[k].to(self.device)
                                                    for k in on_device]).tolist(), strict=True))
        means = {k: sums[k] / (self._counts[k] * ranks) for k in keys}
        self._sums, self._counts = {}, {}
        return means

    def _log_running_means(self, bar: Any) -> None:
        means = self._running_means()
        row = {"epoch": self.epoch, "step": self.step, "lr": self.scheduler.get_last_lr()[0],
               **means}
        self._log(row)
        self._epoch_row = row
        bar.set_postfix(loss=f"{means['loss']:.4f}")

    def fit(self, train_loader: Iterable, *, resume: bool = False) -> TrainSummary:
        """Train for ``config.epochs`` epochs (or ``max_steps``, or until a callback stops).

        Parameters
        ----------
        train_loader : iterable with ``len``
            Batches for :meth:`training_step`; a ``set_epoch(epoch)`` method,
            if it has one, is called before each epoch (also after a resume).
        resume : bool
            Continue from ``out_dir/last.pt`` (or ``last.prev.pt``) if there is
            one; otherwise a new run starts and replaces an earlier run's files.

        Returns
        -------
        TrainSummary
        """
        cfg = self.config
        t_start = time.perf_counter()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        steps_per_epoch = len(train_loader)
        self.scheduler = scheduler = self._schedule(steps_per_epoch)
        self._sums, self._counts = {}, {}
        last = self.out_dir / "last.pt"
        if resume and (last.is_file() or previous_checkpoint(last).is_file()):
            self._resume(last, scheduler)
        else:
            if resume:
                logger.warning("resume: %s holds no checkpoint yet, so training starts from "
                               "the beginning.", self.out_dir)
            self._start()
        for callback in self.callbacks:
            callback.on_fit_start(self)
        while not self.stopped_early and self.epoch < cfg.epochs and (
                cfg.max_steps is None or self.step < cfg.max_steps):
            self._epoch_start, self._epoch_row = time.perf_counter(), {}
            if hasattr(train_loader, "set_epoch"):
                train_loader.set_epoch(self.epoch)
            self.model.train()
            bar = progress_bar(train_loader, desc=f"epoch {self.epoch + 1}/{cfg.epochs}",
                               total=steps_per_epoch, enabled=self.progress, leave=False)
            for batch in bar:
                self.training_step(batch)
                if self.step % cfg.log_every == 0:
                    self._log_running_means(bar)
                if cfg.max_steps is not None and self.step >= cfg.max_steps:
                    break
            if self._counts:
                self._log_running_means(bar)
            self.epoch += 1
            self._end_epoch(scheduler)
        self._rewrite_logs()
        if self._tensorboard is not None:
            self._tensorboard.flush()
        if self.main:
            for callback in self.callbacks:
                callback.on_fit_end(self)
        # Every rank ends with rank 0's model: the weights a callback restored there, and the
        # buffers (BatchNorm statistics), which DDP sends only at the start of each forward,
        # so that each rank's last batch has left its own in them.
        _broadcast_from_main(self.module)
        return {"step": self.step, "epoch": self.epoch, "best": self.best,
                "best_epoch": self.best_epoch, "stopped_early": self.stopped_early,
                "history": list(self.history), "seconds": time.perf_counter() - t_start,
                "out_dir": str(self.out_dir), "run_id": self.run_id}

    def restore_best(self) -> bool:
        """Load this run's ``best.pt`` weights into the model; False if there are none.

        A ``best.pt`` written by another run (another ``run_id``) is not used:
        that warns and returns False. On rank 0 only; :class:`EarlyStopping`
        calls it at the end of :meth:`fit`, which then sends the weights to
        every rank.
        """
        path = self.out_dir / "best.pt"
        if not path.is_file():
            return False
        state = load_checkpoint(path, model_name=self.model_name, map_location="cpu")
        if state.get("run_id") != self.run_id:
            message = (f"{path} was written by another run (run id {state.get('run_id')!r}, "
                       f"this run is {self.run_id!r}), so the model keeps this run's last "
                       f"weights; delete {path.name}, or start a new run without resume.")
            logger.warning(message)
            warnings.warn(message, UserWarning, stacklevel=2)
            return False
        self.module.load_state_dict(state["model"])
        logger.info("restored the weights of epoch %d (%s %.6g) from %s", self.best_epoch,
                    self.monitor, self.best, path)
        return True

    def _start(self) -> None:
        """A new run: new run id, seeds, config; the files of an earlier run go."""
        self.run_id = uuid.uuid4().hex
        self._reset_progress()
        set_seed(self.config.seed + 1000 * self.rank)
        if not self.main:
            return
        last = self.out_dir / "last.pt"
        stale = [p for p in (last, previous_checkpoint(last), self.out_dir / "best.pt")
                 if p.exists()]
        if stale:
            logger.warning("a new run in %s: removing the checkpoints of the run before it (%s)",
                           self.out_dir, ", ".join(p.name for p in stale))
        for path in [*stale, self.out_dir / "metrics.jsonl", self.out_dir / "metrics.csv"]:
            path.unlink(missing_ok=True)
        save_config(self.run_config, self.out_dir / "config.yaml")

    def _resume(self, last: Path, scheduler: torch.optim.lr_scheduler.LambdaLR) -> None:
        """Continue from ``last`` (or the checkpoint kept before it) with checked settings."""
        # On the CPU: load_state_dict copies to the parameters' device, and the
        # random states must be CPU byte tensors whatever the training device.
        state, used = load_latest_checkpoint(last, model_name=self.model_name,
                                             map_location="cpu")
        self._check_settings(state, used)
        self._check_callbacks(state.get("callbacks", []), used)
        try:
            self.module.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            if state.get("scaler") and self.scaler.is_enabled():
                self.scaler.load_state_dict(state["scaler"])
            self.step, self.epoch, self.best = state["step"], state["epoch"], state["best"]
            self.best_epoch = state.get("best_epoch", -1)
            self.history = list(state.get("history", []))
            self.stopped_early = bool(state.get("stopped_early", False))
            for callback, entry in zip(self.callbacks, state.get("callbacks", []), strict=False):
                callback.load_state_dict(entry["state"])
            _set_rng_state(state["rng"])
        except (KeyError, RuntimeError, ValueError) as err:
            detail = " ".join(str(err).split())
            raise CheckpointError(
                f"{used} does not fit this training run ({type(err).__name__}: "
                f"{detail[:400]}{' ...' if len(detail) > 400 else ''}): it was written for "
                "another model or optimiser setup; resume with the run's own settings "
                f"({_RESUME_HINT.format(config=self.out_dir / 'config.yaml')}), or start over "
                f"({_RESTART_HINT}).") from None
        self.run_id = state.get("run_id") or uuid.uuid4().hex
        if self.rank:
            set_seed(self.config.seed + 1000 * self.rank + self.step)
        if self.main:
            save_config(self.run_config, self.out_dir / "config.yaml")
        self._rewrite_logs()
        logger.info("resumed %s at epoch %d, step %d", self.out_dir, self.epoch, self.step)

    def _check_callbacks(self, saved: list[dict[str, Any]], used: Path) -> None:
        """Refuse to resume with other callbacks (a checkpoint without any starts them afresh)."""
        names = [type(c).__name__ for c in self.callbacks]
        if saved and [s["name"] for s in saved] != names:
            raise ConfigError(
                f"Cannot resume {self.out_dir}: {used.name} was trained with the callbacks "
                f"{[s['name'] for s in saved]} but this run has {names}; resume with the same "
                "callbacks, or start a new run.")

    def _check_settings(self, state: dict[str, Any], used: Path) -> None:
        """Refuse a resume that changes a fixed setting; warn about the allowed changes."""
        saved = state.get("run_config")
        if saved is None:
            logger.warning("%s predates the record of the run's settings, so this resume "
                           "cannot check that they are unchanged.", used)
            return
        changes = config_changes(saved, to_dict(self.run_config))
        fixed = {k: v for k, v in changes.items()
                 if not any(k == a or k.startswith(a + ".") for a in self.resume_may_change)}
        if fixed:
            raise ConfigError(
                f"Cannot resume {self.out_dir} with changed settings: {_listed(fixed)}; "
                f"{used.name} was trained with the old values, so resume with the same values "
                f"({_RESUME_HINT.format(config=self.out_dir / 'config.yaml')}), or start a "
                f"new run ({_RESTART_HINT}, or another output folder).")
        if not changes:
            return
        logger.info("resuming %s with changed settings %s (recorded in config.yaml)",
                    self.out_dir, _listed(changes))
        length = {"epochs", "max_steps"} & set(config_changes(state["config"],
                                                              to_dict(self.config)))
        if length and self.config.schedule == "cosine":  # a constant rate does not change
            new_length = {k: v for k, v in changes.items() if k.endswith(tuple(length))}
            message = (f"Resuming {self.out_dir} with a new training length "
                       f"({_listed(new_length)}): the warmup-cosine learning-rate schedule is "
                       "recomputed for it, so from "
                       f"step {state['step']} the rate follows the new curve (it rises again "
                       "where the old schedule had decayed); recorded in config.yaml.")
            logger.warning(message)
            warnings.warn(message, UserWarning, stacklevel=4)

    def _end_epoch(self, scheduler) -> None:
        """Validate, run the callbacks and checkpoint on rank 0 while the other ranks wait."""
        stop = False
        if self.main:
            scores: dict[str, Any] = {}
            row = {"epoch": self.epoch - 1,
                   **{k: v for k, v in self._epoch_row.items() if k != "epoch"}}
            if self.val_fn is not None:
                self.module.eval()
                with torch.no_grad():
                    scores = {k: _plain(v) for k, v in self.val_fn(self.module).items()}
                self._log({"epoch": self.epoch, "step": self.step,
                           **{f"val_{k}": v for k, v in scores.items()}})
                row.update({f"val_{k}": v for k, v in scores.items()})
                if self._improves(scores.get(self.monitor)):
                    self.best, self.best_epoch = scores[self.monitor], self.epoch - 1
                    save_checkpoint(self.out_dir / "best.pt", self._state(scheduler),
                                    model_name=self.model_name)
            row["seconds"] = time.perf_counter() - self._epoch_start
            self.history.append(row)
            logger.info("epoch %d/%d: %s", self.epoch, self.config.epochs, ", ".join(
                f"{k} {v:.4g}" for k, v in row.items()
                if k not in ("epoch", "step", "lr") and isinstance(v, float | int)))
            # every callback sees every epoch, even after one asked to stop
            stop = any([callback.on_epoch_end(self, scores) for callback in self.callbacks])
            self.stopped_early = stop
            save_checkpoint(self.out_dir / "last.pt", self._state(scheduler),
                            model_name=self.model_name, keep_previous=True)
        if distributed.world_size() > 1:  # rank 0's decision, for every rank (a barrier too)
            flag = torch.tensor([float(stop)], device=self.device)
            self.stopped_early = bool(distributed.sum_over_ranks(flag).item())


def _plain(value: Any) -> Any:
    """A validation value as a plain Python number (checkpoints load with weights_only=True)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    return to_jsonable(value)


def _broadcast_from_main(module: torch.nn.Module) -> None:
    """Copy rank 0's parameters and buffers to every rank (no-op on one process)."""
    if distributed.world_size() == 1:
        return
    for tensor in [*module.parameters(), *module.buffers()]:
        torch.distributed.broadcast(tensor.data, src=0)


def _listed(changes: dict[str, tuple[Any, Any]]) -> str:
    return ", ".join(f"{key} {old!r} -> {new!r}" for key, (old, new) in changes.items())


def _tensorboard_writer(out_dir: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as err:
        raise ImportError("--log tensorboard needs TensorBoard: pip install tensorboard "
                          "(or the neuroattn[tensorboard] extra).") from err
    return SummaryWriter(str(out_dir / "tensorboard"))


def _to_device(batch: Any, device: torch.device) -> Any:
    """Move a batch to ``device``: tensors, lists, tuples, dicts, or ``batch.to(device)``.

    An object with a ``to(device, non_blocking=True)`` method (such as the
    iEEG ``WindowBatch``) does its own transfer and returns the batch.
    """
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, list | tuple):
        return type(batch)(_to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if callable(getattr(batch, "to", None)):
        return batch.to(device, non_blocking=True)
    return batch
