"""Tests of fixation-to-object assignment and object scanpaths.

The module under test is neuroattn.datasets.fixation_objects.
"""

from __future__ import annotations

import numpy as np
import pytest

from neuroattn.datasets import fixation_objects as objects_module
from neuroattn.datasets.fixation_objects import (
    as_xyxy,
    assign_objects,
    box_centres,
    object_scanpath,
)

# A 2 x 3 shelf with gaps between the boxes (x0, y0, x1, y1), deliberately unequal sizes.
SHELF = np.array([
    [0, 0, 40, 60], [50, 0, 80, 60], [90, 0, 150, 60],
    [0, 70, 40, 100], [50, 70, 80, 100], [90, 70, 150, 100],
], dtype=float)


def _reference(x, y, boxes, overlap="first", max_distance=None):
    """A plain loop over fixations and boxes, written from the rule as stated."""
    boxes = np.asarray(boxes, float)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    out = []
    for px, py in zip(x, y, strict=True):
        inside = [i for i, (x0, y0, x1, y1) in enumerate(boxes)
                  if x0 <= px <= x1 and y0 <= py <= y1]
        dist = [float(np.hypot(px - cx, py - cy)) for cx, cy in centres]
        if inside:
            if overlap == "first":
                out.append(inside[0])
            elif overlap == "smallest":
                out.append(min(inside, key=lambda i: (area[i], i)))
            else:
                out.append(min(inside, key=lambda i: (dist[i], i)))
        else:
            best = min(range(len(boxes)), key=lambda i: (dist[i], i))
            out.append(-1 if max_distance is not None and dist[best] > max_distance else best)
    return out


def test_inside_edges_and_gaps_on_a_shelf():
    x = [20, 65, 149, 0, 80, 150, 45, 85, 42, 300]
    y = [30, 59, 1, 100, 70, 100, 30, 65, 20, 200]
    # inside each box; edges count as inside; the gap points go to the nearest centre
    got = assign_objects(x, y, SHELF)
    assert got.tolist() == [0, 1, 2, 3, 4, 5, 1, 4, 0, 5]
    assert got.dtype == np.int64
    assert got.tolist() == _reference(x, y, SHELF)


def test_max_distance_only_affects_fixations_outside_every_box():
    x, y = [20, 300, 45], [30, 200, 65]
    # (45, 65) is in the gap, 28.3 px from the centre (65, 85) of box 4, its nearest
    assert assign_objects(x, y, SHELF, max_distance=30).tolist() == [0, -1, 4]
    assert assign_objects(x, y, SHELF, max_distance=28).tolist() == [0, -1, -1]
    assert assign_objects([20], [30], SHELF, max_distance=0).tolist() == [0]


def test_xywh_equals_xyxy():
    xywh = np.c_[SHELF[:, :2], SHELF[:, 2:] - SHELF[:, :2]]
    np.testing.assert_array_equal(as_xyxy(xywh, "xywh"), SHELF)
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-20, 170, 200), rng.uniform(-20, 120, 200)
    np.testing.assert_array_equal(assign_objects(x, y, xywh, box_format="xywh"),
                                  assign_objects(x, y, SHELF))
    np.testing.assert_allclose(box_centres(xywh, "xywh")[2], [120, 30])


def test_overlap_rules_on_nested_and_crossing_boxes():
    boxes = [[0, 0, 100, 100], [40, 40, 60, 60], [50, 50, 110, 110]]
    x, y = [55, 95, 105, 120], [55, 95, 105, 5]
    assert assign_objects(x, y, boxes, overlap="first").tolist() == [0, 0, 2, 0]
    assert assign_objects(x, y, boxes, overlap="smallest").tolist() == [1, 2, 2, 0]
    # (55, 55) is 7.1 px from the centres of boxes 0 and 1 (a tie: the lower index wins);
    # (95, 95) is 63.6 px from box 0's centre and 21.2 px from box 2's
    assert assign_objects(x, y, boxes, overlap="nearest").tolist() == [0, 2, 2, 0]


