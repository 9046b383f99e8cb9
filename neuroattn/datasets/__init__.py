"""Data sets: converters of public formats into stores, and synthetic generators.

Converters (``python -m neuroattn convert <name> SRC DST``) write an iEEG
store: :func:`convert_swec` (SWEC iEEG HDF5), :func:`convert_edf` (EDF/BDF and
anything MNE reads), :func:`convert_bids_ieeg` (BIDS iEEG); an fMRI store:
:func:`convert_algonauts` (NSD as laid out by the Algonauts 2023 challenge); and a
fixations store: :func:`convert_cocosearch18` (COCO-Search18 JSON),
:func:`convert_eyelink` (EyeLink ``.edf``, via eyelinkio). The helpers they
share (resampling, channel selection) are in :mod:`neuroattn.datasets.prepare`, and
fixation-to-object assignment in :mod:`neuroattn.datasets.fixation_objects`;
:func:`neuroattn.datasets.convert.convert` dispatches by name. Input that a
converter converts but cannot fully trust (a truncated file it was allowed to
convert, a missing sidecar, MNE's warnings) gives a :class:`ConversionWarning`
naming the file.

Gaze readers: :func:`read_cocosearch18`, :func:`read_eyelink`, and OAT's
object-annotated search data in :mod:`neuroattn.datasets.oat_search`
(:func:`read_oat_search`, :func:`read_amazon_covers`, :func:`read_oat_collected`).
NevaClip's data: CapMIT1003's captions and click paths (:class:`CapMIT1003`,
:func:`read_capmit1003`) and MIT1003's free-viewing gaze, with fixations found by
:func:`idt_fixations` (:func:`read_mit1003`, :func:`read_mit1003_gaze`,
:func:`read_mit1003_fixation_points`, :func:`read_mit1003_fixation_map`,
:func:`mit1003_stimuli`).

Foveated CNNs: :mod:`neuroattn.datasets.cluttered_digits` (scikit-learn's
bundled handwritten digits on cluttered canvases, with boxes) and
:mod:`neuroattn.datasets.imagefolder` (ImageNet-style folders with the
reference's transforms).

Examples
--------
>>> from neuroattn.datasets import CONVERTERS, SyntheticIEEGConfig
>>> SyntheticIEEGConfig().n_channels
16
>>> sorted(CONVERTERS)
['algonauts', 'bids', 'cocosearch18', 'edf', 'eyelink', 'swec']
"""

from neuroattn.datasets.bids import BIDSFormatError, convert_bids_ieeg
from neuroattn.datasets.capmit1003 import CapMIT1003, CapMIT1003FormatError, read_capmit1003
from neuroattn.datasets.cocosearch18 import (
    COCOSearch18FormatError,
    cocosearch18_trials,
    convert_cocosearch18,
    read_cocosearch18,
)
from neuroattn.datasets.convert import CONVERTERS
from neuroattn.datasets.edf import RecordingFormatError, TruncatedRecordingError, convert_edf
from neuroattn.datasets.eyelink import (
    EyeLinkFormatError,
    EyeLinkRecording,
    convert_eyelink,
    read_eyelink,
)
from neuroattn.datasets.knowledge_graphs import KnowledgeGraphFormatError
from neuroattn.datasets.mit1003 import (
    MIT1003FormatError,
    idt_fixations,
    mit1003_stimuli,
    read_mit1003,
    read_mit1003_fixation_map,
    read_mit1003_fixation_points,
    read_mit1003_gaze,
)
from neuroattn.datasets.nsd import AlgonautsFormatError, AlgonautsSubject, convert_algonauts
from neuroattn.datasets.oat_search import (
    OATFormatError,
    SearchData,
    SearchLayout,
    SearchTrial,
    read_amazon_covers,
    read_oat_collected,
    read_oat_search,
)
from neuroattn.datasets.prepare import (
    ConversionWarning,
    resample_signal,
    resample_store,
    select_channels,
)
from neuroattn.datasets.swec import SWECFormatError, SWECInfo, convert_swec, read_swec_info
from neuroattn.datasets.synthetic import (
    SyntheticEncoding,
    SyntheticEncodingConfig,
    SyntheticIEEG,
    SyntheticIEEGConfig,
    make_synthetic_encoding,
    make_synthetic_ieeg,
)
from neuroattn.errors import FormatError

__all__ = [
    "AlgonautsFormatError", "BIDSFormatError", "COCOSearch18FormatError", "CapMIT1003FormatError",
    "EyeLinkFormatError", "FormatError", "KnowledgeGraphFormatError", "MIT1003FormatError",
    "OATFormatError", "RecordingFormatError",
    "SWECFormatError", "TruncatedRecordingError",
    "CONVERTERS", "AlgonautsSubject", "CapMIT1003", "ConversionWarning", "EyeLinkRecording",
    "SWECInfo",
    "SearchData", "SearchLayout", "SearchTrial", "SyntheticEncoding", "SyntheticEncodingConfig",
    "SyntheticIEEG", "SyntheticIEEGConfig", "cocosearch18_trials", "convert_algonauts",
    "convert_bids_ieeg", "convert_cocosearch18", "convert_edf", "convert_eyelink",
    "convert_swec", "idt_fixations", "make_synthetic_encoding", "make_synthetic_ieeg",
    "mit1003_stimuli", "read_amazon_covers", "read_capmit1003", "read_cocosearch18",
    "read_eyelink", "read_mit1003", "read_mit1003_fixation_map", "read_mit1003_fixation_points",
    "read_mit1003_gaze", "read_oat_collected", "read_oat_search", "read_swec_info",
    "resample_signal", "resample_store", "select_channels",
]
