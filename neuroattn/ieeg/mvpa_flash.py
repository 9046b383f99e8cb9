"""Memory-linear MVPA: an online-softmax ("flash") forward and backward pass.

The logits of MVPA (see :mod:`neuroattn.ieeg.mvpa_functional`) have structure
that a blockwise pass can exploit without ever holding an (N, N) or (C·T, N)
tensor:

* for a query segment t and a key segment t', the time term is one number
  per query, ``(q + v)·R[row(t - t')]``, read from a (T, C, T) table of
  logits computed once per call; for a contiguous range of key segments the
  rows form a contiguous range too (the relative-row table is flipped once so
  that both row conventions read increasing rows);
* the channel term is the same (C, C) block ``(q + w)·S[row(|c - c'|)]`` for
  every key segment, gathered once per call;
* the content term ``(q + u)·k`` is present for a contiguous range of key
  segments (t - window .. t, every key for the last segment, none when
  ``content=False``).

So each query segment streams over blocks of key segments with a running
max and sum (online softmax), and the backward pass recomputes the same
blocks from the saved log-sum-exp. Every index is a slice: no list or
host-side index tensor touches a device tensor, so the passes never wait for
the host. Grouped-query heads are not repeated: the query heads of a group
are extra query rows against their shared key head. What is kept for the
backward pass is O(N·d): the scaled queries, keys, values, the output and
the log-sum-exp. The kernel computes in float32 with autocast off, in both
passes, whatever the input dtype; the output has the query's dtype.
Attention dropout is supported: each block's mask is drawn from a generator
seeded per block, and drawn again identically in the backward pass.

Examples
--------
>>> import torch
>>> from neuroattn.ieeg.mvpa_functional import mvpa_reference
>>> from neuroattn.ieeg.mvpa_flash import mvpa_flash
>>> g = torch.Generator().manual_seed(0)
>>> q, k, v = torch.randn(3, 1, 2, 12, 4, generator=g)
>>> tables = torch.randn(2, 8, 4, generator=g), torch.randn(2, 5, 4, generator=g)
>>> biases = torch.randn(3, 2, 4, generator=g)
>>> ref = mvpa_reference(q, k, v, *tables, *biases, n_segments=4, window=1)
>>> out = mvpa_flash(q, k, v, *tables, *biases, n_segments=4, window=1, key_segments=2)
>>> torch.allclose(ref, out, atol=1e-5)
True
"""

from __future__ import annotations

import math

import torch

from neuroattn.device import autocast_off
from neuroattn.errors import ParameterError
from neuroattn.ieeg.mvpa_functional import Rows, check_grid

#: Logits scored per step by default (one key block; also the channel-table logits of
#: one block of query segments). On accelerators (and on ``meta``, their stand-in)
#: 2**25 (128 MiB of float32): at MVPFormer-S width and T=25 a query segment then sees
#: its keys in one block at B=8, C=64, in at most two at B=8, C=128 or B=32, C=64, so the
#: launches stay few (3,692 aten ops per layer forward+backward at B=8, C=64; 4,369 at
#: B=8, C=128); larger batches take more blocks, each big enough to keep a GPU busy.
#: 2**16 (256 KiB) on the CPU, where launches are cheap and larger blocks measured no
#: faster.
BLOCK_LOGITS = {"cpu": 2**16, "default": 2**25}


def block_logits(device: torch.device) -> int:
    """Default number of logits per key block on ``device`` (see :data:`BLOCK_LOGITS`).

    Examples
    --------
    >>> import torch
    >>> block_logits(torch.device("cpu")), block_logits(torch.device("meta"))
    (65536, 33554432)
    """
    return BLOCK_LOGITS.get(device.type, BLOCK_LOGITS["default"])


