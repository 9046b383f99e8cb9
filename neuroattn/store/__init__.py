"""Stores: the xarray/zarr v3 schema, validated open, atomic writes, torch loading.

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
from neuroattn.store.windows import ChunkBlockSampler, IEEGWindows, make_loader, seizure_intervals

__all__ = [
    "SCHEMAS", "ChunkBlockSampler", "CorruptStoreError", "IEEGStoreWriter", "IEEGWindows",
    "IncompleteStoreError", "NonFiniteError", "NotAStoreError", "SchemaError", "StoreError",
    "annotations_attr", "features_from_array", "fixations_from_table", "fmri_from_array",
    "fmri_from_gifti", "fmri_from_nifti", "from_mne_raw", "ieeg_from_array", "make_loader",
    "open_store", "seizure_intervals", "to_mne_raw", "to_nifti", "write_store",
]
