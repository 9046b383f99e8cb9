"""MVPA functions: the literal formula, fused == reference (forward and backward), properties."""

from __future__ import annotations

import math

import pytest
import torch

from neuroattn.ieeg.mvpa_functional import mvpa_chunked, mvpa_reference

T, C, H, HKV, D = 5, 3, 4, 2, 6  # unequal on purpose


def _inputs(seed=0, t=T, c=C, h=H, hkv=HKV, d=D, n_pos=7, n_ch=4, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)

    def r(*shape):
        return torch.randn(*shape, generator=g, dtype=dtype)

    return dict(q=r(2, h, t * c, d), k=r(2, hkv, t * c, d), v=r(2, hkv, t * c, d),
                time_keys=r(hkv, n_pos, d), chan_keys=r(hkv, n_ch, d), u=r(hkv, d),
                v_bias=r(hkv, d), w_bias=r(hkv, d))


def _literal(x, *, n_segments, window, rows, content=True):
    """Score by score, straight from the paper's formula (slow; tiny inputs only)."""
    q, k, v = x["q"], x["k"], x["v"]
    b_, h_, n, d = q.shape
    c_ = n // n_segments
    groups = h_ // k.shape[1]
    out = torch.zeros_like(q)
    for b in range(b_):
        for h in range(h_):
            g = h // groups
            for i in range(n):
                t, c = divmod(i, c_)
                scores, values = [], []
                for j in range(n):
                    t2, c2 = divmod(j, c_)
                    if t2 > t:
                        continue
                    row_t = n_segments - 1 - (t - t2) if rows == "table" else t - t2
                    row_c = c_ - 1 - abs(c - c2) if rows == "table" else abs(c - c2)
                    near = window is None or abs(t - t2) <= window or t == n_segments - 1
                    s = (q[b, h, i] + x["v_bias"][g]) @ x["time_keys"][g, row_t]
                    s = s + (q[b, h, i] + x["w_bias"][g]) @ x["chan_keys"][g, row_c]
                    if content and near:
                        s = s + (q[b, h, i] + x["u"][g]) @ k[b, g, j]
                    scores.append(s / math.sqrt(d))
                    values.append(v[b, g, j])
                p = torch.softmax(torch.stack(scores), 0)
                out[b, h, i] = p @ torch.stack(values)
    return out


@pytest.mark.parametrize("rows", ["table", "relative"])
@pytest.mark.parametrize("window", [1, None])
@pytest.mark.parametrize("content", [True, False])
def test_reference_is_the_formula(rows, window, content):
    x = _inputs()
    ref = mvpa_reference(**x, n_segments=T, window=window, rows=rows, content=content)
    lit = _literal(x, n_segments=T, window=window, rows=rows, content=content)
    torch.testing.assert_close(ref, lit)


@pytest.mark.parametrize("block_segments", [1, 2, 5])
@pytest.mark.parametrize("rows", ["table", "relative"])
def test_chunked_equals_reference_forward_and_backward(block_segments, rows):
    x = {k: t.requires_grad_() for k, t in _inputs(1).items()}
    ref = mvpa_reference(**x, n_segments=T, window=2, rows=rows)
    grad_out = torch.randn_like(ref)
    ref_grads = torch.autograd.grad(ref, list(x.values()), grad_out)
    out = mvpa_chunked(**x, n_segments=T, window=2, rows=rows, block_segments=block_segments)
    grads = torch.autograd.grad(out, list(x.values()), grad_out)
    torch.testing.assert_close(out, ref)
    for name, g, rg in zip(x, grads, ref_grads, strict=True):
        torch.testing.assert_close(g, rg, msg=name)


def test_chunked_dropout_is_replayed_in_backward():
    """Checkpointed blocks must redraw the same dropout mask when recomputed."""
    x = {k: t.requires_grad_() for k, t in _inputs(2).items()}
    torch.manual_seed(0)
    out = mvpa_chunked(**x, n_segments=T, dropout_p=0.3, checkpoint_blocks=True)
    grads = torch.autograd.grad(out.square().sum(), [x["q"], x["v"]])
    torch.manual_seed(0)
    out2 = mvpa_chunked(**x, n_segments=T, dropout_p=0.3, checkpoint_blocks=False)
    grads2 = torch.autograd.grad(out2.square().sum(), [x["q"], x["v"]])
    torch.testing.assert_close(out, out2)
    for g, g2 in zip(grads, grads2, strict=True):
        torch.testing.assert_close(g, g2)


