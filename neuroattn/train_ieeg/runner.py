"""One ``train_ieeg`` run: pretrain, fine-tune or evaluate, from a :class:`RunConfig`.

What a run leaves in ``out_dir``:

* ``config.yaml`` — the resolved run config (reuse it with ``--config``);
* ``metrics.jsonl`` / ``metrics.csv`` (and ``tensorboard/``) — running means of
  the training values every ``train.log_every`` steps and per-epoch validation scores;
* ``last.pt`` (and ``last.prev.pt``, the one before) / ``best.pt`` — resumable
  checkpoints (``--resume``); ``best.pt`` is used only if this run wrote it;
* ``model/`` — the trained MVPFormer (``MVPFormer.from_pretrained`` reads
  it; LoRA adapters merged), the input of the next stage;
* ``operating_point.json`` — the alarm rules chosen on the validation
  patients: one per false-alarm budget (``evaluation.max_fa_per_hour`` and
  ``evaluation.budgets``), for MVPFormer and each baseline;
* ``evaluation.json`` / ``evaluation.txt`` — window and SzCORE event metrics
  of the test patients, per patient and pooled, at the validation-chosen
  rules (sensitivity at each budget, the whole sensitivity-vs-false-alarm
  curve), for MVPFormer and under ``baselines.<name>`` for each baseline;
  ``predictions.csv`` — every window's probability; ``figures/*.png`` —
  probability traces with the annotated seizures, and
  ``figures/sensitivity_fa.png``, the curves with the chosen points;
  ``szcore/<recording>_events.tsv`` with ``evaluation.format=szcore``.

``overwrite=True`` (``--overwrite``) replaces a previous run atomically (see
:mod:`neuroattn.train_ieeg.rundir`); ``resume=True`` refuses changed settings
except those of :data:`RESUME_MAY_CHANGE`.

The test patients never choose anything: the operating points come from
the validation patients (``finetune``), or from the model's
``operating_point.json`` (``evaluate``; with none there, from
``--val-patients`` if given, else the config's threshold, with a warning).

Examples
--------
>>> from neuroattn.train_ieeg import RunConfig
>>> RunConfig().mode
'finetune'
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuroattn._atomic import atomic_path
from neuroattn._logging import logger
from neuroattn.config import (
    ConfigError,
    Range,
    check_ranges,
    check_value,
    from_dict,
    save_config,
)
from neuroattn.errors import NeuroattnError
from neuroattn.ieeg import PRESETS, MVPFormer, preset
from neuroattn.ieeg.baselines import make_baseline
from neuroattn.ieeg.config import MVPFormerConfig
from neuroattn.ieeg.evaluation import (
    DetectionRule,
    OperatingPoint,
    RecordingPrediction,
    budget_key,
    choose_operating_points,
    evaluate,
    evaluate_at_operating_points,
    format_table,
    hypothesis_events,
    save_results,
    sensitivity_fa_curve,
)
from neuroattn.ieeg.szcore import write_szcore_tsv
from neuroattn.ieeg.weights import WeightsError
from neuroattn.nn.lora import merge_lora
from neuroattn.progress import progress as progress_bar
from neuroattn.seeding import set_seed
from neuroattn.train_ieeg.config import RunConfig
from neuroattn.train_ieeg.data import (
    Recording,
    RecordingMix,
    class_weights,
    open_recordings,
    split_by_patient,
)
from neuroattn.train_ieeg.rundir import replacing_run, warn_replaced_runs
from neuroattn.train_ieeg.tasks import (
    ContrastivePretraining,
    classification_loss,
    predict,
    prepare_finetuning,
    validation_scores,
)
from neuroattn.training import RESUME_MAY_CHANGE as TRAIN_MAY_CHANGE
from neuroattn.training import Trainer, distributed, resolve_training_device

MODEL_NAMES = {"pretrain": "mvpformer-pretrain", "finetune": "mvpformer-seizure"}
#: Settings a ``--resume`` may change (applied, logged and recorded in ``config.yaml``):
#: the training length, hardware and logging, and what happens after training.
RESUME_MAY_CHANGE = (*(f"train.{k}" for k in TRAIN_MAY_CHANGE), "data.num_workers",
                     "data.cache_dir", "out_dir", "log", "detection", "evaluation")
#: Allowed values of the numeric fields of an MVPFormer ``config.json`` (others: ints >= 1,
#: floats > 0).
_MODEL_FIELD_RANGES = {"dropout": Range(0, 1, high_open=True)}


def check_model_config(path: Path) -> None:
    """Name the bad field of a model directory's ``config.json``, if any.

    Raises :class:`~neuroattn.ieeg.weights.WeightsError` naming the file, the
    field and its value: a ``model`` other than ``"mvpformer"``, an unknown
    field, a value of the wrong type, or a number out of range.
    """
    file = path / "config.json"
    try:
        meta = json.loads(file.read_text())
    except (OSError, ValueError) as err:
        raise WeightsError(f"{file} cannot be read ({err}): it is not a saved model's config; "
                           "pass a model directory written by save_pretrained (a run's model/)."
                           ) from None
    if not isinstance(meta, dict):
        raise WeightsError(f"{file} does not hold a JSON object: it is not a saved model's "
                           "config; pass a model directory written by save_pretrained.")
    kind = meta.pop("model", None)
    if kind != "mvpformer":
        raise WeightsError(f"{file}: the field 'model' is {kind!r}, not 'mvpformer', so this "
                           "directory holds another model (or the file was edited); pass an "
                           "MVPFormer directory as --model.")
    if "format" in meta:  # config.json + model.safetensors: the fields are under "config"
        meta = meta.get("config")
        if not isinstance(meta, dict):
            raise WeightsError(f"{file} has no 'config' object: it is not a saved model's "
                               "config; export the model again (save_pretrained).")
    try:
        cfg = from_dict(MVPFormerConfig, meta)
        for f in fields(cfg):
            value = getattr(cfg, f.name)
            check_value(f.name, value, _MODEL_FIELD_RANGES.get(f.name, Range(
                low=1) if isinstance(value, int) else Range(low=0, low_open=True)))
    except ConfigError as err:
        raise WeightsError(f"{file} has a bad field value: {err} Fix that field, or export "
                           "the model again (save_pretrained).") from None


def load_model(name: str, *, dropout: float | None = None) -> MVPFormer:
    """A fresh preset, or trained weights from a model or run directory or a checkpoint file."""
    overrides = {} if dropout is None else {"dropout": dropout}
    if name in PRESETS:
        return MVPFormer(preset(name, **overrides))
    path = Path(name)
    if (path / "model" / "config.json").is_file():
        path = path / "model"
    if not path.exists():
        raise ConfigError(f"--model {name!r} is neither a preset "
                          f"({', '.join(sorted(PRESETS))}) nor an existing model directory, run "
                          "directory or checkpoint; pass one of these.")
    if path.suffix == ".pt" and (path.parent / "config.yaml").is_file():
        raise ConfigError(f"{path} is a training checkpoint (for --resume), not a model; pass "
                          f"its run directory {path.parent} to use the trained model.")
    if (path / "config.json").is_file():
        check_model_config(path)
    try:
        return MVPFormer.from_pretrained(path, **overrides)
    except (RuntimeError, TypeError, ValueError) as err:
        if isinstance(err, NeuroattnError):
            raise
        raise WeightsError(f"{path} cannot be loaded as an MVPFormer ({type(err).__name__}: "
                           f"{err}); pass another --model, or export the model again.") from None


def default_window_segments(model: MVPFormer) -> int:
    """8 segments for small test models, the reference's 25 (125 s) for S and M."""
    return min(25, model.config.n_positions) if model.config.d_model >= 256 else 8


