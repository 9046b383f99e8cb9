"""A model's training loss as a module's ``forward``, for :class:`~neuroattn.training.loop.Trainer`.

Under ``torchrun`` the trainer wraps what it trains in DistributedDataParallel,
which syncs gradients only through the wrapper's ``forward``. A loss that calls
a model's other methods (``encode``, ``perceive``, ``kg_loss``, ...) therefore
belongs in the ``forward`` of a small module around the model: subclass
:class:`ModelObjective`, pass it to the trainer with :func:`objective_loss` as
the loss function, and checkpoints still hold the model's own state dict.

Examples
--------
>>> import tempfile, torch
>>> from neuroattn.training.loop import TrainConfig, Trainer
>>> class Squares(ModelObjective):
...     def forward(self, batch):
...         return self.model(batch).square().mean(), {}
>>> model = torch.nn.Linear(3, 1)
>>> trainer = Trainer(Squares(model), objective_loss, TrainConfig(epochs=1, lr=0.1),
...                   tempfile.mkdtemp(), progress=False)
>>> trainer.fit([torch.randn(4, 3)])["step"], sorted(trainer.module.state_dict())
(1, ['bias', 'weight'])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

__all__ = ["ModelObjective", "objective_loss"]


class ModelObjective(nn.Module):
    """Base of the loss modules: holds ``model``; its state dict is the model's.

    Subclasses define ``forward(batch) -> (loss, metrics)``.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The model's state dict (checkpoints hold the model, not this wrapper)."""
        return self.model.state_dict(*args, **kwargs)

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True,
                        assign: bool = False) -> Any:
        """Load a state dict of the model."""
        return self.model.load_state_dict(state_dict, strict=strict, assign=assign)


def objective_loss(objective: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, Any]]:
    """The trainer's loss function for a :class:`ModelObjective`: call it (through DDP)."""
    return objective(batch)
