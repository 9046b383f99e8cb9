"""Visual-search trials as OAT reads them, and their batches.

A **trial** is a grid of ``n_objects`` objects (at most ``P`` slots), each an
RGB patch with a grid cell ``(row, col)``, plus the target's index and a
template patch of the target; it may come with human scanpaths (lists of
object indices in fixation order, the target last when found, no BOS/EOS).
:class:`SearchTrials` holds many trials as arrays and validates them once;
:func:`as_search_trials` builds one from any object with the same attribute
names, such as a split of
:func:`~neuroattn.datasets.synthetic.visual_search.make_visual_search`.

OAT's token vocabulary, for a model with ``P`` object slots: objects
``0..P-1``, **EOS = P** (pointing at the target token ends the path),
**PAD = P+1**, **BOS = P+2** (:func:`vocabulary`).

Examples
--------
>>> from neuroattn.datasets.synthetic.visual_search import make_visual_search
>>> from neuroattn.gaze.oat.data import as_search_trials
>>> trials = as_search_trials(make_visual_search(n_train=5, n_val=1, n_test=1).train)
>>> len(trials), trials.n_slots, trials.grid_shape
(5, 24, (4, 6))
>>> batch = trials.inputs([0, 3])
>>> batch.patches.shape, batch.object_mask.shape
(torch.Size([2, 24, 16, 16, 3]), torch.Size([2, 24]))
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from neuroattn.errors import ParameterError

__all__ = ["OATInputs", "SearchTrials", "as_search_trials", "scanpath_tokens", "vocabulary"]

_FIELDS = ("patches", "target_patches", "rows", "cols", "n_objects", "targets", "grid_shape")


def vocabulary(n_slots: int) -> dict[str, int]:
    """OAT's special token ids for ``n_slots`` object slots.

    Examples
    --------
    >>> vocabulary(24)
    {'eos': 24, 'pad': 25, 'bos': 26}
    """
    return {"eos": int(n_slots), "pad": int(n_slots) + 1, "bos": int(n_slots) + 2}


@dataclass
class OATInputs:
    """One batch of trials as tensors: what the OAT encoder reads.

    Attributes
    ----------
    patches : torch.Tensor
        ``(B, P, h, w, 3)`` object patches, channels last: uint8, or float in [0, 1].
    target_patch : torch.Tensor
        ``(B, h, w, 3)`` target templates, same dtype convention.
    rows, cols : torch.Tensor
        ``(B, P)`` int64 grid cells (0 in padded slots).
    object_mask : torch.Tensor
        ``(B, P)`` bool, ``True`` for real objects.
    target : torch.Tensor
        ``(B,)`` int64 target index.

    Examples
    --------
    >>> import torch
    >>> x = OATInputs(torch.zeros(1, 2, 8, 8, 3, dtype=torch.uint8),
    ...               torch.zeros(1, 8, 8, 3, dtype=torch.uint8),
    ...               torch.zeros(1, 2, dtype=torch.long), torch.tensor([[0, 1]]),
    ...               torch.ones(1, 2, dtype=torch.bool), torch.tensor([1]))
    >>> x.select(torch.tensor([0, 0, 0])).target.tolist()
    [1, 1, 1]
    """

    patches: torch.Tensor
    target_patch: torch.Tensor
    rows: torch.Tensor
    cols: torch.Tensor
    object_mask: torch.Tensor
    target: torch.Tensor

    def to(self, device: torch.device | str) -> OATInputs:
        """A copy on ``device``."""
        return OATInputs(*(getattr(self, f.name).to(device) for f in dataclasses.fields(self)))

    def select(self, index: torch.Tensor) -> OATInputs:
        """The rows at ``index`` (a 1-D int64 tensor; repeats allowed)."""
        return OATInputs(*(getattr(self, f.name).index_select(0, index)
                           for f in dataclasses.fields(self)))

    @property
    def batch_size(self) -> int:
        """``B``."""
        return int(self.target.shape[0])


@dataclass
class SearchTrials:
    """Many visual-search trials, validated. ``n`` trials, ``P`` object slots.

    Parameters
    ----------
    patches : numpy.ndarray
        ``(n, P, h, w, 3)`` object patches, uint8 or float in [0, 1];
        slots ``>= n_objects[i]`` are padding (their content is ignored).
    target_patches : numpy.ndarray
        ``(n, h, w, 3)`` target templates.
    rows, cols : numpy.ndarray
        ``(n, P)`` int grid cells of the objects (padding ignored).
    n_objects : numpy.ndarray
        ``(n,)`` int number of real objects, in ``[1, P]``.
    targets : numpy.ndarray
        ``(n,)`` int target index, below ``n_objects``.
    grid_shape : tuple of int
        ``(n_rows, n_cols)``; every cell is inside it.
    scanpaths : list of list of list of int, optional
        ``scanpaths[i]``: the human scanpaths of trial ``i`` (at least one,
        each non-empty, indices below ``n_objects[i]``).

    Examples
    --------
    >>> import numpy as np
    >>> t = SearchTrials(np.zeros((1, 3, 8, 8, 3), np.uint8), np.zeros((1, 8, 8, 3), np.uint8),
    ...                  np.array([[0, 0, 1]]), np.array([[0, 1, 0]]), np.array([3]), np.array([2]),
    ...                  (2, 2), scanpaths=[[[0, 2], [1, 1, 2]]])
    >>> t.human_lengths().tolist()
    [2, 3]
    >>> SearchTrials(t.patches, t.target_patches, t.rows, t.cols, t.n_objects, np.array([5]),
    ...              (2, 2))
    Traceback (most recent call last):
    ...
    neuroattn.errors.ParameterError: targets[0]=5 is not an object of trial 0 (it has 3 ...
    """

    patches: np.ndarray
    target_patches: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    n_objects: np.ndarray
    targets: np.ndarray
    grid_shape: tuple[int, int]
    scanpaths: list[list[list[int]]] | None = None

    def __post_init__(self) -> None:
        self.patches = np.asarray(self.patches)
        self.target_patches = np.asarray(self.target_patches)
        self.rows = np.asarray(self.rows)
        self.cols = np.asarray(self.cols)
        self.n_objects = np.asarray(self.n_objects)
        self.targets = np.asarray(self.targets)
        self.grid_shape = tuple(int(v) for v in self.grid_shape)  # type: ignore[assignment]
        self._validate()
        if self.scanpaths is not None:
            self.scanpaths = [[[int(f) for f in path] for path in paths]
                              for paths in self.scanpaths]

    # ------------------------------------------------------------ properties
    def __len__(self) -> int:
        return int(self.targets.shape[0])

    @property
    def n_slots(self) -> int:
        """``P``, the number of object slots."""
        return int(self.patches.shape[1])

    @property
    def patch_size(self) -> tuple[int, int]:
        """``(h, w)``."""
        return int(self.patches.shape[2]), int(self.patches.shape[3])

    def human_lengths(self) -> np.ndarray:
        """Lengths of every human scanpath, trial by trial, as an int array."""
        self.require_scanpaths()
        return np.array([len(p) for paths in self.scanpaths for p in paths], dtype=np.int64)

    def subset(self, index: Sequence[int] | np.ndarray) -> SearchTrials:
        """The trials at ``index`` (a new, validated :class:`SearchTrials`)."""
        idx = np.asarray(index, dtype=np.int64).reshape(-1)
        return SearchTrials(self.patches[idx], self.target_patches[idx], self.rows[idx],
                            self.cols[idx], self.n_objects[idx], self.targets[idx],
                            self.grid_shape, None if self.scanpaths is None
                            else [self.scanpaths[i] for i in idx])

    def inputs(self, index: Sequence[int] | np.ndarray, *, n_slots: int | None = None,
               device: torch.device | str = "cpu") -> OATInputs:
        """Tensors of the trials at ``index``, padded to ``n_slots`` (default ``P``).

        Patches keep their dtype (uint8 stays uint8; the model scales it to [0, 1]).
        """
        idx = np.asarray(index, dtype=np.int64).reshape(-1)
        p = self.n_slots if n_slots is None else int(n_slots)
        if p < self.n_slots:
            raise ParameterError(f"n_slots={p} is smaller than the trials' {self.n_slots} object "
                                 "slots; build the model with at least that many objects.")
        k = len(idx)
        n_obj = self.n_objects[idx]
        mask = np.arange(p)[None, :] < n_obj[:, None]
        patches = np.zeros((k, p, *self.patches.shape[2:]), dtype=self.patches.dtype)
        patches[:, : self.n_slots] = self.patches[idx]
        rows = np.zeros((k, p), np.int64)
        cols = np.zeros((k, p), np.int64)
        rows[:, : self.n_slots] = self.rows[idx]
        cols[:, : self.n_slots] = self.cols[idx]
        rows[~mask], cols[~mask] = 0, 0
        patches[~mask] = 0
        out = OATInputs(torch.from_numpy(patches), torch.from_numpy(self.target_patches[idx]),
                        torch.from_numpy(rows), torch.from_numpy(cols), torch.from_numpy(mask),
                        torch.from_numpy(self.targets[idx].astype(np.int64)))
        return out.to(device)

    # ------------------------------------------------------------ validation
    def require_scanpaths(self) -> None:
        """Raise a ``ValueError`` that says how to fix it if there are no human scanpaths."""
        if self.scanpaths is None:
            raise ParameterError("these trials have no human scanpaths; pass scanpaths=... (a list "
                                 "per trial of lists of object indices).")

    def _validate(self) -> None:
        p = self.patches
        if p.ndim != 5 or p.shape[-1] != 3:
            raise ParameterError(f"patches must be (n_trials, n_slots, height, width, 3) RGB "
                                 f"patches, channels last; got shape {p.shape}.")
        n, slots, h, w, _ = p.shape
        if n == 0 or slots == 0:
            raise ParameterError(f"patches has shape {p.shape}; need at least one trial and one "
                                 "object slot.")
        if self.target_patches.shape != (n, h, w, 3):
            raise ParameterError(f"target_patches must be (n_trials, height, width, 3) = "
                                 f"{(n, h, w, 3)} like the object patches; got "
                                 f"{self.target_patches.shape}.")
        for name in ("patches", "target_patches"):
            arr = getattr(self, name)
            if arr.dtype == np.uint8:
                continue
            if not np.issubdtype(arr.dtype, np.floating):
                raise TypeError(f"{name} must be uint8 or float in [0, 1]; got {arr.dtype}.")
            if not np.isfinite(arr).all():
                raise ParameterError(f"{name} contains NaN or infinite values; clean the images.")
            if arr.min() < 0 or arr.max() > 1:
                raise ParameterError(f"float {name} must lie in [0, 1] (got {arr.min():g}.."
                                     f"{arr.max():g}); divide uint8 images by 255.")
        for name in ("rows", "cols"):
            if getattr(self, name).shape != (n, slots):
                raise ParameterError(f"{name} must be (n_trials, n_slots) = {(n, slots)}; got "
                                     f"{getattr(self, name).shape}.")
        for name, shape in (("n_objects", (n,)), ("targets", (n,))):
            arr = getattr(self, name)
            if arr.shape != shape:
                raise ParameterError(f"{name} must have one entry per trial, shape {shape}; got "
                                     f"{arr.shape}.")
        for name in ("rows", "cols", "n_objects", "targets"):
            if not np.issubdtype(getattr(self, name).dtype, np.integer):
                raise TypeError(f"{name} must hold integers; got {getattr(self, name).dtype}.")
        if len(self.grid_shape) != 2 or min(self.grid_shape) < 1:
            raise ParameterError(f"grid_shape={self.grid_shape} must be (n_rows, n_cols) >= 1.")
        if (self.n_objects < 1).any() or (self.n_objects > slots).any():
            bad = int(np.flatnonzero((self.n_objects < 1) | (self.n_objects > slots))[0])
            raise ParameterError(f"n_objects[{bad}]={int(self.n_objects[bad])} must be in "
                                 f"[1, {slots}] (the number of slots).")
        bad = np.flatnonzero((self.targets < 0) | (self.targets >= self.n_objects))
        if bad.size:
            i = int(bad[0])
            raise ParameterError(f"targets[{i}]={int(self.targets[i])} is not an object of trial "
                                 f"{i} (it has {int(self.n_objects[i])} objects); targets are "
                                 "object indices.")
        real = np.arange(slots)[None, :] < self.n_objects[:, None]
        n_rows, n_cols = self.grid_shape
        for name, lim in (("rows", n_rows), ("cols", n_cols)):
            arr = getattr(self, name)
            if ((arr < 0) | (arr >= lim))[real].any():
                raise ParameterError(f"{name} of real objects must lie in [0, {lim}) for the grid "
                                     f"{self.grid_shape}; check grid_shape or the cells.")
        if self.scanpaths is not None:
            self._validate_scanpaths()

    def _validate_scanpaths(self) -> None:
        if len(self.scanpaths) != len(self):
            raise ParameterError(f"scanpaths must have one entry (a list of scanpaths) per trial: "
                                 f"got {len(self.scanpaths)} for {len(self)} trials.")
        for i, paths in enumerate(self.scanpaths):
            if isinstance(paths, np.ndarray | str) or not isinstance(paths, Sequence):
                raise TypeError(f"scanpaths[{i}] must be a list of scanpaths (lists of ints).")
            if len(paths) == 0:
                raise ParameterError(f"scanpaths[{i}] is empty; give each trial at least one "
                                     "human scanpath or leave scanpaths=None.")
            n_obj = int(self.n_objects[i])
            for j, path in enumerate(paths):
                arr = np.asarray(path)
                if arr.ndim != 1 or arr.size == 0:
                    raise ParameterError(f"scanpaths[{i}][{j}] must be a non-empty 1-D sequence of "
                                         "object indices; empty scanpaths cannot be scored.")
                if not np.issubdtype(arr.dtype, np.integer):
                    raise TypeError(f"scanpaths[{i}][{j}] must hold integer object indices; "
                                    f"got {arr.dtype}.")
                if (arr < 0).any() or (arr >= n_obj).any():
                    raise ParameterError(f"scanpaths[{i}][{j}] has indices outside 0..{n_obj - 1} "
                                         f"(trial {i} has {n_obj} objects); scanpaths hold object "
                                         "indices without BOS/EOS/PAD tokens.")


def as_search_trials(trials: Any) -> SearchTrials:
    """``trials`` itself if it is a :class:`SearchTrials`, else one built from its attributes.

    The object needs ``patches``, ``target_patches``, ``rows``, ``cols``,
    ``n_objects``, ``targets``, ``grid_shape`` and optionally ``scanpaths``
    (a split of the synthetic visual-search benchmark has them all).

    Examples
    --------
    >>> from neuroattn.datasets.synthetic.visual_search import make_visual_search
    >>> as_search_trials(make_visual_search(n_train=3, n_val=1, n_test=1).val).n_slots
    24
    >>> as_search_trials(object())
    Traceback (most recent call last):
    ...
    TypeError: trials needs the attributes ['patches', ...
    """
    if isinstance(trials, SearchTrials):
        return trials
    missing = [f for f in _FIELDS if not hasattr(trials, f)]
    if missing:
        raise TypeError(f"trials needs the attributes {missing} (see SearchTrials); got a "
                        f"{type(trials).__name__}.")
    return SearchTrials(**{f: getattr(trials, f) for f in _FIELDS},
                        scanpaths=getattr(trials, "scanpaths", None))


def scanpath_tokens(paths: Sequence[Sequence[int]], n_slots: int) -> torch.Tensor:
    """``[BOS, *path, EOS, PAD...]`` token rows for teacher forcing, ``(len(paths), L + 2)``.

    ``L`` is the longest path; every path ends with EOS (the end of the
    recorded search, whether or not it reached the target).

    Examples
    --------
    >>> scanpath_tokens([[3, 1], [2]], n_slots=4).tolist()
    [[6, 3, 1, 4], [6, 2, 4, 5]]
    """
    voc = vocabulary(n_slots)
    if len(paths) == 0:
        raise ParameterError("paths is empty; pass at least one scanpath.")
    longest = max(len(p) for p in paths)
    out = torch.full((len(paths), longest + 2), voc["pad"], dtype=torch.long)
    out[:, 0] = voc["bos"]
    for k, path in enumerate(paths):
        if len(path) == 0:
            raise ParameterError(f"paths[{k}] is empty; every scanpath has at least one fixation.")
        out[k, 1: len(path) + 1] = torch.as_tensor(list(path), dtype=torch.long)
        out[k, len(path) + 1] = voc["eos"]
    return out
