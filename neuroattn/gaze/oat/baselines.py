"""Baseline scanpath models for object-level visual search, with OAT's inference interface.

Every baseline builds a path one fixation at a time from the grid centre
(the BOS position ``((R-1)/2, (C-1)/2)`` in cells), scoring the trial's real
objects; ``"greedy"`` takes the best score (ties: the lowest object index)
and ``"sample"`` draws from ``softmax(score / temperature)``. Except for the
random baseline, fixated objects are not chosen again (inhibition of
return). A path ends right after the target is fixated, like the human data
and OAT, or when its length budget is used up:

* ``length="human"``: the budget is drawn from the empirical distribution of
  the human scanpath lengths seen in :meth:`~ScanpathBaseline.fit` (sample)
  or is their mean, rounded (greedy);
* ``length="target"``: no budget; the path runs until the target (at most
  ``n_objects`` fixations with inhibition of return).

``max_len`` caps every path in addition. The four baselines:

* :class:`RandomBaseline` — uniform over the objects, with replacement (so it
  refixates and revisits by chance), ``length="human"``; both methods draw
  at random.
* :class:`CentreBiasBaseline` — score ``-d_c² / (2σ²)`` with ``d_c`` the
  distance of the object from the grid centre; ``σ² = mean(d_c²) / 2`` over
  the human fixations of :meth:`fit` (the isotropic Gaussian with the humans'
  second moment), ``length="human"``. Greedy visits objects by distance to
  the centre.
* :class:`NearestFirstBaseline` — score ``-d(current, o)``: the nearest
  object to the current fixation (distance only), ``length="target"``,
  sampling temperature 0.5 cells.
* :class:`TargetSimilarityBaseline` — score ``-MSE(patch_o, template) /
  mean_o MSE``: pixel-space similarity of each object's RGB patch to the
  target template (colour and shape at once, from the pixels the model sees),
  ``length="target"``, sampling temperature 0.1.

``fit`` needs trials with human scanpaths (the training split); it
stores only the length distribution and ``σ``.

:class:`PolicyOracle` is not a baseline but the ceiling: on the synthetic
benchmark it produces paths from the very policy that generated the "human"
scanpaths (:mod:`neuroattn.datasets.synthetic.visual_search`), so it needs
those trials rather than :class:`~neuroattn.gaze.oat.data.SearchTrials`. It
learns nothing and is not in :data:`BASELINES`.

Examples
--------
>>> from neuroattn.datasets.synthetic.visual_search import make_visual_search
>>> from neuroattn.gaze.oat.baselines import NearestFirstBaseline
>>> data = make_visual_search(n_train=20, n_val=1, n_test=2)
>>> paths = NearestFirstBaseline().fit(data.train).generate(data.test)
>>> all(p[0][-1] == t for p, t in zip(paths, data.test.targets))
True
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import numpy as np

from neuroattn._validation import check_option
from neuroattn.errors import ParameterError
from neuroattn.gaze.oat.data import SearchTrials, as_search_trials
from neuroattn.gaze.oat.inference import check_generation_args

__all__ = ["BASELINES", "CentreBiasBaseline", "NearestFirstBaseline", "PolicyOracle",
           "RandomBaseline", "ScanpathBaseline", "ScanpathPolicy",
           "TargetSimilarityBaseline", "make_baseline"]

Length = Literal["human", "target"]
OracleMethod = Literal["most_likely", "greedy", "sample"]


class ScanpathBaseline(ABC):
    """Base class: a sequential chooser over a trial's objects (see the module docstring).

    Subclasses define :meth:`scores` (and may precompute per-trial data in
    :meth:`prepare`). ``generate`` has the signature of
    :func:`~neuroattn.gaze.oat.inference.generate_scanpaths`.

    Parameters
    ----------
    length : {"human", "target"}
        Length budget rule.
    temperature : float
        Softmax temperature of ``method="sample"``.
    """

    name: ClassVar[str] = "baseline"
    with_replacement: ClassVar[bool] = False

    def __init__(self, *, length: Length = "target", temperature: float = 1.0) -> None:
        if length not in ("human", "target"):
            raise ParameterError(f"length={length!r} is unknown; use 'human' or 'target'.")
        if not np.isfinite(temperature) or temperature <= 0:
            raise ParameterError(f"temperature={temperature!r} must be a positive number.")
        self.length = length
        self.temperature = float(temperature)
        self.human_lengths_: np.ndarray | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(length={self.length!r}, temperature={self.temperature})"

    # ------------------------------------------------------------------ fit
    def fit(self, trials: Any) -> ScanpathBaseline:
        """Learn the human length distribution (and subclass statistics) from ``trials``."""
        trials = as_search_trials(trials)
        self.human_lengths_ = trials.human_lengths()
        self._fit_extra(trials)
        return self

    def _fit_extra(self, trials: SearchTrials) -> None:  # noqa: B027 (optional hook)
        """Hook for subclasses that learn more than the lengths."""

    def _check_fitted(self) -> None:
        if self.human_lengths_ is None:
            raise ParameterError(f"{type(self).__name__} is not fitted; call .fit(train_trials) "
                                 "with human scanpaths first.")

    # ------------------------------------------------------------- scoring
    def prepare(self, trials: SearchTrials) -> Any:
        """Data computed once per :meth:`generate` call and passed to :meth:`scores`."""
        return None

    @abstractmethod
    def scores(self, trials: SearchTrials, i: int, position: np.ndarray,
               prepared: Any) -> np.ndarray:
        """``(n_objects,)`` scores of trial ``i``'s objects from ``position`` (row, col)."""

    # ------------------------------------------------------------ generate
    def generate(self, trials: Any, *, method: str = "greedy", n_samples: int = 1,
                 max_len: int | None = None, seed: int = 0, return_ended: bool = False,
                 ) -> list[list[list[int]]] | tuple[list[list[list[int]]], np.ndarray]:
        """Scanpaths for every trial: ``paths[i][s]`` (object indices, target last if found).

        Parameters as :func:`~neuroattn.gaze.oat.inference.generate_scanpaths`
        (``method``, ``n_samples``, ``max_len``, ``seed``, ``return_ended``;
        a baseline path always ends, so ``ended`` is all ``True``).
        """
        check_generation_args(method, n_samples, max_len)
        self._check_fitted()
        trials = as_search_trials(trials)
        rng = np.random.default_rng(seed)
        prepared = self.prepare(trials)
        paths = [[self._one_path(trials, i, method, max_len, prepared, rng)
                  for _ in range(n_samples)] for i in range(len(trials))]
        ended = np.ones((len(trials), n_samples), dtype=bool)
        return (paths, ended) if return_ended else paths

    def _budget(self, method: str, n_objects: int, max_len: int | None,
                rng: np.random.Generator) -> int:
        if self.length == "human":
            lengths = self.human_lengths_
            budget = (int(rng.choice(lengths)) if method == "sample"
                      else max(1, int(round(float(lengths.mean())))))
        else:
            budget = n_objects
        return budget if max_len is None else min(budget, int(max_len))

    def _one_path(self, trials: SearchTrials, i: int, method: str, max_len: int | None,
                  prepared: Any, rng: np.random.Generator) -> list[int]:
        n = int(trials.n_objects[i])
        rows, cols = trials.rows[i, :n], trials.cols[i, :n]
        target = int(trials.targets[i])
        n_rows, n_cols = trials.grid_shape
        position = np.array([(n_rows - 1) / 2.0, (n_cols - 1) / 2.0])
        visited = np.zeros(n, dtype=bool)
        path: list[int] = []
        for _ in range(self._budget(method, n, max_len, rng)):
            score = np.asarray(self.scores(trials, i, position, prepared), dtype=np.float64)
            allowed = np.ones(n, bool) if self.with_replacement else ~visited
            choice = self._choose(score, allowed, method, rng)
            path.append(choice)
            visited[choice] = True
            if choice == target:
                break
            position = np.array([rows[choice], cols[choice]], dtype=np.float64)
        return path

    def _choose(self, score: np.ndarray, allowed: np.ndarray, method: str,
                rng: np.random.Generator) -> int:
        z = np.where(allowed, score, -np.inf)
        if method == "greedy" and not self.with_replacement:
            return int(np.argmax(z))
        z = (z - z[allowed].max()) / self.temperature
        p = np.exp(z)
        return int(rng.choice(len(p), p=p / p.sum()))


