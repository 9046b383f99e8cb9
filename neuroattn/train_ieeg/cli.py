"""Command line of ``python -m neuroattn.train_ieeg`` (see :func:`build_parser`).

Examples
--------
>>> from neuroattn.train_ieeg.cli import build_parser, config_from_args
>>> args = build_parser().parse_args(["finetune", "--data", "a.zarr", "b.zarr", "--lr", "3e-4",
...                                   "--set", "finetune.method=full"])
>>> cfg = config_from_args(args)
>>> cfg.mode, cfg.data.stores, cfg.train.lr, cfg.finetune.method
('finetune', ['a.zarr', 'b.zarr'], 0.0003, 'full')
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from neuroattn._logging import logger, set_log_level
from neuroattn.config import ConfigError, apply_overrides, load_config
from neuroattn.errors import NeuroattnError

DESCRIPTION = """\
Pretrain, fine-tune and evaluate MVPFormer (Carzaniga et al. 2025) on iEEG stores.

With no arguments, runs the built-in demo end to end on synthetic data
(a few minutes on a laptop CPU): stores -> pretrain -> fine-tune -> evaluate.

modes:
  pretrain   contrastive next-segment prediction on unlabelled windows
  finetune   seizure detection (LoRA or full), validated per epoch, then evaluated
  evaluate   window and event metrics of a trained model, per patient and pooled
  demo       the built-in demo (the default with no arguments)

