"""Open, validate and write stores (zarr v3), atomically.

Examples
--------
>>> import tempfile, numpy as np
>>> from neuroattn.store import ieeg_from_array, write_store, open_store
>>> ds = ieeg_from_array(np.zeros((512, 3), "float32"), sfreq=256.0)
>>> path = write_store(ds, tempfile.mkdtemp() + "/rec.zarr")
>>> open_store(path, kind="ieeg").signal.shape
(512, 3)
"""

from __future__ import annotations

import itertools
import json
import os
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr
import zarr

from neuroattn._atomic import (
    atomic_path,
    leftovers,
    prepare_destination,
    publish,
    remove,
    temporary_sibling,
)
from neuroattn._logging import Verbose, logger, use_log_level
from neuroattn.errors import ParameterError
from neuroattn.progress import progress
from neuroattn.store.errors import (
    CorruptStoreError,
    IncompleteStoreError,
    NonFiniteError,
    NotAStoreError,
    SchemaError,
    StoreError,
)
from neuroattn.store.guard import CheckedStore, read_generation
from neuroattn.store.schema import (
    GENERATION_ATTR,
    KIND_ATTR,
    SCHEMA_VERSION,
    STATUS_ATTR,
    VERSION_ATTR,
    get_schema,
    infer_kind,
    validate_metadata,
)

Check = Literal["full", "quick", "none"]
# File types `python -m neuroattn convert` reads (the edf converter takes anything MNE reads).
_CONVERTIBLE = {".edf": "edf", ".bdf": "edf", ".fif": "edf", ".vhdr": "edf", ".set": "edf",
                ".h5": "swec", ".hdf5": "swec"}

DEFAULT_CHUNK_MB = 8.0


