"""Tests of greedy and sampled scanpath generation (neuroattn.gaze.oat.inference)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from neuroattn.datasets.synthetic import make_visual_search
from neuroattn.gaze.oat import OAT, as_search_trials, generate_scanpaths

TINY = dict(n_rows=3, n_cols=5, patch_size=(12, 10), d_model=16, n_heads=2,
            n_encoder_layers=1, n_decoder_layers=1, dim_feedforward=16, pe_iterations=100,
            max_len=12)


@pytest.fixture(scope="module")
def trials():
    data = make_visual_search(n_rows=3, n_cols=5, patch_size=(12, 10), min_objects=6,
                              n_train=2, n_val=1, n_test=9, n_subjects=2, seed=3)
    return as_search_trials(data.test)


@pytest.fixture
def model():
    return OAT(**TINY)


def _rig(model, monkeypatch, fn):
    """Replace the model's decoder logits by ``fn(step, encoded, tokens)``."""
    def decode(encoded, tokens):
        b, t = tokens.shape
        out = torch.zeros(b, t, model.n_slots + 2)
        out[:, -1] = fn(t - 1, encoded, tokens)
        return out
    monkeypatch.setattr(model, "decode", decode)


def _check_valid(paths, trials, max_len):
    for i, ps in enumerate(paths):
        for p in ps:
            assert 1 <= len(p) <= max_len
            assert all(0 <= f < trials.n_objects[i] for f in p)


def test_untrained_model_paths_are_valid(trials, model):
    for method, n in (("greedy", 1), ("sample", 4)):
        paths, ended = generate_scanpaths(model, trials, method=method, n_samples=n,
                                          return_ended=True, seed=1)
        assert len(paths) == len(trials) and all(len(ps) == n for ps in paths)
        assert ended.shape == (len(trials), n) and ended.dtype == bool
        _check_valid(paths, trials, TINY["max_len"])
        for ps, e in zip(paths, ended, strict=True):
            for p, done in zip(ps, e, strict=True):
                assert done or len(p) == TINY["max_len"]
    assert model.training, "generation restores the training mode"


def test_eos_and_pad_are_never_produced_at_step_one(trials, model, monkeypatch):
    """Logits that favour EOS, PAD and padded slots by far: none of them may come out first."""
    p = model.n_slots

    def logits(step, encoded, tokens):
        out = torch.zeros(tokens.shape[0], p + 2)
        out[:, p] = 50.0  # EOS
        out[:, p + 1] = 60.0  # PAD
        out[:, :p] = torch.where(encoded.inputs.object_mask, 0.0, 70.0)  # padded slots
        return out
    _rig(model, monkeypatch, logits)
    for method, n in (("greedy", 1), ("sample", 50)):
        paths, ended = generate_scanpaths(model, trials, method=method, n_samples=n,
                                          return_ended=True)
        assert all(len(q) == 1 for ps in paths for q in ps), "EOS right after step one"
        assert ended.all()
        _check_valid(paths, trials, TINY["max_len"])


def test_pad_and_padded_objects_are_never_produced_later(trials, model, monkeypatch):
    p = model.n_slots

    def logits(step, encoded, tokens):
        out = torch.zeros(tokens.shape[0], p + 2)
        out[:, p + 1] = 60.0  # PAD
        out[:, :p] = torch.where(encoded.inputs.object_mask, 0.0, 70.0)
        out[:, p] = 0.0 if step < 5 else -1e9  # EOS possible early, then never
        return out
    _rig(model, monkeypatch, logits)
    paths, ended = generate_scanpaths(model, trials, method="sample", n_samples=40, seed=2,
                                      return_ended=True)
    _check_valid(paths, trials, TINY["max_len"])
    lengths = np.array([len(q) for ps in paths for q in ps])
    assert (lengths >= 2).any() and lengths.max() <= TINY["max_len"]
    assert ((lengths == TINY["max_len"]) == ~ended.reshape(-1)).all()


