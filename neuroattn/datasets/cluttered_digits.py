"""Cluttered digits: scikit-learn's bundled handwritten digits placed on a larger noisy canvas.

Real data with no download: the 1,797 8 x 8 digits of ``sklearn.datasets.load_digits``
(UCI optical recognition of handwritten digits) ship inside the scikit-learn wheel.
Each canvas holds one digit,

* upscaled (bilinear) to a random size in ``digit_size`` pixels,
* rotated about its own centre by a random angle in ``rotation`` degrees,
* placed at a random position, wholly inside the canvas,

on a canvas of ``size x size`` pixels with ``n_clutter`` distractor fragments
(random pieces of *other* digits, never within the square the digit could
occupy at any angle) and
additive Gaussian noise, clipped to ``[0, 1]``. The digit's centre (its
rotation centre, the natural fixation) and its ink box are recorded.

The source images are split once, by a fixed permutation, into ``"train"``
(70 %: 1,258) and ``"test"`` (30 %: 539) digits, so test canvases never reuse a digit
written in a training canvas. Every random draw is made in the same order
whatever the parameters, so two calls with the same ``seed`` that differ only
in ``rotation`` give the same digits, positions, clutter and noise.

Coordinates are pixel ``(x, y)``; boxes are ``(x0, y0, x1, y1)``, inclusive of
the ink's outermost pixels.

Examples
--------
>>> data = make_cluttered_digits(4, size=64, seed=0)
>>> data.images.shape, data.labels.tolist()
((4, 1, 64, 64), [1, 5, 7, 3])
>>> x0, y0, x1, y1 = data.boxes[0]
>>> bool(x0 <= data.centres[0, 0] <= x1 and y0 <= data.centres[0, 1] <= y1)
True
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

import numpy as np
from scipy import ndimage

from neuroattn._validation import check_int, check_number
from neuroattn.errors import ParameterError

__all__ = ["ClutteredDigits", "digit_sources", "make_cluttered_digits"]

Split = Literal["train", "test", "all"]
TRAIN_FRACTION = 0.7
INK = 0.2   # intensity above which a pixel of the upscaled digit counts as ink (for boxes)


@cache
def _all_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    digits = load_digits()
    order = np.random.default_rng(0).permutation(len(digits.target))
    return digits.images[order].astype(np.float32) / 16.0, digits.target[order].astype(np.int64)


def digit_sources(split: Split = "train") -> tuple[np.ndarray, np.ndarray]:
    """The 8 x 8 source digits of a split, in ``[0, 1]``, and their labels.

    Examples
    --------
    >>> images, labels = digit_sources("test")
    >>> images.shape, labels.shape
    ((539, 8, 8), (539,))
    """
    images, labels = _all_digits()
    cut = int(round(TRAIN_FRACTION * len(labels)))
    if split == "train":
        return images[:cut], labels[:cut]
    if split == "test":
        return images[cut:], labels[cut:]
    if split == "all":
        return images, labels
    raise ParameterError(f"split={split!r} is unknown; use 'train', 'test' or 'all'.")


@dataclass(frozen=True)
class ClutteredDigits:
    """Canvases, labels and where each digit is.

    Attributes
    ----------
    images : numpy.ndarray, shape (N, 1, S, S), float32 in [0, 1]
    labels : numpy.ndarray, shape (N,), int64 in 0..9
    centres : numpy.ndarray, shape (N, 2), float32
        Pixel ``(x, y)`` of each digit's centre (its rotation centre).
    boxes : numpy.ndarray, shape (N, 4), float32
        Ink box ``(x0, y0, x1, y1)`` of each digit.
    angles : numpy.ndarray, shape (N,)
        Rotation of each digit, degrees (counter-clockwise on screen).
    digit_sizes : numpy.ndarray, shape (N,)
        Side of each upscaled (unrotated) digit, pixels.
    sources : numpy.ndarray, shape (N,)
        Index of each digit in :func:`digit_sources` of its split.
    """

    images: np.ndarray
    labels: np.ndarray
    centres: np.ndarray
    boxes: np.ndarray
    angles: np.ndarray
    digit_sizes: np.ndarray
    sources: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def in_box(self, points: np.ndarray) -> np.ndarray:
        """Whether pixel ``(x, y)`` points ``(N, 2)`` fall inside each canvas's digit box.

        Examples
        --------
        >>> data = make_cluttered_digits(2, size=48, seed=1)
        >>> data.in_box(data.centres).tolist(), data.in_box(np.zeros((2, 2))).tolist()
        ([True, True], [False, False])
        """
        points = np.asarray(points, dtype=np.float64)
        if points.shape != (len(self), 2):
            raise ParameterError(f"points must be ({len(self)}, 2) pixel (x, y), got "
                                 f"{points.shape}.")
        x0, y0, x1, y1 = self.boxes.T
        return ((points[:, 0] >= x0) & (points[:, 0] <= x1)
                & (points[:, 1] >= y0) & (points[:, 1] <= y1))


def _render_digit(digit: np.ndarray, side: float, angle: float) -> np.ndarray:
    """Upscale an 8 x 8 digit to ``side`` px, rotate it about its centre; odd-sized output."""
    big = ndimage.zoom(np.pad(digit, 1), (side + 2 * side / 8) / 10, order=1, grid_mode=True,
                       mode="grid-constant")
    rotated = ndimage.rotate(big, angle, reshape=True, order=1, mode="constant") if angle \
        else big
    if rotated.shape[0] % 2 == 0:
        rotated = np.pad(rotated, ((0, 1), (0, 1)))
    return np.clip(rotated, 0.0, 1.0)


def _paste(canvas: np.ndarray, patch: np.ndarray, top: int, left: int) -> None:
    """Paste ``patch`` by pixel-wise maximum, cropping whatever falls outside."""
    h, w = patch.shape
    t0, l0 = max(top, 0), max(left, 0)
    t1, l1 = min(top + h, canvas.shape[0]), min(left + w, canvas.shape[1])
    if t1 > t0 and l1 > l0:
        region = canvas[t0:t1, l0:l1]
        np.maximum(region, patch[t0 - top:t1 - top, l0 - left:l1 - left], out=region)


def make_cluttered_digits(
    n: int,
    *,
    size: int = 96,
    digit_size: tuple[float, float] = (20.0, 28.0),
    rotation: float | tuple[float, float] = 0.0,
    n_clutter: int = 4,
    clutter_size: float = 8.0,
    noise: float = 0.1,
    split: Split = "train",
    seed: int = 0,
) -> ClutteredDigits:
    """Make ``n`` cluttered-digit canvases (see the module docstring).

    Parameters
    ----------
    n : int
        Number of canvases; source digits are drawn with replacement.
    size : int
        Canvas side, pixels.
    digit_size : (float, float)
        Range of the upscaled digit's side, pixels (the digit is 8 x 8 ink
        pixels, so a scale of ``digit_size / 8``).
    rotation : float or (float, float)
        A fixed angle or a range to draw from uniformly, degrees.
    n_clutter : int
        Distractor fragments per canvas.
    clutter_size : float
        Side of each fragment, pixels.
    noise : float
        Standard deviation of the additive Gaussian noise.
    split : {"train", "test", "all"}
        Which source digits to use (see :func:`digit_sources`).
    seed : int

    Returns
    -------
    ClutteredDigits
    """
    check_int("n", n, 1)
    check_int("size", size, 16)
    check_int("n_clutter", n_clutter, 0)
    check_int("seed", seed, 0)
    check_number("noise", noise, lo=0.0)
    check_number("clutter_size", clutter_size, lo=1.0)
    lo, hi = (float(digit_size[0]), float(digit_size[1]))
    if not 4.0 <= lo <= hi or hi * np.sqrt(2) + 2 > size:
        raise ParameterError(f"digit_size={digit_size!r} must be a range 4 <= lo <= hi with a "
                             f"rotated digit (hi * sqrt(2) + 2 = {hi * np.sqrt(2) + 2:.0f} px) "
                             f"inside the canvas of {size} px; use a larger size or smaller "
                             "digits.")
    a_lo, a_hi = (rotation, rotation) if np.isscalar(rotation) else rotation
    check_number("rotation", a_lo)
    check_number("rotation", a_hi)
    sources, source_labels = digit_sources(split)
    rng = np.random.default_rng(seed)
    picks = rng.integers(len(sources), size=n)
    sides = rng.uniform(lo, hi, size=n)
    angles = rng.uniform(float(a_lo), float(a_hi), size=n)
    images = np.zeros((n, 1, size, size), np.float32)
    centres = np.zeros((n, 2), np.float32)
    boxes = np.zeros((n, 4), np.float32)
    clutter_side = max(2, int(round(clutter_size)))
    for i in range(n):
        reach = sides[i] * np.sqrt(2) / 2 + 1           # the digit fits whatever its angle
        cx, cy = rng.uniform(reach, size - 1 - reach, size=2)
        fragments = rng.integers(len(sources), size=n_clutter)
        fragment_xy = rng.uniform(0, size - clutter_side, size=(n_clutter, 2))
        fragment_origin = rng.uniform(0, 1, size=(n_clutter, 2))
        canvas_noise = rng.standard_normal((size, size)).astype(np.float32)

        digit = _render_digit(sources[picks[i]], sides[i], angles[i])
        half = digit.shape[0] // 2
        top, left = int(round(cy)) - half, int(round(cx)) - half
        canvas = np.zeros((size, size), np.float32)
        _paste(canvas, digit, top, left)
        rows, cols = np.nonzero(digit > INK)
        boxes[i] = (left + cols.min(), top + rows.min(), left + cols.max(), top + rows.max())
        centres[i] = (left + half, top + half)
        for k in range(n_clutter):
            fx, fy = fragment_xy[k]
            if fx + clutter_side > cx - reach and fx < cx + reach \
                    and fy + clutter_side > cy - reach and fy < cy + reach:
                continue              # could touch the digit at some angle: leave it out
            piece = _render_digit(sources[fragments[k]], sides[i], 0.0)
            span = piece.shape[0] - clutter_side
            r0, c0 = (fragment_origin[k] * span).astype(int)
            _paste(canvas, piece[r0:r0 + clutter_side, c0:c0 + clutter_side], int(fy), int(fx))
        images[i, 0] = np.clip(canvas + noise * canvas_noise, 0.0, 1.0)
    return ClutteredDigits(images=images, labels=source_labels[picks], centres=centres,
                           boxes=boxes, angles=angles, digit_sizes=sides, sources=picks)
