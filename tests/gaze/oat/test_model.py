"""Tests of the OAT model (neuroattn.gaze.oat.model): shapes, masking, permutation property."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuroattn.datasets.synthetic import make_visual_search
from neuroattn.gaze.oat import (
    OAT,
    OATConfig,
    PatchCNN,
    as_search_trials,
    scanpath_tokens,
)
from neuroattn.gaze.oat.model import _sinusoid

TINY = dict(n_rows=3, n_cols=5, patch_size=(12, 10), d_model=24, n_heads=2,
            n_encoder_layers=2, n_decoder_layers=1, dim_feedforward=20, pe_iterations=300,
            max_len=16)


@pytest.fixture(scope="module")
def trials():
    """3 x 5 grids with 8-15 objects per trial (padded slots), 12 x 10 patches."""
    data = make_visual_search(n_rows=3, n_cols=5, patch_size=(12, 10), min_objects=8,
                              n_train=6, n_val=1, n_test=1, n_subjects=2, max_length=10, seed=1)
    return as_search_trials(data.train)


@pytest.fixture(scope="module")
def model():
    return OAT(**TINY).eval()


def _batch(trials, index, model):
    paths = [trials.scanpaths[i][0] for i in index]
    return trials.inputs(index, n_slots=model.n_slots), scanpath_tokens(paths, model.n_slots)


def test_shapes_of_every_part(trials, model):
    inputs, tokens = _batch(trials, [0, 1, 2], model)
    b, p, d = 3, 15, 24
    assert PatchCNN((12, 10), 12)(inputs.patches.reshape(-1, 12, 10, 3)).shape == (b * p, 12)
    assert model.position(inputs.rows, inputs.cols, inputs.object_mask).shape == (b, p, 12)
    encoded = model.encode(inputs)
    assert encoded.memory.shape == (b, p + 1, d)
    assert encoded.key_padding_mask.shape == (b, p + 1)
    assert encoded.object_features.shape == (b, p, d // 2)
    t = tokens.shape[1] - 1
    emb = model.embed_tokens(encoded, tokens[:, :-1])
    assert emb.shape == (b, t, d)
    logits = model.decode(encoded, tokens[:, :-1])
    assert logits.shape == (b, t, p + 2)
    torch.testing.assert_close(model(inputs, tokens[:, :-1]), logits)
    assert _sinusoid(5, 6).shape == (5, 6)


def test_vocabulary_and_masking(trials, model):
    inputs, tokens = _batch(trials, [0, 1, 2, 3], model)
    logits = model(inputs, tokens[:, :-1])
    assert (model.n_slots, model.eos_index, model.pad_index, model.bos_index) == (15, 15, 16, 17)
    assert torch.isinf(logits[..., model.pad_index]).all()
    padded = ~inputs.object_mask
    assert padded.any(), "the fixture must have padded slots"
    blocked = torch.isneginf(logits[..., : model.n_slots])
    assert torch.equal(blocked, padded[:, None, :].expand_as(blocked))
    assert torch.isfinite(logits[..., model.eos_index]).all()
    real = ~padded[:, None, :].expand_as(blocked)
    assert torch.isfinite(logits[..., : model.n_slots][real]).all()


def test_padded_slots_do_not_change_the_outputs(trials, model):
    """Garbage in padded slots (patches and cells) leaves every logit unchanged."""
    inputs, tokens = _batch(trials, [0, 1], model)
    ref = model(inputs, tokens[:, :-1])
    dirty = inputs.select(torch.arange(2))
    pad = ~dirty.object_mask
    g = torch.Generator().manual_seed(0)
    dirty.patches[pad] = torch.randint(0, 255, dirty.patches[pad].shape, generator=g,
                                       dtype=torch.uint8)
    dirty.rows[pad], dirty.cols[pad] = 2, 4
    torch.testing.assert_close(model(dirty, tokens[:, :-1]), ref, atol=1e-5, rtol=1e-5)


def test_permuting_objects_permutes_the_pointer_logits(trials, model):
    """Exact property: no order encoding in the encoder, target token last.

    Slot j of the permuted trial holds old object perm[j] (patch and cell move
    together); decoder tokens and the target index are relabelled. In eval()
    mode every object logit moves with its object and EOS is unchanged.
    """
    inputs, tokens = _batch(trials, [0, 1, 2, 3, 4], model)
    dec = tokens[:, :-1]
    ref = model(inputs, dec)
    rng = np.random.default_rng(0)
    p = model.n_slots
    for _ in range(3):
        perm = torch.as_tensor(rng.permutation(p))
        inv = torch.empty_like(perm)
        inv[perm] = torch.arange(p)
        moved = inputs.select(torch.arange(inputs.batch_size))
        moved.patches = inputs.patches[:, perm]
        moved.rows, moved.cols = inputs.rows[:, perm], inputs.cols[:, perm]
        moved.object_mask = inputs.object_mask[:, perm]
        moved.target = inv[inputs.target]
        relabel = torch.where(dec < p, inv[dec.clamp(max=p - 1)], dec)
        out = model(moved, relabel)
        torch.testing.assert_close(out[..., :p], ref[..., :p][..., perm], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(out[..., p:], ref[..., p:], atol=1e-5, rtol=1e-5)


def test_the_decoder_is_causal(trials, model):
    inputs, tokens = _batch(trials, [0, 1], model)
    dec = tokens[:, :-1].clone()
    ref = model(inputs, dec)
    dec[:, -1] = torch.where(dec[:, -1] == 0, 1, 0)
    out = model(inputs, dec)
    torch.testing.assert_close(out[:, :-1], ref[:, :-1])


def test_target_and_flag_enter_the_tokens(trials, model):
    """The target token carries the template and PE(row_t, col_t, 1); a fixated target, flag 1."""
    inputs, _ = _batch(trials, [0], model)
    encoded = model.encode(inputs)
    t = int(inputs.target[0])
    tokens = torch.tensor([[model.bos_index, t, (t + 1) % int(inputs.object_mask.sum())]])
    emb = model.embed_tokens(encoded, tokens)[0]
    half = model.config.d_model // 2
    rows, cols = inputs.rows[0], inputs.cols[0]
    torch.testing.assert_close(emb[1, half:], model.position(rows[t], cols[t], torch.tensor(True)))
    other = int(tokens[0, 2])
    torch.testing.assert_close(emb[2, half:],
                               model.position(rows[other], cols[other], torch.tensor(False)))
    bos = model.position(torch.tensor(1), torch.tensor(2), torch.tensor(False))  # (3//2, 5//2)
    torch.testing.assert_close(emb[0, half:], bos)
    changed = inputs.select(torch.tensor([0]))
    changed.target_patch = 255 - changed.target_patch
    assert not torch.allclose(model.encode(changed).memory, encoded.memory)


def test_init_is_seeded_and_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    a = OAT(**TINY)
    after = torch.rand(1)
    b = OAT(**TINY)
    c = OAT(**{**TINY, "seed": 1})
    assert torch.equal(after, expected)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    assert not torch.equal(a.pointer_mix.weight, c.pointer_mix.weight)


def test_reference_defaults_and_config():
    cfg = OATConfig()
    assert (cfg.d_model, cfg.n_heads, cfg.n_encoder_layers, cfg.n_decoder_layers,
            cfg.dim_feedforward, cfg.dropout, cfg.pointer_heads) == (512, 4, 4, 4, 512, 0.1, 2)
    model = OAT(pe_iterations=10)
    assert model.position.table.shape == (6, 86)  # max(4, 6) rows, ceil(256 / 3)
    assert sum(p.numel() for p in model.parameters()) > 1_000_000
    cfg2 = OATConfig(**{**cfg.to_dict(), "patch_size": [20, 14]})
    assert cfg2.patch_size == (20, 14)
    assert OAT(cfg2, d_model=32, n_heads=2, pe_iterations=10).config.d_model == 32


def test_state_dict_round_trip(trials, model):
    inputs, tokens = _batch(trials, [0, 1], model)
    clone = OAT(**{**TINY, "seed": 7, "pe_iterations": 0}).eval()
    clone.load_state_dict(model.state_dict())
    torch.testing.assert_close(clone(inputs, tokens[:, :-1]), model(inputs, tokens[:, :-1]))


@pytest.mark.parametrize("kwargs, match", [
    (dict(d_model=30), "multiple of 4"),
    (dict(d_model=20, n_heads=3), "multiple of 6"),
    (dict(patch_size=(3, 3), cnn_pool=(2, 2)), "below one pixel"),
    (dict(dropout=1.0), "dropout"),
    (dict(max_len=0), "max_len"),
    (dict(cnn_pool=(2,)), "pair"),
])
def test_config_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        OATConfig(**kwargs)


def test_bad_inputs(trials, model):
    inputs, tokens = _batch(trials, [0], model)
    with pytest.raises(ValueError, match="object slots"):
        OAT(**{**TINY, "n_objects": 16}).encode(inputs)
    with pytest.raises(ValueError, match="patch_size"):
        OAT(**{**TINY, "patch_size": (16, 16)}).encode(inputs)
    encoded = model.encode(inputs)
    with pytest.raises(ValueError, match="max_len"):
        model.decode(encoded, torch.full((1, 18), model.bos_index))
    with pytest.raises(ValueError, match="batch"):
        model.decode(encoded, torch.full((2, 3), model.bos_index))
    with pytest.raises(TypeError, match="OATConfig"):
        OAT({"d_model": 8})
