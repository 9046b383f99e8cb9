"""Saliency-map metrics: NSS, AUC-Judd, CC, SIM and KL divergence.

Every function takes one saliency map ``(height, width)`` or a batch
``(n_maps, height, width)`` (NumPy or torch, any device) and returns a float
for one map or an ``(n_maps,)`` array for a batch, computed in float64. The
conventions are pysaliency's (0.2.22), against which the tests check them:

* **Fixations** are ``(x, y)`` pixel coordinates, ``x`` along the width and
  ``y`` along the height from the top-left corner; fixation ``(x, y)`` falls
  on pixel ``[floor(y), floor(x)]`` (pysaliency's ``x_int``/``y_int``) and
  must lie in ``[0, width) x [0, height)``. For one map, ``fixations`` is an
  ``(n, 2)`` array; for a batch, a list of ``n_maps`` such arrays. Instead of
  coordinates, NSS and AUC-Judd take ``fixation_map=``, an array of the
  saliency map's shape holding how many fixations fell on each pixel (0/1 for
  a binary map).
* **Map-to-map metrics** (CC, SIM, KL) compare the prediction with a
  reference map of the same shape, typically the blurred empirical fixation
  density.
* **Densities** (SIM and KL) are made as pysaliency does: a map with negative
  values is first shifted by its minimum, then divided by its sum; a map
  summing to 0 becomes uniform.

Examples
--------
>>> import numpy as np
>>> from neuroattn.gaze.metrics.saliency import auc_judd, nss
>>> smap = np.zeros((4, 5)); smap[1, 3] = 1.0
>>> round(nss(smap, [[3.5, 1.2]]), 4)   # the only salient pixel: (1 - 0.05) / 0.218
4.3589
>>> auc_judd(smap, [[3.5, 1.2]])
1.0
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from neuroattn._validation import as_array
from neuroattn.errors import ParameterError
from neuroattn.gaze.metrics.scanpaths import as_xy, pixel_indices

__all__ = ["IMAGE_KL_MINIMUM", "MIT_EPSILON", "auc_judd", "cc", "kl_divergence", "nss", "sim"]

#: The regulariser of the MIT/Tübingen benchmark's KL divergence (MATLAB's ``eps``,
#: written to 5 digits as the benchmark code does).
MIT_EPSILON = 2.2204e-16

#: The floor that pysaliency's image-based KL adds to both densities.
IMAGE_KL_MINIMUM = 1e-20


def _as_maps(saliency_map: Any, name: str) -> tuple[np.ndarray, bool]:
    """Saliency map(s) as float64 ``(n, H, W)``, and whether the input was a batch."""
    arr = as_array(name, saliency_map, dtype=None, finite=False)
    if arr.ndim not in (2, 3):
        raise ParameterError(f"{name} must be one (height, width) map or an (n_maps, height, "
                             f"width) batch; got shape {arr.shape}.")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers; got dtype {arr.dtype}.")
    if arr.shape[-1] * arr.shape[-2] < 2 or (arr.ndim == 3 and arr.shape[0] == 0):
        raise ParameterError(f"{name} has shape {arr.shape}; a map needs at least 2 pixels and a "
                             "batch at least one map.")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ParameterError(f"{name} holds NaN or Inf; fix the model output (e.g. exp of a "
                             "log-density that overflowed) before scoring.")
    return (arr, True) if arr.ndim == 3 else (arr[None], False)


def _fixation_counts(fixations: Any, fixation_map: Any, maps: np.ndarray, batched: bool
                     ) -> np.ndarray:
    """How many fixations fell on each pixel, ``(n, H, W)`` int64, from coordinates or a map."""
    n, height, width = maps.shape
    if (fixations is None) == (fixation_map is None):
        raise TypeError("give exactly one of fixations ((x, y) coordinates) and fixation_map "
                        "(fixation counts per pixel).")
    if fixation_map is not None:
        arr = as_array("fixation_map", fixation_map, dtype=None, finite=False)
        shape = maps.shape if batched else maps.shape[1:]
        if arr.shape != shape:
            raise ParameterError(f"fixation_map has shape {arr.shape} but the saliency map(s) "
                                 f"{shape}; it counts fixations per pixel of each map.")
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"fixation_map must hold counts; got dtype {arr.dtype}.")
        counts = arr.astype(np.float64).reshape(maps.shape)
        if (not np.isfinite(counts).all() or (counts < 0).any()
                or not np.array_equal(counts, np.round(counts))):
            raise ParameterError("fixation_map holds the number of fixations per pixel: "
                                 "non-negative integers (0/1 for a binary map).")
        empty = np.flatnonzero(counts.reshape(n, -1).sum(axis=1) == 0)
        if empty.size:
            raise ParameterError(f"the fixation map of map {int(empty[0])} is all zero; every map "
                                 "needs at least one fixation.")
        return counts.astype(np.int64)
    if batched:
        if not isinstance(fixations, (list, tuple)):
            raise ParameterError(f"for a batch of {n} maps, fixations must be a list of {n} "
                                 "(n_fixations, 2) arrays, one per map (or pass fixation_map).")
        if len(fixations) != n:
            raise ParameterError(f"fixations holds {len(fixations)} scanpaths for {n} maps; give "
                                 "one (n_fixations, 2) array per map.")
        per_map: Sequence[Any] = fixations
    else:
        per_map = [fixations]
    counts = np.zeros(maps.shape, dtype=np.int64)
    for k, fix in enumerate(per_map):
        name = f"fixations[{k}]" if batched else "fixations"
        rows, cols = pixel_indices(as_xy(fix, name), (height, width), name)
        np.add.at(counts[k], (rows, cols), 1)
    return counts


def _unbatch(values: np.ndarray, batched: bool) -> float | np.ndarray:
    return values if batched else float(values[0])


def _density(maps: np.ndarray, minimum: float = 0.0) -> np.ndarray:
    """pysaliency's ``convert_saliency_map_to_density``, per map."""
    flat = maps.reshape(maps.shape[0], -1)
    low = flat.min(axis=1, keepdims=True)
    flat = np.where(low < 0, flat - low, flat) + minimum
    total = flat.sum(axis=1, keepdims=True)
    uniform = np.full_like(flat, 1.0 / flat.shape[1])
    safe = np.where(total > 0, total, 1.0)
    return np.where(total > 0, flat / safe, uniform).reshape(maps.shape)


