"""EDF/BDF (and anything ``mne.io.read_raw`` opens) into an iEEG store, via MNE.

The recording is read lazily and streamed block by block, so files larger
than memory convert. Only data channels (EEG, sEEG, ECoG, DBS) are kept;
stimulus, misc, ECG/EMG/EOG and other non-neural channels, and the
``EDF Annotations`` channel, are dropped. EDF does not say what kind of
electrode a channel is, so MNE calls them all EEG: they are stored as
``ch_type`` (``"seeg"`` by default; ``"ecog"`` for grids and strips, or
``None`` to keep MNE's types). Annotations are kept; those that name a
seizure (``seizure_prefix``) get the description ``seizure/<original>`` so that
:func:`neuroattn.store.seizure_intervals` finds them.

A file that ends before the duration its header declares (an interrupted copy,
download or recording) is refused with :class:`TruncatedRecordingError`,
unless ``allow_truncated=True``: then the part present is converted, a
:class:`~neuroattn.datasets.prepare.ConversionWarning` names the file, and the
store records the declared length as ``attrs["truncated_from_s"]``. MNE's
warnings while reading are passed on as ``ConversionWarning`` warnings that name the
file.

The data set card is ``datasets/edf-bdf.md``.

Examples
--------
>>> import tempfile
>>> from neuroattn.datasets import make_synthetic_ieeg
>>> from neuroattn.datasets.edf import convert_edf
>>> from neuroattn.store import open_store, seizure_intervals
>>> tmp = tempfile.mkdtemp()
>>> rec = make_synthetic_ieeg(n_channels=4, duration_s=60.0, sfreq=128.0, n_seizures=1)
>>> ds = open_store(convert_edf(rec.to_edf(tmp + "/rec.edf"), tmp + "/rec.zarr"))
>>> ds.signal.shape, ds.ch_type.values[0]
((7680, 4), 'seeg')
>>> seizure_intervals(ds.attrs["annotations"]).shape
(1, 2)
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neuroattn._docs import fill_doc
from neuroattn._logging import Verbose, logger, use_log_level
from neuroattn.datasets.prepare import (
    check_destination,
    select_channels,
    warn_conversion,
    write_ieeg_stream,
)
from neuroattn.errors import FormatError, InputNotFoundError

#: MNE channel types that hold brain signals; everything else is dropped.
DATA_CH_TYPES = ("seeg", "ecog", "eeg", "dbs")
#: Annotation descriptions starting with one of these (any case) mark seizures.
SEIZURE_PREFIXES = ("seizure", "sz")
_TYPED_FORMATS = {".edf", ".bdf", ".gdf"}  # formats whose labels may carry a type ("ECG x")
#: The first 8 bytes of an EDF(+) and of a BDF(+) header.
_EDF_MAGIC = (b"0       ", b"\xffBIOSEMI")
#: MNE's warning when an EDF/BDF holds another number of records than its header says.
MNE_SIZE_MISMATCH = "does not match the file size"


class RecordingFormatError(FormatError):
    """A recording that MNE cannot read."""


class TruncatedRecordingError(RecordingFormatError):
    """A recording file that ends before the duration its header declares."""


def edf_header_duration(path: str | os.PathLike) -> float | None:
    """The duration an EDF/BDF header declares: data records x record duration, in s.

    Parameters
    ----------
    path : path-like
        Any file.

    Returns
    -------
    float or None
        None when the file is not EDF/BDF, or its header leaves the number
        of records open (``-1``, a recording that was not closed).

    Examples
    --------
    >>> import tempfile
    >>> from neuroattn.datasets import make_synthetic_ieeg
    >>> rec = make_synthetic_ieeg(n_channels=2, duration_s=60.0, sfreq=128.0, n_seizures=1)
    >>> edf_header_duration(rec.to_edf(tempfile.mkdtemp() + "/r.edf"))
    60.0
    """
    try:
        with Path(path).open("rb") as fid:
            head = fid.read(256)
    except OSError:
        return None
    if len(head) < 256 or head[:8] not in _EDF_MAGIC:
        return None
    try:
        n_records = int(head[236:244].decode("ascii"))
        record_s = float(head[244:252].decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None
    if n_records < 1 or not math.isfinite(record_s) or record_s <= 0:
        return None
    return n_records * record_s


def check_complete(raw: Any, path: str | os.PathLike, *, allow_truncated: bool = False
                   ) -> dict[str, float]:
    """Refuse a recording shorter than its header declares, or flag it when allowed.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording as MNE read it (MNE reads what is present).
    path : path-like
        Its file (only EDF/BDF headers declare a length).
    allow_truncated : bool
        Convert a truncated file anyway, with a
        :class:`~neuroattn.datasets.prepare.ConversionWarning`.

    Returns
    -------
    dict
        Attrs for the store: ``{"truncated_from_s": declared}`` for an
        allowed truncated file, else empty.

    Raises
    ------
    TruncatedRecordingError
        The file is truncated and ``allow_truncated`` is False.
    """
    declared = edf_header_duration(path)
    sfreq = float(raw.info["sfreq"])
    present = raw.n_times / sfreq
    if declared is None or present >= declared - 0.5 / sfreq:
        return {}
    what = (f"{path} is truncated: its header declares {declared:g} s but the file holds only "
            f"{present:g} s (an interrupted copy, download or recording)")
    if not allow_truncated:
        raise TruncatedRecordingError(
            f"{what}; copy the complete file again, or pass allow_truncated=True (CLI: "
            f"--allow-truncated) to convert the {present:g} s present.")
    warn_conversion(f"{what}; converting the {present:g} s present (allow_truncated=True); "
                    f"the store records truncated_from_s={declared:g}.", stacklevel=4)
    return {"truncated_from_s": declared}


class _Collect(logging.Handler):
    """A log handler that keeps each message's text in a list."""

    def __init__(self, texts: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.texts = texts

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(record.getMessage())


@contextlib.contextmanager
def collect_mne_warnings() -> Iterator[list[str]]:
    """Collect MNE's warnings, and its WARNING log lines, as text instead of printing them.

    Warnings of other categories than ``RuntimeWarning`` (MNE's) raised
    meanwhile are re-issued unchanged on exit. Pass the texts to
    :func:`surface_mne_warnings` once the file they concern is known to be usable.

    Yields
    ------
    list of str
        Filled on exit, in order, without repeats.

    Examples
    --------
    >>> import mne
    >>> with collect_mne_warnings() as texts:
    ...     mne.utils.warn("a test warning")
    >>> texts
    ['a test warning']
    """
    found: list[str] = []
    mne_logger = logging.getLogger("mne")
    saved = (mne_logger.handlers[:], mne_logger.propagate, mne_logger.level)
    mne_logger.handlers, mne_logger.propagate = [_Collect(found)], False
    mne_logger.setLevel(logging.WARNING)
    texts: list[str] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield texts
    finally:
        mne_logger.handlers, mne_logger.propagate = saved[0], saved[1]
        mne_logger.setLevel(saved[2])
    for record in caught:
        if issubclass(record.category, RuntimeWarning):
            found.append(str(record.message))
        else:
            warnings.warn_explicit(record.message, record.category, record.filename,
                                   record.lineno)
    texts.extend(dict.fromkeys(found))


def surface_mne_warnings(texts: Sequence[str], source: str | os.PathLike, *,
                         skip: Sequence[str] = ()) -> None:
    """Issue MNE's warnings about ``source`` as ``ConversionWarning`` warnings naming the file.

    Parameters
    ----------
    texts : sequence of str
        From :func:`collect_mne_warnings`.
    source : path-like
        The file MNE read.
    skip : sequence of str
        Drop warnings whose text contains one of these (reported already).
    """
    for text in texts:
        if not any(part in text for part in skip):
            warn_conversion(f"{source}: {text}", stacklevel=4)


def _seizure_description(description: str, prefixes: Sequence[str]) -> str:
    text = str(description)
    lower = text.lower()
    if lower.startswith("seizure"):
        return text
    if any(lower.startswith(p.lower()) for p in prefixes if p):
        return f"seizure/{text}"
    return text


def raw_to_store(
    raw: Any,
    dst: str | os.PathLike,
    *,
    ch_type: str | None = "seeg",
    sfreq: float | None = None,
    max_channels: int | None = None,
    channels: Sequence[str] | None = None,
    seizure_prefix: str | Sequence[str] = SEIZURE_PREFIXES,
    overwrite: bool = False,
    verbose: Verbose = None,
    **attrs: Any,
) -> Path:
    """Stream an MNE ``Raw`` (preloaded or not) into an iEEG store.

    Used by :func:`convert_edf` and :func:`neuroattn.datasets.bids.convert_bids_ieeg`;
    see :func:`convert_edf` for the parameters. Bad channels
    (``raw.info["bads"]``) keep their flag, positions (``loc``) and their
    coordinate frame are kept, and annotation onsets are stored in seconds
    from the first sample.

    Examples
    --------
    >>> import tempfile, numpy as np, mne
    >>> raw = mne.io.RawArray(np.zeros((3, 200)), mne.create_info(
    ...     ["A1", "A2", "ECG"], 100.0, ["seeg", "seeg", "ecg"]), verbose=False)
    >>> from neuroattn.store import open_store
    >>> open_store(raw_to_store(raw, tempfile.mkdtemp() + "/r.zarr")).channel.values.tolist()
    ['A1', 'A2']
    """
    import mne

    from neuroattn.store.mne_io import coordinate_frames

    with use_log_level(verbose):
        if not isinstance(raw, mne.io.BaseRaw):
            raise TypeError(f"raw_to_store needs an mne.io.Raw, got {type(raw).__name__}.")
        dst = check_destination(dst, overwrite, *(raw.filenames or ()))
        types = raw.get_channel_types()
        data_idx = [i for i, t in enumerate(types) if t in DATA_CH_TYPES]
        dropped = [f"{raw.ch_names[i]} ({types[i]})" for i in range(len(types))
                   if i not in set(data_idx)]
        if not data_idx:
            raise RecordingFormatError(
                f"{raw.filenames[0] if raw.filenames else 'The recording'} has no data "
                f"channels: its types are {sorted(set(types))}, none of {list(DATA_CH_TYPES)}. "
                "Set the types first (raw.set_channel_types) and convert the Raw with "
                "neuroattn.datasets.edf.raw_to_store.")
        if dropped:
            logger.info("dropping %d non-data channel(s): %s", len(dropped), ", ".join(dropped))
        bads = set(raw.info["bads"])
        names = [raw.ch_names[i] for i in data_idx]
        bad = [n in bads for n in names]
        if max_channels is not None or channels is not None:
            keep = select_channels(names, bad, max_channels=max_channels, channels=channels)
            data_idx = [data_idx[i] for i in keep]
            names, bad = [names[i] for i in keep], [bad[i] for i in keep]
        chs = [raw.info["chs"][i] for i in data_idx]
        ch_types = [types[i] if ch_type is None or types[i] != "eeg" else ch_type
                    for i in data_idx]
        positions = np.array([ch["loc"][:3] for ch in chs], dtype=float)
        frames = {int(ch["coord_frame"]) for ch in chs}
        raw_sfreq = float(raw.info["sfreq"])
        ann = raw.annotations
        prefixes = [seizure_prefix] if isinstance(seizure_prefix, str) else list(seizure_prefix)
        annotations = {
            "onset": (np.asarray(ann.onset, float) - raw.first_samp / raw_sfreq).tolist(),
            "duration": np.asarray(ann.duration, float).tolist(),
            "description": [_seizure_description(d, prefixes) for d in ann.description],
            "ch_names": [list(c) for c in ann.ch_names],
        }
        extra: dict[str, Any] = {
            "units": "V",
            "first_samp": int(raw.first_samp),
            "coord_frame": coordinate_frames().get(frames.pop(), "unknown") if len(frames) == 1
            else "mixed",
        }
        if raw.info["meas_date"] is not None:
            extra["meas_date"] = raw.info["meas_date"].isoformat()
        if raw.filenames and raw.filenames[0] is not None:
            extra["source_file"] = str(raw.filenames[0])
        extra.update({k: v for k, v in attrs.items() if v is not None})

        def read(start: int, stop: int) -> np.ndarray:
            return raw.get_data(picks=data_idx, start=start, stop=stop).T

        write_ieeg_stream(
            read, int(raw.n_times), raw_sfreq, dst, ch_names=names, ch_types=ch_types,
            positions=positions, bad=bad, annotations=annotations, attrs=extra,
            resample_to=sfreq, block_len=max(1, round(60.0 * raw_sfreq)), overwrite=overwrite)
        logger.info("%d channels x %.1f s at %g Hz (%d bad, %d annotations) -> %s",
                    len(names), raw.n_times / raw_sfreq, sfreq or raw_sfreq, sum(bad),
                    len(ann), dst)
    return dst


@fill_doc
def convert_edf(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    sfreq: float | None = None,
    max_channels: int | None = None,
    channels: Sequence[str] | None = None,
    ch_type: str | None = "seeg",
    seizure_prefix: str | Sequence[str] = SEIZURE_PREFIXES,
    subject: str | None = None,
    allow_truncated: bool = False,
    overwrite: bool = False,
    verbose: Verbose = None,
) -> Path:
    """Convert an EDF/BDF file (or any file ``mne.io.read_raw`` opens) into an iEEG store.

    Parameters
    ----------
    src : path-like
        ``.edf``, ``.bdf``, ``.gdf``, ``.fif``, ``.vhdr``, ``.set``, ...
    dst : path-like
        The store to write (``.zarr``).
    sfreq : float, optional
        Resample to this rate in Hz (anti-aliased, streamed).
    max_channels : int, optional
        Keep at most this many data channels: bad ones are dropped, then the
        first ``max_channels`` kept (see
        :func:`~neuroattn.datasets.prepare.select_channels`).
    channels : sequence of str, optional
        Keep only these channels (bad ones are dropped too).
    ch_type : str or None
        Type given to channels MNE reads as EEG (all of them for EDF):
        ``"seeg"`` (depth electrodes), ``"ecog"`` (grids, strips), ``"eeg"``
        (scalp) or ``None`` to keep MNE's types.
    seizure_prefix : str or sequence of str
        Annotations whose description starts with one of these (any case) are
        seizures; they are stored as ``seizure/<description>``.
    subject : str, optional
        Stored as ``attrs["subject"]``.
    allow_truncated : bool
        Convert an EDF/BDF that ends before the duration its header declares
        (with a warning; ``attrs["truncated_from_s"]`` records the declared
        length). By default such a file is refused.
    %(overwrite_store)s
    %(verbose)s

    %(returns_dst)s

    Raises
    ------
    TruncatedRecordingError
        The file is shorter than its header declares (see ``allow_truncated``).
    RecordingFormatError
        MNE cannot read the file.

    Notes
    -----
    For EDF, BDF and GDF, MNE infers channel types from labels such as
    ``"ECG EKG1"`` and strips the type from the name; channels so typed as
    ECG, EMG, EOG, respiration, stimulus or misc are dropped.

    Examples
    --------
    >>> import tempfile
    >>> from neuroattn.datasets import make_synthetic_ieeg
    >>> tmp = tempfile.mkdtemp()
    >>> edf = make_synthetic_ieeg(n_channels=4, duration_s=30.0, sfreq=128.0, n_seizures=0).to_edf(
    ...     tmp + "/r.edf")
    >>> from neuroattn.store import open_store
    >>> open_store(convert_edf(edf, tmp + "/r.zarr", sfreq=64.0)).attrs["sfreq"]
    64.0
    """
    with use_log_level(verbose):
        src = Path(src)
        if not src.exists():
            raise InputNotFoundError(f"{src} does not exist; check the path to the recording.")
        check_destination(dst, overwrite, src)
        raw, texts = _read_raw(src)
        extra = check_complete(raw, src, allow_truncated=allow_truncated)
        surface_mne_warnings(texts, src, skip=(MNE_SIZE_MISMATCH,) if extra else ())
        return raw_to_store(raw, dst, ch_type=ch_type, sfreq=sfreq, max_channels=max_channels,
                            channels=channels, seizure_prefix=seizure_prefix,
                            overwrite=overwrite, subject=subject, **extra)


def _read_raw(src: Path) -> tuple[Any, list[str]]:
    """``mne.io.read_raw`` (lazy), with the warnings MNE gave."""
    import mne

    kwargs = {"infer_types": True} if src.suffix.lower() in _TYPED_FORMATS else {}
    with collect_mne_warnings() as texts:
        try:
            raw = mne.io.read_raw(src, preload=False, verbose="warning", **kwargs)
        except (ValueError, RuntimeError, OSError, KeyError, IndexError, EOFError) as err:
            raise RecordingFormatError(
                f"MNE cannot read {src} ({type(err).__name__}: {err}); check that it is a "
                "complete EDF/BDF (or another format mne.io.read_raw supports).") from err
    return raw, texts
