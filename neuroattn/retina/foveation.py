"""Differentiable acuity models: what an image looks like from a fixation.

A foveation model turns a fixation into an **acuity map** ``a`` (1 = seen
sharply, 0 = only peripherally) and renders the image through it. Both steps
are differentiable in the fixation, which is what NeVA's gradient search
needs. Two models:

* :class:`GaussianFoveation` — the NeVA/NevaClip reference: a Gaussian fovea
  ``G(p) = amplitude · exp(-((r - p_row)² + (c - p_col)²) / sigma)`` on the
  ``[-1, 1]²`` ``(row, col)`` grid (**no factor 2** in the exponent, so the
  default ``sigma = 0.2`` is a Gaussian of standard deviation ``√0.1 ≈ 0.32``
  half-widths, 35 px at 224 px), a mask ``m = clip(1 - a, 0, 1)`` and the
  stimulus ``x + m · (blur(x) - x)``, with the reference's 41-tap,
  sigma-10 px Gaussian blur.
* :class:`EccentricityFoveation` — an eccentricity-dependent multi-level
  blur: acuity falls as ``a(e) = e2 / (e2 + e)`` with eccentricity ``e`` (the
  inverse-linear fall-off of human resolution, ``e2`` the eccentricity of
  half resolution), and each pixel blends the two levels of a blur pyramid
  that bracket ``(1 - a) · (L - 1)``.

Acuity maps add up: the inhibition-of-return memory of a search is an
acuity map too (:func:`update_memory`), and rendering uses
``memory + acuity(p)``.

Fixations are pixel ``(x, y)`` at the public API (:meth:`Foveation.forward`)
and normalised ``(row, col)`` inside (:mod:`neuroattn.retina.coordinates`).

Examples
--------
>>> import torch
>>> fov = GaussianFoveation.for_image_size(64)
>>> images = torch.rand(2, 3, 64, 64)
>>> out = fov(images, torch.tensor([[10.0, 20.0], [32.0, 32.0]]))
>>> out.shape
torch.Size([2, 3, 64, 64])
>>> torch.allclose(out[0, :, 20, 10], images[0, :, 20, 10])  # sharp at the fixation
True
>>> fov(images, torch.rand(2, 5, 2) * 63).shape  # five fixations per image
torch.Size([2, 5, 3, 64, 64])
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch
from torch import nn

from neuroattn.errors import ParameterError
from neuroattn.retina.blur import blur_pyramid, gaussian_blur
from neuroattn.retina.coordinates import pixels_to_fovea

__all__ = ["EccentricityFoveation", "Foveation", "GaussianFoveation", "fovea_grid",
           "gaussian_fovea", "update_memory"]

REFERENCE_SIZE = 224  # the image size the NeVA reference's blur parameters are set for


def fovea_grid(size: tuple[int, int], *, device: torch.device | str | None = None,
               dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference's ``meshgrid(linspace(-1, 1, H), linspace(-1, 1, W))`` ('ij'): rows, cols.

    Examples
    --------
    >>> rows, cols = fovea_grid((3, 5))
    >>> rows[:, 0].tolist(), cols[0].tolist()
    ([-1.0, 0.0, 1.0], [-1.0, -0.5, 0.0, 0.5, 1.0])
    """
    height, width = size
    rows = torch.linspace(-1.0, 1.0, height, device=device, dtype=dtype)
    cols = torch.linspace(-1.0, 1.0, width, device=device, dtype=dtype)
    return torch.meshgrid(rows, cols, indexing="ij")


