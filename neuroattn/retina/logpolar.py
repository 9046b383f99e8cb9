"""The log-polar retinotopic transform of foveated CNNs (Jérémie, Daucé & Perrinet 2024).

Row ``i`` of the output samples the radius ``r_i = 2^(log2_r_max + i·(log2_r_min -
log2_r_max)/(n_radii - 1))``, so row 0 is the periphery and the last row the
fovea; column ``j`` samples the angle ``θ_j = angle_offset + 2πj / n_angles``.
The point ``(r_i cos θ_j, r_i sin θ_j)`` (x right, y down) is in **field
units**: ``r = 1`` is ``field_px`` pixels, by default half the shorter side of
the image (``min(height, width) / 2``), along x and y alike, so every row is a
circle in pixels, on square and non-square images. It is shifted to the
fixation and read with ``grid_sample(..., align_corners=False)`` (bilinear by
default, zeros outside the image), as in the reference code (``rs =
logspace(0, -5, N, base=2)``, ``ts = linspace(0, 2π, N + 1)[:-1]``).

On a square image a field unit is the reference's normalised unit (1 = the
image's half-width, ``r = 1`` the image edge) and the output is the same as
the reference's grid. The reference only sees square images (224 x 224); on a
non-square one, radii in normalised units would differ along x and y and the
rows would be ellipses, which breaks the equivariances below.

Exact equivariances about the fixation (tested, also on non-square
photographs): rotating the image content by ``2πk / n_angles`` from +x towards
+y (clockwise on screen, where y points down) rolls the output by ``+k``
columns (circularly), so a counter-clockwise rotation (torchvision's
``rotate``, :func:`~neuroattn.retina.sampling.rotate_zoom_about`) rolls it by
``-k``; zooming it by ``2^(mΔ)``, ``Δ = (log2_r_max - log2_r_min)/(n_radii -
1)``, shifts it by ``m`` rows (towards the periphery), both up to
interpolation error. A rotation by an angle between two columns
(:attr:`LogPolar.angle_step_degrees`) is not a roll, so a network invariant to
rolls is not invariant to it by construction. Rows whose circle leaves the
image read the zero padding, so the equivariance holds only where the circle
about the fixation stays inside the image.

Fixations are pixel ``(x, y)``, batched: one per image, or ``K`` per image
(``(B, K, 2)``) for fixation scans.

Examples
--------
>>> import torch
>>> lp = LogPolar(n_radii=32, n_angles=48)
>>> images = torch.rand(2, 3, 64, 80)
>>> lp(images).shape                        # fixation at the centre, field: 32 px
torch.Size([2, 3, 32, 48])
>>> lp(images, torch.rand(2, 5, 2) * 60).shape   # five fixations per image
torch.Size([2, 5, 3, 32, 48])
>>> lp.inverse(lp(images), (64, 80)).shape       # back to the image plane
torch.Size([2, 3, 64, 80])
>>> LogPolar(8, 8, field_px=20.0).radii_px((64, 80))[[0, -1]].tolist()   # 20 px to 20/32 px
[20.0, 0.625]
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from neuroattn.errors import ParameterError
from neuroattn.retina.sampling import (
    Interpolation,
    Padding,
    check_field_px,
    field_radius_px,
    field_scale,
    sample_around,
    to_grid_units,
)

__all__ = ["LogPolar"]


class LogPolar(nn.Module):
    """Differentiable log-polar sampling around fixations (see the module docstring).

    Parameters
    ----------
    n_radii, n_angles : int
        Output rows (radii) and columns (angles); the reference uses 224 x 224.
    log2_r_max, log2_r_min : float
        Outermost and innermost radius, log2 of field units (reference: 0 and
        -5, i.e. from the field's edge to 1/32 of it).
    field_px : float, optional
        Pixels per field unit, along both axes. Default: half the shorter side
        of each image, ``min(height, width) / 2`` (on a square image, the
        reference's normalised unit: ``r = 1`` reaches the image edge). Give a
        number to fix the retina's size in pixels across image sizes.
    angle_offset : float
        Angle of column 0, radians.
    mode : {"bilinear", "nearest", "bicubic"}
        Interpolation of ``grid_sample``.
    padding_mode : {"zeros", "border", "reflection"}
        What is read outside the image (reference: zeros).
    supersample : int
        Anti-aliasing (not in the reference): sample a grid ``supersample``
        times finer along both axes and average each ``supersample²`` block,
        so sparse outer rings do not skip thin strokes. The equivariances hold
        in output rows and columns. 1 (default) is the reference's point
        sampling.
    """

    def __init__(self, n_radii: int = 224, n_angles: int = 224, *, log2_r_max: float = 0.0,
                 log2_r_min: float = -5.0, field_px: float | None = None,
                 angle_offset: float = 0.0, mode: Interpolation = "bilinear",
                 padding_mode: Padding = "zeros", supersample: int = 1) -> None:
        super().__init__()
        if n_radii < 2 or n_angles < 1 or supersample < 1:
            raise ParameterError(f"need n_radii >= 2, n_angles >= 1 and supersample >= 1, "
                                 f"got {n_radii}, {n_angles}, {supersample}; pass values in "
                                 "those ranges.")
        if not log2_r_min < log2_r_max:
            raise ParameterError(f"log2_r_min ({log2_r_min}) must be below log2_r_max "
                                 f"({log2_r_max}): rows run from the periphery to the fovea; "
                                 "swap them.")
        self.field_px = check_field_px(field_px)
        self.n_radii, self.n_angles = int(n_radii), int(n_angles)
        self.log2_r_max, self.log2_r_min = float(log2_r_max), float(log2_r_min)
        self.angle_offset, self.mode, self.padding_mode = float(angle_offset), mode, padding_mode
        self.supersample = int(supersample)
        fine_radii, fine_angles = self.n_radii * self.supersample, self.n_angles * self.supersample
        log_radii = torch.linspace(self.log2_r_max, self.log2_r_min, fine_radii,
                                   dtype=torch.float64)
        angles = self.angle_offset + 2 * math.pi * torch.arange(
            fine_angles, dtype=torch.float64) / fine_angles
        radii = 2.0**log_radii
        offsets = torch.stack([radii[:, None] * torch.cos(angles)[None],
                               radii[:, None] * torch.sin(angles)[None]], -1)
        self.register_buffer("offsets", offsets.float(), persistent=False)  # (sR, sA, 2): x, y

    @property
    def _fine_step(self) -> float:
        return (self.log2_r_max - self.log2_r_min) / (self.n_radii * self.supersample - 1)

    @property
    def angle_step_degrees(self) -> float:
        """Degrees between neighbouring columns: rotations by its multiples are column rolls."""
        return 360.0 / self.n_angles

    @property
    def row_step(self) -> float:
        """``Δ``: log2 radius between neighbouring rows (a zoom by ``2^Δ`` shifts one row)."""
        return self._fine_step * self.supersample

    def radii_px(self, size: tuple[int, int]) -> torch.Tensor:
        """Radius of every output row in pixels on an image of ``(height, width)``, ``(R,)``.

        With ``supersample > 1`` each row averages ``supersample`` radii around
        this one (its block's geometric centre).

        Examples
        --------
        >>> LogPolar(3, 8, log2_r_max=0, log2_r_min=-2).radii_px((48, 64)).tolist()
        [24.0, 12.0, 6.0]
        """
        log_radii = torch.linspace(self.log2_r_max, self.log2_r_min,
                                   self.n_radii * self.supersample, dtype=torch.float64)
        centres = log_radii.view(self.n_radii, self.supersample).mean(-1)
        return 2.0**centres * field_radius_px(*size, self.field_px)

    def extra_repr(self) -> str:
        return (f"n_radii={self.n_radii}, n_angles={self.n_angles}, log2_r=({self.log2_r_max}, "
                f"{self.log2_r_min}), field_px={self.field_px}, angle_offset="
                f"{self.angle_offset}, mode={self.mode!r}, padding_mode={self.padding_mode!r}, "
                f"supersample={self.supersample}")

    def forward(self, images: torch.Tensor, fixations: torch.Tensor | None = None
                ) -> torch.Tensor:
        """Sample ``images`` log-polarly around pixel ``(x, y)`` fixations.

        Parameters
        ----------
        images : torch.Tensor, shape (B, C, H, W)
        fixations : torch.Tensor, shape (B, 2) or (B, K, 2), optional
            Pixel ``(x, y)``; default: the image centre.

        Returns
        -------
        torch.Tensor, shape (B, C, n_radii, n_angles) or (B, K, C, n_radii, n_angles).
        """
        out = sample_around(images, fixations, self.offsets, field_px=self.field_px,
                            mode=self.mode, padding_mode=self.padding_mode)
        if self.supersample == 1:
            return out
        lead = out.shape[:-2]
        pooled = F.avg_pool2d(out.flatten(0, -3)[:, None], self.supersample)
        return pooled.view(*lead, self.n_radii, self.n_angles)

    def inverse(self, retinal: torch.Tensor, size: tuple[int, int],
                fixations: torch.Tensor | None = None) -> torch.Tensor:
        """Map log-polar images back onto the image plane (for visualisation).

        Pixels outside the sampled annulus (beyond ``2^log2_r_max`` or inside
        ``2^log2_r_min``) are 0. Angles wrap around.

        Parameters
        ----------
        retinal : torch.Tensor, shape (B, C, n_radii, n_angles)
        size : (int, int)
            ``(height, width)`` of the image plane.
        fixations : torch.Tensor, shape (B, 2), optional
            Pixel ``(x, y)`` the retinal images were taken at (default: centre).

        Returns
        -------
        torch.Tensor, shape (B, C, height, width).
        """
        if retinal.ndim != 4 or retinal.shape[-2:] != (self.n_radii, self.n_angles):
            raise ParameterError(f"retinal images must be (B, C, {self.n_radii}, "
                                 f"{self.n_angles}), got {tuple(retinal.shape)}; pass the "
                                 "output of this LogPolar.")
        batch = retinal.shape[0]
        height, width = size
        if fixations is None:
            fixations = retinal.new_tensor([(width - 1) / 2, (height - 1) / 2]).expand(batch, 2)
        ys, xs = torch.meshgrid(torch.arange(height, dtype=retinal.dtype, device=retinal.device),
                                torch.arange(width, dtype=retinal.dtype, device=retinal.device),
                                indexing="ij")
        pixels = torch.stack([xs, ys], -1)                                   # (H, W, 2)
        rel = to_grid_units(pixels, height, width)[None] - to_grid_units(
            fixations.to(retinal.dtype), height, width)[:, None, None]       # (B, H, W, 2)
        rel = rel / retinal.new_tensor(field_scale(height, width, self.field_px))  # field units
        radius = rel.norm(dim=-1).clamp_min(1e-12)
        half_block = (self.supersample - 1) / 2                             # block centres
        row = ((self.log2_r_max - torch.log2(radius)) / self._fine_step - half_block) \
            / self.supersample                                               # 0 .. R-1
        col = torch.remainder(torch.atan2(rel[..., 1], rel[..., 0]) - self.angle_offset,
                              2 * math.pi) * self.n_angles / (2 * math.pi)
        col = torch.remainder(col - half_block / self.supersample, self.n_angles)  # 0 .. A
        wrapped = torch.cat([retinal, retinal[..., :1]], -1)                 # angle wraps
        grid = torch.stack([col / self.n_angles * 2 - 1, row / (self.n_radii - 1) * 2 - 1], -1)
        out = F.grid_sample(wrapped, grid, mode="bilinear", padding_mode="zeros",
                            align_corners=True)
        inside = (row >= 0) & (row <= self.n_radii - 1)
        return out * inside[:, None]
