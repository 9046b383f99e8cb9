"""Training utilities shared by every model: checkpoints (and, later, the loop)."""

from neuroattn.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

__all__ = ["CheckpointError", "load_checkpoint", "save_checkpoint"]
