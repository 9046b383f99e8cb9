"""Scores of a trained :class:`~neuroattn.semantic.perception.TensorBrainPerception` on TB-Shapes.

* :func:`evaluate_perception`: free decoding of every ordered pair of a split (oracle boxes):
  accuracy of each label group of the decoded subject, entity accuracy of non-twins and of
  twins (plus the probability mass on the twin pair), and predicate Hits@1 / Hits@3, a
  predicate counting as a hit when it is one of the pair's true predicates.
* :func:`evaluate_episodic`: recall from each training episode's time index only: subject
  Hits@5 (rank of every individual present in the episode), label accuracy of a forced
  subject and predicate Hits@1 of forced subject and object pairs.
* :func:`evaluate_semantic`: recall from ``ā`` with the subject forced: Hits@1 of every
  individual's labels (including the hidden ``dangerous`` and the memory-only ``age``), the
  filtered Hits@1 of each ``friend_of`` fact as the object query ``(s, ?)`` (the other
  friends of ``s`` removed, as in KG evaluation), and the mean of both
  (``persistent_hits1``). These are the very facts the semantic task teacher-forces on
  (:mod:`~neuroattn.semantic.scene_training`), so the scores measure memorisation by the
  separately trained ``ā``, not a marginal of episodic memory.

Examples
--------
>>> import tempfile
>>> from neuroattn.datasets.synthetic.tb_shapes import TBShapesConfig, make_tb_shapes
>>> world = make_tb_shapes(TBShapesConfig.ci(n_train=6, n_test_known=4, n_test_novel=0))
>>> model = TensorBrainPerception.for_world(world, dim=16).eval()
>>> sorted(evaluate_semantic(model, world))[:2]
['age_hits1', 'colour_hits1']
"""

from __future__ import annotations

import numpy as np
import torch

from neuroattn.errors import ParameterError
from neuroattn.semantic.decoder import DecodeMode
from neuroattn.semantic.kg import filtered_ranks
from neuroattn.semantic.perception import TensorBrainPerception
from neuroattn.semantic.scene_training import perception_rows
from neuroattn.semantic.world import SceneWorld

__all__ = ["evaluate_episodic", "evaluate_perception", "evaluate_semantic"]


@torch.no_grad()
def evaluate_perception(model: TensorBrainPerception, world: SceneWorld,
                        split: str = "test_known", *, mode: DecodeMode = "argmax",
                        batch_size: int = 512) -> dict[str, float]:
    """Free decoding of every ordered pair of ``split`` (see the module docstring).

    Examples
    --------
    >>> from neuroattn.datasets.synthetic.tb_shapes import TBShapesConfig, make_tb_shapes
    >>> world = make_tb_shapes(TBShapesConfig.ci(n_train=2, n_test_known=3, n_test_novel=0))
    >>> scores = evaluate_perception(TensorBrainPerception.for_world(world, dim=8).eval(),
    ...                              world)
    >>> 0 <= scores["predicate_hits1"] <= 1
    True
    """
    scenes = world.scenes(split)
    if scenes.n_scenes == 0:
        raise ParameterError(f"split {split!r} has no scenes")
    rows = perception_rows(world, split, labels=world.label_groups, pairs_only=True)
    true_sets = scenes.true_predicates()
    keys = [tuple(k) for k in scenes.pairs().tolist()]
    images = torch.as_tensor(scenes.images)
    device = model.bank.A.device
    hits = {f"{lab}": [] for lab in world.label_groups}
    entity_hit, twin_mass, pred_rank = [], [], []
    twin_of = {int(a): int(b) for a, b in world.twins.tolist()}
    twin_of.update({b: a for a, b in twin_of.items()})
    for start in range(0, len(rows), batch_size):
        part = rows.take(torch.arange(start, min(start + batch_size, len(rows))))
        scene_ids, local = torch.unique(part.image_index, return_inverse=True)
        out = model.perceive(images[scene_ids].to(device), part.boxes.to(device),
                             local.to(device), mode=mode)
        for lab in world.label_groups:
            hits[lab].append((out.indices[f"subject.{lab}"].cpu()
                              == part.targets[f"subject.{lab}"]).numpy())
        if "subject" in part.targets:
            truth = part.targets["subject"]
            entity_hit.append((out.indices["subject"].cpu() == truth).numpy())
            probs = out.probs["subject"].cpu()
            twin = torch.tensor([twin_of.get(int(s), int(s)) for s in truth])
            twin_mass.append((probs.gather(1, truth[:, None]).squeeze(1)
                              + probs.gather(1, twin[:, None]).squeeze(1)
                              * (twin != truth)).numpy())
        order = out.probs["predicate"].cpu().argsort(1, descending=True)
        for i, key in enumerate(keys[start:start + len(part)]):
            ranked = order[i].tolist()
            pred_rank.append(min(ranked.index(p) for p in true_sets[key]) + 1)
    scores = {f"{lab}_acc": float(np.concatenate(v).mean()) for lab, v in hits.items()}
    pred_rank_a = np.asarray(pred_rank)
    scores["predicate_hits1"] = float((pred_rank_a <= 1).mean())
    scores["predicate_hits3"] = float((pred_rank_a <= 3).mean())
    if entity_hit:
        hit, mass = np.concatenate(entity_hit), np.concatenate(twin_mass)
        is_twin = world.is_twin()[rows.targets["subject"].numpy()]
        scores["entity_acc_non_twins"] = float(hit[~is_twin].mean())
        if is_twin.any():
            scores["entity_acc_twins"] = float(hit[is_twin].mean())
            scores["twin_pair_mass"] = float(mass[is_twin].mean())
    scores["n_pairs"] = float(len(rows))
    return scores


