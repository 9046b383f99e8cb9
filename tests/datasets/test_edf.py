"""Tests of the EDF/BDF converter (via MNE) on real EDF+ files written from synthetic data."""

from __future__ import annotations

import logging
import math

import mne
import numpy as np
import pytest

from neuroattn.datasets import convert_edf, resample_signal
from neuroattn.datasets.edf import raw_to_store
from neuroattn.store import open_store, seizure_intervals


def test_round_trip_within_edf_precision(synthetic_rec, edf_path, edf_atol, tmp_path):
    ds = open_store(convert_edf(edf_path, tmp_path / "rec.zarr", subject="P01"), kind="ieeg")
    n = synthetic_rec.n_times
    assert ds.sizes["time"] >= n  # EDF pads the last data record
    np.testing.assert_allclose(ds.signal.values[:n], synthetic_rec.data.T, atol=edf_atol)
    assert ds.attrs["sfreq"] == 256.0 and ds.attrs["units"] == "V"
    assert ds.attrs["subject"] == "P01" and ds.attrs["source_file"] == str(edf_path)
    assert ds.channel.values.tolist() == synthetic_rec.ch_names
    assert set(ds.ch_type.values) == {"seeg"} and not ds.bad.values.any()
    np.testing.assert_allclose(seizure_intervals(ds.attrs["annotations"]),
                               synthetic_rec.seizure_intervals(), atol=1 / 256)
    # every event is kept, not only the seizures
    assert len(ds.attrs["annotations"]["onset"]) == len(synthetic_rec.events)


def test_resampled_conversion(synthetic_rec, edf_path, tmp_path):
    ds = open_store(convert_edf(edf_path, tmp_path / "r.zarr", sfreq=100.0, ch_type="ecog"))
    raw = mne.io.read_raw_edf(edf_path, preload=True, verbose="error")
    whole = resample_signal(raw.get_data(), 256.0, 100.0).T
    assert ds.signal.shape == whole.shape == (math.ceil(raw.n_times * 100 / 256), 7)
    assert np.abs(ds.signal.values - whole).max() <= 1e-6 * np.abs(whole).max()
    assert ds.attrs["sfreq"] == 100.0 and ds.attrs["original_sfreq"] == 256.0
    assert set(ds.ch_type.values) == {"ecog"}
    np.testing.assert_allclose(seizure_intervals(ds.attrs["annotations"]),
                               synthetic_rec.seizure_intervals(), atol=1 / 256)


def test_channel_cap(synthetic_rec, edf_path, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="neuroattn"):
        ds = open_store(convert_edf(edf_path, tmp_path / "c.zarr", max_channels=5))
    assert ds.channel.values.tolist() == synthetic_rec.ch_names[:5]
    assert "first 5 of 7" in caplog.text and "dropped 2" in caplog.text


@pytest.fixture(scope="module", params=["edf", "bdf"])
def mixed_file(request, tmp_path_factory):
    """Two sEEG contacts, an ECG and a trigger channel, and a seizure marked 'SZ onset'."""
    rng = np.random.default_rng(1)
    info = mne.create_info(["LA1", "LA2", "ECG EKG", "Status"], 256.0,
                           ["seeg", "seeg", "ecg", "stim"])
    data = rng.standard_normal((4, 2560)) * 1e-5
    data[3] = 0.0
    raw = mne.io.RawArray(data, info, verbose=False)
    raw.set_annotations(mne.Annotations([2.0, 5.0], [3.0, 0.0], ["SZ onset", "button"]))
    path = tmp_path_factory.mktemp("mixed") / f"mixed.{request.param}"
    raw.export(path, fmt=request.param, verbose="error")
    return path, data


def test_non_data_channels_are_dropped_and_seizures_recognised(mixed_file, tmp_path, caplog):
    path, data = mixed_file
    with caplog.at_level(logging.INFO, logger="neuroattn"):
        ds = open_store(convert_edf(path, tmp_path / "m.zarr"))
    assert ds.channel.values.tolist() == ["LA1", "LA2"]
    assert "EKG (ecg)" in caplog.text and "Status (stim)" in caplog.text
    np.testing.assert_allclose(ds.signal.values[:2560], data[:2].T, atol=1e-8)
    assert ds.attrs["annotations"]["description"] == ["seizure/SZ onset", "button"]
    np.testing.assert_allclose(seizure_intervals(ds.attrs["annotations"]), [[2.0, 5.0]],
                               atol=1e-3)


def test_seizure_prefix_is_configurable(mixed_file, tmp_path):
    path, _ = mixed_file
    ds = open_store(convert_edf(path, tmp_path / "p.zarr", seizure_prefix="button"))
    assert ds.attrs["annotations"]["description"] == ["SZ onset", "seizure/button"]


def test_other_mne_formats_keep_positions_and_bads(synthetic_rec, tmp_path):
    raw = synthetic_rec.to_raw()
    raw.info["bads"] = ["LA3"]
    fif = tmp_path / "rec_raw.fif"
    raw.save(fif, verbose="error")
    ds = open_store(convert_edf(fif, tmp_path / "f.zarr"))
    assert ds.bad.values.tolist() == [False, False, True, False, False, False, False]
    pos = np.stack([ds[c].values for c in "xyz"], axis=1)
    np.testing.assert_allclose(pos, synthetic_rec.positions, atol=1e-7)
    np.testing.assert_allclose(ds.signal.values, synthetic_rec.data.T, rtol=1e-6)
    ds = open_store(convert_edf(fif, tmp_path / "g.zarr", max_channels=3))
    assert ds.channel.values.tolist() == ["LA1", "LA2", "LA4"]  # the bad one is dropped


def test_bad_inputs(tmp_path, edf_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        convert_edf(tmp_path / "nope.edf", tmp_path / "x.zarr")
    junk = tmp_path / "junk.edf"
    junk.write_text("not an EDF")
    with pytest.raises(ValueError, match="MNE cannot read .*junk.edf"):
        convert_edf(junk, tmp_path / "x.zarr")
    with pytest.raises(ValueError, match="is the source"):
        convert_edf(edf_path, edf_path, overwrite=True)
    raw = mne.io.RawArray(np.zeros((2, 100)), mne.create_info(["ECG", "TRIG"], 100.0,
                                                             ["ecg", "stim"]), verbose=False)
    with pytest.raises(ValueError, match="has no data channels.*'ecg', 'stim'"):
        raw_to_store(raw, tmp_path / "x.zarr")
    with pytest.raises(TypeError, match="needs an mne.io.Raw"):
        raw_to_store(np.zeros((2, 10)), tmp_path / "x.zarr")
    assert not (tmp_path / "x.zarr").exists()
