"""Foveated CNNs: torchvision ResNets behind the log-polar transform, padded for its geometry.

A log-polar image has two different axes: the angle (columns) is periodic,
the radius (rows) is not (row 0 is the periphery, the last row the fovea).
:func:`angle_periodic` rebuilds every convolution and max-pool of a network so
that it pads **circularly along the angle only** and with zeros (``-inf`` for
max-pools) along the radius. Padding both axes circularly, as the reference
helper does, would wrap the periphery into the fovea.

With circular angle padding the network commutes with a roll of the columns
whenever the roll is a multiple of its cumulative angle stride (32 for a
ResNet), so after global pooling its logits are **exactly** invariant to
rotations about the fixation by multiples of ``2π·32/N``.
``rotation_invariant=True`` sets every stride along the angle to 1, which
makes the logits invariant to a roll by **any** number of columns, so to every
rotation by ``2πk/N`` (at 32x the compute of the last stages).

:class:`FoveatedResNet` is the transform plus such a ResNet, from scratch or
from a local torchvision checkpoint (nothing is downloaded). :class:`CartesianResNet`
is the control: the same ResNet on the image itself, behind the same circular
aperture (the disc inscribed in the image, in pixels), with ordinary padding.

Examples
--------
>>> import torch
>>> from neuroattn.retina.logpolar import LogPolar
>>> net = FoveatedResNet("resnet18", num_classes=10, log_polar=LogPolar(64, 64))
>>> net(torch.rand(2, 3, 96, 96)).shape
torch.Size([2, 10])
>>> net(torch.rand(2, 3, 96, 96), torch.rand(2, 5, 2) * 95).shape   # 5 fixations per image
torch.Size([2, 5, 10])
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from neuroattn.errors import InputNotFoundError, NeuroattnError, ParameterError
from neuroattn.nn.pretrained import PretrainedMixin, init_arguments
from neuroattn.retina.logpolar import LogPolar
from neuroattn.retina.sampling import FixationCrop

__all__ = ["ARCHITECTURES", "AnglePeriodicPad", "CartesianResNet", "FoveatedResNet",
           "ResNetWeightsError", "angle_periodic", "circular_aperture", "resnet"]

ARCHITECTURES = ("resnet18", "resnet50", "resnet101")


class ResNetWeightsError(NeuroattnError, ValueError):
    """A ResNet weights file that is not a weights-only torchvision state dict of that arch."""


class AnglePeriodicPad(nn.Module):
    """Pad ``(B, C, radius, angle)`` maps: circular along the angle, constant along the radius."""

    def __init__(self, radius: int, angle: int, value: float = 0.0) -> None:
        super().__init__()
        self.radius, self.angle, self.value = int(radius), int(angle), float(value)

    def extra_repr(self) -> str:
        return f"radius={self.radius}, angle={self.angle}, value={self.value}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.angle:
            x = F.pad(x, (self.angle, self.angle, 0, 0), mode="circular")
        if self.radius:
            x = F.pad(x, (0, 0, self.radius, self.radius), value=self.value)
        return x


def _pair(value: int | tuple[int, ...]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def angle_periodic(module: nn.Module, *, angle_stride_one: bool = False) -> nn.Module:
    """Rebuild ``module`` in place so its convolutions and max-pools pad for log-polar maps.

    Each ``Conv2d``/``MaxPool2d`` with padding becomes ``AnglePeriodicPad`` then
    the same layer without padding (weights kept). ``angle_stride_one`` also
    sets every stride along the angle (last) axis to 1.

    Examples
    --------
    >>> import torch
    >>> net = angle_periodic(torch.nn.Sequential(torch.nn.Conv2d(1, 1, 3, padding=1)))
    >>> x = torch.rand(1, 1, 6, 8)
    >>> torch.allclose(net(x.roll(3, -1)), net(x).roll(3, -1), atol=1e-6)
    True
    """
    for name, child in list(module.named_children()):
        if isinstance(child, nn.Conv2d) and not isinstance(child.padding, str):
            pad_r, pad_a = _pair(child.padding)
            if angle_stride_one:
                child.stride = (_pair(child.stride)[0], 1)
            if pad_r or pad_a:
                child.padding = (0, 0)
                setattr(module, name, nn.Sequential(AnglePeriodicPad(pad_r, pad_a), child))
        elif isinstance(child, nn.MaxPool2d):
            pad_r, pad_a = _pair(child.padding)
            if angle_stride_one:
                child.stride = (_pair(child.stride)[0], 1)
            if pad_r or pad_a:
                child.padding = 0
                setattr(module, name, nn.Sequential(
                    AnglePeriodicPad(pad_r, pad_a, value=float("-inf")), child))
        else:
            angle_periodic(child, angle_stride_one=angle_stride_one)
    return module


def resnet(arch: str = "resnet18", *, num_classes: int = 1000, in_channels: int = 3,
           weights: str | os.PathLike | None = None) -> nn.Module:
    """A torchvision ResNet, random or from a local state-dict file, with ``num_classes`` outputs.

    Parameters
    ----------
    arch : {"resnet18", "resnet50", "resnet101"}
    num_classes : int
        A checkpoint's 1000-class head is replaced when this differs.
    in_channels : int
        Input channels. With ``weights`` only 3 (RGB) or 1 (grey: the RGB
        filters of the first convolution are summed, which is exact for a
        grey image repeated on the three channels).
    weights : path, optional
        A local torchvision ImageNet checkpoint (e.g. ``resnet18-f37072fd.pth``
        saved from ``torchvision.models.resnet18(weights="DEFAULT")``), loaded
        with ``weights_only=True``.

    Raises
    ------
    ResNetWeightsError
        ``weights`` holds pickled objects, is not a torch file, or is not a
        state dict of ``arch``.

    Examples
    --------
    >>> resnet("resnet18", num_classes=3).fc.out_features
    3
    """
    if arch not in ARCHITECTURES:
        raise ParameterError(f"arch={arch!r} is not one of {ARCHITECTURES}; pass one of those.")
    net = getattr(torchvision.models, arch)(weights=None)
    if weights is not None:
        path = Path(weights)
        if not path.is_file():
            raise InputNotFoundError(
                f"ResNet weights {path} do not exist. Save them on a machine with internet "
                f"(torch.save(torchvision.models.{arch}(weights='DEFAULT').state_dict(), "
                "'weights.pth')) and pass that file; nothing is downloaded here.")
        _load_weights(net, path, arch)
    if in_channels != 3:
        if weights is not None and in_channels != 1:
            raise ResNetWeightsError(f"ImageNet weights take 3 (or, summed, 1) input channels, not "
                             f"{in_channels}; pass in_channels=1 or 3, or no weights.")
        rgb = net.conv1
        net.conv1 = nn.Conv2d(in_channels, rgb.out_channels, rgb.kernel_size, rgb.stride,
                              rgb.padding, bias=False)
        if weights is not None:
            with torch.no_grad():
                net.conv1.weight.copy_(rgb.weight.sum(1, keepdim=True))
    if num_classes != net.fc.out_features:
        net.fc = nn.Linear(net.fc.in_features, num_classes)
    return net


def _load_weights(net: nn.Module, path: Path, arch: str) -> None:
    """Load a weights-only state dict into ``net``; refuse pickled objects and foreign files."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types (UnpicklingError, RuntimeError, ...)
        raise ResNetWeightsError(
            f"{path} is not a weights-only state dict ({type(err).__name__}: "
            f"{str(err).strip().splitlines()[0]}); it holds pickled objects or is not a torch "
            f"file, and is never unpickled here. Pass a file saved with torch.save("
            f"torchvision.models.{arch}(weights='DEFAULT').state_dict(), 'weights.pth').") from err
    if not isinstance(state, dict):
        raise ResNetWeightsError(
            f"{path} holds a {type(state).__name__}, not a state dict; save "
            f"torchvision.models.{arch}(weights='DEFAULT').state_dict() instead.")
    try:
        net.load_state_dict(state)
    except RuntimeError as err:
        raise ResNetWeightsError(
            f"{path} is not a torchvision {arch} state dict ({str(err).splitlines()[0]}); pass "
            f"the weights of a torchvision {arch}, or the arch they belong to.") from err