def _squared_distance(fovea: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``(N, 2)`` normalised ``(row, col)`` fixations → ``(N, H, W)`` squared grid distances."""
    if fovea.ndim != 2 or fovea.shape[1] != 2:
        raise ParameterError(f"fixations must be (N, 2) (row, col), got {tuple(fovea.shape)}.")
    rows, cols = fovea_grid(size, device=fovea.device, dtype=fovea.dtype)
    return ((rows - fovea[:, 0, None, None]) ** 2) + ((cols - fovea[:, 1, None, None]) ** 2)


def gaussian_fovea(fovea: torch.Tensor, size: tuple[int, int], *, sigma: float = 0.2,
                   amplitude: float = 1.0) -> torch.Tensor:
    """The reference fovea ``amplitude · exp(-d² / sigma)`` around normalised ``(row, col)``.

    Parameters
    ----------
    fovea : torch.Tensor, shape (N, 2)
        Fixations as normalised ``(row, col)``.
    size : (int, int)
        ``(height, width)`` of the map.
    sigma : float
        The reference's ``foveation_sigma`` (divides ``d²`` directly).
    amplitude : float
        The reference's ``foveation_aggregation``.

    Returns
    -------
    torch.Tensor, shape (N, H, W).

    Examples
    --------
    >>> import torch
    >>> g = gaussian_fovea(torch.tensor([[0.0, 0.0]]), (5, 5), sigma=0.2)
    >>> float(g[0, 2, 2]), round(float(g[0, 2, 4]), 4)   # exp(-1 / 0.2)
    (1.0, 0.0067)
    """
    if fovea.ndim != 2 or fovea.shape[1] != 2:
        raise ParameterError(f"fixations must be (N, 2) (row, col), got {tuple(fovea.shape)}.")
    height, width = size
    rows = torch.linspace(-1.0, 1.0, height, device=fovea.device, dtype=fovea.dtype)
    cols = torch.linspace(-1.0, 1.0, width, device=fovea.device, dtype=fovea.dtype)
    # exp(-(dr² + dc²)/sigma) = exp(-dr²/sigma) · exp(-dc²/sigma): H + W exponentials, not H·W.
    along_rows = torch.exp(-((rows - fovea[:, :1]) ** 2) / sigma)
    along_cols = torch.exp(-((cols - fovea[:, 1:]) ** 2) / sigma)
    return amplitude * along_rows[:, :, None] * along_cols[:, None, :]


def update_memory(memory: torch.Tensor | None, acuity: torch.Tensor,
                  forgetting: float) -> torch.Tensor:
    """The inhibition-of-return recursion ``IR ← forgetting · IR + a(p)``, detached.

    After fixations ``p_1..p_t`` this is ``Σ_k forgetting^(t-k) · a(p_k)``;
    ``forgetting = 0`` (NevaClip's default) keeps only the last fixation.

    Examples
    --------
    >>> import torch
    >>> a = torch.ones(1, 2, 2)
    >>> m = update_memory(None, a, 0.5)
    >>> update_memory(m, 2 * a, 0.5)[0, 0, 0].item()
    2.5
    """
    if not 0.0 <= forgetting <= 1.0:
        raise ParameterError(f"forgetting must be in [0, 1], got {forgetting}.")
    acuity = acuity.detach()
    return acuity if memory is None else forgetting * memory + acuity


class Foveation(nn.Module, ABC):
    """An acuity model (see the module docstring): ``levels`` → ``acuity`` → ``render``.

    The split lets a search blur each image once (:meth:`levels`) and render
    many candidate fixations from the same levels.
    """

    @abstractmethod
    def levels(self, images: torch.Tensor) -> torch.Tensor:
        """Blur levels of ``(B, C, H, W)`` images, shape ``(L, B, C, H, W)``; level 0 is sharp."""

    @abstractmethod
    def acuity(self, fovea: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Acuity maps ``(N, H, W)`` of ``(N, 2)`` normalised ``(row, col)`` fixations."""

    @abstractmethod
    def render(self, levels: torch.Tensor, acuity: torch.Tensor) -> torch.Tensor:
        """Images ``(N, C, H, W)`` seen through acuity maps ``(N, H, W)``, levels ``(L, N, ..)``."""

    def forward(self, images: torch.Tensor, fixations: torch.Tensor,
                memory: torch.Tensor | None = None) -> torch.Tensor:
        """Foveate ``images`` at pixel ``(x, y)`` ``fixations``.

        Parameters
        ----------
        images : torch.Tensor, shape (B, C, H, W)
        fixations : torch.Tensor, shape (B, 2) or (B, K, 2)
            Pixel ``(x, y)``; ``K`` fixations per image are rendered separately.
        memory : torch.Tensor, shape (B, H, W), optional
            Acuity already accumulated (inhibition of return), added to each fixation's.

        Returns
        -------
        torch.Tensor, shape (B, C, H, W) or (B, K, C, H, W).
        """
        if images.ndim != 4:
            raise ParameterError(
                f"images must be (batch, channels, height, width), got {tuple(images.shape)}."
            )
        batch, _, height, width = images.shape
        single = fixations.ndim == 2
        points = fixations[:, None] if single else fixations
        if points.ndim != 3 or points.shape[0] != batch or points.shape[2] != 2:
            raise ParameterError(
                f"fixations must be (B, 2) or (B, K, 2) pixel (x, y) with B = {batch}, "
                f"got {tuple(fixations.shape)}."
            )
        per_image = points.shape[1]
        fovea = pixels_to_fovea(points.to(images.dtype), (height, width)).reshape(-1, 2)
        index = torch.arange(batch, device=images.device).repeat_interleave(per_image)
        acuity = self.acuity(fovea, (height, width))
        if memory is not None:
            acuity = acuity + memory[index]
        out = self.render(self.levels(images)[:, index], acuity)
        out = out.reshape(batch, per_image, *out.shape[1:])
        return out[:, 0] if single else out


class GaussianFoveation(Foveation):
    """The NeVA reference's Gaussian fovea over a two-level (sharp, blurred) image.

    Parameters
    ----------
    sigma : float
        ``foveation_sigma`` of the reference (no factor 2: std ``√(sigma/2)``
        half-widths). NevaClip uses 0.2, the NeVA classifier example 0.15.
    blur_size : int
        Blur kernel size in pixels (reference: 41 at 224 px).
    blur_sigma : float
        Blur standard deviation in pixels (reference: 10 at 224 px).
    amplitude : float
        ``foveation_aggregation`` (reference: 1).

    Examples
    --------
    >>> import torch
    >>> fov = GaussianFoveation()
    >>> a = fov.acuity(torch.zeros(1, 2), (225, 225))   # 225: the grid has a centre pixel
    >>> float(a.max()), fov.blur_size, fov.blur_sigma
    (1.0, 41, 10.0)
    """

    def __init__(self, sigma: float = 0.2, blur_size: int = 41, blur_sigma: float = 10.0,
                 amplitude: float = 1.0) -> None:
        super().__init__()
        if not sigma > 0 or not blur_sigma > 0 or not amplitude > 0:
            raise ParameterError(
                f"sigma, blur_sigma and amplitude must be > 0, got {sigma}, {blur_sigma}, "
                f"{amplitude}."
            )
        self.sigma, self.blur_size = float(sigma), int(blur_size)
        self.blur_sigma, self.amplitude = float(blur_sigma), float(amplitude)

    @classmethod
    def for_image_size(cls, size: int, *, sigma: float = 0.2) -> GaussianFoveation:
        """The reference's 41-tap, sigma-10 blur rescaled from 224 px to ``size`` px.

        Examples
        --------
        >>> f = GaussianFoveation.for_image_size(64)
        >>> f.blur_size, round(f.blur_sigma, 3)
        (13, 2.857)
        """
        scale = size / REFERENCE_SIZE
        blur_size = max(3, int(round(41 * scale)) // 2 * 2 + 1)
        return cls(sigma=sigma, blur_size=blur_size, blur_sigma=10.0 * scale)

    def extra_repr(self) -> str:
        return (f"sigma={self.sigma}, blur_size={self.blur_size}, blur_sigma={self.blur_sigma}, "
                f"amplitude={self.amplitude}")

    def levels(self, images: torch.Tensor) -> torch.Tensor:
        return torch.stack([images, gaussian_blur(images, self.blur_size, self.blur_sigma)])

    def acuity(self, fovea: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return gaussian_fovea(fovea, size, sigma=self.sigma, amplitude=self.amplitude)

    def render(self, levels: torch.Tensor, acuity: torch.Tensor) -> torch.Tensor:
        sharp, blurred = levels[0], levels[1]
        mask = torch.clamp(1.0 - acuity, 0.0, 1.0)[:, None]
        return sharp + (blurred - sharp) * mask


class EccentricityFoveation(Foveation):
    """Eccentricity-dependent blur: a blur pyramid blended by ``a(e) = e2 / (e2 + e)``.

    Pixel ``(r, c)`` at eccentricity ``e`` (normalised units, the distance on
    the ``[-1, 1]²`` grid) takes the pyramid level ``(1 - a) · (L - 1)``,
    interpolating linearly between the two neighbouring levels, so blur grows
    smoothly and monotonically with eccentricity and is differentiable in the
    fixation.

    Parameters
    ----------
    e2 : float
        Eccentricity of half acuity, normalised (0.1 ≈ 11 px at 224 px).
    blur_sigmas : sequence of float
        Standard deviations (px) of pyramid levels 1..L-1; level 0 is sharp.

    Examples
    --------
    >>> import torch
    >>> fov = EccentricityFoveation(e2=0.1, blur_sigmas=(1.0, 2.0, 4.0))
    >>> a = fov.acuity(torch.zeros(1, 2), (65, 65))
    >>> round(float(a[0, 32, 32]), 3), round(float(a[0, 32, 64]), 3)   # e = 0 and e = 1
    (1.0, 0.091)
    """

    def __init__(self, e2: float = 0.1,
                 blur_sigmas: Sequence[float] = (1.0, 2.0, 4.0, 8.0)) -> None:
        super().__init__()
        if not e2 > 0:
            raise ParameterError(f"e2 (eccentricity of half acuity) must be > 0, got {e2}.")
        self.e2 = float(e2)
        self.blur_sigmas = tuple(float(s) for s in blur_sigmas)
        if not self.blur_sigmas or min(self.blur_sigmas) <= 0:
            raise ParameterError(f"blur_sigmas must be positive pixel sigmas, got {blur_sigmas}.")

    def extra_repr(self) -> str:
        return f"e2={self.e2}, blur_sigmas={self.blur_sigmas}"

    def levels(self, images: torch.Tensor) -> torch.Tensor:
        return blur_pyramid(images, (0.0, *self.blur_sigmas))

    def acuity(self, fovea: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        eccentricity = torch.sqrt(_squared_distance(fovea, size) + 1e-20)  # finite gradient at 0
        return self.e2 / (self.e2 + eccentricity)

    def render(self, levels: torch.Tensor, acuity: torch.Tensor) -> torch.Tensor:
        top = levels.shape[0] - 1
        level = (1.0 - torch.clamp(acuity, 0.0, 1.0)) * top
        steps = torch.arange(top + 1, device=level.device, dtype=level.dtype)
        weights = torch.relu(1.0 - (level[None] - steps[:, None, None, None]).abs())
        return (weights[:, :, None] * levels).sum(0)
