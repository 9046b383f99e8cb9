"""TB-Shapes: individuals, twins, hidden and memory-only labels, geometry, splits."""

from __future__ import annotations

import numpy as np
import pytest

from neuroattn.datasets.synthetic.tb_shapes import (
    LABELS,
    PREDICATES,
    SHAPES,
    TBShapesConfig,
    make_tb_shapes,
)


@pytest.fixture(scope="module")
def world():
    return make_tb_shapes(TBShapesConfig.ci())


def _look(world, ind):
    return tuple(int(world.attributes[g][ind]) for g in ("shape", "colour", "size"))


def test_shapes_and_ranges(world):
    n, s = 200, 40
    assert world.train.images.shape == (n, 3, s, s)
    assert world.train.images.dtype == np.float32
    assert 0.0 <= world.train.images.min() and world.train.images.max() <= 1.0
    counts = (world.train.individuals >= 0).sum(1)
    assert counts.min() >= 2 and counts.max() <= 4
    for group, values in LABELS.items():
        assert world.attributes[group].shape == (32 + 8,)
        assert set(world.attributes[group]) <= set(range(len(values)))
    assert world.group_sizes() == {"time": 200, "entity": 32, "shape": 6, "parent": 2,
                                   "colour": 6, "size": 2, "age": 2, "dangerous": 2,
                                   "predicate": len(PREDICATES)}


def test_twins_share_every_visual_attribute_and_nobody_else_does(world):
    assert world.twins.shape == (4, 2) and len(set(world.twins.ravel())) == 8
    for a, b in world.twins:
        assert _look(world, a) == _look(world, b)
    looks = [_look(world, i) for i in range(world.n_individuals)]
    others = [looks[i] for i in np.flatnonzero(~world.is_twin())]
    assert len(set(others)) == len(others) == 24
    assert not set(others) & {looks[a] for a, _ in world.twins}
    novel = [_look(world, i) for i in range(32, 40)]
    assert len(set(novel)) == 8 and not set(novel) & set(looks)  # never-seen combinations


def test_derived_labels_follow_the_shape(world):
    shape = world.attributes["shape"]
    round_ = np.isin(shape, [SHAPES.index("disc"), SHAPES.index("ring")])
    np.testing.assert_array_equal(world.attributes["parent"], (~round_).astype(int))
    sharp = np.isin(shape, [SHAPES.index("triangle"), SHAPES.index("diamond")])
    np.testing.assert_array_equal(world.attributes["dangerous"], sharp.astype(int))


def test_friend_graph_has_fixed_out_degree_and_no_self_loops(world):
    subj, obj = world.friends.T
    assert np.bincount(subj, minlength=32).tolist() == [2] * 32
    assert (subj != obj).all() and len(np.unique(world.friends, axis=0)) == 64


def test_relations_match_the_box_geometry(world):
    scenes = world.train
    for n, s, o, p in scenes.relations[:300].tolist():
        bs, bo = scenes.boxes[n, s], scenes.boxes[n, o]
        dx, dy = (bo[:2] + bo[2:]) / 2 - (bs[:2] + bs[2:]) / 2
        name = PREDICATES[p]
        if name == "left_of":
            assert dx > 0 and abs(dx) > abs(dy)
        elif name == "right_of":
            assert dx < 0 and abs(dx) > abs(dy)
        elif name == "above":
            assert dy > 0 and abs(dy) > abs(dx)
        elif name == "below":
            assert dy < 0 and abs(dy) > abs(dx)
        elif name == "larger_than":
            ind = scenes.individuals[n]
            assert world.attributes["size"][ind[s]] > world.attributes["size"][ind[o]]
        elif name == "near":
            assert np.hypot(dx, dy) < 0.35 * 40
    # every ordered pair has exactly one direction; friend_of never appears in a scene
    directions = {}
    for n, s, o, p in scenes.relations.tolist():
        if p < 4:
            directions[(n, s, o)] = directions.get((n, s, o), 0) + 1
    assert set(directions.values()) == {1}
    assert len(directions) == len(scenes.pairs())
    assert PREDICATES.index("friend_of") not in set(scenes.relations[:, 3])


def test_boxes_do_not_overlap_and_lie_on_the_canvas(world):
    scenes = world.test_known
    for n in range(scenes.n_scenes):
        k = int((scenes.individuals[n] >= 0).sum())
        b = scenes.boxes[n, :k]
        assert (b[:, :2] >= 0).all() and (b[:, 2:] <= 40).all()
        for i in range(k):
            for j in range(i + 1, k):
                overlap_x = min(b[i, 2], b[j, 2]) - max(b[i, 0], b[j, 0])
                overlap_y = min(b[i, 3], b[j, 3]) - max(b[i, 1], b[j, 1])
                assert overlap_x <= 0 or overlap_y <= 0


def test_object_pixels_show_the_individual_colour(world):
    scenes = world.train
    ind, box = scenes.individuals[0, 0], scenes.boxes[0, 0].astype(int)
    patch = scenes.images[0, :, box[1]:box[3], box[0]:box[2]]
    centre = patch[:, patch.shape[1] // 2, patch.shape[2] // 2]
    from neuroattn.datasets.synthetic.tb_shapes import COLOURS
    from neuroattn.datasets.synthetic.visual_search import PALETTE
    expected = np.asarray(PALETTE[COLOURS[world.attributes["colour"][ind]]])
    if world.attributes["shape"][ind] != SHAPES.index("ring"):  # a ring's centre is empty
        np.testing.assert_allclose(centre, expected, atol=0.15)


def test_splits_draw_from_known_and_novel_individuals(world):
    assert set(np.unique(world.train.individuals)) - {-1} <= set(range(32))
    assert set(np.unique(world.test_known.individuals)) - {-1} <= set(range(32))
    assert set(np.unique(world.test_novel.individuals)) - {-1} <= set(range(32, 40))


def test_same_seed_same_world_other_seed_other_world():
    cfg = TBShapesConfig.ci(n_train=5, n_test_known=2, n_test_novel=2)
    a, b = make_tb_shapes(cfg), make_tb_shapes(cfg)
    np.testing.assert_array_equal(a.train.images, b.train.images)
    np.testing.assert_array_equal(a.friends, b.friends)
    c = make_tb_shapes(TBShapesConfig.ci(n_train=5, n_test_known=2, n_test_novel=2, seed=1))
    assert not np.array_equal(a.train.images, c.train.images)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"n_twin_pairs": 17}, "n_twin_pairs"),
    ({"image_size": 8}, "image_size"),
    ({"objects_per_scene": (1, 3)}, "objects_per_scene"),
    ({"n_novel": 1}, "n_novel"),
    ({"n_individuals": 80, "n_twin_pairs": 0}, "combinations"),
    ({"near_distance": float("nan")}, "near_distance"),
    ({"n_friends": 40}, "n_friends"),
])
def test_bad_config_is_refused_with_the_fix(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TBShapesConfig(**kwargs)


def test_label_names_refuses_an_unknown_group(world):
    with pytest.raises(ValueError, match="unknown label group"):
        world.label_names("weight")
