"""Fixtures shared by the converter tests: one synthetic recording, as EDF."""

from __future__ import annotations

import pytest

from neuroattn.datasets import make_synthetic_ieeg


@pytest.fixture(scope="session")
def synthetic_rec():
    """7 contacts, 60 s at 256 Hz, one seizure (7 channels: unequal to everything else)."""
    return make_synthetic_ieeg(n_channels=7, duration_s=60.0, sfreq=256.0, n_seizures=1, seed=3)


@pytest.fixture(scope="session")
def edf_path(synthetic_rec, tmp_path_factory):
    """The synthetic recording written as a real EDF+ file (16-bit, with annotations)."""
    return synthetic_rec.to_edf(tmp_path_factory.mktemp("edf") / "rec.edf")


@pytest.fixture(scope="session")
def edf_atol(synthetic_rec) -> float:
    """One EDF quantisation step (16 bits over the physical range), with a margin."""
    data = synthetic_rec.data
    return 1.5 * (float(data.max()) - float(data.min())) / 65535
