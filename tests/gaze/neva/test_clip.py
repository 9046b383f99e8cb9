"""NevaClip: any encoder pair, free viewing, open_clip checkpoints from a local file."""

import json

import numpy as np
import pytest
import torch

from neuroattn.gaze.neva import ChannelEnergyEncoder, NevaClip, as_image_batch

open_clip = pytest.importorskip("open_clip")

TINY = "neuroattn-tiny-test-clip"


@pytest.fixture(scope="module")
def tiny_open_clip(tmp_path_factory):
    """A small open_clip architecture registered from a config file, and its checkpoint."""
    root = tmp_path_factory.mktemp("open_clip")
    config = {"embed_dim": 32,
              "vision_cfg": {"image_size": 64, "layers": 1, "width": 32, "patch_size": 16,
                             "head_width": 16},
              "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2,
                           "layers": 1}}
    (root / f"{TINY}.json").write_text(json.dumps(config))
    open_clip.add_model_config(root / f"{TINY}.json")
    torch.manual_seed(0)
    model = open_clip.create_model(TINY, pretrained=None)
    path = root / "tiny.pt"
    torch.save(model.state_dict(), path)
    return model, path


def test_checkpoint_is_loaded_from_a_local_file(tiny_open_clip):
    model, path = tiny_open_clip
    clip = NevaClip.from_open_clip(TINY, path, device="cpu")
    assert clip.image_size == 64
    images = torch.rand(2, 3, 64, 64)
    expected = model.encode_image((images - clip.mean) / clip.std)
    torch.testing.assert_close(clip.encode_image((images - clip.mean) / clip.std), expected)
    result = clip.scanpaths(images, ["a cat", "a dog"], n_fixations=2, steps=2)
    assert result.fixations.shape == (2, 2, 2) and np.isfinite(result.losses).all()


def test_missing_weights_say_how_to_supply_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint="):
        NevaClip.from_open_clip("RN50")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        NevaClip.from_open_clip("RN50", tmp_path / "nope.pt")


def test_checkpoint_of_another_architecture_is_refused(tiny_open_clip, tmp_path):
    _, path = tiny_open_clip
    with pytest.raises(ValueError, match="does not fit"):
        NevaClip.from_open_clip("RN50", path, device="cpu")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ValueError, match="corrupt"):
        NevaClip.from_open_clip(TINY, corrupt, device="cpu")
    with pytest.raises(ValueError, match="not an open_clip architecture"):
        NevaClip.from_open_clip("no-such-net", path, device="cpu")


@pytest.mark.slow
def test_rn50_with_random_weights_runs_the_reference_shapes():
    clip = NevaClip.from_open_clip("RN50", random_weights=True, device="cpu")
    assert clip.image_size == 224
    result = clip.scanpaths(np.zeros((300, 400, 3), np.uint8), "a photo", n_fixations=1,
                            steps=1)
    x, y = result.fixations[0, 0]
    assert result.image_sizes[0].tolist() == [300, 400] and 0 <= x <= 399 and 0 <= y <= 299


def energy_clip(size=64):
    enc = ChannelEnergyEncoder(floor=0.05)
    return NevaClip(enc.encode_image, enc.encode_text, image_size=size, mean=(0, 0, 0),
                    std=(1, 1, 1), device="cpu")


def test_fixations_come_back_in_each_images_own_pixels():
    images = [np.random.default_rng(0).random((30, 90, 3)), np.zeros((64, 64, 3), np.uint8)]
    result = energy_clip().scanpaths(images, "a red disc", n_fixations=2, steps=3)
    assert result.image_sizes.tolist() == [[30, 90], [64, 64]]
    for path, (h, w) in zip(result.fixations, result.image_sizes, strict=False):
        assert ((path >= 0) & (path <= [w - 1, h - 1])).all()


def test_one_image_with_many_captions_is_searched_once_per_caption():
    result = energy_clip().scanpaths(torch.rand(1, 3, 64, 64), ["red", "green", "blue"],
                                     n_fixations=1, steps=2)
    assert result.fixations.shape == (3, 1, 2)


def test_free_viewing_needs_no_text_encoder():
    enc = ChannelEnergyEncoder(floor=0.05)
    clip = NevaClip(enc.encode_image, image_size=32, device="cpu")
    assert clip.scanpaths(torch.rand(2, 3, 32, 32), n_fixations=2, steps=2).lengths.tolist() \
        == [2, 2]
    with pytest.raises(ValueError, match="no encode_text"):
        clip.scanpaths(torch.rand(1, 3, 32, 32), "a red disc")


def test_bad_images_and_captions_are_refused():
    clip = energy_clip()
    with pytest.raises(ValueError, match="captions for"):
        clip.scanpaths(torch.rand(2, 3, 64, 64), ["red", "green", "blue"])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        as_image_batch(torch.full((1, 3, 8, 8), 2.0), 8)
    with pytest.raises(ValueError, match="RGB"):
        as_image_batch(np.zeros((2, 8, 8, 4)), 8)
    with pytest.raises(FileNotFoundError):
        as_image_batch("missing.png", 8)