def _export(model: MVPFormer, out_dir: Path) -> Path:
    model = merge_lora(model)
    return model.save_pretrained(out_dir / "model", overwrite=True)


def _write_predictions(preds: list[RecordingPrediction], path: Path) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["recording", "patient", "time_s", "probability", "label"])
        for p in preds:
            writer.writerows(zip([p.name] * len(p.times), [p.patient] * len(p.times),
                                 p.times.round(6), p.probabilities.round(6), p.labels,
                                 strict=True))


def score_detector(val_predictions: list[RecordingPrediction],
                   test_predictions: list[RecordingPrediction], cfg: RunConfig, *,
                   points: list[OperatingPoint] | None = None,
                   rule: DetectionRule | None = None,
                   ) -> tuple[dict[str, Any], list[OperatingPoint] | None]:
    """Choose the operating points on validation, then score the test predictions with them.

    Parameters
    ----------
    val_predictions : list of RecordingPrediction
        The validation patients' predictions; only they choose the points
        (:func:`~neuroattn.ieeg.evaluation.choose_operating_points`, for
        every budget of ``cfg.evaluation``).
    test_predictions : list of RecordingPrediction
        Scored at the points, never tuned on.
    cfg : RunConfig
    points : list of OperatingPoint, optional
        Points chosen before (e.g. read from ``operating_point.json``): then
        ``val_predictions`` is not used. With neither, the rule ``rule`` is
        applied as it is, with a warning.
    rule : DetectionRule, optional
        The rule the points complete (default ``cfg.detection``). The window
        metrics always use ``cfg.detection.threshold``.

    Returns
    -------
    (dict, list of OperatingPoint or None)
        The results (:func:`~neuroattn.ieeg.evaluation.evaluate_at_operating_points`)
        and the points used.
    """
    rule = cfg.detection if rule is None else rule
    if points is None and val_predictions:
        points = choose_operating_points(val_predictions, rule, cfg.evaluation.all_budgets(),
                                         smooth_options=cfg.evaluation.smooth_options or None)
    if points is None:
        logger.warning("NO OPERATING POINT: no operating_point.json and no validation patients, "
                       "so the test recordings are scored at the config's threshold %g, not at "
                       "a rule chosen for a false-alarm budget (pass --val-patients).",
                       rule.threshold)
        results = evaluate(test_predictions, rule, threshold=cfg.detection.threshold)
        results.update(operating_point=None, budgets={},
                       curve=sensitivity_fa_curve(test_predictions, rule))
        return results, None
    return evaluate_at_operating_points(
        test_predictions, rule, points, max_fa_per_hour=cfg.evaluation.max_fa_per_hour,
        threshold=cfg.detection.threshold), points