@pytest.mark.parametrize("overlap", ["first", "smallest", "nearest"])
def test_matches_the_loop_on_random_overlapping_layouts(overlap):
    rng = np.random.default_rng(7)
    for i in range(20):
        n = int(rng.integers(1, 9))
        x0, y0 = rng.uniform(0, 80, n), rng.uniform(0, 60, n)
        boxes = np.c_[x0, y0, x0 + rng.uniform(1, 40, n), y0 + rng.uniform(1, 30, n)]
        x, y = rng.uniform(-10, 130, 50), rng.uniform(-10, 100, 50)
        max_d = 20.0 if i % 2 else None
        assert assign_objects(x, y, boxes, overlap=overlap, max_distance=max_d).tolist() == \
            _reference(x, y, boxes, overlap, max_d)


def test_blocks_give_the_same_answer(monkeypatch):
    rng = np.random.default_rng(1)
    x, y = rng.uniform(-10, 160, 1001), rng.uniform(-10, 110, 1001)
    whole = assign_objects(x, y, SHELF)
    monkeypatch.setattr(objects_module, "_BLOCK_ELEMENTS", 37)  # 6 fixations per block
    np.testing.assert_array_equal(assign_objects(x, y, SHELF), whole)


@pytest.mark.parametrize(("boxes", "kwargs", "match"), [
    ([[0, 0, 1]], {}, r"shape \(n_boxes, 4\)"),
    (np.zeros((0, 4)), {}, "n_boxes >= 1"),
    ([[0, 0, np.nan, 1]], {}, "box 0 holds NaN"),
    ([[0, 0, 5, 5], [10, 10, 4, 20]], {}, "box 1 .* x1 < x0 .* box_format='xywh'"),
    ([[0, 0, -2, 3]], {"box_format": "xywh"}, "negative width"),
    ([[0, 0, 1, 1]], {"box_format": "cxcywh"}, "box_format='cxcywh'"),
    ([[0, 0, 1, 1]], {"overlap": "largest"}, "overlap='largest'"),
    ([[0, 0, 1, 1]], {"max_distance": -1.0}, "max_distance=-1.0"),
])
def test_bad_boxes_and_options(boxes, kwargs, match):
    with pytest.raises(ValueError, match=match):
        assign_objects([0.5], [0.5], boxes, **kwargs)


def test_bad_fixations():
    with pytest.raises(ValueError, match="different lengths"):
        assign_objects([1, 2], [1], SHELF)
    with pytest.raises(ValueError, match="fixation 1 has a non-finite position"):
        assign_objects([1, np.nan], [1, 2], SHELF)
    with pytest.raises(ValueError, match="must be 1-D"):
        assign_objects([[1, 2]], [[1, 2]], SHELF)
    assert assign_objects([], [], SHELF).tolist() == []


def test_object_scanpath_merges_refixations_and_sums_durations():
    path = object_scanpath([2, 2, -1, 2, 5, 5, 0, -1], [1, 2, 4, 8, 16, 32, 64, 128])
    assert path.objects.tolist() == [2, 5, 0]
    assert path.durations.tolist() == [11, 48, 64]  # the -1 fixation (4) is dropped first
    assert path.n_fixations.tolist() == [3, 2, 1]
    kept = object_scanpath([2, 2, -1, 2], merge_repeats=False)
    assert kept.objects.tolist() == [2, 2, 2] and kept.durations is None
    assert kept.n_fixations.tolist() == [1, 1, 1]
    raw = object_scanpath([2, -1, -1, 2], drop_unassigned=False)
    assert raw.objects.tolist() == [2, -1, 2] and raw.n_fixations.tolist() == [1, 2, 1]
    empty = object_scanpath([], [])
    assert empty.objects.size == 0 and empty.durations.size == 0


def test_object_scanpath_of_assigned_fixations():
    x = [20, 25, 65, 45, 30]
    y = [30, 20, 30, 30, 80]
    path = object_scanpath(assign_objects(x, y, SHELF, max_distance=10))
    assert path.objects.tolist() == [0, 1, 3]  # (45, 30) is 20 px from any centre


def test_object_scanpath_errors():
    with pytest.raises(ValueError, match="one duration per fixation"):
        object_scanpath([1, 2], [0.1])
    with pytest.raises(ValueError, match=">= 0, or -1"):
        object_scanpath([1, -3])
    with pytest.raises(TypeError, match="integer object indices"):
        object_scanpath([1.5, 2.0])
    with pytest.raises(ValueError, match="must be 1-D"):
        object_scanpath([[1, 2]])
