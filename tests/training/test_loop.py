"""The training loop: schedule, checkpoints, and a resume after SIGKILL that continues exactly."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from neuroattn.training import TrainConfig, Trainer, load_checkpoint, warmup_cosine

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


def test_max_steps_and_gradient_clipping(tmp_path):
    model = torch.nn.Linear(3, 1)
    data = [(torch.randn(4, 3) * 100, torch.randn(4, 1)) for _ in range(10)]

    def loss_fn(m, batch):
        return torch.nn.functional.mse_loss(m(batch[0]), batch[1]), {}

    summary = Trainer(model, loss_fn, TrainConfig(epochs=5, max_steps=7, grad_clip=0.5, lr=1.0),
                      tmp_path, progress=False).fit(data)
    assert summary["step"] == 7
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 7


def test_tensorboard_logging_writes_event_files(tmp_path):
    pytest.importorskip("tensorboard")
    model = torch.nn.Linear(3, 1)
    data = [(torch.randn(4, 3), torch.randn(4, 1)) for _ in range(3)]

    def loss_fn(model, batch):
        loss = torch.nn.functional.mse_loss(model(batch[0]), batch[1])
        return loss, {}

    Trainer(model, loss_fn, TrainConfig(epochs=1), tmp_path, progress=False,
            tensorboard=True).fit(data)
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 3