def _points_record(points: list[OperatingPoint], rule: DetectionRule,
                   main_budget: float) -> dict[str, Any]:
    main = next(p for p in points if p.max_fa_per_hour == main_budget)
    return {"operating_point": main.to_dict(), "rule": asdict(main.apply(rule)),
            "budgets": {budget_key(p.max_fa_per_hour): p.to_dict() for p in points}}


def stored_operating_points(model_name: str) -> tuple[list[OperatingPoint], DetectionRule] | None:
    """The operating points and rule that ``finetune`` stored next to a model, if any.

    ``model_name`` is a run directory or its ``model/`` directory; the file is
    the run directory's ``operating_point.json``.
    """
    path = Path(model_name)
    for candidate in (path / "operating_point.json", path.parent / "operating_point.json"
                      if path.name == "model" else None):
        if candidate is not None and candidate.is_file():
            try:
                data = json.loads(candidate.read_text())
                points = [OperatingPoint.from_dict(d) for d in data["budgets"].values()]
                rule = DetectionRule(**data["rule"])
            except (KeyError, TypeError, ValueError, AttributeError) as err:
                raise ConfigError(f"{candidate} is not an operating-point file of this version "
                                  f"({type(err).__name__}: {err}); re-run finetune, or remove "
                                  "it to choose on --val-patients.") from None
            logger.info("alarm rule from %s (chosen on the validation patients)", candidate)
            return points, rule
    return None


def _hypothesis_tsvs(preds: list[RecordingPrediction], rule: DetectionRule,
                     out_dir: Path) -> None:
    for p in preds:
        events = hypothesis_events(p.times, p.probabilities, rule)
        confidence = [float(p.probabilities[(p.times > a) & (p.times <= b)].max())
                      for a, b in events]
        write_szcore_tsv(out_dir / f"{p.name.removesuffix('.zarr')}_events.tsv", events,
                         p.duration_s, confidence=confidence)


def baseline_names(cfg: RunConfig) -> list[str]:
    """The baselines a run reports: ``evaluation.baselines``, or by default the line-length
    baseline in ``finetune`` and none in ``evaluate``; unknown names fail here."""
    names = cfg.evaluation.baselines
    if names is None:
        names = ["linelength"] if cfg.mode == "finetune" else []
    for name in names:
        make_baseline(name)  # a clear error listing the names
    if names and cfg.mode == "finetune" and cfg.finetune.shuffle_labels:
        logger.info("shuffled-label control: no baselines (their training labels would be "
                    "shuffled too)")
        return []
    return list(dict.fromkeys(names))


