"""Fault cases of ``python -m neuroattn.train_ieeg``: numeric flags, devices, configs,
resume, overwrite, patient splits and damaged runs.

All runs use the tiny preset of the train_ieeg tests on three 64-s stores;
the cases that need a trained run copy one tiny run, built once per matrix.
A run that is wrongly accepted trains at most two steps.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from neuroattn.testing.faults import (
    PROMISES_PREVIOUS,
    CaseContext,
    Expected,
    FaultCase,
    Silent,
    Unhelpful,
)
from neuroattn.testing.faults_data import PYTHON_TAG
from neuroattn.testing.faults_fixtures import garble, truncate

#: Numeric flags and their config keys, with the values that are faults for each.
INT_FLAGS = {
    "window-segments": ("data.window_segments", ("0", "-1", "100000", "eight")),
    "stride-segments": ("data.stride_segments", ("0", "-1", "one")),
    "max-channels": ("data.max_channels", ("0", "-1", "all")),
    "batch-size": ("data.batch_size", ("0", "-1", "big")),
    "num-workers": ("data.num_workers", ("-1", "two")),
    "epochs": ("train.epochs", ("0", "-1", "ten")),
    "max-steps": ("train.max_steps", ("0", "-1", "many")),
    "warmup-steps": ("train.warmup_steps", ("-1", "some")),
    "seed": ("train.seed", ("-1", str(2**70), "lucky")),
    "smooth-windows": ("detection.smooth_windows", ("0", "-1", "three")),
}
FLOAT_FLAGS = {
    "val-fraction": ("data.val_fraction", ("-1", "nan", "inf", "1.5", "half")),
    "lr": ("train.lr", ("0", "-1", "nan", "inf", "fast")),
    "weight-decay": ("train.weight_decay", ("-1", "nan", "inf", "none")),
    "threshold": ("detection.threshold", ("-1", "nan", "1.5", "high")),
    "max-fa-per-hour": ("evaluation.max_fa_per_hour", ("0", "-1", "nan", "inf", "few")),
}
_VALUE_NAMES = {"0": "zero", "-1": "negative", "nan": "nan", "inf": "inf", "1.5": "above-1",
                "100000": "huge", str(2**70): "huge"}


def _main() -> Callable[[list[str]], int]:
    from neuroattn.train_ieeg.cli import main

    return main


def _train(ctx: CaseContext, *extra: str, val: bool = False, out: Path | None = None) -> Any:
    return ctx.cli(_main(), ctx.shared.train_args(out or ctx.tmp / "run", *extra, val=val))


def _flag_case(flag: str, key: str, value: str) -> FaultCase:
    name = _VALUE_NAMES.get(value, "word")
    return FaultCase(
        f"train.flag-{flag}-{name}", "train_cli", f"train_ieeg finetune --{flag} {value}",
        Expected.error(f"--{flag}", key, key.split(".")[-1]),
        lambda ctx: _train(ctx, f"--{flag}", value))


def _flag_cases() -> list[FaultCase]:
    return [_flag_case(flag, key, value) for table in (INT_FLAGS, FLOAT_FLAGS)
            for flag, (key, values) in table.items() for value in values]


def _no_gpu_device() -> str:
    """A CUDA device that is not there: ``cuda`` without a GPU, else one past the last."""
    import torch

    return f"cuda:{torch.cuda.device_count()}" if torch.cuda.is_available() else "cuda"


def _config_file(ctx: CaseContext, text: str) -> None:
    path = ctx.tmp / "bad.yaml"
    path.write_text(text.replace("MARKER", str(ctx.tmp / "PICKLE_RAN")))
    _train(ctx, "--config", str(path))
    if (ctx.tmp / "PICKLE_RAN").exists():
        raise Silent("the YAML's python tag ran")


def _setup_cases() -> list[FaultCase]:
    data = "--data"
    spec = [
        ("device-no-gpu", "--device cuda where no such GPU is visible",
         Expected.error("cuda", "gpu"), lambda ctx: _train(ctx, "--device", _no_gpu_device())),
        ("device-unknown", "--device tpu", Expected.error("tpu"),
         lambda ctx: _train(ctx, "--device", "tpu")),
        ("config-malformed", "--config with malformed YAML", Expected.error("bad.yaml"),
         lambda ctx: _config_file(ctx, "train: {lr: 0.1\n")),
        ("config-python-tag", "--config with a !!python/object tag", Expected.error("bad.yaml"),
         lambda ctx: _config_file(ctx, PYTHON_TAG)),
        ("config-missing", "--config of a file that does not exist", Expected.error("none.yaml"),
         lambda ctx: _train(ctx, "--config", str(ctx.tmp / "none.yaml"))),
        ("all-patients-test", "pretrain with every patient in --test-patients",
         Expected.error("training patient", "no patient left", "no training"),
         lambda ctx: ctx.cli(_main(), ctx.shared.train_args(
             ctx.tmp / "run", "--test-patients", "A", "B", "C", mode="pretrain", val=False))),
        ("no-patient-left", "finetune with every patient in --test-patients or --val-patients",
         Expected.error("training patient", "no patient left", "no training"),
         lambda ctx: _train(ctx, "--test-patients", "A", "B", "--val-patients", "C")),
        ("all-patients-val", "finetune with every patient in --val-patients",
         Expected.error("training patient", "no patient left", "no training"),
         lambda ctx: _train(ctx, "--val-patients", "A", "B", "C")),
        ("data-missing", "--data of a store that does not exist", Expected.error("nowhere.zarr"),
         lambda ctx: _train(ctx, data, str(ctx.tmp / "nowhere.zarr"))),
        ("data-edf", "--data of an EDF file (not converted)", Expected.error("rec.edf"),
         lambda ctx: _train(ctx, data, str(ctx.shared.edf(ctx.tmp / "rec.edf")))),
        ("data-bad-chunk", "--data with a store whose bad flags' chunk is deleted",
         Expected.error("'bad'", "bad/"), _data_without_bad_flags),
        ("resume-no-run", "--resume in an empty --out-dir: refused, or a warning that it "
         "starts from scratch", Expected.error("resume", "last.pt", "no checkpoint", "nothing",
                                               or_warning=True),
         lambda ctx: _train(ctx, "--resume")),
        ("resume-and-overwrite", "--resume --overwrite together",
         Expected.error("--resume", "--overwrite"),
         lambda ctx: _train(ctx, "--resume", "--overwrite")),
    ]
    return [FaultCase(f"train.{cid}", "train_cli", what, expected, run)
            for cid, what, expected, run in spec]


def _data_without_bad_flags(ctx: CaseContext) -> None:
    stores = ctx.shared.patient_stores()
    first = ctx.shared.copy(stores[0], ctx.tmp / "A.zarr")
    (first / "bad" / "c" / "0").unlink()
    ctx.cli(_main(), ctx.shared.train_args(ctx.tmp / "run", val=False,
                                           data=[first, *stores[1:]]))


def _run_copy(ctx: CaseContext) -> Path:
    return ctx.shared.tiny_run(ctx.tmp / "run")


def _resume_changed(flag: str, value: str, key: str, want: Any) -> Callable[[CaseContext], Any]:
    def run(ctx: CaseContext) -> None:
        import yaml

        out = _run_copy(ctx)
        res = ctx.cli(_main(), ctx.shared.train_args(out, "--resume", flag, value))
        if res.rc == 0:
            section, field = key.split(".")
            recorded = yaml.safe_load((out / "config.yaml").read_text())[section][field]
            if recorded != want:
                raise Silent(f"resumed with {flag} {value}, but config.yaml records "
                             f"{key}={recorded!r}")
    return run


def _damaged_last(damage: Callable[[Path], Any]) -> Callable[[CaseContext], Any]:
    def run(ctx: CaseContext) -> None:
        out = _run_copy(ctx)
        damage(out / "last.pt")
        res = ctx.cli(_main(), ctx.shared.train_args(out, "--resume", "--max-steps", "3"))
        kept = [p.name for p in out.iterdir() if "pt" in p.name and p.name not in
                ("last.pt", "best.pt")]
        if res.rc == 2 and PROMISES_PREVIOUS.search(res.stderr) and not kept:
            raise Unhelpful(f"the error points to a previous checkpoint, but the run keeps "
                            f"none: {res.stderr.strip()[-200:]}")
    return run


def _pretrain_last(path: Path) -> None:
    from neuroattn.training import save_checkpoint

    save_checkpoint(path, {"model": {}, "step": 1}, model_name="mvpformer-pretrain")


def _overwrite_best(ctx: CaseContext) -> None:
    import torch

    out = _run_copy(ctx)
    old_best = (out / "best.pt").read_bytes()
    from safetensors.torch import load_file

    old_model = load_file(out / "model" / "model.safetensors")
    res = ctx.cli(_main(), ctx.shared.train_args(out, "--overwrite", "--max-steps", "1",
                                                 val=False))
    if res.rc != 0:
        return
    if (out / "best.pt").is_file() and (out / "best.pt").read_bytes() == old_best:
        raise Silent("--overwrite kept the previous run's best.pt")
    new_model = load_file(out / "model" / "model.safetensors")
    if all(torch.equal(old_model[k], new_model[k]) for k in old_model):
        raise Silent("--overwrite exported the previous run's best model, tensor for tensor")


def _overwrite_failing(ctx: CaseContext) -> None:
    out = ctx.protect(_run_copy(ctx))
    ctx.cli(_main(), ctx.shared.train_args(out, "--overwrite",
                                           data=[ctx.tmp / "nowhere.zarr"]))


def _overwrite_user_file(ctx: CaseContext) -> None:
    out = _run_copy(ctx)
    notes = out / "notes.txt"
    notes.write_text("my notes on this run\n")
    ctx.protect(notes)
    _train(ctx, "--overwrite", out=out)


def _no_flag_on_run(ctx: CaseContext) -> None:
    out = ctx.protect(_run_copy(ctx))
    _train(ctx, out=out)


def _run_cases() -> list[FaultCase]:
    changed = "changed", "differ"
    spec = [
        ("resume-changed-lr", "--resume with another --lr: refused, or applied and recorded",
         Expected.error(*changed, "lr", or_success=True),
         _resume_changed("--lr", "0.01", "train.lr", 0.01)),
        ("resume-changed-batch-size", "--resume with another --batch-size",
         Expected.error(*changed, "batch", or_success=True),
         _resume_changed("--batch-size", "8", "data.batch_size", 8)),
        ("resume-changed-epochs", "--resume with another --epochs",
         Expected.error(*changed, "epochs", or_success=True),
         _resume_changed("--epochs", "3", "train.epochs", 3)),
        ("resume-method-full", "--resume --method full on a LoRA run",
         Expected.error("method", "lora", "full"),
         lambda ctx: ctx.cli(_main(), ctx.shared.train_args(_run_copy(ctx), "--resume",
                                                            "--method", "full"))),
        ("resume-lora-rank", "--resume with another LoRA rank (shapes differ)",
         Expected.error("lora_rank", "rank", "shape", "fit"),
         lambda ctx: ctx.cli(_main(), ctx.shared.train_args(
             _run_copy(ctx), "--resume", "--set", "finetune.lora_rank=4"))),
        ("resume-corrupt-last", "--resume with last.pt overwritten by random bytes",
         Expected.error("last.pt", or_warning=True), _damaged_last(garble)),
        ("resume-truncated-last", "--resume with last.pt cut in half",
         Expected.error("last.pt", or_warning=True),
         _damaged_last(lambda p: truncate(p, 0.5))),
        ("resume-pretrain-last", "--resume a finetune run whose last.pt is a pretrain one",
         Expected.error("mvpformer-pretrain", "pretrain"), _damaged_last(_pretrain_last)),
        ("overwrite-best-pt", "--overwrite, then a run without validation: the old best.pt "
         "must not be restored", Expected.success(), _overwrite_best),
        ("overwrite-failing-keeps-run", "--overwrite with a missing store: the old run stays",
         Expected.error("nowhere.zarr"), _overwrite_failing),
        ("overwrite-keeps-user-file", "--overwrite keeps a file the run does not own "
         "(or refuses, naming it)", Expected.error("notes.txt", or_success=True),
         _overwrite_user_file),
        ("existing-run-no-flag", "a second run into a run directory without --resume or "
         "--overwrite", Expected.error("--resume", "--overwrite"), _no_flag_on_run),
    ]
    return [FaultCase(f"train.{cid}", "train_cli", what, expected, run)
            for cid, what, expected, run in spec]


def _evaluate(damage: Callable[[Path], Any]) -> Callable[[CaseContext], Any]:
    def run(ctx: CaseContext) -> None:
        out = _run_copy(ctx)
        damage(out)
        ctx.cli(_main(), ["evaluate", "--data", str(ctx.shared.patient_stores()[2]),
                          "--model", str(out), "--device", "cpu", "--no-progress", "-q",
                          "--out-dir", str(ctx.tmp / "eval")])
    return run


def _model_config(**fields: Any) -> Callable[[Path], Any]:
    def edit(out: Path) -> None:
        path = out / "model" / "config.json"
        meta = json.loads(path.read_text())
        meta["config"].update(fields)  # the MVPFormerConfig fields sit under "config"
        path.write_text(json.dumps(meta))
    return edit


def _evaluate_cases() -> list[FaultCase]:
    spec = [
        ("config-bad-value", "model/config.json with d_model 'big'", ("d_model",),
         _model_config(d_model="big")),
        ("config-garbage", "model/config.json that is not JSON", ("config.json",),
         lambda out: (out / "model" / "config.json").write_text("{d_model: 32")),
        ("weights-missing", "model/model.safetensors deleted", ("model.safetensors",),
         lambda out: (out / "model" / "model.safetensors").unlink()),
        ("weights-garbage", "model/model.safetensors of random bytes", ("model.safetensors",),
         lambda out: garble(out / "model" / "model.safetensors")),
        ("operating-point-garbage", "operating_point.json that is not JSON",
         ("operating_point.json",), lambda out: (out / "operating_point.json").write_text("{")),
    ]
    return [FaultCase(f"train.evaluate-{cid}", "train_cli", f"train_ieeg evaluate with {what}",
                      Expected.error(*frags), _evaluate(damage))
            for cid, what, frags, damage in spec]


def cases() -> list[FaultCase]:
    """The ``train_ieeg`` command-line cases."""
    return [*_flag_cases(), *_setup_cases(), *_run_cases(), *_evaluate_cases()]
