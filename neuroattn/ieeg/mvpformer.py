"""MVPFormer: a wavelet tokenizer and parallel blocks of multi-variate parallel attention.

Each (segment, channel) token is the full-depth db4 DWT (PyWavelets'
"periodic" mode) of one channel's segment, RMS-normalised and projected
(so the model is blind to per-token amplitude). Blocks are the "parallel"
form ``h + Attn(norm(h)) + SwiGLU(norm(h))``. Time and channel enter only
through the relative tables of MVPA; there is no additive position embedding.

The parameter names follow braindecode's ``MVPFormer`` (which re-hosts the
released weights); :mod:`neuroattn.ieeg.weights` converts the IBM reference's
checkpoints.

Examples
--------
>>> import torch
>>> from neuroattn.ieeg import MVPFormer, preset
>>> model = MVPFormer(preset("tiny")).eval()
>>> x = torch.randn(2, 5, 4 * 128)          # (batch, channels, samples): 4 segments
>>> model(x).shape
torch.Size([2, 2])
>>> model(x, return_features=True)["hidden"].shape
torch.Size([2, 4, 5, 32])
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from neuroattn.errors import ParameterError
from neuroattn.ieeg.config import PRESETS, MVPFormerConfig, preset
from neuroattn.ieeg.mvpa_flash import mvpa_flash
from neuroattn.ieeg.mvpa_functional import (
    check_grid,
    mvpa_chunked,
    mvpa_flex,
    mvpa_reference,
    mvpa_weights,
)
from neuroattn.ieeg.weights import load_state, read_checkpoint
from neuroattn.nn.lora import add_lora
from neuroattn.nn.pretrained import PretrainedMixin
from neuroattn.nn.wavelet import db4_coeff_lengths, dwt_db4

_NON_FINITE = "The input holds NaN or Inf; clean the recording first."


def _check_finite(x: torch.Tensor) -> None:
    """Reject NaN/Inf input without a host synchronisation on an accelerator.

    On the CPU (eager) the check is a plain ``ValueError``. On CUDA and meta it
    is ``torch._assert_async``: no sync and no ``torch.compile`` graph break; on
    CUDA a bad input trips a device-side assert that stops the run at the next
    synchronisation (the stores' validation on opening is where the readable
    error comes from). Other devices (e.g. MPS) keep the blocking check.
    """
    if x.device.type in ("cuda", "meta") or (
            x.device.type == "cpu" and torch.compiler.is_compiling()):
        torch._assert_async(torch.isfinite(x).all(), _NON_FINITE)
    elif not torch.isfinite(x).all():
        raise ParameterError(_NON_FINITE)


class WaveletTokenizer(nn.Module):
    """Segment → db4 DWT (fixed) → RMSNorm → linear projection."""

    def __init__(self, cfg: MVPFormerConfig) -> None:
        super().__init__()
        self.segment_samples = cfg.segment_samples
        self.n_coeffs = sum(db4_coeff_lengths(cfg.segment_samples, mode="periodic"))
        self.ln = nn.RMSNorm(self.n_coeffs, eps=cfg.norm_eps)
        self.proj = nn.Linear(self.n_coeffs, cfg.d_model, bias=False)

    def forward(self, segments: torch.Tensor) -> torch.Tensor:
        """(..., segment_samples) → (..., d_model)."""
        with torch.no_grad():
            coeffs = dwt_db4(segments.float(), mode="periodic")
        return self.proj(self.ln(coeffs).to(self.proj.weight.dtype))


class MVPA(nn.Module):
    """Multi-variate parallel attention with grouped-query heads."""

    def __init__(self, cfg: MVPFormerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        kv = cfg.kv_dim
        self.q_attn = nn.Linear(cfg.d_model, cfg.d_model, bias=False)
        self.c_attn = nn.Linear(cfg.d_model, 2 * kv, bias=False)  # [keys | values]
        self.position_net = nn.Linear(cfg.d_model, kv, bias=False)
        self.channel_net = nn.Linear(cfg.d_model, kv, bias=False)
        self.attn_bias = nn.Parameter(torch.zeros(3 * kv))  # [u | v | w]
        self.c_proj = nn.Linear(cfg.d_model, cfg.d_model, bias=False)
        self.resid_dropout = nn.Dropout(cfg.dropout)

    def _project(self, h: torch.Tensor, time_table: torch.Tensor,
                 channel_table: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Queries, keys, values (B, heads, T*C, d_h), the two key tables and the biases."""
        cfg = self.cfg
        B, T, C, _ = h.shape
        H, Hkv, dh = cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
        tokens = h.reshape(B, T * C, -1)
        q = self.q_attn(tokens).view(B, T * C, H, dh).transpose(1, 2)
        k, v = self.c_attn(tokens).view(B, T * C, 2, Hkv, dh).permute(2, 0, 3, 1, 4)
        time_keys = self.position_net(time_table).view(-1, Hkv, dh).transpose(0, 1)
        chan_keys = self.channel_net(channel_table).view(-1, Hkv, dh).transpose(0, 1)
        return (q, k, v, time_keys, chan_keys, *self.attn_bias.view(3, Hkv, dh))

    def forward(self, h: torch.Tensor, time_table: torch.Tensor,
                channel_table: torch.Tensor) -> torch.Tensor:
        """h (B, T, C, d); tables (T, d) and (C, d) of the window's segments and channels."""
        cfg = self.cfg
        B, T, C, _ = h.shape
        attend = {"flash": mvpa_flash, "chunked": mvpa_chunked, "reference": mvpa_reference,
                  "flex": mvpa_flex}[cfg.attention]
        out = attend(*self._project(h, time_table, channel_table), n_segments=T,
                     window=cfg.window, rows=cfg.rows, content=cfg.content,
                     dropout_p=cfg.dropout if self.training else 0.0)
        out = out.transpose(1, 2).reshape(B, T, C, cfg.d_model)
        return self.resid_dropout(self.c_proj(out))

    def weights(self, h: torch.Tensor, time_table: torch.Tensor,
                channel_table: torch.Tensor) -> torch.Tensor:
        """Attention weights (B, heads, T*C, T*C) for ``h`` (see :func:`mvpa_weights`)."""
        q, k, _, time_keys, chan_keys, u, v_bias, w_bias = self._project(
            h, time_table, channel_table)
        return mvpa_weights(q, k, time_keys, chan_keys, u, v_bias, w_bias,
                            n_segments=h.shape[1], window=self.cfg.window, rows=self.cfg.rows,
                            content=self.cfg.content)


