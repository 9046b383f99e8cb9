"""NeVA search mechanics: step size, memory recursion, coordinates, batching, restarts."""

import numpy as np
import pytest
import torch

from neuroattn.gaze.neva import neva_search, search_chunk_size
from neuroattn.retina import GaussianFoveation, gaussian_fovea, pixels_to_fovea


class Recording(GaussianFoveation):
    """The reference fovea that records every position and acuity map it renders."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.positions, self.acuities = [], []

    def acuity(self, fovea, size):
        self.positions.append(fovea.detach().clone())
        return super().acuity(fovea, size)

    def render(self, levels, acuity):
        self.acuities.append(acuity.detach().clone())
        return super().render(levels, acuity)


def sharpness(foveated, item):
    """Prefer high-frequency energy: fixate textured regions."""
    return -(foveated[..., 1:] - foveated[..., :-1]).pow(2).sum((1, 2, 3))


def patch_images(corners, size=(40, 56), dtype=torch.float64):
    gen = torch.Generator().manual_seed(0)
    images = torch.full((len(corners), 3, *size), 0.5, dtype=dtype)
    for b, (x0, y0) in enumerate(corners):
        images[b, :, y0:y0 + 10, x0:x0 + 10] = torch.rand(3, 10, 10, generator=gen,
                                                          dtype=dtype)
    return images


def test_sign_steps_move_each_coordinate_by_exactly_lr():
    fov = Recording(sigma=0.2, blur_size=9, blur_sigma=3.0)
    neva_search(sharpness, patch_images([(30, 20)]), foveation=fov, n_fixations=1, steps=6,
                lr=0.07, restarts="none", bounded=False, device="cpu")
    path = torch.cat(fov.positions[:6])  # the six evaluated positions of the one chain
    assert torch.equal(path[0], torch.zeros(2, dtype=path.dtype))  # starts at the centre
    torch.testing.assert_close(path.diff(dim=0).abs(), torch.full((5, 2), 0.07,
                                                                  dtype=path.dtype))


def test_memory_follows_the_forgetting_recursion():
    fov = Recording(sigma=0.2, blur_size=9, blur_sigma=3.0)
    steps, forgetting = 3, 0.6
    images = patch_images([(5, 5)])
    result = neva_search(sharpness, images, foveation=fov, n_fixations=4, steps=steps,
                         forgetting=forgetting, device="cpu")
    size = images.shape[-2:]
    fovea = torch.from_numpy(result.fovea[0])
    gauss = gaussian_fovea(fovea, tuple(size), sigma=0.2)
    centre = gaussian_fovea(torch.zeros(1, 2, dtype=torch.float64), tuple(size), sigma=0.2)[0]
    for t in range(1, 4):
        memory = fov.acuities[t * steps][0] - centre  # first evaluation of fixation t
        expected = sum(forgetting ** (t - 1 - k) * gauss[k] for k in range(t))
        torch.testing.assert_close(memory, expected)


def test_without_forgetting_only_the_last_fixation_is_remembered():
    fov = Recording(sigma=0.2, blur_size=9, blur_sigma=3.0)
    images = patch_images([(5, 5)])
    result = neva_search(sharpness, images, foveation=fov, n_fixations=3, steps=2,
                         device="cpu")
    last = gaussian_fovea(torch.from_numpy(result.fovea[0, 1:2]), (40, 56), sigma=0.2)[0]
    centre = gaussian_fovea(torch.zeros(1, 2, dtype=torch.float64), (40, 56), sigma=0.2)[0]
    torch.testing.assert_close(fov.acuities[4][0] - centre, last)


def test_coordinates_are_pixel_x_then_y():
    # A texture at the bottom left of a wide image: x small, y large; row > 0, col < 0.
    result = neva_search(sharpness, patch_images([(3, 28)]), n_fixations=1, seed=0,
                         device="cpu")
    x, y = result.fixations[0, 0]
    assert 3 <= x <= 13 and 28 <= y <= 38
    row, col = result.fovea[0, 0]
    assert row > 0 > col
    np.testing.assert_allclose(pixels_to_fovea(result.fixations, (40, 56)), result.fovea)


@pytest.mark.parametrize(("optimizer", "restarts", "n_starts"),
                         [("sign", "random", 1), ("adam", "random", 2), ("sign", "jitter", 1)])
def test_batched_search_equals_one_image_at_a_time(optimizer, restarts, n_starts):
    images = patch_images([(40, 2), (3, 28), (20, 15)])
    kwargs = dict(n_fixations=3, steps=5, optimizer=optimizer, restarts=restarts,
                  n_starts=n_starts, forgetting=0.3, device="cpu")
    batched = neva_search(sharpness, images, seed=10, chunk_bytes=None, **kwargs)
    for i in range(3):
        single = neva_search(sharpness, images[i:i + 1], seed=10 + i, **kwargs)
        np.testing.assert_allclose(batched.fixations[i], single.fixations[0], atol=1e-9)
        np.testing.assert_allclose(batched.losses[i], single.losses[0], rtol=1e-9)
    chunked = neva_search(sharpness, images, seed=10, batch_size=2, **kwargs)
    np.testing.assert_allclose(chunked.fixations, batched.fixations, atol=1e-9)
    one_row = images[0].numel() * images.element_size() * n_starts  # cache chunks of 1 image
    assert search_chunk_size(images, n_starts=n_starts, chunk_bytes=one_row + 1) == 1
    cached = neva_search(sharpness, images, seed=10, chunk_bytes=one_row + 1, **kwargs)
    np.testing.assert_allclose(cached.fixations, batched.fixations, atol=1e-9)


def test_best_loss_is_never_worse_than_the_centre_start():
    images = patch_images([(40, 2), (3, 28)])
    fov = Recording(sigma=0.2, blur_size=9, blur_sigma=3.0)
    result = neva_search(sharpness, images, foveation=fov, n_fixations=1, steps=8,
                         device="cpu")
    rendered = fov.render(fov.levels(images), fov.acuities[0])
    start = sharpness(rendered, torch.arange(2)).numpy()
    assert (result.losses[:, 0] <= start + 1e-12).all()


def test_stop_below_ends_scanpaths_early():
    images = patch_images([(40, 2), (3, 28)])
    result = neva_search(sharpness, images, n_fixations=5, steps=4, stop_below=0.0,
                         device="cpu")
    assert result.lengths.tolist() == [1, 1]
    assert np.isnan(result.fixations[:, 1:]).all()
    assert [len(p) for p in result.scanpaths()] == [1, 1]


def test_positions_stay_inside_the_image_unless_unbounded():
    def run_away(foveated, item):  # rewards blur everywhere: the fovea wants to leave
        return -sharpness(foveated, item)
    images = torch.rand(1, 3, 40, 56, generator=torch.Generator().manual_seed(0))
    bounded = neva_search(run_away, images, n_fixations=1, steps=30, restarts="none",
                          device="cpu")
    free = neva_search(run_away, images, n_fixations=1, steps=30, restarts="none",
                       bounded=False, device="cpu")
    assert (bounded.fovea <= 1.0).all() and np.abs(free.fovea).max() > 1.0
    stepped = neva_search(run_away, images, n_fixations=1, steps=30, restarts="none",
                          record="after_step", device="cpu")
    assert (np.abs(stepped.fovea) <= 1.0).all()


def test_bad_input_is_refused():
    images = patch_images([(5, 5)])
    with pytest.raises(ValueError, match="batch, channels"):
        neva_search(sharpness, images[0])
    bad = images.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        neva_search(sharpness, bad)
    with pytest.raises(ValueError, match="optimizer"):
        neva_search(sharpness, images, optimizer="sgd")
    with pytest.raises(ValueError, match="restarts"):
        neva_search(sharpness, images, restarts="sometimes")
    with pytest.raises(ValueError, match="after_step"):
        neva_search(sharpness, images, record="best")
    with pytest.raises(ValueError, match="batch_size"):
        neva_search(sharpness, images, batch_size=0)
    with pytest.raises(ValueError, match="chunk_bytes"):
        neva_search(sharpness, images, chunk_bytes=0)
    with pytest.raises(ValueError, match="n_fixations"):
        neva_search(sharpness, images, n_fixations=0)
    with pytest.raises(ValueError, match="one per image"):
        neva_search(sharpness, images, seed=[1, 2])
    with pytest.raises(ValueError, match="one loss per foveated image"):
        neva_search(lambda fov, item: fov.sum(), images, n_fixations=1, steps=1, device="cpu")