@torch.no_grad()
def evaluate_episodic(model: TensorBrainPerception, world: SceneWorld, *, k: int = 5,
                      episodes: np.ndarray | None = None) -> dict[str, float]:
    """Recall from time indices only: who was there, their labels, the pairs' predicates.

    Parameters
    ----------
    episodes : array of int, optional
        Training episodes to score (default all).

    Examples
    --------
    >>> from neuroattn.datasets.synthetic.tb_shapes import TBShapesConfig, make_tb_shapes
    >>> world = make_tb_shapes(TBShapesConfig.ci(n_train=3, n_test_known=0, n_test_novel=0))
    >>> model = TensorBrainPerception.for_world(world, dim=8).eval()
    >>> 0 <= evaluate_episodic(model, world)["subject_hits5"] <= 1
    True
    """
    scenes = world.train
    episodes = np.arange(scenes.n_scenes) if episodes is None else np.asarray(episodes)
    device = model.bank.A.device
    t = torch.as_tensor(episodes, dtype=torch.long, device=device)
    probs = model.recall_episode(t).probs["subject"].cpu()
    present = scenes.individuals[episodes]
    rows, cols = np.nonzero(present >= 0)
    who = torch.as_tensor(present[rows, cols])
    ranks = filtered_ranks(probs[torch.as_tensor(rows)], who, ties="pessimistic")
    scores = {f"subject_hits{k}": float((ranks <= k).mean())}
    # triples of these episodes: forced subject and object, scored labels and predicate
    rel = perception_rows(world, "train")
    keep = torch.as_tensor(np.isin(rel.image_index.numpy(), episodes))
    rel = rel.take(torch.nonzero(keep).squeeze(1))
    out = model.recall_episode(rel.image_index.to(device), force={
        "subject": rel.targets["subject"].to(device), "object": rel.targets["object"].to(device)})
    for lab in ("shape", "colour", "size", "age"):
        scores[f"{lab}_acc"] = float((out.indices[f"subject.{lab}"].cpu()
                                      == rel.targets[f"subject.{lab}"]).float().mean())
    pairs = world.train.true_predicates()
    order = out.probs["predicate"].cpu().argmax(1).tolist()
    table = world.train.relations[keep.numpy()]
    scores["predicate_hits1"] = float(np.mean([p in pairs[(n, s, o)] for (n, s, o, _), p in
                                               zip(table.tolist(), order, strict=True)]))
    return scores


@torch.no_grad()
def evaluate_semantic(model: TensorBrainPerception, world: SceneWorld) -> dict[str, float]:
    """Persistent facts from ``ā`` with the subject forced (see the module docstring)."""
    device = model.bank.A.device
    subjects = torch.arange(world.n_individuals, device=device)
    out = model.recall_semantic(subjects)
    scores = {}
    label_hits = []
    for lab in world.label_groups:
        hit = out.indices[f"subject.{lab}"].cpu().numpy() == \
            world.attributes[lab][:world.n_individuals]
        scores[f"{lab}_hits1"] = float(hit.mean())
        label_hits.append(hit)
    # friend_of: rank each true friend among all individuals by P(o | s, ā), the other
    # friends of s filtered out (a memory that answers friend_of for any pair gains nothing)
    friends_of: dict[int, set[int]] = {}
    for s_id, o_id in world.friends.tolist():
        friends_of.setdefault(s_id, set()).add(o_id)
    probs = out.probs["object"].cpu()[world.friends[:, 0]]
    friend_hit = filtered_ranks(probs, world.friends[:, 1],
                                [friends_of[s_id] for s_id in world.friends[:, 0].tolist()],
                                ties="pessimistic") <= 1
    scores["friend_of_hits1"] = float(friend_hit.mean())
    all_hits = np.concatenate(label_hits + [friend_hit])
    scores["persistent_hits1"] = float(all_hits.mean())
    return scores