def circular_aperture(images: torch.Tensor) -> torch.Tensor:
    """Zero everything outside the disc inscribed in each image (the Cartesian control's view).

    The disc is centred on the image and its radius is half the shorter side,
    in pixels, so it is a circle on non-square images too (the default field
    of :class:`~neuroattn.retina.logpolar.LogPolar` and
    :class:`~neuroattn.retina.sampling.FixationCrop`).

    Examples
    --------
    >>> import torch
    >>> circular_aperture(torch.ones(1, 1, 4, 4))[0, 0].tolist()
    [[0.0, 1.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0], [0.0, 1.0, 1.0, 0.0]]
    >>> circular_aperture(torch.ones(1, 1, 2, 6))[0, 0].tolist()    # a 2 px disc, not an ellipse
    [[0.0, 0.0, 1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0, 0.0, 0.0]]
    """
    height, width = images.shape[-2:]
    short = min(height, width)
    ys = ((torch.arange(height, device=images.device) + 0.5) * 2 / height - 1) * (height / short)
    xs = ((torch.arange(width, device=images.device) + 0.5) * 2 / width - 1) * (width / short)
    inside = (ys[:, None] ** 2 + xs[None] ** 2) <= 1.0
    return images * inside.to(images.dtype)


class FoveatedResNet(nn.Module, PretrainedMixin):
    """Log-polar transform + angle-periodic ResNet (see the module docstring).

    Parameters
    ----------
    arch : {"resnet18", "resnet50", "resnet101"}
    num_classes : int
    log_polar : LogPolar, optional
        Default: the reference's 224 x 224 grid from the edge to 1/32.
    in_channels : int
        Image channels (see :func:`resnet`).
    weights : path, optional
        Local torchvision checkpoint (see :func:`resnet`).
    rotation_invariant : bool
        Stride 1 along the angle everywhere: logits invariant to any column roll.

    Notes
    -----
    ``save_pretrained(directory)`` writes the arguments (the ``LogPolar``'s
    included, ``weights`` never) to ``config.json`` and the trained weights to
    ``model.safetensors``; ``from_pretrained`` never reads an ImageNet file.
    ``FoveatedResNet.preset("small")`` is the 10-class grey model of the
    tests, the notebook and the analysis (a rotation-invariant 32 x 16 retina).

    Examples
    --------
    >>> import tempfile, torch
    >>> net = FoveatedResNet(num_classes=3, in_channels=1, log_polar=LogPolar(16, 8)).eval()
    >>> again = FoveatedResNet.from_pretrained(net.save_pretrained(tempfile.mkdtemp() + "/f"))
    >>> x = torch.rand(1, 1, 32, 32)
    >>> again.log_polar.n_angles, bool(torch.equal(again.eval()(x), net(x)))
    (8, True)
    """

    model_name = "foveated_resnet"
    presets = {
        "small": dict(arch="resnet18", num_classes=10, in_channels=1, rotation_invariant=True,
                      log_polar=dict(n_radii=32, n_angles=16, log2_r_max=-1.0,
                                     log2_r_min=-5.0, supersample=2)),
        "reference": {},
    }
    """Named sizes: ``"small"`` as in tests/retina, the notebook and the analysis."""

    def __init__(self, arch: str = "resnet18", num_classes: int = 1000, *,
                 log_polar: LogPolar | None = None, in_channels: int = 3,
                 weights: str | os.PathLike | None = None,
                 rotation_invariant: bool = False) -> None:
        super().__init__()
        self.arch, self.num_classes, self.in_channels = arch, int(num_classes), int(in_channels)
        self.log_polar = log_polar or LogPolar()
        self.backbone = angle_periodic(
            resnet(arch, num_classes=num_classes, in_channels=in_channels, weights=weights),
            angle_stride_one=rotation_invariant)
        self.rotation_invariant = rotation_invariant

    def forward(self, images: torch.Tensor, fixations: torch.Tensor | None = None
                ) -> torch.Tensor:
        """Logits ``(B, classes)`` or, for ``(B, K, 2)`` fixations, ``(B, K, classes)``."""
        return _classify(self.backbone, self.log_polar(images, fixations))

    def pretrained_config(self) -> dict[str, Any]:
        """The constructor arguments but ``weights`` (for ``save_pretrained``)."""
        return {"arch": self.arch, "num_classes": self.num_classes,
                "in_channels": self.in_channels, "rotation_invariant": self.rotation_invariant,
                "log_polar": init_arguments(self.log_polar)}

    @classmethod
    def from_pretrained_config(cls, config: dict[str, Any]) -> FoveatedResNet:
        """A randomly initialised model of a :meth:`pretrained_config` dict."""
        config = dict(config)
        log_polar = config.pop("log_polar", None)
        return cls(**config, log_polar=None if log_polar is None else LogPolar(**log_polar))


