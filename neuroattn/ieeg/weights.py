"""Load MVPFormer weights: ours, braindecode's, or the IBM reference's checkpoints.

Formats understood by :func:`load_mvpformer`:

* a directory written by :meth:`MVPFormer.save_pretrained`: ``config.json``
  (``{"model": "mvpformer", "format": 1, ..., "config": {...}}``) and
  ``model.safetensors`` (:mod:`neuroattn.nn.pretrained`), or one written
  before that format: a flat ``config.json`` and ``weights.pt``;
* a braindecode ``MVPFormer`` state dict (the layout of the re-hosted
  ``mvpformer-{s,m}-*`` weights), which is also ours;
* an IBM reference checkpoint (``genie.``/``mvpformer.`` prefixed keys,
  ``encoder.*``, ``head.head``), as a plain state dict or a Lightning ``.ckpt``.
  Its LoRA tensors (``lora_A``/``lora_B`` on ``q_attn`` and on the value half of
  ``c_attn``) are merged into the weights; unused tensors (``ln_2``, attention
  buffers, ``seizure_embeddings``) are dropped. Pass the fine-tuned adapter
  file of the reference (LoRA + head only) as ``adapters=``.

The architecture is read off the tensor shapes. The head count cannot be, so
it comes from the released sizes (768 → 12 heads, 2048 → 16) or ``n_heads=``.
Every file is read with ``torch.load(weights_only=True)``.

Examples
--------
>>> import tempfile, torch
>>> from neuroattn.ieeg import MVPFormer
>>> model = MVPFormer("tiny")
>>> path = tempfile.mkdtemp() + "/bd.pt"
>>> torch.save(model.state_dict(), path)          # a bare state dict, e.g. braindecode's
>>> again = MVPFormer.from_pretrained(path, n_heads=4, sfreq=128.0, window=4)
>>> again.config.n_kv_heads, again.config.segment_samples
(2, 128)
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import torch

from neuroattn._logging import logger
from neuroattn.errors import FormatError
from neuroattn.ieeg.config import MVPFormerConfig
from neuroattn.nn.pretrained import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    read_config,
    read_weights,
    state_mismatch,
)
from neuroattn.nn.wavelet import db4_coeff_lengths

KNOWN_HEADS = {768: 12, 2048: 16}
OPTIONAL_KEYS = {"final_layer.weight", "generative_head.weight"}
_IBM_DROPPED = re.compile(r"(\.ln_2\.|\.time_bias$|\.masked_bias$|^seizure_embeddings$|"
                          r"^class_loss\.)")


class WeightsError(FormatError):
    """A checkpoint that is not an MVPFormer, or does not fit the requested model."""


def _read(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for foreign files
        raise WeightsError(f"{path} is not a readable torch checkpoint ({err}).") from err
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # a Lightning checkpoint
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path} does not hold a state dict of tensors.")
    return state


def _merge_lora(state: dict[str, torch.Tensor], alpha: float) -> dict[str, torch.Tensor]:
    """Fold reference (loralib) adapters into their weights."""
    out = {k: v for k, v in state.items() if ".lora_" not in k}
    for key in [k for k in state if k.endswith(".lora_A")]:
        base = key[: -len(".lora_A")]
        a, b = state[key].float(), state[base + ".lora_B"].float()
        weight = out[base + ".weight"].float().clone()
        delta = (alpha / a.shape[0]) * b @ a
        if delta.shape[0] == weight.shape[0]:
            weight += delta
        elif 2 * delta.shape[0] == weight.shape[0]:  # MergedLinear on the value half only
            weight[delta.shape[0]:] += delta
        else:
            raise WeightsError(f"{base}.lora_B has {delta.shape[0]} rows; expected "
                               f"{weight.shape[0]} or {weight.shape[0] // 2}.")
        out[base + ".weight"] = weight
    return out


def _rename_ibm(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """IBM reference key names → ours; LoRA tensors keep their (renamed) place."""
    out = {}
    for key, value in state.items():
        if _IBM_DROPPED.search(key):
            continue
        new = re.sub(r"^(genie|mvpformer)\.", "", key)
        new = re.sub(r"^h\.(\d+)\.", r"blocks.\1.", new)
        if new.startswith("encoder."):
            new = "patch_embed." + new[len("encoder."):]
        if new == "head.head.weight":
            square = value.shape[0] == value.shape[1]
            new = "generative_head.weight" if square else "final_layer.weight"
        out[new] = value.float()
    return out


def convert_ibm(state: dict[str, torch.Tensor], lora_alpha: float = 16.0
                ) -> dict[str, torch.Tensor]:
    """IBM reference checkpoint → our state dict (see the module docstring)."""
    return _merge_lora(_rename_ibm(state), lora_alpha)


def infer_config(state: dict[str, torch.Tensor], **overrides: Any) -> MVPFormerConfig:
    """Read the architecture off the tensor shapes (see the module docstring)."""
    try:
        n_pos, d_model = state["positional_embedding.weight"].shape
        n_coeffs = state["patch_embed.ln.weight"].numel()
        kv = state["blocks.0.attn.position_net.weight"].shape[0]
        d_mlp = state["blocks.0.mlp.gate_proj.weight"].shape[0]
        n_channels = state["channel_embedding.weight"].shape[0]
    except KeyError as err:
        raise WeightsError(f"Not an MVPFormer state dict: it has no {err} tensor.") from None
    n_layers = len({k.split(".")[1] for k in state if k.startswith("blocks.")})
    n_heads = overrides.pop("n_heads", KNOWN_HEADS.get(d_model))
    if n_heads is None:
        raise WeightsError(
            f"Cannot tell the head count of a d_model={d_model} model from its weights; "
            "pass n_heads=...")
    head_dim = d_model // n_heads
    samples = [n for n in range(14, 20 * n_coeffs)
               if sum(db4_coeff_lengths(n, mode="periodic")) == n_coeffs]
    if not samples and "segment_samples" not in overrides:
        raise WeightsError(f"No segment length gives {n_coeffs} wavelet coefficients.")
    fields = dict(d_model=d_model, n_layers=n_layers, n_heads=n_heads,
                  n_kv_heads=kv // head_dim, d_mlp=d_mlp, n_positions=n_pos,
                  n_channels=n_channels, segment_samples=samples[-1] if samples else None)
    if "final_layer.weight" in state:
        fields["n_outputs"] = state["final_layer.weight"].shape[0]
    return MVPFormerConfig(**{**fields, **overrides})


def _check_fit(model: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    problems = state_mismatch(model, state, optional=OPTIONAL_KEYS)
    if problems:
        raise WeightsError(
            f"{source} does not fit this MVPFormer: " + problems +
            ". Is it a checkpoint of another model, or of a different size?")


def read_checkpoint(path: str | os.PathLike, *, adapters: str | os.PathLike | None = None,
                    lora_alpha: float = 16.0, **overrides: Any
                    ) -> tuple[MVPFormerConfig, dict[str, torch.Tensor]]:
    """The config and our-layout state dict of any supported checkpoint (see the module doc).

    ``overrides`` set config fields the weights cannot tell (``n_heads``,
    ``sfreq``, ``window``, ``rows``, ``dropout``, ...). Build the model with
    :meth:`neuroattn.ieeg.MVPFormer.from_pretrained`, which calls this and
    :func:`load_state`.
    """
    path = Path(path)
    if path.is_dir():
        config_file, legacy_file = path / CONFIG_FILE, path / "weights.pt"
        if not config_file.is_file():
            raise WeightsError(f"{path} has no {CONFIG_FILE}: it is not a save_pretrained "
                               "directory; pass one, or a checkpoint file.")
        try:
            meta = json.loads(config_file.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise WeightsError(f"{config_file} is not valid JSON ({err}); re-export the model "
                               "with save_pretrained.") from None
        if not isinstance(meta, dict):
            raise WeightsError(f"{config_file} holds a {type(meta).__name__}, not a config "
                               "object; re-export the model with save_pretrained.")
        model = meta.pop("model", None)
        if model != "mvpformer":
            raise WeightsError(f"{path} holds a {model or 'non-neuroattn'} model, "
                               "not an MVPFormer; load it with neuroattn.models.load_model.")
        if "format" in meta:  # config.json + model.safetensors
            meta = read_config(path)["config"]
        try:
            cfg = MVPFormerConfig(**{**meta, **overrides})
        except (TypeError, ValueError) as err:
            raise WeightsError(f"{config_file} does not describe a valid MVPFormer: {err}; "
                               "fix that field or re-export the model.") from None
        if (path / WEIGHTS_FILE).is_file() or not legacy_file.is_file():
            state = read_weights(path)
        else:  # the layout before format 1
            state = _read(legacy_file)
    elif path.is_file():
        state = _read(path)
        if any(k.startswith(("genie.", "mvpformer.")) or k.startswith("encoder.")
               for k in state):
            state = convert_ibm(state, lora_alpha)
        cfg = infer_config(state, **overrides)
    else:
        raise WeightsError(f"No checkpoint at {path}.")
    if adapters is not None:
        extra = _read(Path(adapters))
        if not all(".lora_" in k or k.startswith("head.") for k in extra):
            raise WeightsError(f"{adapters} should hold only LoRA tensors and a head.")
        state = _merge_lora({**state, **_rename_ibm(extra)}, lora_alpha)
        if "final_layer.weight" in state:
            cfg.n_outputs = state["final_layer.weight"].shape[0]
    return cfg, state


def load_state(model: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load ``state`` into ``model`` after checking that it fits (a :class:`WeightsError` if not).

    Only :data:`OPTIONAL_KEYS` may be missing; they keep their random
    initialisation (logged).
    """
    _check_fit(model, state, source)
    model.load_state_dict(state, strict=False)
    missing = sorted(OPTIONAL_KEYS - set(state))
    if missing:
        logger.info("%s has no %s; initialised at random.", source, ", ".join(missing))