class RandomBaseline(ScanpathBaseline):
    """Uniform over the objects, with replacement; human-length budget.

    Examples
    --------
    >>> from neuroattn.datasets.synthetic.visual_search import make_visual_search
    >>> data = make_visual_search(n_train=20, n_val=1, n_test=3)
    >>> base = RandomBaseline().fit(data.train)
    >>> paths = base.generate(data.test, method="sample", n_samples=4, seed=1)
    >>> bool(max(len(p) for ps in paths for p in ps) <= base.human_lengths_.max())
    True
    """

    name = "random"
    with_replacement = True

    def __init__(self) -> None:
        super().__init__(length="human", temperature=1.0)

    def scores(self, trials: SearchTrials, i: int, position: np.ndarray,
               prepared: Any) -> np.ndarray:
        return np.zeros(int(trials.n_objects[i]))


class CentreBiasBaseline(ScanpathBaseline):
    """A Gaussian centre prior fitted to the human fixations; human-length budget.

    Parameters
    ----------
    sigma : float or None
        Width of the prior in cells; ``None`` fits it in :meth:`fit`.

    Examples
    --------
    >>> from neuroattn.datasets.synthetic.visual_search import make_visual_search
    >>> data = make_visual_search(n_train=30, n_val=1, n_test=2)
    >>> base = CentreBiasBaseline().fit(data.train)
    >>> bool(0.5 < base.sigma_ < 3.0)
    True
    """

    name = "centre"

    def __init__(self, sigma: float | None = None) -> None:
        super().__init__(length="human", temperature=1.0)
        if sigma is not None and (not np.isfinite(sigma) or sigma <= 0):
            raise ParameterError(f"sigma={sigma!r} must be a positive number of cells or None.")
        self.sigma = sigma
        self.sigma_: float | None = sigma

    def _fit_extra(self, trials: SearchTrials) -> None:  # noqa: B027 (optional hook)
        if self.sigma is not None:
            return
        n_rows, n_cols = trials.grid_shape
        d2 = [(trials.rows[i, f] - (n_rows - 1) / 2.0) ** 2
              + (trials.cols[i, f] - (n_cols - 1) / 2.0) ** 2
              for i, paths in enumerate(trials.scanpaths) for path in paths for f in path]
        self.sigma_ = float(np.sqrt(max(np.mean(d2), 1e-6) / 2.0))

    def scores(self, trials: SearchTrials, i: int, position: np.ndarray,
               prepared: Any) -> np.ndarray:
        n = int(trials.n_objects[i])
        n_rows, n_cols = trials.grid_shape
        d2 = ((trials.rows[i, :n] - (n_rows - 1) / 2.0) ** 2
              + (trials.cols[i, :n] - (n_cols - 1) / 2.0) ** 2)
        return -d2 / (2.0 * self.sigma_**2)


