"""Atomic checkpoints, loaded with ``weights_only=True``.

A checkpoint is a dict of tensors and plain Python values (``model``,
``optimizer``, ``step``, ``config``, ...) tagged with the model name and the
neuroattn version, so that loading a checkpoint of another model fails with a
clear message instead of a wall of missing keys.

``save_checkpoint(..., keep_previous=True)`` keeps the checkpoint it replaces
as ``<name>.prev.pt`` (see :func:`previous_checkpoint`), and
:func:`load_latest_checkpoint` falls back to it, with a warning, when the
newest one cannot be read.

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
import shutil
import warnings
from pathlib import Path
from typing import Any

import torch

from neuroattn._atomic import atomic_path, remove, temporary_sibling
from neuroattn._logging import logger
from neuroattn.errors import NeuroattnError

_META = "__neuroattn__"


class CheckpointError(NeuroattnError, RuntimeError):
    """A checkpoint that is missing, unreadable, or belongs to another model."""


def previous_checkpoint(path: str | os.PathLike) -> Path:
    """Where ``save_checkpoint(path, ..., keep_previous=True)`` keeps the replaced checkpoint.

    Examples
    --------
    >>> previous_checkpoint("runs/a/last.pt").name
    'last.prev.pt'
    """
    path = Path(path)
    return path.with_name(f"{path.stem}.prev{path.suffix}")


def _keep_as_previous(path: Path) -> None:
    """Atomically make ``previous_checkpoint(path)`` a copy of ``path`` (a hard link if it can)."""
    previous = previous_checkpoint(path)
    tmp = temporary_sibling(previous)
    try:
        try:
            os.link(path, tmp)
        except OSError:  # no hard links on this filesystem
            shutil.copy2(path, tmp)
        os.replace(tmp, previous)
    except BaseException:
        remove(tmp)
        raise


def save_checkpoint(
    path: str | os.PathLike, state: dict[str, Any], *, model_name: str,
    keep_previous: bool = False,
) -> None:
    """Write ``state`` to ``path`` atomically (temporary file, then rename).

    With ``keep_previous``, the checkpoint that was at ``path`` becomes
    :func:`previous_checkpoint` once the new one is complete, so at every
    moment ``path`` holds a complete checkpoint (the old or the new one).
    """
    from neuroattn import __version__

    path = Path(path)
    payload = dict(state)
    payload[_META] = {"model_name": model_name, "version": __version__}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
        if keep_previous and path.is_file():
            _keep_as_previous(path)
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
            f"{path} is not a readable checkpoint ({type(err).__name__}: "
            f"{_first_line(err)}): it may be truncated or not a neuroattn/torch file; "
            f"restore it from a copy, or retrain."
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


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else ""


def load_latest_checkpoint(
    path: str | os.PathLike, *, model_name: str | None = None,
    map_location: str | torch.device = "cpu",
) -> tuple[dict[str, Any], Path]:
    """Load ``path``, or, if it cannot be read, the previous checkpoint kept beside it.

    Falling back warns, naming both files. When neither can be read the
    :class:`CheckpointError` says what each problem is and what can be done.

    Returns
    -------
    (dict, pathlib.Path)
        The checkpoint and the file it came from.

    Examples
    --------
    >>> import tempfile, torch
    >>> path = tempfile.mkdtemp() + "/last.pt"
    >>> for step in (1, 2):
    ...     save_checkpoint(path, {"step": step}, model_name="demo", keep_previous=True)
    >>> _ = open(path, "wb").write(b"garbage")
    >>> import warnings; warnings.simplefilter("ignore")
    >>> state, used = load_latest_checkpoint(path, model_name="demo")
    >>> state["step"], used.name
    (1, 'last.prev.pt')
    """
    path = Path(path)
    previous = previous_checkpoint(path)
    try:
        return load_checkpoint(path, model_name=model_name, map_location=map_location), path
    except CheckpointError as err:
        if not previous.is_file():
            raise CheckpointError(
                f"Cannot resume from {path}: {err} No previous checkpoint {previous.name} is "
                "kept beside it (one is kept from the second save on). Start the run over "
                "(--overwrite, or another --out-dir), or put a good checkpoint at "
                f"{path}.") from None
        newest = err
    try:
        state = load_checkpoint(previous, model_name=model_name, map_location=map_location)
    except CheckpointError as err:
        raise CheckpointError(
            f"Cannot resume: neither {path.name} nor {previous.name} in {path.parent} can be "
            f"used. {path.name}: {newest} {previous.name}: {err} Start the run over "
            "(--overwrite, or another --out-dir), or put a good checkpoint at "
            f"{path}.") from None
    message = (f"{path} cannot be used ({newest}); falling back to the previous checkpoint "
               f"{previous} (one save earlier: the steps after it are trained again).")
    logger.warning(message)
    warnings.warn(message, UserWarning, stacklevel=2)
    return state, previous
