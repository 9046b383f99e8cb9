"""Image-level baselines: inside the image, reproducible, and doing what their names say."""

import numpy as np
import pytest

from neuroattn.gaze.neva import (
    IMAGE_BASELINES,
    CentreBiasScanpaths,
    CLEScanpaths,
    SaliencyPeakScanpaths,
    make_image_baseline,
)


@pytest.fixture
def images():
    return np.random.default_rng(0).random((3, 30, 50, 3))


@pytest.mark.parametrize("name", sorted(IMAGE_BASELINES))
def test_shapes_bounds_and_seeds(name, images):
    base = make_image_baseline(name)
    result = base.generate(images, n_fixations=6, seed=3)
    assert result.fixations.shape == (3, 6, 2) and result.lengths.tolist() == [6, 6, 6]
    assert ((result.fixations >= 0) & (result.fixations <= [49, 29])).all()
    again = base.generate(images, n_fixations=6, seed=3).fixations
    np.testing.assert_array_equal(result.fixations, again)


def test_random_covers_the_image_uniformly(images):
    fix = make_image_baseline("random").generate(images[:1].repeat(50, 0), 40).fixations
    np.testing.assert_allclose(fix.reshape(-1, 2).mean(0), [24.5, 14.5], atol=0.6)


def test_centre_bias_fits_the_human_spread():
    rng = np.random.default_rng(1)
    humans = [np.array([49.5, 49.5]) + 0.15 * 99 * rng.standard_normal((400, 2))]
    base = CentreBiasScanpaths().fit(humans, [(100, 100)])
    assert base.sigma == pytest.approx(0.15, abs=0.01)
    fix = base.generate(np.zeros((1, 100, 100, 3)), 2000).fixations[0]
    assert fix.std(0) == pytest.approx([0.15 * 99] * 2, rel=0.1)


def peak_map(size=(30, 50), at=(40, 8), width=2.0):
    yy, xx = np.mgrid[:size[0], :size[1]]
    return np.exp(-((xx - at[0]) ** 2 + (yy - at[1]) ** 2) / (2 * width**2)) + 1e-3


def test_saliency_peaks_in_order_with_inhibition_of_return(images):
    maps = [peak_map() + 0.5 * peak_map(at=(5, 20))] * 3
    path = SaliencyPeakScanpaths(ior=0.1).generate(images, 3, saliency_maps=maps).fixations[0]
    np.testing.assert_array_equal(path[:2], [[40, 8], [5, 20]])
    assert np.hypot(*(path[2] - path[1])) > 2  # no refixation at once


def test_cle_settles_on_salient_regions_more_than_random():
    images = np.random.default_rng(0).random((20, 30, 50, 3))
    maps = [peak_map(width=5.0) + peak_map(at=(8, 22), width=5.0)] * 20
    kwargs = dict(saliency_maps=maps, seed=0)
    cle = CLEScanpaths(ior=0.05).generate(images, 8, **kwargs).fixations
    rand = make_image_baseline("random").generate(images, 8, **kwargs).fixations

    def mean_saliency(paths):
        xy = np.rint(paths[:, 1:].reshape(-1, 2)).astype(int)
        return maps[0][xy[:, 1], xy[:, 0]].mean()
    assert mean_saliency(cle) > 1.6 * mean_saliency(rand)  # measured: 0.39 against 0.20


def test_bad_input_is_refused(images):
    with pytest.raises(ValueError, match="unknown baseline"):
        make_image_baseline("oracle")
    with pytest.raises(ValueError, match="n_fixations"):
        make_image_baseline("random").generate(images, 0)
    with pytest.raises(ValueError, match="saliency maps for"):
        make_image_baseline("cle").generate(images, 2, saliency_maps=[peak_map()])
    with pytest.raises(ValueError, match="shape"):
        make_image_baseline("saliency").generate(images[:1], 2, saliency_maps=[np.ones((3, 3))])
