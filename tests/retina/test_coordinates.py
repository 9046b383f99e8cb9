"""Pixel (x, y) ↔ normalised (row, col): exact inverses, pinned to the reference grid."""

import numpy as np
import pytest
import torch

from neuroattn.retina import fovea_grid, fovea_to_pixels, pixels_to_fovea


def test_conversions_are_inverse_on_unequal_sizes():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, [95, 63], (50, 2))
    back = fovea_to_pixels(pixels_to_fovea(xy, (64, 96)), (64, 96))
    np.testing.assert_allclose(back, xy, atol=1e-12)
    t = torch.from_numpy(xy)
    torch.testing.assert_close(pixels_to_fovea(t, (64, 96)),
                               torch.from_numpy(pixels_to_fovea(xy, (64, 96))))


def test_pixel_centres_land_on_the_reference_grid():
    rows, cols = fovea_grid((64, 96))
    rc = pixels_to_fovea(np.array([[17.0, 40.0]]), (64, 96))  # x = 17 (column), y = 40 (row)
    assert rc[0, 0] == pytest.approx(float(rows[40, 17]))
    assert rc[0, 1] == pytest.approx(float(cols[40, 17]))


@pytest.mark.parametrize("bad", [np.zeros(3), np.zeros((4, 3))])
def test_bad_shapes_are_refused(bad):
    with pytest.raises(ValueError, match="last dimension of 2"):
        pixels_to_fovea(bad, (10, 10))


def test_degenerate_image_size_is_refused():
    with pytest.raises(ValueError, match="at least 2 x 2"):
        fovea_to_pixels(np.zeros(2), (1, 10))
