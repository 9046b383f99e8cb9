"""LogPolar: rotation = column roll, zoom = row shift about the fixation, batched, invertible.

The equivariances are checked on a smooth analytic square image and on non-square real
photographs (scikit-image's bundled ones): the retina is isotropic in pixels, its rings
are circles on any image.
"""

import math

import pytest
import torch

from neuroattn.errors import ParameterError
from neuroattn.retina.blur import gaussian_blur
from neuroattn.retina.logpolar import LogPolar
from neuroattn.retina.sampling import rotate_zoom_about

SIZE = 224


def smooth_image(transform=lambda u, v: (u, v), size=SIZE):
    """A smooth analytic RGB image, evaluated at ``transform`` of grid units (u, v)."""
    coords = (torch.arange(size, dtype=torch.float64) + 0.5) * 2 / size - 1
    v, u = torch.meshgrid(coords, coords, indexing="ij")
    u, v = transform(u, v)
    channels = [torch.cos(3 * u + 1.3 * v) * torch.exp(-(u**2 + v**2)),
                torch.sin(2.1 * u - 2.6 * v + 0.4),
                torch.exp(-((u - 0.3) ** 2 + (v + 0.2) ** 2) / 0.1)]
    return torch.stack(channels)[None]


def about(centre, matrix):
    cu, cv = centre

    def transform(u, v):
        du, dv = u - cu, v - cv
        (a, b), (c, d) = matrix
        return cu + a * du + b * dv, cv + c * du + d * dv
    return transform


def inner_rows(lp, limit=0.9):
    radii = 2.0 ** torch.linspace(lp.log2_r_max, lp.log2_r_min, lp.n_radii)
    return radii < limit


@pytest.mark.parametrize("k", [8, 31])
def test_rotation_about_the_fixation_rolls_the_columns(k):
    lp = LogPolar(SIZE, SIZE, log2_r_max=0.0, log2_r_min=-5.0).double()
    alpha = 2 * math.pi * k / SIZE
    c, s = math.cos(-alpha), math.sin(-alpha)   # content rotated by +alpha (x right, y down)
    base = lp(smooth_image())
    turned = lp(smooth_image(about((0.0, 0.0), ((c, -s), (s, c)))))
    rows = inner_rows(lp)
    err = (turned - base.roll(k, dims=-1))[..., rows, :].abs().max()
    assert err < 3e-3                                   # bilinear interpolation error only
    assert (turned - base)[..., rows, :].abs().max() > 0.1   # the roll is what matches


def test_rotation_about_an_off_centre_fixation():
    lp = LogPolar(96, 96, log2_r_max=-1.0, log2_r_min=-5.0).double()
    fixation_px = torch.tensor([[140.0, 80.0]], dtype=torch.float64)
    centre = ((140.0 + 0.5) * 2 / SIZE - 1, (80.0 + 0.5) * 2 / SIZE - 1)
    k = 12
    alpha = 2 * math.pi * k / 96
    c, s = math.cos(-alpha), math.sin(-alpha)
    base = lp(smooth_image(), fixation_px)
    turned = lp(smooth_image(about(centre, ((c, -s), (s, c)))), fixation_px)
    assert (turned - base.roll(k, dims=-1)).abs().max() < 3e-3


@pytest.mark.parametrize("m", [5, 20])
def test_zoom_about_the_fixation_shifts_the_rows(m):
    lp = LogPolar(SIZE, SIZE, log2_r_max=0.0, log2_r_min=-5.0).double()
    scale = 2.0 ** (m * lp.row_step)
    base = lp(smooth_image())
    zoomed = lp(smooth_image(about((0.0, 0.0), ((1 / scale, 0), (0, 1 / scale)))))
    # zoomed content at radius r is the original at r / scale: row i reads row i + m.
    rows = inner_rows(lp)[:-m]
    err = (zoomed[..., :-m, :] - base[..., m:, :])[..., rows, :].abs().max()
    assert err < 3e-3
    assert (zoomed - base)[..., inner_rows(lp), :].abs().max() > 0.05


