"""Data sets: synthetic generators with ground truth (and, later, loaders).

Examples
--------
>>> from neuroattn.datasets import SyntheticIEEGConfig
>>> SyntheticIEEGConfig().n_channels
16
"""

from neuroattn.datasets.synthetic import (
    SyntheticIEEG,
    SyntheticIEEGConfig,
    make_synthetic_ieeg,
)

__all__ = ["SyntheticIEEG", "SyntheticIEEGConfig", "make_synthetic_ieeg"]
