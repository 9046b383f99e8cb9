"""Teacher-forced training of OAT on the package's training loop, early-stopped on the delta.

Every (trial, human scanpath) pair is one training sequence ``[BOS, f_1, ...,
f_n, EOS]``; the loss is the cross-entropy of the pointer logits against the
next token, with PAD ignored, averaged over the tokens of a batch (reference
§2.2). A batch holds whole trials, about ``batch_size`` sequences: each trial
is encoded once and its encoding shared by all its human scanpaths, which
saves the CNN and encoder passes of the repeats (:class:`TrialBatches`).
Optimisation follows the reference: Adam at a constant learning rate (1e-4),
gradient-norm clipping at 1.0, batches of 20 sequences, up to 500 epochs.

:func:`fit_oat` runs on the generic :class:`~neuroattn.training.loop.Trainer`
(AdamW with ``weight_decay=0``, which is Adam). After every epoch the model
predicts the validation trials
(:func:`~neuroattn.gaze.oat.inference.generate_scanpaths`, greedy by
default as in the reference) and the **behavioural delta** against the
validation humans is computed
(:func:`~neuroattn.gaze.oat.evaluation.scanpath_report`). Training stops
after ``patience`` epochs without a lower delta (reference: 30;
:class:`~neuroattn.training.loop.EarlyStopping`), and the weights of the
epoch with the lowest delta (the run's ``best.pt``) are restored. Greedy
paths show refixations and revisits only where they are the model's mode,
so against humans who make them at a low rate the greedy delta has a floor;
``val_method="sample"`` compares the distributions of behaviour instead.

Runs are reproducible: the weights start from the model's own seed
(:class:`~neuroattn.gaze.oat.model.OATConfig`), the training seed fixes the
order of the trials in each epoch (from ``(seed, epoch)``) and the dropout
masks. The run directory holds the trainer's atomic ``last.pt`` and
``best.pt``, ``config.yaml`` and ``metrics.csv``; ``resume=True`` continues
a killed run exactly as the uninterrupted one would (on the same device),
early-stopping count included, and refuses changed settings (the model's
configuration, batching, patience, validation). Under ``torchrun`` each rank
trains on its own share of every epoch's batches and the gradients are
averaged over ranks; only rank 0 validates and writes.

Examples
--------
>>> from neuroattn.gaze.oat.training import TrialBatches
>>> batches = TrialBatches([2, 1, 3, 2], batch_size=3, seed=0)
>>> len(batches), sorted(int(i) for b in batches for i in b)
(3, [0, 1, 2, 3])
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from neuroattn._validation import check_int, check_number, check_option
from neuroattn.device import autocast
from neuroattn.errors import ParameterError
from neuroattn.gaze.oat.data import SearchTrials, as_search_trials, scanpath_tokens
from neuroattn.gaze.oat.evaluation import scanpath_report
from neuroattn.gaze.oat.inference import Method, generate_scanpaths
from neuroattn.gaze.oat.model import MODEL_NAME, OAT
from neuroattn.training.distributed import rank_share
from neuroattn.training.loop import (
    RESUME_MAY_CHANGE,
    EarlyStopping,
    TrainConfig,
    Trainer,
    TrainSummary,
)
from neuroattn.training.objective import ModelObjective, objective_loss

__all__ = ["TrialBatches", "fit_oat", "teacher_forced_loss"]

Schedule = Literal["constant", "cosine"]

_ONE_ROW_PER_EPOCH = 2**31 - 1
"""``log_every`` of OAT runs: the metrics hold one row per epoch, its mean training loss."""


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


class TrialBatches:
    """Batches of whole trials (index arrays), reshuffled each epoch from ``(seed, epoch)``.

    Trials are taken in the epoch's random order and added to a batch until
    it holds at least ``batch_size`` human scanpaths. Under ``torchrun`` each
    rank iterates over its own share of the epoch's batches
    (:func:`~neuroattn.training.distributed.rank_share`): every rank draws the
    same order, so the shares are disjoint.

    Parameters
    ----------
    n_paths : sequence of int
        Human scanpaths of each trial.
    batch_size : int
        Sequences per batch, about.
    seed : int

    Examples
    --------
    >>> batches = TrialBatches([1, 1, 1, 1, 1], batch_size=2, seed=3)
    >>> batches.set_epoch(1)
    >>> [b.tolist() for b in batches]
    [[1, 4], [0, 2], [3]]
    """

    def __init__(self, n_paths: Sequence[int] | np.ndarray, batch_size: int, seed: int) -> None:
        self.n_paths = np.asarray(n_paths, dtype=np.int64)
        self.batch_size, self.seed, self.epoch = int(batch_size), int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch's order (called by the trainer, also after a resume)."""
        self.epoch = int(epoch)

    def _batches(self) -> list[np.ndarray]:
        order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.n_paths))
        return _pack(order, self.n_paths, self.batch_size)

    def __len__(self) -> int:
        return len(rank_share(len(self._batches())))

    def __iter__(self) -> Iterator[np.ndarray]:
        batches = self._batches()
        for i in rank_share(len(batches)):
            yield batches[i]


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


