"""Small synthetic stores for the train_ieeg tests: three patients, different montages."""

from __future__ import annotations

import pytest

from neuroattn.datasets.synthetic import make_synthetic_ieeg
from neuroattn.store import from_mne_raw, write_store


def write_patient_store(path, patient: str, n_channels: int, seed: int, *,
                        sfreq: float = 128.0, duration_s: float = 150.0, chunk_mb: float = 0.05):
    rec = make_synthetic_ieeg(n_channels=n_channels, duration_s=duration_s, sfreq=sfreq,
                              n_seizures=2, amplitude=5.0, seed=seed)
    ds = from_mne_raw(rec.to_raw(), dtype="float32")
    ds.attrs["subject"] = patient
    return write_store(ds, path, kind="ieeg", chunk_mb=chunk_mb)


@pytest.fixture(scope="session")
def patient_stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("stores")
    return [write_patient_store(root / f"{p}.zarr", p, c, seed)
            for p, c, seed in [("A", 4, 1), ("B", 6, 2), ("C", 5, 3)]]
