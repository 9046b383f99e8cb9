"""One ``train_ieeg`` run: pretrain, fine-tune or evaluate, from a :class:`RunConfig`.

What a run leaves in ``out_dir``:

* ``config.yaml`` — the resolved run config (reuse it with ``--config``);
* ``metrics.jsonl`` / ``metrics.csv`` (and ``tensorboard/``) — running means of
  the training values every ``train.log_every`` steps and per-epoch validation scores;
* ``last.pt`` / ``best.pt`` — resumable checkpoints (``--resume``);
* ``model/`` — the trained MVPFormer (``MVPFormer.from_pretrained`` reads
  it; LoRA adapters merged), the input of the next stage;
* ``evaluation.json`` / ``evaluation.txt`` — window and event metrics per
  patient and pooled; ``predictions.csv`` — every window's probability;
  ``figures/*.png`` — probability traces with the annotated seizures.

Examples
--------
>>> from neuroattn.train_ieeg import RunConfig
>>> RunConfig().mode
'finetune'
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuroattn._atomic import atomic_path
from neuroattn._logging import logger
from neuroattn.config import save_config
from neuroattn.device import resolve_device
from neuroattn.ieeg import PRESETS, MVPFormer, preset
from neuroattn.ieeg.evaluation import RecordingPrediction, evaluate, format_table, save_results
from neuroattn.nn.lora import merge_lora
from neuroattn.progress import progress as progress_bar
from neuroattn.seeding import set_seed
from neuroattn.train_ieeg.config import RunConfig
from neuroattn.train_ieeg.data import (
    RecordingMix,
    class_weights,
    open_recordings,
    split_by_patient,
)
from neuroattn.train_ieeg.tasks import (
    ContrastivePretraining,
    classification_loss,
    predict,
    prepare_finetuning,
    validation_scores,
)
from neuroattn.training import Trainer, distributed, load_checkpoint

MODEL_NAMES = {"pretrain": "mvpformer-pretrain", "finetune": "mvpformer-seizure"}


def load_model(name: str, *, dropout: float | None = None) -> MVPFormer:
    """A fresh preset, or trained weights from a model or run directory or a checkpoint file."""
    overrides = {} if dropout is None else {"dropout": dropout}
    if name in PRESETS:
        return MVPFormer(preset(name, **overrides))
    path = Path(name)
    if (path / "model" / "config.json").is_file():
        path = path / "model"
    if not path.exists():
        raise ValueError(f"--model {name!r} is neither a preset ({', '.join(sorted(PRESETS))}) "
                         "nor an existing model directory, run directory or checkpoint.")
    if path.suffix == ".pt" and (path.parent / "config.yaml").is_file():
        raise ValueError(f"{path} is a training checkpoint (for --resume); pass its run "
                         f"directory {path.parent} to use the trained model.")
    return MVPFormer.from_pretrained(path, **overrides)


def default_window_segments(model: MVPFormer) -> int:
    """8 segments for small test models, the reference's 25 (125 s) for S and M."""
    return min(25, model.config.n_positions) if model.config.d_model >= 256 else 8


def _export(model: MVPFormer, out_dir: Path) -> Path:
    model = merge_lora(model)
    return model.save_pretrained(out_dir / "model")


def _restore_best(module: torch.nn.Module, out_dir: Path, model_name: str) -> str:
    """Load ``best.pt`` into ``module`` if validation made one; say which weights are used."""
    best = out_dir / "best.pt"
    if not best.exists():
        return "last"
    module.load_state_dict(load_checkpoint(best, model_name=model_name,
                                           map_location="cpu")["model"])
    return "best"


def _write_predictions(preds: list[RecordingPrediction], path: Path) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["recording", "patient", "time_s", "probability", "label"])
        for p in preds:
            writer.writerows(zip([p.name] * len(p.times), [p.patient] * len(p.times),
                                 p.times.round(6), p.probabilities.round(6), p.labels,
                                 strict=True))


def evaluate_model(model: MVPFormer, recordings: list, cfg: RunConfig, out_dir: Path, *,
                   device: torch.device, progress: bool | None = None,
                   figures: bool = True) -> dict[str, Any]:
    """Predict every window of ``recordings``, score them as a clinic would, write the results."""
    from neuroattn.plotting.detections import plot_detections

    model.to(device)
    preds = [predict(model, r, batch_size=cfg.data.batch_size * 2, device=device,
                     precision=cfg.train.precision)
             for r in progress_bar(recordings, desc="evaluating", enabled=progress)]
    results = evaluate(preds, cfg.detection, threshold=cfg.detection.threshold)
    save_results(results, out_dir / "evaluation.json")
    table = format_table(results)
    with atomic_path(out_dir / "evaluation.txt") as tmp:
        tmp.write_text(table + "\n")
    _write_predictions(preds, out_dir / "predictions.csv")
    if figures:
        import matplotlib.pyplot as plt

        (out_dir / "figures").mkdir(parents=True, exist_ok=True)
        for p in preds:
            fig = plot_detections(p.times, p.probabilities, p.seizures, rule=cfg.detection,
                                  labels=p.labels, title=f"{p.patient} · {p.name}",
                                  output_file=out_dir / "figures" / f"{p.name}.png")
            plt.close(fig)
    results["table"] = table
    return results


