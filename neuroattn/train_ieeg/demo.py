"""The built-in demo: ``python -m neuroattn.train_ieeg`` with no arguments.

End to end on synthetic data, in a few minutes on a laptop CPU:

1. write one iEEG store per recording: five patients with 6 to 16 contacts,
   seizures at 5× background amplitude plus interictal spikes and artefacts
   as decoys (:mod:`neuroattn.datasets.synthetic`). The training patients
   P01-P03 have two 8-minute recordings each with six seizures (dense, so
   that training sees many). The validation patient P04 and the held-out
   patient P05 have one 60-minute recording each with six seizures, one per
   10 minutes on average, so that false alarms per hour are measured over a
   full hour on both sides (with 16 minutes of validation, one false alarm
   was already 3.75 per hour, so no budget could be resolved);
2. pretrain the tiny MVPFormer with the contrastive next-segment objective;
3. fine-tune it for seizure detection with LoRA (patient P04 validates, so
   ``best.pt`` is the best validation AUROC);
4. choose the alarm rule on P04 for false-alarm budgets of 0.5, 1 and 2 per
   hour: the threshold, and the moving average among :data:`SMOOTH_OPTIONS`
   (the same choice for the baseline), then evaluate on the held-out patient
   P05 with SzCORE event scoring, beside the line-length baseline, and draw
   the probability traces and the sensitivity-against-FA/h curve (inference
   only, so the long recordings are cheap). The refractory period is 10 s, not the default 60 s;
   it only matters for the ``detection.scoring=onset`` option.

Everything lands in ``runs/demo/`` (``data/``, ``pretrain/``, ``finetune/``).

Examples
--------
>>> from neuroattn.train_ieeg.demo import demo_configs
>>> pretrain, finetune = demo_configs("runs/demo", ["a.zarr"])
>>> pretrain.mode, finetune.model.name, finetune.data.test_patients
('pretrain', 'runs/demo/pretrain', ['P05'])
"""

from __future__ import annotations

import os
from pathlib import Path

from neuroattn.config import apply_overrides
from neuroattn.datasets.synthetic import make_synthetic_ieeg
from neuroattn.progress import progress as progress_bar
from neuroattn.train_ieeg.config import RunConfig

#: Patient → contacts. Different counts on purpose: MVPFormer takes any montage.
PATIENTS = {"P01": 6, "P02": 8, "P03": 16, "P04": 12, "P05": 10}
#: Patient → its recordings as ``(duration in seconds, number of seizures)``.
RECORDINGS = {"P01": [(480.0, 6)] * 2, "P02": [(480.0, 6)] * 2, "P03": [(480.0, 6)] * 2,
              "P04": [(3600.0, 6)], "P05": [(3600.0, 6)]}
SFREQ = 128.0
#: Moving-average lengths (windows, 1 s apart) the alarm rule chooses from on validation.
SMOOTH_OPTIONS = (1, 3, 5, 9, 15)


def _store_name(patient: str, k: int, duration_s: float, n_seizures: int, seed: int) -> str:
    """A store's file name, keyed by every parameter of its recording.

    So a store written by another version of the demo (another length, seizure
    count or seed) is never mistaken for this one's.

    Examples
    --------
    >>> _store_name("P05", 0, 3600.0, 6, 108)
    'P05_rec1_3600s_6sz_seed108.zarr'
    """
    return f"{patient}_rec{k + 1}_{duration_s:g}s_{n_seizures}sz_seed{seed}.zarr"


def make_demo_stores(root: str | os.PathLike, *, seed: int = 0,
                     progress: bool | None = None) -> list[Path]:
    """Write (or reuse) the demo's synthetic stores under ``root``; return their paths.

    A store is reused only when its file name, which holds the recording's
    length, seizure count and seed (:data:`RECORDINGS`), matches; stores are
    written atomically, so an existing one is complete.
    """
    from neuroattn.store import from_mne_raw, write_store

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    jobs = [(patient, PATIENTS[patient], k, duration_s, n_seizures)
            for patient, plan in RECORDINGS.items()
            for k, (duration_s, n_seizures) in enumerate(plan)]
    paths = []
    for i, (patient, n_channels, k, duration_s, n_seizures) in enumerate(progress_bar(
            jobs, desc="synthetic recordings", enabled=progress)):
        path = root / _store_name(patient, k, duration_s, n_seizures, seed + 100 + i)
        if not path.exists():
            rec = make_synthetic_ieeg(n_channels=n_channels, duration_s=duration_s,
                                      sfreq=SFREQ, n_seizures=n_seizures, amplitude=5.0,
                                      seed=seed + 100 + i)
            ds = from_mne_raw(rec.to_raw(), dtype="float32")
            ds.attrs["subject"] = patient
            write_store(ds, path, kind="ieeg")
        paths.append(path)
    return paths


def demo_configs(out_dir: str | os.PathLike, stores: list) -> tuple[RunConfig, RunConfig]:
    """The demo's pretraining and fine-tuning configs (a reasonable CPU budget)."""
    out_dir = Path(out_dir)
    data = [f"data.stores={[str(s) for s in stores]}", "data.batch_size=32",
            "data.test_patients=[P05]", "train.device=auto", "train.seed=0"]
    pretrain = apply_overrides(RunConfig(), [
        "mode=pretrain", "model.name=tiny", "model.dropout=0.1", *data, "train.epochs=1",
        "train.lr=1e-3", "train.warmup_steps=10",
        "pretrain.num_negatives=20",
        f"out_dir={out_dir / 'pretrain'}"])
    finetune = apply_overrides(RunConfig(), [
        "mode=finetune", f"model.name={out_dir / 'pretrain'}", *data,
        "data.val_patients=[P04]", "train.epochs=4", "train.lr=3e-3", "train.warmup_steps=20",
        "finetune.method=lora", "finetune.balance=weights", "detection.refractory_s=10",
        f"evaluation.smooth_options={list(SMOOTH_OPTIONS)}",
        f"out_dir={out_dir / 'finetune'}"])
    return pretrain, finetune
