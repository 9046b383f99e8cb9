"""OAT's behavioural measures of visual search and their delta between model and humans.

A scanpath here is the sequence of fixated object indices, in order, with the
target last when it was found, and no BOS/EOS tokens. It is split into runs of
identical consecutive objects; with ``n = len(scanpath)``:

* ``correct``: 1.0 when the last fixation is on the target, else 0.0;
* ``length``: ``n``;
* ``search``: the number of runs on objects not fixated before, divided by ``n``;
* ``refix``: ``sum(run_length - 1)``, the fixations that stay on the same
  object, divided by ``n``;
* ``revisit``: the number of runs on objects already fixated in an earlier
  run, divided by ``n``.

Every fixation is either the first of a run (new object or revisit) or a
refixation, so ``search + refix + revisit = 1`` exactly. These are the
measures of OAT's evaluation code (Fang et al., ECCV 2024).

Examples
--------
>>> from neuroattn.gaze.metrics.behavioural import behaviour
>>> behaviour([4, 4, 7, 4, 9], target=9)
{'correct': 1.0, 'length': 5.0, 'search': 0.6, 'refix': 0.2, 'revisit': 0.2}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from neuroattn.errors import ParameterError
from neuroattn.gaze.metrics.scanpaths import as_list, as_symbols

__all__ = ["BEHAVIOUR_KEYS", "behaviour", "behaviour_summary", "behavioural_delta", "behaviours"]

#: The five behavioural quantities, in the order OAT reports them.
BEHAVIOUR_KEYS = ("correct", "length", "search", "refix", "revisit")


def _as_target(target: object, name: str) -> int:
    if isinstance(target, (bool, np.bool_)):
        raise TypeError(f"{name} must be an object index (int); got a bool.")
    try:
        value = int(target)  # type: ignore[call-overload]
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be an object index (int); got {target!r}.") from err
    if value != target or value < 0:
        raise ParameterError(f"{name} must be a non-negative integer object index; got {target!r}.")
    return value


def behaviours(scanpaths: Sequence[Sequence[int]], targets: Sequence[int]
               ) -> dict[str, np.ndarray]:
    """The behavioural measures of many trials, one array per quantity.

    Vectorised over trials: the scanpaths are padded into one array, runs are
    found by comparing neighbours, and "fixated before" by a stable sort of
    each row (the first occurrence of each object).

    Parameters
    ----------
    scanpaths : list of 1-D sequences of non-negative ints
        One non-empty scanpath of object indices per trial.
    targets : sequence of int
        The target's object index per trial.

    Returns
    -------
    dict of str to ndarray of shape (n_trials,)
        Keys :data:`BEHAVIOUR_KEYS`, float64.

    Examples
    --------
    >>> out = behaviours([[0, 1, 1, 2], [3, 5, 3]], targets=[2, 5])
    >>> out["correct"], out["refix"], out["revisit"]
    (array([1., 0.]), array([0.25, 0.  ]), array([0.        , 0.33333333]))
    """
    paths = [as_symbols(p, f"scanpaths[{k}]") for k, p in enumerate(as_list(scanpaths,
                                                                            "scanpaths"))]
    tgt_in = as_list(targets, "targets")
    if len(tgt_in) != len(paths):
        raise ParameterError(f"scanpaths and targets must have one entry per trial; got "
                             f"{len(paths)} scanpaths and {len(tgt_in)} targets.")
    tgt = np.array([_as_target(t, f"targets[{k}]") for k, t in enumerate(tgt_in)],
                   dtype=np.int64)
    for k, p in enumerate(paths):
        if (p < 0).any():
            raise ParameterError(f"scanpaths[{k}] holds negative values; scanpaths are object "
                                 "indices >= 0 without padding, BOS or EOS tokens.")
    n = len(paths)
    if n == 0:
        return {key: np.zeros(0) for key in BEHAVIOUR_KEYS}
    lengths = np.array([p.size for p in paths], dtype=np.int64)
    padded = np.full((n, int(lengths.max())), -1, dtype=np.int64)
    for k, p in enumerate(paths):
        padded[k, : p.size] = p
    valid = np.arange(padded.shape[1]) < lengths[:, None]
    run_start = np.ones_like(valid)
    run_start[:, 1:] = padded[:, 1:] != padded[:, :-1]
    order = np.argsort(padded, axis=1, kind="stable")
    in_order = np.take_along_axis(padded, order, axis=1)
    first_sorted = np.ones_like(valid)
    first_sorted[:, 1:] = in_order[:, 1:] != in_order[:, :-1]
    first_visit = np.empty_like(valid)
    np.put_along_axis(first_visit, order, first_sorted, axis=1)
    length = lengths.astype(np.float64)
    last = padded[np.arange(n), lengths - 1]
    return {
        "correct": (last == tgt).astype(np.float64),
        "length": length,
        "search": (run_start & first_visit & valid).sum(axis=1) / length,
        "refix": (~run_start & valid).sum(axis=1) / length,
        "revisit": (run_start & ~first_visit & valid).sum(axis=1) / length,
    }


def behaviour(scanpath: Sequence[int], target: int) -> dict[str, float]:
    """The behavioural measures of one trial (the batch of one of :func:`behaviours`).

    Parameters
    ----------
    scanpath : 1-D sequence of non-negative ints
        The fixated object indices in order (no BOS/EOS tokens).
    target : int
        The target's object index.

    Returns
    -------
    dict of str to float
        ``correct`` (1.0 if the last fixation is the target), ``length``,
        ``search``, ``refix`` and ``revisit`` (fractions of the length that
        sum to 1).

    Examples
    --------
    >>> behaviour([2, 5, 5, 5], target=3)
    {'correct': 0.0, 'length': 4.0, 'search': 0.5, 'refix': 0.5, 'revisit': 0.0}
    """
    path = as_symbols(scanpath, "scanpath")
    values = behaviours([path], [_as_target(target, "target")])
    return {key: float(values[key][0]) for key in BEHAVIOUR_KEYS}


def behaviour_summary(scanpaths: Sequence[Sequence[int]], targets: Sequence[int]
                      ) -> dict[str, float]:
    """The mean of each behavioural measure over trials.

    ``correct`` becomes the fraction of trials whose scanpath ends on the
    target, ``length`` the mean scanpath length, and ``search``, ``refix``
    and ``revisit`` the means of the per-trial fractions (each trial weighs
    the same, whatever its length, as in OAT).

    Parameters
    ----------
    scanpaths : list of 1-D sequences of non-negative ints
        One non-empty scanpath of object indices per trial (at least one trial).
    targets : sequence of int
        The target's object index per trial.

    Returns
    -------
    dict of str to float
        Keys :data:`BEHAVIOUR_KEYS`.

    Examples
    --------
    >>> behaviour_summary([[0, 1, 1, 2], [3, 5, 3]], targets=[2, 5])
    {'correct': 0.5, 'length': 3.5, 'search': 0.7083333333333333, 'refix': 0.125, \
'revisit': 0.16666666666666666}
    """
    values = behaviours(scanpaths, targets)
    if values["length"].size == 0:
        raise ParameterError("scanpaths is empty; a summary needs at least one trial.")
    return {key: float(values[key].mean()) for key in BEHAVIOUR_KEYS}


def behavioural_delta(model: Mapping[str, float], human: Mapping[str, float]) -> float:
    """OAT's behavioural delta: the mean relative deviation of the model from humans.

    ``delta = mean over k in BEHAVIOUR_KEYS of |model[k] - human[k]| / human[k]``,
    computed on two :func:`behaviour_summary` outputs. Where a human value is 0
    (for instance no refixations or revisits in deterministic synthetic data)
    the relative deviation is undefined; that term is then the absolute
    deviation ``|model[k] - human[k]|``, so it is 0 when the model matches and
    grows with the model's rate otherwise. Keys other than the five are
    ignored. Lower is better; 0 means identical behaviour.

    Parameters
    ----------
    model, human : mapping of str to float
        Summaries with (at least) the keys :data:`BEHAVIOUR_KEYS`.

    Returns
    -------
    float

    Examples
    --------
    >>> human = {"correct": 1.0, "length": 4.0, "search": 0.5, "refix": 0.25, "revisit": 0.25}
    >>> model = {"correct": 0.5, "length": 5.0, "search": 0.5, "refix": 0.25, "revisit": 0.25}
    >>> behavioural_delta(model, human)  # (0.5/1 + 1/4) / 5
    0.15
    >>> round(behavioural_delta(model | {"revisit": 0.1}, human | {"revisit": 0.0}), 6)
    0.17
    """
    terms = []
    for name, summary in (("model", model), ("human", human)):
        if not isinstance(summary, Mapping):
            raise TypeError(f"{name} must be a mapping such as behaviour_summary() returns; "
                            f"got {type(summary).__name__}.")
        missing = [k for k in BEHAVIOUR_KEYS if k not in summary]
        if missing:
            raise ParameterError(f"{name} lacks the behavioural keys {missing}; pass the output "
                                 "of behaviour_summary().")
    for key in BEHAVIOUR_KEYS:
        m, h = float(model[key]), float(human[key])
        if not (np.isfinite(m) and np.isfinite(h)):
            raise ParameterError(f"{key!r} is not finite (model {m}, human {h}).")
        if h < 0 or m < 0:
            raise ParameterError(f"{key!r} is negative (model {m}, human {h}); behavioural "
                                 "measures are counts and fractions >= 0.")
        diff = abs(m - h)
        terms.append(diff / h if h > 0 else diff)
    return float(np.mean(terms))
