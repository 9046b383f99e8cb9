"""Synthetic image → fMRI data with known routing, for testing brain encoders.

A benchmark where the answer is known. With the default ``readout="attention"``
every ROI reads the image through a ground-truth attention map (a
single-head cross-attention with a known query), and every voxel reads its
ROI's token linearly: the function class of
:class:`~neuroattn.encoding.TransformerBrainEncoder`, so on these data a
correctly specified model meets misspecified baselines. Two other readouts
lie outside that class (see **Readouts** below): ``"prf"``, a Gaussian
population receptive field per voxel, and ``"max"``, channel-wise max
pooling per ROI. The recipe of the attention readout follows the notes on
the transformer brain encoder (Adeli et al. 2025), §5.1:

1. **Feature maps** ``F_n`` of shape ``(H, W, C)`` (a stand-in for a frozen
   backbone's token grid): background ``background_sd · N(0, I)`` per token,
   plus 1-3 **objects**. Object ``o`` has a category ``k ∈ {0..K-1}``, a
   continuous centre ``μ_o`` (tokens, row ``y`` then column ``x``) and a size
   ``σ_o ~ U(object_size)``, and adds ``exp(-|p - μ_o|² / 2σ_o²) · (p_k + e_o)``
   to token ``p``. The prototypes ``p_k`` are independent random directions
   scaled to norm ``prototype_norm`` (2 by default, the norm of the
   background texture of about four tokens), and ``e_o ~ instance_noise ·
   N(0, I_C)`` is one draw per object.

   The prototype norm sets how much the routing can be *identified* from the
   responses. With norm ``√C`` (an ``N(0, I_C)`` draw) the content logits
   ``β·p̂_k·F`` reach about 23 on an object and the true maps are one-hot on
   its peak token, so a map half or twice as sharp predicts the voxels
   equally well (within 0.005 r²/NC for the true model refitted) and no
   encoder can recover the sharpness from fMRI: a trained one reached routing
   r 0.75. At norm 2 the objects stand out of the background by a factor of
   about 2 per channel, the maps spread over the object, and sharpness and
   location both matter to the responses.
2. **Routing** ``a_r(n, p)``, a distribution over the ``H·W`` tokens per ROI:

   * *retinotopic* (V1-V4-like): a static pRF, ``∝ exp(-|p - c_r|² / 2σ_r²)``,
     the same for every image;
   * *category* (FFA/PPA-like): ``softmax_p(β · p̂_k · F_n(p))`` with
     ``p̂_k = p_k / |p_k|``: it goes wherever the preferred category is;
   * *mixed* (OFA-like): ``softmax_p(β · p̂_k · F_n(p) - |p - c_r|² / 2σ_r²)``.

   ROI centres are contralateral: a left-hemisphere ROI looks at the right
   half of the grid and vice versa.
3. **ROI token** ``h_r(n) = Σ_p a_r(n, p) F_n(p)``.
4. **Voxels.** Voxel ``v`` of ROI ``r`` has weights ``u_v = category_weight ·
   d_r + weight_noise · z_v`` with ``z_v ~ N(0, I/C)``; ``d_r = p̂_k`` for
   category and mixed ROIs (so their voxels prefer their category) and a random
   unit direction for retinotopic ROIs. ``z`` is smoothed over the cortical
   mesh (``smoothing_steps`` rounds of neighbour averaging inside the ROI,
   then rescaled), so that neighbouring voxels have similar weights. The
   clean response is ``s_v(n) = u_v · mean_{r ∋ v} h_r(n)``: a voxel in two
   ROIs (see ``overlap_fraction``) reads the **mean** of the two tokens with
   its one weight vector, i.e. the mean of the two ROIs' reads
   (``overlap_rule="mean"``). ``overlap_rule="sum"`` sums the reads instead,
   as the reference implementation sums its per-ROI predictions. The response
   is then standardised to zero mean and unit variance with statistics from
   1000 extra images (an independent random stream, so that changing
   ``n_train`` leaves the test split unchanged). A voxel's ROIs are fixed, so
   the sum is exactly twice the mean for every image, and after this
   standardisation the two rules give the same responses (to float
   rounding): the choice is a per-voxel scale, which any model with its own
   weights per voxel absorbs too.
5. **NSD-like noise.** Each voxel has ``ncsnr ~ U(ncsnr_range)`` (signal sd /
   single-trial noise sd). Training responses are single trials
   ``s + ε / ncsnr``; test responses are the mean of ``n_repeats`` trials,
   whose noise ceiling is ``NC = ncsnr² / (ncsnr² + 1/n_repeats)`` (the
   NSD/Algonauts definition, as a fraction). The expected squared correlation
   between the clean signal and the test responses equals ``NC``, so the
   ground-truth model scores ``r²/NC ≈ 1``.

**Readouts** (``readout``). Steps 1, 2 (the ROI centres and sizes), 4 (the
weights ``u_v``) and 5 are shared; only the map from features to the clean
response changes, so the three data sets of one seed have the same images,
voxels and noise.

* ``"attention"`` (default): steps 2-4 above.
* ``"prf"``: every voxel has its **own** Gaussian pRF and reads one feature
  subset. The ``C`` channels are cut into ``n_feature_subsets`` contiguous
  blocks; ROI ``r`` owns block ``r mod n_feature_subsets``. Voxel ``v`` of ROI
  ``r`` pools ``g_v(p) ∝ exp(-|p - c_v|² / 2σ_v²)`` (summing to 1 over the
  grid) and reads the channels of its block: ``read_{v,r} = Σ_p g_v(p) Σ_{c ∈
  S_r} u_vc F_n(p, c)``. The centres form a retinotopic map across the
  patch: ``c_v = c_r + prf_scatter · t_v``, where ``t_v ∈ [-1, 1]²`` are the
  voxel's coordinates along the patch's two principal axes on the mesh
  (clipped to the grid), so neighbouring voxels see neighbouring places;
  ``σ_v = σ_r · U(0.75, 1.25)``. Retinotopic ROIs draw ``σ_r`` from
  ``prf_sigma``, category and mixed ROIs from ``mixed_sigma`` (category ROIs
  get a contralateral centre too). The response is linear in the flattened
  grid (ridge's class), and one static map per ROI cannot express the
  voxels' different centres.
* ``"max"``: each ROI **max-pools** every channel over a window,
  ``m_r(n)_c = max_{p ∈ W_r} F_n(p, c)``, and voxels read ``u_v · m_r`` (the
  attention-weighted mean of step 3 replaced by a channel-wise max). ``W_r``
  is the disc of radius ``2σ_r`` around ``c_r`` (at least the nearest token)
  for retinotopic and mixed ROIs, and the whole grid for category ROIs. No
  model here has a channel-wise max.

Only the attention readout has ROI routing maps (:meth:`SyntheticEncoding.routing`).
The extra parameters of the other readouts come from a tenth random stream,
so the attention data of a seed do not change with them.

**Geometry.** Voxels are real vertices of the fsaverage5 cortical mesh shipped
with nilearn (10242 vertices per hemisphere): each ROI is a patch of
``voxels_per_roi`` vertices grown geodesically (Dijkstra along the pial mesh
edges) from a seed in its anatomical region: retinotopic ROIs at the occipital
pole, category ROIs on the ventral temporal surface (fusiform), mixed ROIs on
the lateral occipital surface. The ``j``-th ROI of each kind goes to the left
hemisphere for even ``j`` and to the right for odd ``j``. Voxels never share
a vertex.

Examples
--------
>>> from neuroattn.datasets.synthetic.encoding import make_synthetic_encoding
>>> data = make_synthetic_encoding(n_train=64, n_test=16, voxels_per_roi=10)
>>> data.X_train.shape, data.Y_train.shape, data.Y_test_repeats.shape
((64, 8, 8, 32), (64, 60), (3, 16, 60))
>>> data.roi_names, data.roi_kinds[::2]
(['ret0', 'ret1', 'cat0', 'cat1', 'mix0', 'mix1'], ['retinotopic', 'category', 'mixed'])
>>> data.routing(data.X_test).shape
(16, 6, 8, 8)
"""

