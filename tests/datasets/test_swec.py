"""Tests of the SWEC iEEG HDF5 converter on files written in the real layout with h5py."""

from __future__ import annotations

import logging
import math

import h5py
import numpy as np
import pytest

from neuroattn.datasets import convert_swec, read_swec_info, resample_signal
from neuroattn.datasets.swec import SWECFormatError
from neuroattn.store import open_store, seizure_intervals

SFREQ = 256.0
CHUNK = int(180 * SFREQ)  # 3-minute chunks, as in the real files
SEIZURES = [(61.25, 80.5), (170.0, 185.75)]
SEIZURE_DTYPE = [("onsets", "<f8"), ("offsets", "<f8")]


def _lz4hc():
    hdf5plugin = pytest.importorskip("hdf5plugin")
    return {"compression": hdf5plugin.Blosc(cname="lz4hc", clevel=9)}


def write_swec(path, data, *, rate_on="root", seizures=SEIZURES, compressed=True,
               seizure_shape=None):
    """A SWEC-layout file: data/ieeg (C, T) in 3-min chunks, sampling_rate, data/seizures."""
    with h5py.File(path, "w") as f:
        chunks = (data.shape[0], min(CHUNK, data.shape[1]))
        ieeg = f.create_dataset("data/ieeg", data=data, chunks=chunks,
                                **(_lz4hc() if compressed else {}))
        (f if rate_on == "root" else ieeg).attrs["sampling_rate"] = SFREQ
        if seizures is not None:
            table = np.array(seizures, dtype=SEIZURE_DTYPE)
            f.create_dataset("data/seizures", data=table.reshape(seizure_shape or table.shape))
    return path


@pytest.fixture(scope="module")
def data():
    """6 channels x 200 s at 256 Hz (one whole 3-min chunk and a partial one)."""
    rng = np.random.default_rng(7)
    t = np.arange(int(200 * SFREQ)) / SFREQ
    sines = np.sin(2 * np.pi * np.array([[3.0], [7.0], [11.0], [19.0], [23.0], [41.0]]) * t)
    return (sines * 80.0 + rng.standard_normal((6, t.size)) * 20.0).astype("float32")


@pytest.fixture(scope="module")
def swec_file(data, tmp_path_factory):
    return write_swec(tmp_path_factory.mktemp("swec") / "ID07_total.h5", data)


@pytest.mark.parametrize("rate_on", ["root", "data/ieeg"])
@pytest.mark.parametrize("seizure_shape", [None, (2, 1)])
def test_round_trip_is_exact(data, tmp_path, rate_on, seizure_shape):
    src = write_swec(tmp_path / "ID07_total.h5", data, rate_on=rate_on,
                     seizure_shape=seizure_shape)
    ds = open_store(convert_swec(src, tmp_path / "ID07.zarr"), kind="ieeg")
    np.testing.assert_array_equal(ds.signal.values, data.T)
    assert ds.attrs["sfreq"] == SFREQ and ds.attrs["subject"] == "ID07"
    assert ds.attrs["dataset"] == "SWEC iEEG" and ds.attrs["units"] == "a.u."
    assert ds.channel.values.tolist() == [f"ch{i}" for i in range(6)]
    assert set(ds.ch_type.values) == {"seeg"} and not ds.bad.values.any()
    np.testing.assert_array_equal(seizure_intervals(ds.attrs["annotations"]), SEIZURES)


def test_read_swec_info_reads_no_samples(swec_file, monkeypatch):
    def no_reading(self, key):
        if self.name == "/data/ieeg":
            raise AssertionError("read_swec_info read samples")
        return original(self, key)

    original = h5py.Dataset.__getitem__
    monkeypatch.setattr(h5py.Dataset, "__getitem__", no_reading)
    info = read_swec_info(swec_file)
    assert (info.subject, info.n_channels, info.n_times, info.sfreq) == ("ID07", 6, 51200, SFREQ)
    assert info.duration_s == 200.0 and info.chunks == (6, CHUNK) and not info.virtual
    np.testing.assert_array_equal(info.seizures, SEIZURES)


def test_resampling_while_converting_matches_a_whole_signal_resample(data, swec_file,
                                                                     tmp_path):
    ds = open_store(convert_swec(swec_file, tmp_path / "r.zarr", sfreq=100.0))
    whole = resample_signal(data.astype("float64"), SFREQ, 100.0).T
    assert ds.signal.shape == whole.shape == (math.ceil(51200 * 100 / 256), 6)
    assert np.abs(ds.signal.values - whole).max() <= 1e-6 * np.abs(whole).max()
    assert ds.attrs["sfreq"] == 100.0 and ds.attrs["original_sfreq"] == SFREQ
    np.testing.assert_array_equal(seizure_intervals(ds.attrs["annotations"]), SEIZURES)


def test_channel_cap_and_selection(data, swec_file, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="neuroattn"):
        ds = open_store(convert_swec(swec_file, tmp_path / "c.zarr", max_channels=4))
    assert ds.channel.values.tolist() == ["ch0", "ch1", "ch2", "ch3"]
    np.testing.assert_array_equal(ds.signal.values, data[:4].T)
    assert "first 4 of 6" in caplog.text and "dropped 2" in caplog.text
    ds = open_store(convert_swec(swec_file, tmp_path / "s.zarr", channels=["ch5", "ch1"]))
    np.testing.assert_array_equal(ds.signal.values, data[[1, 5]].T)


def test_missing_or_empty_seizures_give_no_annotations(data, tmp_path):
    for name, seizures in (("ID01_part_1.h5", None), ("ID02_part_1.h5", [])):
        src = write_swec(tmp_path / name, data[:, :2000], seizures=seizures, compressed=False)
        ds = open_store(convert_swec(src, tmp_path / f"{name}.zarr"))
        assert seizure_intervals(ds.attrs["annotations"]).shape == (0, 2)
        assert ds.attrs["subject"] == name[:4]


