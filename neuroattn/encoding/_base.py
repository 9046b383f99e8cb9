"""What every encoding estimator shares: scikit-learn conventions and input conversion.

Estimators take stimulus features ``X`` and responses ``Y`` as NumPy
arrays, torch tensors or xarray objects (a features store's
``("stimulus", "y", "x", "feature")`` variable, an fMRI store's
``("stimulus", "voxel")`` responses) and return NumPy arrays, so they
drop into scikit-learn pipelines and cross-validation.

Examples
--------
>>> import numpy as np
>>> from neuroattn.encoding._base import as_tensor
>>> as_tensor(np.ones((2, 3)), "X", ndim=2).dtype
torch.float32
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin


def as_tensor(data: Any, name: str, *, ndim: int | tuple[int, ...],
              device: torch.device | str = "cpu",
              dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``data`` (NumPy, torch, xarray, list) as a float tensor, checked for shape and NaN.

    Parameters
    ----------
    data : array-like
        xarray objects are read in their stored dimension order.
    name : str
        Used in error messages (``"X"``, ``"Y"``).
    ndim : int or tuple of int
        Accepted numbers of dimensions.
    """
    if hasattr(data, "dims") and hasattr(data, "values"):  # xarray.DataArray
        data = data.values
    elif hasattr(data, "data_vars"):  # xarray.Dataset: its one data variable
        names = list(data.data_vars)
        if len(names) != 1:
            raise ValueError(f"{name} is an xarray.Dataset with variables {names}; pass the "
                             f"one to use, e.g. ds[{names[0]!r}].")
        data = data[names[0]].values
    t = torch.as_tensor(data).to(device=device, dtype=dtype)
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if t.ndim not in allowed:
        raise ValueError(f"{name} must have {' or '.join(map(str, allowed))} dimensions; "
                         f"got shape {tuple(t.shape)}.")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} holds NaN or Inf; impute or drop those "
                         f"{'stimuli' if name == 'X' else 'values'} first.")
    return t


def check_pair(X: torch.Tensor, Y: torch.Tensor) -> None:
    """Same number of stimuli in features and responses."""
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} stimuli but Y has {Y.shape[0]}; they must "
                         "match row for row.")


class BaseEncoder(RegressorMixin, BaseEstimator):
    """Base of the encoders: ``get_params``/``set_params`` from scikit-learn, and a
    ``score`` that is the mean Pearson r over voxels (the field's default, not R²)."""

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean over voxels of the Pearson r between predicted and measured responses."""
        from neuroattn.encoding.metrics import pearson_r

        return float(np.mean(pearson_r(self.predict(X), y)))
