"""The SWEC iEEG data set (Inselspital Bern, HDF5): read its layout, convert it to a store.

One subject's recording is an HDF5 file (a part file ``IDxx_part_k.h5`` or
the virtual ``IDxx_total.h5`` that joins the parts and holds the seizure
annotations) with

* ``data/ieeg``: the samples, shaped ``(C, T)`` (channels, time), chunked as
  3 minutes x all channels and lz4hc-compressed (reading needs the
  ``hdf5plugin`` package);
* an attribute ``sampling_rate`` in Hz, on the file root or on ``data/ieeg``;
* ``data/seizures`` (optional): a compound array with fields ``onsets`` and
  ``offsets`` in seconds.

The data set card is ``datasets/swec-ieeg.md``.

Examples
--------
>>> import tempfile, numpy as np
>>> from neuroattn.datasets.swec import convert_swec, read_swec_info
>>> from neuroattn.testing.files import write_swec_h5
>>> tmp = tempfile.mkdtemp()
>>> h5 = write_swec_h5(tmp + "/ID07_total.h5", np.zeros((4, 2048), "float32"), 512.0,
...                    seizures=[(1.0, 2.5)])
>>> info = read_swec_info(h5)
>>> info.subject, info.n_channels, info.duration_s, info.seizures.tolist()
('ID07', 4, 4.0, [[1.0, 2.5]])
>>> from neuroattn.store import open_store
>>> ds = open_store(convert_swec(h5, tmp + "/ID07.zarr", sfreq=256.0))
>>> ds.signal.shape, ds.attrs["subject"]
((1024, 4), 'ID07')
"""

from __future__ import annotations

import math
import os
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neuroattn._docs import fill_doc
from neuroattn._logging import Verbose, logger, use_log_level
from neuroattn.datasets.prepare import check_destination, select_channels, write_ieeg_stream
from neuroattn.errors import FormatError, InputNotFoundError

#: Chunk length of the real files (3 minutes); also the read unit of unchunked files.
CHUNK_S = 180.0
_SUBJECT = re.compile(r"^(ID\d+)", re.IGNORECASE)
_INSTALL = "pip install hdf5plugin"


class SWECFormatError(FormatError):
    """The HDF5 file does not have the SWEC iEEG layout."""


def _load_plugins() -> bool:
    """Register the extra HDF5 filters (lz4, blosc, ...) if ``hdf5plugin`` is installed."""
    try:
        import hdf5plugin  # noqa: F401
    except ImportError:
        return False
    return True


def _codec_error(path: Path, err: BaseException) -> ImportError:
    if _load_plugins():
        import hdf5plugin

        hint = (f" (hdf5plugin {hdf5plugin.version} is installed but cannot decode it: "
                "upgrade it with `pip install -U hdf5plugin`)")
    else:
        hint = ""
    return ImportError(
        f"{path}: a compressed chunk of data/ieeg cannot be decoded ({err}). The SWEC files "
        f"are lz4hc-compressed: install the HDF5 codecs with `{_INSTALL}`{hint} and run the "
        "conversion again.")


def _is_codec_error(err: BaseException) -> bool:
    text = str(err).lower()
    return any(word in text for word in ("filter", "plugin", "decompress", "open directory"))


@dataclass(frozen=True, eq=False)
class SWECInfo:
    """What a SWEC file holds, read from its metadata only.

    Attributes
    ----------
    path : pathlib.Path
        The file.
    subject : str
        Subject id from the file name (``ID07_total.h5`` -> ``"ID07"``).
    n_channels, n_times : int
        Shape of the recording.
    sfreq : float
        Sampling rate in Hz.
    seizures : ndarray, shape (n_seizures, 2)
        Onset and offset in seconds (empty when the file has none).
    dtype : str
        Sample dtype.
    chunks : tuple of int or None
        HDF5 chunk shape of ``data/ieeg`` (None for virtual or contiguous data).
    virtual : bool
        True for the ``_total.h5`` files (HDF5 virtual datasets over the parts).
    time_axis : int
        1 for the documented ``(C, T)`` layout, 0 for ``(T, C)``.
    units : str
        From a ``units`` attribute when the file has one, else ``"a.u."``.
    """

    path: Path
    subject: str
    n_channels: int
    n_times: int
    sfreq: float
    seizures: np.ndarray
    dtype: str
    chunks: tuple[int, ...] | None
    virtual: bool
    time_axis: int
    units: str

    @property
    def duration_s(self) -> float:
        """Length of the recording in seconds."""
        return self.n_times / self.sfreq


def _subject(path: Path) -> str:
    match = _SUBJECT.match(path.name)
    return match.group(1).upper() if match else path.stem.split("_")[0]


