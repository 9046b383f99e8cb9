"""Shared fixtures: headless plotting, no progress bars, small unequal-shaped data."""

from __future__ import annotations

import os

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
os.environ.setdefault("NEUROATTN_PROGRESS", "off")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(42)


@pytest.fixture
def ieeg_ds(rng):
    """A 7-channel, 30-s, 100-Hz iEEG dataset with one seizure annotation."""
    from neuroattn.store import ieeg_from_array

    return ieeg_from_array(
        rng.standard_normal((3000, 7)).astype("float32"),
        sfreq=100.0,
        ch_names=[f"LA{i}" for i in range(1, 8)],
        positions=rng.standard_normal((7, 3)) * 0.01,
        annotations={"onset": [12.0], "duration": [5.0], "description": ["seizure"]},
        subject="sub-01",
    )


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
