"""as_array and as_tensor: every input form users hold, one exception and message style."""

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

from neuroattn._validation import as_array, as_tensor, plain_values
from neuroattn.errors import ParameterError

FORMS = {
    "list": lambda a: a.tolist(),
    "numpy": lambda a: a,
    "torch": lambda a: torch.from_numpy(a),
    "torch bf16": lambda a: torch.from_numpy(a).bfloat16(),
    "xarray": lambda a: xr.DataArray(a, dims=("t", "c")),
    "dataset": lambda a: xr.Dataset({"x": (("t", "c"), a)}),
    "pandas": lambda a: pd.DataFrame(a),
}


@pytest.mark.parametrize("form", FORMS)
def test_every_form_gives_the_same_values(form):
    data = np.array([[0.5, 1.0], [2.0, -3.0]])
    np.testing.assert_array_equal(as_array("x", FORMS[form](data), ndim=2), data)
    tensor = as_tensor("x", FORMS[form](data), ndim=2, dtype=torch.float64)
    assert tensor.dtype == torch.float64
    np.testing.assert_array_equal(tensor.numpy(), data)


def test_a_tensor_keeps_its_device_and_booleans_and_integers_pass():
    t = torch.ones(3)
    assert as_tensor("x", t).device == t.device
    assert as_array("mask", [True, False], dtype=bool).tolist() == [True, False]
    assert as_tensor("labels", np.array([2, 1]), dtype=torch.long).tolist() == [2, 1]


@pytest.mark.parametrize("value, match", [
    (["a", "b"], r"x must hold real numbers; got dtype <U1"),
    (pd.Series(["1", "2.5"]), r"x must hold real numbers; got text \(Series\)"),
    (np.array([1 + 2j]), r"x must hold real numbers; got dtype complex128"),
    ([[1.0], [2.0, 3.0]], r"x must hold numbers"),
    ([1.0, np.nan, np.inf], r"x holds 2 NaN or infinite value\(s\); drop or impute them"),
    (torch.tensor([np.nan]), r"x holds 1 NaN or infinite value\(s\)"),
    (np.zeros((2, 0)), r"x is empty \(shape \(2, 0\)\)"),
    (np.zeros((2, 2, 2)), r"x must be 1-D or 2-D; got shape \(2, 2, 2\); reshape it"),
    (xr.Dataset({"u": ("t", [1]), "v": ("t", [2])}), r"pass the one to use, such as x\['u'\]"),
])
def test_each_failure_is_a_parameter_error_naming_the_fix(value, match):
    with pytest.raises(ParameterError, match=match):
        as_array("x", value, ndim=(1, 2), allow_empty=False)
    with pytest.raises(ParameterError, match=match.replace("must hold numbers", "must hold")):
        as_tensor("x", value, ndim=(1, 2), allow_empty=False)


def test_nan_is_refused_before_an_integer_cast_and_allowed_on_request():
    with pytest.raises(ParameterError, match="NaN"):
        as_tensor("labels", [1.0, np.nan], dtype=torch.long)
    with pytest.raises(ParameterError, match="NaN"):
        as_array("labels", [1.0, np.nan], dtype=np.int64, finite=False)
    assert np.isnan(as_array("scores", [np.nan], finite=False)).all()


def test_an_array_of_the_right_dtype_is_not_copied():
    images = np.zeros((4, 3), np.float32)
    assert np.shares_memory(as_array("images", images, dtype=np.float32), images)


def test_plain_values_leaves_arrays_and_tensors_alone():
    t, a = torch.ones(2), np.ones(2)
    assert plain_values("x", t) is t and plain_values("x", a) is a


def test_dtype_none_keeps_the_inputs_type_and_still_refuses_text():
    assert as_array("mask", np.array([True, False]), dtype=None).dtype == bool
    assert as_array("symbols", torch.tensor([3, 1]), dtype=None).dtype == np.int64
    assert as_array("x", torch.ones(2, dtype=torch.bfloat16), dtype=None).dtype == np.float32
    with pytest.raises(ParameterError, match="pass integers"):
        as_array("path", ["a"], dtype=None, hint="pass integers")
