"""The training loop: schedules, checkpoints, callbacks, early stopping, and an exact resume."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from neuroattn.config import ConfigError
from neuroattn.errors import ParameterError
from neuroattn.training import (
    Callback,
    EarlyStopping,
    TrainConfig,
    Trainer,
    load_checkpoint,
    warmup_constant,
    warmup_cosine,
)

RUN = """
import json, os, signal, sys, torch
from neuroattn.training import TrainConfig, Trainer

out_dir, mode = sys.argv[1], sys.argv[2]

class Loader:
    # Reshuffles by epoch, like WindowLoader: resume must replay the same order.
    def __init__(self):
        g = torch.Generator().manual_seed(0)
        self.x, self.y = torch.randn(64, 5, generator=g), torch.randn(64, 1, generator=g)
        self.epoch = 0
    def set_epoch(self, epoch):
        self.epoch = epoch
    def __len__(self):
        return 8
    def __iter__(self):
        order = torch.randperm(64, generator=torch.Generator().manual_seed(self.epoch))
        for i in range(8):
            idx = order[i * 8:(i + 1) * 8]
            yield self.x[idx], self.y[idx]

torch.manual_seed(123)
model = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.ReLU(), torch.nn.Dropout(0.3),
                            torch.nn.Linear(16, 1))

def loss_fn(model, batch):
    x, y = batch
    loss = torch.nn.functional.mse_loss(model(x), y)
    return loss, {}

def val_fn(model):
    return {"neg_mse": -float(sum(loss_fn(model, b)[0] for b in Loader()))}

trainer = Trainer(model, loss_fn, TrainConfig(epochs=4, lr=0.05, warmup_steps=4, seed=7),
                  out_dir, val_fn=val_fn, monitor="neg_mse", model_name="mlp", progress=False)
if mode == "kill":
    original = Trainer._end_epoch
    def end_epoch_then_die(self, scheduler):
        original(self, scheduler)
        if self.epoch == 2:
            os.kill(os.getpid(), signal.SIGKILL)
    Trainer._end_epoch = end_epoch_then_die
