"""Multi-variate parallel attention (MVPA) as functions of projected tensors.

Tokens sit on a (segment ``t``, channel ``c``) grid, flattened time-major
(``n = t * C + c``). For a query (t, c) and a key (t', c') the logit is

    ( (q + u)·k   if |t - t'| <= window or t = T - 1, else 0 )     content
  + (q + v)·R[row_t(t - t')]                                          time
  + (q + w)·S[row_c(|c - c'|)]                                        channel

times ``scale``, under one softmax over every key with t' <= t (block-causal:
all channels of the same and earlier segments are visible). ``R`` and ``S``
are the projected time and channel tables.

Row conventions:

* ``"table"`` (the released MVPFormer weights): ``row_t = T - 1 - Δt`` and
  ``row_c = C - 1 - |Δc|``. The row used for a given distance depends on T
  and C (Δ = 0 maps to row T - 1 / C - 1), so the encoding is only relative
  for a fixed window length and channel count.
* ``"relative"``: ``row_t = Δt`` and ``row_c = |Δc|``, the same row for the
  same distance whatever T and C are. Use it for models trained from scratch
  on varying montages; it cannot load the released weights.

Four implementations give the same numbers:

* :func:`mvpa_reference` materialises the (N, N) score matrix (N = T·C): the
  readable definition, used by the tests.
* :func:`mvpa_chunked` walks over blocks of query segments; each block sees
  only its causal keys, and with ``checkpoint=True`` (training) the block's
  scores are recomputed in the backward pass instead of stored. The largest
  score tensor is (block·C, N) instead of (N, N), in the forward and the
  backward pass. Any device.
* :func:`neuroattn.ieeg.mvpa_flash.mvpa_flash` streams an online softmax
  over segment blocks with its own backward pass: memory linear in N, the
  model's default.
* :func:`mvpa_flex` (experimental, for GPUs) expresses the same logits as a
  FlexAttention ``score_mod``; compiled on CUDA it is one fused kernel.

Shapes: ``q`` (B, H, N, d), ``k`` and ``v`` (B, Hkv, N, d) with ``H`` a multiple
of ``Hkv`` (grouped-query attention: query head h uses key head
h // (H // Hkv)); ``time_keys`` (Hkv, n_positions, d); ``chan_keys`` (Hkv,
n_channels, d); ``u``, ``v_bias``, ``w_bias`` (Hkv, d), shared by the query
heads of a group.

Examples
--------
>>> import torch
>>> from neuroattn.ieeg.mvpa_functional import mvpa_reference, mvpa_chunked
>>> g = torch.Generator().manual_seed(0)
>>> T, C, H, Hkv, d = 4, 3, 4, 2, 8
>>> q = torch.randn(2, H, T * C, d, generator=g)
>>> k, v = torch.randn(2, 2, Hkv, T * C, d, generator=g)
>>> tables = torch.randn(Hkv, 10, d, generator=g), torch.randn(Hkv, 6, d, generator=g)
>>> biases = torch.randn(3, Hkv, d, generator=g)
>>> ref = mvpa_reference(q, k, v, *tables, *biases, n_segments=T, window=1)
>>> out = mvpa_chunked(q, k, v, *tables, *biases, n_segments=T, window=1, block_segments=1)
>>> torch.allclose(ref, out, atol=1e-5)
True
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable
from typing import Literal

import torch
from torch.utils.checkpoint import checkpoint

from neuroattn._logging import logger
from neuroattn.errors import ParameterError

Rows = Literal["table", "relative"]


def check_grid(n_tokens: int, n_segments: int, n_positions: int, n_channels: int,
               rows: Rows) -> int:
    """Return the channel count C = N / T, or raise if the grid does not fit the tables."""
    if n_segments < 1 or n_tokens % n_segments:
        raise ParameterError(
            f"{n_tokens} tokens cannot be split into {n_segments} segments of equal channel count."
        )
    n_chans = n_tokens // n_segments
    if n_segments > n_positions:
        raise ParameterError(
            f"{n_segments} segments exceed the time table ({n_positions} rows): use at most "
            f"{n_positions} segments per window, or a model built with more positions."
        )
    if n_chans > n_channels:
        raise ParameterError(
            f"{n_chans} channels exceed the channel table ({n_channels} rows): select at most "
            f"{n_channels} channels (e.g. IEEGWindows(channels=...))."
        )
    if rows not in ("table", "relative"):
        raise ParameterError(f"rows={rows!r}; use 'table' (released weights) or 'relative'.")
    return n_chans


def _expand(x: torch.Tensor, groups: int, dim: int) -> torch.Tensor:
    """Repeat key/value heads for grouped-query attention."""
    return x if groups == 1 else x.repeat_interleave(groups, dim=dim)


def _row_index(q_pos: torch.Tensor, k_pos: torch.Tensor, size: int, rows: Rows,
               symmetric: bool) -> torch.Tensor:
    """Table row for every (query, key) pair of positions, clamped into the table."""
    delta = q_pos[:, None] - k_pos[None, :]
    if symmetric:
        delta = delta.abs()
    row = (size - 1 - delta) if rows == "table" else delta
    return row.clamp(0, size - 1)  # pairs outside the causal range are masked later


def _position_logits(
    q: torch.Tensor, keys: torch.Tensor, bias: torch.Tensor, index: torch.Tensor,
) -> torch.Tensor:
    """(q + bias)·keys[index]: the logits of a lookup table, gathered per key position.

    q (B, H, M, d); keys (H, R, d); bias (H, d); index (M, K) rows -> (B, H, M, K).
    """
    table_logits = torch.einsum("bhmd,hrd->bhmr", q + bias[None, :, None], keys)
    return table_logits.gather(-1, index.expand(*table_logits.shape[:2], *index.shape))


def _block_probabilities(
    q: torch.Tensor, k: torch.Tensor,
    time_keys: torch.Tensor, chan_keys: torch.Tensor,
    u: torch.Tensor, v_bias: torch.Tensor, w_bias: torch.Tensor,
    q_seg0: int, n_segments: int, n_chans: int, window: int | None, rows: Rows,
    scale: float, content: bool,
) -> torch.Tensor:
    """Attention weights (B, H, Mq, Mk) of the queries of segments q_seg0.. over their keys.

    q (B, H, Mq, d) with Mq a whole number of segments; k (B, H, Mk, d)
    holding segments 0 .. last query segment. Everything here is already
    expanded to H heads.
    """
    device = q.device
    q_tok = torch.arange(q.shape[2], device=device) + q_seg0 * n_chans
    k_tok = torch.arange(k.shape[2], device=device)
    q_t, q_c = q_tok // n_chans, q_tok % n_chans
    k_t, k_c = k_tok // n_chans, k_tok % n_chans
    # Every term is (q + bias)·key * scale: scale the queries once, then build the logits
    # in place, so a block holds few (Mq, Mk) tensors at a time (none is needed for backward).
    q = q * scale
    logits = _position_logits(q, time_keys, v_bias * scale,
                              _row_index(q_t, k_t, n_segments, rows, symmetric=False))
    logits.add_(_position_logits(q, chan_keys, w_bias * scale,
                                 _row_index(q_c, k_c, n_chans, rows, symmetric=True)))
    if content:
        content_logits = torch.einsum("bhmd,bhnd->bhmn", q + u[None, :, None] * scale, k)
        if window is not None:
            far = ((q_t[:, None] - k_t[None, :]).abs() > window) & (
                q_t[:, None] != n_segments - 1)
            content_logits.masked_fill_(far, 0.0)
        logits.add_(content_logits)
        del content_logits
    logits.masked_fill_(k_t[None, :] > q_t[:, None], float("-inf"))  # block-causal
    return torch.softmax(logits, dim=-1, dtype=torch.promote_types(logits.dtype, torch.float32))


def _block_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
    time_keys: torch.Tensor, chan_keys: torch.Tensor,
    u: torch.Tensor, v_bias: torch.Tensor, w_bias: torch.Tensor,
    q_seg0: int, n_segments: int, n_chans: int, window: int | None, rows: Rows,
    scale: float, dropout_p: float, content: bool,
) -> torch.Tensor:
    """Output (B, H, Mq, d) of :func:`_block_probabilities`'s weights over the values."""
    attn = _block_probabilities(q, k, time_keys, chan_keys, u, v_bias, w_bias, q_seg0,
                                n_segments, n_chans, window, rows, scale, content).to(v.dtype)
    if dropout_p:
        attn = torch.nn.functional.dropout(attn, dropout_p)
    return attn @ v


