"""Teacher-forced training of OAT with early stopping on the behavioural delta.

Every (trial, human scanpath) pair is one training sequence ``[BOS, f_1, ...,
f_n, EOS]``; the loss is the cross-entropy of the pointer logits against the
next token, with PAD ignored, averaged over the tokens of a batch (reference
§2.2). A batch holds whole trials, about ``batch_size`` sequences: each trial
is encoded once and its encoding shared by all its human scanpaths, which
saves the CNN and encoder passes of the repeats. Optimisation follows the
reference: Adam at a constant learning rate (1e-4), gradient-norm clipping
at 1.0, batches of 20 sequences, up to 500 epochs.

After every epoch the model predicts the validation trials
(:func:`~neuroattn.gaze.oat.inference.generate_scanpaths`, greedy by
default as in the reference) and the **behavioural delta** against the
validation humans is computed
(:func:`~neuroattn.gaze.oat.evaluation.scanpath_report`). Training stops
after ``patience`` epochs without a lower delta (reference: 30), and the
weights of the epoch with the lowest delta are restored. Greedy paths show
refixations and revisits only where they are the model's mode, so against
humans who make them at a low rate the greedy delta has a floor;
``val_method="sample"`` compares the distributions of behaviour instead.

Runs are reproducible: the weights start from the model's own seed
(:class:`~neuroattn.gaze.oat.model.OATConfig`), and the training seed fixes
the order of the trials in each epoch and the dropout masks, both derived
from ``(seed, epoch)``; so a run resumed from its checkpoint
(``checkpoint=..., resume=True``; written atomically after every epoch)
continues exactly as the uninterrupted one would (on the same device).

Examples
--------
>>> from neuroattn.gaze.oat.training import OATTrainingResult
>>> OATTrainingResult().best_epoch
-1
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from neuroattn._logging import logger
from neuroattn.device import autocast, resolve_device
from neuroattn.gaze.oat.data import SearchTrials, as_search_trials, scanpath_tokens
from neuroattn.gaze.oat.evaluation import scanpath_report
from neuroattn.gaze.oat.inference import Method, generate_scanpaths
from neuroattn.gaze.oat.model import MODEL_NAME, OAT
from neuroattn.progress import progress as progress_bar
from neuroattn.seeding import set_seed
from neuroattn.training.checkpoint import load_checkpoint, save_checkpoint

__all__ = ["OATTrainingResult", "teacher_forced_loss", "train_oat"]

Schedule = Literal["constant", "cosine"]


@dataclass
class OATTrainingResult:
    """What :func:`train_oat` returns (the model itself is updated in place).

    Attributes
    ----------
    history : list of dict
        One entry per epoch: ``epoch``, ``train_loss``, ``val_loss``
        (teacher-forced), ``val_delta``, ``val_sequence_score``, ``seconds``.
    best_epoch : int
        The epoch whose weights the model holds (lowest ``val_delta``).
    best_delta : float
    stopped_early : bool
        Whether patience ran out before ``max_epochs``.
    seconds : float
        Wall time of this call.

    Examples
    --------
    >>> OATTrainingResult().stopped_early
    False
    """

    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = -1
    best_delta: float = float("inf")
    stopped_early: bool = False
    seconds: float = 0.0


def _n_paths(trials: SearchTrials) -> np.ndarray:
    trials.require_scanpaths()
    return np.array([len(paths) for paths in trials.scanpaths], dtype=np.int64)


def _pack(order: np.ndarray, n_paths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Consecutive trials of ``order`` grouped into batches of about ``batch_size`` sequences."""
    batches, current, count = [], [], 0
    for i in order:
        current.append(int(i))
        count += int(n_paths[i])
        if count >= batch_size:
            batches.append(np.asarray(current, dtype=np.int64))
            current, count = [], 0
    if current:
        batches.append(np.asarray(current, dtype=np.int64))
    return batches


def teacher_forced_loss(model: OAT, trials: SearchTrials, index: np.ndarray,
                        device: torch.device, precision: str = "auto",
                        reduction: str = "mean") -> torch.Tensor:
    """Next-token cross-entropy (PAD ignored) of all human scanpaths of the trials at ``index``.

    Each trial is encoded once and its encoding shared by its scanpaths.
    ``reduction`` is ``"mean"`` (over predicted tokens) or ``"sum"``.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from neuroattn.datasets.synthetic.visual_search import make_visual_search
    >>> from neuroattn.gaze.oat import OAT, as_search_trials
    >>> trials = as_search_trials(make_visual_search(n_train=3, n_val=1, n_test=1).train)
    >>> model = OAT(d_model=16, n_heads=2, n_encoder_layers=1, n_decoder_layers=1,
    ...             dim_feedforward=16, pe_iterations=100)
    >>> loss = teacher_forced_loss(model, trials, np.array([0, 2]), torch.device("cpu"))
    >>> bool(torch.isfinite(loss)), loss.ndim
    (True, 0)
    """
    index = np.asarray(index, dtype=np.int64)
    paths = [p for i in index for p in trials.scanpaths[i]]
    counts = torch.as_tensor([len(trials.scanpaths[i]) for i in index], device=device)
    rows = torch.arange(len(index), device=device).repeat_interleave(counts)
    tokens = scanpath_tokens(paths, model.n_slots).to(device)
    with autocast(device, precision):
        encoded = model.encode(trials.inputs(index, n_slots=model.n_slots, device=device))
        logits = model.decode(encoded.select(rows), tokens[:, :-1])
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]),
                           tokens[:, 1:].reshape(-1), ignore_index=model.pad_index,
                           reduction=reduction)


