"""Batched sampling of images around pixel fixations, shared by the retinal transforms.

A retinal transform is a fixed set of offsets ``(R, A, 2)`` in ``grid_sample``'s
normalised units (±1 are the image edges, x right, y down) added to each
fixation and read with ``grid_sample(..., align_corners=False)``. The
log-polar grid is one such set (:class:`~neuroattn.retina.logpolar.LogPolar`);
:class:`FixationCrop`, the Cartesian control's view, is another: a square
patch of the same extent.

Examples
--------
>>> import torch
>>> crop = FixationCrop(size=16, log2_radius=-1.0)     # a patch of half the image's side
>>> crop(torch.rand(2, 3, 64, 64), torch.tensor([[10.0, 20.0], [40.0, 40.0]])).shape
torch.Size([2, 3, 16, 16])
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["FixationCrop", "Interpolation", "Padding", "rotate_zoom_about", "sample_around",
           "to_grid_units"]

Interpolation = Literal["bilinear", "nearest", "bicubic"]
Padding = Literal["zeros", "border", "reflection"]


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
                  *, mode: Interpolation = "bilinear", padding_mode: Padding = "zeros"
                  ) -> torch.Tensor:
    """Read ``images`` at ``offsets`` around each fixation, all fixations in one call.

    Parameters
    ----------
    images : torch.Tensor, shape (B, C, H, W)
    fixations : torch.Tensor, shape (B, 2) or (B, K, 2), or None
        Pixel ``(x, y)``; ``None``: the image centre.
    offsets : torch.Tensor, shape (R, A, 2)
        Sample positions relative to the fixation, normalised units (x, y).
    mode, padding_mode
        Passed to ``grid_sample``.

    Returns
    -------
    torch.Tensor, shape (B, C, R, A) or (B, K, C, R, A).
    """
    if images.ndim != 4:
        raise ValueError(f"images must be (batch, channels, height, width), got "
                         f"{tuple(images.shape)}.")
    batch, channels, height, width = images.shape
    if fixations is None:
        fixations = images.new_tensor([(width - 1) / 2, (height - 1) / 2]).expand(batch, 2)
    single = fixations.ndim == 2
    points = fixations[:, None] if single else fixations
    if points.ndim != 3 or points.shape[0] != batch or points.shape[2] != 2:
        raise ValueError(f"fixations must be (B, 2) or (B, K, 2) pixel (x, y) with B = "
                         f"{batch}, got {tuple(fixations.shape)}.")
    per_image, rows, cols = points.shape[1], offsets.shape[0], offsets.shape[1]
    centres = to_grid_units(points.to(images.dtype), height, width)      # (B, K, 2)
    grid = centres[:, :, None, None, :] + offsets.to(images.dtype)        # (B, K, R, A, 2)
    grid = grid.reshape(batch, per_image * rows, cols, 2)
    out = F.grid_sample(images, grid, mode=mode, padding_mode=padding_mode,
                        align_corners=False)                             # (B, C, K·R, A)
    out = out.view(batch, channels, per_image, rows, cols).permute(0, 2, 1, 3, 4)
    return out[:, 0] if single else out


class FixationCrop(nn.Module):
    """A ``size x size`` Cartesian patch centred on each fixation (the control's retina).

    It spans ``±2^log2_radius`` in normalised units, the same extent as a
    :class:`~neuroattn.retina.logpolar.LogPolar` with ``log2_r_max =
    log2_radius``, sampled uniformly (pixel centres, ``align_corners=False``).

    Parameters
    ----------
    size : int
        Output side, pixels.
    log2_radius : float
        Half-side of the patch, log2 of the normalised radius (0: the whole image).
    mode, padding_mode
        Passed to ``grid_sample``.
    """

    def __init__(self, size: int = 224, *, log2_radius: float = 0.0,
                 mode: Interpolation = "bilinear", padding_mode: Padding = "zeros") -> None:
        super().__init__()
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}.")
        self.size, self.log2_radius = int(size), float(log2_radius)
        self.mode, self.padding_mode = mode, padding_mode
        steps = (torch.arange(self.size, dtype=torch.float64) + 0.5) * 2 / self.size - 1
        ys, xs = torch.meshgrid(steps, steps, indexing="ij")
        offsets = torch.stack([xs, ys], -1) * 2.0**self.log2_radius
        self.register_buffer("offsets", offsets.float(), persistent=False)   # (S, S, 2)

    def extra_repr(self) -> str:
        return (f"size={self.size}, log2_radius={self.log2_radius}, mode={self.mode!r}, "
                f"padding_mode={self.padding_mode!r}")

    def forward(self, images: torch.Tensor, fixations: torch.Tensor | None = None
                ) -> torch.Tensor:
        """Patches ``(B, C, size, size)``, or ``(B, K, C, size, size)`` for ``(B, K, 2)``."""
        return sample_around(images, fixations, self.offsets, mode=self.mode,
                             padding_mode=self.padding_mode)


def rotate_zoom_about(images: torch.Tensor, centres: torch.Tensor, *, degrees: float = 0.0,
                      zoom: float = 1.0, padding_mode: Padding = "zeros") -> torch.Tensor:
    """Rotate (counter-clockwise on screen) and zoom each image about its own pixel centre.

    The same convention as ``torchvision.transforms.functional.rotate``/``affine``
    with ``center=``, batched with one centre per image, bilinear. A zoom > 1
    enlarges the content.

    Parameters
    ----------
    images : torch.Tensor, shape (B, C, H, W)
    centres : torch.Tensor, shape (B, 2)
        Pixel ``(x, y)`` of each rotation centre (e.g. the fixation).
    degrees, zoom : float
    padding_mode : {"zeros", "border", "reflection"}

    Examples
    --------
    >>> import torch
    >>> image = torch.zeros(1, 1, 5, 5); image[0, 0, 2, 4] = 1      # right of the centre
    >>> out = rotate_zoom_about(image, torch.tensor([[2.0, 2.0]]), degrees=90)
    >>> out[0, 0].nonzero().tolist()                                 # now above it
    [[0, 2]]
    """
    if images.ndim != 4 or centres.shape != (images.shape[0], 2):
        raise ValueError(f"need images (B, C, H, W) and centres (B, 2), got "
                         f"{tuple(images.shape)} and {tuple(centres.shape)}.")
    if not zoom > 0:
        raise ValueError(f"zoom={zoom!r} must be positive.")
    height, width = images.shape[-2:]
    angle = torch.tensor(float(degrees), dtype=torch.float64).deg2rad()
    cos, sin = round(float(torch.cos(angle)), 12), round(float(torch.sin(angle)), 12)
    ys, xs = torch.meshgrid(torch.arange(height, dtype=images.dtype, device=images.device),
                            torch.arange(width, dtype=images.dtype, device=images.device),
                            indexing="ij")
    centres = centres.to(images.dtype)[:, None, None]                    # (B, 1, 1, 2)
    dx, dy = xs - centres[..., 0], ys - centres[..., 1]                  # output offsets
    source = torch.stack([cos * dx - sin * dy, sin * dx + cos * dy], -1) / zoom + centres
    return F.grid_sample(images, to_grid_units(source, height, width), mode="bilinear",
                         padding_mode=padding_mode, align_corners=False)
