"""Low-rank adapters (LoRA) for fine-tuning linear layers with a frozen base.

``LoRALinear`` adds ``(alpha / rank) * B @ A`` to a frozen ``nn.Linear``; ``B``
starts at zero, so wrapping never changes a model's output until training.

Examples
--------
>>> import torch
>>> from neuroattn.nn.lora import add_lora, lora_parameters, merge_lora
>>> model = torch.nn.Sequential(torch.nn.Linear(4, 4))
>>> add_lora(model, ["0"], rank=2)
['0']
>>> [name for name, _ in lora_parameters(model)]
['0.lora_a', '0.lora_b']
>>> merged = merge_lora(model)
>>> type(merged[0]).__name__
'Linear'
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import torch
from torch import nn

from neuroattn.errors import ParameterError


class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable rank-``rank`` update.

    ``rows`` restricts the update to a slice of the output features, e.g. the
    value half of a fused key/value projection.
    """

    def __init__(self, base: nn.Linear, rank: int = 8, alpha: float = 16.0,
                 dropout: float = 0.0, rows: slice | None = None) -> None:
        super().__init__()
        if rank < 1:
            raise ParameterError(f"LoRA rank must be >= 1, got {rank}.")
        self.base = base
        self.base.requires_grad_(False)
        self.rank, self.alpha = rank, alpha
        self.scaling = alpha / rank
        self.rows = rows or slice(0, base.out_features)
        n_rows = len(range(base.out_features)[self.rows])
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(n_rows, rank))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()

    def _delta(self) -> torch.Tensor:
        delta = torch.zeros_like(self.base.weight)
        delta[self.rows] = self.scaling * self.lora_b @ self.lora_a
        return delta

    @property
    def weight(self) -> torch.Tensor:
        """The effective weight (base + update), e.g. for inspection."""
        return self.base.weight + self._delta()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base(x)
        update = self.scaling * (self.dropout(x) @ self.lora_a.T) @ self.lora_b.T
        if self.rows == slice(0, self.base.out_features):
            return out + update
        return torch.cat([out[..., :self.rows.start], out[..., self.rows] + update,
                          out[..., self.rows.stop:]], dim=-1)

    def merged(self) -> nn.Linear:
        """A plain ``nn.Linear`` with the update folded into its weight."""
        out = nn.Linear(self.base.in_features, self.base.out_features,
                        bias=self.base.bias is not None, device=self.base.weight.device,
                        dtype=self.base.weight.dtype)
        with torch.no_grad():
            out.weight.copy_(self.weight)
            if self.base.bias is not None:
                out.bias.copy_(self.base.bias)
        return out


def add_lora(model: nn.Module, targets: Iterable[str], *, rank: int = 8, alpha: float = 16.0,
             dropout: float = 0.0, rows: dict[str, slice] | None = None) -> list[str]:
    """Wrap every ``nn.Linear`` whose name ends with one of ``targets``; return their names.

    ``rows`` maps a target name to the output rows its update may touch.
    Raises if nothing matched, so a typo in ``targets`` cannot silently train nothing.
    """
    rows = rows or {}
    targets = tuple(targets)
    wrapped = []
    for name, module in list(model.named_modules()):
        if isinstance(module, nn.Linear) and (name in targets or name.split(".")[-1] in targets):
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, child, LoRALinear(module, rank, alpha, dropout,
                                              rows.get(child, rows.get(name))))
            wrapped.append(name)
    if not wrapped:
        raise ParameterError(f"No nn.Linear named {targets} in the model; nothing to adapt.")
    return wrapped


def lora_parameters(model: nn.Module) -> Iterator[tuple[str, nn.Parameter]]:
    """The adapter parameters (``lora_a``/``lora_b``) of ``model``."""
    return ((n, p) for n, p in model.named_parameters() if n.endswith(("lora_a", "lora_b")))


def merge_lora(model: nn.Module) -> nn.Module:
    """Fold every adapter into its base layer, in place (for export or fast inference)."""
    for name, module in list(model.named_modules()):
        if isinstance(module, LoRALinear):
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, child, module.merged())
    return model