summary = trainer.fit(Loader(), resume=mode == "resume")
torch.save(model.state_dict(), os.path.join(out_dir, "final.pt"))
print(json.dumps(summary))
"""


def _run(out_dir, mode):
    return subprocess.run([sys.executable, "-c", RUN, str(out_dir), mode], capture_output=True,
                          text=True, timeout=300)


def _rows(out_dir):
    return [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_killed_run_resumes_exactly(tmp_path):
    straight, broken = tmp_path / "straight", tmp_path / "broken"
    assert _run(straight, "fresh").returncode == 0
    killed = _run(broken, "kill")
    assert killed.returncode == -9
    assert load_checkpoint(broken / "last.pt", model_name="mlp")["epoch"] == 2
    resumed = _run(broken, "resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert json.loads(resumed.stdout.splitlines()[-1])["step"] == 32
    a = torch.load(straight / "final.pt", weights_only=True)
    b = torch.load(broken / "final.pt", weights_only=True)
    for key in a:
        assert torch.equal(a[key], b[key]), key  # same batches, dropout masks and schedule
    assert _rows(straight) == _rows(broken)  # step count and metrics continue seamlessly
    header = (broken / "metrics.csv").read_text().splitlines()[0]
    assert header.startswith("epoch,step") and "val_neg_mse" in header
    assert (broken / "best.pt").exists() and (broken / "config.yaml").exists()


def test_warmup_cosine_schedule():
    f = warmup_cosine(total_steps=20, warmup_steps=5)
    values = [f(s) for s in range(21)]
    assert values[:5] == [0.2, 0.4, 0.6, 0.8, 1.0]
    assert all(a >= b for a, b in zip(values[4:], values[5:], strict=False))
    assert values[-1] == 0.0


def test_refuses_a_model_without_trainable_parameters(tmp_path):
    model = torch.nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        Trainer(model, lambda m, b: (m(b).sum(), {}), TrainConfig(), tmp_path)


def test_max_steps_clipping_and_running_means_every_log_every_steps(tmp_path):
    model = torch.nn.Linear(3, 1)
    data = [(torch.randn(4, 3) * 100, torch.randn(4, 1)) for _ in range(10)]
    seen = []

    def loss_fn(m, batch):
        loss = torch.nn.functional.mse_loss(m(batch[0]), batch[1])
        seen.append(loss.item())  # test-only reference; the loop itself never syncs
        return loss, {"half": loss.detach() / 2, "one": 1.0}

    cfg = TrainConfig(epochs=5, max_steps=7, grad_clip=0.5, lr=1.0, log_every=3)
    summary = Trainer(model, loss_fn, cfg, tmp_path, progress=False).fit(data)
    assert summary["step"] == 7
    rows = _rows(tmp_path)
    assert [r["step"] for r in rows] == [3, 6, 7]  # every 3 steps, then the epoch's end
    for row, chunk in zip(rows, (seen[0:3], seen[3:6], seen[6:7]), strict=True):
        assert list(row) == ["epoch", "step", "lr", "loss", "half", "one"]
        assert row["loss"] == pytest.approx(sum(chunk) / len(chunk), rel=1e-6)
        assert row["half"] == pytest.approx(row["loss"] / 2, rel=1e-6)
        assert row["one"] == 1.0
    assert "log_every: 3" in (tmp_path / "config.yaml").read_text()
    assert "tf32: true" in (tmp_path / "config.yaml").read_text()


def test_tensorboard_logging_writes_event_files(tmp_path):
    pytest.importorskip("tensorboard")
    model = torch.nn.Linear(3, 1)
    data = [(torch.randn(4, 3), torch.randn(4, 1)) for _ in range(3)]

    def loss_fn(model, batch):
        loss = torch.nn.functional.mse_loss(model(batch[0]), batch[1])
        return loss, {}

    Trainer(model, loss_fn, TrainConfig(epochs=1, log_every=2), tmp_path, progress=False,
            tensorboard=True).fit(data)
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert [r["step"] for r in _rows(tmp_path)] == [2, 3]


def test_training_step_on_meta_reads_nothing_back(tmp_path):
    # A meta tensor has no data: any .item(), float() or .tolist() in a step would raise.
    model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Dropout(0.1),
                                torch.nn.Linear(8, 2))

    def loss_fn(m, batch):
        x, y = batch
        logits = m(x)
        accuracy = (logits.argmax(-1) == y).float().mean()
        return torch.nn.functional.cross_entropy(logits, y), {"accuracy": accuracy}

    cfg = TrainConfig(device="meta", epochs=1, max_steps=10, warmup_steps=2, precision="fp16")
    trainer = Trainer(model, loss_fn, cfg, tmp_path / "never-made")
    assert not trainer.scaler.is_enabled()  # no autocast, hence no scaler, on meta
    for _ in range(3):
        loss = trainer.training_step((torch.randn(5, 3), torch.randint(0, 2, (5,))))
    assert loss.device.type == "meta" and trainer.step == 3
    assert all(p.device.type == "meta" for p in model.parameters())
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(cfg.lr * 0.5 * (
        1 + math.cos(math.pi * 1 / 8)))  # the schedule moved: step 3 of 10, warmup 2
    assert not (tmp_path / "never-made").exists()


class _Batch:
    """A loader item that moves itself (like the iEEG WindowBatch)."""

    calls: list = []

    def __init__(self, x, y):
        self.x, self.y = x, y

    def to(self, device, non_blocking=False):
        _Batch.calls.append((device, non_blocking))
        return self.x.to(device), self.y.to(device)


def test_batches_that_move_themselves_train_like_tuples(tmp_path):
    data = [(torch.randn(4, 3), torch.randn(4, 1)) for _ in range(3)]

    def loss_fn(m, batch):
        x, y = batch
        return torch.nn.functional.mse_loss(m(x), y), {}

    weights = []
    for name, loader in (("tuples", data), ("objects", [_Batch(x, y) for x, y in data])):
        torch.manual_seed(0)
        model = torch.nn.Linear(3, 1)
        Trainer(model, loss_fn, TrainConfig(epochs=2), tmp_path / name, progress=False
                ).fit(loader)
        weights.append(model.weight.detach().clone())
    assert torch.equal(*weights)
    assert _Batch.calls == [(torch.device("cpu"), True)] * 6


def _checkpointed_run(out_dir):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Dropout(0.5),
                                torch.nn.Linear(4, 1))
    data = [(torch.randn(4, 3), torch.randn(4, 1)) for _ in range(2)]

    def loss_fn(m, batch):
        return torch.nn.functional.mse_loss(m(batch[0]), batch[1]), {}

    Trainer(model, loss_fn, TrainConfig(epochs=1), out_dir, progress=False).fit(data)
    return model, data, loss_fn


@pytest.mark.filterwarnings("ignore:for .*copying from a non-meta parameter")
def test_resume_onto_a_non_cpu_device_restores_the_random_states(tmp_path):
    model, data, loss_fn = _checkpointed_run(tmp_path)
    saved = load_checkpoint(tmp_path / "last.pt")["rng"]["torch"]
    torch.manual_seed(99)
    # The checkpoint used to be mapped to the training device, so the random states
    # landed there and torch.set_rng_state refused them ("must be a torch.ByteTensor").
    trainer = Trainer(model, loss_fn, TrainConfig(epochs=1, device="meta"), tmp_path,
                      progress=False)
    assert trainer.fit(data, resume=True)["step"] == 2
    assert torch.equal(torch.get_rng_state(), saved)
    assert all(p.device.type == "meta" for p in model.parameters())
    state = trainer.optimizer.state_dict()["state"][0]
    assert state["exp_avg"].device.type == "meta"


@pytest.mark.parametrize(("saved", "visible"), [(2, 1), (1, 2), (0, 1)])
def test_resume_with_another_number_of_gpus(tmp_path, monkeypatch, caplog, saved, visible):
    model, data, loss_fn = _checkpointed_run(tmp_path)
    state = torch.load(tmp_path / "last.pt", weights_only=True)
    cuda_states = [torch.full((16,), i, dtype=torch.uint8) for i in range(saved)]
    state["rng"]["cuda"] = cuda_states
    torch.save(state, tmp_path / "last.pt")
    restored = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: visible)
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", restored.extend)
    trainer = Trainer(model, loss_fn, TrainConfig(epochs=1, device="cpu"), tmp_path,
                      progress=False)
    trainer.fit(data, resume=True)
    kept = min(saved, visible)
    assert len(restored) == kept
    assert all(torch.equal(a, b) for a, b in zip(restored, cuda_states[:kept], strict=False))
    assert f"random states of {saved} CUDA device(s) but {visible} are visible" in caplog.text


# --- callbacks, early stopping, the constant schedule and the summary ------------------------

def _regression(n_batches=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(8, 3, generator=g), torch.randn(8, 1, generator=g))
            for _ in range(n_batches)]


def _mse(model, batch):
    loss = torch.nn.functional.mse_loss(model(batch[0]), batch[1])
    return loss, {}


class _Scripted:
    """A val_fn that returns a fixed sequence of values, one per epoch."""

    def __init__(self, values):
        self.values, self.calls = list(values), 0

    def __call__(self, model):
        value = self.values[self.calls]
        self.calls += 1
        return {"err": value}


def test_constant_schedule_keeps_the_rate_after_warmup(tmp_path):
    model = torch.nn.Linear(3, 1)
    cfg = TrainConfig(epochs=3, lr=0.01, warmup_steps=2, schedule="constant", log_every=1)
    Trainer(model, _mse, cfg, tmp_path, progress=False).fit(_regression())
    assert [r["lr"] for r in _rows(tmp_path)] == pytest.approx([0.01] * 12)  # after each step
    assert "schedule: constant" in (tmp_path / "config.yaml").read_text()
    assert warmup_constant(2)(0) == 0.5


def test_an_optimizer_factory_replaces_adamw_and_resumes(tmp_path):
    """``optimizer_factory`` builds the optimiser (Adagrad here); the default stays AdamW."""
    cfg = TrainConfig(epochs=2, lr=0.1, weight_decay=0.0, grad_clip=None, schedule="constant")
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = Trainer(model, _mse, cfg, tmp_path / "a", progress=False,
                      optimizer_factory=torch.optim.Adagrad)
    assert type(trainer.optimizer) is torch.optim.Adagrad
    assert type(Trainer(torch.nn.Linear(3, 1), _mse, cfg, tmp_path / "b").optimizer) \
        is torch.optim.AdamW
    trainer.fit(_regression())
    # the same steps as plain Adagrad at a constant rate
    plain = torch.nn.Linear(3, 1)
    plain.load_state_dict(start)
    opt = torch.optim.Adagrad(plain.parameters(), lr=0.1)
    for _ in range(2):
        for batch in _regression():
            opt.zero_grad()
            _mse(plain, batch)[0].backward()
            opt.step()
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), plain.parameters(),
                                                 strict=True))
    longer = Trainer(model, _mse, TrainConfig(**{**cfg.__dict__, "epochs": 3}), tmp_path / "a",
                     progress=False, optimizer_factory=torch.optim.Adagrad)
    assert longer.fit(_regression(), resume=True)["epoch"] == 3  # its state loads back
    with pytest.raises(ParameterError, match="not a torch.optim.Optimizer"):
        Trainer(model, _mse, cfg, tmp_path / "c", optimizer_factory=lambda params, **kw: None)


def test_unknown_schedule_and_mode_are_refused(tmp_path):
    model = torch.nn.Linear(3, 1)
    with pytest.raises(ConfigError, match="train.schedule='step' is not one of 'cosine', "
                                          "'constant'"):
        Trainer(model, _mse, TrainConfig(schedule="step"), tmp_path)
    with pytest.raises(ParameterError, match="mode='lowest' is not one of 'max', 'min'"):
        Trainer(model, _mse, TrainConfig(), tmp_path, mode="lowest")
    with pytest.raises(ParameterError, match="not a Callback"):
        Trainer(model, _mse, TrainConfig(), tmp_path, callbacks=[lambda t, s: True])
    with pytest.raises(ParameterError, match="patience=0 must be >= 1"):
        EarlyStopping(0)


def test_early_stopping_needs_validation(tmp_path):
    trainer = Trainer(torch.nn.Linear(3, 1), _mse, TrainConfig(epochs=2), tmp_path,
                      callbacks=[EarlyStopping(1)], progress=False)
    with pytest.raises(ParameterError, match="EarlyStopping needs a validation metric"):
        trainer.fit(_regression())


@pytest.mark.parametrize(("mode", "values", "best_epoch"), [
    ("min", [5.0, 3.0, 4.0, 3.0, 2.0], 1),   # 3.0 again is no improvement
    ("max", [1.0, 2.0, 2.0, 1.5, 9.0], 1),
])
def test_early_stopping_stops_after_patience_and_restores_the_best_epoch(
        tmp_path, mode, values, best_epoch):
    model = torch.nn.Linear(3, 1)
    weights = []

    class Record(Callback):
        def on_epoch_end(self, trainer, scores):
            weights.append(trainer.module.weight.detach().clone())
            return False

    trainer = Trainer(model, _mse, TrainConfig(epochs=10, lr=0.05), tmp_path,
                      val_fn=_Scripted(values), monitor="err", mode=mode,
                      callbacks=[Record(), EarlyStopping(2)], progress=False)
    summary = trainer.fit(_regression())
    assert summary["stopped_early"] and summary["epoch"] == best_epoch + 3
    assert summary["best_epoch"] == best_epoch and summary["best"] == values[best_epoch]
    assert len(weights) == summary["epoch"]  # every callback ran every epoch
    assert torch.equal(model.weight, weights[best_epoch])  # the best epoch's weights
    history = summary["history"]
    assert [h["epoch"] for h in history] == list(range(summary["epoch"]))
    assert [h["val_err"] for h in history] == values[:summary["epoch"]]
    assert [h["step"] for h in history] == [4 * (e + 1) for e in range(summary["epoch"])]
    assert all(h["seconds"] > 0 and "loss" in h and "lr" in h for h in history)
    assert summary["seconds"] >= sum(h["seconds"] for h in history)


def test_a_stopping_callback_stops_every_epoch_loop(tmp_path):
    class StopAtTwo(Callback):
        def on_epoch_end(self, trainer, scores):
            return trainer.epoch == 2

    summary = Trainer(torch.nn.Linear(3, 1), _mse, TrainConfig(epochs=9), tmp_path,
                      callbacks=[StopAtTwo()], progress=False).fit(_regression())
    assert summary["stopped_early"] and summary["epoch"] == 2 and summary["best_epoch"] == -1


def _early_stopped_run(out_dir, values, *, resume=False, epochs=10, crash_at=None):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Dropout(0.2),
                                torch.nn.Linear(8, 1))
    stopper = EarlyStopping(3)
    val_fn = _Scripted(values)
    if resume:  # the values of the epochs already done are not asked for again
        val_fn.calls = len(load_checkpoint(out_dir / "last.pt")["history"])
    if crash_at is not None:
        scripted = val_fn

        def val_fn(model):
            if scripted.calls == crash_at:
                raise KeyboardInterrupt
            return scripted(model)

    trainer = Trainer(model, _mse, TrainConfig(epochs=epochs, lr=0.05, schedule="constant"),
                      out_dir, val_fn=val_fn, monitor="err", mode="min",
                      callbacks=[stopper], progress=False)
    return model, stopper, trainer.fit(_regression(), resume=resume)


def test_a_resumed_run_continues_the_early_stopping_count(tmp_path):
    values = [3.0, 2.0, 2.5, 2.6, 2.7, 1.0, 1.0]  # stops after epoch 4: three bad epochs
    model, _, straight = _early_stopped_run(tmp_path / "straight", values)
    with pytest.raises(KeyboardInterrupt):  # killed while validating epoch 3 (two bad ones)
        _early_stopped_run(tmp_path / "broken", values, crash_at=3)
    state = load_checkpoint(tmp_path / "broken" / "last.pt")
    assert state["callbacks"] == [{"name": "EarlyStopping", "state": {"bad_epochs": 1}}]
    resumed_model, stopper, resumed = _early_stopped_run(tmp_path / "broken", values,
                                                         resume=True)
    assert resumed["epoch"] == straight["epoch"] == 5 and resumed["stopped_early"]
    assert stopper.bad_epochs == 3 and resumed["best_epoch"] == straight["best_epoch"] == 1
    drop = ("seconds",)
    assert [{k: v for k, v in h.items() if k not in drop} for h in resumed["history"]] == \
        [{k: v for k, v in h.items() if k not in drop} for h in straight["history"]]
    for a, b in zip(model.parameters(), resumed_model.parameters(), strict=True):
        assert torch.equal(a, b)  # the best epoch's weights, restored by both
    # a stopped run resumed with more epochs stays stopped, with the best weights
    again_model, _, again = _early_stopped_run(tmp_path / "broken", values, resume=True,
                                               epochs=20)
    assert again["epoch"] == 5 and again["stopped_early"]
    for a, b in zip(model.parameters(), again_model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_resume_refuses_other_callbacks(tmp_path):
    _early_stopped_run(tmp_path, [3.0, 2.0], epochs=2)
    trainer = Trainer(torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Dropout(0.2),
                                          torch.nn.Linear(8, 1)),
                      _mse, TrainConfig(epochs=3, lr=0.05, schedule="constant"), tmp_path,
                      val_fn=_Scripted([1.0]), monitor="err", mode="min",
                      callbacks=[Callback()], progress=False)
    with pytest.raises(ConfigError, match=r"callbacks \['EarlyStopping'\] but this run has "
                                          r"\['Callback'\]"):
        trainer.fit(_regression(), resume=True)


def test_restore_best_ignores_another_runs_best(tmp_path):
    trainer = Trainer(torch.nn.Linear(3, 1), _mse, TrainConfig(epochs=1), tmp_path,
                      val_fn=_Scripted([1.0]), monitor="err", progress=False)
    trainer.fit(_regression())
    assert trainer.restore_best()
    trainer.run_id = "another"
    with pytest.warns(UserWarning, match="written by another run"):
        assert not trainer.restore_best()
    (tmp_path / "best.pt").unlink()
    assert not trainer.restore_best()


DDP_RUN = """
import json, sys, torch
from neuroattn.training import Callback, EarlyStopping, TrainConfig, Trainer, distributed

