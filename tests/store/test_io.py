"""open_store / write_store: every validation error, atomicity, the append writer."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from neuroattn.store import (
    CorruptStoreError,
    IEEGStoreWriter,
    IncompleteStoreError,
    NonFiniteError,
    NotAStoreError,
    SchemaError,
    features_from_array,
    fixations_from_table,
    fmri_from_array,
    open_store,
    write_store,
)


def test_round_trip_keeps_values_coords_attrs(ieeg_ds, tmp_path):
    path = write_store(ieeg_ds, tmp_path / "rec.zarr", chunk_mb=0.01)
    ds = open_store(path, kind="ieeg")
    np.testing.assert_array_equal(ds.signal.values, ieeg_ds.signal.values)
    assert list(ds.channel.values) == list(ieeg_ds.channel.values)
    assert ds.attrs["annotations"] == ieeg_ds.attrs["annotations"]
    assert ds.attrs["neuroattn_status"] == "complete"
    # whole rows along time, all channels in a chunk
    assert ds.signal.encoding["chunks"][1] == 7
    assert ds.signal.data.numblocks[0] > 1


@pytest.mark.parametrize(
    "kind, ds",
    [
        ("fmri", fmri_from_array(np.ones((5, 9)), roi=["V1"] * 9, noise_ceiling=np.ones(9))),
        ("features", features_from_array(np.ones((3, 7, 8, 9), "float32"), source="test")),
        ("fixations", fixations_from_table({
            "subject": ["a", "a"], "image": ["i", "i"], "trial": [0, 0], "fixation": [0, 1],
            "x": [1.0, 2.0], "y": [3.0, 4.0], "duration": [0.2, 0.3]})),
    ],
)
def test_other_kinds_round_trip(kind, ds, tmp_path):
    path = write_store(ds, tmp_path / f"{kind}.zarr")
    back = open_store(path, kind=kind)
    for var in ds.data_vars:
        np.testing.assert_array_equal(back[var].values, ds[var].values)


def test_missing_dim_is_named(ieeg_ds, tmp_path):
    bad = ieeg_ds.rename({"channel": "electrode"})
    with pytest.raises(SchemaError, match=r"missing dim\(s\) \['channel'\]"):
        write_store(bad, tmp_path / "x.zarr", kind="ieeg")


def test_transposed_dims_suggest_transpose(ieeg_ds, tmp_path):
    with pytest.raises(SchemaError, match="transpose"):
        write_store(ieeg_ds.transpose("channel", "time"), tmp_path / "x.zarr")


def test_missing_attr_says_how_to_fix(ieeg_ds, tmp_path):
    path = write_store(ieeg_ds, tmp_path / "rec.zarr")
    meta = json.loads((path / "zarr.json").read_text())
    del meta["attributes"]["sfreq"]
    (path / "zarr.json").write_text(json.dumps(meta))
    with pytest.raises(SchemaError, match=r"missing the attribute 'sfreq'.*sampling rate"):
        open_store(path)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_nonfinite_on_write_names_location(ieeg_ds, tmp_path, value):
    ieeg_ds.signal[1500, 3] = value
    with pytest.raises(NonFiniteError, match=r"time=15.000 s, channel='LA4'"):
        write_store(ieeg_ds, tmp_path / "x.zarr")


def test_nonfinite_on_disk_found_by_full_check(ieeg_ds, tmp_path):
    path = write_store(ieeg_ds, tmp_path / "rec.zarr", chunk_mb=0.01)
    import zarr

    zarr.open_array(path / "signal", mode="r+")[2000, 0] = np.nan
    open_store(path, check="quick")  # quick skips values by design
    with pytest.raises(NonFiniteError, match=r"time=20.000 s, channel='LA1'"):
        open_store(path)


def test_wrong_dtype(ieeg_ds, tmp_path):
    ints = ieeg_ds.assign(signal=(ieeg_ds.signal * 1000).astype("int16"))
    with pytest.raises(SchemaError, match=r"dtype int16.*astype\('float32'\)"):
        write_store(ints, tmp_path / "x.zarr")


def test_time_coord_mismatching_sfreq(ieeg_ds, tmp_path):
    bad = ieeg_ds.assign_attrs(sfreq=250.0)
    with pytest.raises(SchemaError, match="does not match sfreq=250.0"):
        write_store(bad, tmp_path / "x.zarr")


def test_duplicate_channel_names(ieeg_ds, tmp_path):
    names = list(ieeg_ds.channel.values)
    names[2] = names[1]
    with pytest.raises(SchemaError, match="duplicate values \\['LA2'\\]"):
        write_store(ieeg_ds.assign_coords(channel=np.array(names, object)), tmp_path / "x.zarr")


def test_wrong_kind_is_reported(ieeg_ds, tmp_path):
    path = write_store(ieeg_ds, tmp_path / "rec.zarr")
    with pytest.raises(SchemaError, match="is a 'ieeg' store, but a 'fmri' store"):
        open_store(path, kind="fmri")


def test_missing_chunk(ieeg_ds, tmp_path):
    path = write_store(ieeg_ds, tmp_path / "rec.zarr", chunk_mb=0.01)
    (path / "signal" / "c" / "2" / "0").unlink()
    with pytest.raises(CorruptStoreError, match=r"chunks of 'signal' are missing \(first: c/2/0\)"):
        open_store(path, check="quick")


def test_corrupt_chunk(ieeg_ds, tmp_path):
    path = write_store(ieeg_ds, tmp_path / "rec.zarr", chunk_mb=0.01)
    (path / "signal" / "c" / "1" / "0").write_bytes(b"not zstd at all")
    with pytest.raises(CorruptStoreError, match="chunk c/1/0 of 'signal' cannot be decoded"):
        open_store(path)


def test_corrupt_metadata(ieeg_ds, tmp_path):
    path = write_store(ieeg_ds, tmp_path / "rec.zarr")
    (path / "zarr.json").write_text("{ truncated")
    with pytest.raises(CorruptStoreError, match="metadata .* cannot be read"):
        open_store(path)


def test_not_a_store(tmp_path):
    with pytest.raises(NotAStoreError, match="does not exist"):
        open_store(tmp_path / "nope.zarr")
    edf = tmp_path / "rec.edf"
    edf.write_bytes(b"0")
    with pytest.raises(NotAStoreError, match="convert edf"):
        open_store(edf)
    (tmp_path / "folder" / "inner.zarr").mkdir(parents=True)
    with pytest.raises(NotAStoreError, match="Did you mean .*inner.zarr"):
        open_store(tmp_path / "folder")


def test_refuses_to_overwrite_and_replaces_when_asked(ieeg_ds, tmp_path):
    path = write_store(ieeg_ds, tmp_path / "rec.zarr")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_store(ieeg_ds, path)
    write_store(ieeg_ds.isel(time=slice(0, 100)), path, overwrite=True)
    assert open_store(path).sizes["time"] == 100
    assert [p.name for p in tmp_path.iterdir()] == ["rec.zarr"]  # no temporaries left


_WRITER = """
import sys, numpy as np
from neuroattn.store import IEEGStoreWriter
with IEEGStoreWriter(sys.argv[1], ["A", "B", "C"], sfreq=100.0, chunk_s=1.0) as w:
    for i in range(100000):
        w.append(np.ones((100, 3), "float32"))
        if i == 3:
            print("writing", flush=True)
