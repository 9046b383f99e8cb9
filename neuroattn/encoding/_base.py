"""What every encoding estimator shares: scikit-learn conventions and one input check.

Estimators take stimulus features ``X`` and responses ``Y`` as NumPy
arrays, torch tensors, pandas frames or xarray objects (a features store's
``("stimulus", "y", "x", "feature")`` variable, an fMRI store's
``("stimulus", "voxel")`` responses) and return NumPy arrays, so they
drop into scikit-learn pipelines and cross-validation.

Every input goes through :func:`check_input`, which reads xarray objects with
:func:`neuroattn._validation.plain_values` and checks the data with
:func:`sklearn.utils.validation.check_array` (so the messages are
scikit-learn's: "Reshape your data", "Complex data not supported", "Found
array with 0 sample(s)", "Sparse data was passed ... Use '.toarray()'") and
adds what scikit-learn does not know: feature grids of more than two
dimensions, torch tensors on any device, and NaN or Inf named with a fix.
The estimators pass scikit-learn's ``check_estimator``
(``tests/encoding/test_sklearn_conformance.py``).

Examples
--------
>>> import numpy as np
>>> from neuroattn.encoding._base import check_input
>>> check_input(np.ones((2, 3)), "X", ndim=2).dtype
torch.float32
>>> check_input(np.ones(3), "X", ndim=2)
Traceback (most recent call last):
...
ValueError: Expected 2D array, got 1D array instead:
array=[1. 1. 1.].
Reshape your data either using array.reshape(-1, 1) if your data has a single feature or \
array.reshape(1, -1) if it contains a single sample.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_array

from neuroattn._validation import plain_values
from neuroattn.errors import ParameterError

__all__ = ["BaseEncoder", "check_input", "check_n_features", "check_pair", "check_targets"]

_RESHAPE = ("Reshape your data either using array.reshape(-1, 1) if your data has a single "
            "feature or array.reshape(1, -1) if it contains a single sample.")


def _check_shape(shape: tuple[int, ...], name: str, allowed: tuple[int, ...],
                 min_samples: int, by: str) -> None:
    """Number of dimensions, samples and features, in scikit-learn's words where it has them."""
    if len(shape) == 1 and 1 not in allowed:
        raise ParameterError(f"Expected 2D array, got 1D array instead: {name} has shape "
                             f"{shape}.\n{_RESHAPE}")
    if len(shape) not in allowed:
        raise ParameterError(f"{name} must have {' or '.join(map(str, allowed))} dimensions; "
                             f"got shape {shape}.")
    if shape[0] < min_samples:
        raise ParameterError(f"Found array with {shape[0]} sample(s) (shape={shape}) while a "
                             f"minimum of {min_samples} is required{by}.")
    if len(shape) > 1 and 0 in shape[1:]:
        raise ParameterError(f"Found array with 0 feature(s) (shape={shape}) while a minimum "
                             f"of 1 is required{by}.")


def check_input(data: Any, name: str, *, ndim: int | tuple[int, ...],
                device: torch.device | str | None = "cpu",
                dtype: torch.dtype | None = torch.float32,
                estimator: Any = None, min_samples: int = 1) -> torch.Tensor:
    """``data`` (NumPy, torch, xarray, pandas, list) as a float tensor, checked.

    Parameters
    ----------
    data : array-like
        xarray objects are read in their stored dimension order; torch tensors
        stay on their device until moved to ``device``. Sparse input is refused
        (call ``.toarray()``, or ``.to_dense()`` for a torch tensor).
    name : str
        Used in error messages (``"X"``, ``"Y"``).
    ndim : int or tuple of int
        Accepted numbers of dimensions.
    device : str, torch.device or None
        None leaves the tensor where it is (the host for NumPy input).
    dtype : torch.dtype or None
        None keeps float32 and float64 input as they are and makes anything
        else float64 (float32 for half-precision tensors), as scikit-learn does.
    estimator : estimator, optional
        Named in the messages about too few samples.
    min_samples : int
        Fewest stimuli accepted.

    Raises
    ------
    ValueError
        Wrong number of dimensions (a 1-D ``X`` with scikit-learn's "Reshape
        your data" advice), too few samples or features, complex values, NaN
        or Inf.
    TypeError
        Sparse input, or objects that are not numbers.

    Examples
    --------
    >>> import numpy as np, torch
    >>> check_input(torch.ones(2, 3, dtype=torch.float64), "X", ndim=2, dtype=None).dtype
    torch.float64
    >>> check_input(np.array([[1.0, np.nan]]), "X", ndim=2)
    Traceback (most recent call last):
    ...
    neuroattn.errors.ParameterError: X holds NaN or Inf; impute or drop those stimuli first.
    """
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    by = "" if estimator is None else f" by {type(estimator).__name__}"
    data = plain_values(name, data)
    if isinstance(data, torch.Tensor):
        if data.layout != torch.strided:
            raise ParameterError(f"{name} is a sparse torch tensor, but dense data is required; "
                                 f"pass {name}.to_dense().")
        if data.is_complex():
            raise ParameterError(f"Complex data not supported: {name} has dtype {data.dtype}; "
                                 "pass its real part or its magnitude.")
        data = data.detach()
        if data.dtype in (torch.float16, torch.bfloat16):
            data = data.float()
    if isinstance(data, torch.Tensor) and data.device.type != "cpu":
        # Checked where it lies: no copy to the host just to look at it.
        t = data
        _check_shape(tuple(t.shape), name, allowed, min_samples, by)
        if not t.is_floating_point():
            t = t.double()
    else:
        if isinstance(data, torch.Tensor):
            data = data.numpy()
        array = check_array(data, accept_sparse=False, dtype=(np.float64, np.float32),
                            ensure_all_finite=False, ensure_2d=1 not in allowed, allow_nd=True,
                            ensure_min_samples=min_samples, estimator=estimator,
                            input_name=name)
        _check_shape(array.shape, name, allowed, min_samples, by)
        with warnings.catch_warnings():  # read-only input (a memmap) is never written to
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            t = torch.as_tensor(array)
    t = t.to(device=t.device if device is None else device, dtype=dtype or t.dtype)
    if not torch.isfinite(t).all():
        raise ParameterError(f"{name} holds NaN or Inf; impute or drop those "
                             f"{'stimuli' if name.startswith('X') else 'values'} first.")
    return t