def _pair_maps(saliency_map: Any, reference: Any) -> tuple[np.ndarray, np.ndarray, bool]:
    pred, batched = _as_maps(saliency_map, "saliency_map")
    ref, ref_batched = _as_maps(reference, "reference")
    if pred.shape != ref.shape or batched != ref_batched:
        shapes = [np.shape(as_array(n, m, dtype=None, finite=False))
                  for n, m in (("saliency_map", saliency_map), ("reference", reference))]
        raise ParameterError(f"saliency_map has shape {shapes[0]} but reference has shape "
                             f"{shapes[1]}; compare maps of the same size (resize one first).")
    return pred, ref, batched


def nss(saliency_map: Any, fixations: Any = None, *, fixation_map: Any = None
        ) -> float | np.ndarray:
    """Normalised scanpath saliency: the mean z-scored saliency at the fixations.

    Each map is standardised over its pixels (``(s - mean) / std``, population
    std; a constant map only loses its mean, so it scores 0), and the values
    at the fixated pixels are averaged, a pixel fixated twice counting twice.
    This is pysaliency's ``NSS`` averaged per image.

    Parameters
    ----------
    saliency_map : array-like of shape (H, W) or (n_maps, H, W)
    fixations : array-like of shape (n_fixations, 2), or a list of them for a batch
        ``(x, y)`` pixel coordinates.
    fixation_map : array-like of the saliency map's shape, optional
        Fixation counts per pixel instead of ``fixations`` (give exactly one).

    Returns
    -------
    float or ndarray of shape (n_maps,)

    Examples
    --------
    >>> import numpy as np
    >>> smap = np.arange(6.0).reshape(2, 3)
    >>> round(nss(smap, [[2, 1], [0, 0]]), 6)   # z-scores 1.46 and -1.46
    0.0
    >>> nss(np.stack([smap, -smap]), [[[2, 1]], [[2, 1]]]).round(4)
    array([ 1.4639, -1.4639])
    >>> round(nss(smap, fixation_map=[[0, 0, 1], [0, 0, 1]]), 4)   # values 2 and 5
    0.5855
    """
    maps, batched = _as_maps(saliency_map, "saliency_map")
    counts = _fixation_counts(fixations, fixation_map, maps, batched)
    flat = maps.reshape(maps.shape[0], -1)
    mean = flat.mean(axis=1, keepdims=True)
    std = flat.std(axis=1, keepdims=True)
    z = (flat - mean) / np.where(std > 0, std, 1.0)
    weights = counts.reshape(counts.shape[0], -1)
    return _unbatch((z * weights).sum(axis=1) / weights.sum(axis=1), batched)