"""


def test_killed_writer_leaves_no_valid_store(tmp_path):
    """SIGKILL mid-append: nothing at the destination, and the temporary is rejected."""
    dst = tmp_path / "long.zarr"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(dst)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "writing"
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not dst.exists()
    leftovers = list(tmp_path.glob(".long.zarr.tmp-*"))
    assert leftovers, "the writer should have been killed mid-write"
    with pytest.raises(IncompleteStoreError, match="interrupted"):
        open_store(leftovers[0])


def test_killed_write_store_keeps_the_old_store(ieeg_ds, tmp_path):
    """An interrupted overwrite leaves the previous complete store in place."""
    path = write_store(ieeg_ds, tmp_path / "rec.zarr")
    script = (
        "import sys, numpy as np, xarray as xr, os, signal\n"
        "from neuroattn.store import ieeg_from_array, write_store\n"
        "import neuroattn.store.io as io\n"
        "orig = io._set_status\n"
        "def die(*a):\n    os.kill(os.getpid(), signal.SIGKILL)\n"
        "io._set_status = die\n"
        "write_store(ieeg_from_array(np.zeros((10, 2), 'float32'), 10.0), sys.argv[1],"
        " overwrite=True)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(path)], check=False)
    assert open_store(path).sizes["time"] == 3000


def test_append_writer_streams_chunks(tmp_path):
    path = tmp_path / "long.zarr"
    rng = np.random.default_rng(0)
    blocks = [rng.standard_normal((n, 5)).astype("float32") for n in (37, 250, 1, 400, 12)]
    with IEEGStoreWriter(path, [f"c{i}" for i in range(5)], sfreq=100.0, chunk_s=1.0) as w:
        for b in blocks:
            w.append(b)
            assert w._buffered < w.chunk_len  # never more than one chunk held
        w.set_annotations([1.0], [2.0], ["seizure"])
    ds = open_store(path, kind="ieeg")
    np.testing.assert_array_equal(ds.signal.values, np.concatenate(blocks))
    np.testing.assert_allclose(ds.time.values, np.arange(700) / 100.0)
    assert ds.signal.encoding["chunks"] == (100, 5)
    assert ds.attrs["annotations"]["description"] == ["seizure"]


def test_append_writer_rejects_bad_blocks(tmp_path):
    with IEEGStoreWriter(tmp_path / "a.zarr", ["a", "b", "c"], sfreq=10.0) as w:
        with pytest.raises(ValueError, match="looks transposed"):
            w.append(np.zeros((3, 50)))
        with pytest.raises(NonFiniteError):
            w.append(np.full((5, 3), np.nan))
        w.append(np.zeros((5, 3)))


def test_writer_error_discards_temporary(tmp_path):
    with pytest.raises(RuntimeError):
        with IEEGStoreWriter(tmp_path / "a.zarr", ["a"], sfreq=10.0, chunk_s=0.1) as w:
            w.append(np.zeros((5, 1)))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_zarr_v2_store_is_explained(tmp_path):
    v2 = tmp_path / "old.zarr"
    v2.mkdir()
    (v2 / ".zgroup").write_text('{"zarr_format": 2}')
    with pytest.raises(NotAStoreError, match="zarr v2"):
        open_store(v2)
    shutil.rmtree(v2)


def test_lazy_dataset_written_once_and_nan_rejected(ieeg_ds, tmp_path):
    """A dask-backed dataset is computed once; NaN found in what was written publishes nothing."""
    path = write_store(ieeg_ds, tmp_path / "rec.zarr", chunk_mb=0.01)
    lazy = open_store(path)
    assert lazy.signal.chunks is not None
    copy = write_store(lazy * 2, tmp_path / "copy.zarr", kind="ieeg")
    np.testing.assert_array_equal(open_store(copy).signal.values, ieeg_ds.signal.values * 2)
    with pytest.raises(NonFiniteError, match="channel='LA3'"):
        write_store(lazy.where(lazy.channel != "LA3"), tmp_path / "nan.zarr", kind="ieeg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.zarr", "rec.zarr"]
