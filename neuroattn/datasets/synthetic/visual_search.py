"""Synthetic visual search with a known human-like policy, for testing scanpath models.

A benchmark where the answer is known, after the notes on OAT (reference
§6.1). Each **trial** is a grid of ``n_rows × n_cols`` cells holding coloured,
shaped objects, one of which is the search **target**:

1. **Objects.** Every object has a colour ``c ∈ {0..K-1}`` (from
   :data:`PALETTE`) and a shape ``s ∈ {0..S-1}`` (from :data:`SHAPES`: disc,
   square, triangle, cross, diamond, ring). The target's conjunction
   ``(c, s)`` is unique in its grid; the other objects are uniform draws. The
   objects are **rendered** as RGB patches (anti-aliased shape on a grey
   background, a per-object colour jitter and i.i.d. pixel noise), so a model
   sees pixels rather than labels. The target is also shown as a separate
   **template** patch (the cue of a search experiment), rendered with fresh
   noise, so matching it to its object needs features rather than pixel
   equality. Objects are numbered in row-major order of their cells.
2. **Human-like scanpaths.** A stochastic "guided search" policy with known
   parameters. The eye starts at the grid centre ``((R-1)/2, (C-1)/2)`` (in
   cell units; the BOS position) and each fixation ``f_t`` is drawn from

   ``p(o) = p_refix·[o = f_{t-1}] + p_revisit·q_rev(o) + (1 - p_refix - p_revisit)·q_new(o)``

   where ``q_new = softmax(β_s·sim(o) - β_d·d(f_{t-1}, o))`` over the
   objects not yet fixated, ``q_rev = softmax(-β_d·d(f_{t-1}, o))`` over the
   fixated objects other than the current one, ``d`` is the Euclidean
   distance in cells and ``sim(o) = colour_weight·[c_o = c_target] +
   shape_weight·[s_o = s_target]``. On the first fixation, and while no
   other fixated object exists, the refixation and revisit mass goes to
   ``q_new`` accordingly (``q_new`` alone at the first step). The path stops
   right after the target is fixated (a stop, no EOS token is stored) or after
   ``max_length`` fixations. The target is only ever reached through
   ``q_new``. :meth:`VisualSearchTrials.policy_probabilities` returns ``p``
   for any history; the generator samples from exactly that.

   With the defaults (3 colours, 4 shapes, ``shape_weight = 0``, ``β_s = 6``,
   ``β_d = 4``, ``p_refix = 0.1``, ``p_revisit = 0.06``) the search is guided
   by colour alone, as in a colour-guided conjunction search: the shape of a
   target-coloured object is recognised only once it is fixated, so a path
   runs through the nearest target-coloured objects until it lands on the
   target. On the default test split (5 subjects): 7.1 fixations on average,
   refixation and revisit fractions 0.061 and 0.029, human-human sequence
   score 0.46.

   **The policy as an oracle.** :meth:`VisualSearchTrials.path_log_likelihood`
   is the log-probability of a whole scanpath (stop included),
   :meth:`~VisualSearchTrials.most_likely_path` the exact maximum of it over
   all paths, :meth:`~VisualSearchTrials.greedy_path` the arg-max of ``p``
   taken one step at a time, and :meth:`~VisualSearchTrials.sample_paths`
   new subjects. The two deterministic paths differ: the most likely path
   favours short paths (each step multiplies the likelihood by at most 1),
   while the step-wise arg-max is what a model that had learned ``p``
   exactly would produce with greedy decoding. The step-wise arg-max never
   refixates with the defaults; were ``p_refix`` above the largest
   new-object probability, it would refixate until ``max_length``. On the
   default test split (5 subjects) the step-wise arg-max path scores 0.51
   (sequence score against the subjects), the most likely path 0.49 (2.7
   fixations on average against the subjects' 7.0) and 10 samples per trial
   0.47, with a behavioural delta of 0.02.
3. **Subjects.** ``n_subjects`` independent scanpaths per trial (same
   policy, different draws), so human-human agreement can be computed.
4. **Splits.** ``train``, ``val`` and ``test`` trials come from independent
   random streams (new layouts; changing ``n_train`` leaves the test split
   unchanged). ``n_held_out_targets`` conjunctions are never targets in
   ``train``/``val`` (they do appear as distractors); when it is positive,
   every ``test`` target is one of them (held-out targets).

Scanpaths are lists of object indices in fixation order, the target last
when found, with no BOS/EOS.

Examples
--------
>>> from neuroattn.datasets.synthetic.visual_search import make_visual_search
>>> data = make_visual_search(n_train=8, n_val=2, n_test=3, n_subjects=2)
>>> data.train.patches.shape, data.train.patches.dtype
((8, 24, 16, 16, 3), dtype('uint8'))
>>> len(data.test), len(data.test.scanpaths[0])
(3, 2)
>>> all(path[-1] == t for paths, t in zip(data.train.scanpaths, data.train.targets)
...     for path in paths if len(path) < data.config.max_length)
True
>>> data.test.image(0).shape
(84, 124, 3)
"""