class NearestFirstBaseline(ScanpathBaseline):
    """The nearest not-yet-fixated object, from the centre on; runs until the target.

    Examples
    --------
    >>> from neuroattn.datasets.synthetic.visual_search import make_visual_search
    >>> data = make_visual_search(n_train=5, n_val=1, n_test=1)
    >>> path = NearestFirstBaseline().fit(data.train).generate(data.test)[0][0]
    >>> path[0]  # cell (1, 2), the first of the four cells next to the centre (1.5, 2.5)
    8
    """

    name = "nearest"

    def __init__(self, temperature: float = 0.5) -> None:
        super().__init__(length="target", temperature=temperature)

    def scores(self, trials: SearchTrials, i: int, position: np.ndarray,
               prepared: Any) -> np.ndarray:
        n = int(trials.n_objects[i])
        return -np.hypot(trials.rows[i, :n] - position[0], trials.cols[i, :n] - position[1])


class TargetSimilarityBaseline(ScanpathBaseline):
    """The object whose pixels are most like the target template; runs until the target.

    Examples
    --------
    >>> from neuroattn.datasets.synthetic.visual_search import make_visual_search
    >>> data = make_visual_search(n_train=5, n_val=1, n_test=5)
    >>> paths = TargetSimilarityBaseline().fit(data.train).generate(data.test)
    >>> [len(p[0]) for p in paths]  # the template is nearest its own object in pixel space
    [1, 1, 1, 1, 1]
    """

    name = "similarity"

    def __init__(self, temperature: float = 0.1) -> None:
        super().__init__(length="target", temperature=temperature)

    def prepare(self, trials: SearchTrials) -> np.ndarray:
        return _pixel_dissimilarity(trials)

    def scores(self, trials: SearchTrials, i: int, position: np.ndarray,
               prepared: np.ndarray) -> np.ndarray:
        mse = prepared[i, : int(trials.n_objects[i])]
        return -mse / max(float(mse.mean()), 1e-12)