class CartesianResNet(nn.Module, PretrainedMixin):
    """The control: the same ResNet on the image, behind the inscribed circular aperture.

    Parameters
    ----------
    arch, num_classes, in_channels, weights
        As for :class:`FoveatedResNet`.
    crop : FixationCrop, optional
        View a Cartesian patch around each fixation instead of the whole
        image (then it takes fixations like :class:`FoveatedResNet`, e.g. for
        fixation scans); the aperture is the disc inscribed in the patch.

    Examples
    --------
    >>> import torch
    >>> from neuroattn.retina.sampling import FixationCrop
    >>> net = CartesianResNet(num_classes=10, crop=FixationCrop(32, log2_radius=-1))
    >>> net(torch.rand(2, 3, 96, 96), torch.rand(2, 4, 2) * 95).shape
    torch.Size([2, 4, 10])

    ``save_pretrained`` / ``from_pretrained`` as for :class:`FoveatedResNet`
    (the ``FixationCrop`` settings are saved); ``preset("small")`` is the
    control of the tests, the notebook and the analysis.
    """

    model_name = "cartesian_resnet"
    presets = {
        "small": dict(arch="resnet18", num_classes=10, in_channels=1,
                      crop=dict(size=32, log2_radius=-1.0)),
        "reference": {},
    }
    """Named sizes: ``"small"`` as in tests/retina, the notebook and the analysis."""

    def __init__(self, arch: str = "resnet18", num_classes: int = 1000, *,
                 in_channels: int = 3, weights: str | os.PathLike | None = None,
                 crop: FixationCrop | None = None) -> None:
        super().__init__()
        self.arch, self.num_classes, self.in_channels = arch, int(num_classes), int(in_channels)
        self.crop = crop
        self.backbone = resnet(arch, num_classes=num_classes, in_channels=in_channels,
                               weights=weights)

    def forward(self, images: torch.Tensor, fixations: torch.Tensor | None = None
                ) -> torch.Tensor:
        """Logits ``(B, classes)`` or, for ``(B, K, 2)`` fixations, ``(B, K, classes)``."""
        if self.crop is None:
            if fixations is not None:
                raise ParameterError("this CartesianResNet sees the whole image; build it with "
                                     "crop=FixationCrop(...) to classify around fixations.")
            return self.backbone(circular_aperture(images))
        return _classify(self.backbone, circular_aperture(self.crop(images, fixations)))

    def pretrained_config(self) -> dict[str, Any]:
        """The constructor arguments but ``weights`` (for ``save_pretrained``)."""
        return {"arch": self.arch, "num_classes": self.num_classes,
                "in_channels": self.in_channels,
                "crop": None if self.crop is None else init_arguments(self.crop)}

    @classmethod
    def from_pretrained_config(cls, config: dict[str, Any]) -> CartesianResNet:
        """A randomly initialised model of a :meth:`pretrained_config` dict."""
        config = dict(config)
        crop = config.pop("crop", None)
        return cls(**config, crop=None if crop is None else FixationCrop(**crop))


def _classify(backbone: nn.Module, views: torch.Tensor) -> torch.Tensor:
    """Run ``backbone`` on ``(B, C, H, W)`` views, or ``(B, K, C, H, W)`` flattened and back."""
    if views.ndim == 5:
        batch, per_image = views.shape[:2]
        return backbone(views.flatten(0, 1)).view(batch, per_image, -1)
    return backbone(views)
