"""SemSS: pixel lookup convention, agreement with the sequence score on the looked-up labels,
one map per pair or a shared one, the protocol entry point, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuroattn.gaze.metrics import (
    semantic_sequence_score,
    semantic_sequence_scores,
    semantic_symbols,
    sequence_score,
    sequence_score_vs_humans,
    sequence_scores,
)


@pytest.fixture
def label_map():
    """A 7 x 9 panoptic-style map: background 0, a 'person' (1) box and a 'dog' (18) box."""
    labels = np.zeros((7, 9), dtype=np.int32)
    labels[1:4, 1:4] = 1
    labels[3:6, 5:8] = 18
    return labels


def test_semantic_symbols_use_floor_of_x_for_columns_and_y_for_rows(label_map):
    fixations = [[2.9, 1.0], [5.0, 3.0], [8.99, 6.99], [0.0, 0.0], [4.5, 2.5]]
    np.testing.assert_array_equal(semantic_symbols(fixations, label_map), [1, 18, 0, 0, 0])
    # x = 5, y = 3.5 is row 3, col 5 (the dog); read the other way round it would be background
    assert semantic_symbols([[5.0, 3.5]], label_map).tolist() == [18] and label_map[5, 3] == 0
    assert semantic_symbols([[6.0, 4.0, 0.3]], label_map).tolist() == [18]  # durations ignored


def test_semss_hand_computed(label_map):
    a = [[2, 2], [6, 4], [0, 0]]            # person, dog, background
    b = [[6, 5], [1, 1], [3, 3], [8, 0]]    # dog, person, person, background
    # labels 1 18 0 vs 18 1 1 0: longest common subsequence 2 (e.g. 1 0) over 4
    assert semantic_sequence_score(a, b, label_map) == 0.5
    assert semantic_sequence_score(a, a, label_map) == 1.0
    assert semantic_sequence_score(b, a, label_map) == 0.5


def test_semss_equals_sequence_score_of_the_labels(rng, label_map):
    h, w = label_map.shape
    a = [np.column_stack([rng.uniform(0, w, n), rng.uniform(0, h, n)])
         for n in rng.integers(1, 12, size=50)]
    b = [np.column_stack([rng.uniform(0, w, n), rng.uniform(0, h, n)])
         for n in rng.integers(1, 12, size=50)]
    expected = sequence_scores([semantic_symbols(x, label_map) for x in a],
                               [semantic_symbols(y, label_map) for y in b])
    np.testing.assert_array_equal(semantic_sequence_scores(a, b, label_map), expected)
    stacked = np.stack([label_map] * 50)
    np.testing.assert_array_equal(semantic_sequence_scores(a, b, stacked), expected)
    assert semantic_sequence_score(a[3], b[3], torch.from_numpy(label_map)) == expected[3]


def test_semss_with_one_map_per_pair(label_map):
    other = np.full((4, 4), 5)              # a different image, a different size
    a, b = [[1.5, 1.5], [3.5, 3.5]], [[3.5, 3.5]]
    got = semantic_sequence_scores([a, a], [b, b], [label_map, other])
    # first image: labels 1 1 vs 1 -> 1/2; second image: 5 5 vs 5 -> 1/2
    np.testing.assert_array_equal(got, [0.5, 0.5])
    got = semantic_sequence_scores([a, [[0.5, 0.5]]], [[[6.5, 4.5]], [[0.5, 0.5]]],
                                   [label_map, other])
    np.testing.assert_array_equal(got, [sequence_score([1, 1], [18]), 1.0])


def test_semantic_protocol_entry_point(label_map):
    humans = [[[2, 2], [6, 4]], [[6, 5], [2, 3], [0, 0]]]      # 1 18 and 18 1 0
    predicted = [[[1, 1], [7, 4], [8, 6]]]                     # 1 18 0
    got = sequence_score_vs_humans(predicted, humans, symbols="semantic", label_map=label_map)
    assert got == pytest.approx(np.mean([sequence_score([1, 18, 0], [1, 18]),
                                         sequence_score([1, 18, 0], [18, 1, 0])]))
    with pytest.raises(ValueError, match="needs label_map"):
        sequence_score_vs_humans(predicted, humans, symbols="semantic")


def test_semantic_errors(label_map):
    with pytest.raises(ValueError, match="outside the 7 x 9"):
        semantic_symbols([[9.0, 1.0]], label_map)          # x == width is off the image
    with pytest.raises(ValueError, match="outside"):
        semantic_symbols([[-0.1, 1.0]], label_map)
    with pytest.raises(ValueError, match="non-integer"):
        semantic_symbols([[1, 1]], label_map + 0.5)
    with pytest.raises(ValueError, match="NaN"):
        semantic_symbols([[1, 1]], np.full((3, 3), np.nan))
    with pytest.raises(ValueError, match=r"\(height, width\)"):
        semantic_symbols([[1, 1]], np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        semantic_symbols([[np.nan, 1]], label_map)
    with pytest.raises(ValueError, match="empty scanpath"):
        semantic_sequence_score(np.zeros((0, 2)), [[1, 1]], label_map)
    with pytest.raises(ValueError, match="2 maps for 3 pairs"):
        semantic_sequence_scores([[[1, 1]]] * 3, [[[1, 1]]] * 3, [label_map, label_map])
    with pytest.raises(ValueError, match="same number"):
        semantic_sequence_scores([[[1, 1]]] * 2, [[[1, 1]]], label_map)
    with pytest.raises(ValueError, match="n_pairs, height, width"):
        semantic_sequence_scores([[[1, 1]]], [[[1, 1]]], np.zeros((1, 1, 3, 3), int))
    assert semantic_sequence_scores([], [], label_map).shape == (0,)