class _Geometry:
    """The (T, C) grid of one call: sizes, block sizes, the content window and the channel
    row index."""

    def __init__(self, n_segments: int, n_chans: int, groups: int, window: int | None,
                 content: bool, block_segments: int, key_segments: int,
                 device: torch.device) -> None:
        self.T, self.C, self.window, self.content = n_segments, n_chans, window, content
        self.block_segments, self.key_segments = block_segments, key_segments
        c = torch.arange(n_chans, device=device)
        # Tables are passed in "table" orientation (row C-1-|Δc|, T-1-Δt); query rows are
        # the (group head, channel) pairs of one segment.
        self.chan_index = (n_chans - 1 - (c[:, None] - c[None, :]).abs()).repeat(groups, 1)

    def query_blocks(self) -> list[tuple[int, int]]:
        """Query segments t0..t1-1 whose table logits are computed together."""
        step = self.block_segments
        return [(t0, min(t0 + step, self.T)) for t0 in range(0, self.T, step)]

    def key_blocks(self, t: int) -> list[tuple[int, int, int]]:
        """Key blocks ``(a, b, near)`` of query segment t: key segments a..b-1, of which
        near..b-1 carry the content term (near == b: none)."""
        if not self.content:
            lo = t + 1
        elif self.window is None or t == self.T - 1:
            lo = 0
        else:
            lo = max(0, t - self.window)
        return [(a, min(a + self.key_segments, t + 1), min(max(a, lo), t + 1))
                for a in range(0, t + 1, self.key_segments)]


def _scores(geo: _Geometry, t: int, a: int, b: int, near: int, qc_t: torch.Tensor,
            k: torch.Tensor, time_t: torch.Tensor, chan_t: torch.Tensor) -> torch.Tensor:
    """Logits (B, Hkv, M, (b - a)·C) of query segment t against key segments a..b-1.

    ``time_t`` (B, Hkv, M, T) and ``chan_t`` (B, Hkv, M, C) are the segment's
    table logits; the time rows of keys a..b-1 are the contiguous rows
    T-1-t+a .. T-1-t+b-1.
    """
    T, C = geo.T, geo.C
    rows = time_t[..., T - 1 - t + a:T - t + b - 1]
    s = chan_t.unsqueeze(-2) + rows.unsqueeze(-1)  # (B, Hkv, M, S, C)
    if near < b:
        content = qc_t @ k[:, :, near * C:b * C].transpose(-1, -2)
        s[:, :, :, near - a:] += content.unflatten(-1, (b - near, C))
    return s.flatten(-2)


def _dropout_mask(shape: torch.Size, p: float, generator: torch.Generator | None, seed: int,
                  t: int, a: int, device: torch.device) -> torch.Tensor:
    """The block's dropout keep-mask, scaled by 1 / (1 - p); the same in forward and backward."""
    if generator is not None:
        generator.manual_seed(seed + 1_000_003 * t + a)
    keep = torch.rand(shape, generator=generator, device=device) >= p
    return keep.to(torch.float32) / (1 - p)


def _generator(device: torch.device, dropout_p: float) -> torch.Generator | None:
    # ``meta`` has no generators (nor data): draw without one there.
    return torch.Generator(device=device) if dropout_p and device.type != "meta" else None


