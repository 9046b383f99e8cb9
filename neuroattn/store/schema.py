"""The xarray schema of each store kind, and metadata validation.

A store is one zarr v3 group holding an :class:`xarray.Dataset`:

==========  =================  ==========================================  ===================
kind        data variable      dims                                        required attrs
==========  =================  ==========================================  ===================
ieeg        ``signal``         ``("time", "channel")``                     ``sfreq``, ``units``
fmri        ``responses``      ``("stimulus", "voxel")``                   ``space``
features    ``features``       ``("stimulus", "y", "x", "feature")``       ``source``
fixations   ``x``, ``y``, ...  ``("row",)`` (a ragged table)               ``units``
==========  =================  ==========================================  ===================

iEEG coords: ``time`` (s, spacing ``1/sfreq``), ``channel`` (unique names),
``ch_type`` per channel; optional ``x``, ``y``, ``z`` (m, NaN when unknown) and
``bad``. Annotations (e.g. seizures) live in ``attrs["annotations"]`` as
``{"onset", "duration", "description", "ch_names"}`` lists, onsets in seconds
from the first sample. fMRI coords: ``stimulus`` ids, ``voxel`` ids; optional
``noise_ceiling`` and ``roi`` per voxel, ``i, j, k`` voxel indices or
``vertex`` ids, ``attrs["affine"]`` and ``attrs["mask_shape"]`` for volumes.
Fixation tables have the columns ``subject, image, trial, fixation, x, y,
duration`` (pixels and seconds).

Bookkeeping attrs: ``neuroattn_kind``, ``neuroattn_schema`` (version),
``neuroattn_status`` (``"complete"`` once a write has finished) and
``neuroattn_generation`` (a new random id at every publish, so a reader can
tell that the store was replaced after it opened it).

Examples
--------
>>> from neuroattn.store.schema import SCHEMAS
>>> SCHEMAS["ieeg"].dims
('time', 'channel')
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from neuroattn.store.errors import SchemaError

SCHEMA_VERSION = 1
KIND_ATTR = "neuroattn_kind"
VERSION_ATTR = "neuroattn_schema"
STATUS_ATTR = "neuroattn_status"
GENERATION_ATTR = "neuroattn_generation"


@dataclass(frozen=True)
class Schema:
    """What a store of one kind must contain."""

    kind: str
    variables: tuple[str, ...]
    dims: tuple[str, ...]
    dtype_kinds: str  # numpy dtype kinds allowed for the data variables
    coords: dict[str, tuple[str, ...]] = field(default_factory=dict)
    attrs: tuple[str, ...] = ()
    table_columns: dict[str, str] = field(default_factory=dict)  # column -> dtype kinds

    @property
    def main(self) -> str:
        """The variable that holds the bulk of the data."""
        return self.variables[0]


SCHEMAS: dict[str, Schema] = {
    "ieeg": Schema(
        kind="ieeg",
        variables=("signal",),
        dims=("time", "channel"),
        dtype_kinds="f",
        coords={"time": ("time",), "channel": ("channel",), "ch_type": ("channel",)},
        attrs=("sfreq", "units"),
    ),
    "fmri": Schema(
        kind="fmri",
        variables=("responses",),
        dims=("stimulus", "voxel"),
        dtype_kinds="f",
        coords={"stimulus": ("stimulus",), "voxel": ("voxel",)},
        attrs=("space",),
    ),
    "features": Schema(
        kind="features",
        variables=("features",),
        dims=("stimulus", "y", "x", "feature"),
        dtype_kinds="f",
        coords={"stimulus": ("stimulus",)},
        attrs=("source",),
    ),
    "fixations": Schema(
        kind="fixations",
        variables=("x", "y", "duration"),
        dims=("row",),
        dtype_kinds="f",
        attrs=("units",),
        table_columns={"subject": "OTU", "image": "OTU", "trial": "iu", "fixation": "iu"},
    ),
}

_FIXES = {
    "sfreq": "set ds.attrs['sfreq'] to the sampling rate in Hz (e.g. 512.0)",
    "units": "set ds.attrs['units'] (e.g. 'V', or 'px' for fixations)",
    "space": "set ds.attrs['space'] (e.g. 'MNI152NLin2009cAsym', 'fsaverage5' or 'unknown')",
    "source": "set ds.attrs['source'] to the model and layer the features came from",
}


def get_schema(kind: str) -> Schema:
    """Return the schema of ``kind``, or raise with the list of kinds."""
    try:
        return SCHEMAS[kind]
    except KeyError:
        raise SchemaError(
            f"Unknown store kind {kind!r}; use one of {sorted(SCHEMAS)}."
        ) from None


def infer_kind(ds: xr.Dataset) -> str:
    """Read the kind from the store's attrs, or guess it from its variables."""
    if KIND_ATTR in ds.attrs:
        return str(ds.attrs[KIND_ATTR])
    for kind, schema in SCHEMAS.items():
        if all(v in ds.data_vars for v in schema.variables):
            return kind
    raise SchemaError(
        "Cannot tell which kind of store this is: it has no "
        f"'{KIND_ATTR}' attribute and none of the data variables "
        f"{[s.main for s in SCHEMAS.values()]}. Pass kind=... explicitly."
    )


def _dtype_ok(dtype: np.dtype, kinds: str) -> bool:
    # numpy StringDType (read back from zarr) has kind "T"
    return dtype.kind in kinds


