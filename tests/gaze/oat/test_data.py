"""Tests of OAT's trial container and token helpers (neuroattn.gaze.oat.data)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuroattn.datasets.synthetic import make_visual_search
from neuroattn.gaze.oat import SearchTrials, as_search_trials, scanpath_tokens, vocabulary


@pytest.fixture(scope="module")
def split():
    return make_visual_search(n_rows=3, n_cols=5, patch_size=(12, 10), min_objects=6,
                              n_train=5, n_val=1, n_test=1, n_subjects=3, seed=4).train


def _arrays(n=2, p=4, h=8, w=9):
    rng = np.random.default_rng(0)
    return dict(patches=rng.integers(0, 255, (n, p, h, w, 3), dtype=np.uint8),
                target_patches=rng.integers(0, 255, (n, h, w, 3), dtype=np.uint8),
                rows=np.array([[0, 0, 1, 1]] * n), cols=np.array([[0, 1, 0, 1]] * n),
                n_objects=np.array([4, 3]), targets=np.array([1, 2]), grid_shape=(2, 2),
                scanpaths=[[[0, 1]], [[2], [0, 0, 2]]])


def test_from_a_benchmark_split(split):
    trials = as_search_trials(split)
    assert as_search_trials(trials) is trials
    assert len(trials) == 5 and trials.n_slots == 15 and trials.patch_size == (12, 10)
    assert trials.human_lengths().shape == (15,)
    sub = trials.subset([4, 0])
    assert len(sub) == 2 and sub.scanpaths[0] == trials.scanpaths[4]
    np.testing.assert_array_equal(sub.patches[1], trials.patches[0])


def test_inputs_pad_and_mask(split):
    trials = as_search_trials(split)
    x = trials.inputs([0, 2], n_slots=17)
    assert x.patches.shape == (2, 17, 12, 10, 3) and x.patches.dtype == torch.uint8
    assert x.rows.dtype == torch.int64 and x.object_mask.dtype == torch.bool
    n0 = int(trials.n_objects[0])
    assert x.object_mask[0].sum() == n0 and not x.object_mask[0, n0:].any()
    assert (x.rows[0, n0:] == 0).all() and (x.patches[0, n0:] == 0).all()
    assert x.target.tolist() == [int(trials.targets[0]), int(trials.targets[2])]
    assert x.batch_size == 2
    assert x.select(torch.tensor([1, 1, 0])).target.tolist() == [x.target[1], x.target[1],
                                                                x.target[0]]
    with pytest.raises(ValueError, match="smaller"):
        trials.inputs([0], n_slots=10)


def test_vocabulary_and_tokens():
    assert vocabulary(4) == {"eos": 4, "pad": 5, "bos": 6}
    tokens = scanpath_tokens([[0, 3, 3], [1]], 4)
    assert tokens.tolist() == [[6, 0, 3, 3, 4], [6, 1, 4, 5, 5]]
    with pytest.raises(ValueError, match="empty"):
        scanpath_tokens([[1], []], 4)
    with pytest.raises(ValueError, match="empty"):
        scanpath_tokens([], 4)


def test_float_patches_are_accepted():
    a = _arrays()
    a["patches"] = a["patches"] / 255.0
    a["target_patches"] = a["target_patches"] / 255.0
    trials = SearchTrials(**a)
    assert trials.inputs([0]).patches.dtype == torch.float64


@pytest.mark.parametrize("change, error, match", [
    (dict(patches=np.zeros((2, 4, 8, 9))), ValueError, "channels last"),
    (dict(target_patches=np.zeros((2, 8, 8, 3), np.uint8)), ValueError, "target_patches"),
    (dict(patches=np.full((2, 4, 8, 9, 3), np.nan)), ValueError, "NaN"),
    (dict(patches=np.full((2, 4, 8, 9, 3), 2.0), target_patches=np.ones((2, 8, 9, 3))),
     ValueError, r"\[0, 1\]"),
    (dict(patches=np.zeros((2, 4, 8, 9, 3), np.int32)), TypeError, "uint8 or float"),
    (dict(rows=np.zeros((2, 3), int)), ValueError, "rows"),
    (dict(rows=np.full((2, 4), 0.5)), TypeError, "integers"),
    (dict(n_objects=np.array([4, 0])), ValueError, r"n_objects\[1\]"),
    (dict(targets=np.array([1, 3])), ValueError, r"targets\[1\]=3"),
    (dict(cols=np.array([[0, 1, 0, 2]] * 2)), ValueError, "cols of real objects"),
    (dict(grid_shape=(2, 0)), ValueError, "grid_shape"),
    (dict(scanpaths=[[[0]]]), ValueError, "one entry"),
    (dict(scanpaths=[[[0]], []]), ValueError, "at least one"),
    (dict(scanpaths=[[[0]], [[]]]), ValueError, "non-empty"),
    (dict(scanpaths=[[[0]], [[3]]]), ValueError, "outside 0..2"),
    (dict(scanpaths=[[[0]], [[1.5]]]), TypeError, "integer"),
    (dict(scanpaths=[[[0]], "ab"]), TypeError, "list of scanpaths"),
])
def test_validation(change, error, match):
    with pytest.raises(error, match=match):
        SearchTrials(**{**_arrays(), **change})


def test_padding_content_is_not_validated():
    a = _arrays()
    a["cols"] = np.array([[0, 1, 0, 1], [0, 1, 0, 99]])  # slot 3 of trial 1 is padding
    assert SearchTrials(**a).inputs([1]).cols[0, 3] == 0


def test_missing_attributes_and_scanpaths():
    with pytest.raises(TypeError, match="attributes"):
        as_search_trials(object())
    a = _arrays()
    a.pop("scanpaths")
    with pytest.raises(ValueError, match="no human scanpaths"):
        SearchTrials(**a).human_lengths()