class SwiGLU(nn.Module):
    def __init__(self, cfg: MVPFormerConfig) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(cfg.d_model, cfg.d_mlp, bias=False)
        self.up_proj = nn.Linear(cfg.d_model, cfg.d_mlp, bias=False)
        self.down_proj = nn.Linear(cfg.d_mlp, cfg.d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))


class MVPFormerBlock(nn.Module):
    """``h + Attn(norm(h)) + MLP(norm(h))`` (one shared pre-norm)."""

    def __init__(self, cfg: MVPFormerConfig) -> None:
        super().__init__()
        self.ln_1 = nn.RMSNorm(cfg.d_model, eps=cfg.norm_eps)
        self.attn = MVPA(cfg)
        self.mlp = SwiGLU(cfg)

    def forward(self, h: torch.Tensor, time_table: torch.Tensor,
                channel_table: torch.Tensor) -> torch.Tensor:
        z = self.ln_1(h)
        return h + self.attn(z, time_table, channel_table) + self.mlp(z)


class MVPFormer(nn.Module, PretrainedMixin):
    """The MVPFormer iEEG model (Carzaniga et al. 2025), see the module docstring.

    Parameters
    ----------
    config : MVPFormerConfig or str
        A config, or a preset name (``"mvpformer-s"``, ``"mvpformer-m"``, ``"tiny"``).

    Notes
    -----
    ``save_pretrained(directory)`` writes ``config.json`` (the
    :class:`~neuroattn.ieeg.config.MVPFormerConfig`) and ``model.safetensors``;
    :meth:`from_pretrained` reads those, the older ``config.json`` +
    ``weights.pt`` directories, braindecode state dicts and the IBM
    reference's checkpoints (:mod:`neuroattn.ieeg.weights`).

    Examples
    --------
    >>> import tempfile, torch
    >>> model = MVPFormer.preset("tiny").eval()
    >>> again = MVPFormer.from_pretrained(model.save_pretrained(tempfile.mkdtemp() + "/m")).eval()
    >>> x = torch.randn(1, 3, 2 * 128)
    >>> again.config == model.config, bool(torch.equal(again(x), model(x)))
    (True, True)
    """

    model_name = "mvpformer"
    presets = PRESETS
    """Named sizes: :data:`neuroattn.ieeg.config.PRESETS` (``"tiny"`` for tests and demos)."""

    def __init__(self, config: MVPFormerConfig | str = "mvpformer-s") -> None:
        super().__init__()
        cfg = preset(config) if isinstance(config, str) else config
        self.config = cfg
        self.patch_embed = WaveletTokenizer(cfg)
        self.positional_embedding = nn.Embedding(cfg.n_positions, cfg.d_model)
        self.channel_embedding = nn.Embedding(cfg.n_channels, cfg.d_model)
        self.embed_dropout = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(MVPFormerBlock(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.RMSNorm(cfg.d_model, eps=cfg.norm_eps)
        self.final_layer = nn.Linear(cfg.d_model, cfg.n_outputs, bias=False)
        self.generative_head = nn.Linear(cfg.d_model, cfg.d_model, bias=False)
        self.apply(self._init)

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)
        elif isinstance(module, MVPA):
            nn.init.normal_(module.attn_bias, std=0.02)

    def segment(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, n_samples) → (B, T, C, segment_samples), checking the grid fits."""
        cfg = self.config
        if x.ndim != 3:
            raise ParameterError(
                f"MVPFormer takes (batch, channels, samples); got shape {tuple(x.shape)}.")
        B, C, n = x.shape
        if n % cfg.segment_samples:
            raise ParameterError(
                f"{n} samples are not a whole number of {cfg.segment_samples}-sample segments "
                f"({cfg.segment_s:g} s at {cfg.sfreq:g} Hz); crop or pad the windows to a "
                "multiple.")
        _check_finite(x)
        T = n // cfg.segment_samples
        check_grid(T * C, T, cfg.n_positions, cfg.n_channels, cfg.rows)
        return x.view(B, C, T, cfg.segment_samples).transpose(1, 2)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Token embeddings (B, T, C, d) of raw windows (B, C, n_samples)."""
        return self.patch_embed(self.segment(x))

    def _tables(self, embeddings: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _, T, C, _ = embeddings.shape
        device = embeddings.device
        return (self.positional_embedding(torch.arange(T, device=device)),
                self.channel_embedding(torch.arange(C, device=device)))

    def encode(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Transformer over token embeddings (B, T, C, d) → final hidden states."""
        time_table, channel_table = self._tables(embeddings)
        h = self.embed_dropout(embeddings)
        for block in self.blocks:
            h = block(h, time_table, channel_table)
        return self.ln_f(h)

    @torch.no_grad()
    def attention_maps(self, x: torch.Tensor) -> torch.Tensor:
        """Every layer's attention weights for windows ``x`` (B, C, n_samples), for inspection.

        Returns a tensor (layers, B, heads, T, C, T, C): entry
        ``[l, b, h, t, c, t2, c2]`` is how much token (segment t, channel c)
        attends to (t2, c2) in layer l. Computed densely (O((T·C)²) memory),
        so use it on a few windows. Runs in eval mode (no dropout).

        Examples
        --------
        >>> import torch
        >>> from neuroattn.ieeg import MVPFormer
        >>> maps = MVPFormer("tiny").attention_maps(torch.randn(1, 3, 4 * 128))
        >>> tuple(maps.shape), bool(maps[0, 0, 0, 1].sum(dim=(-2, -1)).allclose(torch.ones(3)))
        ((2, 1, 4, 4, 3, 4, 3), True)
        """
        was_training = self.training
        self.eval()
        embeddings = self.embed(x)
        B, T, C, _ = embeddings.shape
        time_table, channel_table = self._tables(embeddings)
        h, maps = embeddings, []
        for block in self.blocks:
            maps.append(block.attn.weights(block.ln_1(h), time_table, channel_table))
            h = block(h, time_table, channel_table)
        self.train(was_training)
        return torch.stack(maps).float().reshape(len(maps), B, -1, T, C, T, C)

    def forward(self, x: torch.Tensor, *, return_features: bool = False) -> Any:
        """Classify windows (B, C, n_samples) from the last segment, averaged over channels.

        With ``return_features=True`` returns a dict with ``logits``,
        ``features`` (B, d), ``hidden`` (B, T, C, d) and ``embeddings``.
        """
        embeddings = self.embed(x)
        hidden = self.encode(embeddings)
        features = hidden[:, -1].mean(dim=1)
        logits = self.final_layer(features)
        if return_features:
            return {"logits": logits, "features": features, "hidden": hidden,
                    "embeddings": embeddings}
        return logits

    def reset_head(self, n_outputs: int) -> None:
        """Replace the classification head (e.g. for a new task)."""
        self.config.n_outputs = n_outputs
        self.final_layer = nn.Linear(self.config.d_model, n_outputs, bias=False,
                                     device=self.final_layer.weight.device)
        nn.init.normal_(self.final_layer.weight, std=0.02)

    def add_lora(self, rank: int = 8, alpha: float = 16.0, dropout: float = 0.0) -> list[str]:
        """LoRA on the queries and the value half of ``c_attn``; freeze all but adapters + head.

        This is the reference's fine-tuning recipe (rank 8, alpha 16).
        """
        kv = self.config.kv_dim
        wrapped = add_lora(self, ["q_attn", "c_attn"], rank=rank, alpha=alpha, dropout=dropout,
                           rows={"c_attn": slice(kv, 2 * kv)})
        for name, param in self.named_parameters():
            param.requires_grad = "lora_" in name or name.startswith("final_layer")
        return wrapped

    def pretrained_config(self) -> dict[str, Any]:
        """The :class:`~neuroattn.ieeg.config.MVPFormerConfig` as a dict (``save_pretrained``)."""
        return self.config.to_dict()

    @classmethod
    def from_pretrained_config(cls, config: dict[str, Any]) -> MVPFormer:
        """An untrained MVPFormer of a config dict."""
        return cls(MVPFormerConfig(**config))

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, *,
                        adapters: str | os.PathLike | None = None, lora_alpha: float = 16.0,
                        **overrides: Any) -> MVPFormer:
        """Load our directory format, a braindecode state dict, or an IBM checkpoint.

        See :mod:`neuroattn.ieeg.weights` for the formats (``save_pretrained``
        directories, old and new); ``adapters`` merges an IBM LoRA adapter
        file, and ``overrides`` set config fields the weights cannot tell
        (:func:`~neuroattn.ieeg.weights.read_checkpoint`).
        """
        cfg, state = read_checkpoint(path, adapters=adapters, lora_alpha=lora_alpha,
                                     **overrides)
        model = cls(cfg)
        load_state(model, state, str(path))
        return model
