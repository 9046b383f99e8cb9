"""Batched sampling of images around pixel fixations, shared by the retinal transforms.

A retinal transform is a fixed set of offsets ``(R, A, 2)`` (x right, y down)
added to each fixation and read with ``grid_sample(..., align_corners=False)``.
The offsets are in **field units**, isotropic in pixels: 1 is the radius of
the field, ``field_px`` pixels along both axes, by default half the shorter
side of each image (``min(height, width) / 2``). On a square image a field
unit is therefore ``grid_sample``'s normalised unit (±1 are the image edges),
the reference's convention; on a non-square image the normalised units would
stretch a circle into an ellipse, so the offsets are scaled to pixels first
(:func:`field_scale`). The log-polar grid is one such set
(:class:`~neuroattn.retina.logpolar.LogPolar`); :class:`FixationCrop`, the
Cartesian control's view, is another: a square patch of the same extent.

Examples
--------
>>> import torch
>>> crop = FixationCrop(size=16, log2_radius=-1.0)     # a patch of half the image's side
>>> crop(torch.rand(2, 3, 64, 64), torch.tensor([[10.0, 20.0], [40.0, 40.0]])).shape
torch.Size([2, 3, 16, 16])
>>> field_scale(48, 64)                                # field: 24 px along x and along y
[0.75, 1.0]
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from neuroattn._validation import check_number
from neuroattn.errors import ParameterError

__all__ = ["FixationCrop", "Interpolation", "Padding", "check_field_px", "field_radius_px",
           "field_scale", "rotate_zoom_about", "sample_around", "to_grid_units"]

Interpolation = Literal["bilinear", "nearest", "bicubic"]
Padding = Literal["zeros", "border", "reflection"]


def check_field_px(field_px: float | None) -> float | None:
    """``field_px`` (pixels per field unit) as a float, or None (half the shorter side).

    Zero, negative and non-finite radii raise :class:`~neuroattn.errors.ParameterError`.

    Examples
    --------
    >>> check_field_px(24), check_field_px(None)
    (24.0, None)
    """
    if field_px is None:
        return None
    check_number("field_px", field_px, lo=0.0, strict=True)
    return float(field_px)


def field_radius_px(height: int, width: int, field_px: float | None = None) -> float:
    """Pixels in one field unit: ``field_px``, or half the shorter side of the image.

    Examples
    --------
    >>> field_radius_px(48, 64), field_radius_px(48, 64, field_px=10)
    (24.0, 10.0)
    """
    return min(height, width) / 2 if field_px is None else float(field_px)


def field_scale(height: int, width: int, field_px: float | None = None) -> list[float]:
    """``grid_sample`` units per field unit along ``(x, y)`` (both 1.0 on a square image).

    Examples
    --------
    >>> field_scale(64, 64), field_scale(100, 50, field_px=50)
    ([1.0, 1.0], [2.0, 1.0])
    """
    radius = field_radius_px(height, width, field_px)
    return [radius * 2 / width, radius * 2 / height]


def to_grid_units(xy: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Pixel ``(x, y)`` → ``grid_sample`` units with ``align_corners=False``.

    Examples
    --------
    >>> import torch
    >>> to_grid_units(torch.tensor([[-0.5, 3.5]]), 4, 8).tolist()   # left edge, bottom edge
    [[-1.0, 1.0]]
    """
    scale = xy.new_tensor([2.0 / width, 2.0 / height])
    return (xy + 0.5) * scale - 1.0


