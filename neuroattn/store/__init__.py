"""Stores: the xarray/zarr v3 schema, validated open, atomic writes, torch loading.

Reading and writing stores needs no torch; the torch ``Dataset`` loads on first use.

See :mod:`neuroattn.store.schema` for what each store kind holds.
"""

import importlib

from neuroattn.store.build import (
    annotations_attr,
    features_from_array,
    fixations_from_table,
    fmri_from_array,
    ieeg_from_array,
    seizure_intervals,
)
from neuroattn.store.errors import (
    CorruptStoreError,
    DestinationExistsError,
    IncompleteStoreError,
    NonFiniteError,
    NotAStoreError,
    SchemaError,
    StoreChangedError,
    StoreError,
)
from neuroattn.store.io import IEEGStoreWriter, open_store, write_store
from neuroattn.store.mne_io import from_mne_raw, to_mne_raw
from neuroattn.store.neuroimaging import fmri_from_gifti, fmri_from_nifti, to_nifti
from neuroattn.store.schema import SCHEMAS

# Heavier parts load on first use: reading a store needs neither torch nor scipy.signal.
_LAZY = {
    **dict.fromkeys(["IEEGWindows", "empty_span"], "windows"),
    **dict.fromkeys(["ChunkBlockSampler", "WindowBatch", "WindowLoader", "make_loader",
                     "read_batch"], "loader"),
    **dict.fromkeys(["client", "compute", "filter_overlap", "preprocess_ieeg"], "distributed"),
}


def __getattr__(name: str):
    if name in _LAZY:
        module = importlib.import_module(f"neuroattn.store.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'neuroattn.store' has no attribute {name!r}")


__all__ = [
    "ChunkBlockSampler", "CorruptStoreError", "DestinationExistsError", "IEEGStoreWriter",
    "IEEGWindows", "IncompleteStoreError", "NonFiniteError", "NotAStoreError", "SCHEMAS",
    "SchemaError", "StoreChangedError", "StoreError", "WindowBatch", "WindowLoader",
    "annotations_attr", "client", "compute",
    "empty_span", "features_from_array", "filter_overlap", "fixations_from_table",
    "fmri_from_array", "fmri_from_gifti", "fmri_from_nifti", "from_mne_raw", "ieeg_from_array",
    "make_loader", "open_store", "preprocess_ieeg", "read_batch", "seizure_intervals",
    "to_mne_raw", "to_nifti", "write_store",
]
