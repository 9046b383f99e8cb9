"""Training utilities shared by every model: the loop and its checkpoints."""

from neuroattn.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from neuroattn.training.loop import TrainConfig, Trainer, warmup_cosine

__all__ = ["CheckpointError", "TrainConfig", "Trainer", "load_checkpoint", "save_checkpoint",
           "warmup_cosine"]
