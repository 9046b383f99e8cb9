"""Spectral-residual saliency: finds the odd region, normalised, refuses bad input."""

import numpy as np
import pytest

from neuroattn.gaze.saliency_maps import spectral_residual


def test_texture_on_a_smooth_background_is_salient():
    rng = np.random.default_rng(0)
    image = np.full((3, 90, 120), 0.4)
    image[:, 60:75, 20:35] = rng.random((3, 15, 15))
    sal = spectral_residual(image)
    assert sal.shape == (90, 120) and sal.sum() == pytest.approx(1.0) and (sal >= 0).all()
    inside = sal[60:75, 20:35].mean()
    assert inside > 5 * sal.mean()


def test_bad_images_are_refused():
    with pytest.raises(ValueError, match="NaN"):
        spectral_residual(np.full((8, 8), np.nan))
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        spectral_residual(np.zeros((2, 8, 8, 3)))