def sample_around(images: torch.Tensor, fixations: torch.Tensor | None, offsets: torch.Tensor,
                  *, field_px: float | None = None, mode: Interpolation = "bilinear",
                  padding_mode: Padding = "zeros") -> torch.Tensor:
    """Read ``images`` at ``offsets`` around each fixation, all fixations in one call.

    Parameters
    ----------
    images : torch.Tensor, shape (B, C, H, W)
    fixations : torch.Tensor, shape (B, 2) or (B, K, 2), or None
        Pixel ``(x, y)``; ``None``: the image centre.
    offsets : torch.Tensor, shape (R, A, 2)
        Sample positions relative to the fixation, in field units (x, y).
    field_px : float, optional
        Pixels per field unit; default half the shorter side, ``min(H, W) / 2``.
    mode, padding_mode
        Passed to ``grid_sample``.

    Returns
    -------
    torch.Tensor, shape (B, C, R, A) or (B, K, C, R, A).

    Examples
    --------
    >>> import torch
    >>> image = torch.arange(8.0).view(1, 1, 2, 4)          # 2 x 4: one field unit is 1 px
    >>> right = torch.tensor([[[1.0, 0.0]]])                 # one field unit to the right
    >>> sample_around(image, torch.tensor([[1.0, 0.0]]), right).flatten().tolist()
    [2.0]
    """
    if images.ndim != 4:
        raise ParameterError(f"images must be (batch, channels, height, width), got "
                             f"{tuple(images.shape)}; add the missing batch or channel axis.")
    batch, channels, height, width = images.shape
    if fixations is None:
        fixations = images.new_tensor([(width - 1) / 2, (height - 1) / 2]).expand(batch, 2)
    single = fixations.ndim == 2
    points = fixations[:, None] if single else fixations
    if points.ndim != 3 or points.shape[0] != batch or points.shape[2] != 2:
        raise ParameterError(f"fixations must be (B, 2) or (B, K, 2) pixel (x, y) with B = "
                             f"{batch}, got {tuple(fixations.shape)}; pass one row (or K rows) "
                             "per image.")
    per_image, rows, cols = points.shape[1], offsets.shape[0], offsets.shape[1]
    centres = to_grid_units(points.to(images.dtype), height, width)      # (B, K, 2)
    scale = images.new_tensor(field_scale(height, width, field_px))      # exactly 1 if square
    grid = centres[:, :, None, None, :] + offsets.to(images.dtype) * scale  # (B, K, R, A, 2)
    grid = grid.reshape(batch, per_image * rows, cols, 2)
    out = F.grid_sample(images, grid, mode=mode, padding_mode=padding_mode,
                        align_corners=False)                             # (B, C, K·R, A)
    out = out.view(batch, channels, per_image, rows, cols).permute(0, 2, 1, 3, 4)
    return out[:, 0] if single else out


class FixationCrop(nn.Module):
    """A ``size x size`` Cartesian patch centred on each fixation (the control's retina).

    It spans ``±2^log2_radius`` field units along both axes, the same extent as
    a :class:`~neuroattn.retina.logpolar.LogPolar` with ``log2_r_max =
    log2_radius`` and the same ``field_px``, sampled uniformly (pixel centres,
    ``align_corners=False``). The patch is square in pixels on any image.

    Parameters
    ----------
    size : int
        Output side, pixels.
    log2_radius : float
        Half-side of the patch, log2 of field units (0 with the default field:
        a square as wide as the image's shorter side).
    field_px : float, optional
        Pixels per field unit; default half the shorter side of each image.
    mode, padding_mode
        Passed to ``grid_sample``.
    """

    def __init__(self, size: int = 224, *, log2_radius: float = 0.0,
                 field_px: float | None = None, mode: Interpolation = "bilinear",
                 padding_mode: Padding = "zeros") -> None:
        super().__init__()
        if size < 1:
            raise ParameterError(f"size={size!r} must be >= 1; pass a patch side in pixels.")
        self.size, self.log2_radius = int(size), float(log2_radius)
        self.field_px = check_field_px(field_px)
        self.mode, self.padding_mode = mode, padding_mode
        steps = (torch.arange(self.size, dtype=torch.float64) + 0.5) * 2 / self.size - 1
        ys, xs = torch.meshgrid(steps, steps, indexing="ij")
        offsets = torch.stack([xs, ys], -1) * 2.0**self.log2_radius
        self.register_buffer("offsets", offsets.float(), persistent=False)   # (S, S, 2)

    def extra_repr(self) -> str:
        return (f"size={self.size}, log2_radius={self.log2_radius}, field_px={self.field_px}, "
                f"mode={self.mode!r}, padding_mode={self.padding_mode!r}")

    def forward(self, images: torch.Tensor, fixations: torch.Tensor | None = None
                ) -> torch.Tensor:
        """Patches ``(B, C, size, size)``, or ``(B, K, C, size, size)`` for ``(B, K, 2)``."""
        return sample_around(images, fixations, self.offsets, field_px=self.field_px,
                             mode=self.mode, padding_mode=self.padding_mode)


