"""Store faults of issue 19: racing writers, stale readers, unchecked chunks, lost attrs,
interrupted writes, and transposed input. Every case ends in a named neuroattn error or a
clean recovery, never in silently wrong data."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import zarr

from neuroattn._atomic import (
    DestinationExistsError,
    atomic_path,
    clean_leftovers,
    host_id,
    leftovers,
)
from neuroattn.errors import NeuroattnError
from neuroattn.store import (
    CorruptStoreError,
    IEEGStoreWriter,
    IEEGWindows,
    IncompleteStoreError,
    SchemaError,
    fixations_from_table,
    ieeg_from_array,
    open_store,
    read_batch,
    write_store,
)
from neuroattn.store.errors import StoreChangedError
from neuroattn.store.schema import GENERATION_ATTR

NAMES = ["a", "b", "c", "d"]


def _ds(n: int = 600, value: float | None = None, seed: int = 0):
    data = (np.full((n, 4), value, "float32") if value is not None else
            np.random.default_rng(seed).standard_normal((n, 4)).astype("float32"))
    return ieeg_from_array(data, 100.0, ch_names=NAMES, bad=[0, 1, 0, 0],
                           positions=np.arange(12.0).reshape(4, 3) / 100)


@pytest.fixture
def rec(tmp_path):
    """A 4-channel store in 100-sample chunks; channel "b" is bad, positions are known."""
    return write_store(_ds(), tmp_path / "rec.zarr", chunks={"signal": (100, 4)},
                       verbose="ERROR")


def _run_child(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script), *map(str, args)],
                          capture_output=True, text=True, timeout=120, check=False)


# -- 3: two writers on one path with overwrite=False -------------------------------------


def test_two_atomic_path_writers_interleaved_one_wins(tmp_path):
    dst = tmp_path / "out.txt"
    first, second = atomic_path(dst, overwrite=False), atomic_path(dst, overwrite=False)
    tmp_a, tmp_b = first.__enter__(), second.__enter__()
    tmp_a.write_text("A")
    tmp_b.write_text("B")
    first.__exit__(None, None, None)
    with pytest.raises(DestinationExistsError,
                       match=r"out\.txt appeared while this write was running.*overwrite=True"):
        second.__exit__(None, None, None)
    assert dst.read_text() == "A"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_two_atomic_path_directory_writers_interleaved_one_wins(tmp_path):
    dst = tmp_path / "out.d"
    first, second = atomic_path(dst, overwrite=False), atomic_path(dst, overwrite=False)
    for cm, text in ((first, "A"), (second, "B")):
        tmp = cm.__enter__()
        tmp.mkdir()
        (tmp / "f").write_text(text)
    first.__exit__(None, None, None)
    with pytest.raises(DestinationExistsError, match="choose another path"):
        second.__exit__(None, None, None)
    assert (dst / "f").read_text() == "A"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.d"]


def test_two_store_writers_interleaved_loser_is_refused(tmp_path):
    dst = tmp_path / "long.zarr"
    w1 = IEEGStoreWriter(dst, NAMES, sfreq=100.0, chunk_s=1.0)
    w2 = IEEGStoreWriter(dst, NAMES, sfreq=100.0, chunk_s=1.0)
    w1.append(np.ones((250, 4)))
    w2.append(np.full((250, 4), 2.0))
    w1.close()
    with pytest.raises(DestinationExistsError, match=r"long\.zarr appeared.*overwrite=True") as err:
        w2.close()
    assert isinstance(err.value, FileExistsError) and isinstance(err.value, NeuroattnError)
    assert float(open_store(dst).signal.values.max()) == 1.0  # the winner's data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.zarr"]


def test_overwriting_writers_interleaved_last_wins(tmp_path):
    dst = write_store(_ds(value=0.0), tmp_path / "rec.zarr", verbose="ERROR")
    w1 = IEEGStoreWriter(dst, NAMES, sfreq=100.0, chunk_s=1.0, overwrite=True)
    w2 = IEEGStoreWriter(dst, NAMES, sfreq=100.0, chunk_s=1.0, overwrite=True)
    w1.append(np.ones((50, 4)))
    w2.append(np.full((70, 4), 2.0))
    w1.close()
    w2.close()
    assert open_store(dst).signal.shape == (70, 4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec.zarr"]


_RACER = '''
import numpy as np

def write_racer(path, value, barrier, queue):
    """write_store, paused after its last chunk until the other racer got there too."""
    import neuroattn.store.io as io
    from neuroattn.store import ieeg_from_array, write_store

    finish = io._set_status

    def finish_then_wait(tmp, status):
        finish(tmp, status)
        barrier.wait(60)

    io._set_status = finish_then_wait
    try:
        write_store(ieeg_from_array(np.full((300, 2), value, "float32"), 100.0), path,
                    verbose="ERROR")
        queue.put((value, "ok", ""))
    except Exception as err:
        queue.put((value, type(err).__name__, str(err)))
'''


def test_two_processes_racing_write_store_one_wins(tmp_path, monkeypatch):
    helpers = tmp_path / "helpers"
    helpers.mkdir()
    (helpers / "store_racer_helper.py").write_text(_RACER)
    monkeypatch.syspath_prepend(str(helpers))  # spawned children inherit sys.path
    import store_racer_helper

    ctx = multiprocessing.get_context("spawn")
    barrier, queue = ctx.Barrier(2), ctx.Queue()
    dst = tmp_path / "out" / "rec.zarr"
    procs = [ctx.Process(target=store_racer_helper.write_racer, args=(dst, v, barrier, queue))
             for v in (1.0, 2.0)]
    for p in procs:
        p.start()
    results = sorted((queue.get(timeout=120) for _ in procs), key=lambda r: r[1] != "ok")
    for p in procs:
        p.join(60)
    (winner, ok, _), (_, loser, message) = results
    assert ok == "ok" and loser == "DestinationExistsError"
    assert "appeared while this write was running" in message and "overwrite=True" in message
    np.testing.assert_array_equal(open_store(dst).signal.values, np.full((300, 2), winner))
    assert sorted(p.name for p in dst.parent.iterdir()) == ["rec.zarr"]


def test_existing_destination_is_refused_before_writing(rec):
    with pytest.raises(DestinationExistsError, match=r"rec\.zarr already exists: nothing was "
                       r"written; pass overwrite=True"):
        IEEGStoreWriter(rec, NAMES, sfreq=100.0)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_store(_ds(), rec)


# -- 4: a reader opened before an overwrite ---------------------------------------------


@pytest.mark.parametrize("chunks", ["auto", None])
def test_lazy_reader_after_overwrite_raises_instead_of_nan(rec, chunks):
    ds = open_store(rec, chunks=chunks)
    write_store(_ds(150, seed=1), rec, chunks={"signal": (100, 4)}, overwrite=True,
                verbose="ERROR")
    with pytest.raises(StoreChangedError,
                       match=r"rec\.zarr was overwritten after it was opened.*reopen it"):
        ds.signal.values  # noqa: B018 - the read is the test
    assert open_store(rec).signal.shape == (150, 4)  # reopening reads the new store


def test_windows_reader_after_overwrite_raises(rec):
    windows = IEEGWindows(rec, window_s=1.0, cache_chunks=1)
    read_batch(windows, [0, 1])
    write_store(_ds(600, seed=2), rec, chunks={"signal": (100, 4)}, overwrite=True,
                verbose="ERROR")
    with pytest.raises(StoreChangedError, match="was overwritten after it was opened"):
        read_batch(windows, [4, 5])


def test_reader_of_unstamped_store_notices_replacement(rec):
    meta = json.loads((rec / "zarr.json").read_text())
    del meta["attributes"][GENERATION_ATTR]  # as written before generation stamps
    (rec / "zarr.json").write_text(json.dumps(meta))
    ds = open_store(rec)
    write_store(_ds(seed=3), rec, chunks={"signal": (100, 4)}, overwrite=True, verbose="ERROR")
    with pytest.raises(StoreChangedError, match="reopen it"):
        ds.signal.values  # noqa: B018


def test_attribute_update_in_place_is_not_an_overwrite(rec):
    ds = open_store(rec)
    zarr.open_group(rec, mode="r+").attrs["note"] = "reviewed"
    np.testing.assert_array_equal(ds.signal.values, _ds().signal.values)


def test_missing_chunk_on_read_is_an_error_not_fill_values(rec):
    ds = open_store(rec, check="none")
    windows = IEEGWindows(rec, window_s=1.0, check="none")
    (rec / "signal" / "c" / "3" / "0").unlink()
    with pytest.raises(CorruptStoreError, match=r"chunk c/3/0 of 'signal' is missing"):
        ds.signal.values  # noqa: B018
    with pytest.raises(CorruptStoreError, match=r"chunk c/3/0 of 'signal' is missing"):
        read_batch(windows, [3])


def test_undecodable_chunk_in_loader_is_named(rec):
    windows = IEEGWindows(rec, window_s=1.0, check="none")
    (rec / "signal" / "c" / "2" / "0").write_bytes(b"garbage")
    with pytest.raises(CorruptStoreError, match=r"chunk c/2/0 of 'signal' cannot be decoded"):
        read_batch(windows, [2])


# -- 5: every array checked, coordinates always --------------------------------------------


@pytest.mark.parametrize("array", ["time", "channel", "ch_type", "bad", "x", "y", "z"])
@pytest.mark.parametrize("damage", ["deleted", "garbage"])
def test_damaged_coordinate_chunk_is_named_in_every_check_mode(rec, array, damage):
    chunk = rec / array / "c" / "0"
    if damage == "deleted":
        chunk.unlink()
        expected = rf"chunk c/0 of '{array}' is missing"
    else:
        chunk.write_bytes(b"not zstd at all")
        expected = rf"chunk c/0 of '{array}' cannot be decoded"
    for check in ("full", "quick", "none"):
        with pytest.raises(CorruptStoreError, match=expected) as err:
            open_store(rec, check=check)
        assert "sfreq" not in str(err.value) and "duplicate" not in str(err.value)
        assert str(rec) in str(err.value)


def test_full_check_decodes_every_table_column(tmp_path):
    table = {"subject": ["s1"] * 4, "image": ["i"] * 4, "trial": [0] * 4,
             "fixation": [0, 1, 2, 3], "x": [1.0] * 4, "y": [2.0] * 4, "duration": [0.2] * 4}
    path = write_store(fixations_from_table(table), tmp_path / "fix.zarr", verbose="ERROR")
    (path / "subject" / "c" / "0").write_bytes(b"garbage")
    open_store(path, check="quick")  # quick never decodes table columns
    with pytest.raises(CorruptStoreError, match=r"chunk c/0 of 'subject' cannot be decoded"):
        open_store(path, check="full")
    (path / "trial" / "c" / "0").unlink()
    with pytest.raises(CorruptStoreError, match=r"chunks of 'trial' are missing \(first: c/0\)"):
        open_store(path, check="quick")


# -- 7: bookkeeping attrs of multi-chunk writer stores -------------------------------------


@pytest.mark.parametrize("n_chunks", [1, 4])
def test_writer_keeps_kind_and_schema_attrs(tmp_path, n_chunks):
    path = tmp_path / "w.zarr"
    with IEEGStoreWriter(path, NAMES, sfreq=100.0, chunk_s=1.0, attrs={"subject": "P1"}) as w:
        w.append(np.zeros((100 * n_chunks, 4)))
    attrs = json.loads((path / "zarr.json").read_text())["attributes"]
    assert attrs["neuroattn_kind"] == "ieeg" and attrs["neuroattn_schema"] == 1
    assert attrs["neuroattn_status"] == "complete" and attrs["subject"] == "P1"
    assert len(attrs[GENERATION_ATTR]) == 32
    assert open_store(path, kind="ieeg").sizes["time"] == 100 * n_chunks


# -- interrupted writes: stale temporaries, SIGKILL around the publish -----------------------

_KILLED_WRITE = """
import sys, time, numpy as np
import neuroattn.store.io as io
from neuroattn.store import ieeg_from_array, write_store

