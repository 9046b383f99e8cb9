"""LoRA adapters: identity at start, only adapters train, merging is exact."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from neuroattn.nn.lora import LoRALinear, add_lora, lora_parameters, merge_lora


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Sequential(nn.Linear(7, 3)))


def test_wrapping_keeps_outputs_and_freezes_base():
    model, x = _model(), torch.randn(4, 5)
    before = model(x)
    assert add_lora(model, ["0", "2.0"], rank=2) == ["0", "2.0"]
    torch.testing.assert_close(model(x), before)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {n for n, _ in lora_parameters(model)}


def test_training_moves_only_adapters_and_merge_is_exact():
    model, x = _model(), torch.randn(16, 5)
    add_lora(model, ["0"], rank=3, alpha=6.0)
    frozen = model[0].base.weight.clone()
    opt = torch.optim.SGD([p for _, p in lora_parameters(model)], lr=0.1)
    for _ in range(5):
        opt.zero_grad()
        model(x).square().mean().backward()
        opt.step()
    assert torch.equal(model[0].base.weight, frozen)
    assert model[0].lora_b.abs().sum() > 0
    out = model(x)
    merge_lora(model)
    assert isinstance(model[0], nn.Linear) and not isinstance(model[0], LoRALinear)
    torch.testing.assert_close(model(x), out)


def test_errors():
    with pytest.raises(ValueError, match="nothing to adapt"):
        add_lora(_model(), ["q_proj"])
    with pytest.raises(ValueError, match="rank must be >= 1"):
        LoRALinear(nn.Linear(2, 2), rank=0)


def test_rows_limit_the_update_to_a_slice():
    """The value half of a fused key/value projection, as MVPFormer's reference LoRA."""
    torch.manual_seed(1)
    lin, x = nn.Linear(4, 6), torch.randn(3, 4)
    lora = LoRALinear(lin, rank=2, rows=slice(3, 6))
    with torch.no_grad():
        lora.lora_b.normal_()
    out = lora(x)
    torch.testing.assert_close(out[:, :3], lin(x)[:, :3])
    assert not torch.allclose(out[:, 3:], lin(x)[:, 3:])
    torch.testing.assert_close(out, lora.merged()(x))
    assert lora.lora_b.shape == (3, 2)
