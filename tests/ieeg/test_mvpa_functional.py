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



def test_flex_under_bf16_autocast():
    """bf16 activations and tables with float32 biases, as the model hands them: the biased
    content query (promoted to float32) is cast back to the keys' dtype."""
    from neuroattn.ieeg.mvpa_functional import mvpa_flex

    bf16 = ("q", "k", "v", "time_keys", "chan_keys")
    x = {n: (t.to(torch.bfloat16) if n in bf16 else t)
         for n, t in _inputs(8, dtype=torch.float32).items()}
    ref = mvpa_reference(**{n: t.double() for n, t in x.items()}, n_segments=T, window=1)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = mvpa_flex(**x, n_segments=T, window=1)
    assert out.dtype == torch.bfloat16
    assert float((out.double() - ref).norm() / ref.norm()) < 0.01  # measured 0.0033

def test_flex_compiles_once_for_many_channel_counts():
    """Eleven montages (channel counts 5..41, token counts 20..164, one to two mask blocks):
    compiled with dynamic shapes, flex must not recompile per count (with static shapes it
    did, until recompile_limit made it fall back to materialising every score). Compiled
    with dynamo's guards but the "eager" backend: torch 2.14's inductor cannot build the
    C++ of this kernel under dynamic shapes on the CPU (the GPU suite runs inductor)."""
    from neuroattn.ieeg.mvpa_functional import flex_compilations, mvpa_flex

    before = flex_compilations()
    for c in (5, 6, 7, 9, 11, 13, 17, 20, 23, 32, 41):
        x = _inputs(c, t=4, c=c, n_pos=4, n_ch=41, dtype=torch.float32)
        with torch.no_grad():
            out = mvpa_flex(**x, n_segments=4, window=1, compile="eager")
            ref = mvpa_reference(**x, n_segments=4, window=1)
        torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-4)
    # measured: 1 graph for the ten one-block masks, a 2nd when the mask first has two
    # blocks (dynamo specialises dimensions of size 1); more channels reuse it.
    assert flex_compilations() - before <= 2
