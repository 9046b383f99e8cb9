"""MVPFormer: shapes, exact properties, LoRA, save/load and weight compatibility."""

from __future__ import annotations

import re

import pytest
import torch

from neuroattn.dispatch_audit import audit_dispatch
from neuroattn.ieeg import MVPFormer, preset
from neuroattn.ieeg.weights import WeightsError

L = 128  # tiny preset: 1-s segments at 128 Hz


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    return MVPFormer(preset("tiny", dropout=0.0)).eval()


def _x(b=2, c=5, t=6, seed=1):
    return torch.randn(b, c, t * L, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("channels, segments", [(1, 1), (4, 3), (9, 6), (13, 2), (128, 2)])
def test_shapes_for_any_channel_count_and_length(tiny, channels, segments):
    out = tiny(_x(2, channels, segments), return_features=True)
    assert out["logits"].shape == (2, 2)
    assert out["features"].shape == (2, 32)
    assert out["hidden"].shape == out["embeddings"].shape == (2, segments, channels, 32)


def test_released_sizes_without_allocating():
    with torch.device("meta"):
        small = MVPFormer("mvpformer-s")
        medium = MVPFormer("mvpformer-m")

    def count(model):
        return sum(p.numel() for n, p in model.named_parameters()
                   if not n.startswith("generative_head"))

    assert count(small) == 73_579_314  # braindecode's S with a 2-class head
    assert 1.2e9 < count(medium) < 1.3e9
    assert small.patch_embed.n_coeffs == 2610


def test_limits_and_bad_input_are_explained(tiny):
    with pytest.raises(ValueError, match="129 channels exceed the channel table"):
        tiny(_x(1, 129, 1))
    with pytest.raises(ValueError, match="33 segments exceed the time table"):
        tiny(_x(1, 2, 33))
    with pytest.raises(ValueError, match="not a whole number of 128-sample segments"):
        tiny(torch.randn(1, 3, 200))
    with pytest.raises(ValueError, match=r"\(batch, channels, samples\)"):
        tiny(torch.randn(3, 256))
    x = _x(1, 2, 2)
    x[0, 1, 5] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        tiny(x)


def test_finiteness_check_does_not_sync_on_a_device(tiny):
    """On meta (as on CUDA) the NaN/Inf check is an asynchronous device assert."""
    x = torch.empty(2, 3, 2 * L, device="meta")
    with audit_dispatch() as report:
        segments = tiny.segment(x)
    assert segments.shape == (2, 2, 3, L)
    assert report.syncs == 0 and report.op_counts["aten._assert_async.msg"] == 1


def test_causal_over_segments(tiny):
    x = _x()
    base = tiny(x, return_features=True)["hidden"]
    later = x.clone()
    later[:, :, 4 * L:] = torch.randn(2, 5, 2 * L)
    changed = tiny(later, return_features=True)["hidden"]
    torch.testing.assert_close(changed[:, :4], base[:, :4])
    assert not torch.allclose(changed[:, 4:], base[:, 4:])


def test_channel_reversal_reverses_hidden_states(tiny):
    x = _x()
    out = tiny(x, return_features=True)
    flipped = tiny(x.flip(1), return_features=True)
    torch.testing.assert_close(flipped["hidden"], out["hidden"].flip(2), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(flipped["logits"], out["logits"], atol=1e-5, rtol=1e-5)


def test_amplitude_invariance_of_the_tokenizer(tiny):
    """RMSNorm after an orthogonal-ish DWT: scaling a token's samples changes nothing."""
    x = _x()
    scaled = x.clone()
    scaled[:, 2] *= 7.0  # one channel, all segments
    scaled[:, :, :L] *= 0.05  # one segment, all channels
    torch.testing.assert_close(tiny(scaled), tiny(x), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("attention", ["flash", "chunked"])
def test_fused_attention_equals_reference_in_the_model(attention):
    torch.manual_seed(3)
    fused = MVPFormer(preset("tiny", dropout=0.0, window=2, attention=attention))
    reference = MVPFormer(preset("tiny", dropout=0.0, window=2, attention="reference"))
    reference.load_state_dict(fused.state_dict())
    x = _x(2, 3, 5)
    outs, grads = [], []
    for model in (fused, reference):
        out = model(x)
        out.square().sum().backward()
        outs.append(out)
        grads.append({n: p.grad.clone() for n, p in model.named_parameters()
                      if p.grad is not None})
    torch.testing.assert_close(outs[0], outs[1], atol=1e-5, rtol=1e-4)
    for name in grads[1]:
        torch.testing.assert_close(grads[0][name], grads[1][name], atol=1e-5, rtol=1e-4,
                                   msg=name)


def test_lora_trains_adapters_and_head_only(tiny):
    x = _x()
    before = tiny(x)
    kv = tiny.config.kv_dim
    tiny.add_lora(rank=4)
    torch.testing.assert_close(tiny(x), before)
    trainable = {n for n, p in tiny.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or n.startswith("final_layer") for n in trainable)
    c_attn = tiny.blocks[0].attn.c_attn
    assert c_attn.lora_b.shape == (kv, 4)  # value half only, as the reference
    opt = torch.optim.SGD([p for p in tiny.parameters() if p.requires_grad], lr=0.5)
    tiny.train()
    torch.nn.functional.cross_entropy(tiny(x), torch.tensor([0, 1])).backward()
    opt.step()
    assert torch.equal(c_attn.weight[:kv], c_attn.base.weight[:kv])  # keys untouched
    assert not torch.equal(c_attn.weight[kv:], c_attn.base.weight[kv:])


def test_save_and_load_pretrained(tiny, tmp_path):
    x = _x()
    path = tiny.save_pretrained(tmp_path / "tiny")
    again = MVPFormer.from_pretrained(path).eval()
    torch.testing.assert_close(again(x), tiny(x))
    assert again.config == tiny.config


def _to_ibm(state, prefix="genie."):
    out = {}
    for key, value in state.items():
        key = re.sub(r"^blocks\.(\d+)\.", rf"{prefix}h.\1.", key)
        key = key.replace("patch_embed.", "encoder.")
        if key.startswith(("positional_embedding", "channel_embedding", "ln_f")):
            key = prefix + key
        key = {"final_layer.weight": "head.head.weight"}.get(key, key)
        if key != "generative_head.weight":
            out[key] = value
    return out


def test_loads_ibm_checkpoints_with_lora_merged(tiny, tmp_path):
    """Reference layout: prefixed keys, unused tensors, loralib adapters on q and V."""
    x = _x()
    state = _to_ibm(tiny.state_dict())
    kv, d = tiny.config.kv_dim, tiny.config.d_model
    g = torch.Generator().manual_seed(5)
    a_q, b_q = torch.randn(8, d, generator=g), torch.randn(d, 8, generator=g) * 0.01
    a_v, b_v = torch.randn(8, d, generator=g), torch.randn(kv, 8, generator=g) * 0.01
    state.update({"genie.h.0.attn.q_attn.lora_A": a_q, "genie.h.0.attn.q_attn.lora_B": b_q,
                  "genie.h.0.attn.c_attn.lora_A": a_v, "genie.h.0.attn.c_attn.lora_B": b_v,
                  "genie.h.0.ln_2.weight": torch.ones(d), "seizure_embeddings": torch.ones(3, L),
                  "genie.h.0.attn.masked_bias": torch.tensor(-1e4)})
    torch.save({"state_dict": state}, tmp_path / "ibm.ckpt")  # Lightning-style wrapper
    loaded = MVPFormer.from_pretrained(tmp_path / "ibm.ckpt", n_heads=4, sfreq=128.0,
                                       window=4, n_positions=32, dropout=0.0).eval()
    expected = MVPFormer(tiny.config).eval()
    expected.load_state_dict(tiny.state_dict())
    with torch.no_grad():
        expected.blocks[0].attn.q_attn.weight += 2.0 * b_q @ a_q
        expected.blocks[0].attn.c_attn.weight[kv:] += 2.0 * b_v @ a_v
    torch.testing.assert_close(loaded(x), expected(x))


def test_wrong_checkpoints_list_the_problem(tiny, tmp_path):
    torch.save(torch.nn.Linear(3, 3).state_dict(), tmp_path / "linear.pt")
    with pytest.raises(WeightsError, match="Not an MVPFormer state dict"):
        MVPFormer.from_pretrained(tmp_path / "linear.pt")
    state = tiny.state_dict()
    state["blocks.0.mlp.up_proj.weight"] = torch.zeros(65, 32)
    state["extra.weight"] = torch.zeros(1)
    del state["blocks.1.attn.c_proj.weight"]
    torch.save(state, tmp_path / "broken.pt")
    with pytest.raises(WeightsError, match=r"missing \(1\).*c_proj.*unexpected \(1\).*extra"
                                           r".*shape mismatch \(1\).*up_proj"):
        MVPFormer.from_pretrained(tmp_path / "broken.pt", n_heads=4)
    with pytest.raises(WeightsError, match="pass n_heads"):
        MVPFormer.from_pretrained(tmp_path / "broken.pt")


ORACLE_SCRIPT = """
import sys, torch, warnings
warnings.simplefilter("ignore")
from braindecode.models import MVPFormer
torch.manual_seed(0)
model = MVPFormer(n_outputs=3, n_chans=6, n_times=5 * 64, sfreq=64, segment_len=64,
                  d_model=32, n_layers=2, n_heads=4, n_head_kv=2, d_inner=48, local_window=2,
                  max_segments=8, max_channels=8, drop_prob=0.1).eval()
with torch.no_grad():
    for p in model.parameters():  # non-trivial norms and biases
        p.add_(0.05 * torch.randn_like(p))
x = torch.randn(3, 6, 5 * 64)
with torch.no_grad():
    out = model(x, return_features=True)
torch.save({"state": model.state_dict(), "x": x, "logits": model(x).detach(),
            "features": out["features"]}, sys.argv[1])
"""


@pytest.mark.slow
def test_equivalent_to_braindecode(braindecode_oracle, tmp_path):
    done = braindecode_oracle(ORACLE_SCRIPT, str(tmp_path / "bd.pt"))
    assert done.returncode == 0, done.stderr[-3000:]
    saved = torch.load(tmp_path / "bd.pt", weights_only=True)
    torch.save(saved["state"], tmp_path / "state.pt")
    ours = MVPFormer.from_pretrained(tmp_path / "state.pt", n_heads=4, window=2, sfreq=64.0,
                                     dropout=0.1).eval()
    assert ours.config.segment_samples == 64 and ours.config.n_outputs == 3
    out = ours(saved["x"], return_features=True)
    torch.testing.assert_close(out["features"], saved["features"], atol=2e-5, rtol=1e-4)
    torch.testing.assert_close(out["logits"], saved["logits"], atol=2e-5, rtol=1e-4)


def test_flex_attention_model_forward_matches(tiny):
    flex = MVPFormer(preset("tiny", dropout=0.0, attention="flex")).eval()
    flex.load_state_dict(tiny.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(flex(_x()), tiny(_x()), atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="set dropout=0.0"):
        preset("tiny", attention="flex")
