"""attention_maps returns the weights the model really applies."""

from __future__ import annotations

import torch

from neuroattn.ieeg import MVPFormer, preset


def test_weights_times_values_is_the_attention_output():
    torch.manual_seed(0)
    model = MVPFormer(preset("tiny", attention="flash")).eval()
    x = torch.randn(2, 3, 5 * 128)
    embeddings = model.embed(x)
    time_table, channel_table = model._tables(embeddings)
    attn = model.blocks[0].attn
    z = model.blocks[0].ln_1(embeddings)
    B, T, C, d = z.shape
    _, _, v, *_ = attn._project(z, time_table, channel_table)
    v = v.repeat_interleave(attn.cfg.n_heads // attn.cfg.n_kv_heads, dim=1)
    mixed = (attn.weights(z, time_table, channel_table) @ v).transpose(1, 2).reshape(B, T, C, d)
    torch.testing.assert_close(attn.c_proj(mixed), attn(z, time_table, channel_table),
                               rtol=1e-5, atol=1e-6)


def test_maps_are_causal_distributions_and_leave_the_mode_alone():
    model = MVPFormer("tiny").train()
    maps = model.attention_maps(torch.randn(1, 4, 6 * 128))
    assert model.training
    assert maps.shape == (2, 1, 4, 6, 4, 6, 4)
    torch.testing.assert_close(maps.sum(dim=(-2, -1)), torch.ones(2, 1, 4, 6, 4))
    for t in range(5):
        assert maps[:, :, :, t, :, t + 1:].abs().max() == 0  # nothing from the future
