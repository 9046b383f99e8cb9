"""Fixtures shared by the store tests."""

from __future__ import annotations

import pytest

from neuroattn.store import ieeg_from_array, write_store


@pytest.fixture
def store(tmp_path, rng):
    """A 5-channel, 60-s, 100-Hz store in 700-sample chunks; channel "c" is bad."""
    data = rng.standard_normal((6000, 5)).astype("float32")
    ds = ieeg_from_array(
        data, sfreq=100.0, ch_names=["a", "b", "c", "d", "e"], bad=[0, 0, 1, 0, 0],
        annotations={"onset": [20.0, 41.0], "duration": [5.0, 2.0],
                     "description": ["seizure", "artifact"]})
    return write_store(ds, tmp_path / "rec.zarr", chunks={"signal": (700, 5)}), data
