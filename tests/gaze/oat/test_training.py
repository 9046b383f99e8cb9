"""Tests of OAT training (neuroattn.gaze.oat.training): loss, batches, stopping, resume, DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from neuroattn.config import ConfigError
from neuroattn.datasets.synthetic import make_visual_search
from neuroattn.errors import ParameterError
from neuroattn.gaze.oat import (
    OAT,
    TrialBatches,
    as_search_trials,
    fit_oat,
    scanpath_report,
    teacher_forced_loss,
)
from neuroattn.gaze.oat.training import _pack
from neuroattn.training import distributed
from neuroattn.training.checkpoint import load_checkpoint

TINY = dict(n_rows=3, n_cols=5, patch_size=(12, 10), d_model=16, n_heads=2,
            n_encoder_layers=1, n_decoder_layers=1, dim_feedforward=16, pe_iterations=100,
            max_len=12, dropout=0.1)
DATA = dict(n_rows=3, n_cols=5, patch_size=(12, 10), n_train=16, n_val=5, n_test=2,
            n_subjects=2, max_length=12, seed=7)


@pytest.fixture(scope="module")
def data():
    return make_visual_search(**DATA)


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


def test_trial_batches_reshuffle_by_epoch_and_split_by_rank(monkeypatch):
    loader = TrialBatches([2, 1, 3, 1, 2, 2, 1], batch_size=3, seed=5)
    epochs = []
    for epoch in (0, 1, 0):
        loader.set_epoch(epoch)
        epochs.append([b.tolist() for b in loader])
        assert len(loader) == len(epochs[-1])
        assert sorted(i for b in epochs[-1] for i in b) == list(range(7))
    assert epochs[0] == epochs[2] != epochs[1]
    shares = []
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    for rank in (0, 1):
        monkeypatch.setattr(distributed, "rank", lambda rank=rank: rank)
        shares.append([b.tolist() for b in loader])
        assert len(loader) == len(shares[-1])
    assert shares[0] == epochs[0][0::2] and shares[1][:len(epochs[0][1::2])] == epochs[0][1::2]


def test_training_lowers_the_loss_and_keeps_the_best_epoch(data, tmp_path):
    model = OAT(**TINY)
    fit = fit_oat(model, data.train, data.val, tmp_path, epochs=6, batch_size=8, lr=3e-3,
                  patience=6, seed=0, progress=False)
    hist = fit["history"]
    assert [h["epoch"] for h in hist] == list(range(6)) and fit["epoch"] == 6
    assert hist[-1]["loss"] < hist[0]["loss"] - 0.2
    assert all(h["lr"] == 3e-3 for h in hist)  # the reference's constant rate
    deltas = [h["val_delta"] for h in hist]
    assert fit["best_epoch"] == int(np.argmin(deltas)) and fit["best"] == min(deltas)
    assert not fit["stopped_early"] and not model.training and fit["seconds"] > 0
    # the model holds the best epoch's weights: its validation delta is the best one
    predicted, ended = model.generate(data.val, seed=0, return_ended=True)
    assert scanpath_report(predicted, data.val, ended=ended)["delta"] == \
        pytest.approx(fit["best"])
    # the run directory: the trainer's checkpoints, settings and one metrics row per epoch
    best = load_checkpoint(tmp_path / "best.pt", model_name="oat")
    for key, value in model.state_dict().items():
        torch.testing.assert_close(best["model"][key], value, msg=key)
    assert (tmp_path / "last.pt").exists() and "d_model: 16" in \
        (tmp_path / "config.yaml").read_text()
    rows = [json.loads(r) for r in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert len([r for r in rows if "loss" in r]) == 6


def test_early_stopping_after_patience_epochs(data, tmp_path):
    model = OAT(**TINY)
    fit = fit_oat(model, data.train, data.val, tmp_path, epochs=40, batch_size=8, lr=1e-5,
                  patience=2, seed=0, progress=False)
    assert fit["stopped_early"] and len(fit["history"]) < 40
    assert len(fit["history"]) - 1 - fit["best_epoch"] == 2
    deltas = [h["val_delta"] for h in fit["history"]]
    assert min(deltas[fit["best_epoch"] + 1:]) >= fit["best"]


def test_resume_continues_exactly(data, tmp_path, monkeypatch):
    """A run killed during epoch 2 and resumed equals the straight 3-epoch run (cosine lr)."""
    from neuroattn.gaze.oat import training

    kw = dict(epochs=3, batch_size=8, lr=3e-3, patience=10, seed=3, schedule="cosine",
              warmup_steps=2, progress=False)
    straight = OAT(**TINY)
    full = fit_oat(straight, data.train, data.val, tmp_path / "straight", **kw)
    run = tmp_path / "run"
    validate, calls = training._validate, []

    def crash_in_third_epoch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return validate(*args, **kwargs)
    monkeypatch.setattr(training, "_validate", crash_in_third_epoch)
    with pytest.raises(KeyboardInterrupt):
        fit_oat(OAT(**TINY), data.train, data.val, run, **kw)
    monkeypatch.setattr(training, "_validate", validate)
    state = load_checkpoint(run / "last.pt", model_name="oat")
    assert state["epoch"] == 2 and len(state["history"]) == 2
    resumed = OAT(**TINY)
    again = fit_oat(resumed, data.train, data.val, run, resume=True, **kw)
    assert [h["loss"] for h in again["history"]] == [h["loss"] for h in full["history"]]
    assert [h["val_delta"] for h in again["history"]] == \
        [h["val_delta"] for h in full["history"]]
    assert again["best_epoch"] == full["best_epoch"] and again["step"] == full["step"]
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values(),
                            strict=True):
        torch.testing.assert_close(a, b, msg=name)
    finished = OAT(**TINY)
    done = fit_oat(finished, data.train, data.val, run, resume=True, **kw)
    assert len(done["history"]) == 3 and done["step"] == full["step"]  # nothing left to do
    for a, b in zip(straight.parameters(), finished.parameters(), strict=True):
        assert torch.equal(a, b)  # but the best weights are restored
    with pytest.raises(ConfigError, match=r"changed settings: oat.d_model 16 -> 8"):
        fit_oat(OAT(**{**TINY, "d_model": 8}), data.train, data.val, run, resume=True, **kw)
    with pytest.raises(ConfigError, match=r"changed settings: batch_size 8 -> 4"):
        fit_oat(OAT(**TINY), data.train, data.val, run, resume=True, **{**kw, "batch_size": 4})


def test_sampled_validation(data, tmp_path):
    model = OAT(**TINY)
    fit = fit_oat(model, data.train, data.val, tmp_path, epochs=1, val_method="sample",
                  val_samples=3, progress=False)
    assert np.isfinite(fit["history"][0]["val_delta"])


@pytest.mark.parametrize("kwargs, match", [
    (dict(epochs=0), "epochs"),
    (dict(batch_size=0), "batch_size"),
    (dict(patience=0), "patience"),
    (dict(lr=-1.0), "lr"),
    (dict(grad_clip=0.0), "grad_clip"),
    (dict(warmup_steps=-1), "warmup_steps"),
    (dict(schedule="step"), "schedule"),
    (dict(val_method="beam"), "val_method"),
])
def test_bad_arguments(data, tmp_path, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        fit_oat(OAT(**TINY), data.train, data.val, tmp_path, **kwargs)


def test_paths_longer_than_max_len_are_refused(data, tmp_path):
    with pytest.raises(ParameterError, match="max_len"):
        fit_oat(OAT(**{**TINY, "max_len": 3}), data.train, data.val, tmp_path, epochs=1)
    bare = as_search_trials(data.val)
    bare.scanpaths = None
    with pytest.raises(ParameterError, match="no human scanpaths"):
        fit_oat(OAT(**TINY), data.train, bare, tmp_path, epochs=1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_bf16_training(data, tmp_path):
    model = OAT(**TINY)
    fit = fit_oat(model, data.train, data.val, tmp_path, epochs=2, batch_size=8, lr=3e-3,
                  device="cuda", progress=False)
    assert next(model.parameters()).is_cuda
    assert all(np.isfinite(h["loss"]) for h in fit["history"])


WORKER = """
import json, sys
import numpy as np
import torch
from neuroattn.datasets.synthetic import make_visual_search
from neuroattn.gaze.oat import OAT, training
from neuroattn.training import distributed, loop

