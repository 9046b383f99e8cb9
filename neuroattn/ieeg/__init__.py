"""iEEG models: MVPA and MVPFormer (Carzaniga et al. 2025)."""

from neuroattn.ieeg.config import PRESETS, MVPFormerConfig, preset
from neuroattn.ieeg.mvpformer import MVPFormer

__all__ = ["PRESETS", "MVPFormer", "MVPFormerConfig", "preset"]
