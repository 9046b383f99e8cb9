"""A compact DINOv2 vision transformer that loads the official checkpoints.

:class:`DinoV2ViT` has the module and parameter names of the official
``dinov2_vit{s,b,l}14[_reg]`` hub models, so their ``*_pretrain.pth`` state
dicts load without renaming (:func:`load_dinov2_weights`). The forward pass is
the published one: a 14-px patch embedding, a CLS token, learned positional
embeddings (trained at 518 px, a 37×37 grid, and resized bicubically for
other image sizes exactly as the reference does: scale factor
``(n + 0.1) / 37``, no antialiasing), optional register tokens inserted after
CLS (they get no positional embedding), pre-norm blocks with LayerScale, and
a final LayerNorm.

Checkpoint layout accepted (``torch.load(..., weights_only=True)``):

=================================  ===========================================
key                                shape
=================================  ===========================================
``cls_token``                      ``(1, 1, D)``
``pos_embed``                      ``(1, 1 + G*G, D)`` (G = 37 for 518 px)
``register_tokens`` (optional)     ``(1, R, D)`` (R = 4 in the ``_reg`` models)
``mask_token`` (optional)          ``(1, D)``, unused at inference
``patch_embed.proj.{weight,bias}`` ``(D, 3, 14, 14)``, ``(D,)``
``blocks.N.norm1.{weight,bias}``   LayerNorm, eps 1e-6
``blocks.N.attn.qkv.{weight,bias}`` ``(3D, D)``: rows ``[q; k; v]``, heads contiguous
``blocks.N.attn.proj.{weight,bias}``
``blocks.N.ls1.gamma``             LayerScale (optional: absent = no scaling)
``blocks.N.norm2``, ``blocks.N.mlp.fc1``, ``blocks.N.mlp.fc2``, ``blocks.N.ls2.gamma``
``norm.{weight,bias}``             final LayerNorm
=================================  ===========================================

A state dict nested under ``"model"``, ``"state_dict"`` or ``"teacher"``, keys
prefixed with ``module.`` / ``backbone.``, and the chunked-block layout of
the training code (``blocks.<chunk>.<i>.``) are unwrapped. ViT-g/14 (SwiGLU
feed-forward) is not supported.

Examples
--------
>>> import torch
>>> from neuroattn.encoding.dinov2 import DinoV2Config, DinoV2ViT
>>> model = DinoV2ViT(DinoV2Config(embed_dim=32, depth=2, num_heads=2, img_size=56))
>>> model(torch.zeros(1, 3, 28, 42)).shape  # 1 CLS + a 2 x 3 grid of patch tokens
torch.Size([1, 7, 32])
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from neuroattn._logging import logger
from neuroattn.errors import FormatError, ParameterError

__all__ = ["ARCHS", "DinoV2Config", "DinoV2ViT", "dinov2_config", "load_dinov2_weights"]


@dataclass(frozen=True)
class DinoV2Config:
    """Size of a DINOv2 ViT; the defaults are ViT-B/14 as released (518-px pos. embedding).

    Parameters
    ----------
    embed_dim, depth, num_heads : int
        Width, number of blocks and attention heads.
    patch_size : int
        Patch side in pixels (14 for all DINOv2 models).
    img_size : int
        Image side the positional embedding was trained for; its grid is
        ``img_size // patch_size`` (37 for the released models).
    num_register_tokens : int
        Register tokens (4 in the ``_reg`` models).
    mlp_ratio : float
        Hidden width of the feed-forward block over ``embed_dim``.
    layerscale : bool
        Whether blocks have LayerScale (``ls1.gamma``/``ls2.gamma``).
    interpolate_offset : float
        Offset of the positional-embedding resize (reference: 0.1).
    """

    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    patch_size: int = 14
    img_size: int = 518
    num_register_tokens: int = 0
    mlp_ratio: float = 4.0
    layerscale: bool = True
    interpolate_offset: float = 0.1

    def __post_init__(self) -> None:
        if self.embed_dim % self.num_heads:
            raise ParameterError(f"embed_dim={self.embed_dim} is not divisible by "
                                 f"num_heads={self.num_heads}.")
        if self.img_size < self.patch_size:
            raise ParameterError(f"img_size={self.img_size} is smaller than one patch "
                                 f"({self.patch_size} px).")


#: Released DINOv2 sizes: width, depth, heads (head dim 64 everywhere).
ARCHS: dict[str, tuple[int, int, int]] = {
    "vits14": (384, 12, 6), "vitb14": (768, 12, 12), "vitl14": (1024, 24, 16),
}


def dinov2_config(arch: str = "vitb14") -> DinoV2Config:
    """The config of a released model: ``"vits14"``, ``"vitb14"``, ``"vitl14"`` (+ ``"_reg"``).

    Examples
    --------
    >>> dinov2_config("vitl14_reg").num_register_tokens
    4
    """
    base, _, reg = arch.lower().removeprefix("dinov2_").partition("_")
    if base == "vitg14":
        raise ParameterError("ViT-g/14 uses a SwiGLU feed-forward block, which DinoV2ViT does not "
                             "implement; use vits14, vitb14 or vitl14.")
    if base not in ARCHS or reg not in ("", "reg", "reg4"):
        raise ParameterError(f"Unknown DINOv2 arch {arch!r}; use one of "
                             f"{sorted(ARCHS) + [a + '_reg' for a in sorted(ARCHS)]}.")
    dim, depth, heads = ARCHS[base]
    return DinoV2Config(embed_dim=dim, depth=depth, num_heads=heads,
                        num_register_tokens=4 if reg else 0)


class _PatchEmbed(nn.Module):
    def __init__(self, patch_size: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)  # (B, N, D), rows first


class _LayerScale(nn.Module):
    def __init__(self, dim: int, init: float = 1.0) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class _Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        # (B, N, 3D) -> 3 x (B, heads, N, head_dim): the first D features are q, head by head
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, d // self.num_heads).permute(
            2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class _Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class _Block(nn.Module):
    def __init__(self, cfg: DinoV2Config) -> None:
        super().__init__()
        dim = cfg.embed_dim
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = _Attention(dim, cfg.num_heads)
        self.ls1 = _LayerScale(dim) if cfg.layerscale else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = _Mlp(dim, int(dim * cfg.mlp_ratio))
        self.ls2 = _LayerScale(dim) if cfg.layerscale else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class DinoV2ViT(nn.Module):
    """DINOv2 vision transformer; ``forward`` returns the final-normed tokens.

    The output is ``(B, 1 + R + h*w, D)``: CLS, ``R`` register tokens, then
    the patch tokens row by row, for an input ``(B, 3, 14h, 14w)`` (sides must
    be multiples of the patch size; the backbone's transform pads them).
    ``num_prefix_tokens`` is ``1 + R``. Random weights follow the reference
    initialisation (truncated normal, std 0.02) with LayerScale 1.

    Parameters
    ----------
    config : DinoV2Config, optional
        Size (default ViT-B/14).

    Examples
    --------
    >>> model = DinoV2ViT(DinoV2Config(embed_dim=32, depth=1, num_heads=2, img_size=28,
    ...                                num_register_tokens=4))
    >>> model.num_prefix_tokens, model(torch.zeros(2, 3, 28, 28)).shape
    (5, torch.Size([2, 9, 32]))
    """

    def __init__(self, config: DinoV2Config | None = None) -> None:
        super().__init__()
        cfg = self.config = config or DinoV2Config()
        dim = cfg.embed_dim
        self.patch_size = cfg.patch_size
        self.num_prefix_tokens = 1 + cfg.num_register_tokens
        grid = cfg.img_size // cfg.patch_size
        self.patch_embed = _PatchEmbed(cfg.patch_size, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + grid * grid, dim))
        if cfg.num_register_tokens:
            self.register_tokens = nn.Parameter(torch.zeros(1, cfg.num_register_tokens, dim))
        self.mask_token = nn.Parameter(torch.zeros(1, dim))  # training only; kept for loading
        self.blocks = nn.ModuleList(_Block(cfg) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Identity()
        self._init_weights()

    def _init_weights(self) -> None:
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        if self.config.num_register_tokens:
            nn.init.normal_(self.register_tokens, std=1e-6)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)

    def interpolate_pos_encoding(self, h: int, w: int) -> torch.Tensor:
        """Positional embedding for an ``h x w`` patch grid, ``(1, 1 + h*w, D)``."""
        pos = self.pos_embed
        n = pos.shape[1] - 1
        side = math.isqrt(n)
        if h * w == n and h == w:
            return pos
        patch = pos[:, 1:].float().reshape(1, side, side, -1).permute(0, 3, 1, 2)
        off = self.config.interpolate_offset
        scale = ((h + off) / side, (w + off) / side) if off else None
        patch = F.interpolate(patch, scale_factor=scale, size=None if off else (h, w),
                              mode="bicubic", antialias=False)
        if patch.shape[-2:] != (h, w):  # cannot happen with offset < 1; guard anyway
            raise RuntimeError(f"positional embedding resized to {tuple(patch.shape[-2:])}, "
                               f"expected {(h, w)}.")
        patch = patch.permute(0, 2, 3, 1).reshape(1, h * w, -1)
        return torch.cat([pos[:, :1].float(), patch], dim=1).to(pos.dtype)

    def prepare_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Patch embedding + CLS + positional embedding + registers: ``(B, 1 + R + N, D)``."""
        b, _, height, width = x.shape
        p = self.patch_size
        if height % p or width % p:
            raise ParameterError(f"Image size {height}x{width} is not a multiple of the {p}-px "
                                 "patch; pad it (the dinov2_backbone transform does) or resize it.")
        tokens = torch.cat([self.cls_token.expand(b, -1, -1), self.patch_embed(x)], dim=1)
        tokens = tokens + self.interpolate_pos_encoding(height // p, width // p).to(tokens.dtype)
        if self.config.num_register_tokens:
            tokens = torch.cat([tokens[:, :1], self.register_tokens.expand(b, -1, -1),
                                tokens[:, 1:]], dim=1)
        return tokens

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.prepare_tokens(x)
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens)


_CHUNKED = re.compile(r"^blocks\.\d+\.(\d+)\.")


def _unwrap(state: dict) -> dict[str, torch.Tensor]:
    for key in ("teacher", "model", "state_dict"):
        if isinstance(state.get(key), dict) and not isinstance(state.get(key), torch.Tensor):
            state = state[key]
    out = {}
    for key, value in state.items():
        for prefix in ("module.", "backbone."):
            key = key.removeprefix(prefix)
        out[_CHUNKED.sub(r"blocks.\1.", key)] = value
    return out


def _config_from_state(state: dict[str, torch.Tensor], arch: str | DinoV2Config,
                       path: Path) -> DinoV2Config:
    missing = [k for k in ("cls_token", "pos_embed", "patch_embed.proj.weight", "norm.weight")
               if k not in state]
    if missing:
        raise FormatError(f"{path} is not a DINOv2 state dict: keys {missing} are missing "
                          f"(found e.g. {sorted(state)[:5]}). See neuroattn.encoding.dinov2 for "
                          "the accepted layout.")
    if any(".mlp.w12." in k for k in state):
        raise FormatError(f"{path} has a SwiGLU feed-forward (ViT-g/14), which DinoV2ViT does "
                          "not implement.")
    dim = state["cls_token"].shape[-1]
    depth = 1 + max(int(m.group(1)) for k in state if (m := re.match(r"blocks\.(\d+)\.", k)))
    patch = state["patch_embed.proj.weight"].shape[-1]
    grid = math.isqrt(state["pos_embed"].shape[1] - 1)
    found = {"embed_dim": dim, "depth": depth, "patch_size": patch, "img_size": grid * patch,
             "num_register_tokens": (state["register_tokens"].shape[1]
                                     if "register_tokens" in state else 0),
             "mlp_ratio": state["blocks.0.mlp.fc1.weight"].shape[0] / dim,
             "layerscale": "blocks.0.ls1.gamma" in state}
    cfg = dinov2_config(arch) if isinstance(arch, str) else arch
    for field in ("embed_dim", "depth"):
        if getattr(cfg, field) != found[field]:
            guess = [a for a, (d, n, _) in ARCHS.items() if (d, n) == (dim, depth)]
            hint = f"pass arch={guess[0]!r}" if guess else "pass arch=DinoV2Config(...)"
            raise ParameterError(f"{path} holds a ViT with {field}={found[field]}, but the arch "
                                 f"asks for {getattr(cfg, field)}; {hint}.")
    return replace(cfg, **found)


def load_dinov2_weights(
    path: str | os.PathLike, arch: str | DinoV2Config = "vitb14"
) -> DinoV2ViT:
    """Build a :class:`DinoV2ViT` from a checkpoint file (read with ``weights_only=True``).

    Width, depth, patch size, positional grid, registers and LayerScale are
    read from the tensors; the number of heads (not visible in the weights)
    comes from ``arch``.

    Parameters
    ----------
    path : path-like
        A state dict in the layout of the module docstring, e.g. the official
        ``dinov2_vitb14_pretrain.pth`` or ``dinov2_vitb14_reg4_pretrain.pth``.
    arch : str or DinoV2Config
        ``"vits14"``, ``"vitb14"``, ``"vitl14"`` (``_reg`` is read from the
        file), or a config for other sizes.

    Returns
    -------
    DinoV2ViT
        In eval mode.

    Examples
    --------
    >>> import tempfile
    >>> cfg = DinoV2Config(embed_dim=32, depth=1, num_heads=2, img_size=28)
    >>> path = tempfile.mkdtemp() + "/tiny.pth"
    >>> torch.save(DinoV2ViT(cfg).state_dict(), path)
    >>> load_dinov2_weights(path, arch=cfg).config.depth
    1
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"DINOv2 checkpoint {path} does not exist (weights are never "
                                "downloaded; fetch e.g. dinov2_vitb14_pretrain.pth once).")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for foreign files
        raise FormatError(f"{path} is not a readable torch checkpoint ({err}).") from err
    if not isinstance(raw, dict):
        raise FormatError(f"{path} holds a {type(raw).__name__}, not a state dict.")
    state = _unwrap(raw)
    cfg = _config_from_state(state, arch, path)
    model = DinoV2ViT(cfg)
    state.setdefault("mask_token", model.mask_token.detach().clone())  # optional in files
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise FormatError(f"{path} does not fit a DINOv2 ViT {asdict(cfg)}: missing "
                          f"{result.missing_keys[:5]}, unexpected {result.unexpected_keys[:5]}.")
    logger.info("loaded DINOv2 ViT (dim %d, depth %d, %d registers) from %s",
                cfg.embed_dim, cfg.depth, cfg.num_register_tokens, path)
    return model.eval()
