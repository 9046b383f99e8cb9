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

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neuroattn._logging import Verbose, logger, use_log_level
from neuroattn.datasets.prepare import _check_destination, select_channels, write_ieeg_stream

#: MNE channel types that hold brain signals; everything else is dropped.
DATA_CH_TYPES = ("seeg", "ecog", "eeg", "dbs")
#: Annotation descriptions starting with one of these (any case) mark seizures.
SEIZURE_PREFIXES = ("seizure", "sz")
_TYPED_FORMATS = {".edf", ".bdf", ".gdf"}  # formats whose labels may carry a type ("ECG x")


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

    from neuroattn.store.mne_io import _frames

    with use_log_level(verbose):
        if not isinstance(raw, mne.io.BaseRaw):
            raise TypeError(f"raw_to_store needs an mne.io.Raw, got {type(raw).__name__}.")
        dst = _check_destination(dst, overwrite, *(raw.filenames or ()))
        types = raw.get_channel_types()
        data_idx = [i for i, t in enumerate(types) if t in DATA_CH_TYPES]
        dropped = [f"{raw.ch_names[i]} ({types[i]})" for i in range(len(types))
                   if i not in set(data_idx)]
        if not data_idx:
            raise ValueError(
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
            "coord_frame": _frames().get(frames.pop(), "unknown") if len(frames) == 1
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
    overwrite : bool
        Replace an existing store.
    verbose : bool, str, int or None
        Log level for this call.

    Returns
    -------
    pathlib.Path
        ``dst``.

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
    import mne

    with use_log_level(verbose):
        src = Path(src)
        if not src.exists():
            raise FileNotFoundError(f"{src} does not exist; check the path to the recording.")
        _check_destination(dst, overwrite, src)
        kwargs = {"infer_types": True} if src.suffix.lower() in _TYPED_FORMATS else {}
        try:
            raw = mne.io.read_raw(src, preload=False, verbose="error", **kwargs)
        except (ValueError, RuntimeError, OSError, KeyError) as err:
            raise ValueError(
                f"MNE cannot read {src} ({type(err).__name__}: {err}). Check that it is a "
                "complete EDF/BDF (or another format mne.io.read_raw supports).") from err
        return raw_to_store(raw, dst, ch_type=ch_type, sfreq=sfreq, max_channels=max_channels,
                            channels=channels, seizure_prefix=seizure_prefix,
                            overwrite=overwrite, subject=subject)
