"""Synthetic data sets with known ground truth, for testing models and detectors.

Examples
--------
>>> from neuroattn.datasets.synthetic import make_synthetic_ieeg
>>> make_synthetic_ieeg(n_channels=4, duration_s=30.0, sfreq=128.0, n_seizures=0).data.shape
(4, 3840)
"""

from neuroattn.datasets.synthetic.captioned_scenes import CaptionedScenes, make_captioned_scenes
from neuroattn.datasets.synthetic.encoding import (
    SyntheticEncoding,
    SyntheticEncodingConfig,
    make_synthetic_encoding,
)
from neuroattn.datasets.synthetic.ieeg import (
    SyntheticIEEG,
    SyntheticIEEGConfig,
    make_synthetic_ieeg,
)
from neuroattn.datasets.synthetic.tb_shapes import (
    TBShapes,
    TBShapesConfig,
    TBShapesScenes,
    make_tb_shapes,
)
from neuroattn.datasets.synthetic.visual_search import (
    VisualSearch,
    VisualSearchConfig,
    VisualSearchTrials,
    make_visual_search,
)

__all__ = ["CaptionedScenes", "SyntheticEncoding", "SyntheticEncodingConfig", "SyntheticIEEG",
           "SyntheticIEEGConfig", "TBShapes", "TBShapesConfig", "TBShapesScenes",
           "VisualSearch", "VisualSearchConfig", "VisualSearchTrials",
           "make_captioned_scenes", "make_synthetic_encoding", "make_synthetic_ieeg",
           "make_tb_shapes", "make_visual_search"]