from __future__ import annotations

import dataclasses
import heapq
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from neuroattn._logging import logger
from neuroattn._validation import check_int, check_number, to_jsonable
from neuroattn.config import config_from
from neuroattn.errors import NeuroattnError, ParameterError

__all__ = ["PALETTE", "SHAPES", "PolicyError", "VisualSearch", "VisualSearchConfig",
           "VisualSearchTrials", "make_visual_search"]

PALETTE: dict[str, tuple[float, float, float]] = {
    "red": (0.85, 0.12, 0.10),
    "green": (0.10, 0.70, 0.20),
    "blue": (0.12, 0.25, 0.90),
    "yellow": (0.95, 0.85, 0.10),
    "magenta": (0.85, 0.15, 0.80),
    "cyan": (0.10, 0.80, 0.85),
    "orange": (0.98, 0.55, 0.05),
    "black": (0.05, 0.05, 0.05),
}
"""Object colours (RGB in [0, 1]); colour ``c`` is the ``c``-th entry."""
SHAPES: tuple[str, ...] = ("disc", "square", "triangle", "cross", "diamond", "ring")
"""Object shapes; shape ``s`` is the ``s``-th entry."""
SPLITS: tuple[str, ...] = ("train", "val", "test")
"""The three splits, in the order their random streams are spawned."""
_SUPERSAMPLE = 4  # anti-aliasing of the shape masks
MAX_EXPANSIONS = 200_000
"""Default budget of :meth:`VisualSearchTrials.most_likely_path` (search states expanded)."""


class PolicyError(NeuroattnError, ValueError):
    """A scanpath, history or search budget the generating policy cannot take (the message says
    which, and the fix)."""


