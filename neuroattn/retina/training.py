"""Training and evaluating fixation classifiers (foveated and Cartesian ResNets).

:func:`fit_fixation_classifier` trains any ``model(images, fixations) ->
logits`` with the reference's recipe (Jérémie, Daucé & Perrinet 2024): AdamW
with one learning rate for the backbone and another for the head
(``lr_conv = 1e-5``, ``lr_class = 1e-3`` when fine-tuning ImageNet weights),
weight decay 0.01, cross-entropy with label smoothing 0.01. It runs on the
generic :class:`~neuroattn.training.loop.Trainer`, so every epoch ends with
an atomic checkpoint and ``resume=True`` continues a killed run exactly;
bf16 autocast on CUDA. Fixations may be jittered (Gaussian, in pixels) so the
model also learns views slightly off the object's centre, and images may be
rotated about their fixation by a random angle (``rotation``, the augmentation
a Cartesian control needs to compete with a rotation-invariant retina).

Batches are ``(images, labels)`` (fixation at the image centre, e.g. an
ImageNet :func:`~neuroattn.datasets.imagefolder.image_folder` loader) or
``(images, fixations, labels)``; :func:`fixation_batches` makes resumable,
seeded batches of the latter from arrays in memory.

:func:`rotation_sweep` measures accuracy against rotation about the fixation
and splits the angles into those **on** a retina's angle grid (column rolls,
where a rotation-invariant head is invariant by construction) and those
**between** its steps (where only learning can make it robust).

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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from neuroattn._validation import as_tensor, check_number
from neuroattn.device import resolve_device
from neuroattn.errors import ParameterError
from neuroattn.retina.sampling import rotate_zoom_about
from neuroattn.training.distributed import rank_share
from neuroattn.training.loop import TrainConfig, Trainer

__all__ = ["FixationBatches", "RotationSweep", "accuracy", "fit_fixation_classifier",
           "fixation_batches", "predict", "rotation_sweep"]


class FixationBatches:
    """Shuffled ``(images, fixations, labels)`` batches, reshuffled per epoch from a seed.

    Under ``torchrun`` each rank iterates over its own share of the epoch's
    batches (:func:`~neuroattn.training.distributed.rank_share`).
    """

    def __init__(self, images: torch.Tensor, fixations: torch.Tensor, labels: torch.Tensor,
                 batch_size: int, seed: int) -> None:
        self.images, self.fixations, self.labels = images, fixations, labels
        self.batch_size, self.seed, self.epoch = int(batch_size), int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch's order (called by the trainer, also after a resume)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(rank_share(-(-len(self.labels) // self.batch_size)))

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(self.labels),
                               generator=torch.Generator().manual_seed(self.seed + self.epoch))
        batches = order.split(self.batch_size)
        for i in rank_share(len(batches)):       # under torchrun: this rank's shard
            take = batches[i]
            yield self.images[take], self.fixations[take], self.labels[take]


def _centres(images: torch.Tensor) -> torch.Tensor:
    height, width = images.shape[-2:]
    return images.new_tensor([(width - 1) / 2, (height - 1) / 2]).expand(len(images), 2)


def fixation_batches(images: Any, labels: Any, fixations: Any = None, *, batch_size: int = 64,
                     seed: int = 0) -> FixationBatches:
    """Seeded, resumable batches from in-memory images ``(N, C, H, W)``, labels and fixations.

    ``fixations`` are pixel ``(x, y)`` ``(N, 2)``; default: the image centres.
    """
    images = as_tensor("images", images, dtype=torch.float32)
    labels = as_tensor("labels", labels, dtype=torch.long)
    if images.ndim != 4:
        raise ParameterError(f"images must be (N, C, H, W), got {tuple(images.shape)}.")
    fixations = _centres(images) if fixations is None else \
        as_tensor("fixations", fixations, dtype=torch.float32)
    if labels.shape != (len(images),) or fixations.shape != (len(images), 2):
        raise ParameterError(f"need labels ({len(images)},) and fixations ({len(images)}, 2) for "
                             f"{len(images)} images, got {tuple(labels.shape)} and "
                             f"{tuple(fixations.shape)}.")
    if batch_size < 1:
        raise ParameterError(f"batch_size={batch_size!r} must be >= 1.")
    return FixationBatches(images, fixations, labels, batch_size, seed)


def _split_batch(batch: Any) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    if len(batch) == 2:
        return batch[0], None, batch[1]
    if len(batch) == 3:
        return batch[0], batch[1], batch[2]
    raise ParameterError("batches must be (images, labels) or (images, fixations, labels), got "
                         f"{len(batch)} items.")


def fit_fixation_classifier(model: nn.Module, batches: Iterable, out_dir: str | os.PathLike, *,
                            epochs: int = 20, lr: float = 1e-3, backbone_lr: float | None = None,
                            weight_decay: float = 0.01, label_smoothing: float = 0.01,
                            jitter: float = 0.0, rotation: float = 0.0,
                            off_object: float = 0.0,
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
    rotation : float
        Rotation augmentation (not in the reference's recipe for its foveated
        models; its TrivialAugmentWide rotates up to 135°): rotate every training
        image about its fixation, counter-clockwise, by an angle drawn uniformly
        from ``[-rotation, rotation]`` degrees (180: any angle), before the
        jitter. 0 (default): none.
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
            or off_object_distance < 0 or not 0 <= rotation <= 180:
        raise ParameterError(
            f"need jitter >= 0, 0 <= label_smoothing < 1, 0 <= off_object <= 1, "
            f"off_object_distance >= 0 and 0 <= rotation <= 180 degrees, got {jitter}, "
            f"{label_smoothing}, {off_object}, {off_object_distance} and {rotation}; pass values "
            "in those ranges.")
    head = getattr(getattr(model, "backbone", None), "fc", None)
    head_params = {id(p) for p in head.parameters()} if head is not None else set()
    groups = [{"params": [p for p in model.parameters() if id(p) not in head_params],
               "lr": lr if backbone_lr is None else backbone_lr},
              {"params": [p for p in model.parameters() if id(p) in head_params], "lr": lr}]

    def loss_fn(net: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        images, fixations, labels = _split_batch(batch)
        if fixations is None:
            fixations = _centres(images)
        if rotation:
            degrees = (torch.rand(len(images), dtype=torch.float64) * 2 - 1) * rotation
            images = rotate_zoom_about(images, fixations, degrees=degrees)
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
    images = as_tensor("images", images, dtype=torch.float32)
    fixations = _centres(images) if fixations is None else \
        as_tensor("fixations", fixations, dtype=torch.float32)
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
    return float((probs.argmax(-1) == as_tensor("labels", labels, dtype=torch.long)).float().mean())


@dataclass(frozen=True)
class RotationSweep:
    """Accuracy against rotation about the fixation, split on and off an angle grid.

    Attributes
    ----------
    degrees : numpy.ndarray, shape (n,)
        Counter-clockwise rotations, the first one 0 (upright).
    accuracy : numpy.ndarray, shape (n,)
    grid_step : float
        The retina's angle step, degrees (``360 / n_angles``).
    on_grid : numpy.ndarray of bool, shape (n,)
        Whether each angle is a multiple of ``grid_step``: a column roll of
        the retina (0 included).
    """

    degrees: np.ndarray
    accuracy: np.ndarray
    grid_step: float
    on_grid: np.ndarray

    def summary(self) -> dict[str, float]:
        """Upright accuracy, then mean and worst accuracy on and off the grid (0° excluded).

        Examples
        --------
        >>> sweep = RotationSweep(np.array([0.0, 11.25, 22.5]), np.array([0.9, 0.6, 0.8]),
        ...                       22.5, np.array([True, False, True]))
        >>> {k: round(v, 2) for k, v in sweep.summary().items()}
        ... # doctest: +NORMALIZE_WHITESPACE
        {'upright': 0.9, 'on_grid_mean': 0.8, 'on_grid_worst': 0.8, 'off_grid_mean': 0.6,
         'off_grid_worst': 0.6, 'mean': 0.7, 'worst': 0.6}
        """
        turned = self.degrees != 0
        out = {"upright": float(self.accuracy[self.degrees == 0][0])}
        for name, keep in (("on_grid_", self.on_grid & turned),
                           ("off_grid_", ~self.on_grid & turned), ("", turned)):
            values = self.accuracy[keep]
            out[f"{name}mean"] = float(values.mean()) if values.size else float("nan")
            out[f"{name}worst"] = float(values.min()) if values.size else float("nan")
        return out


def rotation_sweep(model: nn.Module, images: Any, labels: Any, fixations: Any,
                   degrees: Sequence[float], *, grid_step: float, batch_size: int = 256,
                   device: str | torch.device = "auto") -> RotationSweep:
    """Accuracy at each fixation after rotating every image about it by each angle.

    Parameters
    ----------
    model : nn.Module
        ``model(images, fixations) -> logits``.
    images : array, shape (N, C, H, W)
    labels : array, shape (N,)
    fixations : array, shape (N, 2)
        Pixel ``(x, y)``: the rotation centre and the fixation.
    degrees : sequence of float
        Counter-clockwise angles; must include 0 (the upright reference).
    grid_step : float
        The angle grid to split on, degrees: ``360 / n_angles`` of the retina
        under test (e.g. ``net.log_polar.angle_step_degrees``).
    batch_size, device
        As for :func:`predict`.

    Returns
    -------
    RotationSweep

    Examples
    --------
    >>> import torch
    >>> from neuroattn.retina import FoveatedResNet, LogPolar
    >>> net = FoveatedResNet(num_classes=3, in_channels=1, log_polar=LogPolar(8, 4),
    ...                      rotation_invariant=True)
    >>> images, centres = torch.rand(4, 1, 24, 24), torch.full((4, 2), 11.5)
    >>> sweep = rotation_sweep(net, images, torch.arange(4) % 3, centres, [0, 45, 90],
    ...                        grid_step=net.log_polar.angle_step_degrees, device="cpu")
    >>> sweep.on_grid.tolist()
    [True, False, True]
    """
    angles = np.asarray(degrees, dtype=np.float64)
    if angles.ndim != 1 or not (angles == 0).any():
        raise ParameterError(f"degrees={np.asarray(degrees).tolist()} must be a 1-D list of "
                             "angles that includes 0 (the upright reference); add 0.")
    check_number("grid_step", grid_step, lo=0.0, strict=True)
    images = as_tensor("images", images, dtype=torch.float32)
    fixations = as_tensor("fixations", fixations, dtype=torch.float32)
    accs = [accuracy(model, rotate_zoom_about(images, fixations, degrees=float(a)), labels,
                     fixations, batch_size=batch_size, device=device) for a in angles]
    steps = angles / grid_step
    on_grid = np.isclose(steps, np.round(steps), rtol=0.0, atol=1e-9)
    return RotationSweep(angles, np.asarray(accs), float(grid_step), on_grid)