def _prepare(q, k, v, time_keys, chan_keys, u, v_bias, w_bias):
    groups = q.shape[1] // k.shape[1]
    if q.shape[1] % k.shape[1]:
        raise ParameterError(f"{q.shape[1]} query heads are not a multiple of {k.shape[1]} kv "
                             "heads.")
    return (_expand(k, groups, 1), _expand(v, groups, 1), _expand(time_keys, groups, 0),
            _expand(chan_keys, groups, 0), _expand(u, groups, 0), _expand(v_bias, groups, 0),
            _expand(w_bias, groups, 0))


def mvpa_reference(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
    time_keys: torch.Tensor, chan_keys: torch.Tensor,
    u: torch.Tensor, v_bias: torch.Tensor, w_bias: torch.Tensor,
    *, n_segments: int, window: int | None = 10, rows: Rows = "table",
    scale: float | None = None, dropout_p: float = 0.0, content: bool = True,
) -> torch.Tensor:
    """MVPA by materialising every (N, N) score: the definition (see the module doc).

    ``window=None`` applies the content term everywhere (full attention).
    ``content=False`` drops it (the reference's ``global_att: false``).
    Returns (B, H, N, d).
    """
    n_chans = check_grid(q.shape[2], n_segments, time_keys.shape[1], chan_keys.shape[1], rows)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    k, v, time_keys, chan_keys, u, v_bias, w_bias = _prepare(
        q, k, v, time_keys, chan_keys, u, v_bias, w_bias)
    return _block_attention(q, k, v, time_keys, chan_keys, u, v_bias, w_bias, 0, n_segments,
                            n_chans, window, rows, scale, dropout_p, content)