# =============================================================================
# Config
# =============================================================================
@dataclass
class VisualSearchConfig:
    """Parameters of :func:`make_visual_search`.

    Parameters
    ----------
    n_rows, n_cols : int
        Grid size ``R × C`` (at least 1 × 2).
    min_objects : int or None
        ``None`` fills every cell. Otherwise each trial holds a uniform number
        of objects in ``[min_objects, R·C]`` in randomly chosen cells (at least 2),
        so trials have different numbers of objects.
    n_colours, n_shapes : int
        ``K ≤ 8`` colours and ``S ≤ 6`` shapes; ``K·S ≥ 2``.
    patch_size : tuple of int
        ``(height, width)`` of one object patch in pixels (at least 8 each).
    gap : int
        Pixels between cells (and around the grid) in the rendered image.
    background : float
        Grey level of the background, in [0, 1].
    pixel_noise : float
        Sd of the i.i.d. Gaussian noise added to every pixel and channel.
    colour_jitter : float
        Sd of the per-object, per-channel shift of its colour.
    colour_weight, shape_weight : float
        Weights of a colour match and a shape match in ``sim(o)``.
    beta_similarity, beta_distance : float
        Inverse temperatures ``β_s`` (guidance by similarity) and ``β_d``
        (per cell of distance).
    p_refix, p_revisit : float
        Probabilities of a refixation (same object again) and of a revisit
        (an earlier fixated object) at each step after the first;
        ``p_refix + p_revisit < 1``.
    max_length : int
        Longest scanpath; a path that has not found the target by then ends
        there.
    n_subjects : int
        Scanpaths per trial.
    n_train, n_val, n_test : int
        Trials per split.
    n_held_out_targets : int
        Conjunctions used as targets only in the test split (see the module
        docstring); fewer than ``K·S``.
    seed : int
        Non-negative seed; the data set is a deterministic function of the config.

    Examples
    --------
    >>> VisualSearchConfig().n_conjunctions
    12
    >>> VisualSearchConfig(p_refix=0.6, p_revisit=0.5)
    Traceback (most recent call last):
    ...
    neuroattn.errors.ParameterError: p_refix + p_revisit = 1.1 must be < 1...
    """

    n_rows: int = 4
    n_cols: int = 6
    min_objects: int | None = None
    n_colours: int = 3
    n_shapes: int = 4
    patch_size: tuple[int, int] = (16, 16)
    gap: int = 4
    background: float = 0.5
    pixel_noise: float = 0.04
    colour_jitter: float = 0.04
    colour_weight: float = 1.0
    shape_weight: float = 0.0
    beta_similarity: float = 6.0
    beta_distance: float = 4.0
    p_refix: float = 0.1
    p_revisit: float = 0.06
    max_length: int = 20
    n_subjects: int = 5
    n_train: int = 400
    n_val: int = 60
    n_test: int = 100
    n_held_out_targets: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.patch_size, list):  # e.g. from YAML / JSON
            self.patch_size = tuple(self.patch_size)
        self.validate()

    @property
    def n_cells(self) -> int:
        """Number of grid cells ``R·C``."""
        return int(self.n_rows * self.n_cols)

    @property
    def n_conjunctions(self) -> int:
        """Number of colour-shape conjunctions ``K·S``."""
        return int(self.n_colours * self.n_shapes)

    def validate(self) -> None:
        """Raise ``ValueError`` naming the problem and the fix if a parameter is bad."""
        check_int("n_rows", self.n_rows, 1, 64)
        check_int("n_cols", self.n_cols, 1, 64)
        if self.n_cells < 2:
            raise ParameterError(f"The grid {self.n_rows}x{self.n_cols} has fewer than 2 cells; "
                                 "a search needs a target and at least one distractor.")
        if self.min_objects is not None:
            check_int("min_objects", self.min_objects, 2, self.n_cells)
        check_int("n_colours", self.n_colours, 1, len(PALETTE))
        check_int("n_shapes", self.n_shapes, 1, len(SHAPES))
        if self.n_conjunctions < 2:
            raise ParameterError("n_colours * n_shapes must be at least 2 so that the target's "
                                 "conjunction can be unique; add a colour or a shape.")
        if not isinstance(self.patch_size, tuple) or len(self.patch_size) != 2:
            raise ParameterError(f"patch_size={self.patch_size!r} must be a (height, width) pair.")
        for v in self.patch_size:
            check_int("patch_size", v, 8, 256)
        check_int("gap", self.gap, 0, 64)
        check_number("background", self.background, lo=0.0, hi=1.0)
        check_number("pixel_noise", self.pixel_noise, lo=0.0)
        check_number("colour_jitter", self.colour_jitter, lo=0.0)
        check_number("colour_weight", self.colour_weight, lo=0.0)
        check_number("shape_weight", self.shape_weight, lo=0.0)
        check_number("beta_similarity", self.beta_similarity, lo=0.0)
        check_number("beta_distance", self.beta_distance, lo=0.0)
        check_number("p_refix", self.p_refix, lo=0.0, hi=1.0)
        check_number("p_revisit", self.p_revisit, lo=0.0, hi=1.0)
        if self.p_refix + self.p_revisit >= 1.0:
            raise ParameterError(
                f"p_refix + p_revisit = {self.p_refix + self.p_revisit:g} must be < 1, or the "
                "search would never move to a new object; lower one of them.")
        check_int("max_length", self.max_length, 1)
        check_int("n_subjects", self.n_subjects, 1)
        check_int("n_train", self.n_train, 1)
        check_int("n_val", self.n_val, 1)
        check_int("n_test", self.n_test, 1)
        check_int("n_held_out_targets", self.n_held_out_targets, 0, self.n_conjunctions - 1)
        check_int("seed", self.seed, 0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable copy of the parameters (tuples become lists)."""
        return {f.name: to_jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}


# =============================================================================
# One split
# =============================================================================
@dataclass
class VisualSearchTrials:
    """The trials of one split. ``n`` trials, ``P = R·C`` object slots.

    Slots beyond a trial's ``n_objects`` are padding (only when
    ``min_objects`` is set): zero patches, ``-1`` labels and positions, NaN boxes.

    Attributes
    ----------
    patches : numpy.ndarray
        ``(n, P, h, w, 3)`` uint8 object patches (crops of the rendered image).
    target_patches : numpy.ndarray
        ``(n, h, w, 3)`` uint8 target templates (fresh noise).
    colours, shapes : numpy.ndarray
        ``(n, P)`` int labels (indices into :data:`PALETTE` and :data:`SHAPES`).
    rows, cols : numpy.ndarray
        ``(n, P)`` int cell of each object.
    boxes : numpy.ndarray
        ``(n, P, 4)`` float ``(x0, y0, x1, y1)`` pixel box of each object in
        :meth:`image` (``x1``/``y1`` exclusive).
    n_objects : numpy.ndarray
        ``(n,)`` int number of real objects.
    targets : numpy.ndarray
        ``(n,)`` int index of the target object.
    scanpaths : list of list of list of int
        ``scanpaths[i][j]`` is subject ``j``'s scanpath in trial ``i``.
    grid_shape : tuple of int
        ``(R, C)``.
    config : VisualSearchConfig
        The parameters that produced the data.

    Examples
    --------
    >>> from neuroattn.datasets.synthetic.visual_search import make_visual_search
    >>> trials = make_visual_search(n_train=4, n_val=1, n_test=1).train
    >>> p = trials.policy_probabilities(0, [])
    >>> p.shape, round(float(p.sum()), 6)
    ((24,), 1.0)
    """

    patches: np.ndarray
    target_patches: np.ndarray
    colours: np.ndarray
    shapes: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    boxes: np.ndarray
    n_objects: np.ndarray
    targets: np.ndarray
    scanpaths: list[list[list[int]]]
    grid_shape: tuple[int, int]
    config: VisualSearchConfig = dataclasses.field(repr=False)

    def __len__(self) -> int:
        return int(len(self.targets))

    def image(self, i: int) -> np.ndarray:
        """The rendered search display of trial ``i``: ``(H, W, 3)`` uint8.

        ``H = R·(h + gap) + gap`` and ``W = C·(w + gap) + gap``; the object
        patches sit at :attr:`boxes`.

        Examples
        --------
        >>> from neuroattn.datasets.synthetic.visual_search import make_visual_search
        >>> trials = make_visual_search(n_train=2, n_val=1, n_test=1).train
        >>> x0, y0, x1, y1 = trials.boxes[0, 7].astype(int)
        >>> bool((trials.image(0)[y0:y1, x0:x1] == trials.patches[0, 7]).all())
        True
        """
        i = self._check_trial(i)
        cfg = self.config
        h, w = cfg.patch_size
        shape = (cfg.n_rows * (h + cfg.gap) + cfg.gap, cfg.n_cols * (w + cfg.gap) + cfg.gap, 3)
        img = np.full(shape, _to_uint8(np.asarray(cfg.background)), dtype=np.uint8)
        for k in range(int(self.n_objects[i])):
            x0, y0 = int(self.boxes[i, k, 0]), int(self.boxes[i, k, 1])
            img[y0:y0 + h, x0:x0 + w] = self.patches[i, k]
        return img

    def object_centres(self, i: int) -> np.ndarray:
        """``(n_objects, 2)`` pixel centres ``(x, y)`` of trial ``i``'s objects in :meth:`image`.

        Examples
        --------
        >>> from neuroattn.datasets.synthetic.visual_search import make_visual_search
        >>> make_visual_search(n_train=2, n_val=1, n_test=1).train.object_centres(0)[0]
        array([12., 12.])
        """
        i = self._check_trial(i)
        b = self.boxes[i, : int(self.n_objects[i])]
        return np.stack([(b[:, 0] + b[:, 2]) / 2.0, (b[:, 1] + b[:, 3]) / 2.0], axis=1)

    def policy_probabilities(self, i: int, history: list[int]) -> np.ndarray:
        """The policy's distribution of the next fixation after ``history`` in trial ``i``.

        Parameters
        ----------
        i : int
            Trial index.
        history : list of int
            Fixated objects so far (may be empty); must not contain the target,
            since the path stops there.

        Returns
        -------
        numpy.ndarray
            ``(n_objects,)`` float64 probabilities summing to 1.

        Examples
        --------
        >>> from neuroattn.datasets.synthetic.visual_search import make_visual_search
        >>> trials = make_visual_search(n_train=2, n_val=1, n_test=1).train
        >>> first = int(trials.scanpaths[0][0][0])
        >>> p = trials.policy_probabilities(0, [first])
        >>> round(float(p[first]), 3) == trials.config.p_refix
        True
        """
        i, policy = self._policy(i)
        history = self._check_path(i, history, "history")
        if policy.target in history:
            raise PolicyError(f"history {history} already contains the target "
                              f"{policy.target}; the scanpath has ended there.")
        return policy.probabilities(history)

    def path_log_likelihood(self, i: int, path: list[int], *,
                            max_length: int | None = None) -> float:
        """Log-probability that the policy's scanpath in trial ``i`` is exactly ``path``.

        The product of :meth:`policy_probabilities` along the path, for a
        *complete* path: one that ends at its first target fixation, or
        reaches ``max_length`` without the target. Any other path (empty,
        too long, going on past the target, or stopping short of it) has
        probability 0, so ``-inf``. Summed over all complete paths,
        ``exp`` of this is 1.

        Parameters
        ----------
        i : int
            Trial index.
        path : list of int
            Object indices in fixation order.
        max_length : int or None
            Longest path; ``None`` uses the config's ``max_length`` (the
            generator's own rule).

        Returns
        -------
        float
            ``log P(path)``, ``-inf`` when the policy cannot produce it.

        Raises
        ------
        PolicyError
            If ``path`` names an object outside the trial or ``max_length`` is
            not a positive integer.

        Examples
        --------
        >>> from neuroattn.datasets.synthetic.visual_search import make_visual_search
        >>> trials = make_visual_search(n_train=2, n_val=1, n_test=1).train
        >>> path = trials.scanpaths[0][0]
        >>> bool(trials.path_log_likelihood(0, path) < 0.0)
        True
        >>> trials.path_log_likelihood(0, path + path)  # goes on past the target
        -inf
        """
        i, policy = self._policy(i)
        path = self._check_path(i, path, "path")
        limit = self._check_max_length(max_length)
        return policy.log_likelihood(path, limit)

    def most_likely_path(self, i: int, *, max_length: int | None = None,
                         max_expansions: int = MAX_EXPANSIONS) -> list[int]:
        """The complete path of highest :meth:`path_log_likelihood` in trial ``i`` (exact).

        A uniform-cost (Dijkstra) search over histories, each step costing
        ``-log p``; the first complete path taken off the queue is the most
        likely one. Histories with the same fixated set, current object and
        length have the same futures, so each such state is expanded once.
        Among equally likely paths one is returned deterministically. On the
        default test split the search expands at most about 80 states per
        trial.

        Parameters
        ----------
        i : int
            Trial index.
        max_length : int or None
            Longest path, as in :meth:`path_log_likelihood`.
        max_expansions : int
            Most states to expand before giving up.

        Returns
        -------
        list of int
            Object indices in fixation order (the target last unless the path
            reaches ``max_length`` first).

        Raises
        ------
        PolicyError
            If the search needs more than ``max_expansions`` states (a flat
            policy on a large grid), or an argument is bad.

        Examples
        --------
        >>> from neuroattn.datasets.synthetic.visual_search import make_visual_search
        >>> trials = make_visual_search(n_train=30, n_val=1, n_test=1).train
        >>> best = trials.most_likely_path(0)
        >>> all(trials.path_log_likelihood(0, best) >= trials.path_log_likelihood(0, p)
        ...     for p in trials.scanpaths[0] + [trials.greedy_path(0)])
        True
        """
        i, policy = self._policy(i)
        limit = self._check_max_length(max_length)
        _check_positive("max_expansions", max_expansions)
        return policy.most_likely(limit, int(max_expansions))

    def greedy_path(self, i: int, *, max_length: int | None = None) -> list[int]:
        """The path that takes the arg-max of :meth:`policy_probabilities` at every step.

        What greedy decoding of a model that had learned the policy exactly
        would produce (ties: the lowest object index). Not, in general, the
        :meth:`most_likely_path`.

        Examples
        --------
        >>> from neuroattn.datasets.synthetic.visual_search import make_visual_search
        >>> trials = make_visual_search(n_train=2, n_val=1, n_test=1).train
        >>> path = trials.greedy_path(0)
        >>> path[0] == int(trials.policy_probabilities(0, []).argmax())
        True
        """
        i, policy = self._policy(i)
        return policy.greedy(self._check_max_length(max_length))

    def sample_paths(self, i: int, n_samples: int, *, seed: int | np.random.Generator = 0,
                     max_length: int | None = None) -> list[list[int]]:
        """``n_samples`` new scanpaths of trial ``i`` drawn from the policy (new subjects).

        The same sampler as the generator, with its own random stream
        (``seed``: an int or a ``numpy.random.Generator``, which is advanced);
        the stored :attr:`scanpaths` are not touched.

        Examples
        --------
        >>> from neuroattn.datasets.synthetic.visual_search import make_visual_search
        >>> trials = make_visual_search(n_train=2, n_val=1, n_test=1).train
        >>> paths = trials.sample_paths(0, 3, seed=1)
        >>> len(paths), all(p[-1] == trials.targets[0] for p in paths)
        (3, True)
        """
        i, policy = self._policy(i)
        _check_positive("n_samples", n_samples)
        limit = self._check_max_length(max_length)
        rng = np.random.default_rng(seed)
        return [policy.sample(limit, rng) for _ in range(int(n_samples))]

    def _check_trial(self, i: int) -> int:
        if not isinstance(i, int | np.integer) or not 0 <= int(i) < len(self):
            raise ParameterError(f"trial index {i!r} is out of range for {len(self)} trials.")
        return int(i)

    def _policy(self, i: int) -> tuple[int, _TrialPolicy]:
        """The checked trial index and the policy of that trial."""
        i = self._check_trial(i)
        n = int(self.n_objects[i])
        target = int(self.targets[i])
        sim = _similarity(self.config, self.colours[i, :n], self.shapes[i, :n], target)
        return i, _TrialPolicy(self.config, self.rows[i, :n], self.cols[i, :n], sim, target)

    def _check_path(self, i: int, path: list[int], what: str) -> list[int]:
        n = int(self.n_objects[i])
        path = [int(h) for h in path]
        if any(h < 0 or h >= n for h in path):
            raise PolicyError(f"{what} {path} has object indices outside 0..{n - 1} of trial "
                              f"{i}; use the indices of that trial's objects.")
        return path

    def _check_max_length(self, max_length: int | None) -> int:
        if max_length is None:
            return int(self.config.max_length)
        _check_positive("max_length", max_length)
        return int(max_length)


# =============================================================================
# Result
# =============================================================================
@dataclass
class VisualSearch:
    """A synthetic visual-search benchmark with its ground truth.

    Attributes
    ----------
    train, val, test : VisualSearchTrials
        The three splits (independent layouts; see the module docstring).
    held_out_targets : list of tuple of int
        ``(colour, shape)`` conjunctions that are targets only in ``test``.
    config : VisualSearchConfig
        The parameters that produced the data.

    Examples
    --------
    >>> data = make_visual_search(n_train=4, n_val=2, n_test=2)
    >>> [len(data.split(name)) for name in ("train", "val", "test")]
    [4, 2, 2]
    """

    train: VisualSearchTrials
    val: VisualSearchTrials
    test: VisualSearchTrials
    held_out_targets: list[tuple[int, int]]
    config: VisualSearchConfig

    def split(self, name: str) -> VisualSearchTrials:
        """The trials of split ``name`` (``"train"``, ``"val"`` or ``"test"``)."""
        if name not in SPLITS:
            raise ParameterError(f"split {name!r} is unknown; use one of {list(SPLITS)}.")
        return getattr(self, name)

    def ground_truth(self) -> dict[str, Any]:
        """JSON-serialisable ground truth: generator, config, palette and policy.

        The config (with its seed) regenerates everything.

        Examples
        --------
        >>> data = make_visual_search(n_train=4, n_val=2, n_test=2)
        >>> gt = data.ground_truth()
        >>> gt["colours"], gt["shapes"]
        (['red', 'green', 'blue'], ['disc', 'square', 'triangle', 'cross'])
        """
        cfg = self.config
        return {
            "generator": "neuroattn.datasets.synthetic.visual_search",
            "config": cfg.to_dict(),
            "colours": list(PALETTE)[: cfg.n_colours],
            "palette_rgb": [list(v) for v in list(PALETTE.values())[: cfg.n_colours]],
            "shapes": list(SHAPES[: cfg.n_shapes]),
            "held_out_targets": [list(c) for c in self.held_out_targets],
            "start": [(cfg.n_rows - 1) / 2.0, (cfg.n_cols - 1) / 2.0],
            "policy": ("p(o) = p_refix*[o == current] + p_revisit*softmax(-beta_d*d) over "
                       "fixated others + rest*softmax(beta_s*sim - beta_d*d) over unvisited; "
                       "sim = colour_weight*[colour match] + shape_weight*[shape match]; "
                       "stop right after the target"),
            "scanpath_format": "object indices in fixation order, target last, no BOS/EOS",
        }


# =============================================================================
# Generator
# =============================================================================
def make_visual_search(
    config: VisualSearchConfig | None = None, **overrides: Any
) -> VisualSearch:
    """Generate a synthetic visual-search benchmark with known human-like scanpaths.

    Parameters
    ----------
    config : VisualSearchConfig or None
        Parameters; defaults to ``VisualSearchConfig()``.
    **overrides
        Fields of :class:`VisualSearchConfig` to replace (e.g. ``p_refix=0``).

    Returns
    -------
    VisualSearch
        Train, val and test trials (patches, boxes, targets, scanpaths).

    Raises
    ------
    ValueError
        For an unknown override or a bad parameter (the message says how to fix it).

    Examples
    --------
    >>> import numpy as np
    >>> a = make_visual_search(n_train=6, n_val=2, n_test=2, seed=3)
    >>> b = make_visual_search(a.config)
    >>> bool(np.array_equal(a.test.patches, b.test.patches)), a.test.scanpaths == b.test.scanpaths
    (True, True)
    >>> c = make_visual_search(n_train=9, n_val=2, n_test=2, seed=3)  # the test split is unchanged
    >>> c.test.scanpaths == a.test.scanpaths
    True
    """
    cfg = config_from(VisualSearchConfig, config, overrides, "make_visual_search")
    t_start = time.perf_counter()
    rng_targets, *rng_splits = (np.random.default_rng(s)
                                for s in np.random.SeedSequence(int(cfg.seed)).spawn(4))
    conj = [(c, s) for c in range(cfg.n_colours) for s in range(cfg.n_shapes)]
    held = sorted(conj[k] for k in rng_targets.choice(len(conj), cfg.n_held_out_targets,
                                                      replace=False))
    seen = [c for c in conj if c not in held]
    masks = shape_masks(cfg.patch_size, cfg.n_shapes)
    pools = {"train": seen, "val": seen, "test": held or conj}
    sizes = {"train": cfg.n_train, "val": cfg.n_val, "test": cfg.n_test}
    splits = {name: _make_split(cfg, sizes[name], pools[name], masks, rng)
              for name, rng in zip(SPLITS, rng_splits, strict=True)}
    logger.debug("make_visual_search: %d/%d/%d trials x %d subjects in %.2f s", cfg.n_train,
                 cfg.n_val, cfg.n_test, cfg.n_subjects, time.perf_counter() - t_start)
    return VisualSearch(**splits, held_out_targets=held, config=cfg)


# =============================================================================
# Building blocks
# =============================================================================
def _make_split(cfg: VisualSearchConfig, n: int, target_pool: list[tuple[int, int]],
                masks: np.ndarray, rng: np.random.Generator) -> VisualSearchTrials:
    """``n`` trials: layouts, rendered patches and ``n_subjects`` scanpaths each."""
    p = cfg.n_cells
    h, w = cfg.patch_size
    colours = np.full((n, p), -1, np.int64)
    shapes = np.full((n, p), -1, np.int64)
    rows = np.full((n, p), -1, np.int64)
    cols = np.full((n, p), -1, np.int64)
    n_objects = np.empty(n, np.int64)
    targets = np.empty(n, np.int64)
    for i in range(n):
        k = p if cfg.min_objects is None else int(rng.integers(cfg.min_objects, p + 1))
        cells = np.arange(p) if k == p else np.sort(rng.choice(p, k, replace=False))
        n_objects[i] = k
        rows[i, :k], cols[i, :k] = cells // cfg.n_cols, cells % cfg.n_cols
        tc, ts = target_pool[int(rng.integers(len(target_pool)))]
        c = rng.integers(cfg.n_colours, size=k)
        s = rng.integers(cfg.n_shapes, size=k)
        clash = (c == tc) & (s == ts)
        while clash.any():  # the target's conjunction is unique in its grid
            c[clash] = rng.integers(cfg.n_colours, size=int(clash.sum()))
            s[clash] = rng.integers(cfg.n_shapes, size=int(clash.sum()))
            clash = (c == tc) & (s == ts)
        t = int(rng.integers(k))
        c[t], s[t] = tc, ts
        colours[i, :k], shapes[i, :k], targets[i] = c, s, t

    real = colours >= 0
    patches = _render(cfg, masks, np.where(real, colours, 0), np.where(real, shapes, 0), rng)
    patches[~real] = 0
    t_idx = np.arange(n)
    templates = _render(cfg, masks, colours[t_idx, targets][:, None],
                        shapes[t_idx, targets][:, None], rng)[:, 0]
    x0 = cfg.gap + cols * (w + cfg.gap)
    y0 = cfg.gap + rows * (h + cfg.gap)
    boxes = np.stack([x0, y0, x0 + w, y0 + h], axis=-1).astype(np.float64)
    boxes[~real] = np.nan

    scanpaths = []
    for i in range(n):
        k = int(n_objects[i])
        sim = _similarity(cfg, colours[i, :k], shapes[i, :k], int(targets[i]))
        scanpaths.append([_sample_scanpath(cfg, rows[i, :k], cols[i, :k], sim, int(targets[i]),
                                           rng) for _ in range(cfg.n_subjects)])
    return VisualSearchTrials(patches=patches, target_patches=templates, colours=colours,
                              shapes=shapes, rows=rows, cols=cols, boxes=boxes,
                              n_objects=n_objects, targets=targets, scanpaths=scanpaths,
                              grid_shape=(cfg.n_rows, cfg.n_cols), config=cfg)


def _similarity(cfg: VisualSearchConfig, colours: np.ndarray, shapes: np.ndarray,
                target: int) -> np.ndarray:
    """``sim(o)`` of every object to the target."""
    return (cfg.colour_weight * (colours == colours[target])
            + cfg.shape_weight * (shapes == shapes[target])).astype(np.float64)


def _softmax_over(logits: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    z = np.where(allowed, logits, -np.inf)
    z = np.exp(z - z[allowed].max())
    return z / z.sum()


def _policy_probabilities(cfg: VisualSearchConfig, rows: np.ndarray, cols: np.ndarray,
                          sim: np.ndarray, history: list[int]) -> np.ndarray:
    """The mixture ``p(o)`` of the module docstring, for a history without the target."""
    n = len(rows)
    if history:
        cur = history[-1]
        pos = np.array([rows[cur], cols[cur]], dtype=np.float64)
    else:
        pos = np.array([(cfg.n_rows - 1) / 2.0, (cfg.n_cols - 1) / 2.0])
    dist = np.hypot(rows - pos[0], cols - pos[1])
    visited = np.zeros(n, bool)
    visited[history] = True
    new = _softmax_over(cfg.beta_similarity * sim - cfg.beta_distance * dist, ~visited)
    if not history:
        return new
    probs = np.zeros(n)
    probs[cur] = cfg.p_refix
    others = visited.copy()
    others[cur] = False
    if others.any():
        probs += cfg.p_revisit * _softmax_over(-cfg.beta_distance * dist, others)
        return probs + (1.0 - cfg.p_refix - cfg.p_revisit) * new
    return probs + (1.0 - cfg.p_refix) * new


def _sample_scanpath(cfg: VisualSearchConfig, rows: np.ndarray, cols: np.ndarray,
                     sim: np.ndarray, target: int, rng: np.random.Generator,
                     max_length: int | None = None) -> list[int]:
    path: list[int] = []
    limit = cfg.max_length if max_length is None else max_length
    while len(path) < limit:
        probs = _policy_probabilities(cfg, rows, cols, sim, path)
        nxt = int(rng.choice(len(probs), p=probs))
        path.append(nxt)
        if nxt == target:
            break
    return path


def _check_positive(name: str, value: Any) -> None:
    if (not isinstance(value, int | np.integer) or isinstance(value, bool | np.bool_)
            or value < 1):
        raise PolicyError(f"{name}={value!r} must be a positive integer.")


@dataclass(frozen=True)
class _TrialPolicy:
    """The policy of one trial: its objects' cells, similarities and target."""

    cfg: VisualSearchConfig
    rows: np.ndarray
    cols: np.ndarray
    sim: np.ndarray
    target: int

    def probabilities(self, history: list[int]) -> np.ndarray:
        return _policy_probabilities(self.cfg, self.rows, self.cols, self.sim, history)

    def log_likelihood(self, path: list[int], limit: int) -> float:
        complete = bool(path) and len(path) <= limit and (
            path[-1] == self.target or len(path) == limit)
        if not complete or self.target in path[:-1]:
            return float("-inf")
        with np.errstate(divide="ignore"):
            return float(sum(np.log(self.probabilities(path[:k])[f])
                             for k, f in enumerate(path)))

    def most_likely(self, limit: int, max_expansions: int) -> list[int]:
        queue: list[tuple[float, tuple[int, ...]]] = [(0.0, ())]
        expanded: set[tuple[frozenset[int], int, int]] = set()
        while True:  # every path reaches a complete one within `limit` steps
            cost, path = heapq.heappop(queue)
            if path and (path[-1] == self.target or len(path) == limit):
                return list(path)
            state = (frozenset(path), path[-1] if path else -1, len(path))
            if state in expanded:
                continue
            if len(expanded) >= max_expansions:
                raise PolicyError(
                    f"most_likely_path expanded {max_expansions} search states without "
                    "finishing; the policy is too flat for an exact search at this size. Raise "
                    "max_expansions, or lower max_length.")
            expanded.add(state)
            probs = self.probabilities(list(path))
            for f in np.flatnonzero(probs > 0.0):
                heapq.heappush(queue, (cost - math.log(probs[f]), (*path, int(f))))

    def greedy(self, limit: int) -> list[int]:
        path: list[int] = []
        while len(path) < limit and (not path or path[-1] != self.target):
            path.append(int(np.argmax(self.probabilities(path))))
        return path

    def sample(self, limit: int, rng: np.random.Generator) -> list[int]:
        return _sample_scanpath(self.cfg, self.rows, self.cols, self.sim, self.target, rng,
                                limit)


