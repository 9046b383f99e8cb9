"""Data sets: converters of public formats into stores, and synthetic generators.

Converters (``python -m neuroattn convert <name> SRC DST``) write an iEEG
store: :func:`convert_swec` (SWEC iEEG HDF5), :func:`convert_edf` (EDF/BDF and
anything MNE reads), :func:`convert_bids_ieeg` (BIDS iEEG); and an fMRI store:
:func:`convert_algonauts` (NSD as laid out by the Algonauts 2023 challenge). The helpers they
share (resampling, channel selection) are in :mod:`neuroattn.datasets.prepare`;
:func:`neuroattn.datasets.convert.convert` dispatches by name.

Examples
--------
>>> from neuroattn.datasets import CONVERTERS, SyntheticIEEGConfig
>>> SyntheticIEEGConfig().n_channels
16
>>> sorted(CONVERTERS)
['algonauts', 'bids', 'edf', 'swec']
"""

from neuroattn.datasets.bids import convert_bids_ieeg
from neuroattn.datasets.convert import CONVERTERS
from neuroattn.datasets.edf import convert_edf
from neuroattn.datasets.nsd import AlgonautsSubject, convert_algonauts
from neuroattn.datasets.prepare import resample_signal, resample_store, select_channels
from neuroattn.datasets.swec import SWECInfo, convert_swec, read_swec_info
from neuroattn.datasets.synthetic import (
    SyntheticEncoding,
    SyntheticEncodingConfig,
    SyntheticIEEG,
    SyntheticIEEGConfig,
    make_synthetic_encoding,
    make_synthetic_ieeg,
)

__all__ = [
    "CONVERTERS", "AlgonautsSubject", "SWECInfo", "SyntheticEncoding", "SyntheticEncodingConfig",
    "SyntheticIEEG", "SyntheticIEEGConfig", "convert_algonauts", "convert_bids_ieeg",
    "convert_edf", "convert_swec", "make_synthetic_encoding", "make_synthetic_ieeg",
    "read_swec_info", "resample_signal", "resample_store", "select_channels",
]
