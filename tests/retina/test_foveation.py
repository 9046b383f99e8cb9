"""Acuity models: the reference mask formula, sharp at the fixation, differentiable, batched."""

import numpy as np
import pytest
import torch

from neuroattn.retina import (
    EccentricityFoveation,
    GaussianFoveation,
    fovea_grid,
    gaussian_blur,
    gaussian_fovea,
    pixels_to_fovea,
    update_memory,
)


@pytest.fixture
def images():
    return torch.rand(2, 3, 33, 49, generator=torch.Generator().manual_seed(0),
                      dtype=torch.float64)


def test_gaussian_fovea_has_no_factor_two():
    rows, cols = fovea_grid((33, 49), dtype=torch.float64)
    g = gaussian_fovea(torch.tensor([[0.25, -0.5]], dtype=torch.float64), (33, 49), sigma=0.2)
    expected = torch.exp(-((rows - 0.25) ** 2 + (cols + 0.5) ** 2) / 0.2)
    torch.testing.assert_close(g[0], expected)


def test_mask_is_zero_at_the_fixation_and_one_far_away(images):
    fov = GaussianFoveation(sigma=0.05, blur_size=9, blur_sigma=3.0)
    xy = torch.tensor([[12.0, 8.0], [30.0, 20.0]], dtype=torch.float64)  # pixel centres
    out = fov(images, xy)
    blurred = gaussian_blur(images, 9, 3.0)
    for b, (x, y) in enumerate(xy.long().tolist()):
        torch.testing.assert_close(out[b, :, y, x], images[b, :, y, x])  # mask = 0: exact
    far = out[0, :, 30, 45], blurred[0, :, 30, 45]  # d² ≈ 3.2: mask = 1 - e^-64 = 1
    torch.testing.assert_close(*far)


def test_reference_stimulus_formula_with_memory(images):
    fov = GaussianFoveation()
    size = (33, 49)
    memory = torch.rand(2, *size, dtype=torch.float64) * 0.5
    xy = torch.tensor([[5.0, 5.0], [40.0, 25.0]], dtype=torch.float64)
    g = gaussian_fovea(pixels_to_fovea(xy, size), size, sigma=0.2)
    mask = torch.clamp(1 - (memory + g), 0, 1)[:, None]
    blurred = gaussian_blur(images, 41, 10.0)
    expected = images + (blurred - images) * mask
    torch.testing.assert_close(fov(images, xy, memory), expected)


@pytest.mark.parametrize("model", [GaussianFoveation(sigma=0.1, blur_size=9, blur_sigma=3.0),
                                   EccentricityFoveation(e2=0.1)])
def test_gradient_wrt_fixation_is_finite_and_nonzero(images, model):
    xy = torch.tensor([[20.0, 10.0], [10.0, 20.0]], dtype=torch.float64, requires_grad=True)
    loss = model(images, xy).pow(2).sum()
    (grad,) = torch.autograd.grad(loss, xy)
    assert torch.isfinite(grad).all() and (grad.abs() > 0).all()


@pytest.mark.parametrize("model", [GaussianFoveation.for_image_size(49), EccentricityFoveation()])
def test_many_fixations_per_image_equal_one_at_a_time(images, model):
    xy = torch.tensor([[[3.0, 4.0], [20.0, 30.0], [48.0, 0.0]],
                       [[10.0, 10.0], [0.0, 32.0], [24.0, 16.0]]], dtype=torch.float64)
    together = model(images, xy)
    assert together.shape == (2, 3, 3, 33, 49)
    for k in range(3):
        torch.testing.assert_close(together[:, k], model(images, xy[:, k]))


def test_eccentricity_blur_grows_with_eccentricity():
    image = torch.rand(1, 3, 65, 129, generator=torch.Generator().manual_seed(3))
    out = EccentricityFoveation(e2=0.1)(image, torch.tensor([[0.0, 32.0]]))  # left edge
    torch.testing.assert_close(out[0, :, 32, 0], image[0, :, 32, 0])
    detail = (out[0, :, :, 1:] - out[0, :, :, :-1]).pow(2).mean((0, 1))  # per column
    bands = [float(detail[i:i + 16].mean()) for i in range(0, 112, 16)]
    assert bands[0] > 3 * bands[1] > 3 * bands[2]  # the fall-off is steep near the fovea
    assert max(bands[3:]) < bands[2]


def test_memory_recursion():
    a = [torch.full((1, 2, 2), float(v)) for v in (1.0, 2.0, 4.0)]
    memory = None
    for acuity in a:
        memory = update_memory(memory, acuity, 0.5)
    assert float(memory[0, 0, 0]) == pytest.approx(0.25 * 1 + 0.5 * 2 + 4)
    assert float(update_memory(memory, a[0], 0.0)[0, 0, 0]) == 1.0
    with pytest.raises(ValueError, match="forgetting"):
        update_memory(None, a[0], 1.5)


def test_bad_input_is_refused(images):
    fov = GaussianFoveation()
    with pytest.raises(ValueError, match="B = 2"):
        fov(images, torch.zeros(3, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="batch, channels"):
        fov(images[0], torch.zeros(1, 2))
    with pytest.raises(ValueError, match="> 0"):
        GaussianFoveation(sigma=0.0)
    with pytest.raises(ValueError, match="e2"):
        EccentricityFoveation(e2=-1.0)
    assert np.isfinite(float(fov(images, torch.zeros(2, 2, dtype=torch.float64)).sum()))
