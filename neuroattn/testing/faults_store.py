"""Fault cases of the store layer: damaged arrays, interrupted and racing writers.

Every array of an iEEG store (``signal`` and the coordinates ``time``,
``channel``, ``ch_type``, ``bad``, ``x``, ``y``, ``z``) gets each kind of
damage; then come the root metadata, the values, interrupted writes
(including real SIGKILLs), two writers on one path, lazy readers across an
overwrite, and the block writer.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from neuroattn.testing.faults import CaseContext, Expected, FaultCase, Silent
from neuroattn.testing.faults_fixtures import BAD_CHANNEL, CHANNELS, garble, truncate

#: Every array of the template store and the path of its first chunk.
ARRAYS = {"signal": "c/0/0", "time": "c/0", "channel": "c/0", "ch_type": "c/0", "bad": "c/0",
          "x": "c/0", "y": "c/0", "z": "c/0"}


def _names(array: str) -> tuple[str, ...]:
    """Loose fragments that name an array in a message."""
    return (f"'{array}'", f'"{array}"', f"{array}/", f"array {array}", f"`{array}`")


def _edit_json(path: Path, edit: Callable[[dict], None]) -> None:
    meta = json.loads(path.read_text())
    edit(meta)
    path.write_text(json.dumps(meta))


def _shrink(meta: dict) -> None:
    meta["shape"][0] -= 1


DAMAGE: dict[str, tuple[str, Callable[[Path, str], Any]]] = {
    "chunk-deleted": ("its first chunk file deleted",
                      lambda store, a: (store / a / ARRAYS[a]).unlink()),
    "chunk-garbage": ("its first chunk overwritten with random bytes",
                      lambda store, a: garble(store / a / ARRAYS[a])),
    "chunk-truncated": ("its first chunk cut in half",
                        lambda store, a: truncate(store / a / ARRAYS[a], 0.5)),
    "meta-deleted": ("its zarr.json deleted (chunks still there)",
                     lambda store, a: (store / a / "zarr.json").unlink()),
    "meta-garbage": ("its zarr.json replaced by text that is not JSON",
                     lambda store, a: (store / a / "zarr.json").write_text("{not json")),
    "meta-shape": ("its zarr.json claiming one element fewer along the first axis",
                   lambda store, a: _edit_json(store / a / "zarr.json", _shrink)),
}


def _open_damaged(array: str, damage: str, check: str) -> Callable[[CaseContext], Any]:
    def run(ctx: CaseContext) -> None:
        from neuroattn.store import open_store

        store = ctx.shared.store(ctx.tmp / "rec.zarr")
        DAMAGE[damage][1](store, array)
        ds = open_store(store, check=check)
        ds.load()  # whatever was not checked is read here, as a user would
    return run


def _array_cases() -> list[FaultCase]:
    from neuroattn.store.errors import StoreError

    cases = []
    for damage, (what, _) in DAMAGE.items():
        for array in ARRAYS:
            cases.append(FaultCase(
                f"store.{array}.{damage}", "store",
                f"open_store(check='full') on a store whose '{array}' array has {what}",
                Expected.error(*_names(array), error_class=StoreError),
                _open_damaged(array, damage, "full")))
    for array in ARRAYS:
        cases.append(FaultCase(
            f"store.{array}.chunk-deleted-quick", "store",
            f"open_store(check='quick') (what training uses) with a chunk of '{array}' deleted",
            Expected.error(*_names(array), error_class=StoreError),
            _open_damaged(array, "chunk-deleted", "quick")))
    return cases


def _root_attrs(edit: Callable[[dict], None], kind: str | None = None
                ) -> Callable[[CaseContext], Any]:
    def run(ctx: CaseContext) -> None:
        from neuroattn.store import open_store

        store = ctx.shared.store(ctx.tmp / "rec.zarr")
        _edit_json(store / "zarr.json", lambda meta: edit(meta["attributes"]))
        open_store(store, kind=kind)
    return run


def _root_file(damage: Callable[[Path], Any]) -> Callable[[CaseContext], Any]:
    def run(ctx: CaseContext) -> None:
        from neuroattn.store import open_store

        store = ctx.shared.store(ctx.tmp / "rec.zarr")
        damage(store / "zarr.json")
        open_store(store)
    return run


def _root_cases() -> list[FaultCase]:
    from neuroattn.store.errors import (
        CorruptStoreError,
        IncompleteStoreError,
        NotAStoreError,
        SchemaError,
        StoreError,
    )

    def put(key: str, value: Any) -> Callable[[dict], None]:
        return lambda attrs: attrs.__setitem__(key, value)

    def drop(key: str) -> Callable[[dict], None]:
        return lambda attrs: attrs.pop(key)

    def ragged(attrs: dict) -> None:
        attrs["annotations"]["duration"].append(1.0)

    spec = [
        ("root.meta-deleted", "the root zarr.json deleted", NotAStoreError, ("zarr.json",),
         _root_file(lambda p: p.unlink())),
        ("root.meta-garbage", "the root zarr.json is not JSON", CorruptStoreError,
         ("zarr.json", "metadata"), _root_file(lambda p: p.write_text("{not json"))),
        ("root.meta-truncated", "the root zarr.json cut in half", CorruptStoreError,
         ("zarr.json", "metadata"), _root_file(lambda p: truncate(p, 0.5))),
        ("root.kind-wrong", "neuroattn_kind says 'fmri' for an iEEG store opened as ieeg",
         SchemaError, ("fmri",), _root_attrs(put("neuroattn_kind", "fmri"), "ieeg")),
        ("root.kind-unknown", "neuroattn_kind is 'spikes'", SchemaError, ("spikes",),
         _root_attrs(put("neuroattn_kind", "spikes"))),
        ("root.schema-future", "neuroattn_schema is 99 (written by a future version)",
         StoreError, ("schema", "99"), _root_attrs(put("neuroattn_schema", 99))),
        ("root.schema-garbage", "neuroattn_schema is the string 'one'", StoreError,
         ("schema",), _root_attrs(put("neuroattn_schema", "one"))),
        ("root.status-writing", "neuroattn_status is 'writing' (an unfinished write)",
         IncompleteStoreError, ("writing", "interrupt", "not finished"),
         _root_attrs(put("neuroattn_status", "writing"))),
        ("root.status-missing", "no neuroattn_status attribute", IncompleteStoreError,
         ("status", "not finished", "interrupt"), _root_attrs(drop("neuroattn_status"))),
        ("root.sfreq-missing", "no sfreq attribute", SchemaError, ("sfreq",),
         _root_attrs(drop("sfreq"))),
        ("root.sfreq-string", "sfreq is the string 'fast'", SchemaError, ("sfreq",),
         _root_attrs(put("sfreq", "fast"))),
        ("root.sfreq-zero", "sfreq is 0", SchemaError, ("sfreq",), _root_attrs(put("sfreq", 0))),
        ("root.annotations-ragged", "annotation columns of different lengths", SchemaError,
         ("annotations",), _root_attrs(ragged)),
    ]
    return [FaultCase(f"store.{cid}", "store", f"open_store on a store with {what}",
                      Expected.error(*frags, error_class=cls), run)
            for cid, what, cls, frags, run in spec]


def _poke(array: str, index: tuple[int, ...], value: Any) -> Callable[[CaseContext], Any]:
    def run(ctx: CaseContext) -> None:
        import zarr

        from neuroattn.store import open_store

        store = ctx.shared.store(ctx.tmp / "rec.zarr")
        arr = zarr.open_array(store / array, mode="r+")
        arr[index] = value
        open_store(store, check="full")
    return run


def _write_raw(change: Callable[[Any], Any]) -> Callable[[CaseContext], Any]:
    """Write a changed template with xarray directly (no validation), marked complete."""
    def run(ctx: CaseContext) -> None:
        from neuroattn.store import open_store

        ds = change(ctx.shared.ieeg_dataset())
        for name, var in ds.variables.items():
            if var.dtype.kind == "U":
                ds[name] = var.astype(object)
        ds.attrs.update(neuroattn_kind="ieeg", neuroattn_schema=1, neuroattn_status="complete")
        ds.to_zarr(ctx.tmp / "rec.zarr", zarr_format=3, consolidated=False)
        open_store(ctx.tmp / "rec.zarr", check="full")
    return run


def _value_cases() -> list[FaultCase]:
    from neuroattn.store.errors import NonFiniteError, SchemaError, StoreError

    def swap_time(ds: Any) -> Any:
        time = ds.time.values.copy()
        time[[10, 11]] = time[[11, 10]]
        return ds.assign_coords(time=time)

    spec = [
        ("signal-nan", "a NaN in the signal of channel A2", NonFiniteError, (BAD_CHANNEL,),
         _poke("signal", (250, 1), np.nan)),
        ("signal-inf", "an Inf in the signal of channel B1", NonFiniteError, ("B1",),
         _poke("signal", (50, 2), np.inf)),
        ("time-nan", "a NaN in the time coordinate", StoreError, ("time",),
         _poke("time", (7,), np.nan)),
        ("time-unsorted", "two time stamps swapped", SchemaError, ("time",),
         _write_raw(swap_time)),
        ("channel-duplicate", "two channels with the same name on disk", SchemaError,
         ("duplicate",), _write_raw(lambda ds: ds.assign_coords(
             channel=np.array(["A1", "A1", "B1"], object)))),
        ("signal-int16", "the signal stored as int16 ADC counts", SchemaError,
         ("dtype", "float"), _write_raw(lambda ds: ds.assign(
             signal=(ds.signal * 1000).astype("int16")))),
        ("bad-strings", "the bad flags stored as the strings 'False'/'True'", SchemaError,
         ("bad",), _write_raw(lambda ds: ds.assign_coords(
             bad=("channel", np.array(["False", "True", "False"], object))))),
    ]
    return [FaultCase(f"store.{cid}", "store", f"open_store(check='full') on a store with {what}",
                      Expected.error(*frags, error_class=cls), run)
            for cid, what, cls, frags, run in spec]


def _temporaries(dst: Path) -> list[str]:
    return sorted(p.name for p in dst.parent.glob(f".{dst.name}.*"))


def _killed_writer(ctx: CaseContext) -> Path:
    """A copy of the leftovers of a block writer SIGKILLed mid-write (``rec.zarr`` never made)."""
    def build(folder: Path) -> Path:
        code = ("import sys, time, numpy as np\n"
                "from neuroattn.store import IEEGStoreWriter\n"
                f"w = IEEGStoreWriter({str(folder / 'rec.zarr')!r}, ['A1', 'A2', 'B1'], 100.0,"
                " chunk_s=1.0)\n"
                "w.append(np.ones((350, 3), 'float32'))\n"
                "print('ready', flush=True)\n"
                "time.sleep(60)\n")
        child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True)
        try:
            if child.stdout.readline().strip() != "ready":
                raise RuntimeError("the writer subprocess did not start")
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
        if not any(folder.iterdir()):
            raise RuntimeError("the killed writer left nothing to test")
        return folder

    return ctx.shared.copy(ctx.shared.get("killed_writer", build), ctx.tmp / "killed")


def _killed_overwrite(ctx: CaseContext) -> Path:
    """A copy of a folder where an overwrite of ``rec.zarr`` was SIGKILLed between two renames."""
    def build(folder: Path) -> Path:
        from neuroattn.store import write_store

        write_store(ctx.shared.ieeg_dataset(seed=0), folder / "rec.zarr")
        code = ("import os, signal\n"
                "from neuroattn.testing.faults_fixtures import SharedFixtures\n"
                "from neuroattn.store import write_store\n"
                f"dst = {str(folder / 'rec.zarr')!r}\n"
                "def killing(real):\n"
                "    def rename(src, target, *args, **kwargs):\n"
                "        if os.fspath(target) == dst:  # the publishing rename\n"
                "            os.kill(os.getpid(), signal.SIGKILL)\n"
                "        return real(src, target, *args, **kwargs)\n"
                "    return rename\n"
                "ds = SharedFixtures('unused').ieeg_dataset(seed=1)\n"
                "os.replace, os.rename = killing(os.replace), killing(os.rename)\n"
                "write_store(ds, dst, overwrite=True)\n")
        subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
        return folder

    return ctx.shared.copy(ctx.shared.get("killed_overwrite", build), ctx.tmp / "killed")


def _open_after_kill(ctx: CaseContext) -> None:
    from neuroattn.store import open_store

    open_store(_killed_writer(ctx) / "rec.zarr")


def _write_after_kill(writer: str) -> Callable[[CaseContext], Any]:
    def run(ctx: CaseContext) -> None:
        from neuroattn.store import IEEGStoreWriter, write_store

        dst = _killed_writer(ctx) / "rec.zarr"
        if writer == "write_store":
            write_store(ctx.shared.ieeg_dataset(), dst)
        else:
            with IEEGStoreWriter(dst, list(CHANNELS), 100.0) as w:
                w.append(np.zeros((50, 3), "float32"))
        left = _temporaries(dst)
        if left:
            raise Silent(f"the next {writer} of {dst.name} left the dead writer's {left}")
    return run


def _other_temporary_kept(ctx: CaseContext) -> None:
    from neuroattn.store import write_store

    killed = _killed_writer(ctx)
    other = [p for p in killed.iterdir() if p.name.startswith(".rec.zarr.")]
    if not other:
        raise RuntimeError("no leftover to rename")
    live = other[0].rename(killed / other[0].name.replace(".rec.zarr.", ".other.zarr.", 1))
    ctx.protect(live)  # belongs to a write of another destination: not ours to clean
    write_store(ctx.shared.ieeg_dataset(), killed / "rec.zarr")


def _open_after_killed_overwrite(ctx: CaseContext) -> None:
    from neuroattn.store import open_store

    folder = _killed_overwrite(ctx)
    old, new = (ctx.shared.ieeg_dataset(seed=s).signal.values for s in (0, 1))
    values = open_store(folder / "rec.zarr").signal.values
    if not (np.array_equal(values, old) or np.array_equal(values, new)):
        raise Silent("rec.zarr holds neither the old nor the new data")


def _rewrite_after_killed_overwrite(ctx: CaseContext) -> None:
    from neuroattn.store import open_store, write_store

    folder = _killed_overwrite(ctx)
    write_store(ctx.shared.ieeg_dataset(seed=2), folder / "rec.zarr", overwrite=True)
    open_store(folder / "rec.zarr")
    left = _temporaries(folder / "rec.zarr")
    if left:
        raise Silent(f"the next write of rec.zarr left {left} behind")


def _aborted_writer(ctx: CaseContext) -> None:
    from neuroattn.store import IEEGStoreWriter

    dst = ctx.tmp / "rec.zarr"
    try:
        with IEEGStoreWriter(dst, list(CHANNELS), 100.0, chunk_s=1.0) as w:
            w.append(np.zeros((250, 3), "float32"))
            raise KeyError("the reader of the source failed")
    except KeyError:
        pass
    left = ([dst.name] if dst.exists() else []) + _temporaries(dst)
    if left:
        raise Silent(f"an aborted writer left {left}")


def _lazy_nan_overwrite(ctx: CaseContext) -> None:
    from neuroattn.errors import NeuroattnError
    from neuroattn.store import write_store

    dst = ctx.protect(ctx.shared.store(ctx.tmp / "rec.zarr"))
    ds = ctx.shared.ieeg_dataset()
    values = ds.signal.values.copy()
    values[333, 0] = np.nan
    ds = ds.assign(signal=(ds.signal.dims, values)).chunk({"time": 100})
    try:
        write_store(ds, dst, overwrite=True, chunks={"signal": (100, 3)})
    except NeuroattnError:
        left = _temporaries(dst)
        if left:
            raise Silent(f"the failed write left {left} behind") from None
        raise


def _interrupt_cases() -> list[FaultCase]:
    from neuroattn.store.errors import NonFiniteError, StoreError

    spec = [
        ("killed-writer-open", "open_store on the path of a block writer killed by SIGKILL "
         "before it published", Expected.error("interrupt", error_class=StoreError),
         _open_after_kill),
        ("killed-writer-then-write_store", "write_store to the path a SIGKILLed writer left "
         "its temporary next to: the dead temporary must go", Expected.success(),
         _write_after_kill("write_store")),
        ("killed-writer-then-writer", "IEEGStoreWriter on the path a SIGKILLed writer left "
         "its temporary next to: the dead temporary must go", Expected.success(),
         _write_after_kill("IEEGStoreWriter")),
        ("other-temporary-kept", "a write of rec.zarr must not remove the temporaries of "
         "other.zarr", Expected.success(), _other_temporary_kept),
        ("killed-overwrite-open", "open_store after an overwrite SIGKILLed between its two "
         "renames: the old or the new store, or an error that says so",
         Expected.error("interrupt", or_success=True, error_class=StoreError),
         _open_after_killed_overwrite),
        ("killed-overwrite-rewrite", "write_store(overwrite=True) after an overwrite SIGKILLed "
         "between its renames leaves no leftovers", Expected.success(),
         _rewrite_after_killed_overwrite),
        ("writer-exception-aborts", "an exception inside `with IEEGStoreWriter` leaves neither "
         "a store nor a temporary", Expected.success(), _aborted_writer),
        ("overwrite-lazy-nan", "write_store(overwrite=True) of dask data with a NaN keeps the "
         "old store and leaves no temporary",
         Expected.error("A1", error_class=NonFiniteError), _lazy_nan_overwrite),
    ]
    return [FaultCase(f"store.{cid}", "store", what, expected, run)
            for cid, what, expected, run in spec]


def _writer(path: Path, **kwargs: Any) -> Any:
    from neuroattn.store import IEEGStoreWriter

    return IEEGStoreWriter(path, list(CHANNELS), 100.0, chunk_s=1.0, **kwargs)


def _two_writers(ctx: CaseContext) -> None:
    dst = ctx.tmp / "rec.zarr"
    first, second = _writer(dst), _writer(dst)
    first.append(np.ones((150, 3), "float32"))
    second.append(np.full((150, 3), 2.0, "float32"))
    first.close()
    ctx.protect(dst)
    second.close()


def _writer_then_write_store(ctx: CaseContext) -> None:
    from neuroattn.store import write_store

    dst = ctx.tmp / "rec.zarr"
    writer = _writer(dst)
    writer.append(np.ones((150, 3), "float32"))
    write_store(ctx.shared.ieeg_dataset(), dst)
    ctx.protect(dst)
    writer.close()


def _write_existing(ctx: CaseContext) -> None:
    from neuroattn.store import write_store

    dst = ctx.protect(ctx.shared.store(ctx.tmp / "rec.zarr"))
    write_store(ctx.shared.ieeg_dataset(seed=5), dst)


def _writer_existing(ctx: CaseContext) -> None:
    dst = ctx.protect(ctx.shared.store(ctx.tmp / "rec.zarr"))
    with _writer(dst) as w:
        w.append(np.ones((50, 3), "float32"))


def _overwrite_with_nan(ctx: CaseContext) -> None:
    from neuroattn.store import write_store

    dst = ctx.protect(ctx.shared.store(ctx.tmp / "rec.zarr"))
    ds = ctx.shared.ieeg_dataset()
    ds.signal.values[3, 2] = np.nan
    write_store(ds, dst, overwrite=True)


def _lazy_reader(n_new: int, chunks: Any, seed: int = 9) -> Callable[[CaseContext], Any]:
    def run(ctx: CaseContext) -> None:
        from neuroattn.store import open_store, write_store

        dst = ctx.shared.store(ctx.tmp / "rec.zarr")
        old = ctx.shared.ieeg_dataset().signal.values
        ds = open_store(dst, chunks=chunks)
        write_store(ctx.shared.ieeg_dataset(n_times=n_new, seed=seed), dst, overwrite=True)
        values = np.asarray(ds.signal.values)
        if values.shape != old.shape or not np.array_equal(values, old):
            nan = int(np.isnan(values).sum())
            raise Silent(f"a reader opened before the overwrite read the new store "
                         f"({nan} NaN of {values.size} values), without an error")
    return run


def _windows_reader(ctx: CaseContext) -> None:
    from neuroattn.store import IEEGWindows, write_store

    dst = ctx.shared.store(ctx.tmp / "rec.zarr")
    windows = IEEGWindows(dst, window_s=1.0)
    write_store(ctx.shared.ieeg_dataset(n_times=400, seed=9), dst, overwrite=True)
    again = windows[len(windows) - 1][0].numpy()
    expected = ctx.shared.ieeg_dataset().signal.values[-100:, [0, 2]].T
    if again.shape != expected.shape or not np.array_equal(again, expected):
        raise Silent("IEEGWindows opened before the overwrite read the new store's samples")


def _writer_cases() -> list[FaultCase]:
    from neuroattn.store.errors import NonFiniteError

    refused = Expected.error("exist", "appeared", "overwrite")
    spec = [
        ("two-writers", "two IEEGStoreWriters on one path (overwrite=False): the second to "
         "close must fail and keep the first one's store", refused, _two_writers),
        ("writer-vs-write_store", "write_store publishes the path while an IEEGStoreWriter "
         "(overwrite=False) is still writing it", refused, _writer_then_write_store),
        ("write_store-existing", "write_store onto an existing store without overwrite",
         refused, _write_existing),
        ("writer-existing", "IEEGStoreWriter onto an existing store without overwrite",
         refused, _writer_existing),
        ("overwrite-with-nan", "write_store(overwrite=True) of data with a NaN keeps the old "
         "store", Expected.error("B1", error_class=NonFiniteError), _overwrite_with_nan),
        ("lazy-reader-shorter", "a lazy (numpy) reader opened before an overwrite with a "
         "shorter store", Expected.error("changed", "overwritten", "re-open", "reopen",
                                         "replaced", or_success=True),
         _lazy_reader(200, None)),
        ("lazy-reader-same-shape", "a lazy (numpy) reader opened before an overwrite with "
         "other values", Expected.error("changed", "overwritten", "re-open", "reopen",
                                        "replaced", or_success=True),
         _lazy_reader(400, None)),
        ("dask-reader-shorter", "a dask reader opened before an overwrite with a shorter "
         "store", Expected.error("changed", "overwritten", "re-open", "reopen", "replaced",
                                 or_success=True), _lazy_reader(200, "auto")),
        ("windows-reader-overwrite", "IEEGWindows opened before an overwrite",
         Expected.error("changed", "overwritten", "re-open", "reopen", "replaced",
                        or_success=True), _windows_reader),
    ]
    return [FaultCase(f"store.{cid}", "store", what, expected, run)
            for cid, what, expected, run in spec]


def _writer_attrs(n_chunks: int, key: str, want: Any) -> Callable[[CaseContext], Any]:
    def run(ctx: CaseContext) -> None:
        from neuroattn.store import open_store

        dst = ctx.tmp / "rec.zarr"
        with _writer(dst, attrs={"subject": "P9"}) as w:
            for _ in range(n_chunks):
                w.append(np.ones((100, 3), "float32"))
        attrs = open_store(dst).attrs
        if attrs.get(key) != want:
            raise Silent(f"a {n_chunks}-chunk store has {key}={attrs.get(key)!r}, not {want!r}")
    return run


def _append(block: Callable[[], np.ndarray], **kwargs: Any) -> Callable[[CaseContext], Any]:
    def run(ctx: CaseContext) -> None:
        with _writer(ctx.tmp / "rec.zarr", **kwargs) as w:
            w.append(block())
    return run


def _nan_block() -> np.ndarray:
    block = np.zeros((50, 3), "float32")
    block[20, 1] = np.nan
    return block


def _block_cases() -> list[FaultCase]:
    from neuroattn.store.errors import NonFiniteError

    cases = [FaultCase(f"store.writer-{n}chunk-{key}", "store",
                       f"IEEGStoreWriter writing {n} chunk(s) keeps attrs[{key!r}]",
                       Expected.success(), _writer_attrs(n, key, want))
             for n in (1, 4) for key, want in (("neuroattn_kind", "ieeg"),
                                               ("neuroattn_schema", 1), ("subject", "P9"))]
    spec = [
        ("append-transposed", "append a (channels, times) block",
         Expected.error("transposed", ".T"), _append(lambda: np.zeros((3, 50), "float32"))),
        ("append-1d", "append a 1-D block", Expected.error("shape", "2-D", "1-D"),
         _append(lambda: np.zeros(50, "float32"))),
        ("append-nan", "append a block with a NaN in channel A2",
         Expected.error(BAD_CHANNEL, error_class=NonFiniteError), _append(_nan_block)),
        ("append-complex", "append a complex block", Expected.error("complex", "dtype", "real"),
         _append(lambda: np.zeros((50, 3), complex))),
        ("close-empty", "close a writer nothing was appended to",
         Expected.error("nothing", "appended", "empty"),
         lambda ctx: _writer(ctx.tmp / "rec.zarr").close()),
        ("writer-sfreq-0", "IEEGStoreWriter with sfreq=0", Expected.error("sfreq"),
         lambda ctx: _writer_sfreq(ctx, 0.0)),
        ("writer-duplicate-channels", "IEEGStoreWriter with two channels named A1",
         Expected.error("duplicate"), _writer_duplicates),
    ]
    return cases + [FaultCase(f"store.{cid}", "store", what, expected, run)
                    for cid, what, expected, run in spec]


def _writer_sfreq(ctx: CaseContext, sfreq: float) -> None:
    from neuroattn.store import IEEGStoreWriter

    with IEEGStoreWriter(ctx.tmp / "rec.zarr", list(CHANNELS), sfreq) as w:
        w.append(np.zeros((50, 3), "float32"))


def _writer_duplicates(ctx: CaseContext) -> None:
    from neuroattn.store import IEEGStoreWriter

    with IEEGStoreWriter(ctx.tmp / "rec.zarr", ["A1", "A1", "B1"], 100.0) as w:
        w.append(np.zeros((50, 3), "float32"))


def cases() -> list[FaultCase]:
    """The store and builder cases."""
    return [*_array_cases(), *_root_cases(), *_value_cases(), *_interrupt_cases(),
            *_writer_cases(), *_block_cases()]

