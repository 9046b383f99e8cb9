"""Build schema-conforming datasets from NumPy arrays.

Examples
--------
>>> import numpy as np
>>> from neuroattn.store.build import ieeg_from_array
>>> ds = ieeg_from_array(np.zeros((100, 2), "float32"), sfreq=50.0, ch_names=["A1", "A2"])
>>> ds.signal.dims, float(ds.time[-1])
(('time', 'channel'), 1.98)
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from neuroattn.store.errors import SchemaError
from neuroattn.store.schema import validate_metadata


def _names(names: Sequence[str] | None, n: int, prefix: str, what: str) -> list[str]:
    if names is None:
        return [f"{prefix}{i}" for i in range(n)]
    names = [str(x) for x in names]
    if len(names) != n:
        raise SchemaError(f"Got {len(names)} {what} names for {n} {what}s; give one name "
                          f"per {what}.")
    return names


def annotations_attr(
    onset: Sequence[float],
    duration: Sequence[float],
    description: Sequence[str],
    ch_names: Sequence[Sequence[str]] | None = None,
) -> dict[str, list]:
    """The JSON-safe ``attrs["annotations"]`` table (onsets in s from the first sample)."""
    onset, duration = list(map(float, onset)), list(map(float, duration))
    description = [str(d) for d in description]
    if not len(onset) == len(duration) == len(description):
        raise SchemaError(
            f"Annotation columns have different lengths (onset {len(onset)}, duration "
            f"{len(duration)}, description {len(description)}); give one entry per annotation.")
    chs = [[str(c) for c in cs] for cs in ch_names] if ch_names is not None else [
        [] for _ in onset]
    return {"onset": onset, "duration": duration, "description": description, "ch_names": chs}


def seizure_intervals(annotations: dict | None, prefix: str = "seizure") -> np.ndarray:
    """``(n, 2)`` onset/offset seconds of annotations whose description starts with ``prefix``.

    Examples
    --------
    >>> seizure_intervals({"onset": [1.0, 5.0], "duration": [2.0, 1.0],
    ...                    "description": ["seizure", "artifact"]})
    array([[1., 3.]])
    """
    if not annotations:
        return np.zeros((0, 2))
    rows = [(on, on + dur) for on, dur, desc in zip(
        annotations["onset"], annotations["duration"], annotations["description"], strict=True)
        if str(desc).lower().startswith(prefix)]
    return np.asarray(rows, dtype=float).reshape(-1, 2)


def ieeg_from_array(
    data: np.ndarray,
    sfreq: float,
    *,
    ch_names: Sequence[str] | None = None,
    ch_types: str | Sequence[str] = "seeg",
    positions: np.ndarray | None = None,
    bad: Sequence[bool] | None = None,
    annotations: Mapping[str, Sequence] | None = None,
    units: str = "V",
    t0: float = 0.0,
    channels_last: bool | None = None,
    **attrs: Any,
) -> xr.Dataset:
    """An iEEG dataset from samples shaped ``(n_times, n_channels)``.

    Parameters
    ----------
    data : ndarray, shape (n_times, n_channels)
        Floating-point samples in ``units``.
    sfreq : float
        Sampling rate in Hz (required: nothing can be computed without it).
    ch_names, ch_types, positions, bad
        Per-channel names, MNE types, ``(n_channels, 3)`` positions in metres
        (NaN where unknown) and bad flags.
    annotations : dict, optional
        ``{"onset", "duration", "description"[, "ch_names"]}``, seconds from the first sample.
    channels_last : bool, optional
        ``True``: ``data`` is ``(n_times, n_channels)``; ``False``: it is
        ``(n_channels, n_times)`` and is transposed. By default the layout is
        ``(n_times, n_channels)``, and data with fewer samples than channels and
        no ``ch_names`` are refused as ambiguous (they look transposed), as
        :meth:`IEEGStoreWriter.append` refuses a transposed block.
    **attrs
        Extra attrs such as ``subject`` or ``reference``.

    Raises
    ------
    SchemaError
        ``data`` is not 2-D, or looks transposed (see ``channels_last``).
    """
    data = _time_by_channel(np.asarray(data), ch_names, channels_last)
    _check_sfreq(sfreq)
    n_times, n_ch = data.shape
    names = _names(ch_names, n_ch, "ch", "channel")
    types = [ch_types] * n_ch if isinstance(ch_types, str) else list(ch_types)
    if len(types) != n_ch:
        raise SchemaError(f"Got {len(types)} channel types for {n_ch} channels; give one type "
                          "per channel, or one string for all.")
    coords: dict[str, Any] = {
        "time": ("time", float(t0) + np.arange(n_times) / float(sfreq)),
        "channel": ("channel", np.array(names, dtype=object)),
        "ch_type": ("channel", np.array(types, dtype=object)),
        "bad": ("channel", np.zeros(n_ch, bool) if bad is None else _bad_flags(bad, n_ch)),
    }
    if positions is not None:
        pos = np.asarray(positions, dtype=float)
        if pos.shape != (n_ch, 3):
            raise SchemaError(f"positions must be (n_channels, 3) = ({n_ch}, 3); got "
                              f"{pos.shape}. Give x, y, z in metres per channel (NaN if unknown).")
        coords.update(x=("channel", pos[:, 0]), y=("channel", pos[:, 1]), z=("channel", pos[:, 2]))
    all_attrs: dict[str, Any] = {"sfreq": float(sfreq), "units": units, **attrs}
    if annotations is not None:
        all_attrs["annotations"] = annotations_attr(
            annotations["onset"], annotations["duration"], annotations["description"],
            annotations.get("ch_names"))
    ds = xr.Dataset({"signal": (("time", "channel"), data)}, coords=coords, attrs=all_attrs)
    validate_metadata(ds, "ieeg")
    return ds


def _check_sfreq(sfreq: Any) -> None:
    if sfreq is None:
        raise SchemaError("sfreq is required: pass the sampling rate in Hz.")
    if isinstance(sfreq, bool) or not isinstance(sfreq, numbers.Real):
        raise SchemaError(f"sfreq={sfreq!r} is a {type(sfreq).__name__}; pass the sampling rate "
                          "as a number of Hz (e.g. 256.0).")


def _bad_flags(bad: Sequence[bool], n_ch: int) -> np.ndarray:
    """Per-channel bad flags as booleans; refuses strings (``bool("no")`` is True)."""
    flags = np.asarray(bad)
    if flags.shape != (n_ch,):
        raise SchemaError(f"Got bad flags of shape {flags.shape} for {n_ch} channels; give one "
                          "True/False per channel.")
    if flags.dtype.kind not in "biu" or not np.isin(flags, (0, 1)).all():
        raise SchemaError(f"bad flags must be True/False (or 1/0) per channel; got "
                          f"{flags.tolist()[:8]}. Convert them, e.g. [v == 'bad' for v in ...].")
    return flags.astype(bool)


def _time_by_channel(data: np.ndarray, ch_names: Sequence[str] | None,
                     channels_last: bool | None) -> np.ndarray:
    """``data`` as ``(n_times, n_channels)``, refusing a layout that looks transposed."""
    if data.ndim != 2:
        raise SchemaError(f"iEEG data must be 2-D (n_times, n_channels); got shape {data.shape}.")
    if channels_last is not None:
        data = data if channels_last else data.T
    if data.shape[1] == 0:
        raise SchemaError(f"iEEG data of shape {data.shape} have no channels; pass "
                          "(n_times, n_channels) data with at least one channel.")
    if channels_last is not None:
        return data
    n_times, n_ch = data.shape
    if ch_names is not None and len(ch_names) == n_times != n_ch:
        raise SchemaError(
            f"data has shape {data.shape} but {len(ch_names)} channel names: it looks "
            "like (n_channels, n_times); pass data.T."
        )
    if ch_names is None and n_times < n_ch:
        raise SchemaError(
            f"data has shape {data.shape}: fewer samples ({n_times}) than channels ({n_ch}) "
            "looks like (n_channels, n_times); pass data.T (or channels_last=False), or "
            f"channels_last=True if it really holds {n_times} samples of {n_ch} channels."
        )
    return data


def fmri_from_array(
    responses: np.ndarray,
    *,
    stimulus: Sequence | None = None,
    voxel: Sequence | None = None,
    noise_ceiling: np.ndarray | None = None,
    roi: Sequence[str] | None = None,
    space: str = "unknown",
    **attrs: Any,
) -> xr.Dataset:
    """An fMRI encoding dataset from responses shaped ``(n_stimuli, n_voxels)``.

    ``noise_ceiling`` is per voxel, as a fraction of explainable variance in
    [0, 1], the unit :func:`neuroattn.encoding.metrics.noise_normalized_accuracy`
    takes (NSD ships percent: divide by 100, as the Algonauts reader does), and
    ``roi`` labels each voxel.

    Examples
    --------
    >>> import numpy as np
    >>> ds = fmri_from_array(np.ones((4, 3)), roi=["V1", "V1", "V2"])
    >>> ds.responses.dims
    ('stimulus', 'voxel')
    """
    responses = np.asarray(responses)
    if responses.ndim != 2:
        raise SchemaError(f"responses must be 2-D (n_stimuli, n_voxels); got {responses.shape}.")
    n_stim, n_vox = responses.shape
    coords: dict[str, Any] = {
        "stimulus": ("stimulus", np.arange(n_stim) if stimulus is None else np.asarray(stimulus)),
        "voxel": ("voxel", np.arange(n_vox) if voxel is None else np.asarray(voxel)),
    }
    for name, values in (("noise_ceiling", noise_ceiling), ("roi", roi)):
        if values is not None:
            values = np.asarray(values, dtype=object if name == "roi" else float)
            if values.shape != (n_vox,):
                raise SchemaError(f"{name} needs one value per voxel ({n_vox}); got "
                                  f"{values.shape}.")
            coords[name] = ("voxel", values)
    for name, values in (("stimulus", stimulus), ("voxel", voxel)):
        if values is not None and len(values) != responses.shape[name == "voxel"]:
            raise SchemaError(f"Got {len(values)} {name} ids for shape {responses.shape}; give "
                              f"one id per {name}.")
    ds = xr.Dataset({"responses": (("stimulus", "voxel"), responses)}, coords=coords,
                    attrs={"space": space, **attrs})
    validate_metadata(ds, "fmri")
    return ds


def features_from_array(
    features: np.ndarray,
    *,
    stimulus: Sequence | None = None,
    source: str = "unknown",
    **attrs: Any,
) -> xr.Dataset:
    """Stimulus feature maps shaped ``(n_stimuli, y, x, n_features)`` (channels last).

    Examples
    --------
    >>> import numpy as np
    >>> features_from_array(np.zeros((2, 7, 8, 9)), source="resnet18:layer3").features.dims
    ('stimulus', 'y', 'x', 'feature')
    """
    features = np.asarray(features)
    if features.ndim != 4:
        raise SchemaError(
            f"features must be 4-D (stimulus, y, x, feature); got shape {features.shape}. "
            "Torch feature maps are (N, C, H, W): pass np.moveaxis(f, 1, -1)."
        )
    n = features.shape[0]
    ids = np.arange(n) if stimulus is None else np.asarray(stimulus)
    if ids.shape != (n,):
        raise SchemaError(f"Got {ids.shape[0]} stimulus ids for {n} stimuli; give one id per "
                          "stimulus.")
    ds = xr.Dataset({"features": (("stimulus", "y", "x", "feature"), features)},
                    coords={"stimulus": ("stimulus", ids)}, attrs={"source": source, **attrs})
    validate_metadata(ds, "features")
    return ds


FIXATION_COLUMNS = ("subject", "image", "trial", "fixation", "x", "y", "duration")


def fixations_from_table(table: Mapping[str, Sequence], *, units: str = "px",
                         **attrs: Any) -> xr.Dataset:
    """A fixation table from columns ``subject, image, trial, fixation, x, y, duration``.

    ``table`` is a dict of equal-length columns or a pandas DataFrame; ``x``
    and ``y`` are pixels from the image's top-left corner, ``duration`` is in s.

    Examples
    --------
    >>> ds = fixations_from_table({"subject": ["s1"], "image": ["a.jpg"], "trial": [0],
    ...                            "fixation": [0], "x": [10.0], "y": [20.0], "duration": [0.25]})
    >>> int(ds.sizes["row"])
    1
    """
    missing = [c for c in FIXATION_COLUMNS if c not in table]
    if missing:
        raise SchemaError(f"Fixation table is missing column(s) {missing}; "
                          f"required: {list(FIXATION_COLUMNS)}.")
    lengths = {c: len(table[c]) for c in FIXATION_COLUMNS}
    if len(set(lengths.values())) != 1:
        raise SchemaError(f"Fixation columns have different lengths: {lengths}; give every "
                          "column one entry per fixation.")
    data = {col: ("row", _fixation_column(col, table[col])) for col in FIXATION_COLUMNS}
    extra = {c: ("row", np.asarray(table[c])) for c in table if c not in FIXATION_COLUMNS}
    ds = xr.Dataset({**data, **extra}, attrs={"units": units, **attrs})
    validate_metadata(ds, "fixations")
    return ds


_FIXATION_DTYPES = {"trial": np.int64, "fixation": np.int64, "x": np.float64, "y": np.float64,
                    "duration": np.float64}


def _fixation_column(col: str, values: Sequence) -> np.ndarray:
    """One column of a fixation table in its stored dtype, refusing values that do not fit it."""
    values = np.asarray(values)
    if col in ("subject", "image"):
        odd = [v for v in values.ravel() if isinstance(v, Mapping | list | tuple | set)]
        if odd or values.ndim != 1:
            raise SchemaError(f"Fixation column {col!r} must hold one name or number per row; "
                              f"got {odd[0] if odd else values.shape!r}. Pass e.g. the subject id.")
        return values.astype(str).astype(object)
    try:
        return values.astype(_FIXATION_DTYPES[col])
    except (TypeError, ValueError) as err:
        raise SchemaError(f"Fixation column {col!r} must be numeric ({err}); convert it before "
                          "building the table.") from None
