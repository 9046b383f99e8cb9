"""Training and evaluating fixation classifiers (foveated and Cartesian ResNets).

:func:`fit_fixation_classifier` trains any ``model(images, fixations) ->
logits`` with the reference's recipe (Jérémie, Daucé & Perrinet 2024): AdamW
with one learning rate for the backbone and another for the head
(``lr_conv = 1e-5``, ``lr_class = 1e-3`` when fine-tuning ImageNet weights),
weight decay 0.01, cross-entropy with label smoothing 0.01. It runs on the
generic :class:`~neuroattn.training.loop.Trainer`, so every epoch ends with
an atomic checkpoint and ``resume=True`` continues a killed run exactly;
bf16 autocast on CUDA. Fixations may be jittered (Gaussian, in pixels) so the
model also learns views slightly off the object's centre.

Batches are ``(images, labels)`` (fixation at the image centre, e.g. an
ImageNet :func:`~neuroattn.datasets.imagefolder.image_folder` loader) or
``(images, fixations, labels)``; :func:`fixation_batches` makes resumable,
seeded batches of the latter from arrays in memory.

Examples
--------
>>> import tempfile, torch
>>> from neuroattn.retina import FoveatedResNet, LogPolar
>>> net = FoveatedResNet(num_classes=2, in_channels=1, log_polar=LogPolar(16, 16))
>>> images, labels = torch.rand(8, 1, 32, 32), torch.arange(8) % 2
>>> batches = fixation_batches(images, labels, batch_size=4)
>>> summary = fit_fixation_classifier(net, batches, tempfile.mkdtemp(), epochs=1,
...                                   progress=False)
>>> summary["step"], 0.0 <= accuracy(net, images, labels) <= 1.0
(2, True)
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from neuroattn.device import resolve_device
from neuroattn.training.loop import TrainConfig, Trainer

__all__ = ["FixationBatches", "accuracy", "fit_fixation_classifier", "fixation_batches",
           "predict"]


class FixationBatches:
    """Shuffled ``(images, fixations, labels)`` batches, reshuffled per epoch from a seed."""

    def __init__(self, images: torch.Tensor, fixations: torch.Tensor, labels: torch.Tensor,
                 batch_size: int, seed: int) -> None:
        self.images, self.fixations, self.labels = images, fixations, labels
        self.batch_size, self.seed, self.epoch = int(batch_size), int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch's order (called by the trainer, also after a resume)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return -(-len(self.labels) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(self.labels),
                               generator=torch.Generator().manual_seed(self.seed + self.epoch))
        for i in range(0, len(order), self.batch_size):
            take = order[i:i + self.batch_size]
            yield self.images[take], self.fixations[take], self.labels[take]


def _as_tensor(name: str, value: Any, dtype: torch.dtype) -> torch.Tensor:
    tensor = torch.as_tensor(np.asarray(value) if not isinstance(value, torch.Tensor)
                             else value).to(dtype)
    if tensor.is_floating_point() and not torch.isfinite(tensor).all():
        raise ValueError(f"{name} hold NaN or infinite values; clean them before training.")
    return tensor


def _centres(images: torch.Tensor) -> torch.Tensor:
    height, width = images.shape[-2:]
    return images.new_tensor([(width - 1) / 2, (height - 1) / 2]).expand(len(images), 2)


def fixation_batches(images: Any, labels: Any, fixations: Any = None, *, batch_size: int = 64,
                     seed: int = 0) -> FixationBatches:
    """Seeded, resumable batches from in-memory images ``(N, C, H, W)``, labels and fixations.

    ``fixations`` are pixel ``(x, y)`` ``(N, 2)``; default: the image centres.
    """
    images = _as_tensor("images", images, torch.float32)
    labels = _as_tensor("labels", labels, torch.long)
    if images.ndim != 4:
        raise ValueError(f"images must be (N, C, H, W), got {tuple(images.shape)}.")
    fixations = _centres(images) if fixations is None else \
        _as_tensor("fixations", fixations, torch.float32)
    if labels.shape != (len(images),) or fixations.shape != (len(images), 2):
        raise ValueError(f"need labels ({len(images)},) and fixations ({len(images)}, 2) for "
                         f"{len(images)} images, got {tuple(labels.shape)} and "
                         f"{tuple(fixations.shape)}.")
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} must be >= 1.")
    return FixationBatches(images, fixations, labels, batch_size, seed)


def _split_batch(batch: Any) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    if len(batch) == 2:
        return batch[0], None, batch[1]
    if len(batch) == 3:
        return batch[0], batch[1], batch[2]
    raise ValueError("batches must be (images, labels) or (images, fixations, labels), got "
                     f"{len(batch)} items.")


def fit_fixation_classifier(model: nn.Module, batches: Iterable, out_dir: str | os.PathLike, *,
                            epochs: int = 20, lr: float = 1e-3, backbone_lr: float | None = None,
                            weight_decay: float = 0.01, label_smoothing: float = 0.01,
                            jitter: float = 0.0, off_object: float = 0.0,
                            off_object_distance: float = 0.0, warmup_steps: int = 0,
                            device: str = "auto", precision: str = "auto", seed: int = 1998,
                            resume: bool = False, progress: bool | None = None
                            ) -> dict[str, Any]:
    """Train ``model(images, fixations)`` by cross-entropy; checkpoints in ``out_dir``.

    Parameters
    ----------
    model : nn.Module
        A :class:`~neuroattn.retina.FoveatedResNet` or
        :class:`~neuroattn.retina.CartesianResNet` (its ``backbone.fc`` is the
        head), or any module taking ``(images, fixations)``.
    batches : iterable
        ``(images, labels)`` or ``(images, fixations, labels)`` batches; a
        ``set_epoch`` method makes resumed runs replay the same order.
    out_dir : path
        Run directory (``last.pt``, ``metrics.jsonl``/``.csv``, ``config.yaml``).
    epochs : int
    lr : float
        Learning rate of the head (reference ``lr_class = 1e-3``).
    backbone_lr : float, optional
        Learning rate of everything else (reference ``lr_conv = 1e-5`` when
        fine-tuning ImageNet weights); default: ``lr`` (training from scratch).
    weight_decay, label_smoothing : float
        Reference: 0.01 and 0.01.
    jitter : float
        Standard deviation, pixels, of a Gaussian offset added to every
        training fixation.
    off_object : float
        Not in the reference: add this fraction of each batch again, fixated at
        a random point at least ``off_object_distance`` pixels from the given
        fixation, with the **uniform** distribution over classes as target. The
        model then learns to be unsure when it does not look at the object,
        which is what makes the class probability over a fixation scan
        (:func:`~neuroattn.retina.scan.scan_fixations`) peak on it.
    off_object_distance : float
        Pixels; use about the object's radius plus a margin.
    warmup_steps : int
        Linear warm-up of the cosine learning-rate schedule.
    device, precision
        ``"auto"``: CUDA with bf16 autocast when available, else the CPU in fp32.
    seed : int
        Reference: 1998.
    resume : bool
        Continue from ``out_dir/last.pt`` if it exists.
    progress : bool, optional
        Progress bars (default: on a terminal).

    Returns
    -------
    dict
        The trainer's summary (``step``, ``epoch``, ``out_dir``).
    """
    if jitter < 0 or not 0 <= label_smoothing < 1 or not 0 <= off_object <= 1 \
            or off_object_distance < 0:
        raise ValueError(f"need jitter >= 0, 0 <= label_smoothing < 1, 0 <= off_object <= 1 and "
                         f"off_object_distance >= 0, got {jitter}, {label_smoothing}, "
                         f"{off_object} and {off_object_distance}.")
    head = getattr(getattr(model, "backbone", None), "fc", None)
    head_params = {id(p) for p in head.parameters()} if head is not None else set()
    groups = [{"params": [p for p in model.parameters() if id(p) not in head_params],
               "lr": lr if backbone_lr is None else backbone_lr},
              {"params": [p for p in model.parameters() if id(p) in head_params], "lr": lr}]

    def loss_fn(net: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        images, fixations, labels = _split_batch(batch)
        if fixations is None:
            fixations = _centres(images)
        if jitter:
            fixations = fixations + jitter * torch.randn_like(fixations)
        n_on = len(labels)
        n_off = int(round(off_object * n_on))
        if n_off:
            images = torch.cat([images, images[:n_off]])
            fixations = torch.cat([fixations, _away_from(fixations[:n_off], images.shape[-2:],
                                                         off_object_distance)])
        logits = net(images, fixations).float()
        loss = F.cross_entropy(logits[:n_on], labels, label_smoothing=label_smoothing)
        metrics = {"accuracy": (logits[:n_on].argmax(-1) == labels).float().mean().item()}
        if n_off:
            off_loss = -logits[n_on:].log_softmax(-1).mean(-1).mean()    # CE to uniform
            loss = (n_on * loss + n_off * off_loss) / (n_on + n_off)
            metrics["off_object_max_p"] = logits[n_on:].softmax(-1).amax(-1).mean().item()
        return loss, metrics

    config = TrainConfig(epochs=epochs, lr=lr, weight_decay=weight_decay, grad_clip=None,
                         warmup_steps=warmup_steps, precision=precision, device=device,
                         seed=seed)
    trainer = Trainer(model, loss_fn, config, out_dir, model_name=type(model).__name__,
                      progress=progress, param_groups=[g for g in groups if g["params"]])
    return trainer.fit(batches, resume=resume)


def _away_from(fixations: torch.Tensor, size: tuple[int, int], distance: float,
               tries: int = 20) -> torch.Tensor:
    """Random pixel points in the image, each at least ``distance`` from its fixation."""
    height, width = size
    scale = fixations.new_tensor([width - 1, height - 1])
    points = torch.rand_like(fixations) * scale
    for _ in range(tries):
        near = (points - fixations).norm(dim=-1) < distance
        if not near.any():
            break
        points[near] = torch.rand_like(points[near]) * scale
    return points


@torch.no_grad()
def predict(model: nn.Module, images: Any, fixations: Any = None, *, batch_size: int = 256,
            device: str | torch.device = "auto") -> torch.Tensor:
    """Class probabilities ``(N, classes)`` at one fixation per image (default: the centre).

    Runs in eval mode (restored afterwards) on ``device``, in batches.
    """
    device = resolve_device(device)
    images = _as_tensor("images", images, torch.float32)
    fixations = _centres(images) if fixations is None else \
        _as_tensor("fixations", fixations, torch.float32)
    was_training = model.training
    model.eval().to(device)
    try:
        return torch.cat([model(images[i:i + batch_size].to(device),
                                fixations[i:i + batch_size].to(device)).float().softmax(-1).cpu()
                          for i in range(0, len(images), batch_size)])
    finally:
        model.train(was_training)


def accuracy(model: nn.Module, images: Any, labels: Any, fixations: Any = None, *,
             batch_size: int = 256, device: str | torch.device = "auto") -> float:
    """Fraction of images classified correctly at one fixation each (default: the centre)."""
    probs = predict(model, images, fixations, batch_size=batch_size, device=device)
    return float((probs.argmax(-1) == _as_tensor("labels", labels, torch.long)).float().mean())
