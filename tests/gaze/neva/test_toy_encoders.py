"""Toy encoders: the analytic one's embedding is what it claims; TinyCLIP trains and aligns."""

import numpy as np
import pytest
import torch

from neuroattn.datasets.synthetic import make_captioned_scenes
from neuroattn.gaze.neva import ChannelEnergyEncoder, TinyCLIP, fit_tiny_clip
from neuroattn.retina import gaussian_blur


def test_channel_energy_sees_only_sharp_texture():
    scenes = make_captioned_scenes(1, size=96, n_objects=1, colours=("green",), seed=0)
    images = torch.from_numpy(scenes.images)
    enc = ChannelEnergyEncoder.calibrated(images)
    sharp = enc.encode_image(images)[0]
    assert int(sharp[:3].argmax()) == 1 and sharp[1] > 20 * sharp[0]
    blurred = enc.encode_image(gaussian_blur(images, 21, 5.0))[0]
    assert blurred[1] < 0.05 * sharp[1] and blurred[3] == sharp[3] == enc.floor


def test_captions_map_to_their_colour_channels():
    enc = ChannelEnergyEncoder(floor=1.0)
    np.testing.assert_array_equal(enc.encode_text(["A Blue square"]).numpy(), [[0, 0, 1, 0]])
    with pytest.raises(ValueError, match="exactly one colour"):
        enc.encode_text(["a red and green disc"])
    with pytest.raises(ValueError, match="floor"):
        ChannelEnergyEncoder(floor=0.0)


def test_tiny_clip_shapes_and_vocabulary():
    model = TinyCLIP(["a", "red", "disc"], embed_dim=8, width=4)
    assert model.encode_image(torch.rand(3, 3, 40, 40)).shape == (3, 8)
    assert model.tokenize(["a red disc", "red"]).tolist() == [[1, 2, 3], [2, 0, 0]]
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model.encode_text(["a blue disc"])


def test_tiny_clip_training_lowers_the_contrastive_loss():
    scenes = make_captioned_scenes(64, size=32, n_objects=1, seed=0)
    images = (torch.from_numpy(scenes.images) - 0.5) / 0.25
    torch.manual_seed(0)
    untrained = TinyCLIP(["a", *scenes.colour_names, *scenes.shape_names], width=8)
    with torch.no_grad():
        before = float(untrained.contrastive_loss(images, scenes.captions))
    model = fit_tiny_clip(scenes, steps=100, batch_size=32, width=8, device="cpu")
    after = float(model.contrastive_loss(images, scenes.captions))
    assert after < 0.6 * before


def test_short_training_budgets_work_and_degenerate_ones_are_refused():
    scenes = make_captioned_scenes(8, size=24, n_objects=1, seed=0)
    assert not fit_tiny_clip(scenes, steps=10, batch_size=4, width=4, device="cpu").training
    with pytest.raises(ValueError, match="steps"):
        fit_tiny_clip(scenes, steps=1, device="cpu")


def test_the_analytic_palette_agrees_with_the_captioned_world():
    # The encoder owns its words; the synthetic world must texture each colour in the channels
    # the encoder reads for it.
    from neuroattn.datasets.synthetic.captioned_scenes import COLOURS
    from neuroattn.gaze.neva.toy_encoders import RGB_PALETTE

    assert {name: RGB_PALETTE[name] for name in COLOURS} == COLOURS