def auc_judd(saliency_map: Any, fixations: Any = None, *, fixation_map: Any = None
             ) -> float | np.ndarray:
    """AUC-Judd: the area under the ROC curve of fixated against unfixated pixels.

    Positives are the saliency values at the fixations (a pixel fixated twice
    counts twice); negatives are the values of every pixel fixated by none.
    The thresholds are the positive values: at threshold ``t`` the hit rate is
    the fraction of positives ``>= t`` and the false-positive rate the fraction
    of negatives ``>= t``; the points, with (0, 0) and (1, 1) added, are joined
    by the trapezoidal rule. Ties therefore count as above threshold, and the
    result is deterministic. This is pysaliency's ``AUC_Judd(jitter=False)``
    per image; the benchmark's default adds 1e-7 noise to break ties between
    equal pixels, which moves results on maps with flat regions (a constant
    map scores exactly 0.5 here).

    Parameters
    ----------
    saliency_map : array-like of shape (H, W) or (n_maps, H, W)
    fixations : array-like of shape (n_fixations, 2), or a list of them for a batch
        ``(x, y)`` pixel coordinates.
    fixation_map : array-like of the saliency map's shape, optional
        Fixation counts per pixel instead of ``fixations`` (give exactly one).

    Returns
    -------
    float or ndarray of shape (n_maps,)
        In ``[0, 1]``; 0.5 is chance.

    Examples
    --------
    >>> import numpy as np
    >>> smap = np.array([[0.1, 0.9], [0.4, 0.6]])
    >>> auc_judd(smap, [[1, 0]])          # the fixated pixel is the most salient
    1.0
    >>> round(auc_judd(smap, [[0, 1]]), 4)   # 0.4 beats 1 of 3 unfixated pixels...
    0.6667

    ... yet the trapezoid from (0, 0) to (2/3, 1) makes it 2/3, not the exact ROC's 1/3:
    AUC-Judd is biased upwards by up to ``1 / (2 n_fixations)``.
    """
    maps, batched = _as_maps(saliency_map, "saliency_map")
    counts = _fixation_counts(fixations, fixation_map, maps, batched)
    out = np.empty(maps.shape[0])
    for k in range(maps.shape[0]):
        values = maps[k].ravel()
        c = counts[k].ravel()
        negatives = np.sort(values[c == 0])
        if negatives.size == 0:
            raise ParameterError(f"every pixel of map {k} is fixated; AUC-Judd needs unfixated "
                                 "pixels as negatives.")
        positives = np.sort(np.repeat(values, c))
        thresholds = positives[::-1]
        hit = (positives.size - np.searchsorted(positives, thresholds, side="left")) \
            / positives.size
        false_pos = (negatives.size - np.searchsorted(negatives, thresholds, side="left")) \
            / negatives.size
        hit = np.concatenate(([0.0], hit, [1.0]))
        false_pos = np.concatenate(([0.0], false_pos, [1.0]))
        out[k] = float(np.sum(np.diff(false_pos) * (hit[1:] + hit[:-1]) / 2))
    return _unbatch(out, batched)