Values come from the defaults, then --config, then the flags, then --set."""

EPILOG = """\
examples:
  python -m neuroattn.train_ieeg                                   # the demo
  python -m neuroattn convert edf rec.edf rec.zarr --sfreq 512      # make a store first
  python -m neuroattn.train_ieeg pretrain --data stores/*.zarr --model mvpformer-s \\
      --device cuda --precision bf16 --batch-size 32 --max-steps 5400 --out-dir runs/pre
  python -m neuroattn.train_ieeg finetune --data stores/*.zarr --model runs/pre \\
      --test-patients ID05 ID07 --val-patients ID03 --epochs 10 --out-dir runs/ft
  python -m neuroattn.train_ieeg evaluate --data stores/*.zarr --model runs/ft \\
      --test-patients ID05 ID07 --val-patients ID03 --baseline linelength,bandpower \\
      --format szcore --out-dir runs/eval
  python -m neuroattn.train_ieeg finetune --config runs/ft/config.yaml --resume
  torchrun --standalone --nproc_per_node=4 -m neuroattn.train_ieeg pretrain \\
      --config models/mvpformer-s-pretrain.yaml --data stores/*.zarr --device cuda

Run directory: config.yaml, metrics.csv/.jsonl, last.pt (and last.prev.pt,
the fallback if last.pt is damaged), best.pt, model/,
operating_point.json (the alarm rules chosen on the validation patients),
evaluation.json/.txt, predictions.csv, figures/ (szcore/ with --format
szcore). Under torchrun only rank 0 logs and saves."""

#: Expected failures: printed as one ``error:`` line, exit status 2. Every deliberate error
#: is a NeuroattnError; the built-in classes cover modules that still raise them (and a
#: missing optional extra).
ERRORS: tuple[type[Exception], ...] = (NeuroattnError, ValueError, FileNotFoundError,
                                       ImportError)


def _defaults() -> Any:
    from neuroattn.train_ieeg.config import RunConfig

    return RunConfig()


def build_parser() -> argparse.ArgumentParser:
    """The parser, with option groups and the run config's defaults in the help."""
    d = _defaults()
    parser = argparse.ArgumentParser(
        prog="python -m neuroattn.train_ieeg", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", nargs="?", choices=["pretrain", "finetune", "evaluate", "demo"],
                        help="what to run (default: the config's mode, finetune; no arguments "
                        "at all runs the demo)")

    g = parser.add_argument_group("config")
    g.add_argument("--config", metavar="YAML", help="a run config (e.g. models/mvpformer-*.yaml "
                   "or a run's config.yaml)")
    g.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config field, e.g. --set finetune.lora_rank=16 "
                   "(repeatable; applied last)")

    g = parser.add_argument_group("data")
    g.add_argument("--data", nargs="+", metavar="STORE", help="iEEG stores (.zarr)")
    g.add_argument("--val-patients", nargs="+", metavar="ID",
                   help="patients for validation (default: none, or --val-fraction)")
    g.add_argument("--test-patients", nargs="+", metavar="ID",
                   help="patients held out for the final evaluation (default: none)")
    g.add_argument("--val-fraction", type=float, metavar="F",
                   help=f"fraction of training patients to validate on when no --val-patients "
                   f"(default: {d.data.val_fraction})")
    g.add_argument("--window-segments", type=int, metavar="N",
                   help="segments per window (default: 8 for tiny, 25 for S/M)")
    g.add_argument("--stride-segments", type=int, metavar="N",
                   help=f"hop between windows in segments (default: {d.data.stride_segments})")
    g.add_argument("--max-channels", type=int, metavar="N",
                   help=f"channel cap per recording (default: {d.data.max_channels})")
    g.add_argument("--batch-size", type=int, metavar="N",
                   help=f"windows per batch and rank (default: {d.data.batch_size})")
    g.add_argument("--num-workers", type=int, metavar="N",
                   help=f"decoding processes per loader (default: {d.data.num_workers})")

    g = parser.add_argument_group("model")
    g.add_argument("--model", metavar="PRESET|PATH",
                   help=f"a preset (tiny, mvpformer-s, mvpformer-m), a run or model directory, "
                   f"or an IBM/braindecode checkpoint (default: {d.model.name})")
    g.add_argument("--method", choices=["lora", "full"],
                   help=f"fine-tuning: LoRA on a frozen base, or all weights "
                   f"(default: {d.finetune.method})")
    g.add_argument("--balance", choices=["weights", "sampler", "none"],
                   help=f"class imbalance: inverse-frequency loss weights, a balanced sampler, "
                   f"or nothing (default: {d.finetune.balance})")

    g = parser.add_argument_group("optimisation")
    g.add_argument("--epochs", type=int, help=f"(default: {d.train.epochs})")
    g.add_argument("--max-steps", type=int, help="stop after this many steps (default: none)")
    g.add_argument("--lr", type=float, help=f"peak learning rate (default: {d.train.lr})")
    g.add_argument("--weight-decay", type=float, help=f"(default: {d.train.weight_decay})")
    g.add_argument("--warmup-steps", type=int,
                   help=f"linear warmup before the cosine decay (default: {d.train.warmup_steps})")
    g.add_argument("--seed", type=int, help=f"(default: {d.train.seed})")

    g = parser.add_argument_group("hardware")
    g.add_argument("--device", metavar="auto|cpu|cuda[:N]",
                   help=f"(default: {d.train.device}: CUDA if present)")
    g.add_argument("--precision", choices=["auto", "32", "bf16", "16-mixed"],
                   help=f"autocast precision; auto = bf16 on CUDA, fp32 on CPU "
                   f"(default: {d.train.precision})")

    g = parser.add_argument_group("evaluation")
    g.add_argument("--threshold", type=float,
                   help=f"window-level decision threshold (F1, kappa), and the alarm threshold "
                   f"only where no rule was chosen on validation "
                   f"(default: {d.detection.threshold})")
    g.add_argument("--smooth-windows", type=int, metavar="K",
                   help=f"causal moving average over the last K windows before thresholding "
                   f"(default: {d.detection.smooth_windows}); more: --set detection.*")
    g.add_argument("--max-fa-per-hour", type=float, metavar="F",
                   help=f"false-alarm budget: finetune chooses the threshold meeting it on the "
                   f"validation patients, never the test ones, and stores it in "
                   f"operating_point.json (default: {d.evaluation.max_fa_per_hour:g}; "
                   f"sensitivity is also reported at "
                   f"{', '.join(f'{b:g}' for b in d.evaluation.budgets)} FA/h)")
    g.add_argument("--baseline", action="append", metavar="NAME",
                   help="feature baseline(s) scored beside MVPFormer by the same protocol: "
                   "linelength, bandpower (repeatable or comma-separated; 'none' for none; "
                   "default: linelength in finetune, none in evaluate)")
    g.add_argument("--format", choices=["default", "szcore"],
                   help="szcore: also write each test recording's detections as "
                   "szcore/<recording>_events.tsv (default: default)")

    g = parser.add_argument_group("output")
    g.add_argument("--out-dir", metavar="DIR", help=f"run directory (default: {d.out_dir})")
    g.add_argument("--resume", action="store_true",
                   help="continue the run in --out-dir from its last.pt, with the same "
                   "settings (only the training length, hardware, logging and evaluation "
                   "may change)")
    g.add_argument("--overwrite", action="store_true",
                   help="start over in an --out-dir that already holds a run: the old run is "
                   "deleted once the new one has finished, and put back if it fails")
    g.add_argument("--log", choices=["csv", "tensorboard"],
                   help=f"metrics.csv/.jsonl always; tensorboard adds event files "
                   f"(default: {d.log})")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")
    g.add_argument("-v", "--verbose", action="store_true", help="debug logging and tracebacks")
    g.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    return parser


#: flag → config key (``None`` values are not passed on).
FLAG_KEYS = {
    "data": "data.stores", "val_patients": "data.val_patients",
    "test_patients": "data.test_patients", "val_fraction": "data.val_fraction",
    "window_segments": "data.window_segments", "stride_segments": "data.stride_segments",
    "max_channels": "data.max_channels", "batch_size": "data.batch_size",
    "num_workers": "data.num_workers", "model": "model.name", "method": "finetune.method",
    "balance": "finetune.balance", "epochs": "train.epochs", "max_steps": "train.max_steps",
    "lr": "train.lr", "weight_decay": "train.weight_decay", "warmup_steps": "train.warmup_steps",
    "seed": "train.seed", "device": "train.device", "precision": "train.precision",
    "threshold": "detection.threshold", "smooth_windows": "detection.smooth_windows",
    "max_fa_per_hour": "evaluation.max_fa_per_hour", "format": "evaluation.format",
    "out_dir": "out_dir", "log": "log",
}


def config_from_args(args: argparse.Namespace) -> Any:
    """Defaults → ``--config`` → flags → ``--set``, as a :class:`RunConfig`."""
    from neuroattn.train_ieeg.config import RunConfig

    cfg = RunConfig() if args.config is None else load_config(RunConfig, args.config)
    flags = [f"{key}={json.dumps(getattr(args, name))}" for name, key in FLAG_KEYS.items()
             if getattr(args, name) is not None]
    if args.baseline is not None:
        names = [n.strip() for item in args.baseline for n in item.split(",") if n.strip()]
        flags.append(f"evaluation.baselines={json.dumps([] if 'none' in names else names)}")
    if args.mode and args.mode != "demo":
        flags.append(f"mode={args.mode}")
    return apply_overrides(cfg, [*flags, *args.overrides])


def _check_out_dir(out_dir: Path, *, resume: bool, overwrite: bool) -> None:
    taken = (out_dir / "config.yaml").exists()
    if taken and not (resume or overwrite):
        raise ConfigError(f"{out_dir} already holds a run: a new run would mix with its files; "
                          "pass --resume to continue it, --overwrite to start over, or another "
                          "--out-dir.")
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite contradict each other: one continues the "
                          "run, the other replaces it; pick one.")


def _report(summary: dict[str, Any], elapsed: float) -> str:
    lines = [f"{summary['mode']} finished in {elapsed:.0f} s -> {summary['out_dir']}"]
    if "step" in summary:
        lines.append(f"  steps {summary['step']}, epochs {summary['epoch']}"
                     + (f", best val AUROC {summary['best']:.3f}"
                        if summary.get("best", float("-inf")) > float("-inf") else ""))
    if "model" in summary:
        lines.append(f"  model: {summary['model']}")
    if "evaluation" in summary:
        lines += [_rule_line(summary["evaluation"]),
                  f"  results: {Path(summary['out_dir']) / 'evaluation.json'}",
                  "", summary["evaluation"]["table"]]
    return "\n".join(lines)


def _rule_line(results: dict[str, Any]) -> str:
    op = results.get("operating_point")
    if op is None:
        return (f"  alarm rule: the config's threshold {results['rule']['threshold']:g} "
                "(no operating point chosen on validation)")
    return (f"  alarm rule for {op['max_fa_per_hour']:g} FA/h, chosen on validation: threshold "
            f"{op['threshold']:.3g}, smoothing {op['smooth_windows']} (validation sensitivity "
            f"{op['sensitivity']:.2f} at {op['false_alarms_per_hour']:.2f} FA/h)")


def _run(args: argparse.Namespace, progress: bool | None) -> None:
    from neuroattn.train_ieeg.runner import run
    from neuroattn.training import distributed

    cfg = config_from_args(args)
    _check_out_dir(Path(cfg.out_dir), resume=args.resume, overwrite=args.overwrite)
    start = time.perf_counter()
    summary = run(cfg, resume=args.resume, overwrite=args.overwrite, progress=progress)
    if distributed.is_main():
        print(_report(summary, time.perf_counter() - start))
    distributed.shutdown()


def _demo(args: argparse.Namespace, progress: bool | None) -> None:
    from neuroattn.train_ieeg.demo import demo_configs, make_demo_stores
    from neuroattn.train_ieeg.runner import run

    out_dir = Path("runs/demo" if args.out_dir is None else args.out_dir)
    start = time.perf_counter()
    stores = make_demo_stores(out_dir / "data", progress=progress)
    pretrain, finetune = demo_configs(out_dir, stores)
    if args.overrides:
        pretrain = apply_overrides(pretrain, args.overrides)
        finetune = apply_overrides(finetune, args.overrides)
    rows = []
    for cfg in (pretrain, finetune):
        t0 = time.perf_counter()
        logger.info("demo: %s -> %s", cfg.mode, cfg.out_dir)
        summary = run(cfg, progress=progress)
        rows.append((cfg.mode, summary, time.perf_counter() - t0))
    (_, pre, pre_s), (_, fine, fine_s) = rows
    accuracy = _last_metric(Path(pre["out_dir"]), "accuracy")
    chance = 1 / (pretrain.pretrain.num_negatives + 1)
    print(f"\nneuroattn demo: tiny MVPFormer on synthetic iEEG, {len(stores)} recordings, "
          f"{time.perf_counter() - start:.0f} s in all\n"
          f"  pretrain  {pre['step']:4d} steps {pre_s:5.0f} s  next-segment accuracy "
          f"{accuracy:.2f} (chance {chance:.2f})\n"
          f"  finetune  {fine['step']:4d} steps {fine_s:5.0f} s  {finetune.finetune.method}, "
          f"{fine['trainable_parameters']} trainable parameters, best val AUROC "
          f"{fine['best']:.3f} ({fine['weights']} weights kept)\n"
          f"  evaluate  held-out patient(s) {', '.join(finetune.data.test_patients)}, "
          f"{fine['evaluation']['pooled']['event']['hours']:.2f} h:\n"
          f"{_rule_line(fine['evaluation'])}\n\n"
          f"{fine['evaluation']['table']}\n\n"
          f"results: {Path(fine['out_dir']) / 'evaluation.json'}\n"
          f"figures: {Path(fine['out_dir']) / 'figures'}\n"
          f"next: python -m neuroattn.train_ieeg --help")


def _last_metric(out_dir: Path, key: str) -> float:
    rows = [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]
    values = [r[key] for r in rows if key in r]
    return values[-1] if values else float("nan")  # the running mean of the last interval


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0 ok, 2 a usage or data error)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    set_log_level("DEBUG" if args.verbose else "WARNING" if args.quiet else "INFO")
    progress = False if args.no_progress else None
    try:
        if args.mode == "demo" or not argv:
            _demo(args, progress)
        else:
            _run(args, progress)
    except ERRORS as err:
        if args.verbose:
            raise
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    return 0
