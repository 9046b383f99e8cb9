"""Lossless conversion between MNE ``Raw`` objects and iEEG datasets.

What round-trips: the samples (same dtype by default), channel names and
types, sfreq, channel positions and their coordinate frame, bad channels,
``first_samp``, ``meas_date`` and annotations (onset, duration, description,
channel names).

Examples
--------
>>> import numpy as np, mne
>>> from neuroattn.store import from_mne_raw, to_mne_raw
>>> raw = mne.io.RawArray(np.zeros((2, 100)), mne.create_info(["A1", "A2"], 100.0, "seeg"),
...                       verbose=False)
>>> ds = from_mne_raw(raw)
>>> to_mne_raw(ds).ch_names
['A1', 'A2']
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import xarray as xr

from neuroattn._logging import logger
from neuroattn.errors import ParameterError
from neuroattn.store.build import ieeg_from_array

# "a.u." (e.g. robust-scaled data) is passed to MNE as-is, with a warning.
_UNIT_SCALE = {"V": 1.0, "mV": 1e-3, "uV": 1e-6, "µV": 1e-6, "μV": 1e-6, "nV": 1e-9,
               "a.u.": 1.0}


def coordinate_frames() -> dict[int, str]:
    """MNE's coordinate-frame codes and their names (``"head"``, ``"mri"``, ...).

    Examples
    --------
    >>> coordinate_frames()[4]
    'head'
    """
    from mne.io.constants import FIFF

    return {int(v): k.removeprefix("FIFFV_COORD_").lower()
            for k, v in vars(FIFF).items() if k.startswith("FIFFV_COORD_")}


def from_mne_raw(raw: Any, *, dtype: str | None = None, **attrs: Any) -> xr.Dataset:
    """Convert an MNE Raw into an iEEG dataset (time, channel), in volts.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        Any Raw (loaded into memory by this call).
    dtype : str, optional
        Sample dtype; the default keeps MNE's float64 so the round trip is
        exact. ``"float32"`` halves the size (about 7 significant digits).
    **attrs
        Extra attrs, e.g. ``subject="sub-01"``.
    """
    import mne

    if not isinstance(raw, mne.io.BaseRaw):
        raise TypeError(f"from_mne_raw needs an mne.io.Raw, got {type(raw).__name__}.")
    data = raw.get_data().T
    if dtype is not None:
        data = data.astype(dtype)
    chs = raw.info["chs"]
    positions = np.array([ch["loc"][:3] for ch in chs], dtype=float)
    frames = {ch["coord_frame"] for ch in chs}
    first_time = raw.first_samp / raw.info["sfreq"]
    ann = raw.annotations
    offset = first_time  # MNE reports onsets including first_samp, with or without meas_date
    meas_date = raw.info["meas_date"]
    extra: dict[str, Any] = {
        "first_samp": int(raw.first_samp),
        "coord_frame": (coordinate_frames().get(int(frames.pop()), "unknown")
                        if len(frames) == 1 else "mixed"),
    }
    if meas_date is not None:
        extra["meas_date"] = meas_date.isoformat()
    if raw.filenames and raw.filenames[0] is not None:
        extra["source_file"] = str(raw.filenames[0])
    return ieeg_from_array(
        data,
        raw.info["sfreq"],
        ch_names=raw.ch_names,
        ch_types=raw.get_channel_types(),
        positions=positions,
        bad=[name in raw.info["bads"] for name in raw.ch_names],
        annotations={
            "onset": np.asarray(ann.onset) - offset,
            "duration": ann.duration,
            "description": ann.description,
            "ch_names": [list(c) for c in ann.ch_names],
        },
        units="V",
        **extra,
        **attrs,
    )


def to_mne_raw(ds: xr.Dataset, *, verbose: bool | str | None = False) -> Any:
    """Convert an iEEG dataset (or an opened store) back into an ``mne.io.RawArray``."""
    import mne

    if "signal" not in ds:
        raise ParameterError("to_mne_raw needs an iEEG dataset with a 'signal' variable.")
    units = ds.attrs.get("units", "V")
    if units not in _UNIT_SCALE:
        raise ParameterError(f"Unknown units {units!r}; expected one of {sorted(_UNIT_SCALE)}.")
    if units == "a.u.":
        logger.warning("The data are in arbitrary units (scaled); MNE will label them volts.")
    sfreq = float(ds.attrs["sfreq"])
    names = [str(c) for c in ds["channel"].values]
    types = [str(t) for t in ds["ch_type"].values]
    info = mne.create_info(names, sfreq, types)
    frame_codes = {name: code for code, name in coordinate_frames().items()}
    frame = frame_codes.get(ds.attrs.get("coord_frame", "head"))
    if all(c in ds.coords for c in ("x", "y", "z")):
        pos = np.stack([ds[c].values for c in ("x", "y", "z")], axis=1)
        for ch, p in zip(info["chs"], pos, strict=True):
            ch["loc"][:3] = p
            if frame is not None:
                ch["coord_frame"] = frame
    if "bad" in ds.coords:
        info["bads"] = [n for n, b in zip(names, ds["bad"].values, strict=True) if b]
    meas_date = ds.attrs.get("meas_date")
    if meas_date is not None:
        info.set_meas_date(dt.datetime.fromisoformat(meas_date))
    first_samp = int(ds.attrs.get("first_samp", 0))
    data = np.asarray(ds["signal"].values).T * _UNIT_SCALE[units]
    raw = mne.io.RawArray(data, info, first_samp=first_samp, verbose=verbose)
    ann = ds.attrs.get("annotations")
    if ann and len(ann["onset"]):
        offset = first_samp / sfreq if meas_date is not None else 0.0
        raw.set_annotations(mne.Annotations(
            onset=np.asarray(ann["onset"], float) + offset,
            duration=ann["duration"],
            description=ann["description"],
            ch_names=ann.get("ch_names"),
            orig_time=raw.info["meas_date"],
        ))
    return raw