class _TeacherForcing(ModelObjective):
    """:func:`teacher_forced_loss` as a module's ``forward``, so DDP syncs its gradients.

    The loss calls the model's ``encode`` and ``decode``; methods called on a
    DistributedDataParallel wrapper fail, and on the bare model they would skip
    the gradient sync. Wrapped in this module, the loss goes through the
    wrapper's ``forward``. Its state dict is the model's, so checkpoints hold
    OAT weights.
    """

    def __init__(self, model: OAT, trials: SearchTrials, precision: str) -> None:
        super().__init__(model)
        self.trials, self.precision = trials, precision

    def forward(self, index: np.ndarray) -> tuple[torch.Tensor, dict[str, Any]]:
        device = next(self.model.parameters()).device
        return teacher_forced_loss(self.model, self.trials, index, device, self.precision), {}




def fit_oat(
    model: OAT,
    train: Any,
    val: Any,
    out_dir: str | os.PathLike,
    *,
    epochs: int = 500,
    batch_size: int = 20,
    lr: float = 1e-4,
    schedule: Schedule = "constant",
    warmup_steps: int = 0,
    grad_clip: float | None = 1.0,
    patience: int = 30,
    val_method: Method = "greedy",
    val_samples: int = 1,
    device: str | torch.device = "auto",
    precision: str = "auto",
    seed: int = 1234,
    resume: bool = False,
    progress: bool | None = None,
) -> TrainSummary:
    """Train ``model`` by teacher forcing; early-stop on the validation behavioural delta.

    Parameters
    ----------
    model : OAT
        Trained in place; on return it holds the best epoch's weights, in eval mode.
    train, val : SearchTrials or compatible
        Trials with human scanpaths (e.g. ``data.train`` and ``data.val`` of
        :func:`~neuroattn.datasets.synthetic.visual_search.make_visual_search`).
    out_dir : path-like
        Run directory: ``last.pt`` after every epoch, ``best.pt`` at each lower
        validation delta, ``config.yaml``, ``metrics.jsonl``/``.csv`` (one row
        per epoch). A new run (``resume=False``) replaces an earlier run's files.
    epochs : int
        Upper bound on the number of epochs (reference: 500).
    batch_size : int
        Sequences per step, about (whole trials are added until it is
        reached; reference: 20).
    lr : float
        Adam learning rate (reference: 1e-4).
    schedule : {"constant", "cosine"}
        ``"constant"`` (the reference) or a cosine decay from ``lr`` to zero
        over ``epochs``, which suits short budgets; either after
        ``warmup_steps`` steps of linear warmup.
    warmup_steps : int
        Linear warmup (reference: none).
    grad_clip : float or None
        Maximum gradient norm (reference: 1.0); ``None`` disables clipping.
    patience : int
        Epochs without a lower validation delta before stopping (reference: 30).
    val_method, val_samples
        How validation scanpaths are generated (``"greedy"``, or
        ``"sample"`` with ``val_samples`` paths per trial, seeded by ``seed``).
    device, precision
        ``"auto"``: CUDA with bf16 autocast when available, else the CPU in fp32.
    seed : int
        Seed of the data order, dropout and validation sampling (reference:
        1234); Python, NumPy and torch are seeded with it (rank ``r`` of
        ``torchrun`` with ``seed + 1000 r``).
    resume : bool
        Continue the run in ``out_dir`` if it has a checkpoint: a finished or
        early-stopped run only restores its best weights. Settings other than
        ``epochs``, ``device`` and ``progress`` must be the run's.
    progress : bool, optional
        Progress bar over each epoch's batches (default: on a terminal).

    Returns
    -------
    TrainSummary
        The trainer's summary: ``history`` has one row per epoch (``epoch``,
        ``step``, ``lr``, ``loss`` (training, mean over the epoch's batches),
        ``val_loss`` (teacher-forced), ``val_delta``, ``val_sequence_score``,
        ``seconds``); ``best`` is the lowest validation delta, ``best_epoch``
        its epoch (the weights the model holds), ``stopped_early`` whether
        patience ran out.

    Raises
    ------
    ParameterError
        A setting out of range, trials without human scanpaths, or a human
        scanpath longer than the model's ``max_len``.
    neuroattn.config.ConfigError
        ``resume=True`` with settings that differ from the run's.

    Examples
    --------
    >>> import tempfile
    >>> from neuroattn.datasets.synthetic.visual_search import make_visual_search
    >>> from neuroattn.gaze.oat import OAT
    >>> data = make_visual_search(n_train=12, n_val=4, n_test=2, n_subjects=2)
    >>> model = OAT(d_model=16, n_heads=2, n_encoder_layers=1, n_decoder_layers=1,
    ...             dim_feedforward=16, pe_iterations=100, max_len=24)
    >>> fit = fit_oat(model, data.train, data.val, tempfile.mkdtemp(), epochs=2, lr=1e-3,
    ...               progress=False)
    >>> len(fit["history"]), fit["best"] == min(h["val_delta"] for h in fit["history"])
    (2, True)
    >>> sorted(fit["history"][0])
    ['epoch', 'loss', 'lr', 'seconds', 'step', 'val_delta', 'val_loss', 'val_sequence_score']
    """
    for name, value in (("epochs", epochs), ("batch_size", batch_size), ("patience", patience),
                        ("val_samples", val_samples)):
        check_int(name, value, 1)
    check_int("warmup_steps", warmup_steps, 0)
    check_number("lr", lr, lo=0.0, strict=True)
    if grad_clip is not None:
        check_number("grad_clip", grad_clip, lo=0.0, strict=True)
    check_option("schedule", schedule, ("constant", "cosine"))
    check_option("val_method", val_method, ("greedy", "sample"))
    train, val = as_search_trials(train), as_search_trials(val)
    for trials in (train, val):
        try:
            trials.require_scanpaths()
        except ValueError as err:
            raise ParameterError(str(err)) from None
    longest = int(max(train.human_lengths().max(), val.human_lengths().max()))
    if longest > model.config.max_len:
        raise ParameterError(
            f"the longest human scanpath has {longest} fixations but the model's max_len is "
            f"{model.config.max_len}; build OAT with max_len >= {longest}.")
    config = TrainConfig(epochs=int(epochs), lr=float(lr), weight_decay=0.0,
                         warmup_steps=int(warmup_steps), schedule=schedule,
                         grad_clip=None if grad_clip is None else float(grad_clip),
                         precision=precision, device=str(device), seed=int(seed),
                         log_every=_ONE_ROW_PER_EPOCH)
    run_config = {"train": config, "oat": model.config.to_dict(), "batch_size": int(batch_size),
                  "patience": int(patience), "val_method": val_method,
                  "val_samples": int(val_samples), "n_train": len(train), "n_val": len(val)}
    n_paths = [len(paths) for paths in train.scanpaths]

    def val_fn(_: nn.Module) -> dict[str, float]:
        val_loss, report = _validate(model, val, precision, val_method, val_samples, int(seed))
        return {"loss": val_loss, "delta": report["delta"],
                "sequence_score": report["sequence_score"]}

    trainer = Trainer(_TeacherForcing(model, train, precision), objective_loss, config, out_dir,
                      val_fn=val_fn, monitor="delta", mode="min", model_name=MODEL_NAME,
                      progress=progress, run_config=run_config,
                      resume_may_change=[f"train.{key}" for key in RESUME_MAY_CHANGE],
                      callbacks=[EarlyStopping(patience)])
    summary = trainer.fit(TrialBatches(n_paths, batch_size, int(seed)), resume=resume)
    model.eval()
    return summary


@torch.no_grad()
def _validate(model: OAT, val: SearchTrials, precision: str, method: Method, n_samples: int,
              seed: int) -> tuple[float, dict[str, float]]:
    """Teacher-forced loss per token and the scanpath report of generated paths."""
    model.eval()
    device = next(model.parameters()).device
    total = 0.0
    for s in range(0, len(val), 64):
        index = np.arange(s, min(s + 64, len(val)))
        total += float(teacher_forced_loss(model, val, index, device, precision, "sum"))
    n_tokens = int(val.human_lengths().sum() + val.human_lengths().size)  # fixations + EOS
    predicted, ended = generate_scanpaths(model, val, method=method, n_samples=n_samples,
                                          seed=seed, precision=precision, return_ended=True)
    return total / n_tokens, scanpath_report(predicted, val, ended=ended)
