"""Explicit randomness: one call seeds Python, NumPy and torch.

Examples
--------
>>> from neuroattn.seeding import set_seed
>>> rng = set_seed(0)
>>> float(rng.random()) == float(set_seed(0).random())
True
"""

from __future__ import annotations

import os
import random

import numpy as np

from neuroattn.errors import ParameterError


def set_seed(seed: int, *, deterministic: bool = False) -> np.random.Generator:
    """Seed ``random``, NumPy and torch (all devices) and return a NumPy Generator.

    Parameters
    ----------
    seed : int
        Non-negative seed; record it in the run's config.
    deterministic : bool
        Also ask torch for deterministic kernels (slower; some ops then raise).
    """
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ParameterError(f"seed must be a non-negative int, got {seed!r}.")
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device lazily
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    return np.random.default_rng(seed)