from __future__ import annotations

import dataclasses
import functools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neuroattn._logging import logger
from neuroattn._validation import check_int, check_number, check_pair, to_jsonable
from neuroattn.config import ConfigError, config_from
from neuroattn.errors import FormatError, ParameterError

__all__ = ["SyntheticEncoding", "SyntheticEncodingConfig", "make_synthetic_encoding"]

ROI_KINDS = ("retinotopic", "category", "mixed")
"""The three kinds of ground-truth routing."""
READOUTS = ("attention", "prf", "max")
"""How ROIs read the feature maps: the model's class, per-voxel Gaussian pRFs, max pooling."""
OVERLAP_RULES = ("mean", "sum")
"""How a voxel in several ROIs combines their reads (ours, the reference's)."""
PRF_SIGMA_JITTER = (0.75, 1.25)
"""Range of the per-voxel factor on the ROI's σ in the ``"prf"`` readout."""
HEMISPHERES = ("lh", "rh")
"""Hemisphere labels (as in the NSD / Algonauts files)."""
N_CALIBRATION = 1000
"""Extra images (independent stream) whose clean responses set each voxel's mean and sd."""
FSAVERAGE5_N_VERTICES = 10242
"""Vertices per hemisphere of the fsaverage5 mesh."""

_PREFIX = {"retinotopic": "ret", "category": "cat", "mixed": "mix"}


