"""Encoding accuracy: per-voxel Pearson r, the NSD noise ceiling and the Algonauts 2023 score.

All functions take NumPy arrays, torch tensors (any device, with or without
grad) or xarray objects of shape ``(stimulus, voxel)`` and return NumPy arrays
computed in float64. Voxels (or surface vertices) are columns.

Examples
--------
>>> import numpy as np
>>> from neuroattn.encoding.metrics import noise_ceiling, pearson_r
>>> true = np.array([[1.0, 2.0], [2.0, 2.0], [3.0, 2.0]])
>>> pearson_r(true, true)  # a constant column has no correlation: 0
array([1., 0.])
>>> float(noise_ceiling(1.0, n_repeats=3))
0.75
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neuroattn._validation import as_array
from neuroattn.errors import ParameterError

__all__ = ["algonauts_score", "noise_ceiling", "noise_normalized_accuracy", "pearson_r"]

#: What the Algonauts 2023 code puts in place of a zero noise ceiling.
NC_FLOOR = 1e-14


def _pair(pred: Any, true: Any) -> tuple[np.ndarray, np.ndarray]:
    p, t = as_array("pred", pred, finite=False), as_array("true", true, finite=False)
    if p.shape != t.shape:
        raise ParameterError(f"pred has shape {p.shape} but true has shape {t.shape}; both must be "
                             "(stimulus, voxel) with the same stimuli and voxels.")
    if p.ndim not in (1, 2):
        raise ParameterError(f"pred and true must be 1-D (one voxel) or 2-D (stimulus, voxel); got "
                             f"shape {p.shape}. Flatten the voxel dimensions first.")
    if p.shape[0] < 2:
        raise ParameterError(f"a correlation needs at least 2 stimuli; got {p.shape[0]}.")
    if not (np.isfinite(p).all() and np.isfinite(t).all()):
        raise ParameterError("pred or true holds NaN or Inf; drop those stimuli or voxels first.")
    return p, t


def pearson_r(pred: Any, true: Any) -> np.ndarray:
    """Pearson correlation between predicted and measured responses, per voxel (column).

    Parameters
    ----------
    pred, true : array-like of shape (n_stimuli, n_voxels) or (n_stimuli,)
        NumPy arrays, torch tensors or xarray objects.

    Returns
    -------
    r : ndarray of shape (n_voxels,), or a 0-d array for 1-D inputs
        In [-1, 1]. A voxel whose prediction or measurement is constant has
        no defined correlation; it gets 0, silently (no NumPy warning).

    Examples
    --------
    >>> import numpy as np
    >>> pred = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]])
    >>> pearson_r(pred, np.array([[1.0, 1.0], [2.0, 2.0], [4.0, 3.0]])).round(4)
    array([ 0.982, -1.   ])
    """
    p, t = _pair(pred, true)
    p = p - p.mean(axis=0)
    t = t - t.mean(axis=0)
    num = (p * t).sum(axis=0)
    den = np.sqrt((p * p).sum(axis=0) * (t * t).sum(axis=0))
    safe = den > 0
    r = np.divide(num, den, out=np.zeros_like(num), where=safe)
    return np.clip(r, -1.0, 1.0)


def noise_ceiling(ncsnr: Any, n_repeats: int = 3) -> np.ndarray:
    """NSD noise ceiling from the noise-ceiling SNR, as a fraction of variance in [0, 1].

    ``NC = ncsnr² / (ncsnr² + 1 / n_repeats)`` (Allen et al. 2022), the part
    of the variance of an ``n_repeats``-trial average that the stimulus can
    explain. NSD files and papers quote it in percent (100 × this); the
    Algonauts 2023 test set averages 3 repeats, hence the default.

    Parameters
    ----------
    ncsnr : array-like
        Signal sd over single-trial noise sd, per voxel (≥ 0).
    n_repeats : int
        Number of trials averaged in the responses that are scored.

    Returns
    -------
    nc : ndarray, same shape as ``ncsnr``

    Examples
    --------
    >>> noise_ceiling([0.0, 1.0, 2.0])
    array([0.        , 0.75      , 0.92307692])
    >>> float(noise_ceiling(1.0, n_repeats=1))
    0.5
    """
    if isinstance(n_repeats, bool) or not isinstance(n_repeats, (int, np.integer)) \
            or n_repeats < 1:
        raise ParameterError(f"n_repeats must be a positive int (trials averaged per stimulus); "
                             f"got {n_repeats!r}.")
    s = as_array("ncsnr", ncsnr, finite=False)
    if not np.isfinite(s).all():
        raise ParameterError("ncsnr holds NaN or Inf; set those voxels to 0 (no signal) or drop "
                             "them first.")
    if (s < 0).any():
        raise ParameterError("ncsnr must be >= 0 (it is a ratio of standard deviations); got "
                             f"minimum {s.min():.3g}.")
    s2 = s * s
    return s2 / (s2 + 1.0 / n_repeats)


def noise_normalized_accuracy(pred: Any, true: Any, nc: Any) -> np.ndarray:
    """Noise-normalised encoding accuracy per voxel, as in Algonauts 2023, in [0, 1].

    ``min(max(r, 0)² / NC, 1)`` with ``r`` the Pearson r per voxel: negative
    correlations count as 0, and the share of the explainable variance is
    capped at 1. A voxel with ``NC == 0`` is given ``NC = 1e-14``, as the
    challenge code does (so any positive r scores 1 there).

    Parameters
    ----------
    pred, true : array-like of shape (n_stimuli, n_voxels)
    nc : array-like of shape (n_voxels,)
        Noise ceiling as a fraction in [0, 1], e.g. from :func:`noise_ceiling`
        (divide NSD's percent values by 100).

    Returns
    -------
    accuracy : ndarray of shape (n_voxels,)

    Examples
    --------
    >>> import numpy as np
    >>> true = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    >>> pred = np.array([[0.0, 2.0], [2.0, 1.0], [1.0, 0.0]])  # r = 0.5 and -1
    >>> noise_normalized_accuracy(pred, true, [0.5, 0.5])
    array([0.5, 0. ])
    """
    r = pearson_r(pred, true)
    c = as_array("nc", nc, finite=False)
    if c.shape != r.shape:
        raise ParameterError(f"nc has shape {c.shape} but there are {r.size} voxels; pass one "
                             "noise ceiling per voxel.")
    if not np.isfinite(c).all() or (c < 0).any():
        raise ParameterError("nc must be finite and >= 0; set voxels with no estimate to 0.")
    if (c > 1).any():
        raise ParameterError(f"nc must be a fraction in [0, 1]; got values up to {c.max():.3g}. "
                             "If these are NSD percentages, divide by 100.")
    c = np.where(c == 0, NC_FLOOR, c)
    return np.minimum(np.maximum(r, 0.0) ** 2 / c, 1.0)


def algonauts_score(pred_lh: Any, true_lh: Any, nc_lh: Any, pred_rh: Any = None,
                    true_rh: Any = None, nc_rh: Any = None) -> float:
    """The Algonauts 2023 challenge score of one subject, in percent.

    What is computed, exactly:

    1. per vertex, :func:`noise_normalized_accuracy` (Pearson r over the test
       images, negative r set to 0, ``r² / NC`` capped at 1, ``NC = 0`` replaced
       by ``1e-14``);
    2. per hemisphere, the mean over all its vertices (the "All vertices"
       figure of the challenge code);
    3. with both hemispheres, the unweighted mean of the left and right
       scores, each hemisphere counting once whatever its vertex count
       (pooling all vertices instead would weight the larger hemisphere more);
    4. times 100.

    The leaderboard number is this score averaged over the 8 subjects; do that
    average yourself.

    Parameters
    ----------
    pred_lh, true_lh : array-like of shape (n_images, n_vertices_lh)
        Predicted and measured test responses (mean of 3 repeats) of the left
        hemisphere.
    nc_lh : array-like of shape (n_vertices_lh,)
        Noise ceiling as a fraction (:func:`noise_ceiling`).
    pred_rh, true_rh, nc_rh : array-like, optional
        The same for the right hemisphere; all three or none.

    Returns
    -------
    score : float
        In [0, 100].

    Examples
    --------
    >>> import numpy as np
    >>> true = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    >>> pred = np.array([[0.0, 2.0], [2.0, 1.0], [1.0, 0.0]])  # r = 0.5 and -1
    >>> algonauts_score(pred, true, [0.5, 0.5])  # (0.5 + 0) / 2 vertices
    25.0
    >>> algonauts_score(pred, true, [0.5, 0.5], true, true, [1.0, 1.0])  # (25 + 100) / 2
    62.5
    """
    rh = (pred_rh, true_rh, nc_rh)
    given = [x is not None for x in rh]
    if any(given) and not all(given):
        raise ParameterError("give all of pred_rh, true_rh and nc_rh, or none of them.")
    scores = [float(np.mean(noise_normalized_accuracy(pred_lh, true_lh, nc_lh)))]
    if all(given):
        scores.append(float(np.mean(noise_normalized_accuracy(*rh))))
    return 100.0 * float(np.mean(scores))
