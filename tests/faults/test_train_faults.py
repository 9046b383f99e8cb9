"""Training faults (issue 19): stale models and caches, bad settings, resumes, CLI errors.

Each test states the expected outcome exactly: the exception class and a
fragment of its message, the warning, or exit status 2 with one ``error:``
line and no traceback.
"""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file

from neuroattn.config import ConfigError
from neuroattn.datasets.prepare import resample_store
from neuroattn.datasets.synthetic import make_synthetic_ieeg
from neuroattn.ieeg import MVPFormer, preset
from neuroattn.store import from_mne_raw, open_store, write_store
from neuroattn.train_ieeg import RunConfig, run
from neuroattn.train_ieeg.cli import main
from neuroattn.train_ieeg.data import CACHE_KEY_ATTR, open_recordings
from neuroattn.training import (
    CheckpointError,
    TrainConfig,
    Trainer,
    load_checkpoint,
    previous_checkpoint,
    save_checkpoint,
)

FAST = ["--model", "tiny", "--batch-size", "8", "--device", "cpu", "--no-progress", "-q"]
DDP_WORKER = Path(__file__).parents[1] / "train_ieeg" / "ddp_worker.py"


def _store(path: Path, patient: str, *, seed: int, n_channels: int = 3, sfreq: float = 128.0,
           duration_s: float = 60.0, chunk_mb: float = 0.05, overwrite: bool = False) -> Path:
    rec = make_synthetic_ieeg(n_channels=n_channels, duration_s=duration_s, sfreq=sfreq,
                              n_seizures=1, amplitude=5.0, seed=seed)
    ds = from_mne_raw(rec.to_raw(), dtype="float32")
    ds.attrs["subject"] = patient
    return write_store(ds, path, kind="ieeg", chunk_mb=chunk_mb, overwrite=overwrite)


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> list[str]:
    root = tmp_path_factory.mktemp("train_fault_stores")
    return [str(_store(root / f"{p}.zarr", p, seed=seed)) for p, seed in
            [("A", 1), ("B", 2), ("C", 3)]]


