"""The built-in demo: ``python -m neuroattn.train_ieeg`` with no arguments.

End to end on synthetic data, in a few minutes on a laptop CPU:

1. write one iEEG store per recording: five patients with 6 to 16 contacts,
   two 8-minute recordings each, seizures at 5× background amplitude plus
   interictal spikes and artefacts as decoys (:mod:`neuroattn.datasets.synthetic`);
2. pretrain the tiny MVPFormer with the contrastive next-segment objective;
3. fine-tune it for seizure detection with LoRA (patient P04 validates, so
   ``best.pt`` is the best validation AUROC);
4. evaluate on the held-out patient P05, window and event level, and draw
   the probability traces. The alarm rule's refractory period is 10 s, not
   the default 60 s: the synthetic seizures are far denser than real ones
   (six in eight minutes), and a long refractory period would hide the
   detection of a seizure that follows a false alarm.

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
RECORDINGS_PER_PATIENT = 2
DURATION_S = 480.0
SFREQ = 128.0


def make_demo_stores(root: str | os.PathLike, *, seed: int = 0,
                     progress: bool | None = None) -> list[Path]:
    """Write (or reuse) the demo's synthetic stores under ``root``; return their paths."""
    from neuroattn.store import from_mne_raw, write_store

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    jobs = [(patient, n_channels, k) for patient, n_channels in PATIENTS.items()
            for k in range(RECORDINGS_PER_PATIENT)]
    paths = []
    for i, (patient, n_channels, k) in enumerate(progress_bar(
            jobs, desc="synthetic recordings", enabled=progress)):
        path = root / f"{patient}_rec{k + 1}.zarr"
        if not path.exists():
            rec = make_synthetic_ieeg(n_channels=n_channels, duration_s=DURATION_S, sfreq=SFREQ,
                                      n_seizures=6, amplitude=5.0, seed=seed + 100 + i)
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
        f"out_dir={out_dir / 'finetune'}"])
    return pretrain, finetune
