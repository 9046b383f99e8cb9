"""Bottom-up saliency maps for the scanpath baselines: the spectral residual.

:func:`spectral_residual` is the saliency model of Hou & Zhang (2007, CVPR):
the log amplitude spectrum of a small greyscale copy of the image, minus its
local (3 x 3) average, is recombined with the original phase; the squared
magnitude of the inverse transform, smoothed, is the map. It needs no
training and no weights, so CLE and saliency-peak baselines run offline on
any image. Maps are returned at the image's own size, non-negative and
summing to 1.

Examples
--------
>>> import numpy as np
>>> image = np.full((60, 80, 3), 0.5)
>>> image[10:20, 50:60] = np.random.default_rng(0).random((10, 10, 3))  # a textured patch
>>> sal = spectral_residual(image)
>>> sal.shape, round(float(sal.sum()), 6)
((60, 80), 1.0)
>>> y, x = np.unravel_index(sal.argmax(), sal.shape); bool(8 <= y <= 22 and 48 <= x <= 62)
True
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from neuroattn.errors import ParameterError

__all__ = ["spectral_residual"]


def _grey(image: np.ndarray) -> np.ndarray:
    array = np.asarray(image, dtype=np.float64)
    if array.ndim == 3 and array.shape[0] == 3 and array.shape[-1] != 3:
        array = array.transpose(1, 2, 0)
    if array.ndim == 3 and array.shape[-1] == 3:
        array = array @ np.array([0.299, 0.587, 0.114])
    if array.ndim != 2:
        raise ParameterError("image must be (H, W), (H, W, 3) or (3, H, W); got "
                             f"{np.shape(image)}.")
    if not np.isfinite(array).all():
        raise ParameterError("image contains NaN or infinite values.")
    return array


def spectral_residual(image: np.ndarray, *, width: int = 64, smoothing: float = 2.5) -> np.ndarray:
    """Spectral-residual saliency (Hou & Zhang 2007) of an image, at its own size.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)``, ``(H, W, 3)`` or ``(3, H, W)``, any value range.
    width : int
        Width of the small copy the spectrum is taken of (the paper's 64 px).
    smoothing : float
        Gaussian smoothing of the map at that width, in pixels.

    Returns
    -------
    numpy.ndarray, shape (H, W)
        Non-negative, summing to 1 (uniform for a flat image).

    Examples
    --------
    >>> import numpy as np
    >>> bool(spectral_residual(np.zeros((8, 8))).std() == 0)
    True
    """
    grey = _grey(image)
    height, full_width = grey.shape
    scale = width / full_width
    small = ndimage.zoom(grey, (max(scale * height, 4) / height, width / full_width), order=1)
    spectrum = np.fft.fft2(small)
    log_amplitude = np.log(np.abs(spectrum) + 1e-12)
    residual = log_amplitude - ndimage.uniform_filter(log_amplitude, size=3, mode="wrap")
    saliency = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
    saliency = ndimage.gaussian_filter(saliency, smoothing)
    full = ndimage.zoom(saliency, (height / saliency.shape[0], full_width / saliency.shape[1]),
                        order=1)
    full = np.clip(full, 0.0, None)
    total = full.sum()
    if not np.isfinite(total) or total <= 1e-300 or np.ptp(small) == 0:
        return np.full((height, full_width), 1.0 / (height * full_width))
    return full / total
