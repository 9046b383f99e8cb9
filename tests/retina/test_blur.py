"""Separable Gaussian blur: equals the reference formula (scipy, mirror padding)."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from neuroattn.retina import blur_pyramid, gaussian_blur, gaussian_kernel1d, kernel_size_for


def test_kernel_is_normalised_and_symmetric():
    k = gaussian_kernel1d(41, 10.0, dtype=torch.float64)
    assert float(k.sum()) == pytest.approx(1.0)
    torch.testing.assert_close(k, k.flip(0))


def test_blur_equals_separable_correlation_with_reflection():
    rng = np.random.default_rng(1)
    image = rng.random((2, 3, 37, 52))
    kernel = gaussian_kernel1d(9, 2.0, dtype=torch.float64).numpy()
    expected = ndimage.correlate1d(ndimage.correlate1d(image, kernel, axis=2, mode="mirror"),
                                   kernel, axis=3, mode="mirror")
    ours = gaussian_blur(torch.from_numpy(image), 9, 2.0).numpy()
    np.testing.assert_allclose(ours, expected, atol=1e-12)


def test_oversized_kernel_is_cut_to_fit_the_image():
    out = gaussian_blur(torch.rand(1, 1, 6, 9), 41, 10.0)
    assert out.shape == (1, 1, 6, 9)


def test_pyramid_blurs_more_at_each_level():
    image = torch.rand(1, 3, 40, 40)
    levels = blur_pyramid(image, (0.0, 1.0, 2.0, 4.0))
    detail = [float((lv[..., 1:] - lv[..., :-1]).pow(2).mean()) for lv in levels]
    assert detail == sorted(detail, reverse=True)
    assert kernel_size_for(4.0) == 25


@pytest.mark.parametrize(("size", "sigma", "match"), [(4, 1.0, "odd"), (5, 0.0, "sigma")])
def test_bad_kernels_are_refused(size, sigma, match):
    with pytest.raises(ValueError, match=match):
        gaussian_kernel1d(size, sigma)


def test_bad_pyramid_and_image_shapes_are_refused():
    with pytest.raises(ValueError, match="non-decreasing"):
        blur_pyramid(torch.rand(1, 1, 8, 8), (2.0, 1.0))
    with pytest.raises(ValueError, match="batch, channels"):
        gaussian_blur(torch.rand(3, 8, 8), 3, 1.0)
