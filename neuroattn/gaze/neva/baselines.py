"""Image-level scanpath baselines, with NevaClip's output format.

Each baseline's ``generate(images, n_fixations, seed)`` returns a
:class:`~neuroattn.gaze.neva.search.NeVAResult` in each image's pixel
``(x, y)``, so the same metrics code scores them and NevaClip:

* :class:`RandomScanpaths` — fixations uniform over the image.
* :class:`CentreBiasScanpaths` — fixations from an isotropic Gaussian at the
  image centre, ``sigma`` in units of the image side (:meth:`fit` estimates it
  from human fixations: the root-mean-square normalised offset per axis).
* :class:`SaliencyPeakScanpaths` — fixations at the peaks of a saliency map
  (greedy) or drawn from it (``temperature``), with inhibition of return: each
  fixation multiplies the map by ``1 - exp(-d² / (2·ior²))``.
* :class:`CLEScanpaths` — constrained Lévy exploration (Boccignone & Ferraro
  2004): from the centre, gaze shifts are Lévy flights (Cauchy-distributed
  lengths of scale ``jump_scale`` image diagonals, uniform directions) accepted
  by a Metropolis rule on the saliency, ``p = min(1, exp((s' - s) / T))`` with
  ``s`` the map scaled to [0, 1] and ``s`` the saliency the current fixation had
  when it was chosen, over the same inhibition of return (so the walk settles
  on salient regions and leaves them for equally salient ones); the best of
  ``max_proposals`` proposals is taken when none is accepted.

The saliency map defaults to :func:`~neuroattn.gaze.saliency_maps.spectral_residual`;
``generate(..., saliency_maps=...)`` takes precomputed maps instead.

Examples
--------
>>> import numpy as np
>>> from neuroattn.gaze.neva.baselines import make_image_baseline
>>> images = np.random.default_rng(0).random((2, 40, 60, 3))
>>> result = make_image_baseline("cle").generate(images, n_fixations=4, seed=0)
>>> result.fixations.shape, result.image_sizes[0].tolist()
((2, 4, 2), [40, 60])
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from neuroattn.errors import ParameterError
from neuroattn.gaze.neva.clip import ImageInput, image_list
from neuroattn.gaze.neva.search import NeVAResult
from neuroattn.gaze.saliency_maps import spectral_residual

__all__ = ["IMAGE_BASELINES", "CLEScanpaths", "CentreBiasScanpaths", "ImageScanpathBaseline",
           "RandomScanpaths", "SaliencyPeakScanpaths", "make_image_baseline"]


class ImageScanpathBaseline(ABC):
    """Base class: ``generate`` one scanpath per image (see the module docstring)."""

    name: ClassVar[str] = "baseline"
    needs_saliency: ClassVar[bool] = False

    def __init__(self, saliency: Callable[[np.ndarray], np.ndarray] = spectral_residual) -> None:
        self.saliency = saliency

    @abstractmethod
    def _path(self, size: tuple[int, int], saliency: np.ndarray | None, n_fixations: int,
              rng: np.random.Generator) -> np.ndarray:
        """One ``(n_fixations, 2)`` pixel ``(x, y)`` path."""

    def generate(self, images: ImageInput | Sequence[ImageInput], n_fixations: int = 10, *,
                 seed: int = 0,
                 saliency_maps: Sequence[np.ndarray] | None = None) -> NeVAResult:
        """Scanpaths of ``n_fixations`` for every image; image ``i`` uses seed ``seed + i``.

        Parameters
        ----------
        images : tensor, array, PIL image, path, or a list of them
        n_fixations : int
        seed : int
        saliency_maps : sequence of (H, W) arrays, optional
            Precomputed maps (default: ``self.saliency`` of each image).

        Returns
        -------
        NeVAResult
            ``losses`` are NaN (baselines optimise nothing).
        """
        if int(n_fixations) != n_fixations or n_fixations < 1:
            raise ParameterError(f"n_fixations must be a positive integer, got {n_fixations!r}.")
        arrays = [image.permute(1, 2, 0).numpy() for image in image_list(images)]
        if saliency_maps is not None and len(saliency_maps) != len(arrays):
            raise ParameterError(f"{len(saliency_maps)} saliency maps for {len(arrays)} images.")
        paths, sizes = [], []
        for i, image in enumerate(arrays):
            size = image.shape[:2]
            sal = None
            if self.needs_saliency:
                sal = np.asarray(saliency_maps[i] if saliency_maps is not None
                                 else self.saliency(image), dtype=np.float64)
                if sal.shape != size:
                    raise ParameterError(f"saliency map {i} has shape {sal.shape}, image {size}.")
            paths.append(self._path(size, sal, int(n_fixations),
                                    np.random.default_rng(seed + i)))
            sizes.append(size)
        fixations = np.stack(paths)
        return NeVAResult(fixations=fixations, losses=np.full(fixations.shape[:2], np.nan),
                          lengths=np.full(len(paths), n_fixations, dtype=np.int64),
                          image_sizes=np.array(sizes, dtype=np.int64))


class RandomScanpaths(ImageScanpathBaseline):
    """Fixations uniform over the image."""

    name = "random"

    def _path(self, size, saliency, n_fixations, rng):
        height, width = size
        return rng.uniform([0, 0], [width - 1, height - 1], (n_fixations, 2))


class CentreBiasScanpaths(ImageScanpathBaseline):
    """Fixations from a Gaussian at the centre, ``sigma`` image sides per axis, clipped.

    Parameters
    ----------
    sigma : float
        Standard deviation as a fraction of the image width (x) and height (y).
    """

    name = "centre"

    def __init__(self, sigma: float = 0.2) -> None:
        super().__init__()
        if not sigma > 0:
            raise ParameterError(f"sigma must be > 0, got {sigma}.")
        self.sigma = float(sigma)

    def fit(self, scanpaths: Sequence[np.ndarray],
            image_sizes: Sequence[tuple[int, int]]) -> CentreBiasScanpaths:
        """Set ``sigma`` to the RMS offset of human fixations from the centre (image sides).

        Examples
        --------
        >>> import numpy as np
        >>> base = CentreBiasScanpaths().fit([np.array([[0.0, 50.0], [100.0, 50.0]])], [(101, 101)])
        >>> round(base.sigma, 3)     # x offsets of ±0.5, y offsets of 0
        0.354
        """
        offsets = [(np.asarray(p, float) - [(w - 1) / 2, (h - 1) / 2]) / [w - 1, h - 1]
                   for p, (h, w) in zip(scanpaths, image_sizes, strict=False)]
        stacked = np.concatenate(offsets)
        stacked = stacked[np.isfinite(stacked).all(1)]
        if not len(stacked):
            raise ParameterError("no finite fixations to fit the centre bias to.")
        self.sigma = float(np.sqrt((stacked**2).mean()))
        return self

    def _path(self, size, saliency, n_fixations, rng):
        height, width = size
        centre = np.array([(width - 1) / 2, (height - 1) / 2])
        points = centre + self.sigma * np.array([width - 1, height - 1]) * rng.standard_normal(
            (n_fixations, 2))
        return np.clip(points, 0, [width - 1, height - 1])


def _inhibit(saliency: np.ndarray, xy: np.ndarray, ior: float) -> np.ndarray:
    height, width = saliency.shape
    yy, xx = np.mgrid[:height, :width]
    radius = ior * max(height, width)
    return saliency * (1.0 - np.exp(-((xx - xy[0]) ** 2 + (yy - xy[1]) ** 2) / (2 * radius**2)))


class SaliencyPeakScanpaths(ImageScanpathBaseline):
    """Saliency peaks (``temperature=None``) or draws from ``saliency^(1/T)``, with IOR.

    Parameters
    ----------
    ior : float
        Inhibition-of-return radius as a fraction of the longer image side.
    temperature : float, optional
        None: always the current peak; else sample.
    """

    name = "saliency"
    needs_saliency = True

    def __init__(self, ior: float = 0.1, temperature: float | None = None,
                 saliency: Callable[[np.ndarray], np.ndarray] = spectral_residual) -> None:
        super().__init__(saliency)
        self.ior, self.temperature = float(ior), temperature

    def _path(self, size, saliency, n_fixations, rng):
        current = saliency / max(saliency.max(), 1e-300)
        path = []
        for _ in range(n_fixations):
            if self.temperature is None:
                index = int(current.argmax())
            else:
                weights = np.clip(current, 0, None) ** (1.0 / self.temperature)
                index = int(rng.choice(weights.size, p=(weights / weights.sum()).ravel())) \
                    if weights.sum() > 0 else int(rng.integers(weights.size))
            y, x = np.unravel_index(index, current.shape)
            path.append((float(x), float(y)))
            current = _inhibit(current, np.array(path[-1]), self.ior)
        return np.array(path)


class CLEScanpaths(ImageScanpathBaseline):
    """Constrained Lévy exploration over a saliency map (see the module docstring).

    Parameters
    ----------
    jump_scale : float
        Cauchy scale of the flight length, in image diagonals.
    temperature : float
        Metropolis temperature on the [0, 1]-scaled saliency.
    max_proposals : int
        Proposals per gaze shift before the best one is taken.
    ior : float
        Inhibition-of-return radius (fraction of the longer side).
    """

    name = "cle"
    needs_saliency = True

    def __init__(self, jump_scale: float = 0.15, temperature: float = 0.03,
                 max_proposals: int = 50, ior: float = 0.1,
                 saliency: Callable[[np.ndarray], np.ndarray] = spectral_residual) -> None:
        super().__init__(saliency)
        self.jump_scale, self.temperature = float(jump_scale), float(temperature)
        self.max_proposals, self.ior = int(max_proposals), float(ior)

    def _path(self, size, saliency, n_fixations, rng):
        height, width = size
        current = saliency / max(saliency.max(), 1e-300)
        here = np.array([(width - 1) / 2, (height - 1) / 2])
        diagonal = np.hypot(width, height)
        value = current[int(round(here[1])), int(round(here[0]))]  # saliency where gaze is
        path = []
        for _ in range(n_fixations):
            lengths = np.abs(self.jump_scale * diagonal * rng.standard_cauchy(self.max_proposals))
            angles = rng.uniform(0, 2 * np.pi, self.max_proposals)
            proposals = here + lengths[:, None] * np.stack([np.cos(angles), np.sin(angles)], 1)
            inside = ((proposals >= 0) & (proposals <= [width - 1, height - 1])).all(1)
            proposals = proposals[inside] if inside.any() else np.clip(
                proposals, 0, [width - 1, height - 1])
            values = current[np.rint(proposals[:, 1]).astype(int),
                             np.rint(proposals[:, 0]).astype(int)]
            accept = rng.random(len(values)) < np.exp(np.minimum(0.0, (values - value)
                                                                 / self.temperature))
            chosen = int(np.flatnonzero(accept)[0]) if accept.any() else int(values.argmax())
            here, value = proposals[chosen], values[chosen]
            path.append(here.copy())
            current = _inhibit(current, here, self.ior)
        return np.array(path)


IMAGE_BASELINES: dict[str, type[ImageScanpathBaseline]] = {
    cls.name: cls for cls in (RandomScanpaths, CentreBiasScanpaths, SaliencyPeakScanpaths,
                              CLEScanpaths)
}


def make_image_baseline(name: str, **kwargs: Any) -> ImageScanpathBaseline:
    """Build a baseline by name: ``"random"``, ``"centre"``, ``"saliency"`` or ``"cle"``.

    Examples
    --------
    >>> make_image_baseline("centre", sigma=0.1).sigma
    0.1
    """
    if name not in IMAGE_BASELINES:
        raise ParameterError(f"unknown baseline {name!r}; choose from {sorted(IMAGE_BASELINES)}.")
    return IMAGE_BASELINES[name](**kwargs)