def cc(saliency_map: Any, reference: Any) -> float | np.ndarray:
    """Linear correlation coefficient (Pearson r) between two maps, over pixels.

    A constant map has no defined correlation; it scores 0. (pysaliency returns
    0 when only the prediction is constant and NaN when the reference is.)

    Parameters
    ----------
    saliency_map, reference : array-like of shape (H, W) or (n_maps, H, W)
        Prediction and reference (e.g. the empirical fixation density), same shape.

    Returns
    -------
    float or ndarray of shape (n_maps,)
        In ``[-1, 1]``.

    Examples
    --------
    >>> import numpy as np
    >>> smap = np.arange(6.0).reshape(2, 3)
    >>> cc(smap, 2 * smap + 1), cc(smap, -smap), cc(smap, np.ones((2, 3)))
    (1.0, -1.0, 0.0)
    """
    pred, ref, batched = _pair_maps(saliency_map, reference)
    p = pred.reshape(pred.shape[0], -1)
    r = ref.reshape(ref.shape[0], -1)
    p = p - p.mean(axis=1, keepdims=True)
    r = r - r.mean(axis=1, keepdims=True)
    denom = np.sqrt((p * p).sum(axis=1) * (r * r).sum(axis=1))
    value = np.where(denom > 0, (p * r).sum(axis=1) / np.where(denom > 0, denom, 1.0), 0.0)
    return _unbatch(np.clip(value, -1.0, 1.0), batched)


def sim(saliency_map: Any, reference: Any) -> float | np.ndarray:
    """Similarity (histogram intersection) of two maps made into densities.

    Both maps become densities (shifted by their minimum if negative, divided
    by their sum, uniform if they sum to 0) and ``SIM = sum(min(p, q))``,
    pysaliency's ``SIM``.

    Parameters
    ----------
    saliency_map, reference : array-like of shape (H, W) or (n_maps, H, W)
        Same shape.

    Returns
    -------
    float or ndarray of shape (n_maps,)
        In ``[0, 1]``; 1 for maps proportional to each other.

    Examples
    --------
    >>> import numpy as np
    >>> sim(np.array([[1.0, 1.0], [0.0, 0.0]]), np.array([[1.0, 0.0], [1.0, 0.0]]))
    0.5
    """
    pred, ref, batched = _pair_maps(saliency_map, reference)
    value = np.minimum(_density(pred), _density(ref)).reshape(pred.shape[0], -1).sum(axis=1)
    return _unbatch(value, batched)


def kl_divergence(saliency_map: Any, reference: Any, *,
                  kind: Literal["mit", "image"] = "mit") -> float | np.ndarray:
    """KL divergence of the reference density from the predicted one, ``KL(q || p)``.

    ``p`` is the prediction made into a density, ``q`` the reference (the
    empirical fixation density); lower is better and 0 means equal densities.
    Two conventions are in use, with very different values on maps with zeros:

    * ``kind="mit"`` (default): the MIT/Tübingen saliency benchmark's KL,
      ``sum(q * log(eps + q / (p + eps)))`` with ``eps = 2.2204e-16``
      (:data:`MIT_EPSILON`) on densities without any floor; pysaliency's
      ``MIT_KLDiv``.
    * ``kind="image"``: pysaliency's ``image_based_kl_divergence``:
      ``1e-20`` is added to both maps before they are normalised, then
      ``sum(q * (log q - log p))``.

    Parameters
    ----------
    saliency_map, reference : array-like of shape (H, W) or (n_maps, H, W)
        Prediction and reference, same shape.
    kind : {"mit", "image"}
        Which regularisation (above).

    Returns
    -------
    float or ndarray of shape (n_maps,)

    Examples
    --------
    >>> import numpy as np
    >>> q = np.array([[1.0, 1.0], [0.0, 0.0]])
    >>> round(kl_divergence(np.ones((2, 2)), q), 6)   # log 2: q on half the pixels
    0.693147
    >>> abs(kl_divergence(q, q)) < 1e-12
    True
    """
    pred, ref, batched = _pair_maps(saliency_map, reference)
    n = pred.shape[0]
    if kind == "mit":
        p, q = _density(pred), _density(ref)
        value = (q * np.log(MIT_EPSILON + q / (p + MIT_EPSILON))).reshape(n, -1).sum(axis=1)
    elif kind == "image":
        p, q = _density(pred, IMAGE_KL_MINIMUM), _density(ref, IMAGE_KL_MINIMUM)
        value = (q * (np.log(q) - np.log(p))).reshape(n, -1).sum(axis=1)
    else:
        raise ParameterError(f"kind must be 'mit' (the benchmark's KL) or 'image' (pysaliency's "
                             f"image-based KL); got {kind!r}.")
    return _unbatch(value, batched)