def test_supersampled_retina_keeps_both_equivariances_in_output_units():
    lp = LogPolar(56, 48, log2_r_max=0.0, log2_r_min=-5.0, supersample=3).double()
    k, m = 5, 4
    alpha = 2 * math.pi * k / 48
    c, s = math.cos(-alpha), math.sin(-alpha)
    base = lp(smooth_image())
    assert base.shape == (1, 3, 56, 48)
    turned = lp(smooth_image(about((0.0, 0.0), ((c, -s), (s, c)))))
    rows = 2.0 ** (torch.linspace(0, -5, 56 * 3)[::3]) < 0.85   # outermost sample of each row
    assert (turned - base.roll(k, dims=-1))[..., rows, :].abs().max() < 3e-3
    scale = 2.0 ** (m * lp.row_step)
    zoomed = lp(smooth_image(about((0.0, 0.0), ((1 / scale, 0), (0, 1 / scale)))))
    assert (zoomed[..., :-m, :] - base[..., m:, :])[..., rows[:-m], :].abs().max() < 3e-3
    # block averages of the point-sampled fine grid, and an inverse on the block centres
    fine = LogPolar(56 * 3, 48 * 3, log2_r_max=0.0, log2_r_min=-5.0).double()
    torch.testing.assert_close(base, torch.nn.functional.avg_pool2d(fine(smooth_image()), 3))
    back = lp.inverse(base, (SIZE, SIZE))
    coords = (torch.arange(SIZE, dtype=torch.float64) + 0.5) * 2 / SIZE - 1
    v, u = torch.meshgrid(coords, coords, indexing="ij")
    ring = ((u**2 + v**2).sqrt() > 2.0**-4) & ((u**2 + v**2).sqrt() < 0.85)
    assert (back - smooth_image())[..., ring].abs().max() < 0.05


def photograph(name, transpose=False):
    """A scikit-image photograph, (1, C, H, W) float64 in [0, 1], lightly anti-aliased."""
    data = pytest.importorskip("skimage.data")
    image = torch.from_numpy(getattr(data, name)()).double() / 255
    image = image.permute(2, 0, 1) if image.ndim == 3 else image[None]
    if transpose:                                        # portrait instead of landscape
        image = image.transpose(1, 2)
    # a 1 px Gaussian before resampling: bilinear rotation of raw pixels adds 1-5 % error
    return gaussian_blur(image[None].contiguous(), 9, 1.0)


NON_SQUARE = [("coffee", False), ("coffee", True), ("chelsea", False), ("page", False)]
"""400 x 600 and 600 x 400 RGB, 300 x 451 RGB, 191 x 384 grey."""


def off_centre_view(image, n_radii=96, n_angles=64):
    """A retina over the whole field, an off-centre fixation and the rows whose circle fits."""
    height, width = image.shape[-2:]
    lp = LogPolar(n_radii, n_angles, log2_r_max=0.0, log2_r_min=-5.0).double()
    fix = torch.tensor([[0.6 * width, 0.42 * height]], dtype=torch.float64)
    room = min(fix[0, 0], width - 1 - fix[0, 0], fix[0, 1], height - 1 - fix[0, 1]) - 2
    return lp, fix, lp.radii_px((height, width)) < room


def relative(a, b):
    return float((a - b).norm() / b.norm())


@pytest.mark.parametrize(("name", "transpose"), NON_SQUARE)
@pytest.mark.parametrize("k", [5, 21])
def test_rotation_rolls_the_columns_on_non_square_photographs(name, transpose, k):
    # Measured (seedless, deterministic): relative error 0.003-0.012 with pixel-isotropic
    # radii, against 0.19-0.63 with the former radii in normalised grid units (ellipses);
    # 0.21-0.95 without the roll.
    image = photograph(name, transpose)
    lp, fix, rows = off_centre_view(image)
    base = lp(image, fix)[..., rows, :]
    turned = lp(rotate_zoom_about(image, fix, degrees=360 * k / lp.n_angles), fix)[..., rows, :]
    assert relative(turned, base.roll(-k, dims=-1)) < 0.02   # counter-clockwise: roll by -k
    assert relative(turned, base) > 0.15                    # the roll is what matches


@pytest.mark.parametrize(("name", "transpose"), NON_SQUARE)
def test_zoom_shifts_the_rows_on_non_square_photographs(name, transpose):
    # Measured: relative error 0.002-0.010 for m = 4 and 10 rows.
    image = photograph(name, transpose)
    lp, fix, rows = off_centre_view(image)
    m = 6
    base = lp(image, fix)[..., rows, :]
    zoomed = lp(rotate_zoom_about(image, fix, zoom=2.0 ** (m * lp.row_step)), fix)[..., rows, :]
    assert relative(zoomed[..., :-m, :], base[..., m:, :]) < 0.015
    assert relative(zoomed[..., :-m, :], base[..., :-m, :]) > 0.05


