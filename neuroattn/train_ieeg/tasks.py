"""What ``train_ieeg`` optimises and how it scores: pre-training, fine-tuning, prediction.

* :class:`ContrastivePretraining` wraps an MVPFormer so the whole
  contrastive next-segment objective runs inside ``forward`` (what DDP
  needs); the classification head is frozen meanwhile.
* :func:`classification_loss` is the fine-tuning loss, with optional class
  weights against the rarity of seizures.
* :func:`predict` runs a model over every window of a recording, in time
  order, and returns what :func:`neuroattn.ieeg.evaluation.evaluate` reads.

Examples
--------
>>> import torch
>>> from neuroattn.ieeg import MVPFormer
>>> from neuroattn.train_ieeg.tasks import ContrastivePretraining
>>> task = ContrastivePretraining(MVPFormer("tiny"), num_negatives=5)
>>> loss, metrics = task.loss(task, (torch.randn(2, 3, 4 * 128), torch.zeros(2)))
>>> loss.ndim, sorted(metrics)
(0, ['accuracy'])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from neuroattn.device import autocast
from neuroattn.errors import ParameterError
from neuroattn.ieeg.evaluation import RecordingPrediction, window_metrics
from neuroattn.ieeg.mvpformer import MVPFormer
from neuroattn.ieeg.objectives import next_segment_contrastive_loss
from neuroattn.store import read_batch
from neuroattn.train_ieeg.data import Recording

Batch = tuple[torch.Tensor, torch.Tensor]


class ContrastivePretraining(nn.Module):
    """MVPFormer plus its generative objective: ``forward(x) -> (loss, accuracy)``."""

    def __init__(self, model: MVPFormer, *, num_negatives: int = 30,
                 temperature: float = 0.1) -> None:
        super().__init__()
        self.model = model
        self.num_negatives, self.temperature = num_negatives, temperature
        model.final_layer.requires_grad_(False)  # unused here; DDP wants no idle parameters

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model(x, return_features=True)
        return next_segment_contrastive_loss(
            self.model.generative_head(out["hidden"]), out["embeddings"],
            num_negatives=self.num_negatives, temperature=self.temperature)

    @staticmethod
    def loss(task: nn.Module, batch: Batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The trainer's ``loss_fn``: labels are ignored (self-supervised).

        The accuracy stays a detached 0-d tensor on the device (no host sync).
        """
        loss, accuracy = task(batch[0])
        return loss, {"accuracy": accuracy.detach()}


def prepare_finetuning(model: MVPFormer, *, method: str, lora_rank: int = 8,
                       lora_alpha: float = 16.0) -> int:
    """Set up LoRA (frozen base) or full fine-tuning; return the trainable parameter count.

    The generative head is frozen either way: the seizure loss does not use it.
    """
    if method == "lora":
        model.add_lora(rank=lora_rank, alpha=lora_alpha)
    elif method == "full":
        model.requires_grad_(True)
    else:
        raise ParameterError(f"Fine-tuning method {method!r} is not 'lora' or 'full'; pass one "
                             "of those.")
    model.generative_head.requires_grad_(False)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def classification_loss(weights: torch.Tensor | None = None
                        ) -> Callable[[nn.Module, Batch], tuple[torch.Tensor,
                                                               dict[str, torch.Tensor]]]:
    """Cross-entropy of the seizure head, optionally class-weighted.

    Parameters
    ----------
    weights : Tensor (n_classes,), optional
        Class weights (e.g. :func:`neuroattn.train_ieeg.data.class_weights`),
        copied to each device once (float32) and reused.

    Returns
    -------
    callable
        The trainer's ``loss_fn(model, (x, y)) -> (loss, {"accuracy": a})``; the
        accuracy is a detached 0-d tensor on the model's device (no host sync).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> loss_fn = classification_loss(torch.tensor([1.0, 3.0]))
    >>> model = nn.Linear(4, 2)
    >>> loss, metrics = loss_fn(model, (torch.randn(8, 4), torch.randint(0, 2, (8,))))
    >>> loss.ndim, metrics["accuracy"].ndim, metrics["accuracy"].requires_grad
    (0, 0, False)
    """
    on_device: dict[torch.device, torch.Tensor] = {}

    def loss_fn(model: nn.Module, batch: Batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x, y = batch
        logits = model(x)
        w = None
        if weights is not None:
            w = on_device.get(logits.device)
            if w is None:
                with torch.inference_mode(False):  # reused later with autograd
                    w = on_device[logits.device] = weights.to(logits.device, torch.float32)
        loss = nn.functional.cross_entropy(logits.float(), y, weight=w)
        accuracy = (logits.detach().argmax(-1) == y).float().mean()
        return loss, {"accuracy": accuracy}

    return loss_fn


@torch.no_grad()
def predict(model: MVPFormer, recording: Recording, *, batch_size: int = 64,
            device: torch.device | str = "cpu", precision: str = "auto") -> RecordingPrediction:
    """Seizure probability of every window of ``recording``, in time order.

    A window's time is its end (the decision is about its newest segment).
    Each batch of consecutive windows is read as one span and cut on
    ``device`` (:func:`neuroattn.store.read_batch`); the probabilities stay
    there and come back to the host once, at the end.
    """
    device = torch.device(device)
    was_training = model.training
    model.eval()
    windows = recording.windows
    probabilities = []
    for start in range(0, len(windows), batch_size):
        batch = read_batch(windows, np.arange(start, min(start + batch_size, len(windows))),
                           pin_memory=device.type == "cuda", time_major=device.type != "cpu")
        x, _ = batch.to(device, non_blocking=True)
        with autocast(device, precision):
            logits = model(x)
        probabilities.append(logits.float().softmax(-1)[:, 1])
    model.train(was_training)
    return RecordingPrediction(
        name=recording.path.name, patient=recording.patient,
        times=(windows.starts + windows.window) / windows.sfreq,
        probabilities=torch.cat(probabilities).cpu().numpy().astype(np.float64),
        labels=windows.labels.copy(), seizures=windows.seizures,
        duration_s=windows.n_times / windows.sfreq)


def validation_scores(recordings: Sequence[Recording], *, batch_size: int = 64,
                      precision: str = "auto") -> Callable[[nn.Module], dict[str, Any]]:
    """The trainer's ``val_fn``: window AUROC and AUPRC pooled over ``recordings``."""

    def val_fn(model: nn.Module) -> dict[str, Any]:
        device = next(model.parameters()).device
        preds = [predict(model, r, batch_size=batch_size, device=device, precision=precision)
                 for r in recordings]
        scores = window_metrics(np.concatenate([p.probabilities for p in preds]),
                                np.concatenate([p.labels for p in preds]))
        return {"auroc": scores["auroc"], "auprc": scores["auprc"]}

    return val_fn