# =============================================================================
# Config
# =============================================================================
@dataclass
class SyntheticEncodingConfig:
    """Parameters of :func:`make_synthetic_encoding`.

    Parameters
    ----------
    height, width : int
        Size of the token grid (``H``, ``W``), at least 4 each.
    n_features : int
        Channels per token (``C``).
    n_categories : int
        Number of object categories (``K``).
    objects_per_image : tuple of int
        ``(low, high)`` number of objects per image, drawn uniformly (inclusive).
    object_size : tuple of float
        Range of the object blob's sd ``σ_o``, in tokens.
    background_sd : float
        Sd of the i.i.d. background texture per channel.
    prototype_norm : float
        Norm of each category prototype ``p_k`` (a random direction); see the
        module docstring for why it is 2 and not ``√C``.
    instance_noise : float
        Sd (per channel) of the per-object deviation from its category prototype.
    n_train, n_test : int
        Number of training images (single trials) and test images (mean of
        ``n_repeats`` trials).
    n_repeats : int
        Trials averaged per test image (NSD: 3).
    beta : float
        Inverse temperature of the content routing (0 makes category ROIs
        static and uniform, a negative control).
    n_retinotopic, n_category, n_mixed : int
        Number of ROIs of each kind (at least one ROI in all).
    voxels_per_roi : int
        Vertices each ROI owns.
    overlap_fraction : float
        In ``[0, 1)``: the fraction of each ROI's voxels that also belong to
        its nearest other ROI (the one with the closest centroid, in the same
        hemisphere if there is one): the ``round(overlap_fraction *
        voxels_per_roi)`` voxels closest to that ROI. Such a voxel keeps its
        own weights and combines its two ROI reads by ``overlap_rule``.
        Needs two ROIs.
    overlap_rule : {"mean", "sum"}
        How an overlapping voxel combines its ROIs' reads: their mean (the
        default, the rule of our encoders' readout) or their sum (the
        reference implementation's). The two give the same standardised
        responses (see the module docstring).
    readout : {"attention", "prf", "max"}
        The ground-truth readout (module docstring, **Readouts**).
        ``"attention"`` is the encoder's own function class; ``"prf"`` and
        ``"max"`` lie outside it.
    prf_scatter : float
        ``"prf"`` readout: half-width, in tokens, of the spread of voxel pRF
        centres around their ROI's centre along each principal axis of the
        patch.
    n_feature_subsets : int
        ``"prf"`` readout: number of contiguous channel blocks (1 to
        ``n_features``); ROI ``r`` reads block ``r mod n_feature_subsets``.
    prf_sigma : tuple of float
        Range of the pRF sd ``σ_r`` of retinotopic ROIs, in tokens.
    mixed_sigma : tuple of float
        Range of the spatial prior's sd of mixed ROIs, in tokens.
    category_weight : float
        Weight of the ROI's preferred direction in each voxel's weights.
    weight_noise : float
        Weight of the voxel-specific part ``z_v ~ N(0, I/C)``.
    smoothing_steps : int
        Rounds of neighbour averaging of ``z_v`` over the mesh inside each
        ROI (0: independent voxels).
    ncsnr_range : tuple of float
        Range of the per-voxel noise-ceiling SNR (signal sd / single-trial noise sd).
    seed : int
        Non-negative seed; the data set is a deterministic function of the config.

    Examples
    --------
    >>> SyntheticEncodingConfig().n_rois
    6
    >>> SyntheticEncodingConfig(overlap_fraction=1.0)
    Traceback (most recent call last):
    ...
    neuroattn.errors.ParameterError: overlap_fraction=1.0 must be < 1...
    """

    height: int = 8
    width: int = 8
    n_features: int = 32
    n_categories: int = 4
    objects_per_image: tuple[int, int] = (1, 3)
    object_size: tuple[float, float] = (0.6, 1.4)
    background_sd: float = 0.5
    prototype_norm: float = 2.0
    instance_noise: float = 0.3
    n_train: int = 2000
    n_test: int = 200
    n_repeats: int = 3
    beta: float = 4.0
    n_retinotopic: int = 2
    n_category: int = 2
    n_mixed: int = 2
    voxels_per_roi: int = 40
    overlap_fraction: float = 0.0
    overlap_rule: str = "mean"
    readout: str = "attention"
    prf_scatter: float = 1.5
    n_feature_subsets: int = 4
    prf_sigma: tuple[float, float] = (0.8, 1.5)
    mixed_sigma: tuple[float, float] = (1.5, 3.0)
    category_weight: float = 1.5
    weight_noise: float = 0.5
    smoothing_steps: int = 2
    ncsnr_range: tuple[float, float] = (0.3, 1.5)
    seed: int = 0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):  # e.g. from YAML / JSON
                setattr(self, f.name, tuple(value))
        self.validate()

    @property
    def n_rois(self) -> int:
        """Total number of ROIs."""
        return int(self.n_retinotopic + self.n_category + self.n_mixed)

    def validate(self) -> None:
        """Raise ``ValueError`` naming the problem and the fix if a parameter is bad."""
        check_int("height", self.height, 4)
        check_int("width", self.width, 4)
        check_int("n_categories", self.n_categories, 1)
        check_int("n_features", self.n_features, 1)
        if not isinstance(self.objects_per_image, tuple) or len(self.objects_per_image) != 2:
            raise ParameterError(
                f"objects_per_image={self.objects_per_image!r} must be a (low, high) pair."
            )
        for v in self.objects_per_image:
            check_int("objects_per_image", v, 0)
        if self.objects_per_image[0] > self.objects_per_image[1]:
            raise ParameterError(
                f"objects_per_image={self.objects_per_image} has low > high; pass (low, high)."
            )
        check_pair("object_size", self.object_size, lo=0.0, strict=True)
        check_number("background_sd", self.background_sd, lo=0.0, strict=True)
        check_number("prototype_norm", self.prototype_norm, lo=0.0, strict=True)
        check_number("instance_noise", self.instance_noise, lo=0.0)
        check_int("n_train", self.n_train, 2)
        check_int("n_test", self.n_test, 2)
        check_int("n_repeats", self.n_repeats, 1)
        check_number("beta", self.beta, lo=0.0)
        for name in ("n_retinotopic", "n_category", "n_mixed"):
            check_int(name, getattr(self, name), 0, 64)
        if self.n_rois < 1:
            raise ParameterError(
                "n_retinotopic + n_category + n_mixed is 0; ask for at least one ROI."
            )
        check_int("voxels_per_roi", self.voxels_per_roi, 1, 2000)
        check_number("overlap_fraction", self.overlap_fraction, lo=0.0)
        if self.overlap_fraction >= 1.0:
            raise ParameterError(
                f"overlap_fraction={self.overlap_fraction} must be < 1 (0.1 puts 10 % of each "
                "ROI's voxels in a second ROI)."
            )
        if self.overlap_fraction > 0 and self.n_rois < 2:
            raise ParameterError(
                "overlap_fraction > 0 needs at least two ROIs to overlap; add ROIs or set "
                "overlap_fraction=0."
            )
        if self.overlap_rule not in OVERLAP_RULES:
            raise ConfigError(f"overlap_rule={self.overlap_rule!r} is not a rule; use 'mean' "
                              "(a voxel reads the mean of its ROIs) or 'sum' (the reference's).")
        if self.readout not in READOUTS:
            raise ConfigError(f"readout={self.readout!r} is not a readout; use one of "
                              f"{READOUTS}.")
        check_number("prf_scatter", self.prf_scatter, lo=0.0)
        check_int("n_feature_subsets", self.n_feature_subsets, 1, self.n_features)
        check_pair("prf_sigma", self.prf_sigma, lo=0.0, strict=True)
        check_pair("mixed_sigma", self.mixed_sigma, lo=0.0, strict=True)
        check_number("category_weight", self.category_weight, lo=0.0)
        check_number("weight_noise", self.weight_noise, lo=0.0)
        if self.category_weight == 0 and self.weight_noise == 0:
            raise ParameterError("category_weight and weight_noise are both 0: every voxel "
                                 "would be silent; make one of them positive.")
        check_int("smoothing_steps", self.smoothing_steps, 0)
        check_pair("ncsnr_range", self.ncsnr_range, lo=0.0, strict=True)
        check_int("seed", self.seed, 0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable copy of the parameters (tuples become lists)."""
        return {f.name: to_jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}


# =============================================================================
# Result
# =============================================================================
@dataclass
class SyntheticEncoding:
    """A synthetic image → fMRI data set with its ground truth.

    ``n`` is ``n_train`` or ``n_test``, ``V`` the number of voxels, ``R`` the
    number of ROIs, ``K`` the number of categories.

    Attributes
    ----------
    X_train, X_test : numpy.ndarray
        ``(n, H, W, C)`` float32 feature maps (channels last, as in a features store).
    Y_train : numpy.ndarray
        ``(n_train, V)`` float32 single-trial responses.
    Y_test : numpy.ndarray
        ``(n_test, V)`` float32, the mean of ``Y_test_repeats`` over repeats.
    Y_test_repeats : numpy.ndarray
        ``(n_repeats, n_test, V)`` float32 single trials of the test images.
    ncsnr : numpy.ndarray
        ``(V,)`` noise-ceiling SNR (signal sd / single-trial noise sd).
    noise_ceiling : numpy.ndarray
        ``(V,)`` ``ncsnr² / (ncsnr² + 1/n_repeats)``: the fraction of the
        variance of ``Y_test`` that the stimulus can explain.
    roi_names : list of str
        ``R`` names: ``ret0, ret1, ...``, ``cat0, ...``, ``mix0, ...``.
    roi_kinds : list of str
        ``"retinotopic"``, ``"category"`` or ``"mixed"`` per ROI.
    roi_hemispheres : list of str
        ``"lh"`` or ``"rh"`` per ROI.
    roi_categories : numpy.ndarray
        ``(R,)`` int, the preferred category (-1 for retinotopic ROIs).
    roi_centres : numpy.ndarray
        ``(R, 2)`` ``(y, x)`` centre of the pRF / spatial prior in tokens (NaN
        for category ROIs, except with ``readout="prf"``).
    roi_sigmas : numpy.ndarray
        ``(R,)`` sd of the pRF / spatial prior in tokens (NaN for category
        ROIs, except with ``readout="prf"``).
    roi_membership : numpy.ndarray
        ``(V, R)`` bool; a row has two ``True`` for an overlapping voxel.
    voxel_roi : numpy.ndarray
        ``(V,)`` int, the ROI that owns each voxel (its patch on the mesh).
    voxel_hemisphere : numpy.ndarray
        ``(V,)`` ``"lh"``/``"rh"`` (object array).
    voxel_vertex : numpy.ndarray
        ``(V,)`` int, the fsaverage5 vertex index within the voxel's hemisphere.
    voxel_positions : numpy.ndarray
        ``(V, 3)`` pial-surface position in mm (fsaverage / MNI305 space).
    voxel_weights : numpy.ndarray
        ``(V, C)`` the ground-truth readout weights ``u_v``.
    prototypes : numpy.ndarray
        ``(K, C)`` category prototypes ``p_k`` (random directions, norm ``prototype_norm``).
    objects_train, objects_test : dict of numpy.ndarray
        One entry per object: ``image`` (index), ``category``, ``y``, ``x``
        (centre in tokens) and ``size`` (blob sd in tokens).
    config : SyntheticEncodingConfig
        The parameters that produced the data.
    voxel_prf_centres : numpy.ndarray
        ``(V, 2)`` ``(y, x)`` pRF centre of each voxel in tokens (``"prf"``
        readout; NaN for the other readouts).
    voxel_prf_sigmas : numpy.ndarray
        ``(V,)`` pRF sd of each voxel in tokens (``"prf"`` readout; NaN otherwise).

    Examples
    --------
    >>> data = make_synthetic_encoding(n_train=32, n_test=8, voxels_per_roi=5)
    >>> data.roi_membership.shape, data.noise_ceiling.shape
    ((30, 6), (30,))
    >>> sorted(set(data.voxel_hemisphere))
    ['lh', 'rh']
    """

    X_train: np.ndarray
    Y_train: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray
    Y_test_repeats: np.ndarray
    ncsnr: np.ndarray
    noise_ceiling: np.ndarray
    roi_names: list[str]
    roi_kinds: list[str]
    roi_hemispheres: list[str]
    roi_categories: np.ndarray
    roi_centres: np.ndarray
    roi_sigmas: np.ndarray
    roi_membership: np.ndarray
    voxel_roi: np.ndarray
    voxel_hemisphere: np.ndarray
    voxel_vertex: np.ndarray
    voxel_positions: np.ndarray
    voxel_weights: np.ndarray
    prototypes: np.ndarray
    objects_train: dict[str, np.ndarray]
    objects_test: dict[str, np.ndarray]
    config: SyntheticEncodingConfig
    signal_mean: np.ndarray = dataclasses.field(repr=False, default_factory=lambda: np.zeros(0))
    signal_sd: np.ndarray = dataclasses.field(repr=False, default_factory=lambda: np.ones(0))
    voxel_prf_centres: np.ndarray = dataclasses.field(
        repr=False, default_factory=lambda: np.zeros((0, 2)))
    voxel_prf_sigmas: np.ndarray = dataclasses.field(repr=False,
                                                     default_factory=lambda: np.zeros(0))

    # ------------------------------------------------------------ properties
    @property
    def n_voxels(self) -> int:
        """Number of voxels ``V``."""
        return int(self.roi_membership.shape[0])

    @property
    def n_rois(self) -> int:
        """Number of ROIs ``R``."""
        return len(self.roi_names)

    @property
    def voxel_labels(self) -> np.ndarray:
        """``(V,)`` name of the ROI that owns each voxel (object array)."""
        return np.asarray(self.roi_names, dtype=object)[self.voxel_roi]

    # ---------------------------------------------------------- ground truth
    def routing(self, X: np.ndarray) -> np.ndarray:
        """Ground-truth attention maps of every ROI for any feature maps.

        Parameters
        ----------
        X : numpy.ndarray
            ``(n, H, W, C)`` feature maps on this data set's grid.

        Returns
        -------
        numpy.ndarray
            ``(n, R, H, W)`` float32; each map sums to 1 over ``(H, W)``.
            Retinotopic maps do not depend on ``X``.

        Raises
        ------
        ConfigError
            For ``readout="prf"`` or ``"max"``, which have no ROI routing map.

        Examples
        --------
        >>> data = make_synthetic_encoding(n_train=16, n_test=4, voxels_per_roi=5)
        >>> maps = data.routing(data.X_test)
        >>> maps.shape, bool(abs(maps.sum((2, 3)) - 1).max() < 1e-5)
        ((4, 6, 8, 8), True)
        """
        if self.config.readout != "attention":
            raise ConfigError(
                f"readout={self.config.readout!r} has no ROI routing map (each voxel pools its "
                "own Gaussian with 'prf'; each ROI max-pools a window with 'max'); use "
                "voxel_prf_centres / voxel_prf_sigmas, or generate with readout='attention'.")
        X = self._check_features(X)
        return _routing(X, self._roi_params()).astype(np.float32)

    def true_response(self, X: np.ndarray) -> np.ndarray:
        """Noise-free responses of the ground-truth model (true readout and weights).

        Parameters
        ----------
        X : numpy.ndarray
            ``(n, H, W, C)`` feature maps on this data set's grid.

        Returns
        -------
        numpy.ndarray
            ``(n, V)`` float32, standardised as the data (zero mean and unit
            variance over the stimulus distribution).

        Examples
        --------
        >>> data = make_synthetic_encoding(n_train=16, n_test=4, voxels_per_roi=5)
        >>> data.true_response(data.X_test).shape
        (4, 30)
        """
        X = self._check_features(X)
        raw = _clean_signal(X, self._roi_params(), self.voxel_weights, self.roi_membership)
        return ((raw - self.signal_mean) / self.signal_sd).astype(np.float32)

    def ground_truth(self) -> dict[str, Any]:
        """JSON-serialisable ground truth: generator, config and the ROI table.

        The config (with its seed) regenerates everything, including the voxel
        weights, which are left out to keep the dict small.

        Examples
        --------
        >>> data = make_synthetic_encoding(n_train=16, n_test=4, voxels_per_roi=5)
        >>> gt = data.ground_truth()
        >>> gt["rois"][2]["kind"], gt["rois"][2]["category"]
        ('category', 0)
        """
        rois = []
        for r, name in enumerate(self.roi_names):
            center = self.roi_centres[r]
            rois.append({
                "name": name,
                "kind": self.roi_kinds[r],
                "hemisphere": self.roi_hemispheres[r],
                "category": int(self.roi_categories[r]),
                "center_yx": None if np.isnan(center).any() else [float(c) for c in center],
                "sigma": None if np.isnan(self.roi_sigmas[r]) else float(self.roi_sigmas[r]),
                "n_voxels": int(self.roi_membership[:, r].sum()),
            })
        return {
            "generator": "neuroattn.datasets.synthetic.encoding",
            "config": self.config.to_dict(),
            "rois": rois,
            "prototypes": to_jsonable(self.prototypes),
            "noise_ceiling": "ncsnr**2 / (ncsnr**2 + 1/n_repeats), a fraction",
            "readout": self.config.readout,
            "overlap_rule": f"a voxel in several ROIs reads the {self.config.overlap_rule} of "
                            "their reads (the same standardised responses either way)",
        }

    # ------------------------------------------------------------------ I/O
    def to_stores(self, root: str | Path, *, overwrite: bool = False) -> dict[str, Path]:
        """Write a features store and an fMRI store under ``root``.

        * ``root/features.zarr`` (kind ``"features"``): ``X_train`` then
          ``X_test``, stimulus ids ``train-0000 ...``, ``test-0000 ...`` and a
          ``split`` coordinate.
        * ``root/fmri.zarr`` (kind ``"fmri"``, space ``"fsaverage5"``): the
          same stimuli, ``Y_train`` (single trials) then ``Y_test`` (means of
          ``n_repeats`` trials), with per-stimulus ``split`` and
          ``n_repeats``, and per-voxel ``noise_ceiling`` (fraction, for the
          test means), ``ncsnr``, ``roi`` (owning ROI), ``roi_kind``,
          ``hemisphere``, ``vertex`` (fsaverage5 index within the hemisphere)
          and ``roi_membership`` (``("voxel", "roi_name")`` bool). The
          ground truth is in ``attrs["ground_truth"]``.

        Parameters
        ----------
        root : str or pathlib.Path
            Directory to write into (created if missing).
        overwrite : bool
            Replace existing stores.

        Returns
        -------
        dict
            ``{"features": path, "fmri": path}``.

        Examples
        --------
        >>> import tempfile
        >>> from neuroattn.store import open_store
        >>> data = make_synthetic_encoding(n_train=16, n_test=4, voxels_per_roi=5)
        >>> paths = data.to_stores(tempfile.mkdtemp())
        >>> ds = open_store(paths["fmri"], kind="fmri")
        >>> ds.responses.shape, ds.roi_membership.dims
        ((20, 30), ('voxel', 'roi_name'))
        """
        from neuroattn.store import features_from_array, fmri_from_array, write_store

        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        n_tr, n_te = len(self.X_train), len(self.X_test)
        stim = [f"train-{i:04d}" for i in range(n_tr)] + [f"test-{i:04d}" for i in range(n_te)]
        split = np.array(["train"] * n_tr + ["test"] * n_te, dtype=object)
        gt = self.ground_truth()
        feats = features_from_array(
            np.concatenate([self.X_train, self.X_test]), stimulus=stim,
            source="neuroattn.datasets.synthetic.encoding", ground_truth=gt)
        feats = feats.assign_coords(split=("stimulus", split))
        voxel_ids = [f"{h}-{v}" for h, v in zip(self.voxel_hemisphere, self.voxel_vertex,
                                                strict=True)]
        fmri = fmri_from_array(
            np.concatenate([self.Y_train, self.Y_test]), stimulus=stim, voxel=voxel_ids,
            noise_ceiling=self.noise_ceiling, roi=self.voxel_labels, space="fsaverage5",
            ground_truth=gt, noise_ceiling_units="fraction",
            noise_ceiling_n_repeats=int(self.config.n_repeats))
        kinds = np.asarray(self.roi_kinds, dtype=object)[self.voxel_roi]
        fmri = fmri.assign_coords(
            split=("stimulus", split),
            n_repeats=("stimulus", np.array([1] * n_tr + [self.config.n_repeats] * n_te)),
            ncsnr=("voxel", self.ncsnr.astype(float)),
            roi_kind=("voxel", kinds),
            hemisphere=("voxel", self.voxel_hemisphere.astype(object)),
            vertex=("voxel", self.voxel_vertex.astype(np.int64)),
            roi_name=("roi_name", np.asarray(self.roi_names, dtype=object)),
            roi_membership=(("voxel", "roi_name"), self.roi_membership.astype(bool)),
        )
        paths = {"features": root / "features.zarr", "fmri": root / "fmri.zarr"}
        write_store(feats, paths["features"], kind="features", overwrite=overwrite)
        write_store(fmri, paths["fmri"], kind="fmri", overwrite=overwrite)
        return paths

    # ------------------------------------------------------------- helpers
    def _roi_params(self) -> dict[str, Any]:
        return _readout_params(self.config, self.roi_kinds, self.roi_categories,
                               self.roi_centres, self.roi_sigmas, self.prototypes,
                               self.voxel_prf_centres, self.voxel_prf_sigmas)

    def _check_features(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        cfg = self.config
        expected = (cfg.height, cfg.width, cfg.n_features)
        if X.ndim != 4 or X.shape[1:] != expected:
            raise ParameterError(
                f"X must be (n, {cfg.height}, {cfg.width}, {cfg.n_features}) feature maps "
                f"(channels last) on this data set's grid; got shape {X.shape}."
            )
        return X


# =============================================================================
# Generator
# =============================================================================
def make_synthetic_encoding(
    config: SyntheticEncodingConfig | None = None, **overrides: Any
) -> SyntheticEncoding:
    """Generate a synthetic image → fMRI data set with known routing and noise ceiling.

    Parameters
    ----------
    config : SyntheticEncodingConfig or None
        Parameters; defaults to ``SyntheticEncodingConfig()``.
    **overrides
        Fields of :class:`SyntheticEncodingConfig` to replace (e.g. ``beta=0``).

    Returns
    -------
    SyntheticEncoding
        Features, responses, noise ceilings, geometry and ground truth.

    Raises
    ------
    ValueError
        For an unknown override or a bad parameter (the message says how to fix it).

    Examples
    --------
    >>> import numpy as np
    >>> a = make_synthetic_encoding(n_train=32, n_test=8, voxels_per_roi=5, seed=1)
    >>> b = make_synthetic_encoding(a.config)
    >>> bool(np.array_equal(a.Y_train, b.Y_train))
    True
    >>> np.allclose(a.Y_test, a.Y_test_repeats.mean(0), atol=1e-6)
    True
    """
    cfg = config_from(SyntheticEncodingConfig, config, overrides, "make_synthetic_encoding")
    t_start = time.perf_counter()
    # Ten independent streams; the tenth (the readouts' extras) was added after the first
    # nine, which SeedSequence.spawn leaves unchanged, so attention data keep their values.
    streams = np.random.SeedSequence(int(cfg.seed)).spawn(10)
    (rng_geo, rng_model, rng_weights, rng_train, rng_test, rng_calib,
     rng_noise_train, rng_noise_test, rng_ncsnr, rng_readout) = (
        np.random.default_rng(s) for s in streams)

    # ---------------------------------------------------------------- ROIs
    kinds: list[str] = []
    names: list[str] = []
    hemis: list[str] = []
    categories: list[int] = []
    for kind, count in zip(ROI_KINDS, (cfg.n_retinotopic, cfg.n_category, cfg.n_mixed),
                           strict=True):
        for j in range(count):
            kinds.append(kind)
            names.append(f"{_PREFIX[kind]}{j}")
            hemis.append(HEMISPHERES[j % 2])
            if kind == "category":
                categories.append(j % cfg.n_categories)
            elif kind == "mixed":
                categories.append((cfg.n_category + j) % cfg.n_categories)
            else:
                categories.append(-1)
    n_rois = len(names)
    prototypes = _prototypes(cfg.n_categories, cfg.n_features, cfg.prototype_norm, rng_model)
    centres = np.full((n_rois, 2), np.nan)
    sigmas = np.full(n_rois, np.nan)
    for r, (kind, hemi) in enumerate(zip(kinds, hemis, strict=True)):
        if kind == "category":
            continue
        centres[r] = _contralateral_center(cfg.height, cfg.width, hemi, rng_model)
        sigmas[r] = rng_model.uniform(*(cfg.prf_sigma if kind == "retinotopic"
                                        else cfg.mixed_sigma))
    # The pRF readout's extras, drawn for every readout from their own stream.
    extra_centres = np.stack([_contralateral_center(cfg.height, cfg.width, hemi, rng_readout)
                              for hemi in hemis])
    extra_sigmas = rng_readout.uniform(*cfg.mixed_sigma, size=n_rois)
    if cfg.readout == "prf":  # category ROIs get a place and a size too
        cat = np.asarray(kinds) == "category"
        centres[cat], sigmas[cat] = extra_centres[cat], extra_sigmas[cat]

    # ------------------------------------------------------------ geometry
    patches = _place_patches(kinds, hemis, cfg.voxels_per_roi, rng_geo)
    voxel_roi = np.concatenate([np.full(len(p["vertices"]), r) for r, p in enumerate(patches)])
    voxel_vertex = np.concatenate([p["vertices"] for p in patches])
    voxel_positions = np.concatenate([p["positions"] for p in patches])
    voxel_hemisphere = np.asarray([hemis[r] for r in voxel_roi], dtype=object)
    n_vox = len(voxel_roi)
    membership = np.zeros((n_vox, n_rois), bool)
    membership[np.arange(n_vox), voxel_roi] = True
    if cfg.overlap_fraction > 0:
        _add_overlaps(membership, voxel_roi, voxel_positions, hemis,
                      int(round(cfg.overlap_fraction * cfg.voxels_per_roi)))
    jitter = rng_readout.uniform(*PRF_SIGMA_JITTER, size=n_vox)
    prf_centres = np.full((n_vox, 2), np.nan)
    prf_sigmas = np.full(n_vox, np.nan)
    if cfg.readout == "prf":
        prf_centres = _prf_centres(voxel_roi, voxel_positions, centres, cfg)
        prf_sigmas = sigmas[voxel_roi] * jitter
    params = _readout_params(cfg, kinds, np.asarray(categories), centres, sigmas, prototypes,
                             prf_centres, prf_sigmas)

    # ------------------------------------------------------------- weights
    weights = np.empty((n_vox, cfg.n_features))
    for r, patch in enumerate(patches):
        rows = np.flatnonzero(voxel_roi == r)
        if kinds[r] == "retinotopic":
            direction = rng_weights.standard_normal(cfg.n_features)
            direction /= np.linalg.norm(direction)
        else:
            direction = prototypes[categories[r]] / np.linalg.norm(prototypes[categories[r]])
        z = rng_weights.standard_normal((len(rows), cfg.n_features)) / np.sqrt(cfg.n_features)
        z = _smooth(z, patch["adjacency"], cfg.smoothing_steps)
        weights[rows] = cfg.category_weight * direction + cfg.weight_noise * z

    # -------------------------------------------------------------- images
    X_train, obj_train = _images(cfg, cfg.n_train, prototypes, rng_train)
    X_test, obj_test = _images(cfg, cfg.n_test, prototypes, rng_test)
    X_calib, _ = _images(cfg, N_CALIBRATION, prototypes, rng_calib)
    calib = _clean_signal(X_calib, params, weights, membership)
    mean, sd = calib.mean(0), calib.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    s_train = (_clean_signal(X_train, params, weights, membership) - mean) / sd
    s_test = (_clean_signal(X_test, params, weights, membership) - mean) / sd

    # --------------------------------------------------------------- noise
    ncsnr = rng_ncsnr.uniform(*cfg.ncsnr_range, size=n_vox)
    noise_sd = 1.0 / ncsnr
    Y_train = s_train + rng_noise_train.standard_normal(s_train.shape) * noise_sd
    repeats = s_test[None] + rng_noise_test.standard_normal(
        (cfg.n_repeats, *s_test.shape)) * noise_sd
    repeats = repeats.astype(np.float32)
    Y_test = repeats.mean(0, dtype=np.float64).astype(np.float32)
    noise_ceiling = ncsnr**2 / (ncsnr**2 + 1.0 / cfg.n_repeats)

    logger.debug("make_synthetic_encoding: %d+%d images, %d ROIs, %d voxels in %.2f s",
                 cfg.n_train, cfg.n_test, n_rois, n_vox, time.perf_counter() - t_start)
    return SyntheticEncoding(
        X_train=X_train, Y_train=Y_train.astype(np.float32), X_test=X_test, Y_test=Y_test,
        Y_test_repeats=repeats, ncsnr=ncsnr, noise_ceiling=noise_ceiling, roi_names=names,
        roi_kinds=kinds, roi_hemispheres=hemis, roi_categories=np.asarray(categories),
        roi_centres=centres, roi_sigmas=sigmas, roi_membership=membership,
        voxel_roi=voxel_roi, voxel_hemisphere=voxel_hemisphere, voxel_vertex=voxel_vertex,
        voxel_positions=voxel_positions, voxel_weights=weights, prototypes=prototypes,
        objects_train=obj_train, objects_test=obj_test, config=cfg,
        signal_mean=mean, signal_sd=sd, voxel_prf_centres=prf_centres,
        voxel_prf_sigmas=prf_sigmas,
    )


# =============================================================================
# Building blocks: images, routing, responses
# =============================================================================
def _prototypes(k: int, c: int, norm: float, rng: np.random.Generator) -> np.ndarray:
    """``(K, C)`` prototypes: independent random directions of length ``norm``."""
    directions = rng.standard_normal((k, c))
    return directions / np.linalg.norm(directions, axis=1, keepdims=True) * norm


def _contralateral_center(h: int, w: int, hemi: str, rng: np.random.Generator) -> np.ndarray:
    """A ``(y, x)`` centre one token inside the grid, in the half opposite ``hemi``."""
    y = rng.uniform(1.0, h - 2.0)
    lo, hi = (w / 2.0, w - 2.0) if hemi == "lh" else (1.0, w / 2.0 - 1.0)
    return np.array([y, rng.uniform(lo, max(lo, hi))])


def _images(cfg: SyntheticEncodingConfig, n: int, prototypes: np.ndarray,
            rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``n`` feature maps ``(n, H, W, C)`` float32 and their object table."""
    h, w, c = cfg.height, cfg.width, cfg.n_features
    lo, hi = cfg.objects_per_image
    n_obj = rng.integers(lo, hi + 1, size=n)
    m = max(int(hi), 1)
    active = np.arange(m)[None, :] < n_obj[:, None]
    cat = rng.integers(0, cfg.n_categories, size=(n, m))
    cy = rng.uniform(0.0, h - 1.0, size=(n, m))
    cx = rng.uniform(0.0, w - 1.0, size=(n, m))
    size = rng.uniform(*cfg.object_size, size=(n, m))
    vec = prototypes[cat] + cfg.instance_noise * rng.standard_normal((n, m, c))
    gy, gx = np.arange(h, dtype=float), np.arange(w, dtype=float)
    d2 = ((gy[None, None, :, None] - cy[..., None, None]) ** 2
          + (gx[None, None, None, :] - cx[..., None, None]) ** 2)
    blob = np.exp(-d2 / (2.0 * size[..., None, None] ** 2)) * active[..., None, None]
    X = cfg.background_sd * rng.standard_normal((n, h, w, c))
    X += np.einsum("nohw,noc->nhwc", blob, vec, optimize=True)
    image = np.broadcast_to(np.arange(n)[:, None], (n, m))
    objects = {"image": image[active], "category": cat[active], "y": cy[active],
               "x": cx[active], "size": size[active]}
    return X.astype(np.float32), objects


def _routing(X: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """``(n, R, H, W)`` float64 ground-truth attention maps."""
    n, h, w, c = X.shape
    kinds = params["kinds"]
    flat = X.reshape(n, h * w, c).astype(np.float64)
    gy, gx = np.meshgrid(np.arange(h, dtype=float), np.arange(w, dtype=float), indexing="ij")
    logits = np.zeros((n, len(kinds), h * w))
    for r, kind in enumerate(kinds):
        if kind != "category":
            cy, cx = params["centres"][r]
            d2 = ((gy - cy) ** 2 + (gx - cx) ** 2).reshape(-1)
            logits[:, r] -= d2 / (2.0 * params["sigmas"][r] ** 2)
        if kind != "retinotopic":
            proto = params["prototypes"][params["categories"][r]]
            logits[:, r] += params["beta"] * flat @ (proto / np.linalg.norm(proto))
    logits -= logits.max(-1, keepdims=True)
    maps = np.exp(logits)
    maps /= maps.sum(-1, keepdims=True)
    return maps.reshape(n, len(kinds), h, w)


def _readout_params(cfg: SyntheticEncodingConfig, kinds: list[str], categories: np.ndarray,
                    centres: np.ndarray, sigmas: np.ndarray, prototypes: np.ndarray,
                    prf_centres: np.ndarray, prf_sigmas: np.ndarray) -> dict[str, Any]:
    """Everything :func:`_clean_signal` needs, for the config's readout."""
    h, w, c = cfg.height, cfg.width, cfg.n_features
    params: dict[str, Any] = {
        "kinds": kinds, "categories": categories, "centres": centres, "sigmas": sigmas,
        "prototypes": prototypes, "beta": float(cfg.beta), "readout": cfg.readout,
        "overlap_rule": cfg.overlap_rule}
    gy, gx = np.meshgrid(np.arange(h, dtype=float), np.arange(w, dtype=float), indexing="ij")
    grid = np.stack([gy.reshape(-1), gx.reshape(-1)], 1)  # (H·W, 2)
    if cfg.readout == "max":
        windows = np.ones((len(kinds), h * w), bool)
        for r, kind in enumerate(kinds):
            if kind != "category":
                d2 = ((grid - centres[r]) ** 2).sum(1)
                windows[r] = d2 <= (2.0 * sigmas[r]) ** 2
                windows[r, np.argmin(d2)] = True
        params["windows"] = windows
    elif cfg.readout == "prf":
        d2 = ((grid[None] - prf_centres[:, None]) ** 2).sum(-1)  # (V, H·W)
        maps = np.exp(-d2 / (2.0 * prf_sigmas[:, None] ** 2))
        params["prf_maps"] = maps / maps.sum(1, keepdims=True)
        block = np.arange(c) * cfg.n_feature_subsets // c  # channel -> its block
        own = np.arange(len(kinds)) % cfg.n_feature_subsets
        params["subsets"] = block[None, :] == own[:, None]  # (R, C) bool
    return params


def _prf_centres(voxel_roi: np.ndarray, positions: np.ndarray, centres: np.ndarray,
                 cfg: SyntheticEncodingConfig) -> np.ndarray:
    """``(V, 2)`` pRF centres: the ROI centre plus a map along the patch's principal axes."""
    out = np.empty((len(voxel_roi), 2))
    for r in range(len(centres)):
        rows = np.flatnonzero(voxel_roi == r)
        local = positions[rows] - positions[rows].mean(0)
        _, _, axes = np.linalg.svd(local, full_matrices=False)
        t = local @ axes[:2].T if len(rows) > 1 else np.zeros((len(rows), 2))
        if t.shape[1] < 2:  # two voxels span one axis
            t = np.pad(t, ((0, 0), (0, 2 - t.shape[1])))
        span = np.abs(t).max(0)
        t = np.divide(t, span, out=np.zeros_like(t), where=span > 0)
        out[rows] = centres[r] + cfg.prf_scatter * t
    return np.clip(out, 0.0, [cfg.height - 1.0, cfg.width - 1.0])


def _clean_signal(X: np.ndarray, params: dict[str, Any], weights: np.ndarray,
                  membership: np.ndarray) -> np.ndarray:
    """``(n, V)`` un-standardised responses: each voxel's ROI reads, combined by the rule."""
    n, h, w, c = X.shape
    flat = X.reshape(n, h * w, c)
    if params["readout"] == "attention":  # h_r = Σ_p a_r(p) F(p); read u_v · h_r
        maps = _routing(X, params).reshape(n, -1, h * w)
        tokens = np.einsum("nrp,npc->nrc", maps, flat, optimize=True)
        reads = np.einsum("nrc,vc->nrv", tokens, weights, optimize=True)
    elif params["readout"] == "max":  # m_r = channel-wise max over the window; u_v · m_r
        tokens = np.stack([flat[:, window].max(1) for window in params["windows"]], 1)
        reads = np.einsum("nrc,vc->nrv", tokens.astype(np.float64), weights, optimize=True)
    else:  # "prf": Σ_p g_v(p) F(p), read on the ROI's channel block
        pooled = np.matmul(params["prf_maps"], flat.astype(np.float64))  # (n, V, C)
        reads = np.stack([(pooled[..., block] * weights[:, block]).sum(-1)
                          for block in params["subsets"]], 1)  # (n, R, V)
    share = membership.astype(float)
    if params["overlap_rule"] == "mean":
        share /= share.sum(1, keepdims=True)
    return np.einsum("nrv,vr->nv", reads, share, optimize=True)


def _smooth(z: np.ndarray, adjacency: Any, steps: int) -> np.ndarray:
    """Average over mesh neighbours ``steps`` times; keep the mean squared row norm."""
    if steps == 0 or len(z) < 2:
        return z
    norm0 = np.sqrt(np.mean(np.sum(z**2, axis=1)))
    degree = np.asarray(adjacency.sum(1)).ravel()
    for _ in range(steps):
        z = (z + adjacency @ z) / (1.0 + degree)[:, None]
    norm = np.sqrt(np.mean(np.sum(z**2, axis=1)))
    return z * (norm0 / norm) if norm > 0 else z


# =============================================================================
# Building blocks: cortical geometry (fsaverage5 from nilearn)
# =============================================================================
def _region_mask(kind: str, coords: np.ndarray) -> np.ndarray:
    """Candidate seed vertices of ``kind`` on the pial surface (MNI305-like mm)."""
    ax, y, z = np.abs(coords[:, 0]), coords[:, 1], coords[:, 2]
    if kind == "retinotopic":  # occipital pole / calcarine, medial
        return (ax <= 25) & (y <= -80) & (z >= -15) & (z <= 20)
    if kind == "category":  # ventral temporal cortex (fusiform)
        return (z <= -8) & (y >= -70) & (y <= -35) & (ax >= 25) & (ax <= 45)
    return (ax >= 35) & (y >= -92) & (y <= -70) & (z >= -15) & (z <= 10)  # lateral occipital


@functools.lru_cache(maxsize=2)
def _fsaverage5(hemi: str) -> tuple[np.ndarray, Any]:
    """Pial vertex coordinates ``(10242, 3)`` and the edge-length graph of one hemisphere."""
    import scipy.sparse

    side = {"lh": "left", "rh": "right"}[hemi]
    coords = faces = None
    try:  # fast path: read only the pial mesh nilearn ships, without importing nilearn (~3 s)
        import importlib.util

        import nibabel as nib

        spec = importlib.util.find_spec("nilearn")
        roots = list(spec.submodule_search_locations or []) if spec else []
        for root in roots:
            path = Path(root) / "datasets" / "data" / "fsaverage5" / f"pial_{side}.gii.gz"
            if path.is_file():
                img = nib.load(path)
                coords, faces = img.agg_data("pointset"), img.agg_data("triangle")
                break
    except (ImportError, OSError, ValueError) as err:  # pragma: no cover - layout change
        logger.debug("fsaverage5 fast path failed (%s); using nilearn.datasets", err)
    if coords is None:  # pragma: no cover - the public (slower) route
        try:
            from nilearn.datasets import load_fsaverage
        except ImportError as err:
            raise ImportError("The synthetic encoding data place voxels on the fsaverage5 "
                              "mesh from nilearn; install it with `pip install nilearn`.") from err
        mesh = load_fsaverage("fsaverage5")["pial"].parts[side]
        coords, faces = mesh.coordinates, mesh.faces
    coords = np.asarray(coords, dtype=float)
    faces = np.asarray(faces, dtype=np.int64)
    if coords.shape != (FSAVERAGE5_N_VERTICES, 3):
        raise FormatError(f"Unexpected fsaverage5 {side} mesh with {coords.shape[0]} vertices; "
                          f"expected {FSAVERAGE5_N_VERTICES}. Check the nilearn installation.")
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    edges = np.unique(np.sort(edges, axis=1), axis=0)
    length = np.linalg.norm(coords[edges[:, 0]] - coords[edges[:, 1]], axis=1)
    n = len(coords)
    graph = scipy.sparse.coo_matrix(
        (np.concatenate([length, length]),
         (np.concatenate([edges[:, 0], edges[:, 1]]), np.concatenate([edges[:, 1], edges[:, 0]]))),
        shape=(n, n)).tocsr()
    return coords, graph


def _place_patches(kinds: list[str], hemis: list[str], n_vox: int,
                   rng: np.random.Generator) -> list[dict[str, Any]]:
    """Grow one geodesic patch of ``n_vox`` free vertices per ROI."""
    import scipy.sparse
    from scipy.sparse.csgraph import dijkstra
    from scipy.spatial import cKDTree

    taken = {h: np.zeros(FSAVERAGE5_N_VERTICES, bool) for h in HEMISPHERES}
    patches = []
    for kind, hemi in zip(kinds, hemis, strict=True):
        coords, graph = _fsaverage5(hemi)
        free = ~taken[hemi]
        candidates = np.flatnonzero(_region_mask(kind, coords) & free)
        if len(candidates) == 0:
            candidates = np.flatnonzero(free)
        if taken[hemi].any():  # keep away from earlier patches: pick among the farthest quarter
            dist, _ = cKDTree(coords[taken[hemi]]).query(coords[candidates])
            candidates = candidates[dist >= np.quantile(dist, 0.75)]
        seed = int(rng.choice(candidates))
        keep = scipy.sparse.diags(free.astype(float))
        sub = (keep @ graph @ keep).tocsr()
        sub.eliminate_zeros()  # csgraph reads explicit zeros as zero-length edges
        dist = dijkstra(sub, directed=False, indices=seed)
        order = np.argsort(dist, kind="stable")
        reachable = order[np.isfinite(dist[order])]
        if len(reachable) < n_vox:
            raise ParameterError(
                f"Cannot grow a {kind} ROI of voxels_per_roi={n_vox} vertices in {hemi}: only "
                f"{len(reachable)} free connected vertices; lower voxels_per_roi or the number "
                "of ROIs."
            )
        vertices = np.sort(reachable[:n_vox])
        taken[hemi][vertices] = True
        adjacency = (graph[vertices][:, vertices] > 0).astype(float)
        patches.append({"vertices": vertices, "positions": coords[vertices],
                        "adjacency": adjacency.tocsr()})
    return patches


def _add_overlaps(membership: np.ndarray, voxel_roi: np.ndarray, positions: np.ndarray,
                  hemis: list[str], n_overlap: int) -> None:
    """Put the ``n_overlap`` voxels of each ROI closest to its nearest ROI in that ROI too."""
    if n_overlap == 0:
        return
    n_rois = membership.shape[1]
    centroids = np.stack([positions[voxel_roi == r].mean(0) for r in range(n_rois)])
    for r in range(n_rois):
        others = [q for q in range(n_rois) if q != r and hemis[q] == hemis[r]]
        others = others or [q for q in range(n_rois) if q != r]
        partner = min(others, key=lambda q: float(np.linalg.norm(centroids[q] - centroids[r])))
        rows = np.flatnonzero(voxel_roi == r)
        dist = np.linalg.norm(positions[rows] - centroids[partner], axis=1)
        membership[rows[np.argsort(dist, kind="stable")[:n_overlap]], partner] = True