def hang(tmp, status):
    print("written", flush=True)
    time.sleep(600)

io._set_status = hang
x = np.random.default_rng(0).standard_normal((200_000, 8)).astype("float32")
write_store(ieeg_from_array(x, 256.0), sys.argv[1], verbose="ERROR")
"""


def test_killed_write_is_reported_then_cleaned_by_the_next_write(tmp_path, caplog):
    dst = tmp_path / "rec.zarr"
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITE, str(dst)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "written"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    (left,) = leftovers(dst)
    assert left.pid == proc.pid and left.abandoned
    with pytest.raises(IncompleteStoreError, match=r"rec\.zarr does not exist: an interrupted "
                       r"write left .*\.rec\.zarr\.tmp-.*; rerun the write"):
        open_store(dst)
    with caplog.at_level(logging.WARNING, logger="neuroattn"):
        write_store(_ds(), dst, verbose="WARNING")
    assert f"removed {left.path}, left by an interrupted write of {dst}" in caplog.text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec.zarr"]
    assert open_store(dst).sizes["time"] == 600


def test_live_writers_temporary_is_never_removed(tmp_path):
    dst = tmp_path / "rec.zarr"
    live = IEEGStoreWriter(dst, NAMES, sfreq=100.0, chunk_s=1.0)
    live.append(np.zeros((100, 4)))  # its temporary now exists
    write_store(_ds(), dst, verbose="ERROR")
    assert [item.path for item in leftovers(dst)] == [live._tmp]
    with pytest.raises(DestinationExistsError):
        live.close()
    assert leftovers(dst) == []


def test_other_hosts_and_recent_unowned_temporaries_are_kept(tmp_path):
    dst = tmp_path / "rec.zarr"
    other = "0" * 8 if host_id() != "0" * 8 else "1" * 8
    kept = [tmp_path / f".rec.zarr.tmp-{other}-1-abcdef12", tmp_path / ".rec.zarr.tmp-abcdef12"]
    old = tmp_path / ".rec.zarr.tmp-12345678"
    for path in (*kept, old):
        path.mkdir()
    os.utime(old, (0, 0))  # an unowned leftover from 1970: abandoned
    clean_leftovers(dst)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in kept)


_KILLED_PUBLISH = """
import os, signal, sys, numpy as np
import neuroattn._atomic as atomic
from neuroattn.store import ieeg_from_array, write_store