def test_time_by_channel_files_are_read_transposed(data, tmp_path):
    src = tmp_path / "ID03_total.h5"
    with h5py.File(src, "w") as f:
        f.create_dataset("data/ieeg", data=data.T, chunks=(CHUNK, 6))
        f.attrs["sampling_rate"], f.attrs["channels"] = SFREQ, 6
    ds = open_store(convert_swec(src, tmp_path / "t.zarr"))
    np.testing.assert_array_equal(ds.signal.values, data.T)


def test_a_virtual_total_file_joins_its_parts(data, tmp_path):
    parts = [data[:, :30_000], data[:, 30_000:]]
    layout = h5py.VirtualLayout(shape=data.shape, dtype=data.dtype)
    start = 0
    for k, part in enumerate(parts, 1):
        path = write_swec(tmp_path / f"ID09_part_{k}.h5", part, seizures=None)
        layout[:, start:start + part.shape[1]] = h5py.VirtualSource(
            path.name, "data/ieeg", shape=part.shape)
        start += part.shape[1]
    total = tmp_path / "ID09_total.h5"
    with h5py.File(total, "w") as f:
        f.create_virtual_dataset("data/ieeg", layout, fillvalue=0)
        f.attrs["sampling_rate"] = SFREQ
        f.create_dataset("data/seizures", data=np.array(SEIZURES, dtype=SEIZURE_DTYPE))
    assert read_swec_info(total).virtual
    ds = open_store(convert_swec(total, tmp_path / "v.zarr"))
    np.testing.assert_array_equal(ds.signal.values, data.T)
    (tmp_path / "ID09_part_2.h5").unlink()  # HDF5 would silently read zeros
    with pytest.raises(SWECFormatError, match=r"missing: \['ID09_part_2.h5'\]"):
        convert_swec(total, tmp_path / "v2.zarr")
    assert not (tmp_path / "v2.zarr").exists()


def test_existing_destination_needs_overwrite(swec_file, tmp_path):
    dst = convert_swec(swec_file, tmp_path / "o.zarr", sfreq=128.0)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        convert_swec(swec_file, dst)
    assert open_store(convert_swec(swec_file, dst, overwrite=True)).attrs["sfreq"] == SFREQ


def _bad_file(tmp_path, kind):
    path = tmp_path / f"{kind}.h5"
    if kind == "text":
        path.write_text("not hdf5")
        return path
    with h5py.File(path, "w") as f:
        if kind == "no_ieeg":
            f.create_dataset("eeg", data=np.zeros((2, 10)))
        elif kind == "no_rate":
            f.create_dataset("data/ieeg", data=np.zeros((2, 10)))
        elif kind == "one_d":
            f.create_dataset("data/ieeg", data=np.zeros(10))
            f.attrs["sampling_rate"] = 100.0
        elif kind == "bad_seizures":
            f.create_dataset("data/ieeg", data=np.zeros((2, 10)))
            f.attrs["sampling_rate"] = 100.0
            f.create_dataset("data/seizures", data=np.zeros((2, 2)))
        elif kind == "wide":
            f.create_dataset("data/ieeg", data=np.zeros((10, 2)))
            f.attrs["sampling_rate"] = 100.0
    return path


@pytest.mark.parametrize(("kind", "match"), [
    ("no_ieeg", r"not a SWEC iEEG file: it has no dataset 'data/ieeg' \(top-level keys: \['eeg'"),
    ("no_rate", "no sampling rate.*'sampling_rate'"),
    ("one_d", "1-D with shape"),
    ("bad_seizures", "expected a compound array with fields 'onsets' and 'offsets'"),
    ("wide", "more channels than samples"),
    ("text", "not a readable HDF5 file"),
])
def test_bad_inputs_raise_clear_errors(tmp_path, kind, match):
    src = _bad_file(tmp_path, kind)
    with pytest.raises(SWECFormatError, match=match):
        read_swec_info(src)
    with pytest.raises(SWECFormatError, match=match):
        convert_swec(src, tmp_path / "x.zarr")
    assert not (tmp_path / "x.zarr").exists()


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        convert_swec(tmp_path / "ID01_total.h5", tmp_path / "x.zarr")


def test_unavailable_codec_asks_for_hdf5plugin(swec_file, tmp_path, monkeypatch):
    monkeypatch.setattr(h5py.h5z, "filter_avail", lambda code: False)
    with pytest.raises(ImportError, match="pip install hdf5plugin"):
        convert_swec(swec_file, tmp_path / "x.zarr")
    assert not (tmp_path / "x.zarr").exists()


def test_a_chunk_that_fails_to_decode_asks_for_hdf5plugin(data, tmp_path, monkeypatch):
    src = write_swec(tmp_path / "ID05_total.h5", data, compressed=False)
    original = h5py.Dataset.__getitem__

    def failing(self, key):
        if self.name == "/data/ieeg":
            raise OSError("Can't synchronously read data (can't open directory "
                          "(/usr/local/hdf5/lib/plugin). Please verify its existence)")
        return original(self, key)

    monkeypatch.setattr(h5py.Dataset, "__getitem__", failing)
    monkeypatch.setattr("neuroattn.datasets.swec._load_plugins", lambda: False)
    with pytest.raises(ImportError, match="lz4hc-compressed.*`pip install hdf5plugin`"):
        convert_swec(src, tmp_path / "x.zarr")
    assert not list(tmp_path.glob("*x.zarr*"))  # nothing half-written, not even hidden
