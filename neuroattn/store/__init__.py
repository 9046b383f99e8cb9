"""Stores: the xarray/zarr v3 schema, validated open, atomic writes, torch loading.

Reading and writing stores needs no torch; the torch ``Dataset`` loads on first use.

See :mod:`neuroattn.store.schema` for what each store kind holds.
"""

from neuroattn.store.build import (
    annotations_attr,
    features_from_array,
    fixations_from_table,
    fmri_from_array,
    ieeg_from_array,
)
from neuroattn.store.errors import (
    CorruptStoreError,
    IncompleteStoreError,
    NonFiniteError,
    NotAStoreError,
    SchemaError,
    StoreError,
)
from neuroattn.store.io import IEEGStoreWriter, open_store, write_store
from neuroattn.store.mne_io import from_mne_raw, to_mne_raw
from neuroattn.store.neuroimaging import fmri_from_gifti, fmri_from_nifti, to_nifti
from neuroattn.store.schema import SCHEMAS

_TORCH_NAMES = {"ChunkBlockSampler", "IEEGWindows", "make_loader", "seizure_intervals"}


def __getattr__(name: str):
    # The torch Dataset is imported on first use, so reading a store needs no torch.
    if name in _TORCH_NAMES:
        from neuroattn.store import windows

        return getattr(windows, name)
    raise AttributeError(f"module 'neuroattn.store' has no attribute {name!r}")


__all__ = [
    "SCHEMAS", "ChunkBlockSampler", "CorruptStoreError", "IEEGStoreWriter", "IEEGWindows",
    "IncompleteStoreError", "NonFiniteError", "NotAStoreError", "SchemaError", "StoreError",
    "annotations_attr", "features_from_array", "fixations_from_table", "fmri_from_array",
    "fmri_from_gifti", "fmri_from_nifti", "from_mne_raw", "ieeg_from_array", "make_loader",
    "open_store", "seizure_intervals", "to_mne_raw", "to_nifti", "write_store",
]
