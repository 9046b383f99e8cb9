"""The memory evaluations behind the tensor-brain analysis (neuroattn.semantic.memory_eval).

Exact checks of the base rates against counts done here by hand, and the shapes and ranges
of every measure on an untrained model (the trained model's figures are the learning test's,
in test_scene_training.py, and the analysis's).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from neuroattn.datasets.synthetic.tb_shapes import TBShapesConfig, make_tb_shapes
from neuroattn.semantic import TensorBrainPerception
from neuroattn.semantic.memory_eval import (
    decode_scene_objects,
    majority_rates,
    persistent_facts,
    subject_recall_at_n,
    transient_relations,
    twin_stats,
)


@pytest.fixture(scope="module")
def world():
    return make_tb_shapes(TBShapesConfig.ci(n_train=16, n_test_known=4, n_test_novel=0))


@pytest.fixture(scope="module")
def model(world):
    return TensorBrainPerception.for_world(world, dim=8, seed=0).eval()


def test_majority_rates_count_the_most_frequent_value(world):
    scenes = world.test_known
    pairs = scenes.pairs()
    subjects = scenes.individuals[pairs[:, 0], pairs[:, 1]]
    rates = majority_rates(world, "test_known")
    assert set(rates) == {f"{g}_acc" for g in world.label_groups}
    for group in world.label_groups:
        values = world.attributes[group][subjects].tolist()
        top = Counter(values).most_common(1)[0][1]
        assert rates[f"{group}_acc"] == pytest.approx(top / len(values))


def test_transient_relations_base_rates_are_exact(world, model):
    out = transient_relations(model, world)
    rows = out["rows"]
    uniform = rows["base rate: uniform over 4 directions"]["direction_acc"]
    assert set(uniform.values()) == {0.25}
    names = world.predicate_names
    directions = [names.index(p) for p in ("left_of", "right_of", "above", "below")]
    truth = world.train.true_predicates()
    per_pair = [next(iter(t & set(directions))) for t in
                (truth[tuple(p)] for p in world.train.pairs().tolist())]
    common, count = Counter(per_pair).most_common(1)[0]
    frequent = rows[f"base rate: most frequent direction ({names[common]})"]["direction_acc"]
    assert frequent["all pairs"] == pytest.approx(count / len(per_pair))
    # a pair's own majority direction is never worse, in-sample, than one global direction
    majority = rows["base rate: the pair's majority direction (in-sample)"]["direction_acc"]
    assert majority["all pairs"] >= frequent["all pairs"] - 1e-12
    assert out["n_pairs"]["all pairs"] == len(per_pair)
    for name in ("episodic (a_t, s, o forced)", "semantic (learned ā, s, o forced)",
                 "semantic (mixture over t, s, o forced)"):
        assert 0.0 <= rows[name]["direction_acc"]["all pairs"] <= 1.0
        assert 0.0 <= rows[name]["visual_hits1"] <= 1.0


def test_persistent_facts_and_recall_are_proportions(world, model):
    facts = persistent_facts(model, world)
    assert len(facts) == 3
    for row in facts.values():
        assert set(row) == {*world.label_groups, "friend_of", "friends_recall"}
        assert all(0.0 <= v <= 1.0 for v in row.values())
    assert 0.0 <= subject_recall_at_n(model, world) <= 1.0


def test_twin_stats_count_every_twin_appearance(world, model):
    stats = twin_stats(model, world, "test_known")
    twins = set(world.twins.ravel().tolist())
    expected = int(np.isin(world.test_known.individuals, list(twins)).sum())
    assert stats["n_appearances"] == expected
    assert 0.5 <= stats["within_pair_confidence"] <= 1.0
    assert 0.5 <= stats["constant_guess_acc"] <= 1.0


def test_decode_scene_objects_pairs_each_object_with_its_first_partner(world, model):
    scenes = world.test_known
    scene = 1
    present = np.nonzero(scenes.individuals[scene] >= 0)[0]
    decoded = decode_scene_objects(model, world, scene)
    assert decoded.scene == scene
    np.testing.assert_array_equal(decoded.subject_slots, present)   # every object once
    pairs = scenes.pairs()
    for s, o in zip(decoded.subject_slots, decoded.object_slots, strict=True):
        partners = pairs[(pairs[:, 0] == scene) & (pairs[:, 1] == s), 2]
        assert o == partners.min() and o != s
    # the same as perceiving those box pairs of the scene directly
    boxes = torch.as_tensor(np.stack([scenes.boxes[scene, decoded.subject_slots],
                                      scenes.boxes[scene, decoded.object_slots]], 1))
    with torch.no_grad():
        out = model.perceive(torch.as_tensor(scenes.images[[scene]]), boxes,
                             torch.zeros(len(present), dtype=torch.long))
    assert set(decoded.indices) == set(out.indices) >= {"subject", "subject.shape",
                                                         "predicate", "object"}
    for head, index in out.indices.items():
        np.testing.assert_array_equal(decoded.indices[head], index.numpy())