def mvpa_weights(
    q: torch.Tensor, k: torch.Tensor,
    time_keys: torch.Tensor, chan_keys: torch.Tensor,
    u: torch.Tensor, v_bias: torch.Tensor, w_bias: torch.Tensor,
    *, n_segments: int, window: int | None = 10, rows: Rows = "table",
    scale: float | None = None, content: bool = True,
) -> torch.Tensor:
    """The attention weights (B, H, N, N) that :func:`mvpa_reference` applies, for inspection.

    Rows are queries, columns keys, both in time-major token order
    (``n = t * C + c``); every row sums to one and is zero on future segments.
    """
    n_chans = check_grid(q.shape[2], n_segments, time_keys.shape[1], chan_keys.shape[1], rows)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    k, _, time_keys, chan_keys, u, v_bias, w_bias = _prepare(
        q, k, k, time_keys, chan_keys, u, v_bias, w_bias)
    return _block_probabilities(q, k, time_keys, chan_keys, u, v_bias, w_bias, 0, n_segments,
                                n_chans, window, rows, scale, content)


def mvpa_chunked(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
    time_keys: torch.Tensor, chan_keys: torch.Tensor,
    u: torch.Tensor, v_bias: torch.Tensor, w_bias: torch.Tensor,
    *, n_segments: int, window: int | None = 10, rows: Rows = "table",
    scale: float | None = None, dropout_p: float = 0.0, content: bool = True,
    block_segments: int | None = None, checkpoint_blocks: bool | None = None,
    block_elements: int = 2**21,
) -> torch.Tensor:
    """MVPA without any (N, N) tensor: blocks of query segments over their causal keys.

    Same arguments and result as :func:`mvpa_reference`. ``block_segments``
    query segments are processed together (default: as many as keep one block's
    score tensor under ``block_elements`` elements, at least one);
    ``checkpoint_blocks`` (default: when gradients are needed) recomputes each
    block's scores in the backward pass, so they are never all stored.
    The largest score tensor is (B, H, block_segments·C, keys ≤ N).
    """
    n_chans = check_grid(q.shape[2], n_segments, time_keys.shape[1], chan_keys.shape[1], rows)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    k, v, time_keys, chan_keys, u, v_bias, w_bias = _prepare(
        q, k, v, time_keys, chan_keys, u, v_bias, w_bias)
    if block_segments is None:
        per_segment = q.shape[0] * q.shape[1] * n_chans * q.shape[2]  # B * H * C * N
        block_segments = max(1, min(n_segments, block_elements // per_segment))
    if checkpoint_blocks is None:
        checkpoint_blocks = torch.is_grad_enabled() and any(
            t.requires_grad for t in (q, k, v, time_keys, chan_keys, u, v_bias, w_bias))
    outputs = []
    for seg0 in range(0, n_segments, block_segments):
        seg1 = min(seg0 + block_segments, n_segments)
        args = (q[:, :, seg0 * n_chans:seg1 * n_chans], k[:, :, :seg1 * n_chans],
                v[:, :, :seg1 * n_chans], time_keys, chan_keys, u, v_bias, w_bias)
        extra = (seg0, n_segments, n_chans, window, rows, scale, dropout_p, content)
        if checkpoint_blocks:
            outputs.append(checkpoint(_block_attention, *args, *extra, use_reentrant=False))
        else:
            outputs.append(_block_attention(*args, *extra))
    return torch.cat(outputs, dim=2)


_COMPILED_FLEX: dict[str, Callable[..., torch.Tensor]] = {}
def block_causal_mask(n_segments: int, n_chans: int,
                      device: torch.device | str = "cpu") -> torch.Tensor:
    """The (N, N) boolean mask MVPA attends under: True where key segment <= query segment.

    Tokens are time-major (``n = t * C + c``). It is what plain
    ``scaled_dot_product_attention(..., attn_mask=mask)`` needs to do the same
    block-causal work as MVPA (used by ``benchmarks/bench_mvpa.py`` as the fair
    limit); the MVPA paths themselves never build it.

    Examples
    --------
    >>> m = block_causal_mask(3, 2)
    >>> m.shape, m[0].tolist(), round(m.float().mean().item(), 3)   # (T + 1) / (2 T)
    (torch.Size([6, 6]), [True, True, False, False, False, False], 0.667)
    """
    if n_segments < 1 or n_chans < 1:
        raise ParameterError(f"n_segments={n_segments} and n_chans={n_chans} must be >= 1.")
    t = torch.arange(n_segments, device=device).repeat_interleave(n_chans)
    return t[None, :] <= t[:, None]


def block_causal_fraction(n_segments: int) -> float:
    """The share of query-key pairs block-causal attention scores: ``(T + 1) / (2 T)``.

    Examples
    --------
    >>> block_causal_fraction(25)
    0.52
    """
    return (n_segments + 1) / (2 * n_segments)


_FLEX_COMPILATIONS = [0]
_FLEX_WARN_AT = 4


def flex_compilations() -> int:
    """How many graphs :func:`mvpa_flex` has compiled in this process (all backends).

    With dynamic shapes a new channel count (token count) reuses the compiled
    kernel, so this stays small across montages; each new compilation after
    the first is logged at INFO level.

    Examples
    --------
    >>> flex_compilations() >= 0
    True
    """
    return _FLEX_COMPILATIONS[0]


def _counting(backend: str) -> Callable:
    """The torch.compile ``backend``, counting (and logging) each compilation."""
    from torch._dynamo import lookup_backend

    def compile_graph(graph, example_inputs):
        _FLEX_COMPILATIONS[0] += 1
        count = _FLEX_COMPILATIONS[0]
        if count > 1:  # expected a few times (new dtype, first multi-block mask); not per montage
            level = logging.WARNING if count >= _FLEX_WARN_AT else logging.INFO
            logger.log(level, "FlexAttention compiled again (%d graphs in this process). Past "
                       "torch._dynamo.config.recompile_limit it falls back to materialising "
                       "every score: set TORCH_LOGS=recompiles to see why.", count)
        return lookup_backend(backend)(graph, example_inputs)

    return compile_graph


def _flex_attention(backend: str | None):
    """``flex_attention``, eager (``None``) or compiled by ``backend`` with dynamic shapes
    (with inductor: one fused kernel whatever the token count)."""
    from torch.nn.attention.flex_attention import flex_attention

    if backend is None:
        return flex_attention
    if backend not in _COMPILED_FLEX:
        # dynamic=True: a new montage (token count) must not recompile; with static shapes
        # each one did until recompile_limit, after which flex fell back to the unfused
        # path that materialises every score.
        _COMPILED_FLEX[backend] = torch.compile(flex_attention, dynamic=True,
                                                backend=_counting(backend))
    return _COMPILED_FLEX[backend]


@functools.lru_cache(maxsize=8)
def _flex_block_mask(n_segments: int, n_chans: int, device: torch.device):
    """The block-causal block mask of a (T, C) grid, cached by (T, C, device).

    The channel count reaches the mask as the length of a captured tensor, not
    as a Python int, so a kernel compiled with dynamic shapes does not
    specialise (and recompile) on it.
    """
    from torch.nn.attention.flex_attention import create_block_mask

    channels = torch.empty(n_chans, dtype=torch.int8, device=device)

    def block_causal(b, h, q_idx, kv_idx):
        return kv_idx // channels.shape[0] <= q_idx // channels.shape[0]

    n = n_segments * n_chans
    return create_block_mask(block_causal, None, None, n, n, device=device)


def mvpa_flex(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
    time_keys: torch.Tensor, chan_keys: torch.Tensor,
    u: torch.Tensor, v_bias: torch.Tensor, w_bias: torch.Tensor,
    *, n_segments: int, window: int | None = 10, rows: Rows = "table",
    scale: float | None = None, dropout_p: float = 0.0, content: bool = True,
    compile: bool | str | None = None,
) -> torch.Tensor:
    """MVPA through FlexAttention: the GPU path (experimental).

    The time and channel terms are per-query lookups on Δt and |Δc|, so they
    are computed once as (B, H, N, T) and (B, H, N, C) tables and added in a
    ``score_mod``, which also zeroes the content term outside the window; a
    block mask makes it block-causal (built once per (T, C, device) and
    cached). ``compile`` (default: on CUDA only) compiles the call, with
    dynamic shapes, into one fused kernel that never holds (N, N) scores, and
    that serves every channel count (see :func:`flex_compilations`).
    ``compile=True`` compiles with inductor on any device (on the CPU, torch
    2.14's inductor fails to build this kernel's C++ under dynamic shapes,
    and says so); a string names another ``torch.compile`` backend
    (``"eager"`` checks the guards, hence the recompiles, without code
    generation).
    Uncompiled (the CPU default), torch runs it eagerly and without a
    backward pass (so use :func:`mvpa_chunked` to train there). Attention
    dropout is not supported here.

    Same arguments and result as :func:`mvpa_reference` otherwise.

    Examples
    --------
    >>> import torch
    >>> q, k, v = torch.randn(3, 1, 2, 12, 4)
    >>> tables, biases = (torch.randn(2, 4, 4), torch.randn(2, 3, 4)), torch.randn(3, 2, 4)
    >>> ref = mvpa_reference(q, k, v, *tables, *biases, n_segments=4, window=1)
    >>> out = mvpa_flex(q, k, v, *tables, *biases, n_segments=4, window=1)
    >>> torch.allclose(ref, out, atol=1e-5)
    True
    """
    if dropout_p:
        raise ParameterError("mvpa_flex does not support attention dropout; use mvpa_chunked.")
    n_chans = check_grid(q.shape[2], n_segments, time_keys.shape[1], chan_keys.shape[1], rows)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    groups = q.shape[1] // k.shape[1]
    if q.shape[1] % k.shape[1]:
        raise ParameterError(f"{q.shape[1]} query heads are not a multiple of {k.shape[1]} kv "
                             "heads.")
    time_keys, chan_keys, u, v_bias, w_bias = (
        _expand(t, groups, 0) for t in (time_keys, chan_keys, u, v_bias, w_bias))
    qs = q * scale
    time_tab = torch.einsum("bhnd,hrd->bhnr", qs + v_bias[None, :, None] * scale,
                            time_keys[:, :n_segments])
    chan_tab = torch.einsum("bhnd,hrd->bhnr", qs + w_bias[None, :, None] * scale,
                            chan_keys[:, :n_chans])
    table_rows = rows == "table"

    def score_mod(score, b, h, q_idx, kv_idx):
        # T and C as table sizes, not captured ints: dynamic under compile (no recompiles)
        T, C = time_tab.shape[-1], chan_tab.shape[-1]
        tq, tk = q_idx // C, kv_idx // C
        dt = (tq - tk).clamp(0, T - 1)
        dc = (q_idx % C - kv_idx % C).abs()
        row_t = T - 1 - dt if table_rows else dt
        row_c = C - 1 - dc if table_rows else dc
        if not content:
            score = score * 0.0
        elif window is not None:
            score = torch.where((tq - tk <= window) | (tq == T - 1), score, 0.0)
        return score + time_tab[b, h, q_idx, row_t] + chan_tab[b, h, q_idx, row_c]

    if compile is None:
        compile = q.device.type == "cuda"
    backend = ("inductor" if compile else None) if isinstance(compile, bool) else compile
    # Under autocast the biased query promotes to float32 while K and V stay bf16.
    q_content = (qs + u[None, :, None] * scale).to(k.dtype)
    attend = _flex_attention(backend)
    block_mask = _flex_block_mask(n_segments, n_chans, q.device)
    try:
        return attend(q_content, k, v, score_mod=score_mod, block_mask=block_mask, scale=1.0,
                      enable_gqa=groups > 1)
    except Exception as err:
        if backend != "inductor" or q.device.type != "cpu":
            raise
        raise RuntimeError(  # torch 2.14: the C++ of this kernel does not build
            "torch.compile could not build the FlexAttention kernel for the CPU with dynamic "
            f"shapes ({type(err).__name__}). Run it uncompiled (compile=False), or pass "
            "compile='eager' to check recompiles without code generation.") from err
