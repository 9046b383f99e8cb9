"""Frozen image backbones for feature extraction, built without downloading anything.

Each constructor returns a :class:`Backbone`: the model, its default layers
(in the layer syntax of :class:`~neuroattn.encoding.features.FeatureExtractor`),
its input transform and its number of prefix (CLS/register) tokens. Weights
come from a local file or are random (seeded, so every dask worker that
rebuilds the backbone gets the same ones).

============================  ====================================  ===========================
constructor                   models                                default layer
============================  ====================================  ===========================
:func:`torchvision_backbone`  ResNets, ViTs, VGG/ConvNeXt-style      ``layer4``, last block
:func:`open_clip_backbone`    open_clip visual towers (ViT, ResNet) last residual block
:func:`dinov2_backbone`       DINOv2 ViT-S/B/L/14 (:mod:`.dinov2`)  ``blocks.{L-1}.attn.qkv:q``
============================  ====================================  ===========================

A :class:`Backbone` pickles as its recipe (the constructor call), not its
weights: a dask worker that receives one rebuilds it from the same checkpoint
path, which must therefore be readable on the worker.

Examples
--------
>>> from neuroattn.encoding.backbones import torchvision_backbone
>>> bb = torchvision_backbone("resnet18")  # random weights
>>> bb.layers, bb.name
(('layer4',), 'torchvision:resnet18')
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from neuroattn._logging import logger
from neuroattn.encoding.dinov2 import DinoV2Config, DinoV2ViT, dinov2_config, load_dinov2_weights
from neuroattn.errors import FormatError, ParameterError

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "Backbone", "ImageTransform", "dinov2_backbone",
           "open_clip_backbone", "torchvision_backbone"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_CLIP_HINT = "pip install 'neuroattn[clip]'  (or: pip install open_clip_torch)"


@dataclass(frozen=True)
class ImageTransform:
    """Resize, normalise and pad a float image batch ``(B, 3, H, W)`` with values in [0, 1].

    Parameters
    ----------
    mean, std : tuple of float
        Per-channel normalisation (ImageNet by default).
    size : int, optional
        Resize so the shorter side is ``size``, then centre-crop to
        ``size x size`` (square images are only resized). ``None`` keeps the
        input size.
    interpolation : {"bilinear", "bicubic"}
        Resize filter (antialiased).
    pad_multiple : int, optional
        Zero-pad the bottom and right edges, after normalisation, up to a
        multiple of this (the patch size of a ViT that needs it).

    Examples
    --------
    >>> import torch
    >>> ImageTransform(pad_multiple=14)(torch.ones(2, 3, 20, 28)).shape
    torch.Size([2, 3, 28, 28])
    """

    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    size: int | None = None
    interpolation: str = "bilinear"
    pad_multiple: int | None = None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.size is not None:
            h, w = x.shape[-2:]
            scale = self.size / min(h, w)
            new = (max(self.size, round(h * scale)), max(self.size, round(w * scale)))
            if new != (h, w):
                x = F.interpolate(x, size=new, mode=self.interpolation, antialias=True,
                                  align_corners=False)
            top, left = (new[0] - self.size) // 2, (new[1] - self.size) // 2
            x = x[..., top:top + self.size, left:left + self.size]
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(-1, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(-1, 1, 1)
        x = (x - mean) / std
        if self.pad_multiple:
            m = self.pad_multiple
            h, w = x.shape[-2:]
            x = F.pad(x, (0, -w % m, 0, -h % m))
        return x


@dataclass
class Backbone:
    """A frozen image model and what feature extraction needs to know about it.

    Attributes
    ----------
    model : torch.nn.Module
        The network (eval mode, no gradients).
    layers : tuple of str
        Default layers to extract.
    transform : callable or None
        Maps a float batch ``(B, 3, H, W)`` in [0, 1] to the model's input.
    name : str
        Recorded as the ``source`` of feature stores.
    prefix_tokens : int or None
        Tokens before the patch grid in token outputs (CLS + registers).
    factory : callable, optional
        A picklable zero-argument callable that rebuilds this backbone; when
        set, pickling sends it instead of the weights.
    """

    model: nn.Module
    layers: tuple[str, ...]
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None
    name: str = "model"
    prefix_tokens: int | None = None
    factory: Callable[[], Backbone] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.model.eval().requires_grad_(False)

    def __reduce_ex__(self, protocol: Any) -> Any:
        if self.factory is not None:
            return (_rebuild, (self.factory,))
        return super().__reduce_ex__(protocol)


def _rebuild(factory: Callable[[], Backbone]) -> Backbone:
    return factory()


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Deterministic CPU initialisation without touching the global RNG (or CUDA)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _read_state(path: str | os.PathLike, what: str) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{what} weights {str(path)!r} are not a file. neuroattn never downloads weights: "
            "save them once (e.g. torch.save(model.state_dict(), 'w.pth') on a machine with "
            "internet access) and pass the path.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for foreign files
        raise FormatError(f"{path} is not a readable torch checkpoint ({err}).") from err
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise FormatError(f"{path} holds a {type(state).__name__}, not a state dict.")
    return {k.removeprefix("module."): v for k, v in state.items()}


# --------------------------------------------------------------------------- torchvision


def torchvision_backbone(
    name: str = "resnet50",
    weights: str | os.PathLike | None = None,
    *,
    layers: str | Sequence[str] | None = None,
    seed: int = 0,
    **model_kwargs: Any,
) -> Backbone:
    """A torchvision classification network (ResNet, ViT, ...) as a frozen backbone.

    Parameters
    ----------
    name : str
        A ``torchvision.models`` builder: ``"resnet18"``, ``"resnet50"``,
        ``"vit_b_16"``...
    weights : path-like, optional
        A state dict file (``torch.load(weights_only=True)``); ``None`` for
        random weights. Save torchvision's own weights once with
        ``torch.save(get_model(name, weights="DEFAULT").state_dict(), path)``.
    layers : str or sequence of str, optional
        Default layers; otherwise ``layer4`` for ResNets, the last encoder
        block for ViTs, ``features`` for VGG/ConvNeXt/EfficientNet-style nets.
    seed : int
        Seed of the random initialisation (used when ``weights`` is None).
    **model_kwargs
        Passed to the builder (``image_size=`` for ViTs...).

    Returns
    -------
    Backbone
        With the ImageNet normalisation; ViTs also resize (shorter side, centre
        crop) to their fixed ``image_size``.

    Examples
    --------
    >>> bb = torchvision_backbone("vit_b_16", image_size=32)
    >>> bb.layers, bb.prefix_tokens, bb.transform.size
    (('encoder.layers.encoder_layer_11',), 1, 32)
    """
    import torchvision

    available = torchvision.models.list_models(module=torchvision.models)
    if name not in available:
        close = difflib.get_close_matches(name, available, n=5)
        raise ParameterError(f"torchvision has no classification model {name!r}"
                             + (f"; did you mean {close}?" if close else "."))
    with _seeded(seed):
        model = torchvision.models.get_model(name, weights=None, **model_kwargs)
    if weights is not None:
        result = model.load_state_dict(_read_state(weights, name), strict=False)
        if result.missing_keys or result.unexpected_keys:
            raise ParameterError(f"{weights} does not fit torchvision {name}: missing "
                                 f"{result.missing_keys[:5]}, unexpected "
                                 f"{result.unexpected_keys[:5]}.")
        logger.info("loaded %s weights from %s", name, weights)
    default, transform, prefix = _torchvision_defaults(model)
    if not default and layers is None:
        raise ParameterError(f"No default layer is known for {name}; pass layers=[...] "
                             f"(top-level modules: {[n for n, _ in model.named_children()]}).")
    factory = functools.partial(torchvision_backbone, name, _absolute(weights), layers=layers,
                                seed=seed, **model_kwargs)
    return Backbone(model, _as_tuple(layers) or default, transform, f"torchvision:{name}",
                    prefix, factory)


def _torchvision_defaults(model: nn.Module) -> tuple[tuple[str, ...], ImageTransform, int | None]:
    """Default layers, transform and prefix tokens of a torchvision network."""
    from torchvision.models import VisionTransformer

    if isinstance(model, VisionTransformer):
        last = f"encoder.layers.encoder_layer_{len(model.encoder.layers) - 1}"
        return (last,), ImageTransform(size=model.image_size), 1
    if hasattr(model, "layer4"):
        return ("layer4",), ImageTransform(), None
    if hasattr(model, "features"):
        return ("features",), ImageTransform(), None
    return (), ImageTransform(), None


def _absolute(path: str | os.PathLike | None) -> Path | None:
    """Workers may run in another directory: rebuild from absolute paths."""
    return None if path is None else Path(path).absolute()


def _as_tuple(layers: str | Sequence[str] | None) -> tuple[str, ...]:
    if layers is None:
        return ()
    return (layers,) if isinstance(layers, str) else tuple(layers)


# --------------------------------------------------------------------------- open_clip


class _DropRandomInitWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "No pretrained weights loaded" not in record.getMessage()


def open_clip_backbone(
    name: str = "ViT-B-32",
    pretrained: str | os.PathLike | None = None,
    *,
    layers: str | Sequence[str] | None = None,
    image_size: int | None = None,
    seed: int = 0,
) -> Backbone:
    """The visual tower of an open_clip model (needs ``open_clip_torch``).

    Parameters
    ----------
    name : str
        An open_clip architecture (``"ViT-B-32"``, ``"ViT-L-14"``, ``"RN50"``...).
    pretrained : path-like, optional
        A local open_clip checkpoint of the whole CLIP model (e.g. the
        ``open_clip_pytorch_model.bin`` of a Hugging Face snapshot); ``None``
        for random weights. Tags such as ``"openai"`` would download and are
        refused.
    layers : str or sequence of str, optional
        Default: the last residual block, ``transformer.resblocks.{L-1}`` for
        ViTs (batch-first tokens), ``layer4`` for the ResNets. Add ``:q`` to
        an ``...attn`` layer for its query projection.
    image_size : int, optional
        Override the tower's input size (random weights only, or checkpoints
        whose positional embedding open_clip can resize).
    seed : int
        Seed of the random initialisation.

    Returns
    -------
    Backbone
        With CLIP's normalisation and resize (shorter side, centre crop).

    Raises
    ------
    ImportError
        If open_clip is not installed, with the install command.

    Examples
    --------
    >>> bb = open_clip_backbone("ViT-B-32", image_size=64)  # doctest: +SKIP
    >>> bb.layers, bb.transform.size  # doctest: +SKIP
    (('transformer.resblocks.11',), 64)
    """
    try:
        import open_clip
    except ImportError as err:
        raise ImportError(f"open_clip_backbone needs open_clip; install it with: {_CLIP_HINT}"
                          ) from err
    if pretrained is not None and not Path(pretrained).is_file():
        raise FileNotFoundError(
            f"pretrained={str(pretrained)!r} is not a local file. neuroattn never downloads "
            "weights: fetch the checkpoint once (e.g. open_clip.create_model(name, "
            "pretrained='openai') caches it under ~/.cache/huggingface) and pass its path.")
    quiet = _DropRandomInitWarning()
    logging.getLogger().addFilter(quiet)
    try:
        with _seeded(seed):
            clip = open_clip.create_model(
                name, pretrained=None if pretrained is None else str(pretrained),
                force_image_size=image_size)
    finally:
        logging.getLogger().removeFilter(quiet)
    visual = clip.visual
    size = visual.image_size
    size = int(size[0] if isinstance(size, tuple | list) else size)
    cfg = getattr(visual, "preprocess_cfg", {}) or {}
    transform = ImageTransform(
        mean=tuple(cfg.get("mean", open_clip.OPENAI_DATASET_MEAN)),
        std=tuple(cfg.get("std", open_clip.OPENAI_DATASET_STD)),
        size=size, interpolation=str(cfg.get("interpolation", "bicubic")))
    prefix = None
    if hasattr(visual, "transformer") and hasattr(visual.transformer, "resblocks"):
        n_blocks = len(visual.transformer.resblocks)
        default: tuple[str, ...] = (f"transformer.resblocks.{n_blocks - 1}",)
        prefix = 1 if getattr(visual, "class_embedding", None) is not None else 0
    elif hasattr(visual, "layer4"):
        default = ("layer4",)
    elif layers is None:
        raise ParameterError(f"No default layer is known for the {name} visual tower; pass "
                             f"layers=[...] (modules: {[n for n, _ in visual.named_children()]}).")
    if pretrained is not None:
        logger.info("loaded open_clip %s from %s", name, pretrained)
    factory = functools.partial(open_clip_backbone, name, _absolute(pretrained), layers=layers,
                                image_size=image_size, seed=seed)
    return Backbone(visual, _as_tuple(layers) or default, transform, f"open_clip:{name}",
                    prefix, factory)


# --------------------------------------------------------------------------- DINOv2


def dinov2_backbone(
    checkpoint_path: str | os.PathLike | None = None,
    arch: str | DinoV2Config = "vitb14",
    *,
    layers: str | Sequence[str] | None = None,
    seed: int = 0,
) -> Backbone:
    """A DINOv2 ViT (:class:`~neuroattn.encoding.dinov2.DinoV2ViT`) as a frozen backbone.

    The default layer is the **query projection** of the last block,
    ``blocks.{L-1}.attn.qkv:q``: the first third of the ``qkv`` output
    (``heads x head_dim = D`` features, the queries before head splitting)
    with the CLS and register tokens dropped, on the patch grid. This is the
    ``dinov2_q`` feature of the transformer brain encoder. ``"blocks.{i}"``
    gives block outputs instead (before the final norm).

    Parameters
    ----------
    checkpoint_path : path-like, optional
        An official DINOv2 state dict (``dinov2_vitb14_pretrain.pth``, see
        :mod:`neuroattn.encoding.dinov2` for the layout); ``None`` for random
        weights.
    arch : str or DinoV2Config
        ``"vits14"``, ``"vitb14"``, ``"vitl14"`` (``"_reg"`` for the register
        variants; read from the file when loading), or a config.
    layers : str or sequence of str, optional
        Default layers.
    seed : int
        Seed of the random initialisation.

    Returns
    -------
    Backbone
        With the ImageNet normalisation and zero padding (bottom/right, after
        normalisation) to a multiple of 14 px, so any image size works: a
        425 x 425 image becomes 434 x 434, a 31 x 31 grid.

    Examples
    --------
    >>> cfg = DinoV2Config(embed_dim=32, depth=2, num_heads=2, img_size=28)
    >>> bb = dinov2_backbone(None, arch=cfg)
    >>> bb.layers, bb.prefix_tokens
    (('blocks.1.attn.qkv:q',), 1)
    """
    if checkpoint_path is None:
        cfg = dinov2_config(arch) if isinstance(arch, str) else arch
        with _seeded(seed):
            model = DinoV2ViT(cfg)
    else:
        model = load_dinov2_weights(checkpoint_path, arch)
        cfg = model.config
    name = f"dinov2_{arch}" if isinstance(arch, str) else "dinov2"
    factory = functools.partial(dinov2_backbone, _absolute(checkpoint_path), arch, layers=layers,
                                seed=seed)
    return Backbone(model, _as_tuple(layers) or (f"blocks.{cfg.depth - 1}.attn.qkv:q",),
                    ImageTransform(pad_multiple=cfg.patch_size), name, model.num_prefix_tokens,
                    factory)