def check_targets(estimator: Any, Y: Any, *, dtype: torch.dtype = torch.float32
                  ) -> torch.Tensor:
    """Responses ``Y`` (n_stimuli,) or (n_stimuli, n_targets) as a CPU tensor, checked.

    Examples
    --------
    >>> from neuroattn.encoding._base import check_targets
    >>> check_targets(None, [1, 2, 3]).shape
    torch.Size([3])
    >>> check_targets(BaseEncoder(), None)
    Traceback (most recent call last):
    ...
    neuroattn.errors.ParameterError: BaseEncoder requires y to be passed, but the target y is \
None; pass the responses Y, of shape (n_stimuli,) or (n_stimuli, n_targets).
    """
    if Y is None:
        raise ParameterError(f"{type(estimator).__name__} requires y to be passed, but the "
                             "target y is None; pass the responses Y, of shape (n_stimuli,) "
                             "or (n_stimuli, n_targets).")
    return check_input(Y, "Y", ndim=(1, 2), dtype=dtype)


def check_n_features(estimator: Any, n_features: int, *, reset: bool, note: str = "") -> None:
    """Set ``n_features_in_`` (``reset``) or check ``X`` against it, in scikit-learn's words.

    Examples
    --------
    >>> from neuroattn.encoding._base import BaseEncoder, check_n_features
    >>> enc = BaseEncoder()
    >>> check_n_features(enc, 4, reset=True)
    >>> check_n_features(enc, 3, reset=False)
    Traceback (most recent call last):
    ...
    neuroattn.errors.ParameterError: X has 3 features, but BaseEncoder is expecting 4 features \
as input; pass features with the layout it was fit on.
    """
    if reset:
        estimator.n_features_in_ = int(n_features)
        return
    expected = estimator.n_features_in_
    if n_features != expected:
        raise ParameterError(f"X has {n_features} features, but {type(estimator).__name__} is "
                             f"expecting {expected} features as input{note}; pass features "
                             "with the layout it was fit on.")


def check_pair(X: torch.Tensor, Y: torch.Tensor) -> None:
    """Same number of stimuli in features and responses."""
    if X.shape[0] != Y.shape[0]:
        raise ParameterError(f"X has {X.shape[0]} stimuli but Y has {Y.shape[0]}; they must "
                             "match row for row.")


class BaseEncoder(RegressorMixin, BaseEstimator):
    """Base of the encoders: ``get_params``/``set_params`` from scikit-learn, and a
    ``score`` that is the mean Pearson r over voxels (the field's default, not R²).

    Encoders predict one or many targets (voxels): a 1-D ``Y`` gives 1-D
    predictions, a 2-D ``Y`` 2-D ones, and predictions have the float dtype
    of ``X`` (float32 for float32 input, float64 otherwise), as
    scikit-learn's ``Ridge`` does.
    """

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def _more_tags(self) -> dict[str, Any]:  # scikit-learn < 1.6
        return {"multioutput": True}

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean over voxels of the Pearson r between predicted and measured responses."""
        from neuroattn.encoding.metrics import pearson_r

        return float(np.mean(pearson_r(self.predict(X), y)))
