"""iEEG models: MVPA and MVPFormer (Carzaniga et al. 2025), and detector evaluation."""

from neuroattn.ieeg.config import PRESETS, MVPFormerConfig, preset
from neuroattn.ieeg.evaluation import (
    DetectionRule,
    RecordingPrediction,
    alarms,
    evaluate,
    event_metrics,
    format_table,
    save_results,
    window_metrics,
)
from neuroattn.ieeg.mvpformer import MVPFormer

__all__ = [
    "PRESETS",
    "DetectionRule",
    "MVPFormer",
    "MVPFormerConfig",
    "RecordingPrediction",
    "alarms",
    "evaluate",
    "event_metrics",
    "format_table",
    "preset",
    "save_results",
    "window_metrics",
]
