"""Separable Gaussian blur and blur pyramids, depthwise and differentiable.

The blur of the NeVA reference: a ``size x size`` normalised Gaussian kernel
of standard deviation ``sigma`` pixels, applied channel by channel after
reflection padding of ``size // 2`` pixels, so the output has the input's
size. It is separable, so it runs as two 1-D convolutions.

Examples
--------
>>> import torch
>>> images = torch.rand(2, 3, 32, 48)
>>> gaussian_blur(images, size=9, sigma=2.0).shape
torch.Size([2, 3, 32, 48])
>>> blur_pyramid(images, sigmas=(0.0, 1.0, 2.0)).shape
torch.Size([3, 2, 3, 32, 48])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from neuroattn.errors import ParameterError

__all__ = ["blur_pyramid", "gaussian_blur", "gaussian_kernel1d", "kernel_size_for"]


def gaussian_kernel1d(size: int, sigma: float, *, dtype: torch.dtype = torch.float32,
                      device: torch.device | str | None = None) -> torch.Tensor:
    """A normalised 1-D Gaussian of ``size`` taps centred on the middle tap.

    Parameters
    ----------
    size : int
        Number of taps, odd and positive.
    sigma : float
        Standard deviation in pixels, > 0.

    Returns
    -------
    torch.Tensor, shape (size,), summing to 1.

    Examples
    --------
    >>> k = gaussian_kernel1d(5, 1.0)
    >>> round(float(k.sum()), 6), int(k.argmax())
    (1.0, 2)
    """
    if size < 1 or size % 2 == 0:
        raise ParameterError("blur kernel size must be a positive odd number of pixels, got "
                             f"{size}.")
    if not sigma > 0:
        raise ParameterError(f"blur sigma must be > 0 pixels, got {sigma}.")
    taps = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    kernel = torch.exp(-(taps**2) / (2.0 * float(sigma) ** 2))
    return (kernel / kernel.sum()).to(dtype=dtype, device=device)


def kernel_size_for(sigma: float, *, truncate: float = 3.0) -> int:
    """The odd kernel size that covers ``±truncate·sigma`` (at least 3 taps).

    Examples
    --------
    >>> kernel_size_for(2.0)
    13
    """
    return max(3, 2 * int(round(truncate * float(sigma))) + 1)


def gaussian_blur(images: torch.Tensor, size: int, sigma: float) -> torch.Tensor:
    """Blur ``(B, C, H, W)`` images with the reference's separable Gaussian.

    Reflection padding needs ``size // 2 < min(H, W)``; a larger kernel is
    cut to the largest odd size the image allows (the Gaussian's tails beyond
    the image would reflect more than once).

    Parameters
    ----------
    images : torch.Tensor, shape (B, C, H, W)
    size : int
        Kernel size in pixels (odd).
    sigma : float
        Standard deviation in pixels.

    Returns
    -------
    torch.Tensor, same shape and dtype as ``images``.

    Examples
    --------
    >>> import torch
    >>> flat = torch.full((1, 1, 16, 16), 0.25)
    >>> torch.allclose(gaussian_blur(flat, 7, 1.5), flat)
    True
    """
    if images.ndim != 4:
        raise ParameterError(
            f"images must be (batch, channels, height, width), got shape {tuple(images.shape)}."
        )
    _, channels, height, width = images.shape
    size = min(int(size), 2 * min(height, width) - 1)  # reflection padding needs pad < H, W
    if size == 1:
        return images
    kernel = gaussian_kernel1d(size, sigma, dtype=images.dtype, device=images.device)
    pad = size // 2
    padded = F.pad(images, (pad, pad, pad, pad), mode="reflect")
    rows = kernel.view(1, 1, size, 1).expand(channels, 1, size, 1)
    cols = kernel.view(1, 1, 1, size).expand(channels, 1, 1, size)
    return F.conv2d(F.conv2d(padded, rows, groups=channels), cols, groups=channels)


def blur_pyramid(images: torch.Tensor, sigmas: Sequence[float], *,
                 truncate: float = 3.0) -> torch.Tensor:
    """Stack of progressively blurred copies of ``images``, one per ``sigma`` (0 = unblurred).

    Parameters
    ----------
    images : torch.Tensor, shape (B, C, H, W)
    sigmas : sequence of float
        Blur of each level in pixels, non-decreasing; 0 keeps the image.
    truncate : float
        Kernel half-width in units of sigma.

    Returns
    -------
    torch.Tensor, shape (len(sigmas), B, C, H, W).

    Examples
    --------
    >>> import torch
    >>> x = torch.rand(1, 3, 20, 20)
    >>> levels = blur_pyramid(x, (0.0, 2.0))
    >>> torch.equal(levels[0], x), bool(levels[1].std() < x.std())
    (True, True)
    """
    sigmas = [float(s) for s in sigmas]
    if not sigmas or any(s < 0 for s in sigmas) or sigmas != sorted(sigmas):
        raise ParameterError("sigmas must be a non-empty, non-decreasing list of >= 0, got "
                             f"{sigmas}.")
    return torch.stack([
        images if s == 0 else gaussian_blur(images, kernel_size_for(s, truncate=truncate), s)
        for s in sigmas
    ])
