"""MVPFormer configuration and presets.

Examples
--------
>>> from neuroattn.ieeg.config import preset
>>> cfg = preset("mvpformer-s")
>>> cfg.d_model, cfg.n_layers, cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
(768, 12, 12, 4, 64)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from neuroattn.config import ConfigError, Range, check_value
from neuroattn.errors import ParameterError

#: Fields of :class:`MVPFormerConfig` that must be positive integers.
_POSITIVE_INTS = ("d_model", "n_layers", "n_heads", "n_kv_heads", "d_mlp", "n_positions",
                  "n_channels", "segment_samples", "n_outputs")


@dataclass
class MVPFormerConfig:
    """Sizes and options of an MVPFormer.

    Parameters
    ----------
    d_model, n_layers, n_heads, n_kv_heads, d_mlp
        Width, depth, query heads, key/value heads (grouped-query attention)
        and SwiGLU hidden size.
    n_positions, n_channels
        Rows of the time and channel tables: the most segments per window and
        channels per sample the model accepts.
    segment_samples, sfreq
        Samples per segment (token) and the sampling rate the model expects
        (the released weights: 2560 samples = 5 s at 512 Hz).
    window
        Content-term window in segments (``None``: everywhere).
    rows
        ``"table"`` (released weights: rows T-1-Δt, C-1-|Δc|) or ``"relative"``
        (rows Δt, |Δc|); see :mod:`neuroattn.ieeg.mvpa_functional`.
    content
        Keep the content term (the reference's ``global_att``).
    dropout
        Embedding, attention and residual dropout.
    norm_eps
        RMSNorm epsilon.
    n_outputs
        Classes of the classification head.
    attention
        ``"flash"`` (memory-linear online softmax, any device; default),
        ``"chunked"`` (blocks of query segments), ``"reference"`` (materialises
        all scores; tests) or ``"flex"`` (FlexAttention, compiled into a fused
        kernel on CUDA; experimental, forward-only on the CPU, no attention
        dropout). All give the same numbers.

        Why ``"flash"`` is also the CUDA default: no GPU suite has timed the
        paths yet, so the choice follows the op-count and sync budgets
        (at most 5,000 aten ops and 5 list indexings per layer), measured on
        the ``meta`` device for one MVPFormer-S layer's forward and backward
        (B=8, T=25, C=64, 12/4 heads of 64):

        ========= ================ ============== ============================
        path      aten ops         list indexings scores held at once
        ========= ================ ============== ============================
        flash     3,415 (3,692     0              blocks of <= 2**25 logits
                  with dropout)
        chunked   7,924 (8,149)    0              (block·C, N) per block
        reference 242 (247)        0              (N, N): about 1 GB (fp32)
        flex      n/a (no meta)    n/a            none (fused); no dropout
        ========= ================ ============== ============================

        None of them reads a device value on the host. Only ``"flash"``
        meets both budgets without materialising the scores, and it supports
        dropout. Before its rewrite it dispatched 41,403 ops with 1,027
        blocking list indexings. Revisit with the GPU suite's timings.
    """

    d_model: int = 768
    n_layers: int = 12
    n_heads: int = 12
    n_kv_heads: int = 4
    d_mlp: int = 1728
    n_positions: int = 110
    n_channels: int = 128
    segment_samples: int = 2560
    sfreq: float = 512.0
    window: int | None = 10
    rows: Literal["table", "relative"] = "table"
    content: bool = True
    dropout: float = 0.1
    norm_eps: float = 1e-5
    n_outputs: int = 2
    attention: Literal["flash", "chunked", "reference", "flex"] = "flash"

    def __post_init__(self) -> None:
        for name in _POSITIVE_INTS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{name}={value!r} is not a whole number; pass a positive "
                                  "integer.")
            check_value(name, value, Range(1, None))
        if self.window is not None:
            check_value("window", self.window, Range(0, None))
        for name, rng in (("sfreq", Range(0, None, low_open=True)),
                          ("dropout", Range(0, 1, high_open=True)),
                          ("norm_eps", Range(0, None, low_open=True))):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"{name}={value!r} is not a number; pass a number {rng}.")
            check_value(name, value, rng)
        if self.d_model % self.n_heads:
            raise ParameterError(f"d_model={self.d_model} is not divisible by "
                                 f"n_heads={self.n_heads}.")
        if self.n_heads % self.n_kv_heads:
            raise ParameterError(
                f"n_heads={self.n_heads} is not a multiple of n_kv_heads={self.n_kv_heads}.")
        if self.attention not in ("flash", "chunked", "reference", "flex"):
            raise ParameterError(f"attention={self.attention!r}; use 'flash', 'chunked', "
                                 "'reference' or 'flex'.")
        if self.attention == "flex" and self.dropout:
            raise ParameterError("attention='flex' has no attention dropout; set dropout=0.0.")
        if self.rows not in ("table", "relative"):
            raise ParameterError(f"rows={self.rows!r}; use 'table' or 'relative'.")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def kv_dim(self) -> int:
        return self.head_dim * self.n_kv_heads

    @property
    def segment_s(self) -> float:
        return self.segment_samples / self.sfreq

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


PRESETS: dict[str, dict[str, Any]] = {
    # The released sizes (IBM configs mvpformer_s_* / mvpformer_*).
    "mvpformer-s": dict(d_model=768, n_layers=12, n_heads=12, n_kv_heads=4, d_mlp=1728),
    "mvpformer-m": dict(d_model=2048, n_layers=24, n_heads=16, n_kv_heads=8, d_mlp=5632),
    # CPU tests and demos: 1-s segments at 128 Hz.
    "tiny": dict(d_model=32, n_layers=2, n_heads=4, n_kv_heads=2, d_mlp=64,
                 segment_samples=128, sfreq=128.0, n_positions=32, n_channels=128, window=4),
}


def preset(name: str, **overrides: Any) -> MVPFormerConfig:
    """The config of a named preset, with optional overrides."""
    if name not in PRESETS:
        raise ParameterError(f"Unknown preset {name!r}; choose one of {sorted(PRESETS)}.")
    return MVPFormerConfig(**{**PRESETS[name], **overrides})