def shape_masks(patch_size: tuple[int, int], n_shapes: int) -> np.ndarray:
    """``(S, h, w)`` anti-aliased coverage in [0, 1] of each shape, centred in the patch.

    Shared by the synthetic worlds that draw :data:`SHAPES` (search displays,
    tensor-brain scenes, captioned scenes).

    Examples
    --------
    >>> m = shape_masks((8, 8), 2)
    >>> m.shape, bool(0.0 <= m.min() and m.max() <= 1.0)
    ((2, 8, 8), True)
    """
    h, w = patch_size
    ss = _SUPERSAMPLE
    v = (np.arange(h * ss) + 0.5) / (h * ss) * 2.0 - 1.0  # down, in [-1, 1]
    u = (np.arange(w * ss) + 0.5) / (w * ss) * 2.0 - 1.0  # right
    vv, uu = np.meshgrid(v, u, indexing="ij")
    r = 0.75
    bar = 0.25
    radius = np.hypot(uu, vv)
    shapes = {
        "disc": radius <= r,
        "square": np.maximum(np.abs(uu), np.abs(vv)) <= 0.8 * r,
        "triangle": (vv <= r) & (vv >= -r) & (np.abs(uu) <= (vv + r) / 2.0),
        "cross": ((np.abs(uu) <= bar) & (np.abs(vv) <= r)) | ((np.abs(vv) <= bar)
                                                              & (np.abs(uu) <= r)),
        "diamond": np.abs(uu) + np.abs(vv) <= r * 1.15,
        "ring": (radius <= r) & (radius >= 0.45 * r),
    }
    fine = np.stack([shapes[name] for name in SHAPES[:n_shapes]]).astype(np.float64)
    return fine.reshape(n_shapes, h, ss, w, ss).mean(axis=(2, 4))


def _render(cfg: VisualSearchConfig, masks: np.ndarray, colours: np.ndarray,
            shapes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``(n, m, h, w, 3)`` uint8 patches of objects with the given labels."""
    palette = np.asarray(list(PALETTE.values()))[: cfg.n_colours]
    rgb = palette[colours] + cfg.colour_jitter * rng.standard_normal((*colours.shape, 3))
    cover = masks[shapes][..., None]  # (n, m, h, w, 1)
    img = cfg.background + cover * (rgb[:, :, None, None, :] - cfg.background)
    img = img + cfg.pixel_noise * rng.standard_normal(img.shape)
    return _to_uint8(img)


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(np.asarray(x) * 255.0), 0, 255).astype(np.uint8)
