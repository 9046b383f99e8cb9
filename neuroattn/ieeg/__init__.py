"""iEEG models: MVPA and MVPFormer (Carzaniga et al. 2025), and detector evaluation."""

from neuroattn.ieeg.baselines import (
    BASELINES,
    BandPowerDetector,
    LineLengthDetector,
    make_baseline,
)
from neuroattn.ieeg.config import PRESETS, MVPFormerConfig, preset
from neuroattn.ieeg.evaluation import (
    DetectionRule,
    DetectionTrace,
    OperatingPoint,
    RecordingPrediction,
    alarms,
    choose_operating_point,
    choose_operating_points,
    detection_trace,
    evaluate,
    evaluate_at_operating_points,
    event_metrics,
    format_table,
    save_results,
    sensitivity_fa_curve,
    window_metrics,
)
from neuroattn.ieeg.mvpformer import MVPFormer
from neuroattn.ieeg.objectives import next_segment_contrastive_loss
from neuroattn.ieeg.szcore import (
    detections_to_events,
    pool_szcore_scores,
    szcore_event_scores,
    write_szcore_tsv,
)

__all__ = [
    "BASELINES",
    "PRESETS",
    "BandPowerDetector",
    "DetectionRule",
    "DetectionTrace",
    "LineLengthDetector",
    "MVPFormer",
    "next_segment_contrastive_loss",
    "MVPFormerConfig",
    "OperatingPoint",
    "RecordingPrediction",
    "alarms",
    "choose_operating_point",
    "choose_operating_points",
    "detection_trace",
    "detections_to_events",
    "evaluate",
    "evaluate_at_operating_points",
    "event_metrics",
    "format_table",
    "make_baseline",
    "pool_szcore_scores",
    "preset",
    "save_results",
    "sensitivity_fa_curve",
    "szcore_event_scores",
    "window_metrics",
    "write_szcore_tsv",
]
