"""Feature extraction: shapes, hooks against manual forward passes, checkpoints, stores, errors."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from neuroattn.encoding.backbones import (
    Backbone,
    ImageTransform,
    dinov2_backbone,
    open_clip_backbone,
    torchvision_backbone,
)
from neuroattn.encoding.dinov2 import DinoV2Config, DinoV2ViT, load_dinov2_weights
from neuroattn.encoding.features import FeatureExtractor

TINY = DinoV2Config(embed_dim=24, depth=2, num_heads=3, img_size=28, num_register_tokens=2)


class _Net(torch.nn.Module):
    def __init__(self, twice: bool = False) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 3, padding=1)
        self.spare = torch.nn.Linear(2, 2)  # never called
        self.twice = twice

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.conv(x)) if self.twice else self.conv(x)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    """7 RGB images, 30 x 30 (not a multiple of the 14-px patch)."""
    return np.random.default_rng(0).integers(0, 256, (7, 30, 30, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def tiny_vit():
    from torchvision.models import VisionTransformer

    torch.manual_seed(0)
    return VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2,
                             hidden_dim=16, mlp_dim=32).eval()


def _normalised(images: np.ndarray, tf) -> torch.Tensor:
    return tf(torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255)


def test_resnet18_layers_match_manual_forward(rng):
    bb = torchvision_backbone("resnet18")
    fx = FeatureExtractor(bb, ["layer3", "layer4"], device="cpu", batch_size=2)
    imgs = rng.integers(0, 256, (3, 64, 48, 3), dtype=np.uint8)  # unequal sides
    out = fx(imgs)
    assert out["layer3"].shape == (3, 4, 3, 256) and out["layer4"].shape == (3, 2, 2, 512)
    assert out["layer4"].dtype == np.float32
    m = bb.model
    with torch.no_grad():
        x = m.maxpool(m.relu(m.bn1(m.conv1(_normalised(imgs, bb.transform)))))
        ref = m.layer4(m.layer3(m.layer2(m.layer1(x))))
    np.testing.assert_allclose(out["layer4"], ref.permute(0, 2, 3, 1).numpy(), atol=1e-5)


def test_torchvision_vit_tokens_query_and_cls(tiny_vit):
    fx = FeatureExtractor(tiny_vit, ["encoder.layers.encoder_layer_1",
                                     "encoder.layers.encoder_layer_1.self_attention:q",
                                     "encoder.layers.encoder_layer_0:cls"])
    assert fx.prefix_tokens == 1  # read off class_token
    x = torch.rand(3, 3, 32, 32)
    out = fx(x)
    with torch.no_grad():
        tokens = tiny_vit._process_input(x)
        tokens = torch.cat([tiny_vit.class_token.expand(3, -1, -1), tokens], dim=1)
        tokens = tokens + tiny_vit.encoder.pos_embedding
        block0, block1 = tiny_vit.encoder.layers
        t0 = block0(tokens)
        t1 = block1(t0)
        attn = block1.self_attention
        w, b = attn.in_proj_weight[:16], attn.in_proj_bias[:16]
        q = block1.ln_1(t0) @ w.T + b
    np.testing.assert_allclose(out["encoder.layers.encoder_layer_1"],
                               t1[:, 1:].reshape(3, 4, 4, 16).numpy(), atol=1e-5)
    np.testing.assert_allclose(out["encoder.layers.encoder_layer_1.self_attention:q"],
                               q[:, 1:].reshape(3, 4, 4, 16).numpy(), atol=1e-5)
    np.testing.assert_allclose(out["encoder.layers.encoder_layer_0:cls"],
                               t0[:, :1, None].numpy(), atol=1e-5)


def test_torchvision_vit_defaults_resize_to_its_image_size(tiny_vit, rng):
    from neuroattn.encoding.backbones import _torchvision_defaults

    layers, transform, prefix = _torchvision_defaults(tiny_vit)
    assert layers == ("encoder.layers.encoder_layer_1",) and prefix == 1
    fx = FeatureExtractor(Backbone(tiny_vit, layers, transform, prefix_tokens=prefix))
    out = fx(rng.integers(0, 256, (2, 40, 50, 3), dtype=np.uint8))  # shorter side 40 -> 32
    assert out["encoder.layers.encoder_layer_1"].shape == (2, 4, 4, 16)
    with pytest.raises(ValueError, match="did you mean"):
        torchvision_backbone("resnet-18")


def test_dinov2_checkpoint_round_trip(tmp_path, images):
    model = DinoV2ViT(TINY)
    state = model.state_dict()
    assert {"patch_embed.proj.weight", "blocks.1.attn.qkv.weight", "blocks.0.norm1.weight",
            "cls_token", "pos_embed", "register_tokens", "norm.weight"} <= set(state)
    path = tmp_path / "tiny_pretrain.pth"
    torch.save(state, path)
    fresh = FeatureExtractor(dinov2_backbone(path, arch=TINY), ["blocks.1.attn.qkv:q", "blocks.0"])
    same = FeatureExtractor(Backbone(model, (), dinov2_backbone(None, arch=TINY).transform,
                                     prefix_tokens=3), fresh.layers)
    a, b = fresh(images), same(images)
    assert a["blocks.1.attn.qkv:q"].shape == (7, 3, 3, 24)  # 30 px padded to 42: a 3 x 3 grid
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    # training-code layout: nested, prefixed and chunked blocks
    chunked = {"teacher": {f"backbone.{k.replace('blocks.1.', 'blocks.0.1.')}": v
                           for k, v in state.items()}}
    torch.save(chunked, tmp_path / "teacher.pth")
    again = load_dinov2_weights(tmp_path / "teacher.pth", arch=TINY)
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in state.items())


def test_dinov2_query_projection_equals_manual(images):
    bb = dinov2_backbone(None, arch=TINY, seed=3)
    assert bb.layers == ("blocks.1.attn.qkv:q",) and bb.prefix_tokens == 3
    out = FeatureExtractor(bb, device="cpu")(images)["blocks.1.attn.qkv:q"]
    m = bb.model
    with torch.no_grad():
        x = _normalised(images, bb.transform)
        assert x.shape[-2:] == (42, 42)
        h = m.blocks[0](m.prepare_tokens(x))
        qkv = m.blocks[1].attn.qkv
        q = m.blocks[1].norm1(h) @ qkv.weight[:24].T + qkv.bias[:24]
    np.testing.assert_allclose(out, q[:, 3:].reshape(7, 3, 3, 24).numpy(), atol=1e-5)


def test_dinov2_matches_timm_at_native_size():
    timm_vit = pytest.importorskip("timm.models.vision_transformer")
    cfg = DinoV2Config(embed_dim=24, depth=2, num_heads=3, img_size=42)
    mine = DinoV2ViT(cfg).eval()
    ref = timm_vit.VisionTransformer(img_size=42, patch_size=14, embed_dim=24, depth=2,
                                     num_heads=3, init_values=1.0, num_classes=0).eval()
    ref.load_state_dict({k: v for k, v in mine.state_dict().items() if k != "mask_token"})
    x = torch.randn(2, 3, 42, 42)
    with torch.no_grad():
        torch.testing.assert_close(mine(x), ref.forward_features(x))


def test_dinov2_wrong_arch_names_the_right_one(tmp_path):
    path = tmp_path / "vits.pth"
    torch.save(DinoV2ViT(DinoV2Config(embed_dim=24, depth=12, num_heads=3,
                                      img_size=28)).state_dict(), path)
    with pytest.raises(ValueError, match="embed_dim=24"):
        load_dinov2_weights(path, arch="vitb14")
    with pytest.raises(ValueError, match="SwiGLU"):
        dinov2_backbone(None, arch="vitg14")


def test_pickled_extractor_rebuilds_from_recipe(images):
    bb = dinov2_backbone(None, arch=TINY, seed=1)
    fx = FeatureExtractor(bb, ["blocks.0:cls", "blocks.1.attn.qkv:k"], batch_size=3)
    blob = pickle.dumps(fx)
    assert len(blob) < 5_000  # the recipe, not the weights
    again = pickle.loads(blob)
    ref, out = fx(images), again(images)
    assert ref["blocks.0:cls"].shape == (7, 1, 1, 24)
    for key in ref:
        np.testing.assert_array_equal(ref[key], out[key])


def test_to_store_round_trip_and_client(tmp_path, images):
    from neuroattn.store import open_store
    from neuroattn.store.distributed import client

    fx = FeatureExtractor(dinov2_backbone(None, arch=TINY), ["blocks.1.attn.qkv:q", "blocks.0"],
                          batch_size=3)
    ref = fx(images)
    ids = [f"img{i:02d}" for i in range(7)]
    paths = fx.to_store(images, {"blocks.1.attn.qkv:q": tmp_path / "q.zarr",
                                 "blocks.0": tmp_path / "b0.zarr"}, stimulus=ids)
    for key, path in paths.items():
        ds = open_store(path, kind="features")  # full check: every chunk decoded
        assert ds.features.dims == ("stimulus", "y", "x", "feature")
        assert list(ds.stimulus.values) == ids and ds.attrs["layer"] == key
        np.testing.assert_array_equal(ds.features.values, ref[key])
    with pytest.raises(FileExistsError, match="overwrite=True"):
        fx.to_store(images, tmp_path / "q.zarr", layer="blocks.1.attn.qkv:q")
    with pytest.raises(ValueError, match="records 2 layers"):
        fx.to_store(images, tmp_path / "x.zarr")
    with pytest.raises(ValueError, match="repeated"):
        fx.to_store(images, tmp_path / "x.zarr", layer="blocks.0", stimulus=["a"] * 7)
    with client(processes=False, n_workers=2) as c:
        path = fx.to_store(images, tmp_path / "q.zarr", layer="blocks.1.attn.qkv:q",
                           client=c, overwrite=True, dtype="float16")
    ds = open_store(path, kind="features")
    assert ds.features.dtype == np.float16 and list(ds.stimulus.values) == list(range(7))
    np.testing.assert_allclose(ds.features.values, ref["blocks.1.attn.qkv:q"], atol=2e-3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b0.zarr", "q.zarr"]  # no leftovers


def test_to_store_stops_on_nonfinite_features(tmp_path, images):
    from neuroattn.store import NonFiniteError

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3))
    net[0].weight.data.fill_(float("inf"))
    fx = FeatureExtractor(net, "0", batch_size=4)
    with pytest.raises(NonFiniteError, match="stimulus index 0"):
        fx.to_store(images, tmp_path / "bad.zarr")
    assert not list(tmp_path.iterdir())


def test_image_files_of_any_size(tmp_path, tiny_vit, rng):
    from PIL import Image

    files = []
    for i, (h, w) in enumerate([(40, 40), (36, 50)]):
        files.append(tmp_path / f"im{i}.png")
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(files[-1])
    fx = FeatureExtractor(tiny_vit, "encoder.layers.encoder_layer_0",
                          transform=ImageTransform(size=32))
    assert fx(files)["encoder.layers.encoder_layer_0"].shape == (2, 4, 4, 16)
    with pytest.raises(ValueError, match="different sizes after the transform"):
        FeatureExtractor(tiny_vit, "encoder.layers.encoder_layer_0", transform=None)(files)


def test_errors(tiny_vit, images):
    with pytest.raises(ValueError, match=r"no submodule 'encoder.layers.encoder_layer_7'.*"
                                         r"encoder_layer_1"):
        FeatureExtractor(tiny_vit, "encoder.layers.encoder_layer_7")
    with pytest.raises(ValueError, match="Layer option 'z'"):
        FeatureExtractor(tiny_vit, "encoder:z")
    square = FeatureExtractor(tiny_vit, "encoder.layers.encoder_layer_0", prefix_tokens=0)
    with pytest.raises(ValueError, match="17 tokens.*do not form a patch grid"):
        square(torch.rand(1, 3, 32, 32))
    fx = FeatureExtractor(tiny_vit, "encoder.layers.encoder_layer_0")
    bad = images.astype(np.float32) / 255
    bad[4, 1, 2, 0] = np.nan
    with pytest.raises(ValueError, match="Image 4 holds NaN"):
        fx(bad)
    with pytest.raises(ValueError, match="channels last"):
        fx(np.zeros((2, 3, 32, 32), np.float32))
    with pytest.raises(ValueError, match="multiple of 3"):
        FeatureExtractor(tiny_vit, "conv_proj:q")(torch.rand(1, 3, 32, 32))
    with pytest.raises(RuntimeError, match=r"\['spare'\] did not run"):
        FeatureExtractor(_Net(), ["spare", "conv"])(torch.rand(1, 3, 8, 8))
    with pytest.raises(RuntimeError, match="ran more than once"):
        FeatureExtractor(_Net(twice=True), "conv", stop_early=False)(torch.rand(1, 3, 8, 8))


def test_open_clip_visual_tower(rng):
    pytest.importorskip("open_clip")
    bb = open_clip_backbone("ViT-B-32", image_size=64)
    assert bb.layers == ("transformer.resblocks.11",) and bb.prefix_tokens == 1
    fx = FeatureExtractor(bb, [*bb.layers, "transformer.resblocks.11.attn:q",
                               "transformer.resblocks.11:cls"], device="cpu")
    out = fx(rng.integers(0, 256, (2, 80, 64, 3), dtype=np.uint8))
    assert out["transformer.resblocks.11"].shape == (2, 2, 2, 768)
    assert out["transformer.resblocks.11.attn:q"].shape == (2, 2, 2, 768)
    assert out["transformer.resblocks.11:cls"].shape == (2, 1, 1, 768)
    with pytest.raises(FileNotFoundError, match="never downloads"):
        open_clip_backbone("ViT-B-32", pretrained="openai")


def test_open_clip_missing_gives_install_hint(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "open_clip", None)
    with pytest.raises(ImportError, match=r"neuroattn\[clip\]"):
        open_clip_backbone()
