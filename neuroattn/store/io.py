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
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr
import zarr

from neuroattn._atomic import atomic_path, publish, remove, temporary_sibling
from neuroattn._logging import Verbose, logger, use_log_level
from neuroattn.progress import progress
from neuroattn.store.errors import (
    CorruptStoreError,
    IncompleteStoreError,
    NonFiniteError,
    NotAStoreError,
    SchemaError,
)
from neuroattn.store.schema import (
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
    group = zarr.open_group(path, mode="r+")
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
    and only after the new one is complete.

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
        Replace an existing store at ``path``.

    Returns
    -------
    pathlib.Path
        The path of the finished store.
    """
    path = Path(path)
    kind = kind or infer_kind(ds)
    with use_log_level(verbose):
        validate_metadata(ds, kind)
        lazy = any(ds[var].chunks is not None for var in get_schema(kind).variables)
        if not lazy:  # cheap on data already in memory: fail before writing anything
            _check_finite_in_memory(ds, kind)
        if path.exists() and not overwrite:
            raise FileExistsError(
                f"{path} already exists; pass overwrite=True to replace it, or pick a new path."
            )
        chunks = chunks or default_chunks(ds, kind, chunk_mb)
        if lazy:  # dask chunks must line up with the zarr chunks for a safe parallel write
            ds = ds.assign({var: ds[var].chunk(dict(zip(ds[var].dims, shape, strict=True)))
                            for var, shape in chunks.items()})
        encoding = {var: {"chunks": shape} for var, shape in chunks.items()}
        ds = _object_strings(_mark(ds, kind, "writing"))
        with atomic_path(path) as tmp:
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


def _not_a_store(path: Path) -> NotAStoreError:
    if not path.exists():
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


def open_store(
    path: str | os.PathLike,
    kind: str | None = None,
    *,
    check: Check = "full",
    chunks: Any = "auto",
    verbose: Verbose = None,
) -> xr.Dataset:
    """Open a store lazily and validate it.

    Parameters
    ----------
    path : path-like
        A store written by :func:`write_store` or a converter.
    kind : str, optional
        Expected kind; an error is raised if the store is of another kind.
    check : {"full", "quick", "none"}
        ``"quick"`` checks metadata, coordinates and that every chunk exists;
        ``"full"`` also decodes every chunk (one at a time, so memory stays
        bounded) to find corrupt chunks and NaN/Inf. Use ``"quick"`` for
        multi-terabyte stores you have validated once.
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
        raise ValueError(f"check={check!r}; use 'full', 'quick' or 'none'.")
    if not (path / "zarr.json").is_file():
        raise _not_a_store(path)
    with use_log_level(verbose):
        _check_status(path)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                ds = xr.open_zarr(path, consolidated=False,
                                  chunks={} if chunks == "auto" else chunks)
        except (ValueError, KeyError, OSError) as err:
            raise CorruptStoreError(
                f"The metadata of {path} cannot be read ({type(err).__name__}: {err}). "
                "The store is damaged; re-create it from the source recording."
            ) from err
        ds = _plain_strings(ds)
        found = infer_kind(ds)
        if kind is not None and found != kind:
            raise SchemaError(
                f"{path} is a {found!r} store, but a {kind!r} store was expected."
            )
        validate_metadata(ds, found)
        if check in ("quick", "full"):
            _check_chunks_exist(path, found)
        if check == "full":
            _scan_values(path, found, ds)
    return ds


def _check_status(path: Path) -> None:
    """Refuse a store whose write never finished, before reading anything else."""
    try:
        meta = json.loads((path / "zarr.json").read_text())
        status = meta.get("attributes", {}).get(STATUS_ATTR)
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


def _chunk_grid(arr: zarr.Array) -> Iterator[tuple[int, ...]]:
    counts = [-(-s // c) for s, c in zip(arr.shape, arr.chunks, strict=True)]
    return itertools.product(*(range(n) for n in counts))


def _check_chunks_exist(path: Path, kind: str) -> None:
    group = zarr.open_group(path, mode="r")
    for var in get_schema(kind).variables:
        arr = group[var]
        if arr.nchunks_initialized < arr.nchunks:
            missing = [idx for idx in _chunk_grid(arr)
                       if not (path / var / "c" / Path(*map(str, idx))).exists()]
            first = "/".join(map(str, missing[0])) if missing else "?"
            raise CorruptStoreError(
                f"{path}: {arr.nchunks - arr.nchunks_initialized} of {arr.nchunks} chunks of "
                f"{var!r} are missing (first: c/{first}). Files were deleted or a copy was "
                "incomplete; copy the store again or re-create it."
            )


def _scan_values(path: Path, kind: str, ds: xr.Dataset) -> None:
    group = zarr.open_group(path, mode="r")
    for var in get_schema(kind).variables:
        arr = group[var]
        grid = list(_chunk_grid(arr))
        for idx in progress(grid, desc=f"checking {var}", leave=False):
            sel = tuple(slice(i * c, min((i + 1) * c, s))
                        for i, c, s in zip(idx, arr.chunks, arr.shape, strict=True))
            try:
                block = arr[sel]
            except Exception as err:  # codec errors have no common base class
                raise CorruptStoreError(
                    f"{path}: chunk c/{'/'.join(map(str, idx))} of {var!r} cannot be decoded "
                    f"({type(err).__name__}: {err}). The store is damaged; re-create it."
                ) from err
            bad = ~np.isfinite(block)
            if bad.any():
                _raise_nonfinite(var, bad, tuple(s.start for s in sel), ds, kind)


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

        self.path = Path(path)
        if self.path.exists() and not overwrite:
            raise FileExistsError(f"{self.path} already exists; pass overwrite=True to replace it.")
        self._template = ieeg_from_array(
            np.zeros((0, len(ch_names)), dtype), sfreq, ch_names=ch_names,
            ch_types=ch_types, positions=positions, **(attrs or {}))
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
        if block.ndim != 2 or block.shape[1] != self.n_channels:
            transposed = block.ndim == 2 and block.shape[0] == self.n_channels
            raise ValueError(
                f"Block has shape {block.shape}; expected (n_times, {self.n_channels})."
                + (" It looks transposed: pass block.T." if transposed else "")
            )
        if not np.isfinite(block).all():
            raise NonFiniteError(
                f"Block {self.n_written + self._buffered} samples in holds NaN/Inf; "
                "clean it before appending."
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
            ds = _object_strings(_mark(ds, "ieeg", "writing"))
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
        """Flush the last partial chunk and publish the store."""
        if self._closed:
            return self.path
        if self._buffered:
            self._flush(self._buffered)
        if self.n_written == 0:
            raise ValueError("Nothing was appended; the store was not created.")
        group = zarr.open_group(self._tmp, mode="r+")
        extra = {k: v for k, v in self._template.attrs.items() if k == "annotations"}
        group.attrs.update(extra)
        group.attrs[STATUS_ATTR] = "complete"
        publish(self._tmp, self.path)
        self._closed = True
        logger.info("wrote %d samples x %d channels to %s", self.n_written, self.n_channels,
                    self.path)
        return self.path

    def abort(self) -> None:
        """Discard everything written so far."""
        remove(self._tmp)
        self._closed = True
