"""Training utilities shared by every model: the loop and its checkpoints."""

from neuroattn.training.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_latest_checkpoint,
    previous_checkpoint,
    save_checkpoint,
)
from neuroattn.training.loop import (
    RESUME_MAY_CHANGE,
    TrainConfig,
    Trainer,
    resolve_training_device,
    warmup_cosine,
)

__all__ = ["RESUME_MAY_CHANGE", "CheckpointError", "TrainConfig", "Trainer", "load_checkpoint",
           "load_latest_checkpoint", "previous_checkpoint", "resolve_training_device",
           "save_checkpoint", "warmup_cosine"]
