"""The train_ieeg command line: help, config precedence, runs, resume and clear errors."""

from __future__ import annotations

import json

import pytest
import yaml

from neuroattn.ieeg import MVPFormer
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


@pytest.mark.parametrize("argv, message", [
    (["finetune", "--data", "nowhere.zarr"], "nowhere.zarr"),
    (["finetune", "--set", "train.learning_rate=1"], "unknown key"),
    (["finetune", "--model", "mvpformer-xl"], "neither a preset"),
])
def test_bad_input_is_one_clear_line(argv, message, capsys, tmp_path, patient_stores):
    if "--data" not in argv:
        argv = [*argv, "--data", str(patient_stores[0])]
    assert main([*argv, "--out-dir", str(tmp_path / "run"), "--no-progress", "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


@pytest.mark.slow
def test_finetune_evaluate_and_resume(tmp_path, patient_stores, capsys):
    run_dir = tmp_path / "ft"
    data = ["--data", *map(str, patient_stores), "--val-patients", "B", "--test-patients", "C"]
    assert main(["finetune", *data, *FAST, "--epochs", "1", "--out-dir", str(run_dir)]) == 0
    for name in ("config.yaml", "metrics.csv", "last.pt", "model/config.json",
                 "evaluation.json", "evaluation.txt", "predictions.csv", "figures/C.zarr.png"):
        assert (run_dir / name).exists(), name
    results = json.loads((run_dir / "evaluation.json").read_text())
    assert set(results["per_patient"]) == {"C"}
    assert "pooled" in capsys.readouterr().out
    first = load_checkpoint(run_dir / "last.pt", model_name="mvpformer-seizure")["step"]

    # The run directory is not overwritten by accident...
    assert main(["finetune", *data, *FAST, "--epochs", "2", "--out-dir", str(run_dir)]) == 2
    # ...and --resume continues it: the step count and the metrics go on.
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
    assert main(["evaluate", "--data", str(patient_stores[2]), "--model", str(run_dir),
                 "--device", "cpu", "--no-progress", "-q", "--smooth-windows", "1",
                 "--out-dir", str(eval_dir)]) == 0
    again = json.loads((eval_dir / "evaluation.json").read_text())
    assert again["rule"]["smooth_windows"] == 1
    # Same model, same windows: the window scores do not depend on the alarm rule.
    assert again["pooled"]["window"]["auroc"] == pytest.approx(
        results["pooled"]["window"]["auroc"], abs=1e-6)


@pytest.mark.slow
def test_pretrain_then_full_finetune_from_the_run(tmp_path, patient_stores):
    pre = tmp_path / "pre"
    data = ["--data", *map(str, patient_stores[:2])]
    assert main(["pretrain", *data, *FAST, "--max-steps", "3", "--out-dir", str(pre)]) == 0
    assert (pre / "model" / "weights.pt").exists()
    ft = tmp_path / "ft"
    assert main(["finetune", *data, "--model", str(pre), "--method", "full", "--balance",
                 "sampler", "--max-steps", "3", "--batch-size", "8", "--device", "cpu",
                 "--no-progress", "-q", "--out-dir", str(ft)]) == 0
    assert load_checkpoint(ft / "last.pt", model_name="mvpformer-seizure")["step"] == 3