def test_step_one_distribution_chi_square(trials, model, monkeypatch):
    """Sampled first fixations follow softmax(logits) renormalised over the real objects."""
    p = model.n_slots
    logit_row = torch.linspace(-1.0, 1.0, p)

    def logits(step, encoded, tokens):
        out = torch.zeros(tokens.shape[0], p + 2)
        out[:, :p] = logit_row
        out[:, p] = 2.0  # EOS: masked at step one
        return out
    _rig(model, monkeypatch, logits)
    i = int(np.argmin(trials.n_objects))
    n_obj = int(trials.n_objects[i])
    assert n_obj < p
    n = 6000
    paths = generate_scanpaths(model, trials.subset([i]), method="sample", n_samples=n,
                               max_len=1, batch_size=2000, seed=5)
    counts = np.bincount([q[0] for q in paths[0]], minlength=p)
    assert counts[n_obj:].sum() == 0
    probs = torch.softmax(logit_row[:n_obj], 0).numpy()
    chi2 = ((counts[:n_obj] - n * probs) ** 2 / (n * probs)).sum()
    assert stats.chi2.sf(chi2, n_obj - 1) > 1e-3


def test_temperature_sharpens(trials, model, monkeypatch):
    p = model.n_slots
    row = torch.zeros(p + 2)
    row[0] = 1.0
    _rig(model, monkeypatch, lambda step, enc, tok: row.expand(tok.shape[0], -1))
    cold = generate_scanpaths(model, trials.subset([0]), method="sample", n_samples=400,
                              max_len=1, temperature=0.05)
    hot = generate_scanpaths(model, trials.subset([0]), method="sample", n_samples=400,
                             max_len=1, temperature=5.0)
    assert np.mean([q[0] == 0 for q in cold[0]]) > 0.99
    assert np.mean([q[0] == 0 for q in hot[0]]) < 0.3


def test_greedy_is_the_argmax_and_stops_at_eos(trials, model, monkeypatch):
    p = model.n_slots

    def logits(step, encoded, tokens):
        out = torch.full((tokens.shape[0], p + 2), -5.0)
        if step < 3:
            out[:, step] = 1.0  # objects 0, 1, 2 (always real: min_objects = 6)
        out[:, p] = 0.0  # EOS: second best until step 3, then the best
        return out
    _rig(model, monkeypatch, logits)
    paths, ended = generate_scanpaths(model, trials, return_ended=True)
    assert paths == [[[0, 1, 2]]] * len(trials) and ended.all()


def test_sampling_is_reproducible(trials, model):
    a = generate_scanpaths(model, trials, method="sample", n_samples=3, seed=7)
    b = generate_scanpaths(model, trials, method="sample", n_samples=3, seed=7)
    c = generate_scanpaths(model, trials, method="sample", n_samples=3, seed=8)
    assert a == b and a != c


def test_batching_does_not_change_greedy_paths(trials, model):
    assert generate_scanpaths(model, trials, batch_size=2) == generate_scanpaths(model, trials)


@pytest.mark.parametrize("kwargs, match", [
    (dict(method="beam"), "method"),
    (dict(n_samples=0, method="sample"), "n_samples"),
    (dict(n_samples=3), "deterministic"),
    (dict(max_len=13), "exceeds"),
    (dict(max_len=0), "max_len"),
    (dict(temperature=0.0, method="sample"), "temperature"),
    (dict(batch_size=0), "batch_size"),
])
def test_bad_arguments(trials, model, kwargs, match):
    with pytest.raises(ValueError, match=match):
        generate_scanpaths(model, trials, **kwargs)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_bf16_generation_matches_the_rules(trials, model):
    paths, ended = generate_scanpaths(model, trials, method="sample", n_samples=8,
                                      device="cuda", return_ended=True)
    assert next(model.parameters()).is_cuda
    _check_valid(paths, trials, TINY["max_len"])
    assert ended.shape == (len(trials), 8)