def evaluate_model(model: MVPFormer, split: dict[str, list], cfg: RunConfig, out_dir: Path, *,
                   device: torch.device, progress: bool | None = None, figures: bool = True,
                   targets: str = "test") -> dict[str, Any]:
    """Score MVPFormer and the baselines on ``split[targets]`` as a clinic would; write it all.

    The operating points come from the model's stored ``operating_point.json``
    in ``evaluate`` mode, else from ``split["val"]``; baselines are fitted on
    ``split["train"]`` and their points chosen on ``split["val"]``.
    """
    from neuroattn.plotting.detections import plot_detections, plot_sensitivity_fa

    model.to(device)

    def predict_all(recordings: list, desc: str) -> list[RecordingPrediction]:
        return [predict(model, r, batch_size=cfg.data.batch_size * 2, device=device,
                        precision=cfg.train.precision)
                for r in progress_bar(recordings, desc=desc, enabled=progress)]

    rule, points = cfg.detection, None
    stored = stored_operating_points(cfg.model.name) if cfg.mode == "evaluate" else None
    if stored is not None:
        points, rule = stored
        if asdict(rule) != {**asdict(cfg.detection), "threshold": rule.threshold,
                            "smooth_windows": rule.smooth_windows}:
            logger.warning("Using the detection rule stored with the model, %s, not the "
                           "config's %s.", asdict(rule), asdict(cfg.detection))
    preds = predict_all(split[targets], "evaluating")
    val_preds = predict_all(split["val"], "validation") if points is None else []
    results, points = score_detector(val_preds, preds, cfg, points=points, rule=rule)
    results["detector"] = "MVPFormer"
    record: dict[str, Any] = {}
    if points is not None:
        record = _points_record(points, rule, cfg.evaluation.max_fa_per_hour)
        record["chosen_on"] = "stored" if stored is not None else \
            sorted({p.patient for p in val_preds})
    results["baselines"] = {}
    names = baseline_names(cfg)
    for name in names:
        # the baselines read the same newest segment that MVPFormer labels and decides on
        detector = make_baseline(name, segment_s=model.config.segment_s).fit(split["train"])
        b_val = [detector.predict(r) for r in split["val"]]
        b_results, b_points = score_detector(
            b_val, [detector.predict(r) for r in split[targets]], cfg, rule=rule)
        b_results["detector"] = name
        results["baselines"][name] = b_results
        record.setdefault("baselines", {})[name] = _points_record(
            b_points, rule, cfg.evaluation.max_fa_per_hour)
    if record:
        with atomic_path(out_dir / "operating_point.json") as tmp:
            tmp.write_text(json.dumps(record, indent=2) + "\n")
    save_results(results, out_dir / "evaluation.json")
    table = format_table(results, detector="MVPFormer")
    with atomic_path(out_dir / "evaluation.txt") as tmp:
        tmp.write_text(table + "\n")
    _write_predictions(preds, out_dir / "predictions.csv")
    main_rule = rule if points is None else next(
        p for p in points if p.max_fa_per_hour == cfg.evaluation.max_fa_per_hour).apply(rule)
    if cfg.evaluation.format == "szcore":
        _hypothesis_tsvs(preds, main_rule, out_dir / "szcore")
    if figures:
        import matplotlib.pyplot as plt

        (out_dir / "figures").mkdir(parents=True, exist_ok=True)
        for p in preds:
            fig = plot_detections(p.times, p.probabilities, p.seizures, rule=main_rule,
                                  labels=p.labels, duration_s=p.duration_s,
                                  title=f"{p.patient} · {p.name}",
                                  output_file=out_dir / "figures" / f"{p.name}.png")
            plt.close(fig)
        fig = plot_sensitivity_fa({"MVPFormer": results, **results["baselines"]},
                                  output_file=out_dir / "figures" / "sensitivity_fa.png")
        plt.close(fig)
    results["table"] = table
    return results


