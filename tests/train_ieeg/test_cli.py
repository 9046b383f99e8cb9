"""The train_ieeg command line: help, config precedence, runs, resume and clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from neuroattn.ieeg import MVPFormer, RecordingPrediction
from neuroattn.ieeg import evaluation as ev
from neuroattn.train_ieeg import RunConfig, runner
from neuroattn.train_ieeg.cli import build_parser, config_from_args, main
from neuroattn.training import load_checkpoint

FAST = ["--model", "tiny", "--batch-size", "16", "--device", "cpu", "--no-progress", "-q"]


def test_help_has_groups_defaults_and_a_torchrun_example(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for group in ("data:", "model:", "optimisation:", "hardware:", "evaluation:", "output:"):
        assert group in text
    assert "(default: 0.0001)" in text  # the learning rate
    assert "torchrun --standalone --nproc_per_node" in text


def test_config_file_then_flags_then_set(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({"mode": "pretrain", "train": {"lr": 0.01, "epochs": 3},
                                      "data": {"batch_size": 8}}))
    args = build_parser().parse_args(["--config", str(config), "--lr", "0.02",
                                      "--set", "train.epochs=5"])
    cfg = config_from_args(args)
    assert (cfg.mode, cfg.train.lr, cfg.train.epochs, cfg.data.batch_size) == (
        "pretrain", 0.02, 5, 8)


def test_evaluation_flags():
    args = build_parser().parse_args(["evaluate", "--max-fa-per-hour", "2", "--baseline",
                                      "linelength,bandpower", "--baseline", "linelength",
                                      "--format", "szcore"])
    cfg = config_from_args(args)
    assert cfg.evaluation.max_fa_per_hour == 2.0 and cfg.evaluation.format == "szcore"
    assert runner.baseline_names(cfg) == ["linelength", "bandpower"]
    none = config_from_args(build_parser().parse_args(["finetune", "--baseline", "none"]))
    assert none.evaluation.baselines == [] and runner.baseline_names(none) == []
    default = config_from_args(build_parser().parse_args(["finetune"]))
    assert runner.baseline_names(default) == ["linelength"]  # finetune shows it by default
    assert runner.baseline_names(RunConfig(mode="evaluate")) == []
    assert default.evaluation.all_budgets() == [0.5, 1.0, 2.0]


@pytest.mark.parametrize("argv, message", [
    (["finetune", "--data", "nowhere.zarr"], "nowhere.zarr"),
    (["finetune", "--set", "train.learning_rate=1"], "unknown key"),
    (["finetune", "--model", "mvpformer-xl"], "neither a preset"),
    (["finetune", "--max-fa-per-hour", "0"], "evaluation.max_fa_per_hour=0.0 is out of range"),
    (["finetune", "--baseline", "zcr"], "Unknown baseline 'zcr'; the baselines are"),
    (["finetune", "--test-patients", "C"], "--val-patients"),
    (["evaluate", "--baseline", "linelength"], "--val-patients and --test-patients"),
])
def test_bad_input_is_one_clear_line(argv, message, capsys, tmp_path, patient_stores):
    if "--data" not in argv:
        argv = [*argv, "--data", *map(str, patient_stores)]
    assert main([*argv, "--out-dir", str(tmp_path / "run"), "--no-progress", "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


def _predictions(seed, prefix, n=3):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        t = np.arange(4.0, 1804.0, 4.0)
        onset = rng.uniform(100, 1600)
        y = ((t > onset) & (t <= onset + 60)).astype(int)
        p = np.clip(0.2 + 0.5 * y + rng.normal(0, 0.15, t.size), 0, 1)
        out.append(RecordingPrediction(f"{prefix}{i}", f"{prefix}{i}", t, p, y,
                                       [[onset, onset + 60]], 1800.0))
    return out


def test_test_patients_never_choose_the_operating_point(monkeypatch):
    seen = []

    def spy(val_predictions, *args, **kwargs):
        seen.extend(r.name for r in val_predictions)
        return ev.choose_operating_points(val_predictions, *args, **kwargs)

    monkeypatch.setattr(runner, "choose_operating_points", spy)
    cfg = RunConfig()
    val, test = _predictions(0, "val"), _predictions(1, "test")
    results, points = runner.score_detector(val, test, cfg)
    assert set(seen) == {"val0", "val1", "val2"}  # only the validation recordings
    # Any change to the test patients (labels, seizures, scores) leaves the rule bit-identical.
    rng = np.random.default_rng(2)
    altered = [RecordingPrediction(r.name, r.patient, r.times, rng.permutation(r.probabilities),
                                   rng.permutation(r.labels), [[10.0, 1700.0]], r.duration_s)
               for r in test]
    again, points_again = runner.score_detector(val, altered[:2], cfg)
    assert points_again == points
    assert json.dumps(again["operating_point"]) == json.dumps(results["operating_point"])
    assert {k: v["operating_point"] for k, v in again["budgets"].items()} == \
        {k: v["operating_point"] for k, v in results["budgets"].items()}
    assert again["pooled"] != results["pooled"]  # the test scores did change
    # With stored points the validation predictions are not even looked at.
    seen.clear()
    stored, _ = runner.score_detector(["not used"], test, cfg, points=points)
    assert seen == [] and stored == results


@pytest.mark.slow
def test_finetune_evaluate_and_resume(tmp_path, patient_stores, capsys, monkeypatch):
    run_dir = tmp_path / "ft"
    data = ["--data", *map(str, patient_stores), "--val-patients", "B", "--test-patients", "C"]
    assert main(["finetune", *data, *FAST, "--epochs", "1", "--out-dir", str(run_dir)]) == 0
    for name in ("config.yaml", "metrics.csv", "last.pt", "model/config.json",
                 "evaluation.json", "evaluation.txt", "predictions.csv", "figures/C.zarr.png"):
        assert (run_dir / name).exists(), name
    results = json.loads((run_dir / "evaluation.json").read_text())
    assert set(results["per_patient"]) == {"C"}
    out = capsys.readouterr().out
    assert "pooled" in out and "chosen on validation" in out and "linelength" in out
    assert f"results: {run_dir / 'evaluation.json'}" in out
    for key in ("sensitivity", "false_alarms_per_hour", "hours"):
        assert isinstance(results["pooled"]["event"][key], float)
        assert key in results["baselines"]["linelength"]["pooled"]["event"]
    stored = json.loads((run_dir / "operating_point.json").read_text())
    assert results["operating_point"] == stored["operating_point"]
    assert results["operating_point"]["max_fa_per_hour"] == 1.0
    assert set(results["budgets"]) == set(stored["budgets"]) == {"0.5", "1", "2"}
    assert (run_dir / "figures" / "sensitivity_fa.png").stat().st_size > 1000
    first = load_checkpoint(run_dir / "last.pt", model_name="mvpformer-seizure")["step"]

    # The run directory is not overwritten by accident...
    assert main(["finetune", *data, *FAST, "--epochs", "2", "--out-dir", str(run_dir)]) == 2
    # ...and --resume continues it: the step count and the metrics go on.
    with pytest.warns(UserWarning, match=r"new training length \(train\.epochs 1 -> 2\)"):
        assert main(["finetune", *data, *FAST, "--epochs", "2", "--out-dir", str(run_dir),
                     "--resume"]) == 0
    state = load_checkpoint(run_dir / "last.pt", model_name="mvpformer-seizure")
    assert (state["epoch"], state["step"]) == (2, 2 * first)
    steps = [json.loads(line)["step"] for line in
             (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(steps) and max(steps) == 2 * first
    results = json.loads((run_dir / "evaluation.json").read_text())

    # The exported model is a plain MVPFormer (LoRA merged) that evaluate mode reads.
    assert not any("lora" in k for k in MVPFormer.from_pretrained(run_dir / "model")
                   .state_dict())
    eval_dir = tmp_path / "eval"

    def never(*args, **kwargs):
        raise AssertionError("evaluate chose an operating point")

    monkeypatch.setattr(runner, "choose_operating_points", never)
    assert main(["evaluate", "--data", str(patient_stores[2]), "--model", str(run_dir),
                 "--device", "cpu", "--no-progress", "-q", "--format", "szcore",
                 "--out-dir", str(eval_dir)]) == 0
    again = json.loads((eval_dir / "evaluation.json").read_text())
    # The stored rule, chosen on validation, is applied as it is.
    stored = json.loads((run_dir / "operating_point.json").read_text())
    assert again["operating_point"] == stored["operating_point"]
    assert again["rule"] == stored["rule"]
    assert again["pooled"]["event"] == results["pooled"]["event"]
    header = (eval_dir / "szcore" / "C_events.tsv").read_text().splitlines()[0]
    assert header.split("\t") == ["onset", "duration", "eventType", "confidence", "channels",
                                   "dateTime", "recordingDuration"]
    # Same model, same windows: the window scores do not depend on the alarm rule.
    assert again["pooled"]["window"]["auroc"] == pytest.approx(
        results["pooled"]["window"]["auroc"], abs=1e-6)


@pytest.mark.slow
def test_pretrain_then_full_finetune_from_the_run(tmp_path, patient_stores):
    pre = tmp_path / "pre"
    data = ["--data", *map(str, patient_stores[:2])]
    assert main(["pretrain", *data, *FAST, "--max-steps", "3", "--out-dir", str(pre)]) == 0
    assert (pre / "model" / "model.safetensors").exists()
    ft = tmp_path / "ft"
    assert main(["finetune", *data, "--model", str(pre), "--method", "full", "--balance",
                 "sampler", "--max-steps", "3", "--batch-size", "8", "--device", "cpu",
                 "--no-progress", "-q", "--out-dir", str(ft)]) == 0
    assert load_checkpoint(ft / "last.pt", model_name="mvpformer-seizure")["step"] == 3