def run(cfg: RunConfig, *, resume: bool = False, progress: bool | None = None) -> dict[str, Any]:
    """Run ``cfg.mode`` and return a summary (paths, steps, scores).

    Parameters
    ----------
    cfg : RunConfig
    resume : bool
        Continue from ``<out_dir>/last.pt`` (same config) instead of starting over.
    progress : bool, optional
        Progress bars (default: on a terminal only).
    """
    out_dir = Path(cfg.out_dir)
    device = distributed.init_distributed(resolve_device(cfg.train.device))
    set_seed(cfg.train.seed)
    model = load_model(cfg.model.name, dropout=cfg.model.dropout)
    window_segments = cfg.data.window_segments or default_window_segments(model)
    recordings = open_recordings(
        cfg.data.stores, model.config, window_segments=window_segments,
        stride_segments=cfg.data.stride_segments, max_channels=cfg.data.max_channels,
        cache_dir=cfg.data.cache_dir or out_dir / "cache")
    split = split_by_patient(recordings, val_patients=cfg.data.val_patients,
                             test_patients=cfg.data.test_patients,
                             val_fraction=cfg.data.val_fraction, seed=cfg.train.seed)
    logger.info("%s: %s", cfg.mode, ", ".join(
        f"{k} {len({r.patient for r in v})} patient(s)/{len(v)} recording(s)"
        for k, v in split.items() if v))
    summary: dict[str, Any] = {"mode": cfg.mode, "out_dir": str(out_dir),
                               "window_segments": window_segments}
    if cfg.mode == "evaluate":
        targets = split["test"] or recordings
        if distributed.is_main():
            out_dir.mkdir(parents=True, exist_ok=True)
            save_config(cfg, out_dir / "config.yaml")
            summary["evaluation"] = evaluate_model(model, targets, cfg, out_dir, device=device,
                                                   progress=progress)
        return summary

    common = dict(config=cfg.train, out_dir=out_dir, progress=progress,
                  tensorboard=cfg.log == "tensorboard", run_config=cfg,
                  model_name=MODEL_NAMES[cfg.mode])
    if cfg.mode == "pretrain":
        task = ContrastivePretraining(model, num_negatives=cfg.pretrain.num_negatives,
                                      temperature=cfg.pretrain.temperature)
        loader = RecordingMix(split["train"] + split["val"], cfg.data.batch_size,
                              seed=cfg.train.seed, num_workers=cfg.data.num_workers,
                              device=device, reuse_buffers=True)
        trainer = Trainer(task, ContrastivePretraining.loss, **common)
        summary.update(trainer.fit(loader, resume=resume))
        if distributed.is_main():
            summary["model"] = str(_export(model, out_dir))
        return summary

    ft = cfg.finetune
    summary["trainable_parameters"] = prepare_finetuning(
        model, method=ft.method, lora_rank=ft.lora_rank, lora_alpha=ft.lora_alpha)
    if ft.shuffle_labels:  # the control sees no real label before the test
        rng = np.random.default_rng(cfg.train.seed)
        for r in split["train"] + split["val"]:
            r.windows.labels = rng.permutation(r.windows.labels)
    weights = class_weights(split["train"]) if ft.balance == "weights" else None
    loader = RecordingMix(split["train"], cfg.data.batch_size, balanced=ft.balance == "sampler",
                          seed=cfg.train.seed, num_workers=cfg.data.num_workers,
                          device=device, reuse_buffers=True)
    val_fn = validation_scores(split["val"], precision=cfg.train.precision) \
        if split["val"] else None
    trainer = Trainer(model, classification_loss(weights), val_fn=val_fn, monitor="auroc",
                      **common)
    summary.update(trainer.fit(loader, resume=resume))
    if distributed.is_main():
        summary["weights"] = _restore_best(model, out_dir, MODEL_NAMES["finetune"])
        summary["model"] = str(_export(model, out_dir))
        targets = split["test"] or split["val"]
        if targets:
            summary["evaluated_on"] = "test" if split["test"] else "val"
            summary["evaluation"] = evaluate_model(model, targets, cfg, out_dir,
                                                   device=trainer.device, progress=progress)
    return summary