def _fails_cleanly(argv: list[str], capsys, fragment: str) -> str:
    """``main(argv)`` returns 2 with one ``error:`` line holding ``fragment``, no traceback."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert fragment in lines[0], lines[0]
    return lines[0]


def _tensors(path: Path, key: str | None = None) -> dict[str, torch.Tensor]:
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state if key is None else state[key]


# --- item 1: --overwrite keeps nothing of the previous run -------------------------------


def test_overwrite_without_validation_exports_this_runs_weights(tmp_path, stores):
    out = tmp_path / "run"
    data = ["--data", *stores[:2], "--method", "full", "--baseline", "none"]
    assert main(["finetune", *data, *FAST, "--val-patients", "B", "--max-steps", "2",
                 "--out-dir", str(out)]) == 0
    old_best = _tensors(out / "best.pt", "model")
    assert main(["finetune", *data, *FAST, "--max-steps", "3", "--seed", "5", "--overwrite",
                 "--out-dir", str(out)]) == 0
    assert not (out / "best.pt").exists()  # run B validated nothing
    assert not (out / "evaluation.json").exists()  # nor is run A's evaluation left behind
    assert not list(tmp_path.glob(".run.replaced-*"))  # the old run is deleted once B is done
    exported = load_file(out / "model" / "model.safetensors")
    last = load_checkpoint(out / "last.pt", model_name="mvpformer-seizure")
    assert last["step"] == 3
    assert all(torch.equal(exported[k], last["model"][k]) for k in exported)
    assert any(not torch.equal(exported[k], old_best[k]) for k in exported)


def test_failed_overwrite_puts_the_previous_run_back(tmp_path, stores, capsys):
    out = tmp_path / "run"
    assert main(["pretrain", "--data", *stores[:1], *FAST, "--max-steps", "1",
                 "--out-dir", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    _fails_cleanly(["pretrain", "--data", str(tmp_path / "nowhere.zarr"), *FAST, "--overwrite",
                    "--out-dir", str(out)], capsys, "nowhere.zarr")
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert not list(tmp_path.glob(".run.*"))


def test_a_run_moved_aside_by_a_killed_overwrite_is_reported(tmp_path, caplog):
    out = tmp_path / "run"
    aside = tmp_path / ".run.replaced-0123abcd"  # what a SIGKILL during --overwrite leaves
    aside.mkdir()
    (aside / "best.pt").write_bytes(b"old run")
    with pytest.raises(ConfigError, match="--data"):
        run(RunConfig(out_dir=str(out)))
    assert f"{aside} holds the run that an interrupted --overwrite of {out} moved aside" in \
        caplog.text
    assert (aside / "best.pt").read_bytes() == b"old run"  # reported, never deleted


def test_overwrite_refuses_a_directory_holding_other_files(tmp_path, stores, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "config.yaml").write_text("mode: pretrain\n")
    (out / "thesis.tex").write_text("precious")
    _fails_cleanly(["pretrain", "--data", *stores[:1], *FAST, "--overwrite",
                    "--out-dir", str(out)], capsys, "holds files that no run wrote (thesis.tex)")
    assert (out / "thesis.tex").read_text() == "precious"


def test_a_new_run_never_restores_another_runs_best_pt(tmp_path):
    data = [(torch.randn(4, 3), torch.randn(4, 1)) for _ in range(2)]

    def loss_fn(model, batch):
        return torch.nn.functional.mse_loss(model(batch[0]), batch[1]), {}

    def fit(val_fn=None):
        trainer = Trainer(torch.nn.Linear(3, 1), loss_fn, TrainConfig(epochs=1), tmp_path,
                          val_fn=val_fn, monitor="score", progress=False)
        return trainer.fit(data)

    first = fit(val_fn=lambda m: {"score": 1.0})
    assert load_checkpoint(tmp_path / "best.pt")["run_id"] == first["run_id"]
    second = fit()
    assert second["run_id"] != first["run_id"]
    assert not (tmp_path / "best.pt").exists()  # the first run's best.pt went with it


# --- item 2: the resample cache is keyed by content ---------------------------------------


def test_same_file_name_at_two_sites_gets_two_cache_entries(tmp_path):
    a = _store(tmp_path / "siteA" / "P1.zarr", "P1", seed=1, sfreq=256.0)
    b = _store(tmp_path / "siteB" / "P1.zarr", "P1", seed=2, sfreq=256.0)
    cache = tmp_path / "cache"
    ra, rb = open_recordings([a, b], preset("tiny"), window_segments=4, cache_dir=cache)
    assert ra.windows.path != rb.windows.path
    for rec, src in ((ra, a), (rb, b)):
        reference = resample_store(src, tmp_path / f"ref-{src.parent.name}.zarr", 128.0)
        cached = open_store(rec.windows.path)
        np.testing.assert_array_equal(cached.signal.values, open_store(reference).signal.values)
        assert cached.attrs[CACHE_KEY_ATTR]["source"] == str(src.resolve())
    assert not np.array_equal(open_store(ra.windows.path).signal.values,
                              open_store(rb.windows.path).signal.values)


def test_a_rewritten_source_store_rebuilds_its_cache_entry(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="neuroattn")
    src = _store(tmp_path / "P1.zarr", "P1", seed=1, sfreq=256.0)
    cache = tmp_path / "cache"
    [first] = open_recordings([src], preset("tiny"), window_segments=4, cache_dir=cache)
    old = open_store(first.windows.path).signal.values
    _store(src, "P1", seed=7, sfreq=256.0, overwrite=True)
    [again] = open_recordings([src], preset("tiny"), window_segments=4, cache_dir=cache)
    assert again.windows.path == first.windows.path
    assert "does not match" in caplog.text and "the source changed" in caplog.text
    new = open_store(again.windows.path).signal.values
    reference = resample_store(src, tmp_path / "ref.zarr", 128.0)
    np.testing.assert_array_equal(new, open_store(reference).signal.values)
    assert not np.array_equal(new, old)


# --- item 3: numbers are checked when the config is loaded --------------------------------


@pytest.mark.parametrize("flags, fragment", [
    (["--epochs", "-1"], "train.epochs=-1 is out of range: it must be >= 1"),
    (["--window-segments", "0"], "data.window_segments=0 is out of range: it must be >= 1"),
    (["--batch-size", "0"], "data.batch_size=0 is out of range: it must be >= 1"),
    (["--lr", "0"], "train.lr=0.0 is out of range: it must be > 0"),
    (["--lr", "nan"], "train.lr=nan is not a finite number"),
    (["--val-fraction", "1"], "data.val_fraction=1.0 is out of range: it must be in [0, 1)"),
    (["--max-steps", "0"], "train.max_steps=0 is out of range: it must be >= 1"),
    (["--set", "train.warmup_steps=-5"], "train.warmup_steps=-5 is out of range"),
    (["--set", "evaluation.budgets=[1, -2]"], "evaluation.budgets=[1.0, -2.0] is out of range"),
    (["--set", "detection.smooth_windows=0"], "detection: DetectionRule.smooth_windows=0"),
])
def test_bad_numbers_are_refused_naming_the_field(flags, fragment, tmp_path, stores, capsys):
    _fails_cleanly(["finetune", "--data", *stores, *FAST, *flags, "--out-dir",
                    str(tmp_path / "run")], capsys, fragment)
    assert not (tmp_path / "run").exists()


def test_run_checks_a_config_built_in_code():
    cfg = RunConfig(train=TrainConfig(epochs=-1))
    with pytest.raises(ConfigError, match=r"train\.epochs=-1 is out of range: it must be >= 1"):
        run(cfg)


# --- item 4: a resume refuses changed settings --------------------------------------------


def test_resume_refuses_changed_settings_and_records_a_longer_run(tmp_path, stores, capsys):
    out = tmp_path / "run"
    base = ["pretrain", "--data", *stores[:1], *FAST, "--out-dir", str(out)]
    assert main([*base, "--epochs", "1"]) == 0
    line = _fails_cleanly([*base, "--epochs", "1", "--resume", "--lr", "0.001",
                           "--batch-size", "4"], capsys, "Cannot resume")
    assert "train.lr 0.0001 -> 0.001" in line and "data.batch_size 8 -> 4" in line
    assert "resume with the same values" in line and "start a new run" in line
    with pytest.warns(UserWarning, match=r"new training length \(train\.epochs 1 -> 2\)"):
        assert main([*base, "--epochs", "2", "--resume"]) == 0
    assert yaml.safe_load((out / "config.yaml").read_text())["train"]["epochs"] == 2
    assert load_checkpoint(out / "last.pt")["epoch"] == 2


# --- item 5: expected failures are one line and exit status 2 -----------------------------


def test_corrupt_last_pt_without_a_previous_one(tmp_path, stores, capsys):
    out = tmp_path / "run"
    base = ["pretrain", "--data", *stores[:1], *FAST, "--epochs", "1", "--out-dir", str(out)]
    assert main(base) == 0
    (out / "last.pt").write_bytes(b"not a checkpoint")
    line = _fails_cleanly([*base, "--resume"], capsys, f"Cannot resume from {out / 'last.pt'}")
    assert "No previous checkpoint last.prev.pt" in line and "--overwrite" in line


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu(tmp_path, stores, capsys):
    _fails_cleanly(["pretrain", "--data", *stores[:1], *FAST, "--device", "cuda",
                    "--out-dir", str(tmp_path / "run")], capsys,
                   "train.device='cuda' cannot be used")


def test_resume_with_lora_on_a_full_finetune_run(tmp_path, stores, capsys):
    out = tmp_path / "run"
    base = ["finetune", "--data", *stores[:1], *FAST, "--baseline", "none", "--max-steps", "1",
            "--out-dir", str(out)]
    assert main([*base, "--method", "full"]) == 0
    _fails_cleanly([*base, "--method", "lora", "--resume"], capsys,
                   "finetune.method 'full' -> 'lora'")


def test_a_checkpoint_that_does_not_fit_the_model(tmp_path):
    def loss_fn(model, batch):
        return model(batch).square().mean(), {}

    data = [torch.randn(4, 3)]
    Trainer(torch.nn.Linear(3, 1), loss_fn, TrainConfig(epochs=1), tmp_path,
            progress=False).fit(data)
    other = Trainer(torch.nn.Linear(3, 2), loss_fn, TrainConfig(epochs=1), tmp_path,
                    progress=False)
    with pytest.raises(CheckpointError, match=r"last\.pt does not fit this training run"):
        other.fit(data, resume=True)


@pytest.mark.parametrize("text, fragment", [
    ("train:\n  lr: [0.1,\n", "is not valid YAML"),
    ("train: {lr: 0.1\n", "is not valid YAML"),
    ("train:\n  lr: !!python/object/apply:os.system ['touch {marker}']\n",
     "holds a YAML tag that is not allowed"),
    ("- just\n- a list\n", "must hold a YAML mapping"),
])
def test_bad_yaml_in_config(text, fragment, tmp_path, stores, capsys):
    marker = tmp_path / "ran"
    config = tmp_path / "bad.yaml"
    config.write_text(text.replace("{marker}", str(marker)))
    line = _fails_cleanly(["pretrain", "--config", str(config), "--data", *stores[:1], *FAST,
                           "--out-dir", str(tmp_path / "run")], capsys, fragment)
    assert str(config) in line
    assert not marker.exists()


@pytest.mark.parametrize("flags", [
    ["--test-patients", "A", "B", "C"],
    ["--val-patients", "A", "--test-patients", "B", "C"],
])
def test_every_patient_held_out(flags, tmp_path, stores, capsys):
    _fails_cleanly(["finetune", "--data", *stores, *FAST, *flags, "--out-dir",
                    str(tmp_path / "run")], capsys, "No training patient is left")


@pytest.mark.parametrize("field, value, fragment", [
    ("d_model", -4, "d_model=-4 is out of range: it must be >= 1"),
    ("dropout", 7, "dropout=7.0 is out of range: it must be in [0, 1)"),
    ("n_layers", "two", "n_layers: expected int, got 'two'"),
    ("bogus", 1, "Unknown config key(s) ['bogus']"),
    ("model", "mvpformerX", "the field 'model' is 'mvpformerX', not 'mvpformer'"),
])
def test_evaluate_names_the_bad_field_of_config_json(field, value, fragment, tmp_path, stores,
                                                      capsys):
    model_dir = MVPFormer("tiny").save_pretrained(tmp_path / "model")
    meta = json.loads((model_dir / "config.json").read_text())
    (meta if field == "model" else meta["config"])[field] = value
    (model_dir / "config.json").write_text(json.dumps(meta))
    line = _fails_cleanly(["evaluate", "--data", *stores[:1], "--model", str(model_dir),
                           "--device", "cpu", "-q", "--out-dir", str(tmp_path / "eval")], capsys,
                          fragment)
    assert str(model_dir / "config.json") in line and "non-neuroattn" not in line


# --- item 6: the previous last.pt is kept and used when the newest is damaged -------------


def _mse(model, batch):
    x, y = batch
    return torch.nn.functional.mse_loss(model(x), y), {}


def _trainer(out: Path, epochs: int) -> Trainer:
    torch.manual_seed(0)
    return Trainer(torch.nn.Linear(3, 1), _mse, TrainConfig(epochs=epochs, log_every=1), out,
                   model_name="lin", progress=False)


DATA = [(torch.randn(4, 3), torch.randn(4, 1)) for _ in range(2)]


def test_last_pt_is_rotated_and_a_corrupt_one_falls_back(tmp_path):
    _trainer(tmp_path, 2).fit(DATA)
    last, prev = tmp_path / "last.pt", previous_checkpoint(tmp_path / "last.pt")
    assert prev.name == "last.prev.pt"
    assert (load_checkpoint(last)["epoch"], load_checkpoint(prev)["epoch"]) == (2, 1)
    last.write_bytes(last.read_bytes()[:100])  # truncated
    with pytest.warns(UserWarning, match=r"last\.pt cannot be used .*falling back to the "
                                         r"previous checkpoint .*last\.prev\.pt"):
        summary = _trainer(tmp_path, 2).fit(DATA, resume=True)
    assert (summary["epoch"], summary["step"]) == (2, 4)  # epoch 2 trained again
    steps = [json.loads(r)["step"] for r in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]


def test_both_checkpoints_damaged(tmp_path):
    _trainer(tmp_path, 2).fit(DATA)
    for name in ("last.pt", "last.prev.pt"):
        (tmp_path / name).write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match=r"neither last\.pt nor last\.prev\.pt .* can be "
                                              r"used.*Start the run over"):
        _trainer(tmp_path, 3).fit(DATA, resume=True)


def test_a_failed_save_keeps_both_checkpoints(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    for step in (1, 2):
        save_checkpoint(path, {"step": step}, model_name="m", keep_previous=True)

    def disk_full(obj, f):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"step": 3}, model_name="m", keep_previous=True)
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 2 and load_checkpoint(previous_checkpoint(path))[
        "step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.prev.pt", "last.pt"]


# --- item 7: a two-rank torchrun (gloo) run SIGKILLed mid-training resumes ----------------


def _torchrun(probe: Path, run_dir: Path, stores: list[str], *extra: str,
              kill_after_epoch: int | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(DDP_WORKER), str(probe), "pretrain", "--data", *stores[:2], *FAST,
           "--epochs", "2", "--out-dir", str(run_dir), "--set", "train.log_every=1", *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if kill_after_epoch is not None:
        env["NEUROATTN_TEST_KILL_AFTER_EPOCH"] = str(kill_after_epoch)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)


@pytest.mark.slow
def test_two_rank_run_killed_mid_training_resumes(tmp_path):
    probe, run_dir = tmp_path / "probe", tmp_path / "run"
    probe.mkdir()
    stores = [str(_store(tmp_path / f"{p}.zarr", p, seed=i, chunk_mb=0.01))  # blocks for 2 ranks
              for i, p in enumerate("AB")]
    killed = _torchrun(probe, run_dir, stores, kill_after_epoch=1)
    assert killed.returncode != 0
    first = load_checkpoint(run_dir / "last.pt", model_name="mvpformer-pretrain")
    assert first["epoch"] == 1 and not list(probe.iterdir())  # killed before the end
    resumed = _torchrun(probe, run_dir, stores, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    final = load_checkpoint(run_dir / "last.pt", model_name="mvpformer-pretrain")
    assert (final["epoch"], final["step"]) == (2, 2 * first["step"])
    assert final["run_id"] == first["run_id"]  # the same run, continued
    w0, w1 = (torch.load(probe / f"weights{r}.pt", weights_only=True) for r in (0, 1))
    assert all(torch.equal(w0[k], w1[k]) for k in w0)  # the ranks still agree
    assert all(torch.equal(final["model"][k], w0[k]) for k in w0)
    rows = [json.loads(r) for r in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, final["step"] + 1))  # no gap, no repeat
    assert all(math.isfinite(r["loss"]) for r in rows)