where = sys.argv[2]
move_aside, remove = atomic._move_aside, atomic.remove

def die_after_move_aside(dst):
    moved = move_aside(dst)
    os.kill(os.getpid(), signal.SIGKILL)

def die_before_removing_old(path):
    if ".old-" in path.name:
        os.kill(os.getpid(), signal.SIGKILL)
    remove(path)

if where == "aside":
    atomic._move_aside = die_after_move_aside
else:
    atomic.remove = die_before_removing_old
write_store(ieeg_from_array(np.zeros((50, 2), "float32"), 10.0), sys.argv[1], overwrite=True,
            verbose="ERROR")
"""


def test_kill_between_move_aside_and_rename_keeps_the_old_store_recoverable(rec, caplog):
    proc = _run_child(_KILLED_PUBLISH, rec, "aside")
    assert proc.returncode == -signal.SIGKILL
    assert not rec.exists()
    with pytest.raises(IncompleteStoreError, match=r"interrupted after moving the previous "
                       r"store aside to .*\.rec\.zarr\.old-.*; rename that back to rec\.zarr"):
        open_store(rec)
    with caplog.at_level(logging.WARNING, logger="neuroattn"):
        clean_leftovers(rec)  # what the next write of rec.zarr does first
    assert "restored" in caplog.text
    np.testing.assert_array_equal(open_store(rec).signal.values, _ds().signal.values)
    assert sorted(p.name for p in rec.parent.iterdir()) == ["rec.zarr"]


def test_kill_after_rename_publishes_the_new_store_and_next_write_cleans(rec):
    proc = _run_child(_KILLED_PUBLISH, rec, "after")
    assert proc.returncode == -signal.SIGKILL
    assert open_store(rec).signal.shape == (50, 2)  # the new store is complete in place
    assert [item.tag for item in leftovers(rec)] == ["old"]
    write_store(_ds(), rec, overwrite=True, verbose="ERROR")
    assert sorted(p.name for p in rec.parent.iterdir()) == ["rec.zarr"]


# -- ieeg_from_array: the transposed-block rule -------------------------------------------


def test_ieeg_from_array_refuses_what_looks_transposed():
    with pytest.raises(SchemaError, match=r"shape \(3, 100\): fewer samples \(3\) than channels "
                       r"\(100\).*pass data\.T.*channels_last=True"):
        ieeg_from_array(np.zeros((3, 100)), 10.0)
    assert ieeg_from_array(np.zeros((3, 100)), 10.0, channels_last=True).signal.shape == (3, 100)
    assert ieeg_from_array(np.zeros((3, 100)), 10.0, channels_last=False).signal.shape == (100, 3)
    named = ieeg_from_array(np.zeros((3, 100)), 10.0, ch_names=[f"c{i}" for i in range(100)])
    assert named.sizes["channel"] == 100  # names say how many channels: not ambiguous


def test_writer_refuses_transposed_block_as_schema_error(tmp_path):
    with IEEGStoreWriter(tmp_path / "a.zarr", ["a", "b", "c"], sfreq=10.0) as w:
        with pytest.raises(SchemaError, match=r"shape \(3, 50\).*looks transposed: pass block\.T"):
            w.append(np.zeros((3, 50)))
        w.append(np.zeros((5, 3)))


# -- more store and builder inputs that used to pass silently or as raw errors ------------


@pytest.mark.parametrize("array", ["bad", "x"])
def test_array_without_metadata_is_named_not_dropped(rec, array):
    (rec / array / "zarr.json").unlink()
    with pytest.raises(CorruptStoreError, match=rf"the array '{array}' has no zarr\.json"):
        open_store(rec, check="none")


def test_garbled_array_metadata_is_named(rec):
    (rec / "time" / "zarr.json").write_text("{not json")
    with pytest.raises(CorruptStoreError, match=r"metadata of the array 'time' \(zarr\.json\)"):
        open_store(rec)


@pytest.mark.parametrize("version", [99, "one"])
def test_other_schema_version_is_refused(rec, version):
    meta = json.loads((rec / "zarr.json").read_text())
    meta["attributes"]["neuroattn_schema"] = version
    (rec / "zarr.json").write_text(json.dumps(meta))
    with pytest.raises(SchemaError, match=rf"'neuroattn_schema'\] = {version!r}.*upgrade"):
        open_store(rec)


def test_bad_flags_stored_as_strings_are_refused(tmp_path):
    ds = _ds().assign_coords(bad=("channel", np.array(["False", "True", "False", "no"], object)))
    with pytest.raises(SchemaError, match="Coordinate 'bad' has dtype object; it must hold "
                       "booleans"):
        write_store(ds, tmp_path / "x.zarr")


@pytest.mark.parametrize("kwargs, message", [
    ({"data": np.zeros((100, 0))}, r"have no channels"),
    ({"sfreq": None}, r"sfreq is required"),
    ({"sfreq": "256"}, r"sfreq='256' is a str"),
    ({"ch_names": ["a", "b"]}, r"Got 2 channel names for 3 channels"),
    ({"ch_types": ["seeg", "seeg"]}, r"Got 2 channel types for 3 channels"),
    ({"positions": np.zeros((3, 2))}, r"positions must be \(n_channels, 3\)"),
    ({"bad": [True, False]}, r"bad flags of shape \(2,\) for 3 channels"),
    ({"bad": ["no", "yes", "no"]}, r"bad flags must be True/False"),
    ({"annotations": {"onset": [1.0, 2.0], "duration": [1.0], "description": ["s", "x"]}},
     r"onset 2, duration 1"),
])
def test_ieeg_builder_refuses_bad_input_as_schema_error(kwargs, message):
    args = {"data": np.zeros((100, 3)), "sfreq": 100.0, **kwargs}
    with pytest.raises(SchemaError, match=message):
        ieeg_from_array(args.pop("data"), **args)


def test_empty_recording_is_not_written(tmp_path):
    ds = ieeg_from_array(np.zeros((0, 3)), 100.0, channels_last=True)
    with pytest.raises(SchemaError, match="hold no samples"):
        write_store(ds, tmp_path / "x.zarr")


def test_fixation_table_refuses_dicts_and_words(tmp_path):
    table = {"subject": ["s1"], "image": ["a.jpg"], "trial": [0], "fixation": [0],
             "x": [10.0], "y": [5.0], "duration": [0.2]}
    with pytest.raises(SchemaError, match=r"column 'subject' must hold one name or number"):
        fixations_from_table({**table, "subject": [{"id": 1}]})
    with pytest.raises(SchemaError, match=r"column 'x' must be numeric"):
        fixations_from_table({**table, "x": ["left"]})


def test_writer_refuses_complex_blocks_and_empty_close(tmp_path):
    writer = IEEGStoreWriter(tmp_path / "a.zarr", ["a", "b"], sfreq=10.0)
    with pytest.raises(SchemaError, match="dtype complex128; iEEG samples must be real"):
        writer.append(np.zeros((5, 2), complex))
    with pytest.raises(IncompleteStoreError, match=r"Nothing was appended to .*a\.zarr"):
        writer.close()
    nan = np.zeros((5, 2))
    nan[3, 1] = np.nan
    with pytest.raises(NeuroattnError, match=r"holds NaN/Inf in channel\(s\) \['b'\]"):
        IEEGStoreWriter(tmp_path / "b.zarr", ["a", "b"], sfreq=10.0).append(nan)