probe, run_dir = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 1))
g = torch.Generator().manual_seed(0)
data = [(torch.randn(8, 3, generator=g), torch.randn(8, 1, generator=g)) for _ in range(4)]

class Shard:  # rank r takes batches r, r + 2
    def __len__(self):
        return 2
    def __iter__(self):
        return iter(data[distributed.rank()::2])

def loss_fn(model, batch):
    return torch.nn.functional.mse_loss(model(batch[0]), batch[1]), {}

values = iter([3.0, 2.0, 2.5, 2.6, 1.0, 1.0])  # rank 0 stops after epoch 4: patience 2
trainer = Trainer(model, loss_fn, TrainConfig(epochs=6, lr=0.05, device="cpu"), run_dir,
                  val_fn=lambda m: {"err": next(values)}, monitor="err", mode="min",
                  callbacks=[EarlyStopping(2)], progress=False)
summary = trainer.fit(Shard())
rank = distributed.rank()
torch.save(model.state_dict(), f"{probe}/weights{rank}.pt")
with open(f"{probe}/summary{rank}.json", "w") as f:
    json.dump({k: summary[k] for k in ("epoch", "step", "stopped_early", "best_epoch")}, f)
"""


@pytest.mark.slow
def test_two_ranks_stop_together_and_end_with_rank_0s_best_weights(tmp_path):
    probe, run_dir = tmp_path / "probe", tmp_path / "run"
    probe.mkdir()
    script = tmp_path / "run.py"
    script.write_text(DDP_RUN)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(script), str(probe), str(run_dir)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    summaries = [json.loads((probe / f"summary{r}.json").read_text()) for r in (0, 1)]
    assert summaries[0]["epoch"] == summaries[1]["epoch"] == 4  # rank 1 stopped with rank 0
    assert summaries[0]["stopped_early"] and summaries[1]["stopped_early"]
    assert summaries[0]["best_epoch"] == 1  # validation (and the best) lives on rank 0
    w0, w1 = (torch.load(probe / f"weights{r}.pt", weights_only=True) for r in (0, 1))
    best = load_checkpoint(run_dir / "best.pt")["model"]
    for key in w0:  # parameters and BatchNorm statistics: rank 0's best epoch, on both
        assert torch.equal(w0[key], w1[key]) and torch.equal(w0[key], best[key]), key


def test_numpy_and_tensor_validation_values_are_checkpointed_as_plain_numbers(tmp_path):
    def val_fn(model):
        return {"err": np.float32(0.5), "acc": torch.tensor(0.75), "n": np.int64(3)}

    summary = Trainer(torch.nn.Linear(3, 1), _mse, TrainConfig(epochs=1), tmp_path,
                      val_fn=val_fn, monitor="err", mode="min", progress=False
                      ).fit(_regression())
    state = load_checkpoint(tmp_path / "last.pt")  # weights_only=True: plain values only
    row = state["history"][0]
    assert (row["val_err"], row["val_acc"], row["val_n"]) == (0.5, 0.75, 3)
    assert type(row["val_acc"]) is float and type(summary["best"]) is float


def test_scheduler_factory_replaces_the_schedule(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    data = [torch.randn(4, 3) for _ in range(5)]
    seen = []

    def one_cycle(optimizer, total):
        seen.append(total)
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=total)

    trainer = Trainer(model, lambda m, b: (m(b).square().mean(), {}),
                      TrainConfig(epochs=2, lr=0.1, grad_clip=None), tmp_path, progress=False,
                      scheduler_factory=one_cycle)
    trainer.fit(data)
    assert seen == [10] and isinstance(trainer.scheduler, torch.optim.lr_scheduler.OneCycleLR)
    reference = torch.optim.lr_scheduler.OneCycleLR(
        torch.optim.AdamW(torch.nn.Linear(3, 1).parameters(), lr=0.1), max_lr=0.1,
        total_steps=10)
    for _ in range(10):
        reference.optimizer.step()
        reference.step()
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(reference.get_last_lr()[0])