def _table_logits(geo: _Geometry, qs: torch.Tensor, vs: torch.Tensor, ws: torch.Tensor,
                  tk: torch.Tensor, ck: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Time logits (B, Hkv, g, M, T) and channel logits (B, Hkv, g, M, C) of g query
    segments ``qs`` (B, Hkv, g, M, d), and their two biased queries."""
    qv, qw = qs + vs[None, :, None, None], qs + ws[None, :, None, None]
    time_logits = torch.einsum("bhtmd,hrd->bhtmr", qv, tk)
    chan_full = torch.einsum("bhtmd,hrd->bhtmr", qw, ck)
    chan_logits = chan_full.gather(-1, geo.chan_index.expand_as(chan_full))
    return time_logits, chan_logits, qv, qw


class _FlashMVPA(torch.autograd.Function):
    """Float32 tensors in the kernel layout: queries (B, Hkv, T, M, d), M = groups·C rows."""

    @staticmethod
    def forward(ctx, qs, k, v, tk, ck, us, vs, ws, geo, dropout_p, seed):
        C = geo.C
        with autocast_off(qs.device):
            out = torch.empty(*qs.shape[:-1], v.shape[-1], dtype=qs.dtype, device=qs.device)
            lse = torch.empty(qs.shape[:-1], dtype=qs.dtype, device=qs.device)
            generator = _generator(qs.device, dropout_p)
            u_b = us[None, :, None]
            for t0, t1 in geo.query_blocks():
                time_g, chan_g, _, _ = _table_logits(geo, qs[:, :, t0:t1], vs, ws, tk, ck)
                for t in range(t0, t1):
                    qc_t = qs[:, :, t] + u_b
                    for i, (a, b, near) in enumerate(geo.key_blocks(t)):
                        s = _scores(geo, t, a, b, near, qc_t, k, time_g[:, :, t - t0],
                                    chan_g[:, :, t - t0])
                        m_blk = s.amax(-1)
                        if i == 0:
                            m = m_blk
                            p = torch.exp(s - m[..., None])
                            total = p.sum(-1)
                        else:
                            m_new = torch.maximum(m, m_blk)
                            p = torch.exp(s - m_new[..., None])
                            rescale = torch.exp(m - m_new)
                            total = total * rescale + p.sum(-1)
                            m = m_new
                        if dropout_p:
                            p = p * _dropout_mask(p.shape, dropout_p, generator, seed, t, a,
                                                  qs.device)
                        pv = p @ v[:, :, a * C:b * C]
                        if i == 0:
                            acc = pv
                        else:
                            acc = acc * rescale[..., None] + pv
                    out[:, :, t] = acc / total[..., None]
                    lse[:, :, t] = m + total.log()
        ctx.save_for_backward(qs, k, v, tk, ck, us, vs, ws, out, lse)
        ctx.geo, ctx.dropout_p, ctx.seed = geo, dropout_p, seed
        return out

    @staticmethod
    def backward(ctx, grad_out):
        qs, k, v, tk, ck, us, vs, ws, out, lse = ctx.saved_tensors
        geo, dropout_p, seed = ctx.geo, ctx.dropout_p, ctx.seed
        T, C = geo.T, geo.C
        with autocast_off(qs.device):
            go = grad_out.float()
            delta = (go * out).sum(-1)  # rowsum(dO * O), also right with dropout
            d_qs, d_k, d_v = torch.empty_like(qs), torch.zeros_like(k), torch.zeros_like(v)
            d_tk, d_ck = torch.zeros_like(tk), torch.zeros_like(ck)
            d_us, d_vs, d_ws = (torch.zeros_like(b) for b in (us, vs, ws))
            generator = _generator(qs.device, dropout_p)
            u_b = us[None, :, None]
            for t0, t1 in geo.query_blocks():
                time_g, chan_g, qv_g, qw_g = _table_logits(geo, qs[:, :, t0:t1], vs, ws, tk, ck)
                d_time, d_chan = torch.zeros_like(time_g), torch.zeros_like(chan_g)
                d_qc = torch.zeros_like(qv_g)
                for t in range(t0, t1):
                    j = t - t0
                    qc_t = qs[:, :, t] + u_b
                    go_t, lse_t = go[:, :, t], lse[:, :, t, :, None]
                    delta_t = delta[:, :, t, :, None]
                    for a, b, near in geo.key_blocks(t):
                        s = _scores(geo, t, a, b, near, qc_t, k, time_g[:, :, j], chan_g[:, :, j])
                        p = torch.exp(s - lse_t)
                        dp = go_t @ v[:, :, a * C:b * C].transpose(-1, -2)
                        if dropout_p:
                            mask = _dropout_mask(p.shape, dropout_p, generator, seed, t, a,
                                                 qs.device)
                            d_v[:, :, a * C:b * C] += (p * mask).transpose(-1, -2) @ go_t
                            dp = dp * mask
                        else:
                            d_v[:, :, a * C:b * C] += p.transpose(-1, -2) @ go_t
                        ds = (p * (dp - delta_t)).unflatten(-1, (b - a, C))
                        d_chan[:, :, j] += ds.sum(-2)
                        d_time[:, :, j, :, T - 1 - t + a:T - t + b - 1] += ds.sum(-1)
                        if near < b:
                            ds_near = ds[:, :, :, near - a:].flatten(-2)
                            d_qc[:, :, j] += ds_near @ k[:, :, near * C:b * C]
                            d_k[:, :, near * C:b * C] += ds_near.transpose(-1, -2) @ qc_t
                d_chan_full = torch.zeros_like(d_chan).scatter_add_(
                    -1, geo.chan_index.expand_as(d_chan), d_chan)
                d_qw = torch.einsum("bhtmr,hrd->bhtmd", d_chan_full, ck)
                d_qv = torch.einsum("bhtmr,hrd->bhtmd", d_time, tk)
                d_ck += torch.einsum("bhtmr,bhtmd->hrd", d_chan_full, qw_g)
                d_tk += torch.einsum("bhtmr,bhtmd->hrd", d_time, qv_g)
                for d_bias, d_query in ((d_us, d_qc), (d_vs, d_qv), (d_ws, d_qw)):
                    d_bias += d_query.sum((0, 2, 3))
                d_qs[:, :, t0:t1] = d_qc + d_qv + d_qw
        return d_qs, d_k, d_v, d_tk, d_ck, d_us, d_vs, d_ws, None, None, None


def mvpa_flash(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
    time_keys: torch.Tensor, chan_keys: torch.Tensor,
    u: torch.Tensor, v_bias: torch.Tensor, w_bias: torch.Tensor,
    *, n_segments: int, window: int | None = 10, rows: Rows = "table",
    scale: float | None = None, dropout_p: float = 0.0, content: bool = True,
    key_segments: int | None = None, query_segments: int | None = None,
) -> torch.Tensor:
    """Memory-linear MVPA (see the module docstring); same arguments and result as
    :func:`~neuroattn.ieeg.mvpa_functional.mvpa_reference`.

    ``key_segments`` key segments are scored at once against one query segment,
    and the table logits of ``query_segments`` query segments are computed
    together (default for both: as many as fit :func:`block_logits` logits, at
    least one).
    Computes in float32 with autocast off (forward and backward); returns the
    query's dtype.

    Examples
    --------
    >>> import torch
    >>> q = torch.randn(1, 4, 6, 8, dtype=torch.bfloat16)
    >>> k, v = torch.randn(2, 1, 2, 6, 8, dtype=torch.bfloat16)
    >>> tables = torch.randn(2, 3, 8), torch.randn(2, 2, 8)
    >>> mvpa_flash(q, k, v, *tables, *torch.zeros(3, 2, 8), n_segments=3).dtype
    torch.bfloat16
    """
    n_chans = check_grid(q.shape[2], n_segments, time_keys.shape[1], chan_keys.shape[1], rows)
    if q.shape[1] % k.shape[1]:
        raise ParameterError(f"{q.shape[1]} query heads are not a multiple of {k.shape[1]} kv "
                             "heads.")
    B, H, N, d = q.shape
    Hkv, T, C = k.shape[1], n_segments, n_chans
    G = H // Hkv
    scale = 1.0 / math.sqrt(d) if scale is None else scale
    # A query segment's logits against one key segment, and its channel-table logits:
    # B·H·C·C each. Both loops take as many segments as the block budget holds.
    per_segment = max(1, block_logits(q.device) // (B * H * C * C))
    key_segments = per_segment if key_segments is None else key_segments
    query_segments = per_segment if query_segments is None else query_segments
    geo = _Geometry(T, C, G, window, content, max(1, min(T, query_segments)),
                    max(1, min(T, key_segments)), q.device)
    # The dropout seed comes from the CPU generator (reproducible under torch.manual_seed),
    # never from a device tensor, so drawing it does not wait for the device.
    seed = int(torch.randint(0, 2**31, (1,), device="cpu")) if dropout_p else 0
    f32 = torch.float32
    with autocast_off(q.device):
        qs = q.reshape(B, Hkv, G, T, C, d).transpose(2, 3).contiguous().to(f32)
        qs = qs.view(B, Hkv, T, G * C, d) * scale
        tk, ck = time_keys[:, :T].to(f32), chan_keys[:, :C].to(f32)
        if rows == "relative":  # row Δ of the relative table is row T-1-Δ of the flipped one
            tk, ck = tk.flip(1), ck.flip(1)
        us, vs, ws = (b.to(f32) * scale for b in (u, v_bias, w_bias))
        out = _FlashMVPA.apply(qs, k.contiguous().to(f32), v.contiguous().to(f32), tk, ck,
                               us, vs, ws, geo, dropout_p, seed)
        return out.view(B, Hkv, T, G, C, d).transpose(2, 3).reshape(B, H, N, d).to(q.dtype)
