"""NeVA and NevaClip: zero-shot scanpaths by foveated gradient search.

* :mod:`~neuroattn.gaze.neva.search` — the batched search over any
  differentiable objective of the foveated image;
* :mod:`~neuroattn.gaze.neva.clip` — NevaClip: the caption (or free-viewing)
  objective over any image–text encoder pair, open_clip checkpoints included;
* :mod:`~neuroattn.gaze.neva.baselines` — random, centre-bias, saliency-peak
  and CLE scanpaths in the same output format;
* :mod:`~neuroattn.gaze.neva.toy_encoders` — an analytic channel-energy
  encoder and a tiny trainable CLIP, for tests and demos without weights.

Examples
--------
>>> from neuroattn.datasets.synthetic import make_captioned_scenes
>>> from neuroattn.gaze.neva import ChannelEnergyEncoder, NevaClip
>>> scenes = make_captioned_scenes(2, size=64, colours=("red", "green", "blue"), seed=0)
>>> enc = ChannelEnergyEncoder(floor=0.05)
>>> clip = NevaClip(enc.encode_image, enc.encode_text, image_size=64, mean=(0, 0, 0),
...                 std=(1, 1, 1))
>>> clip.scanpaths(scenes.images, scenes.captions, n_fixations=2).fixations.shape
(2, 2, 2)
"""

from neuroattn.gaze.neva.baselines import (
    IMAGE_BASELINES,
    CentreBiasScanpaths,
    CLEScanpaths,
    ImageScanpathBaseline,
    RandomScanpaths,
    SaliencyPeakScanpaths,
    make_image_baseline,
)
from neuroattn.gaze.neva.clip import CLIP_MEAN, CLIP_STD, NevaClip, as_image_batch, image_list
from neuroattn.gaze.neva.search import (
    CPU_CHUNK_BYTES,
    NeVAResult,
    Objective,
    Record,
    neva_search,
    search_chunk_size,
)
from neuroattn.gaze.neva.toy_encoders import ChannelEnergyEncoder, TinyCLIP, fit_tiny_clip

__all__ = [
    "CLIP_MEAN", "CLIP_STD", "CPU_CHUNK_BYTES", "CLEScanpaths", "CentreBiasScanpaths",
    "ChannelEnergyEncoder", "IMAGE_BASELINES", "ImageScanpathBaseline", "NeVAResult", "NevaClip",
    "Objective", "RandomScanpaths", "Record", "SaliencyPeakScanpaths", "TinyCLIP",
    "as_image_batch", "image_list", "make_image_baseline", "neva_search", "search_chunk_size",
    "fit_tiny_clip",
]