def _pixel_dissimilarity(trials: SearchTrials) -> np.ndarray:
    """``(n, P)`` mean squared difference between each object patch and the target template."""
    scale = 255.0 if trials.patches.dtype == np.uint8 else 1.0
    out = np.empty(trials.rows.shape)
    for i in range(len(trials)):  # one trial at a time keeps memory small
        diff = (trials.patches[i].astype(np.float64)
                - trials.target_patches[i][None].astype(np.float64)) / scale
        out[i] = (diff**2).mean(axis=(1, 2, 3))
    return out


@runtime_checkable
class ScanpathPolicy(Protocol):
    """Trials that carry the policy that generated them (structural type).

    :class:`~neuroattn.datasets.synthetic.visual_search.VisualSearchTrials` is
    one: ``config.max_length`` and, per trial ``i``, its most likely, greedy
    and sampled paths. Real human data have no known policy.
    """

    config: Any

    def __len__(self) -> int: ...

    def most_likely_path(self, i: int, *, max_length: int | None = None) -> list[int]: ...

    def greedy_path(self, i: int, *, max_length: int | None = None) -> list[int]: ...

    def sample_paths(self, i: int, n_samples: int, *, seed: Any = 0,
                     max_length: int | None = None) -> list[list[int]]: ...


class PolicyOracle:
    """The generating policy of the synthetic visual search as a scanpath model: the ceiling.

    The simulated subjects' scanpaths are draws from a known stochastic
    policy; this model reads that policy off the trials
    (:class:`~neuroattn.datasets.synthetic.visual_search.VisualSearchTrials`)
    instead of learning it. Three ways to turn it into paths
    (``generate(method=...)``):

    * ``"most_likely"`` — the exact most likely complete path
      (:meth:`~neuroattn.datasets.synthetic.visual_search.VisualSearchTrials.most_likely_path`);
    * ``"greedy"`` — the arg-max of the policy at every step, i.e. what greedy
      decoding of a model that had learned the policy perfectly produces
      (:meth:`~neuroattn.datasets.synthetic.visual_search.VisualSearchTrials.greedy_path`);
    * ``"sample"`` — independent draws, i.e. new simulated subjects
      (:meth:`~neuroattn.datasets.synthetic.visual_search.VisualSearchTrials.sample_paths`).

    ``generate`` has the signature of the baselines' (``method`` aside); every
    path ends (at the target or at the length cap), so ``ended`` is all ``True``.

    Examples
    --------
    >>> from neuroattn.datasets.synthetic.visual_search import make_visual_search
    >>> from neuroattn.gaze.oat.baselines import PolicyOracle
    >>> test = make_visual_search(n_train=2, n_val=1, n_test=3).test
    >>> best = PolicyOracle().generate(test)
    >>> all(test.path_log_likelihood(i, best[i][0]) >= test.path_log_likelihood(i, h)
    ...     for i in range(len(test)) for h in test.scanpaths[i])
    True
    >>> [len(ps) for ps in PolicyOracle().generate(test, method="sample", n_samples=4)]
    [4, 4, 4]
    """

    name: ClassVar[str] = "oracle"

    def __repr__(self) -> str:
        return "PolicyOracle()"

    def generate(self, trials: ScanpathPolicy, *, method: OracleMethod = "most_likely",
                 n_samples: int = 1, max_len: int | None = None, seed: int = 0,
                 return_ended: bool = False,
                 ) -> list[list[list[int]]] | tuple[list[list[list[int]]], np.ndarray]:
        """The policy's scanpaths for every trial: ``paths[i][s]``.

        Parameters
        ----------
        trials : ScanpathPolicy
            A split of :func:`~neuroattn.datasets.synthetic.visual_search.make_visual_search`
            (it carries the policy).
        method : {"most_likely", "greedy", "sample"}
            See the class docstring; the first two are deterministic
            (``n_samples`` must be 1).
        n_samples : int
            Paths per trial.
        max_len : int or None
            Longest path; ``None`` is the policy's own ``max_length``, and a
            larger value is capped at it.
        seed : int
            Seed of ``method="sample"`` (one stream over all trials).
        return_ended : bool
            Also return the ``(n_trials, n_samples)`` all-``True`` ``ended`` array.

        Raises
        ------
        ParameterError
            If ``trials`` do not carry the generating policy or an argument is bad.
        """
        check_option("method", method, ("most_likely", "greedy", "sample"))
        check_generation_args("sample" if method == "sample" else "greedy", n_samples, max_len)
        if not isinstance(trials, ScanpathPolicy):
            raise ParameterError(
                f"the policy oracle needs the trials of make_visual_search (a "
                f"VisualSearchTrials split such as data.test), which carry the generating "
                f"policy; got {type(trials).__name__}. Real human data have no known policy.")
        limit = trials.config.max_length if max_len is None else min(int(max_len),
                                                                     trials.config.max_length)
        rng = np.random.default_rng(seed)
        paths = []
        for i in range(len(trials)):
            if method == "sample":
                paths.append(trials.sample_paths(i, n_samples, seed=rng, max_length=limit))
            elif method == "greedy":
                paths.append([trials.greedy_path(i, max_length=limit)])
            else:
                paths.append([trials.most_likely_path(i, max_length=limit)])
        ended = np.ones((len(trials), n_samples), dtype=bool)
        return (paths, ended) if return_ended else paths


BASELINES: dict[str, type[ScanpathBaseline]] = {
    cls.name: cls for cls in (RandomBaseline, CentreBiasBaseline, NearestFirstBaseline,
                              TargetSimilarityBaseline)
}
"""The baselines by name: ``random``, ``centre``, ``nearest``, ``similarity``."""


def make_baseline(name: str, **kwargs: Any) -> ScanpathBaseline:
    """A baseline by name (see :data:`BASELINES`).

    Examples
    --------
    >>> make_baseline("nearest")
    NearestFirstBaseline(length='target', temperature=0.5)
    """
    if name not in BASELINES:
        raise ParameterError(f"baseline {name!r} is unknown; use one of {sorted(BASELINES)}.")
    return BASELINES[name](**kwargs)