@pytest.mark.parametrize("fn", [mvpa_reference, mvpa_chunked])
def test_causal_in_time(fn):
    x = _inputs(3)
    base = fn(**x, n_segments=T)
    later = dict(x)
    cut = 3 * C  # perturb segments 3 and 4
    later["k"] = x["k"].clone()
    later["v"] = x["v"].clone()
    later["k"][:, :, cut:] += 1.0
    later["v"][:, :, cut:] -= 2.0
    changed = fn(**later, n_segments=T)
    torch.testing.assert_close(changed[:, :, :cut], base[:, :, :cut])
    assert not torch.allclose(changed[:, :, cut:], base[:, :, cut:])


def test_channel_reversal_reverses_outputs():
    x = _inputs(4)

    def flip(t):
        return t.unflatten(2, (T, C)).flip(3).flatten(2, 3)

    base = mvpa_reference(**x, n_segments=T)
    flipped = mvpa_reference(**{**x, "q": flip(x["q"]), "k": flip(x["k"]), "v": flip(x["v"])},
                             n_segments=T)
    torch.testing.assert_close(flipped, flip(base))


def test_limits_are_explained():
    x = _inputs(5, t=8)
    with pytest.raises(ValueError, match="8 segments exceed the time table"):
        mvpa_reference(**x, n_segments=8)
    x = _inputs(6, c=5)
    with pytest.raises(ValueError, match="5 channels exceed the channel table"):
        mvpa_chunked(**x, n_segments=T)
    with pytest.raises(ValueError, match="cannot be split"):
        mvpa_reference(**_inputs(7), n_segments=4)
    with pytest.raises(ValueError, match="rows="):
        mvpa_reference(**_inputs(7), n_segments=T, rows="absolute")


@pytest.mark.parametrize("rows", ["table", "relative"])
@pytest.mark.parametrize("window", [1, None])
def test_flex_path_equals_reference_forward(rows, window):
    """FlexAttention path (the GPU kernel); the CPU can only check its forward pass."""
    from neuroattn.ieeg.mvpa_functional import mvpa_flex

    x = _inputs(8, dtype=torch.float32)
    with torch.no_grad():
        ref = mvpa_reference(**x, n_segments=T, window=window, rows=rows)
        out = mvpa_flex(**x, n_segments=T, window=window, rows=rows)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="dropout"):
        mvpa_flex(**x, n_segments=T, dropout_p=0.1)


@pytest.mark.parametrize("key_segments", [1, 2, 5])
@pytest.mark.parametrize("rows", ["table", "relative"])
@pytest.mark.parametrize("window", [1, None])
def test_flash_equals_reference_forward_and_backward(key_segments, rows, window):
    from neuroattn.ieeg.mvpa_flash import mvpa_flash

    x = {k: t.requires_grad_() for k, t in _inputs(9).items()}
    ref = mvpa_reference(**x, n_segments=T, window=window, rows=rows)
    grad_out = torch.randn_like(ref)
    ref_grads = torch.autograd.grad(ref, list(x.values()), grad_out)
    out = mvpa_flash(**x, n_segments=T, window=window, rows=rows, key_segments=key_segments)
    grads = torch.autograd.grad(out, list(x.values()), grad_out)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    for name, g, rg in zip(x, grads, ref_grads, strict=True):
        torch.testing.assert_close(g, rg, atol=1e-5, rtol=1e-5, msg=name)


def test_flash_without_content_and_with_dropout():
    from neuroattn.ieeg.mvpa_flash import mvpa_flash

    x = {k: t.requires_grad_() for k, t in _inputs(10).items()}
    torch.testing.assert_close(mvpa_flash(**x, n_segments=T, content=False),
                               mvpa_reference(**x, n_segments=T, content=False),
                               atol=1e-5, rtol=1e-5)
    out = mvpa_flash(**x, n_segments=T, dropout_p=0.5)
    assert not torch.allclose(out, mvpa_flash(**x, n_segments=T))
    # The backward replays the forward's dropout masks: the output is linear in v, so a
    # finite difference with the same masks (same seed) equals the gradient exactly.
    torch.manual_seed(3)
    y = mvpa_flash(**x, n_segments=T, dropout_p=0.3)
    g = torch.autograd.grad(y.sum(), x["v"])[0]
    torch.manual_seed(3)
    eps = 1.0
    v2 = x["v"].detach().clone()
    v2[0, 1, 4, 2] += eps
    y2 = mvpa_flash(**{**x, "v": v2}, n_segments=T, dropout_p=0.3)
    numeric = (y2.sum() - y.sum()).item() / eps
    assert abs(numeric - float(g[0, 1, 4, 2])) < 1e-4
