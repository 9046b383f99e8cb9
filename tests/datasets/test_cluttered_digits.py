"""Cluttered digits from scikit-learn's bundled digits: boxes, splits, reproducible rotations."""

import numpy as np
import pytest

from neuroattn.datasets.cluttered_digits import digit_sources, make_cluttered_digits


def test_boxes_hold_the_ink_and_the_centre():
    data = make_cluttered_digits(20, size=80, n_clutter=0, noise=0.0, seed=3)
    assert data.images.shape == (20, 1, 80, 80) and data.images.dtype == np.float32
    assert data.in_box(data.centres).all()
    for image, (x0, y0, x1, y1) in zip(data.images[:, 0], data.boxes.astype(int), strict=True):
        outside = image.copy()
        outside[y0:y1 + 1, x0:x1 + 1] = 0
        assert outside.max() <= 0.2 < image.max()     # no ink beyond the box (noise off)
    assert np.all((data.digit_sizes >= 20) & (data.digit_sizes <= 28))


def test_train_and_test_digits_are_disjoint():
    train, test = digit_sources("train"), digit_sources("test")
    assert len(train[0]) + len(test[0]) == 1797
    seen = {image.tobytes() for image in train[0]}
    assert sum(image.tobytes() in seen for image in test[0]) < 5   # a few duplicates in UCI


def test_same_seed_other_angle_changes_only_the_digit():
    upright = make_cluttered_digits(6, seed=4)
    turned = make_cluttered_digits(6, seed=4, rotation=90.0)
    np.testing.assert_array_equal(upright.labels, turned.labels)
    np.testing.assert_array_equal(upright.centres, turned.centres)
    for a, b, box_a, box_b in zip(upright.images, turned.images, upright.boxes, turned.boxes,
                                      strict=True):
        away = np.ones(a.shape[1:], bool)
        for x0, y0, x1, y1 in (box_a, box_b):
            away[int(y0) - 3:int(y1) + 4, int(x0) - 3:int(x1) + 4] = False   # faint edge
        np.testing.assert_array_equal(a[0][away], b[0][away])
        assert not np.array_equal(a, b)


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="digit_size"):
        make_cluttered_digits(2, size=32, digit_size=(20, 28))
    with pytest.raises(ValueError, match="split"):
        digit_sources("val")
    with pytest.raises(ValueError, match="noise"):
        make_cluttered_digits(2, noise=-1.0)
    with pytest.raises(ValueError, match=r"points must be \(2, 2\)"):
        make_cluttered_digits(2).in_box(np.zeros(2))