def run(cfg: RunConfig, *, resume: bool = False, overwrite: bool = False,
        progress: bool | None = None) -> dict[str, Any]:
    """Run ``cfg.mode`` and return a summary (paths, steps, scores).

    Parameters
    ----------
    cfg : RunConfig
    resume : bool
        Continue from ``<out_dir>/last.pt`` instead of starting over; changed
        settings are refused, except those of :data:`RESUME_MAY_CHANGE`.
    overwrite : bool
        Replace a previous run in ``out_dir`` atomically: it is moved aside,
        deleted once this run has finished, and put back if this run fails.
    progress : bool, optional
        Progress bars (default: on a terminal only).
    """
    check_ranges(cfg)
    if resume and overwrite:
        raise ConfigError("resume and overwrite contradict each other: one continues the run, "
                          "the other replaces it; pick one.")
    out_dir = Path(cfg.out_dir)
    device = distributed.init_distributed(resolve_training_device(cfg.train.device))
    if distributed.is_main():
        warn_replaced_runs(out_dir)
    if not overwrite:
        return _run(cfg, out_dir, device, resume=resume, progress=progress)
    with replacing_run(out_dir):
        return _run(cfg, out_dir, device, resume=False, progress=progress)


def _check_training_patients(split: dict[str, list[Recording]], mode: str) -> None:
    held_out = split["val"] + split["test"] if mode == "finetune" else split["test"]
    if split["train"] or (mode == "pretrain" and split["val"]):
        return
    patients = sorted({r.patient for r in held_out})
    raise ConfigError(f"No training patient is left: --test-patients and --val-patients take "
                      f"every patient of the stores ({', '.join(patients)}); name fewer of them, "
                      "or add the stores of training patients to --data.")


def _run(cfg: RunConfig, out_dir: Path, device: torch.device, *, resume: bool,
         progress: bool | None) -> dict[str, Any]:
    set_seed(cfg.train.seed)
    model = load_model(cfg.model.name, dropout=cfg.model.dropout)
    window_segments = default_window_segments(model) if cfg.data.window_segments is None \
        else cfg.data.window_segments
    recordings = open_recordings(
        cfg.data.stores, model.config, window_segments=window_segments,
        stride_segments=cfg.data.stride_segments, max_channels=cfg.data.max_channels,
        cache_dir=out_dir / "cache" if cfg.data.cache_dir is None else cfg.data.cache_dir)
    split = split_by_patient(recordings, val_patients=cfg.data.val_patients,
                             test_patients=cfg.data.test_patients,
                             val_fraction=cfg.data.val_fraction, seed=cfg.train.seed)
    logger.info("%s: %s", cfg.mode, ", ".join(
        f"{k} {len({r.patient for r in v})} patient(s)/{len(v)} recording(s)"
        for k, v in split.items() if v))
    summary: dict[str, Any] = {"mode": cfg.mode, "out_dir": str(out_dir),
                               "window_segments": window_segments}
    baselines = baseline_names(cfg)
    if cfg.mode == "evaluate":
        if baselines and not (split["test"] and split["val"] and split["train"]):
            raise ConfigError("--baseline needs the baseline's training and validation "
                              "patients beside the test patients: pass --data with all of "
                              "their stores, --val-patients and --test-patients.")
        split["test"] = split["test"] or split["train"]  # no test patients named: all but val
        if distributed.is_main():
            out_dir.mkdir(parents=True, exist_ok=True)
            save_config(cfg, out_dir / "config.yaml")
            summary["evaluation"] = evaluate_model(model, split, cfg, out_dir, device=device,
                                                   progress=progress)
        return summary

    _check_training_patients(split, cfg.mode)
    common = dict(config=cfg.train, out_dir=out_dir, progress=progress,
                  tensorboard=cfg.log == "tensorboard", run_config=cfg,
                  model_name=MODEL_NAMES[cfg.mode], resume_may_change=RESUME_MAY_CHANGE)
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

    if split["test"] and not split["val"]:
        raise ConfigError("The alarm rule (threshold for --max-fa-per-hour) is chosen on "
                          "validation patients, never on the test patients: pass "
                          "--val-patients (or --val-fraction).")
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
        summary["weights"] = "best" if trainer.restore_best() else "last"
        summary["model"] = str(_export(model, out_dir))
        if split["test"] or split["val"]:
            targets = "test" if split["test"] else "val"
            if targets == "val":
                logger.warning("No test patients: the validation patients, which chose the "
                               "alarm rule, are also scored (optimistic).")
            summary["evaluated_on"] = targets
            summary["evaluation"] = evaluate_model(model, split, cfg, out_dir,
                                                   device=trainer.device, progress=progress,
                                                   targets=targets)
    return summary
