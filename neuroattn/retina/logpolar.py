"""The log-polar retinotopic transform of foveated CNNs (Jérémie, Daucé & Perrinet 2024).

Row ``i`` of the output samples the radius ``r_i = 2^(log2_r_max + i·(log2_r_min -
log2_r_max)/(n_radii - 1))``, so row 0 is the periphery (``r = 2^log2_r_max``; 1 is
the image edge) and the last row the fovea; column ``j`` samples the angle
``θ_j = angle_offset + 2πj / n_angles``. The point ``(r_i cos θ_j, r_i sin θ_j)``
(x right, y down, in ``grid_sample``'s normalised units, where ±1 are the image
edges) is shifted to the fixation and read with ``grid_sample(...,
align_corners=False)`` (bilinear by default, zeros outside the image), as in
the reference code (``rs = logspace(0, -5, N, base=2)``, ``ts = linspace(0, 2π,
N + 1)[:-1]``).

Exact equivariances about the fixation (tested): rotating the image content by
``2πk / n_angles`` from +x towards +y (clockwise on screen, where y points down)
rolls the output by ``+k`` columns (circularly), so a counter-clockwise
rotation (torchvision's ``rotate``,
:func:`~neuroattn.retina.sampling.rotate_zoom_about`) rolls it by ``-k``; zooming it by
``2^(mΔ)``, ``Δ = (log2_r_max - log2_r_min)/(n_radii - 1)``, shifts it by ``m`` rows
(towards the periphery), both up to interpolation error. Rows near ``r = 1`` read
the zero padding half a pixel outside the image, so the equivariance holds only
inside the inscribed disc.

Fixations are pixel ``(x, y)``, batched: one per image, or ``K`` per image
(``(B, K, 2)``) for fixation scans.

Examples
--------
>>> import torch
>>> lp = LogPolar(n_radii=32, n_angles=48)
>>> images = torch.rand(2, 3, 64, 80)
>>> lp(images).shape                        # fixation at the centre
torch.Size([2, 3, 32, 48])
>>> lp(images, torch.rand(2, 5, 2) * 60).shape   # five fixations per image
torch.Size([2, 5, 3, 32, 48])
>>> lp.inverse(lp(images), (64, 80)).shape       # back to the image plane
torch.Size([2, 3, 64, 80])
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from neuroattn.retina.sampling import Interpolation, Padding, sample_around, to_grid_units

__all__ = ["LogPolar"]


class LogPolar(nn.Module):
    """Differentiable log-polar sampling around fixations (see the module docstring).

    Parameters
    ----------
    n_radii, n_angles : int
        Output rows (radii) and columns (angles); the reference uses 224 x 224.
    log2_r_max, log2_r_min : float
        Outermost and innermost radius, log2 of the normalised radius
        (reference: 0 and -5, i.e. from the edge to 1/32 of the half-width).
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
                 log2_r_min: float = -5.0, angle_offset: float = 0.0,
                 mode: Interpolation = "bilinear", padding_mode: Padding = "zeros",
                 supersample: int = 1) -> None:
        super().__init__()
        if n_radii < 2 or n_angles < 1 or supersample < 1:
            raise ValueError(f"need n_radii >= 2, n_angles >= 1 and supersample >= 1, got "
                             f"{n_radii}, {n_angles}, {supersample}.")
        if not log2_r_min < log2_r_max:
            raise ValueError(f"log2_r_min ({log2_r_min}) must be below log2_r_max "
                             f"({log2_r_max}): rows run from the periphery to the fovea.")
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
    def row_step(self) -> float:
        """``Δ``: log2 radius between neighbouring rows (a zoom by ``2^Δ`` shifts one row)."""
        return self._fine_step * self.supersample

    def extra_repr(self) -> str:
        return (f"n_radii={self.n_radii}, n_angles={self.n_angles}, log2_r=({self.log2_r_max}, "
                f"{self.log2_r_min}), angle_offset={self.angle_offset}, mode={self.mode!r}, "
                f"padding_mode={self.padding_mode!r}, supersample={self.supersample}")

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
        out = sample_around(images, fixations, self.offsets, mode=self.mode,
                            padding_mode=self.padding_mode)
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
            raise ValueError(f"retinal images must be (B, C, {self.n_radii}, {self.n_angles}), "
                             f"got {tuple(retinal.shape)}.")
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
