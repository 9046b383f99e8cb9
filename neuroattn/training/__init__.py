"""Training utilities shared by every model: the loop, its callbacks and its checkpoints."""

from neuroattn.training.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_latest_checkpoint,
    previous_checkpoint,
    save_checkpoint,
)
from neuroattn.training.loop import (
    RESUME_MAY_CHANGE,
    SCHEDULES,
    Callback,
    EarlyStopping,
    TrainConfig,
    Trainer,
    TrainSummary,
    resolve_training_device,
    warmup_constant,
    warmup_cosine,
)

__all__ = ["RESUME_MAY_CHANGE", "SCHEDULES", "Callback", "CheckpointError", "EarlyStopping",
           "TrainConfig", "TrainSummary", "Trainer", "load_checkpoint", "load_latest_checkpoint",
           "previous_checkpoint", "resolve_training_device", "save_checkpoint",
           "warmup_constant", "warmup_cosine"]