def _lr_factor(schedule: str, total_steps: int) -> Callable[[int], float]:
    """Multiplier of the learning rate at each optimiser step."""
    if schedule == "constant":
        return lambda step: 1.0
    warmup = max(1, int(0.05 * total_steps))

    def cosine(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * progress))
    return cosine


def _epoch_seed(seed: int, epoch: int) -> int:
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def train_oat(
    model: OAT,
    train: Any,
    val: Any,
    *,
    max_epochs: int = 500,
    batch_size: int = 20,
    lr: float = 1e-4,
    schedule: Schedule = "constant",
    grad_clip: float | None = 1.0,
    patience: int = 30,
    val_method: Method = "greedy",
    val_samples: int = 1,
    device: str | torch.device = "auto",
    precision: str = "auto",
    seed: int = 1234,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool | None = None,
) -> OATTrainingResult:
    """Train ``model`` by teacher forcing; early-stop on the validation behavioural delta.

    Parameters
    ----------
    model : OAT
        Trained in place; on return it holds the best epoch's weights.
    train, val : SearchTrials or compatible
        Trials with human scanpaths (e.g. ``data.train`` and ``data.val`` of
        :func:`~neuroattn.datasets.synthetic.visual_search.make_visual_search`).
    max_epochs : int
        Upper bound on the number of epochs (reference: 500).
    batch_size : int
        Sequences per step, about (whole trials are added until it is
        reached; reference: 20).
    lr : float
        Adam learning rate (reference: 1e-4).
    schedule : {"constant", "cosine"}
        ``"constant"`` (the reference) or a cosine decay from ``lr`` to
        ``lr / 20`` over ``max_epochs`` (per step, after a linear warm-up
        over the first 5 % of the steps), which suits short budgets.
    grad_clip : float or None
        Maximum gradient norm (reference: 1.0); ``None`` disables clipping.
    patience : int
        Epochs without a lower validation delta before stopping (reference: 30).
    val_method, val_samples
        How validation scanpaths are generated (``"greedy"``, or
        ``"sample"`` with ``val_samples`` paths per trial).
    device, precision
        ``"auto"``: CUDA with bf16 autocast when available, else the CPU in fp32.
    seed : int
        Seed of the data order and dropout (reference: 1234); Python, NumPy
        and torch are also seeded with it (:func:`~neuroattn.seeding.set_seed`).
    checkpoint : path, optional
        File written (atomically) after every epoch, with the optimiser state,
        the best weights so far and the history.
    resume : bool
        Continue from ``checkpoint`` if it exists (same model configuration).
    progress : bool, optional
        Progress bar over epochs (default: on a terminal).

    Returns
    -------
    OATTrainingResult

    Examples
    --------
    >>> from neuroattn.datasets.synthetic.visual_search import make_visual_search
    >>> from neuroattn.gaze.oat import OAT
    >>> data = make_visual_search(n_train=12, n_val=4, n_test=2, n_subjects=2)
    >>> model = OAT(d_model=16, n_heads=2, n_encoder_layers=1, n_decoder_layers=1,
    ...             dim_feedforward=16, pe_iterations=100, max_len=24)
    >>> result = train_oat(model, data.train, data.val, max_epochs=2, lr=1e-3)
    >>> len(result.history), sorted(result.history[0])
    (2, ['epoch', 'seconds', 'train_loss', 'val_delta', 'val_loss', 'val_sequence_score'])
    """
    for name, value, lo in (("max_epochs", max_epochs, 1), ("batch_size", batch_size, 1),
                            ("patience", patience, 1), ("val_samples", val_samples, 1)):
        if not isinstance(value, int | np.integer) or value < lo:
            raise ValueError(f"{name}={value!r} must be an integer >= {lo}.")
    if not np.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr={lr!r} must be a positive number.")
    if schedule not in ("constant", "cosine"):
        raise ValueError(f"schedule={schedule!r} is unknown; use 'constant' or 'cosine'.")
    if grad_clip is not None and (not np.isfinite(grad_clip) or grad_clip <= 0):
        raise ValueError(f"grad_clip={grad_clip!r} must be a positive number or None.")
    if resume and checkpoint is None:
        raise ValueError("resume=True needs checkpoint=PATH to resume from.")
    train, val = as_search_trials(train), as_search_trials(val)
    train_paths = _n_paths(train)
    longest = int(max(train.human_lengths().max(), val.human_lengths().max()))
    if longest > model.config.max_len:
        raise ValueError(f"the longest human scanpath has {longest} fixations but the model's "
                         f"max_len is {model.config.max_len}; build OAT with max_len >= "
                         f"{longest}.")
    t_start = time.perf_counter()
    set_seed(int(seed))
    dev = resolve_device(device)
    model.to(dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps_per_epoch = len(_pack(np.arange(len(train)), train_paths, batch_size))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, _lr_factor(schedule, steps_per_epoch * max_epochs))
    result = OATTrainingResult()
    best_state = copy.deepcopy(model.state_dict())
    bad_epochs, start = 0, 0
    if resume and checkpoint is not None and Path(checkpoint).is_file():
        state = load_checkpoint(checkpoint, model_name=MODEL_NAME, map_location=dev)
        if state["config"] != model.config.to_dict():
            raise ValueError(f"{checkpoint} was trained with another OAT configuration "
                             f"({state['config']}); build the model with that configuration "
                             "or start without resume.")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        best_state = state["best_model"]
        result.history = list(state["history"])
        result.best_epoch, result.best_delta = int(state["best_epoch"]), float(state["best_delta"])
        bad_epochs, start = int(state["bad_epochs"]), int(state["epoch"]) + 1
        logger.info("train_oat: resumed from %s at epoch %d", checkpoint, start)
    result.stopped_early = bad_epochs >= patience  # a finished run resumed: nothing to do
    epochs = range(0) if result.stopped_early else range(start, max_epochs)
    bar = progress_bar(epochs, desc="OAT", enabled=progress)
    for epoch in bar:
        t_epoch = time.perf_counter()
        torch.manual_seed(_epoch_seed(seed, epoch))
        order = np.random.default_rng([seed, epoch]).permutation(len(train))
        model.train()
        total, n_seq = 0.0, 0
        for batch in _pack(order, train_paths, batch_size):
            loss = teacher_forced_loss(model, train, batch, dev, precision)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
            scheduler.step()
            total += float(loss.detach()) * int(train_paths[batch].sum())
            n_seq += int(train_paths[batch].sum())
        val_loss, report = _validate(model, val, dev, precision, val_method, val_samples, seed)
        entry = {"epoch": float(epoch), "train_loss": total / n_seq,
                 "val_loss": val_loss, "val_delta": report["delta"],
                 "val_sequence_score": report["sequence_score"],
                 "seconds": time.perf_counter() - t_epoch}
        result.history.append(entry)
        if entry["val_delta"] < result.best_delta:
            result.best_delta, result.best_epoch, bad_epochs = entry["val_delta"], epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            bad_epochs += 1
        logger.info("OAT epoch %d: train loss %.4f, val loss %.4f, val delta %.4f, val SS %.4f",
                    epoch, entry["train_loss"], val_loss, entry["val_delta"],
                    entry["val_sequence_score"])
        bar.set_postfix(loss=f"{entry['train_loss']:.3f}", delta=f"{entry['val_delta']:.3f}")
        if checkpoint is not None:
            save_checkpoint(checkpoint, {
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "best_model": best_state, "epoch": epoch, "best_epoch": result.best_epoch,
                "best_delta": result.best_delta, "bad_epochs": bad_epochs,
                "history": result.history, "config": model.config.to_dict(), "seed": int(seed),
            }, model_name=MODEL_NAME)
        if bad_epochs >= patience:
            result.stopped_early = True
            logger.info("OAT: no lower validation delta for %d epochs; stopping at epoch %d",
                        patience, epoch)
            break
    model.load_state_dict(best_state)
    model.eval()
    result.seconds = time.perf_counter() - t_start
    logger.info("OAT: best epoch %d (val delta %.4f) after %.1f s", result.best_epoch,
                result.best_delta, result.seconds)
    return result


@torch.no_grad()
def _validate(model: OAT, val: SearchTrials, device: torch.device, precision: str,
              method: Method, n_samples: int, seed: int) -> tuple[float, dict[str, float]]:
    model.eval()
    total = 0.0
    for s in range(0, len(val), 64):
        index = np.arange(s, min(s + 64, len(val)))
        total += float(teacher_forced_loss(model, val, index, device, precision, "sum"))
    n_tokens = int(val.human_lengths().sum() + val.human_lengths().size)  # fixations + EOS
    predicted, ended = generate_scanpaths(model, val, method=method, n_samples=n_samples,
                                          seed=seed, precision=precision, return_ended=True)
    return total / n_tokens, scanpath_report(predicted, val, ended=ended)
