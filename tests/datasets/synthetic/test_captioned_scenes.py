"""Captioned scenes: distinct objects, texture only in lit channels, honest wrong captions."""

import numpy as np
import pytest

from neuroattn.datasets.synthetic import make_captioned_scenes
from neuroattn.datasets.synthetic.captioned_scenes import COLOURS


def test_shapes_and_reproducibility():
    a = make_captioned_scenes(5, size=80, seed=4)
    b = make_captioned_scenes(5, size=80, seed=4)
    assert a.images.shape == (5, 3, 80, 80) and a.images.dtype == np.float32
    np.testing.assert_array_equal(a.images, b.images)
    assert a.captions == b.captions and len(a) == 5 and a.size == 80
    assert 0.0 <= a.images.min() and a.images.max() <= 1.0


def test_objects_are_distinct_and_apart():
    s = make_captioned_scenes(20, size=100, seed=1)
    for i in range(20):
        assert len(set(s.colours[i])) == len(set(s.shapes[i])) == 3
        gaps = np.hypot(*(s.centres[i][:, None] - s.centres[i][None]).transpose(2, 0, 1))
        assert gaps[np.triu_indices(3, 1)].min() >= 2.8 * s.radius


def test_texture_lives_only_in_the_channels_a_colour_lights():
    s = make_captioned_scenes(12, size=112, n_objects=1, shapes=("square",), seed=2)
    for i in range(12):
        x, y = np.rint(s.centres[i, 0]).astype(int)
        r = int(s.radius * 0.4)  # well inside the square
        detail = np.abs(np.diff(s.images[i, :, y - r:y + r, x - r:x + r], axis=-1)).mean((1, 2))
        lit = np.array(COLOURS[s.colour_names[s.colours[i, 0]]], bool)
        assert detail[lit].min() > 0.05 and detail[~lit].max() < 1e-6


def test_captions_and_wrong_captions():
    s = make_captioned_scenes(30, size=64, seed=3)
    for i in range(30):
        colour, shape = s.colours[i, s.target[i]], s.shapes[i, s.target[i]]
        assert s.captions[i] == s.caption(colour, shape)
        _, wrong_colour, wrong_shape = s.wrong_captions[i].split()
        assert s.colour_names.index(wrong_colour) not in s.colours[i]
        assert s.shape_names.index(wrong_shape) not in s.shapes[i]


def test_observers_fixate_the_target_first_then_nearest_first():
    s = make_captioned_scenes(6, size=96, seed=5)
    paths = s.observer_scanpaths(4, jitter=0.0)
    for i, observers in enumerate(paths):
        objects = s.objects_along(i, observers[0])
        assert objects[0] == s.target[i] and sorted(objects) == [0, 1, 2]
        hop = [np.hypot(*(s.centres[i, objects[0]] - s.centres[i, k])) for k in objects[1:]]
        assert hop[0] <= hop[1]  # the second fixation is the object nearest the target


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="unknown colour"):
        make_captioned_scenes(2, colours=("purple",))
    with pytest.raises(ValueError, match="n_objects"):
        make_captioned_scenes(2, n_objects=5)
    with pytest.raises(ValueError, match="cannot place"):
        make_captioned_scenes(2, size=32, object_radius=0.3)
