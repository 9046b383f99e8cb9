"""Atomic checkpoints, loaded with ``weights_only=True``.

A checkpoint is a dict of tensors and plain Python values (``model``,
``optimizer``, ``step``, ``config``, ...) tagged with the model name and the
neuroattn version, so that loading a checkpoint of another model fails with a
clear message instead of a wall of missing keys.

Examples
--------
>>> import tempfile, torch
>>> from neuroattn.training.checkpoint import save_checkpoint, load_checkpoint
>>> path = tempfile.mkdtemp() + "/last.pt"
>>> save_checkpoint(path, {"model": {"w": torch.ones(2)}, "step": 3}, model_name="demo")
>>> load_checkpoint(path, model_name="demo")["step"]
3
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from neuroattn._atomic import atomic_path
from neuroattn._logging import logger
from neuroattn.errors import NeuroattnError

_META = "__neuroattn__"


class CheckpointError(NeuroattnError, RuntimeError):
    """A checkpoint that is missing, unreadable, or belongs to another model."""


def save_checkpoint(
    path: str | os.PathLike, state: dict[str, Any], *, model_name: str
) -> None:
    """Write ``state`` to ``path`` atomically (temporary file, then rename)."""
    from neuroattn import __version__

    payload = dict(state)
    payload[_META] = {"model_name": model_name, "version": __version__}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    logger.debug("saved checkpoint %s", path)


def load_checkpoint(
    path: str | os.PathLike,
    *,
    model_name: str | None = None,
    map_location: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``) and check its model name."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"No checkpoint at {path}. Check the path, or start without --resume."
        )
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several types for corrupt files
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({type(err).__name__}: {err}). "
            "It may be truncated or not a neuroattn/torch file; use the previous "
            "checkpoint or retrain."
        ) from err
    if not isinstance(payload, dict) or _META not in payload:
        raise CheckpointError(
            f"{path} was not written by neuroattn.save_checkpoint. For plain state "
            "dicts use torch.load(path, weights_only=True) and model.load_state_dict."
        )
    meta = payload.pop(_META)
    if model_name is not None and meta["model_name"] != model_name:
        raise CheckpointError(
            f"{path} holds a '{meta['model_name']}' checkpoint, not '{model_name}'. "
            "Pass a checkpoint of the same model."
        )
    return payload
