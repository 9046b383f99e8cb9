"""Foveated ResNets: angle-only circular padding, exact roll invariance, checkpoints, control."""

import pytest
import torch
import torchvision

from neuroattn.retina import LogPolar
from neuroattn.retina.foveated_cnn import (
    AnglePeriodicPad,
    CartesianResNet,
    FoveatedResNet,
    angle_periodic,
    circular_aperture,
    resnet,
)


def test_padding_wraps_the_angle_but_never_the_radius():
    torch.manual_seed(0)
    conv = angle_periodic(torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3, padding=1)))
    x = torch.rand(1, 2, 10, 12)
    torch.testing.assert_close(conv(x.roll(5, -1)), conv(x).roll(5, -1))
    far = x.clone()
    far[..., -1, :] += 10.0  # change the fovea row: the periphery row must not notice
    torch.testing.assert_close(conv(far)[..., 0, :], conv(x)[..., 0, :])
    assert isinstance(conv[0][0], AnglePeriodicPad)


def backbone_logits(net, x):
    with torch.no_grad():
        return net.backbone(x)


def test_resnet_logits_are_invariant_to_rolls_by_its_stride():
    torch.manual_seed(0)
    net = FoveatedResNet("resnet18", num_classes=5, log_polar=LogPolar(64, 64)).eval()
    x = torch.rand(2, 3, 64, 64)
    base = backbone_logits(net, x)
    torch.testing.assert_close(backbone_logits(net, x.roll(32, -1)), base, atol=1e-5, rtol=1e-4)
    assert (backbone_logits(net, x.roll(5, -1)) - base).abs().max() > 1e-4


def test_rotation_invariant_head_is_invariant_to_every_roll():
    torch.manual_seed(0)
    net = FoveatedResNet("resnet18", num_classes=5, log_polar=LogPolar(32, 24),
                         rotation_invariant=True).eval()
    x = torch.rand(2, 3, 32, 24)
    base = backbone_logits(net, x)
    for k in (1, 5, 13):
        torch.testing.assert_close(backbone_logits(net, x.roll(k, -1)), base, atol=1e-5,
                                   rtol=1e-4)


def test_fixation_scans_are_one_batched_pass():
    torch.manual_seed(0)
    net = FoveatedResNet("resnet18", num_classes=4, log_polar=LogPolar(32, 32)).eval()
    images = torch.rand(2, 3, 48, 48)
    fix = torch.rand(2, 3, 2) * 47
    with torch.no_grad():
        scan = net(images, fix)
        assert scan.shape == (2, 3, 4)
        torch.testing.assert_close(scan[:, 1], net(images, fix[:, 1]), atol=1e-5, rtol=1e-4)


def test_cartesian_control_sees_only_the_inscribed_disc():
    torch.manual_seed(0)
    control = CartesianResNet("resnet18", num_classes=3).eval()
    x = torch.rand(1, 3, 64, 64)
    corner = x.clone()
    corner[..., :4, :4] = 5.0  # outside the disc
    with torch.no_grad():
        torch.testing.assert_close(control(corner), control(x))
    assert circular_aperture(torch.ones(1, 1, 8, 8)).sum() < 64


def test_local_checkpoints_load_and_foreign_ones_are_refused(tmp_path):
    path = tmp_path / "resnet18.pth"
    reference = torchvision.models.resnet18(weights=None)
    torch.save(reference.state_dict(), path)
    net = resnet("resnet18", weights=path)
    torch.testing.assert_close(net.conv1.weight, reference.conv1.weight)
    assert resnet("resnet18", num_classes=7, weights=path).fc.out_features == 7
    with pytest.raises(ValueError, match="not a torchvision resnet50"):
        resnet("resnet50", weights=path)
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        resnet("resnet18", weights=tmp_path / "missing.pth")
    with pytest.raises(ValueError, match="arch must be"):
        resnet("vgg16")