def _scalar(value: Any) -> Any:
    arr = np.asarray(value).ravel()
    if arr.size != 1:
        raise SWECFormatError(f"expected one value, got {arr.size}")
    item = arr[0]
    return item.decode() if isinstance(item, bytes) else item


def _sampling_rate(file: Any, dset: Any, path: Path) -> float:
    for where, attrs in (("data/ieeg", dset.attrs), ("the file root", file.attrs)):
        for key in ("sampling_rate", "sfreq", "fs"):
            if key in attrs:
                try:
                    value = float(_scalar(attrs[key]))
                except (TypeError, ValueError) as err:
                    raise SWECFormatError(
                        f"{path}: attribute {key!r} on {where} is not a number "
                        f"({attrs[key]!r}: {err}).") from err
                if not math.isfinite(value) or value <= 0:
                    raise SWECFormatError(f"{path}: sampling rate {value} on {where} is invalid.")
                return value
    raise SWECFormatError(
        f"{path}: no sampling rate. SWEC files carry an attribute 'sampling_rate' (Hz) on the "
        "file root or on data/ieeg; add it (h5py: f.attrs['sampling_rate'] = 512.0).")


def _seizures(file: Any, path: Path) -> np.ndarray:
    if "data/seizures" not in file:
        return np.zeros((0, 2))
    table = file["data/seizures"][()]
    names = table.dtype.names or ()
    if not {"onsets", "offsets"} <= set(names):
        raise SWECFormatError(
            f"{path}: data/seizures has fields {list(names)}; expected a compound array with "
            "fields 'onsets' and 'offsets' (seconds).")
    rows = np.stack([np.asarray(table["onsets"], float).ravel(),
                     np.asarray(table["offsets"], float).ravel()], axis=1)
    ok = np.isfinite(rows).all(axis=1) & (rows[:, 1] > rows[:, 0])
    if not ok.all():
        logger.warning("%s: ignoring %d seizure row(s) with a missing or non-positive duration: "
                       "%s", path, int((~ok).sum()), rows[~ok].tolist())
    return rows[ok]


def _time_axis(file: Any, shape: tuple[int, ...], path: Path) -> int:
    declared = file.attrs.get("channels")
    if declared is not None:
        try:
            n = int(_scalar(declared))
        except (TypeError, ValueError):
            n = -1
        if shape[0] == n:
            return 1
        if shape[1] == n:
            logger.warning("%s: data/ieeg is (time, channel) %s; reading it transposed.",
                           path, shape)
            return 0
    if shape[0] > shape[1]:
        raise SWECFormatError(
            f"{path}: data/ieeg has shape {shape}, more channels than samples; SWEC data are "
            "(channels, time). If the file is (time, channels), set its 'channels' attribute "
            "to the channel count so the layout can be told apart.")
    return 1


def _units(file: Any, dset: Any) -> str:
    for attrs in (dset.attrs, file.attrs):
        for key in ("units", "unit"):
            if key in attrs:
                return str(_scalar(attrs[key]))
    return "a.u."


def _check_virtual_sources(dset: Any, path: Path, subject: str) -> None:
    """Missing part files read as zeros without an error in HDF5: refuse them up front."""
    missing, foreign = [], []
    for source in dset.virtual_sources():
        name = source.file_name
        if name == ".":
            continue
        candidates = [Path(name), path.parent / name, path.parent / Path(name).name]
        if not any(c.is_file() for c in candidates):
            missing.append(name)
        if not Path(name).name.upper().startswith(subject.upper()):
            foreign.append(name)
    if missing:
        raise SWECFormatError(
            f"{path} is a virtual (total) file, but {len(missing)} of the part files it joins "
            f"are missing: {sorted(set(missing))[:4]}. HDF5 would read them as zeros. Put the "
            f"parts next to {path.name} (download the whole {subject} folder), or convert the "
            "part files one by one.")
    if foreign:
        logger.warning("%s joins part files whose names do not start with %s: %s. Check that "
                       "the total file belongs to this subject.", path, subject,
                       sorted(set(foreign))[:4])


def _open(path: str | os.PathLike) -> tuple[Any, Path]:
    import h5py

    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(f"{path} does not exist; check the path to the SWEC .h5 file.")
    if path.is_dir():
        hint = sorted(p.name for p in path.glob("*_total.h5"))[:1]
        raise SWECFormatError(f"{path} is a directory; pass one .h5 file"
                              + (f", e.g. {path / hint[0]}." if hint else "."))
    _load_plugins()
    try:
        file = h5py.File(path, "r")
    except OSError as err:
        raise SWECFormatError(f"{path} is not a readable HDF5 file ({err}).") from err
    return file, path


