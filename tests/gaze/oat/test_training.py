"""Tests of OAT training (neuroattn.gaze.oat.training): loss, early stopping, best epoch, resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuroattn.datasets.synthetic import make_visual_search
from neuroattn.gaze.oat import OAT, as_search_trials, scanpath_report, teacher_forced_loss
from neuroattn.gaze.oat.training import _lr_factor, _pack, train_oat
from neuroattn.training.checkpoint import load_checkpoint

TINY = dict(n_rows=3, n_cols=5, patch_size=(12, 10), d_model=16, n_heads=2,
            n_encoder_layers=1, n_decoder_layers=1, dim_feedforward=16, pe_iterations=100,
            max_len=12, dropout=0.1)


@pytest.fixture(scope="module")
def data():
    return make_visual_search(n_rows=3, n_cols=5, patch_size=(12, 10), n_train=16, n_val=5,
                              n_test=2, n_subjects=2, max_length=12, seed=7)


@torch.no_grad()
def test_teacher_forced_loss_is_the_mean_token_cross_entropy(data):
    trials = as_search_trials(data.train)
    model = OAT(**TINY).eval()
    index = np.array([3, 0])
    loss = teacher_forced_loss(model, trials, index, torch.device("cpu"))
    total = teacher_forced_loss(model, trials, index, torch.device("cpu"), reduction="sum")
    n_tokens = sum(len(p) + 1 for i in index for p in trials.scanpaths[i])
    assert float(total) / n_tokens == pytest.approx(float(loss), rel=1e-5)
    # by hand for one path: -log softmax at each next token, EOS last
    path = trials.scanpaths[3][0]
    tokens = torch.tensor([[model.bos_index, *path]])
    logp = torch.log_softmax(model(trials.inputs([3], n_slots=15), tokens)[0], -1)
    nll = -sum(logp[k, f] for k, f in enumerate([*path, model.eos_index]))
    one = trials.subset([3])
    one.scanpaths = [[path]]
    assert float(teacher_forced_loss(model, one, np.array([0]), torch.device("cpu"),
                                     reduction="sum")) == pytest.approx(float(nll), rel=1e-5)


def test_batches_hold_whole_trials():
    n_paths = np.array([3, 1, 2, 5, 1])
    batches = _pack(np.array([4, 2, 0, 1, 3]), n_paths, 4)
    assert [b.tolist() for b in batches] == [[4, 2, 0], [1, 3]]
    assert sorted(np.concatenate(batches).tolist()) == list(range(5))


def test_training_lowers_the_loss_and_keeps_the_best_epoch(data):
    model = OAT(**TINY)
    result = train_oat(model, data.train, data.val, max_epochs=6, batch_size=8, lr=3e-3,
                       patience=6, seed=0)
    hist = result.history
    assert [h["epoch"] for h in hist] == list(range(6))
    assert hist[-1]["train_loss"] < hist[0]["train_loss"] - 0.2
    deltas = [h["val_delta"] for h in hist]
    assert result.best_epoch == int(np.argmin(deltas)) and result.best_delta == min(deltas)
    assert not model.training and result.seconds > 0
    # the model holds the best epoch's weights: its validation delta is the best one
    predicted, ended = model.generate(data.val, seed=0, return_ended=True)
    assert scanpath_report(predicted, data.val, ended=ended)["delta"] == \
        pytest.approx(result.best_delta)


def test_early_stopping_after_patience_epochs(data):
    model = OAT(**TINY)
    result = train_oat(model, data.train, data.val, max_epochs=40, batch_size=8, lr=1e-5,
                       patience=2, seed=0)
    assert result.stopped_early and len(result.history) < 40
    assert len(result.history) - 1 - result.best_epoch == 2
    deltas = [h["val_delta"] for h in result.history]
    assert min(deltas[result.best_epoch + 1:]) >= result.best_delta


def test_learning_rate_schedules():
    constant = _lr_factor("constant", 100)
    assert [constant(k) for k in (0, 50, 99)] == [1.0, 1.0, 1.0]
    cosine = _lr_factor("cosine", 100)  # 5 warm-up steps, then cosine to 1/20
    factors = np.array([cosine(k) for k in range(100)])
    np.testing.assert_allclose(factors[:5], [0.2, 0.4, 0.6, 0.8, 1.0])
    assert (np.diff(factors[5:]) <= 0).all()
    assert factors[-1] == pytest.approx(0.05, abs=1e-3) and cosine(500) == pytest.approx(0.05)


def test_resume_continues_exactly(data, tmp_path, monkeypatch):
    """A run killed during epoch 2 and resumed equals the straight 3-epoch run (cosine lr)."""
    from neuroattn.gaze.oat import training

    kw = dict(max_epochs=3, batch_size=8, lr=3e-3, patience=10, seed=3, schedule="cosine")
    straight = OAT(**TINY)
    full = train_oat(straight, data.train, data.val, **kw)
    ckpt = tmp_path / "oat.pt"
    validate, calls = training._validate, []

    def crash_in_third_epoch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return validate(*args, **kwargs)
    monkeypatch.setattr(training, "_validate", crash_in_third_epoch)
    with pytest.raises(KeyboardInterrupt):
        train_oat(OAT(**TINY), data.train, data.val, checkpoint=ckpt, **kw)
    monkeypatch.setattr(training, "_validate", validate)
    state = load_checkpoint(ckpt, model_name="oat")
    assert state["epoch"] == 1 and len(state["history"]) == 2
    resumed = OAT(**TINY)
    again = train_oat(resumed, data.train, data.val, checkpoint=ckpt, resume=True, **kw)
    assert [h["train_loss"] for h in again.history] == pytest.approx(
        [h["train_loss"] for h in full.history])
    assert again.best_epoch == full.best_epoch
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values(),
                            strict=True):
        torch.testing.assert_close(a, b, msg=name)
    finished = train_oat(OAT(**TINY), data.train, data.val, checkpoint=ckpt, resume=True, **kw)
    assert len(finished.history) == 3  # nothing left to do
    other = OAT(**{**TINY, "d_model": 8})
    with pytest.raises(ValueError, match="another OAT configuration"):
        train_oat(other, data.train, data.val, checkpoint=ckpt, resume=True, **kw)


def test_sampled_validation(data):
    model = OAT(**TINY)
    result = train_oat(model, data.train, data.val, max_epochs=1, val_method="sample",
                       val_samples=3)
    assert np.isfinite(result.history[0]["val_delta"])


@pytest.mark.parametrize("kwargs, match", [
    (dict(max_epochs=0), "max_epochs"),
    (dict(batch_size=0), "batch_size"),
    (dict(patience=0), "patience"),
    (dict(lr=-1.0), "lr"),
    (dict(grad_clip=0.0), "grad_clip"),
    (dict(resume=True), "checkpoint"),
    (dict(schedule="step"), "schedule"),
])
def test_bad_arguments(data, kwargs, match):
    with pytest.raises(ValueError, match=match):
        train_oat(OAT(**TINY), data.train, data.val, **kwargs)


def test_paths_longer_than_max_len_are_refused(data):
    with pytest.raises(ValueError, match="max_len"):
        train_oat(OAT(**{**TINY, "max_len": 3}), data.train, data.val, max_epochs=1)
    bare = as_search_trials(data.val)
    bare.scanpaths = None
    with pytest.raises(ValueError, match="no human scanpaths"):
        train_oat(OAT(**TINY), data.train, bare, max_epochs=1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_bf16_training(data):
    model = OAT(**TINY)
    result = train_oat(model, data.train, data.val, max_epochs=2, batch_size=8, lr=3e-3,
                       device="cuda")
    assert next(model.parameters()).is_cuda
    assert all(np.isfinite(h["train_loss"]) for h in result.history)
