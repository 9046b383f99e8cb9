"""MNE Raw <-> store: a lossless round trip, also through disk."""

from __future__ import annotations

import datetime as dt

import mne
import numpy as np
import pytest

from neuroattn.store import from_mne_raw, open_store, to_mne_raw, write_store


@pytest.fixture
def raw(rng):
    names = ["LA1", "LA2", "LA3", "RB1", "RB2"]
    info = mne.create_info(names, 256.0, ["seeg", "seeg", "seeg", "ecog", "eeg"])
    for i, ch in enumerate(info["chs"]):
        ch["loc"][:3] = [0.01 * i, -0.02, 0.03 + 0.001 * i]
    info["bads"] = ["LA2"]
    info.set_meas_date(dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc))
    raw = mne.io.RawArray(rng.standard_normal((5, 1283)) * 1e-5, info, first_samp=512,
                          verbose=False)
    raw.set_annotations(mne.Annotations(
        onset=[raw.first_time + 1.0, raw.first_time + 2.5], duration=[1.5, 0.0],
        description=["seizure", "spike"], ch_names=[[], ["LA1", "RB1"]],
        orig_time=info["meas_date"]))
    return raw


def _assert_same(a, b):
    np.testing.assert_array_equal(a.get_data(), b.get_data())
    assert a.ch_names == b.ch_names
    assert a.get_channel_types() == b.get_channel_types()
    assert a.info["sfreq"] == b.info["sfreq"]
    assert a.info["bads"] == b.info["bads"]
    assert a.first_samp == b.first_samp
    assert a.info["meas_date"] == b.info["meas_date"]
    np.testing.assert_array_equal(a._get_channel_positions(), b._get_channel_positions())
    assert [c["coord_frame"] for c in a.info["chs"]] == [c["coord_frame"] for c in b.info["chs"]]
    np.testing.assert_allclose(a.annotations.onset, b.annotations.onset)
    np.testing.assert_allclose(a.annotations.duration, b.annotations.duration)
    assert list(a.annotations.description) == list(b.annotations.description)
    assert [tuple(c) for c in a.annotations.ch_names] == [tuple(c) for c in b.annotations.ch_names]


def test_round_trip_in_memory(raw):
    ds = from_mne_raw(raw)
    assert ds.signal.dims == ("time", "channel")
    assert ds.attrs["annotations"]["onset"] == [1.0, 2.5]  # from the first sample
    _assert_same(raw, to_mne_raw(ds))


def test_round_trip_through_store(raw, tmp_path):
    path = write_store(from_mne_raw(raw, subject="sub-01"), tmp_path / "raw.zarr", chunk_mb=0.01)
    ds = open_store(path, kind="ieeg")
    assert ds.attrs["subject"] == "sub-01"
    _assert_same(raw, to_mne_raw(ds))


def test_without_meas_date(rng):
    raw = mne.io.RawArray(rng.standard_normal((2, 100)), mne.create_info(2, 100.0, "seeg"),
                          first_samp=7, verbose=False)
    raw.set_annotations(mne.Annotations([0.2], [0.1], ["x"]))
    _assert_same(raw, to_mne_raw(from_mne_raw(raw)))


def test_float32_option_and_units(raw):
    ds = from_mne_raw(raw, dtype="float32")
    assert ds.signal.dtype == np.float32
    micro = ds.assign(signal=ds.signal * 1e6).assign_attrs(units="uV")
    np.testing.assert_allclose(to_mne_raw(micro).get_data(), raw.get_data(), rtol=1e-6)


def test_errors():
    with pytest.raises(TypeError, match="needs an mne.io.Raw"):
        from_mne_raw(np.zeros((2, 3)))