def _inspect(file: Any, path: Path) -> tuple[SWECInfo, Any]:
    import h5py

    dset = file.get("data/ieeg")
    if not isinstance(dset, h5py.Dataset):
        keys = sorted(file.keys())
        raise SWECFormatError(
            f"{path} is not a SWEC iEEG file: it has no dataset 'data/ieeg' (top-level keys: "
            f"{keys}). Convert EDF/BDF with `convert edf` and BIDS with `convert bids`.")
    if dset.ndim != 2:
        raise SWECFormatError(
            f"{path}: data/ieeg is {dset.ndim}-D with shape {dset.shape}; SWEC data are 2-D "
            "(channels, time). For a single channel, store it as shape (1, T).")
    if min(dset.shape) == 0:
        raise SWECFormatError(f"{path}: data/ieeg is empty (shape {dset.shape}).")
    if dset.dtype.kind not in "iuf":
        raise SWECFormatError(
            f"{path}: data/ieeg holds {dset.dtype} values, not numbers; SWEC samples are "
            "integers or floats (the real files hold float32). Write the samples as numbers "
            "(h5py: f.create_dataset('data/ieeg', data=samples.astype('float32'))).")
    subject = _subject(path)
    axis = _time_axis(file, dset.shape, path)
    info = SWECInfo(
        path=path, subject=subject, n_channels=int(dset.shape[1 - axis]),
        n_times=int(dset.shape[axis]), sfreq=_sampling_rate(file, dset, path),
        seizures=_seizures(file, path), dtype=str(dset.dtype),
        chunks=tuple(dset.chunks) if dset.chunks else None, virtual=bool(dset.is_virtual),
        time_axis=axis, units=_units(file, dset))
    return info, dset


def read_swec_info(path: str | os.PathLike) -> SWECInfo:
    """Channel count, sampling rate, duration and seizures of a SWEC file, without its data.

    Parameters
    ----------
    path : path-like
        ``IDxx_total.h5`` or ``IDxx_part_k.h5``.

    Returns
    -------
    SWECInfo

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from neuroattn.testing.files import write_swec_h5
    >>> h5 = write_swec_h5(tempfile.mkdtemp() + "/ID01_part_1.h5", np.zeros((3, 1000)), 100.0)
    >>> info = read_swec_info(h5)
    >>> info.n_channels, info.sfreq, info.duration_s, info.seizures.shape
    (3, 100.0, 10.0, (0, 2))
    """
    file, path = _open(path)
    with file:
        info, _ = _inspect(file, path)
    return info


class _ChunkReader:
    """``read(start, stop)`` over an HDF5 dataset that decodes each chunk once.

    Whole chunks along time are read and the last few kept, so the filter
    context that resampling reads across block edges costs no second decode.
    """

    def __init__(self, dset: Any, info: SWECInfo, chunk_len: int, index: list[int] | None,
                 keep: int = 3) -> None:
        self.dset, self.info, self.chunk_len, self.keep = dset, info, chunk_len, keep
        self.index = index
        self.cache: OrderedDict[int, np.ndarray] = OrderedDict()

    def _chunk(self, k: int) -> np.ndarray:
        if k in self.cache:
            self.cache.move_to_end(k)
            return self.cache[k]
        a, b = k * self.chunk_len, min((k + 1) * self.chunk_len, self.info.n_times)
        try:
            block = self.dset[:, a:b].T if self.info.time_axis == 1 else self.dset[a:b, :]
        except OSError as err:
            if _is_codec_error(err):
                raise _codec_error(self.info.path, err) from err
            raise
        if self.index is not None:
            block = block[:, self.index]
        self._check_finite(block, a)
        self.cache[k] = block
        while len(self.cache) > self.keep:
            self.cache.popitem(last=False)
        return block

    def _check_finite(self, block: np.ndarray, start: int) -> None:
        """Refuse NaN/Inf, naming the file, channel and first sample (the store takes neither)."""
        if block.dtype.kind != "f":
            return
        bad = ~np.isfinite(block)
        if not bad.any():
            return
        row, col = (int(i) for i in np.argwhere(bad)[0])
        channel = self.index[col] if self.index is not None else col
        sample = start + row
        raise SWECFormatError(
            f"{self.info.path}: data/ieeg holds {block[row, col]} at channel ch{channel} "
            f"(index {channel} along its channel axis), sample {sample} "
            f"({sample / self.info.sfreq:.3f} s), and {int(bad.sum()) - 1} more NaN/Inf in "
            f"samples {start}-{start + len(block) - 1}; a store takes finite samples only. "
            "Repair those samples in the file (e.g. interpolate them), or leave the channel "
            "out with channels=[...] (CLI: --channels).")

    def __call__(self, start: int, stop: int) -> np.ndarray:
        first, last = start // self.chunk_len, (stop - 1) // self.chunk_len
        parts = [self._chunk(k) for k in range(first, last + 1)]
        data = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)
        offset = first * self.chunk_len
        return data[start - offset:stop - offset]