@pytest.mark.parametrize(("size", "field_px", "radius_px"),
                         [((40, 90), None, 20.0), ((90, 40), None, 20.0), ((40, 90), 12.5, 12.5)])
def test_rings_are_circles_in_pixels_of_the_stated_field(size, field_px, radius_px):
    height, width = size
    fix = torch.tensor([[0.55 * (width - 1), 0.45 * (height - 1)]], dtype=torch.float64)
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float64),
                            torch.arange(width, dtype=torch.float64), indexing="ij")
    squared = ((xs - fix[0, 0]) ** 2 + (ys - fix[0, 1]) ** 2)[None, None]   # px² from fixation
    lp = LogPolar(24, 32, log2_r_max=-0.5, log2_r_min=-3.0, field_px=field_px).double()
    radii = lp.radii_px(size)
    torch.testing.assert_close(radii[0], torch.tensor(2.0**-0.5 * radius_px, dtype=radii.dtype))
    view = lp(squared, fix)[0, 0]
    # bilinear interpolation of x² + y² overshoots by at most 2 x 1/4 px²
    assert (view - radii[:, None] ** 2).abs().max() <= 0.5 + 1e-9


def test_square_images_are_sampled_on_the_reference_grid():
    # The reference, in words: radii 2^linspace(0, -5, N), angles 2π j / N, the grid
    # (r cos θ, r sin θ) in grid_sample's normalised units, read at the image centre.
    n, size = 48, 64
    radii = 2.0 ** torch.linspace(0.0, -5.0, n, dtype=torch.float64)
    angles = 2 * math.pi * torch.arange(n, dtype=torch.float64) / n
    grid = torch.stack([radii[:, None] * torch.cos(angles), radii[:, None] * torch.sin(angles)],
                       -1)[None]
    image = smooth_image(size=size)
    reference = torch.nn.functional.grid_sample(image, grid, align_corners=False)
    ours = LogPolar(n, n).double()(image)
    torch.testing.assert_close(ours, reference, atol=1e-6, rtol=0)


def test_many_fixations_equal_one_at_a_time():
    lp = LogPolar(20, 24)
    images = torch.rand(2, 3, 50, 70, generator=torch.Generator().manual_seed(0))
    fix = torch.tensor([[[10.0, 5.0], [35.0, 25.0], [69.0, 49.0]],
                        [[0.0, 0.0], [20.0, 40.0], [60.0, 10.0]]])
    together = lp(images, fix)
    for k in range(3):
        torch.testing.assert_close(together[:, k], lp(images, fix[:, k]))


def test_inverse_recovers_the_image_inside_the_annulus():
    lp = LogPolar(SIZE, SIZE, log2_r_max=0.0, log2_r_min=-5.0).double()
    image = smooth_image()
    back = lp.inverse(lp(image), (SIZE, SIZE))
    coords = (torch.arange(SIZE, dtype=torch.float64) + 0.5) * 2 / SIZE - 1
    v, u = torch.meshgrid(coords, coords, indexing="ij")
    radius = torch.sqrt(u**2 + v**2)
    ring = (radius > 2.0**-4) & (radius < 0.9)
    assert (back - image)[..., ring].abs().max() < 0.02
    assert back[..., radius > 1.05].abs().max() == 0


def test_gradients_reach_images_and_fixations():
    lp = LogPolar(16, 16)
    images = torch.rand(1, 3, 32, 32, requires_grad=True)
    fix = torch.tensor([[12.3, 17.8]], requires_grad=True)
    lp(images, fix).pow(2).sum().backward()
    assert images.grad.abs().sum() > 0 and torch.isfinite(fix.grad).all()


def test_bad_parameters_and_input_are_refused():
    with pytest.raises(ParameterError, match="field_px"):
        LogPolar(8, 8, field_px=0.0)
    with pytest.raises(ValueError, match="periphery to the fovea"):
        LogPolar(log2_r_max=-5.0, log2_r_min=0.0)
    with pytest.raises(ValueError, match="n_radii"):
        LogPolar(1, 10)
    lp = LogPolar(8, 8)
    with pytest.raises(ValueError, match="B = 2"):
        lp(torch.rand(2, 3, 16, 16), torch.zeros(3, 2))
    with pytest.raises(ValueError, match="batch, channels"):
        lp(torch.rand(3, 16, 16))
    with pytest.raises(ValueError, match="retinal images"):
        lp.inverse(torch.rand(1, 3, 9, 8), (16, 16))