probe, run_dir = sys.argv[1], sys.argv[2]
data, tiny = make_visual_search(**json.loads(sys.argv[3])), json.loads(sys.argv[4])
seen = []
objective = training._TeacherForcing.forward

def recording_forward(self, index):
    seen.append([int(i) for i in index])
    return objective(self, index)

training._TeacherForcing.forward = recording_forward
broadcast = loop._broadcast_from_main

def recording_broadcast(module):  # the trained weights, before rank 0's best reach every rank
    torch.save(module.state_dict(), f"{probe}/trained{distributed.rank()}.pt")
    broadcast(module)

loop._broadcast_from_main = recording_broadcast
model = OAT(**tiny)
fit = training.fit_oat(model, data.train, data.val, run_dir, epochs=2, batch_size=4, lr=3e-3,
                       patience=5, seed=0, device="cpu", progress=False)
rank = distributed.rank()
torch.save(model.state_dict(), f"{probe}/weights{rank}.pt")
with open(f"{probe}/seen{rank}.json", "w") as f:
    json.dump({"batches": seen, "history": fit["history"]}, f)
"""


@pytest.mark.slow
def test_two_ranks_split_the_trials_and_agree_on_the_weights(tmp_path):
    """torchrun, 2 ranks (gloo): disjoint shards, identical weights, rank 0 writes."""
    probe, run_dir = tmp_path / "probe", tmp_path / "run"
    probe.mkdir()
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(WORKER))
    tiny = {**TINY, "dropout": 0.0}  # the same forward on both ranks but for the data
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(script), str(probe), str(run_dir), json.dumps(DATA), json.dumps(tiny)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stderr[-3000:]

    seen = [json.loads((probe / f"seen{r}.json").read_text()) for r in (0, 1)]
    loader = TrialBatches([len(p) for p in as_search_trials(
        make_visual_search(**DATA).train).scanpaths], batch_size=4, seed=0)
    start = 0
    for epoch in range(2):
        loader.set_epoch(epoch)
        batches = [b.tolist() for b in loader]
        n = -(-len(batches) // 2)  # each rank's share
        mine = [seen[r]["batches"][start:start + n] for r in (0, 1)]
        start += n
        assert mine[0] == batches[0::2]  # rank 0: batches 0, 2, 4, ... of the epoch
        assert mine[1][:len(batches[1::2])] == batches[1::2]  # rank 1: 1, 3, ... (+ wrap)
        assert not {i for b in mine[0] for i in b} & {i for b in batches[1::2] for i in b}
    assert all(len(seen[r]["batches"]) == start for r in (0, 1))
    last = load_checkpoint(run_dir / "last.pt", model_name="oat")["model"]
    trained = torch.load(probe / "trained1.pt", weights_only=True)
    assert all(torch.equal(last[k], trained[k]) for k in last)  # gradients were averaged
    w0, w1 = (torch.load(probe / f"weights{r}.pt", weights_only=True) for r in (0, 1))
    assert w0.keys() == w1.keys() and all(torch.equal(w0[k], w1[k]) for k in w0)
    best = load_checkpoint(run_dir / "best.pt", model_name="oat")["model"]
    assert all(torch.equal(best[k], w0[k]) for k in w0)  # rank 0's best, on both ranks
    history = seen[0]["history"]
    assert len(history) == 2 and all("val_delta" in h for h in history)  # rank 0 validated
    assert all("val_delta" not in h for h in seen[1]["history"])  # rank 1 did not
    rows = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == 4  # a training and a validation row per epoch, written once