def default_chunks(ds: xr.Dataset, kind: str, chunk_mb: float = DEFAULT_CHUNK_MB) -> dict:
    """Chunk shape per variable: whole rows along the long axis, about ``chunk_mb`` MB each."""
    schema = get_schema(kind)
    out = {}
    for var in schema.variables:
        arr = ds[var]
        row_bytes = arr.dtype.itemsize * int(np.prod(arr.shape[1:], dtype=np.int64))
        rows = max(1, int(chunk_mb * 2**20 // max(row_bytes, 1)))
        out[var] = (min(rows, max(arr.shape[0], 1)), *arr.shape[1:])
    return out


def _mark(ds: xr.Dataset, kind: str, status: str) -> xr.Dataset:
    ds = ds.copy()
    ds.attrs.update({KIND_ATTR: kind, VERSION_ATTR: SCHEMA_VERSION, STATUS_ATTR: status})
    return ds


def _object_strings(ds: xr.Dataset) -> xr.Dataset:
    """Use variable-length strings (zarr v3 ``string``) instead of fixed-width unicode."""
    for name, var in ds.variables.items():
        if var.dtype.kind == "U":
            ds[name] = var.astype(object)
    return ds


def _plain_strings(ds: xr.Dataset) -> xr.Dataset:
    """Load the (small) coordinates, and hand users ``object`` strings, not ``StringDType``."""
    ds = ds.assign_coords({name: ds[name].load() for name in ds.coords if name not in ds.dims})
    converted = {name: var.astype(object) for name, var in ds.variables.items()
                 if var.dtype.kind == "T"}
    return ds.assign_coords({k: v for k, v in converted.items() if k in ds.coords}).assign(
        {k: v for k, v in converted.items() if k in ds.data_vars})


def _set_status(path: Path, status: str) -> None:
    """Set the status; ``"complete"`` also stamps a new generation (see :mod:`.guard`)."""
    group = zarr.open_group(path, mode="r+")
    if status == "complete":
        group.attrs.update({GENERATION_ATTR: uuid.uuid4().hex, STATUS_ATTR: status})
    else:
        group.attrs[STATUS_ATTR] = status


def write_store(
    ds: xr.Dataset,
    path: str | os.PathLike,
    *,
    kind: str | None = None,
    chunks: dict[str, tuple[int, ...]] | None = None,
    chunk_mb: float = DEFAULT_CHUNK_MB,
    overwrite: bool = False,
    verbose: Verbose = None,
) -> Path:
    """Validate ``ds`` and write it as a zarr v3 store, atomically.

    The data go to a hidden temporary directory first; the store is renamed
    into place only once every chunk is written and its status is
    ``"complete"``. An existing store is replaced only with ``overwrite=True``,
    and only after the new one is complete. Every publish stamps a new
    ``attrs["neuroattn_generation"]``, so readers of the replaced store notice.
    What a dead writer of ``path`` left next to it is cleaned up first.

    Parameters
    ----------
    ds : xarray.Dataset
        Built with one of the ``*_from_*`` builders, or by hand following
        :mod:`neuroattn.store.schema`.
    path : path-like
        Destination directory (conventionally ending in ``.zarr``).
    kind : str, optional
        ``"ieeg"``, ``"fmri"``, ``"features"`` or ``"fixations"``; inferred if omitted.
    chunks : dict, optional
        Chunk shape per data variable; default whole rows of about ``chunk_mb`` MB.
    overwrite : bool
        Replace an existing store at ``path``. Without it, a store that
        another writer publishes at ``path`` while this one writes is kept,
        and this write fails.

    Returns
    -------
    pathlib.Path
        The path of the finished store.

    Raises
    ------
    neuroattn._atomic.DestinationExistsError
        ``path`` exists (on entry, or published meanwhile by another writer)
        and ``overwrite`` is False. A ``FileExistsError``.
    """
    path = Path(path)
    kind = kind or infer_kind(ds)
    with use_log_level(verbose):
        validate_metadata(ds, kind)
        if kind == "ieeg" and ds.sizes["time"] == 0:
            raise SchemaError(f"The iEEG data for {path} hold no samples (shape "
                              f"{ds['signal'].shape}); there is nothing to write. Check the "
                              "source recording or the selected time range.")
        lazy = any(ds[var].chunks is not None for var in get_schema(kind).variables)
        if not lazy:  # cheap on data already in memory: fail before writing anything
            _check_finite_in_memory(ds, kind)
        prepare_destination(path, overwrite=overwrite)
        chunks = chunks or default_chunks(ds, kind, chunk_mb)
        if lazy:  # dask chunks must line up with the zarr chunks for a safe parallel write
            ds = ds.assign({var: ds[var].chunk(dict(zip(ds[var].dims, shape, strict=True)))
                            for var, shape in chunks.items()})
        encoding = {var: {"chunks": shape} for var, shape in chunks.items()}
        ds = _object_strings(_mark(ds, kind, "writing"))
        with atomic_path(path, overwrite=overwrite) as tmp:
            ds.to_zarr(tmp, mode="w", zarr_format=3, consolidated=False,
                       encoding=encoding, write_empty_chunks=True)
            if lazy:  # computing twice would cost a second pass: scan what was written
                _scan_values(tmp, kind, ds)
            _set_status(tmp, "complete")
        logger.info("wrote %s store %s", kind, path)
    return path


def _check_finite_in_memory(ds: xr.Dataset, kind: str) -> None:
    for var in get_schema(kind).variables:
        bad = ~np.isfinite(ds[var].values)
        if bad.any():
            _raise_nonfinite(var, bad, (0,) * bad.ndim, ds, kind)


def _raise_nonfinite(var: str, bad: np.ndarray, offset: tuple[int, ...], ds: Any, kind: str):
    first = tuple(int(i) + o for i, o in zip(np.argwhere(bad)[0], offset, strict=True))
    where = ", ".join(f"{dim}={_label(ds, dim, i)}" for dim, i in
                      zip(get_schema(kind).dims, first, strict=True))
    raise NonFiniteError(
        f"{var!r} holds NaN or Inf ({int(bad.sum())} value(s) in one chunk; first at {where}). "
        "Interpolate or zero the bad samples, or drop the affected channel/voxel, then write again."
    )


def _label(ds: Any, dim: str, index: int) -> str:
    try:
        value = ds[dim][index]
        value = value.item() if hasattr(value, "item") else value
        if dim == "time":
            return f"{float(value):.3f} s"
        return repr(str(value))
    except (KeyError, IndexError, TypeError):
        return str(index)


def _not_a_store(path: Path) -> StoreError:
    if not path.exists():
        left = _interrupted(path)
        if left is not None:
            return left
        return NotAStoreError(
            f"{path} does not exist. Check the path, or create a store with "
            "`python -m neuroattn synth ieeg` or `python -m neuroattn convert ...`."
        )
    suffix = "".join(path.suffixes[-2:]) if path.suffix == ".gz" else path.suffix
    if path.is_file():
        fmt = _CONVERTIBLE.get(path.suffix.lower())
        hint = (f" It looks like a {suffix} file: convert it first "
                f"(`python -m neuroattn convert {fmt} {path} OUT.zarr`).") if fmt else ""
        return NotAStoreError(f"{path} is a file, not a zarr store directory.{hint}")
    if (path / ".zgroup").exists() or (path / ".zarray").exists():
        return NotAStoreError(
            f"{path} is a zarr v2 store; neuroattn needs zarr v3. Re-write it with "
            "neuroattn.store.write_store(xr.open_zarr(path), new_path)."
        )
    inner = sorted(p.name for p in path.glob("*.zarr"))[:3]
    hint = f" Did you mean {path / inner[0]}?" if inner else ""
    return NotAStoreError(f"{path} is a directory but not a zarr v3 store (no zarr.json).{hint}")


def _interrupted(path: Path) -> IncompleteStoreError | None:
    """Explain a missing ``path`` by what an interrupted write of it left (None if nothing)."""
    found = leftovers(path) if path.parent.is_dir() else []
    aside = [item.path for item in found if item.tag == "old"]
    if aside:
        return IncompleteStoreError(
            f"{path} does not exist: an overwrite of it was interrupted after moving the "
            f"previous store aside to {aside[-1]}; rename that back to {path.name} to recover "
            "it, or rerun the write (which puts it back first when its writer is dead).")
    temporaries = [item.path for item in found]
    if temporaries:
        return IncompleteStoreError(
            f"{path} does not exist: an interrupted write left {temporaries[-1]} (still "
            "running, or killed); rerun the write, which removes what a dead writer left.")
    return None


def open_store(
    path: str | os.PathLike,
    kind: str | None = None,
    *,
    check: Check = "full",
    chunks: Any = "auto",
    verbose: Verbose = None,
) -> xr.Dataset:
    """Open a store lazily and validate it.

    Every chunk is read through :class:`~neuroattn.store.guard.CheckedStore`:
    reading from a store that was overwritten after it was opened raises
    :class:`~neuroattn.store.errors.StoreChangedError`, and a missing chunk
    raises :class:`~neuroattn.store.errors.CorruptStoreError` (never fill
    values). The coordinates are always read, so a missing or undecodable
    coordinate chunk is reported whatever ``check`` is.

    Parameters
    ----------
    path : path-like
        A store written by :func:`write_store` or a converter.
    kind : str, optional
        Expected kind; an error is raised if the store is of another kind.
    check : {"full", "quick", "none"}
        ``"quick"`` checks metadata, coordinates and that every chunk of every
        array exists; ``"full"`` also decodes every chunk of every array (one
        at a time, so memory stays bounded) to find corrupt chunks, and NaN/Inf
        in the data. Use ``"quick"`` for multi-terabyte stores you have
        validated once.
    chunks : "auto", None or dict
        Passed to :func:`xarray.open_zarr`: ``"auto"`` gives a dask array with
        the on-disk chunks; ``None`` gives lazily loaded numpy (use it inside
        DataLoader workers).

    Returns
    -------
    xarray.Dataset
    """
    path = Path(path)
    if check not in ("full", "quick", "none"):
        raise ParameterError(f"check={check!r}; use 'full', 'quick' or 'none'.")
    if not (path / "zarr.json").is_file():
        raise _not_a_store(path)
    with use_log_level(verbose):
        generation = _check_status(path)
        _check_array_metadata(path)
        ds = _open_dataset(path, generation, chunks)
        found = infer_kind(ds)
        if kind is not None and found != kind:
            raise SchemaError(
                f"{path} is a {found!r} store, but a {kind!r} store was expected."
            )
        if check in ("quick", "full"):
            _check_chunks_exist(path)
        validate_metadata(ds, found)
        if check == "full":
            _scan_values(path, found, ds, every_array=True)
    return ds


def _open_dataset(path: Path, generation: str | None, chunks: Any) -> xr.Dataset:
    """xarray's view of the store, its coordinates loaded, read through a :class:`CheckedStore`."""
    try:
        store = CheckedStore(path, generation=generation)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            ds = xr.open_zarr(store, consolidated=False,
                              chunks={} if chunks == "auto" else chunks)
        return _plain_strings(ds)
    except StoreError:
        raise
    except Exception as err:  # codec errors have no common base class
        undecodable = _find_undecodable(path)
        if undecodable is not None:
            raise undecodable from err
        if not isinstance(err, ValueError | KeyError | OSError):
            raise
        raise CorruptStoreError(
            f"The metadata of {path} cannot be read ({type(err).__name__}: {err}). "
            "The store is damaged; re-create it from the source recording."
        ) from err


def _check_status(path: Path) -> str | None:
    """Refuse a store whose write never finished, before reading anything else.

    Returns the store's generation stamp (None for stores written before stamps).
    """
    try:
        meta = json.loads((path / "zarr.json").read_text())
        attrs = meta.get("attributes", {})
        status, generation = attrs.get(STATUS_ATTR), attrs.get(GENERATION_ATTR)
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as err:
        raise CorruptStoreError(
            f"The metadata of {path} cannot be read ({type(err).__name__}: {err}). "
            "The store is damaged; re-create it from the source recording."
        ) from err
    if status != "complete":
        raise IncompleteStoreError(
            f"{path} was not finished (status {status!r}): a write or append was "
            "interrupted. Delete it and run the conversion again."
        )
    return None if generation is None else str(generation)


def _check_array_metadata(path: Path) -> None:
    """Every folder of the store holds readable array metadata (zarr skips a folder without)."""
    for folder in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
        meta = folder / "zarr.json"
        try:
            json.loads(meta.read_bytes())
        except FileNotFoundError:
            raise CorruptStoreError(
                f"{path}: the array {folder.name!r} has no zarr.json (its metadata was deleted), "
                "so it would silently be left out. Copy the store again or re-create it."
            ) from None
        except (OSError, ValueError) as err:
            raise CorruptStoreError(
                f"{path}: the metadata of the array {folder.name!r} ({meta.name}) cannot be read "
                f"({type(err).__name__}: {err}). Copy the store again or re-create it."
            ) from err


def _chunk_grid(arr: zarr.Array) -> Iterator[tuple[int, ...]]:
    counts = [-(-s // c) for s, c in zip(arr.shape, arr.chunks, strict=True)]
    return itertools.product(*(range(n) for n in counts))


def _arrays(group: zarr.Group) -> list[tuple[str, zarr.Array]]:
    """Every array of the store, data and coordinates, smallest first."""
    return sorted(group.arrays(), key=lambda item: (item[1].nbytes, item[0]))


def _check_chunks_exist(path: Path) -> None:
    for var, arr in _arrays(zarr.open_group(path, mode="r")):
        if arr.nchunks_initialized < arr.nchunks:
            missing = [idx for idx in _chunk_grid(arr)
                       if not (path / var / "c" / Path(*map(str, idx))).exists()]
            first = "/".join(map(str, missing[0])) if missing else "?"
            raise CorruptStoreError(
                f"{path}: {arr.nchunks - arr.nchunks_initialized} of {arr.nchunks} chunks of "
                f"{var!r} are missing (first: c/{first}). Files were deleted or a copy was "
                "incomplete; copy the store again or re-create it."
            )


def _read_chunk(path: Path, var: str, arr: zarr.Array, idx: tuple[int, ...]) -> np.ndarray:
    """Decode chunk ``idx`` of ``arr``, naming it if that fails."""
    sel = tuple(slice(i * c, min((i + 1) * c, s))
                for i, c, s in zip(idx, arr.chunks, arr.shape, strict=True))
    try:
        return arr[sel]
    except StoreError:
        raise
    except Exception as err:  # codec errors have no common base class
        raise CorruptStoreError(
            f"{path}: chunk c/{'/'.join(map(str, idx))} of {var!r} cannot be decoded "
            f"({type(err).__name__}: {err}). The store is damaged; re-create it."
        ) from err


def _find_undecodable(path: Path) -> CorruptStoreError | None:
    """The error naming the first chunk that cannot be read, or None (e.g. bad metadata)."""
    try:
        arrays = _arrays(zarr.open_group(path, mode="r"))
    except Exception:  # the metadata itself is broken: the caller says so
        return None
    for var, arr in arrays:
        for idx in _chunk_grid(arr):
            try:
                _read_chunk(path, var, arr, idx)
            except CorruptStoreError as err:
                return err
    return None


def _scan_values(path: Path, kind: str, ds: xr.Dataset, *, every_array: bool = False) -> None:
    """Decode every chunk of the data (of every array with ``every_array``); refuse NaN/Inf data."""
    group = zarr.open_group(CheckedStore(path, generation=read_generation(path)), mode="r")
    variables = get_schema(kind).variables
    names = [name for name, _ in _arrays(group)] if every_array else list(variables)
    for var in names:
        arr = group[var]
        grid = list(_chunk_grid(arr))
        for idx in progress(grid, desc=f"checking {var}", leave=False):
            block = _read_chunk(path, var, arr, idx)
            if var not in variables:
                continue  # coordinates may hold NaN (unknown positions)
            bad = ~np.isfinite(block)
            if bad.any():
                sel = [i * c for i, c in zip(idx, arr.chunks, strict=True)]
                _raise_nonfinite(var, bad, tuple(sel), ds, kind)


class IEEGStoreWriter:
    """Write a long recording block by block, holding at most one chunk in memory.

    The store lives under a hidden temporary name until :meth:`close` (or the
    end of the ``with`` block) publishes it; an interrupted writer leaves
    nothing that :func:`open_store` accepts.

    Parameters
    ----------
    path : path-like
        Final store path.
    ch_names : list of str
        Channel names, in the order of the columns of each block.
    sfreq : float
        Sampling rate in Hz.
    ch_types : str or list of str
        MNE channel types (default ``"seeg"``).
    chunk_s : float
        Chunk length in seconds (all channels in every chunk).
    attrs : dict, optional
        Extra attrs (``units`` defaults to ``"V"``).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from neuroattn.store import IEEGStoreWriter, open_store
    >>> path = tempfile.mkdtemp() + "/long.zarr"
    >>> with IEEGStoreWriter(path, ["A1", "A2"], sfreq=100.0, chunk_s=1.0) as writer:
    ...     for _ in range(5):
    ...         writer.append(np.ones((70, 2), "float32"))
    >>> open_store(path).signal.shape
    (350, 2)
    """

    def __init__(
        self,
        path: str | os.PathLike,
        ch_names: list[str],
        sfreq: float,
        *,
        ch_types: str | list[str] = "seeg",
        positions: np.ndarray | None = None,
        chunk_s: float = 60.0,
        dtype: str = "float32",
        attrs: dict[str, Any] | None = None,
        overwrite: bool = False,
    ) -> None:
        from neuroattn.store.build import ieeg_from_array

        self.path = prepare_destination(path, overwrite=overwrite)
        self.overwrite = overwrite
        # The bookkeeping attrs go with every block: zarr rewrites the root attrs on append.
        self._template = _mark(ieeg_from_array(
            np.zeros((0, len(ch_names)), dtype), sfreq, ch_names=ch_names,
            ch_types=ch_types, positions=positions, **(attrs or {})), "ieeg", "writing")
        self.sfreq = float(sfreq)
        self.n_channels = len(ch_names)
        self.chunk_len = max(1, int(round(chunk_s * sfreq)))
        self.dtype = np.dtype(dtype)
        self._tmp = temporary_sibling(self.path)
        self._buffer: list[np.ndarray] = []
        self._buffered = 0
        self.n_written = 0
        self._closed = False

    def __enter__(self) -> IEEGStoreWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def append(self, block: np.ndarray) -> None:
        """Append samples shaped ``(n_times, n_channels)`` (volts by default)."""
        block = np.asarray(block)
        if block.dtype.kind not in "fiu":
            raise SchemaError(
                f"Block has dtype {block.dtype}; iEEG samples must be real numbers. Pass the "
                "real part (or magnitude) explicitly if that is what you mean to store.")
        if block.ndim != 2 or block.shape[1] != self.n_channels:
            transposed = block.ndim == 2 and block.shape[0] == self.n_channels
            raise SchemaError(
                f"Block has shape {block.shape}; expected (n_times, {self.n_channels})."
                + (" It looks transposed: pass block.T." if transposed else "")
            )
        finite = np.isfinite(block)
        if not finite.all():
            start = self.n_written + self._buffered
            names = self._template["channel"].values[~finite.all(axis=0)].tolist()
            raise NonFiniteError(
                f"Block {start} samples in ({start / self.sfreq:.3f} s) holds NaN/Inf in "
                f"channel(s) {names[:8]} of {self.path}: interpolate or zero those samples, or "
                "drop the channel, before appending."
            )
        self._buffer.append(block.astype(self.dtype, copy=False))
        self._buffered += block.shape[0]
        while self._buffered >= self.chunk_len:
            self._flush(self.chunk_len)

    def _flush(self, n: int) -> None:
        data = np.concatenate(self._buffer, axis=0) if len(self._buffer) > 1 else self._buffer[0]
        head, rest = data[:n], data[n:]
        self._buffer = [rest] if rest.shape[0] else []
        self._buffered = rest.shape[0]
        ds = self._template.drop_vars(["signal", "time"]).assign(
            signal=(("time", "channel"), head),
            time=("time", (self.n_written + np.arange(n)) / self.sfreq))
        ds = ds.set_coords("time")
        if self.n_written == 0:
            ds = _object_strings(ds)
            ds.to_zarr(self._tmp, mode="w", zarr_format=3, consolidated=False,
                       encoding={"signal": {"chunks": (self.chunk_len, self.n_channels)},
                                 "time": {"chunks": (self.chunk_len,)}},
                       write_empty_chunks=True)
        else:
            ds[["signal"]].to_zarr(self._tmp, append_dim="time", zarr_format=3,
                                   consolidated=False, write_empty_chunks=True)
        self.n_written += n

    def set_annotations(self, onset, duration, description, ch_names=None) -> None:
        """Record annotations (seconds from the first sample) to be written at close."""
        from neuroattn.store.build import annotations_attr

        self._template.attrs["annotations"] = annotations_attr(
            onset, duration, description, ch_names)

    def close(self) -> Path:
        """Flush the last partial chunk and publish the store.

        Raises
        ------
        neuroattn._atomic.DestinationExistsError
            Another writer published a store at ``path`` meanwhile and
            ``overwrite`` is False; that store is kept and this one discarded.
        """
        if self._closed:
            return self.path
        if self._buffered:
            self._flush(self._buffered)
        if self.n_written == 0:
            raise IncompleteStoreError(
                f"Nothing was appended to {self.path}, so no store was created: append at "
                "least one block before close(), or call abort().")
        group = zarr.open_group(self._tmp, mode="r+")
        group.attrs.update({k: v for k, v in self._template.attrs.items() if k != STATUS_ATTR})
        _set_status(self._tmp, "complete")
        try:
            publish(self._tmp, self.path, overwrite=self.overwrite)
        finally:
            self._closed = True
        logger.info("wrote %d samples x %d channels to %s", self.n_written, self.n_channels,
                    self.path)
        return self.path

    def abort(self) -> None:
        """Discard everything written so far."""
        remove(self._tmp)
        self._closed = True
