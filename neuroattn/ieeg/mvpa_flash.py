"""Memory-linear MVPA: an online-softmax ("flash") forward and backward pass.

The logits of MVPA (see :mod:`neuroattn.ieeg.mvpa_functional`) have structure
that a blockwise pass can exploit without ever holding an (N, N) or (C·T, N)
tensor:

* for a query segment t and a key segment t', the time term is one number
  per query, ``(q + v)·R[row(t - t')]``, read from a (C, T) table of the
  segment's queries;
* the channel term is the same (C, C) block ``(q + w)·S[row(|c - c'|)]`` for
  every key segment;
* the content term ``(q + u)·k`` is present or zeroed per segment pair.

So each query segment streams over chunks of key segments with a running
max and sum (online softmax), and the backward pass recomputes the same
blocks from the saved log-sum-exp. What is kept for the backward pass is
O(N·d): the scaled queries (the three biased variants are rebuilt per
segment), keys, values, the output and the log-sum-exp. Attention dropout is
supported: each block's mask is drawn from a generator seeded per block, and
drawn again identically in the backward pass.

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

from neuroattn.ieeg.mvpa_functional import Rows, _prepare, check_grid


class _Geometry:
    """Index tables of one (T, C) grid."""

    def __init__(self, n_segments: int, n_chans: int, window: int | None, rows: Rows,
                 content: bool, device: torch.device) -> None:
        self.T, self.C, self.window, self.content = n_segments, n_chans, window, content
        self.table = rows == "table"
        c = torch.arange(n_chans, device=device)
        dc = (c[:, None] - c[None, :]).abs()
        self.chan_rows = (n_chans - 1 - dc) if self.table else dc  # (C, C)

    def time_row(self, t: int, t2: int) -> int:
        return self.T - 1 - (t - t2) if self.table else t - t2

    def near(self, t: int, t2: int) -> bool:
        return self.content and (self.window is None or t - t2 <= self.window
                                 or t == self.T - 1)


def _block_logits(geo: _Geometry, t: int, keys: range, qc: torch.Tensor, k: torch.Tensor,
                  time_logits: torch.Tensor, chan_logits: torch.Tensor) -> torch.Tensor:
    """Logits (B, H, C, len(keys)·C) of query segment t against key segments ``keys``."""
    C = geo.C
    rows = [geo.time_row(t, t2) for t2 in keys]
    s = chan_logits.unsqueeze(3) + time_logits[..., rows].unsqueeze(-1)  # (B,H,C,S,C)
    near = [j for j, t2 in enumerate(keys) if geo.near(t, t2)]
    if near:
        k_near = k[:, :, keys.start * C:keys.stop * C].unflatten(2, (len(keys), C))[:, :, near]
        s[:, :, :, near] += torch.einsum("bhmd,bhsnd->bhmsn", qc, k_near)
    return s.flatten(3)


def _dropout_mask(shape, p: float, seed: int, t: int, chunk: int, device) -> torch.Tensor:
    g = torch.Generator(device=device).manual_seed(seed + 1_000_003 * t + chunk)
    return (torch.rand(shape, generator=g, device=device) >= p).to(torch.float32) / (1 - p)


class _FlashMVPA(torch.autograd.Function):
    @staticmethod
    def forward(ctx, qs, u, v_bias, w_bias, k, v, time_keys, chan_keys, geo, key_segments,
                dropout_p, seed):
        """qs: scaled queries (B, H, N, d); u, v_bias, w_bias: scaled biases (H, d)."""
        T, C = geo.T, geo.C
        out = torch.empty(*qs.shape[:-1], v.shape[-1], dtype=qs.dtype, device=qs.device)
        lse = torch.empty(qs.shape[:-1], dtype=torch.float32, device=qs.device)
        tk, ck = time_keys[:, :T].float(), chan_keys[:, :C].float()
        for t in range(T):
            q_slice = slice(t * C, (t + 1) * C)
            q_t = qs[:, :, q_slice].float()
            qc_t = q_t + u[None, :, None].float()
            time_logits = torch.einsum("bhmd,hrd->bhmr", q_t + v_bias[None, :, None].float(), tk)
            chan_full = torch.einsum("bhmd,hrd->bhmr", q_t + w_bias[None, :, None].float(), ck)
            chan_logits = chan_full.gather(-1, geo.chan_rows.expand(*chan_full.shape[:2], C, C))
            m = torch.full(qc_t.shape[:-1], float("-inf"), device=qs.device)
            total = torch.zeros_like(m)
            acc = torch.zeros(*qc_t.shape[:-1], v.shape[-1], device=qs.device)
            for chunk, a in enumerate(range(0, t + 1, key_segments)):
                keys = range(a, min(a + key_segments, t + 1))
                s = _block_logits(geo, t, keys, qc_t, k.float(), time_logits, chan_logits)
                m_new = torch.maximum(m, s.amax(-1))
                p = torch.exp(s - m_new[..., None])
                rescale = torch.exp(m - m_new)
                total = total * rescale + p.sum(-1)
                if dropout_p:
                    p = p * _dropout_mask(p.shape, dropout_p, seed, t, chunk, qs.device)
                acc = acc * rescale[..., None] + p @ v[:, :, a * C:keys.stop * C].float()
                m = m_new
            out[:, :, q_slice] = (acc / total[..., None]).to(out.dtype)
            lse[:, :, q_slice] = m + total.log()
        ctx.save_for_backward(qs, u, v_bias, w_bias, k, v, time_keys, chan_keys, out, lse)
        ctx.geo, ctx.key_segments, ctx.dropout_p, ctx.seed = geo, key_segments, dropout_p, seed
        return out

    @staticmethod
    def backward(ctx, grad_out):
        qs, u, v_bias, w_bias, k, v, time_keys, chan_keys, out, lse = ctx.saved_tensors
        geo, key_segments, dropout_p, seed = ctx.geo, ctx.key_segments, ctx.dropout_p, ctx.seed
        T, C = geo.T, geo.C
        f32 = torch.float32
        tk, ck = time_keys[:, :T].to(f32), chan_keys[:, :C].to(f32)
        u32, vb32, wb32 = (b[None, :, None].to(f32) for b in (u, v_bias, w_bias))
        k32, v32, go = k.to(f32), v.to(f32), grad_out.to(f32)
        d_q = torch.zeros_like(qs, dtype=f32)  # all three query variants derive from qs
        d_u, d_vb, d_wb = (torch.zeros_like(b, dtype=f32) for b in (u, v_bias, w_bias))
        d_k, d_v = torch.zeros_like(k32), torch.zeros_like(v32)
        d_tk = torch.zeros_like(time_keys, dtype=f32)
        d_ck = torch.zeros_like(chan_keys, dtype=f32)
        delta = (go * out.to(f32)).sum(-1)  # rowsum(dO * O), also right with dropout
        for t in range(T):
            q_slice = slice(t * C, (t + 1) * C)
            q_t = qs[:, :, q_slice].to(f32)
            qc_t, qv_t, qw_t = q_t + u32, q_t + vb32, q_t + wb32
            go_t, lse_t, delta_t = go[:, :, q_slice], lse[:, :, q_slice], delta[:, :, q_slice]
            time_logits = torch.einsum("bhmd,hrd->bhmr", qv_t, tk)
            chan_full = torch.einsum("bhmd,hrd->bhmr", qw_t, ck)
            index = geo.chan_rows.expand(*chan_full.shape[:2], C, C)
            chan_logits = chan_full.gather(-1, index)
            d_time = torch.zeros_like(time_logits)
            d_chan = torch.zeros_like(chan_logits)
            d_qc = torch.zeros_like(qc_t)
            for chunk, a in enumerate(range(0, t + 1, key_segments)):
                keys = range(a, min(a + key_segments, t + 1))
                k_slice = slice(a * C, keys.stop * C)
                s = _block_logits(geo, t, keys, qc_t, k32, time_logits, chan_logits)
                p = torch.exp(s - lse_t[..., None])
                dp = go_t @ v32[:, :, k_slice].transpose(-1, -2)
                if dropout_p:
                    mask = _dropout_mask(p.shape, dropout_p, seed, t, chunk, qs.device)
                    d_v[:, :, k_slice] += (p * mask).transpose(-1, -2) @ go_t
                    dp = dp * mask
                else:
                    d_v[:, :, k_slice] += p.transpose(-1, -2) @ go_t
                ds = (p * (dp - delta_t[..., None])).unflatten(-1, (len(keys), C))
                d_chan += ds.sum(3)
                rows = [geo.time_row(t, t2) for t2 in keys]
                d_time[..., rows] += ds.sum(-1)
                near = [j for j, t2 in enumerate(keys) if geo.near(t, t2)]
                if near:
                    ds_near = ds[:, :, :, near]
                    k_near = k32[:, :, k_slice].unflatten(2, (len(keys), C))[:, :, near]
                    d_qc += torch.einsum("bhmsn,bhsnd->bhmd", ds_near, k_near)
                    d_k_view = d_k[:, :, k_slice].unflatten(2, (len(keys), C))
                    d_k_view[:, :, near] += torch.einsum("bhmsn,bhmd->bhsnd", ds_near, qc_t)
            d_chan_full = torch.zeros_like(chan_full).scatter_add_(-1, index, d_chan)
            d_qw = torch.einsum("bhmr,hrd->bhmd", d_chan_full, ck)
            d_qv = torch.einsum("bhmr,hrd->bhmd", d_time, tk)
            d_q[:, :, q_slice] = d_qc + d_qv + d_qw
            d_u += d_qc.sum((0, 2))
            d_vb += d_qv.sum((0, 2))
            d_wb += d_qw.sum((0, 2))
            d_ck[:, :C] += torch.einsum("bhmr,bhmd->hrd", d_chan_full, qw_t)
            d_tk[:, :T] += torch.einsum("bhmr,bhmd->hrd", d_time, qv_t)
        grads = (d_q.to(qs.dtype), d_u.to(u.dtype), d_vb.to(v_bias.dtype),
                 d_wb.to(w_bias.dtype), d_k.to(k.dtype), d_v.to(v.dtype),
                 d_tk.to(time_keys.dtype), d_ck.to(chan_keys.dtype))
        return (*grads, None, None, None, None)


def mvpa_flash(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
    time_keys: torch.Tensor, chan_keys: torch.Tensor,
    u: torch.Tensor, v_bias: torch.Tensor, w_bias: torch.Tensor,
    *, n_segments: int, window: int | None = 10, rows: Rows = "table",
    scale: float | None = None, dropout_p: float = 0.0, content: bool = True,
    key_segments: int | None = None,
) -> torch.Tensor:
    """Memory-linear MVPA (see the module docstring); same arguments and result as
    :func:`~neuroattn.ieeg.mvpa_functional.mvpa_reference`.

    ``key_segments`` key segments are scored at once against one query segment
    (default: enough for about 2^16 logits per step). Computes in float32.
    """
    n_chans = check_grid(q.shape[2], n_segments, time_keys.shape[1], chan_keys.shape[1], rows)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    k, v, time_keys, chan_keys, u, v_bias, w_bias = _prepare(
        q, k, v, time_keys, chan_keys, u, v_bias, w_bias)
    if key_segments is None:
        per_segment = q.shape[0] * q.shape[1] * n_chans * n_chans
        key_segments = max(1, min(n_segments, 2**16 // per_segment))
    geo = _Geometry(n_segments, n_chans, window, rows, content, q.device)
    seed = int(torch.randint(0, 2**31, (1,)).item()) if dropout_p else 0
    return _FlashMVPA.apply(q * scale, u * scale, v_bias * scale, w_bias * scale, k, v,
                            time_keys, chan_keys, geo, key_segments, dropout_p, seed)