def _check_filters(dset: Any, path: Path) -> None:
    import h5py

    plist = dset.id.get_create_plist()
    for i in range(plist.get_nfilters()):
        code, _, _, name = plist.get_filter(i)
        if not h5py.h5z.filter_avail(code):
            label = name.decode(errors="replace") if isinstance(name, bytes) else str(name)
            raise _codec_error(path, OSError(f"HDF5 filter {code} ({label}) is not available"))


@fill_doc
def convert_swec(
    src_h5: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    sfreq: float | None = None,
    max_channels: int | None = None,
    channels: Sequence[str] | None = None,
    subject: str | None = None,
    units: str | None = None,
    overwrite: bool = False,
    verbose: Verbose = None,
) -> Path:
    """Convert one SWEC iEEG HDF5 file into an iEEG store, chunk by chunk.

    The data are read in whole HDF5 chunks (3 minutes each in the real files),
    never as a whole, so a 10 GB part file needs a few hundred MB of memory.
    Channels are named ``ch0 .. ch{C-1}`` in file order (the files carry no
    names) and typed ``"seeg"``; the seizures become ``"seizure"``
    annotations; ``subject``, ``source_file`` and ``dataset`` go to the attrs.

    Parameters
    ----------
    src_h5 : path-like
        ``IDxx_total.h5`` (needs its part files next to it) or ``IDxx_part_k.h5``.
    dst : path-like
        The store to write (``.zarr``).
    sfreq : float, optional
        Resample to this rate in Hz (anti-aliased, see
        :func:`neuroattn.datasets.prepare.resample_signal`).
    max_channels : int, optional
        Keep at most this many channels (the first ones, contiguous; see
        :func:`~neuroattn.datasets.prepare.select_channels`).
    channels : sequence of str, optional
        Keep only these channels (``"ch0"``, ``"ch5"``, ...).
    subject : str, optional
        Subject id; default from the file name (``ID07_total.h5`` -> ``ID07``).
    units : str, optional
        Units of the samples, if known (e.g. ``"uV"``); default from a
        ``units`` attribute in the file, else ``"a.u."``.
    %(overwrite_store)s
    %(verbose)s

    %(returns_dst)s

    Raises
    ------
    SWECFormatError
        The file has no ``data/ieeg``, no sampling rate, 1-D or non-numeric data,
        NaN/Inf samples (the message names the channel and sample), or missing parts.
    ImportError
        A compressed chunk cannot be decoded: ``pip install hdf5plugin``.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from neuroattn.testing.files import write_swec_h5
    >>> tmp = tempfile.mkdtemp()
    >>> h5 = write_swec_h5(tmp + "/ID02_total.h5", np.ones((3, 1000)), 100.0)
    >>> from neuroattn.store import open_store
    >>> open_store(convert_swec(h5, tmp + "/ID02.zarr")).channel.values.tolist()
    ['ch0', 'ch1', 'ch2']
    """
    with use_log_level(verbose):
        dst = check_destination(dst, overwrite, src_h5)
        file, path = _open(src_h5)
        with file:
            info, dset = _inspect(file, path)
            if info.virtual:
                _check_virtual_sources(dset, path, info.subject)
            else:
                _check_filters(dset, path)
            names = [f"ch{i}" for i in range(info.n_channels)]
            index = None
            if max_channels is not None or channels is not None:
                index = select_channels(names, None, max_channels=max_channels,
                                        channels=channels)
                names = [names[i] for i in index]
            chunk_len = (int(info.chunks[info.time_axis]) if info.chunks
                         else max(1, round(CHUNK_S * info.sfreq)))
            read = _ChunkReader(dset, info, chunk_len, index)
            seizures = info.seizures
            annotations = {"onset": seizures[:, 0].tolist(),
                           "duration": (seizures[:, 1] - seizures[:, 0]).tolist(),
                           "description": ["seizure"] * len(seizures)}
            late = seizures[seizures[:, 0] >= info.duration_s]
            if len(late):
                logger.warning("%s: %d seizure(s) start after the end of the recording "
                               "(%.1f s): %s", path, len(late), info.duration_s, late.tolist())
            attrs = {"subject": subject or info.subject, "source_file": str(path),
                     "dataset": "SWEC iEEG", "units": units or info.units}
            write_ieeg_stream(
                read, info.n_times, info.sfreq, dst, ch_names=names, ch_types="seeg",
                annotations=annotations, attrs=attrs, resample_to=sfreq, block_len=chunk_len,
                overwrite=overwrite, desc=f"converting {path.name}")
        logger.info("%s: %d channels x %.1f h at %g Hz, %d seizure(s) -> %s", path.name,
                    len(names), info.duration_s / 3600, sfreq or info.sfreq, len(seizures), dst)
    return dst
