"""Fixation crops and rotation/zoom about a centre: exact pixel alignment, torchvision's way."""

import pytest
import torch
import torchvision.transforms.functional as TF

from neuroattn.errors import ParameterError
from neuroattn.retina.sampling import FixationCrop, rotate_zoom_about


def test_a_crop_is_the_pixel_block_around_the_fixation():
    images = torch.rand(2, 3, 64, 64)
    whole = FixationCrop(64, log2_radius=0.0)(images)
    torch.testing.assert_close(whole, images)
    # 16 px spanning +-8 px (radius 2^-2 of the 32 px half-side) around (23.5, 31.5)
    crop = FixationCrop(16, log2_radius=-2.0)(images, torch.tensor([[23.5, 31.5]] * 2))
    torch.testing.assert_close(crop, images[..., 24:40, 16:32])
    many = FixationCrop(16, log2_radius=-2.0)(images, torch.tensor([[[23.5, 31.5]] * 3] * 2))
    assert many.shape == (2, 3, 3, 16, 16)
    torch.testing.assert_close(many[:, 2], crop)


@pytest.mark.parametrize("size", [(48, 80), (80, 48)])
def test_a_crop_is_square_in_pixels_on_non_square_images(size):
    images = torch.rand(2, 3, *size)
    # the default field is half the shorter side, 24 px: 2^-1 of it is +-12 px, along x and y
    crop = FixationCrop(24, log2_radius=-1.0)(images, torch.tensor([[29.5, 23.5]] * 2))
    torch.testing.assert_close(crop, images[..., 12:36, 18:42])
    fixed = FixationCrop(10, log2_radius=0.0, field_px=5.0)(images,
                                                            torch.tensor([[20.5, 30.5]] * 2))
    torch.testing.assert_close(fixed, images[..., 26:36, 16:26])


@pytest.mark.parametrize(("degrees", "zoom"), [(30.0, 1.0), (-50.0, 0.8), (0.0, 1.3)])
def test_rotate_zoom_matches_torchvision_affine(degrees, zoom):
    torch.manual_seed(0)
    image = torch.nn.functional.interpolate(torch.rand(1, 2, 12, 16), (48, 64), mode="bilinear")
    ours = rotate_zoom_about(image, torch.tensor([[29.5, 19.5]]), degrees=degrees, zoom=zoom)
    # torchvision's centre is in corner coordinates: pixel centre (29.5, 19.5) is (30, 20);
    # its affine turns clockwise (its rotate counter-clockwise, as ours)
    ref = TF.affine(image, angle=-degrees, translate=[0, 0], scale=zoom, shear=[0.0],
                    center=[30, 20], interpolation=TF.InterpolationMode.BILINEAR)
    inside = (ref > 0) & (ours > 0)
    assert inside.float().mean() > 0.4
    torch.testing.assert_close(ours[inside], ref[inside], atol=1e-4, rtol=0)


def test_rotation_is_per_image_about_its_own_centre():
    images = torch.zeros(2, 1, 9, 9)
    images[0, 0, 2, 5] = images[1, 0, 6, 7] = 1.0          # right of (3, 2) and of (5, 6)
    out = rotate_zoom_about(images, torch.tensor([[3.0, 2.0], [5.0, 6.0]]), degrees=90)
    lit = out > 1e-5                                        # float32 grid rounding: ~1e-7
    assert lit[0, 0].nonzero().tolist() == [[0, 3]] and lit[1, 0].nonzero().tolist() == [[4, 5]]


def test_one_angle_per_image_equals_one_call_per_angle():
    torch.manual_seed(0)
    images, centres = torch.rand(3, 2, 20, 30), torch.tensor([[10.0, 8.0], [14.5, 9.5], [3.0, 4.0]])
    angles = torch.tensor([33.75, -101.25, 180.0])
    together = rotate_zoom_about(images, centres, degrees=angles, zoom=1.2)
    for i, angle in enumerate(angles.tolist()):
        alone = rotate_zoom_about(images[i:i + 1], centres[i:i + 1], degrees=angle, zoom=1.2)
        torch.testing.assert_close(together[i:i + 1], alone)


def test_bad_inputs_are_named():
    with pytest.raises(ParameterError, match="one per image"):
        rotate_zoom_about(torch.rand(2, 1, 8, 8), torch.zeros(2, 2), degrees=torch.zeros(3))
    with pytest.raises(ParameterError, match="field_px"):
        FixationCrop(8, field_px=float("nan"))
    with pytest.raises(ValueError, match="centres"):
        rotate_zoom_about(torch.rand(2, 1, 8, 8), torch.zeros(3, 2))
    with pytest.raises(ValueError, match="zoom"):
        rotate_zoom_about(torch.rand(1, 1, 8, 8), torch.zeros(1, 2), zoom=0.0)
    with pytest.raises(ValueError, match="fixations must be"):
        FixationCrop(8)(torch.rand(2, 1, 8, 8), torch.zeros(3, 2))