def _rounded_cos_sin(degrees: float | torch.Tensor, batch: int
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """``cos`` and ``sin`` per image, ``(B,)`` float64, rounded to 1e-12 (so 90° is exact)."""
    angle = torch.as_tensor(degrees, dtype=torch.float64).flatten().deg2rad()
    if angle.numel() not in (1, batch):
        raise ParameterError(f"degrees holds {angle.numel()} angles for {batch} images; pass "
                             "one angle, or one per image.")
    angle = angle.expand(batch)
    return (torch.round(torch.cos(angle) * 1e12) / 1e12,
            torch.round(torch.sin(angle) * 1e12) / 1e12)


def rotate_zoom_about(images: torch.Tensor, centres: torch.Tensor, *,
                      degrees: float | torch.Tensor = 0.0, zoom: float = 1.0,
                      padding_mode: Padding = "zeros") -> torch.Tensor:
    """Rotate (counter-clockwise on screen) and zoom each image about its own pixel centre.

    The same convention as ``torchvision.transforms.functional.rotate``/``affine``
    with ``center=``, batched with one centre (and optionally one angle) per
    image, bilinear. A zoom > 1 enlarges the content. Rotation and zoom are in
    pixels, so they are isotropic on non-square images too.

    Parameters
    ----------
    images : torch.Tensor, shape (B, C, H, W)
    centres : torch.Tensor, shape (B, 2)
        Pixel ``(x, y)`` of each rotation centre (e.g. the fixation).
    degrees : float or torch.Tensor of shape (B,)
        One angle for all images, or one per image (e.g. a random rotation
        augmentation).
    zoom : float
    padding_mode : {"zeros", "border", "reflection"}

    Examples
    --------
    >>> import torch
    >>> image = torch.zeros(1, 1, 5, 5); image[0, 0, 2, 4] = 1      # right of the centre
    >>> out = rotate_zoom_about(image, torch.tensor([[2.0, 2.0]]), degrees=90)
    >>> out[0, 0].nonzero().tolist()                                 # now above it
    [[0, 2]]
    >>> two = rotate_zoom_about(image.expand(2, 1, 5, 5), torch.tensor([[2.0, 2.0]] * 2),
    ...                         degrees=torch.tensor([90.0, -90.0]))
    >>> [o[0].nonzero().tolist() for o in two]                        # above, then below
    [[[0, 2]], [[4, 2]]]
    """
    if images.ndim != 4 or centres.shape != (images.shape[0], 2):
        raise ParameterError(f"need images (B, C, H, W) and centres (B, 2), got "
                             f"{tuple(images.shape)} and {tuple(centres.shape)}; pass one "
                             "pixel (x, y) centre per image.")
    if not zoom > 0:
        raise ParameterError(f"zoom={zoom!r} must be > 0; pass a positive zoom (1: none).")
    height, width = images.shape[-2:]
    cos, sin = (v.to(device=images.device, dtype=images.dtype)[:, None, None]
                for v in _rounded_cos_sin(degrees, images.shape[0]))  # (B, 1, 1)
    ys, xs = torch.meshgrid(torch.arange(height, dtype=images.dtype, device=images.device),
                            torch.arange(width, dtype=images.dtype, device=images.device),
                            indexing="ij")
    centres = centres.to(images.dtype)[:, None, None]                    # (B, 1, 1, 2)
    dx, dy = xs - centres[..., 0], ys - centres[..., 1]                  # output offsets
    source = torch.stack([cos * dx - sin * dy, sin * dx + cos * dy], -1) / zoom + centres
    return F.grid_sample(images, to_grid_units(source, height, width), mode="bilinear",
                         padding_mode=padding_mode, align_corners=False)