def validate_metadata(ds: xr.Dataset, kind: str) -> None:
    """Check dims, coords, attrs, dtypes and coordinate consistency (no data read).

    Raises
    ------
    SchemaError
        Naming the first problem found and how to fix it.
    """
    schema = get_schema(kind)
    for var in schema.variables:
        if var not in ds.data_vars:
            raise SchemaError(
                f"{kind} store has no data variable {var!r} (found {list(ds.data_vars)}). "
                f"Build it with neuroattn.store.{_builder(kind)}(...)."
            )
        dims = ds[var].dims
        if dims != schema.dims:
            missing = [d for d in schema.dims if d not in dims]
            hint = (
                f"missing dim(s) {missing}" if missing
                else f"dims in the wrong order; use ds.transpose{schema.dims}"
            )
            raise SchemaError(
                f"{kind} variable {var!r} has dims {dims}, expected {schema.dims}: {hint}."
            )
        if not _dtype_ok(ds[var].dtype, schema.dtype_kinds):
            raise SchemaError(
                f"{kind} variable {var!r} has dtype {ds[var].dtype}; it must be floating point. "
                f"Convert with ds[{var!r}] = ds[{var!r}].astype('float32') (scale integer ADC "
                "counts to physical units first)."
            )
    for col, kinds in schema.table_columns.items():
        if col not in ds.variables:
            raise SchemaError(
                f"{kind} table has no column {col!r}; required columns are "
                f"{[*schema.table_columns, *schema.variables]}."
            )
        if not _dtype_ok(ds[col].dtype, kinds):
            raise SchemaError(f"{kind} column {col!r} has the wrong dtype {ds[col].dtype}.")
    for name, dims in schema.coords.items():
        if name not in ds.coords:
            raise SchemaError(
                f"{kind} store has no coordinate {name!r}. Add it with "
                f"ds = ds.assign_coords({name}=(dims, values)) with dims {dims}."
            )
        if ds[name].dims != dims:
            raise SchemaError(f"Coordinate {name!r} has dims {ds[name].dims}, expected {dims}.")
    _check_version(ds)
    for attr in schema.attrs:
        if attr not in ds.attrs:
            raise SchemaError(
                f"{kind} store is missing the attribute {attr!r}: "
                f"{_FIXES.get(attr, 'add it to ds.attrs')}."
            )
    _CHECKS.get(kind, lambda ds: None)(ds)


def _check_version(ds: xr.Dataset) -> None:
    version = ds.attrs.get(VERSION_ATTR)
    if version is not None and (isinstance(version, bool) or version != SCHEMA_VERSION):
        raise SchemaError(
            f"attrs[{VERSION_ATTR!r}] = {version!r}: this store follows another store schema "
            f"than the one this neuroattn reads ({SCHEMA_VERSION}); upgrade neuroattn if the "
            "store is newer, or re-create the store from its source."
        )


def _builder(kind: str) -> str:
    return {"ieeg": "ieeg_from_array", "fmri": "fmri_from_array",
            "features": "features_from_array", "fixations": "fixations_from_table"}[kind]


def _check_unique(ds: xr.Dataset, coord: str) -> None:
    values = np.array([str(v) for v in ds[coord].values])
    uniq, counts = np.unique(values, return_counts=True)
    if (counts > 1).any():
        raise SchemaError(
            f"Coordinate {coord!r} has duplicate values {uniq[counts > 1][:5].tolist()}; "
            "give every entry a unique name."
        )


def _check_ieeg(ds: xr.Dataset) -> None:
    sfreq = ds.attrs["sfreq"]
    if not isinstance(sfreq, int | float) or not np.isfinite(sfreq) or sfreq <= 0:
        raise SchemaError(f"attrs['sfreq'] = {sfreq!r} must be a positive number of Hz.")
    _check_unique(ds, "channel")
    time = ds["time"].values
    n = time.shape[0]
    if n > 1:
        span = float(time[-1] - time[0])
        expected = (n - 1) / sfreq
        step = np.diff(time[: min(n, 4096)])
        if not np.all(step > 0) or abs(span - expected) > 0.5 / sfreq:
            raise SchemaError(
                f"The time coordinate does not match sfreq={sfreq} Hz: {n} samples span "
                f"{span:.6g} s, but should span {expected:.6g} s with spacing 1/sfreq. Fix "
                "attrs['sfreq'] or rebuild time as t0 + np.arange(n) / sfreq."
            )
    if "bad" in ds.coords and ds["bad"].dtype.kind != "b":
        raise SchemaError(
            f"Coordinate 'bad' has dtype {ds['bad'].dtype}; it must hold booleans (True for a "
            "bad channel). Rebuild it with ds.assign_coords(bad=('channel', flags.astype(bool))) "
            "from real True/False flags."
        )
    xyz = [c for c in ("x", "y", "z") if c in ds.coords]
    if xyz and len(xyz) != 3:
        raise SchemaError(f"Channel positions need all of x, y, z; found only {xyz}.")
    ann = ds.attrs.get("annotations")
    if ann is not None:
        lengths = {k: len(v) for k, v in ann.items()}
        if len(set(lengths.values())) > 1:
            raise SchemaError(
                f"attrs['annotations'] columns have different lengths {lengths}; "
                "each needs one entry per annotation."
            )


def _check_fmri(ds: xr.Dataset) -> None:
    _check_unique(ds, "stimulus")
    _check_unique(ds, "voxel")


def _check_features(ds: xr.Dataset) -> None:
    _check_unique(ds, "stimulus")


_CHECKS = {"ieeg": _check_ieeg, "fmri": _check_fmri, "features": _check_features}
