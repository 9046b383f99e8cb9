"""What a trained tensor brain's memories hold, and the base rates to read it against.

The evaluations behind the tensor-brain analysis (``analyses/tensor_brain.py``) and
its README figures, on any :class:`~neuroattn.semantic.world.SceneWorld`:

* :func:`majority_rates` — always answering a label's most frequent value;
* :func:`twin_stats` — how perception splits its belief between look-alike twins;
* :func:`subject_recall_at_n` — who was in an episode, recalled from its time index;
* :func:`persistent_facts` — labels and the memory-only relation from semantic memory
  (the learned ``ā`` and the theory's mixture over time) and from the episodes;
* :func:`transient_relations` — each episode's relation of each pair (direction),
  against uniform, most-frequent and the pair's own majority direction;
* :func:`decode_scene_objects` — what perception reads in one scene: each object's decoded
  identity, labels and relation to another object (:class:`SceneDecoding`, the decoded-scenes
  figure's input).

Examples
--------
>>> from neuroattn.datasets.synthetic.tb_shapes import TBShapesConfig, make_tb_shapes
>>> from neuroattn.semantic import TensorBrainPerception
>>> world = make_tb_shapes(TBShapesConfig.ci(n_train=6, n_test_known=2, n_test_novel=0))
>>> rates = majority_rates(world, "test_known")
>>> sorted(rates)[:2], all(0 < v <= 1 for v in rates.values())
(['age_acc', 'colour_acc'], True)
>>> model = TensorBrainPerception.for_world(world, dim=8)
>>> 0.0 <= subject_recall_at_n(model, world) <= 1.0
True
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from neuroattn.semantic.decoder import DecodeMode
from neuroattn.semantic.memory import SemanticMemory
from neuroattn.semantic.perception import TensorBrainPerception
from neuroattn.semantic.world import SceneWorld

__all__ = ["DIRECTIONS", "SceneDecoding", "decode_scene_objects", "majority_rates",
           "persistent_facts", "subject_recall_at_n", "transient_relations", "twin_stats"]

DIRECTIONS = ("left_of", "right_of", "above", "below")
"""The default direction predicates of :func:`transient_relations` (TB-Shapes' own)."""


def majority_rates(world: SceneWorld, split: str) -> dict[str, float]:
    """Accuracy of always answering a label's most frequent value among the split's subjects."""
    scenes = world.scenes(split)
    pairs = scenes.pairs()
    subjects = scenes.individuals[pairs[:, 0], pairs[:, 1]]
    return {f"{lab}_acc": max(Counter(world.attributes[lab][subjects].tolist()).values())
            / len(subjects) for lab in world.label_groups}


@torch.no_grad()
def twin_stats(model: TensorBrainPerception, world: SceneWorld, split: str = "test_known",
               mode: str = "argmax") -> dict[str, float]:
    """How the twins' probability splits within the pair, one row per twin appearance.

    ``within_pair_confidence``: mean of ``max(P(a), P(b)) / (P(a) + P(b))`` (0.5: the
    calibrated answer, 1: always sure); ``constant_guess_acc``: the accuracy of always
    answering the twin that appears more often in the split, the ceiling of a model that
    cannot tell them apart but prefers one (so "chance" is not exactly 0.5 here).
    """
    scenes = world.scenes(split)
    twin_of = {int(a): int(b) for a, b in world.twins.tolist()}
    twin_of.update({b: a for a, b in twin_of.items()})
    n, slot = np.nonzero(np.isin(scenes.individuals, list(twin_of)))
    other = (slot + 1) % (scenes.individuals[n] >= 0).sum(1)  # any other object of the scene
    boxes = torch.as_tensor(np.stack([scenes.boxes[n, slot], scenes.boxes[n, other]], 1))
    scene_ids, local = np.unique(n, return_inverse=True)
    out = model.perceive(torch.as_tensor(scenes.images[scene_ids]), boxes,
                         torch.as_tensor(local), mode=mode)
    who = scenes.individuals[n, slot]
    mate = np.asarray([twin_of[int(i)] for i in who])
    probs = out.probs["subject"].numpy()
    p_true, p_mate = probs[np.arange(len(who)), who], probs[np.arange(len(who)), mate]
    counts = Counter(who.tolist())
    ceiling = sum(max(counts[a], counts[b]) for a, b in world.twins.tolist()) / len(who)
    return {"n_appearances": int(len(who)),
            "acc": float((out.indices["subject"].numpy() == who).mean()),
            "within_pair_confidence": float((np.maximum(p_true, p_mate)
                                             / (p_true + p_mate)).mean()),
            "pair_mass": float((p_true + p_mate).mean()),
            "constant_guess_acc": float(ceiling)}


@torch.no_grad()
def subject_recall_at_n(model: TensorBrainPerception, world: SceneWorld) -> float:
    """Share of an episode's individuals among the top-``n`` of ``P(s | a_t)``, ``n`` present."""
    t = torch.arange(world.train.n_scenes)
    probs = model.recall_episode(t).probs["subject"]
    hits = []
    for row, present in zip(probs, world.train.individuals, strict=True):
        who = present[present >= 0]
        top = row.topk(len(who)).indices.numpy()
        hits.append(np.isin(who, top).mean())
    return float(np.mean(hits))


def _mixture(model: TensorBrainPerception) -> SemanticMemory:
    """The theory's semantic memory: episodic recall averaged over a uniform ``t``."""
    return SemanticMemory(model.episodic, marginal="mixture")


@torch.no_grad()
def _mixture_probs(model: TensorBrainPerception, force: dict[str, torch.Tensor],
                   chunk: int = 64) -> dict[str, torch.Tensor]:
    mixture = _mixture(model)
    n = len(next(iter(force.values())))
    parts = [mixture.query(force={k: v[i:i + chunk] for k, v in force.items()}).probs
             for i in range(0, n, chunk)]
    return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}


@torch.no_grad()
def persistent_facts(model: TensorBrainPerception, world: SceneWorld
                     ) -> dict[str, dict[str, float]]:
    """Labels and friend_of from semantic memory (ā, mixture) and from the episodes."""
    n_ind = world.n_individuals
    subjects = torch.arange(n_ind)
    learned = model.recall_semantic(subjects)
    mixed = _mixture_probs(model, {"subject": subjects})
    friends = torch.as_tensor(world.friends)
    friend = world.predicate_names.index(world.memory_predicate)
    f_learned = model.recall_semantic(friends[:, 0], force={"object": friends[:, 1]})
    f_mixed = _mixture_probs(model, {"subject": friends[:, 0], "object": friends[:, 1]})
    # episodic: (episode, individual) for every individual present in every training episode
    present = world.train.individuals
    ep, slot = np.nonzero(present >= 0)
    who = present[ep, slot]
    episodic = model.recall_episode(torch.as_tensor(ep), force={"subject": torch.as_tensor(who)})
    rows = {"semantic (learned ā)": {}, "semantic (mixture over t)": {},
            "episodic (mean over the individual's episodes)": {}}
    for lab in world.label_groups:
        truth = world.attributes[lab][:n_ind]
        rows["semantic (learned ā)"][lab] = float(
            (learned.indices[f"subject.{lab}"].numpy() == truth).mean())
        rows["semantic (mixture over t)"][lab] = float(
            (mixed[f"subject.{lab}"].argmax(1).numpy() == truth).mean())
        hit = episodic.indices[f"subject.{lab}"].numpy() == world.attributes[lab][who]
        rows["episodic (mean over the individual's episodes)"][lab] = float(
            np.mean([hit[who == s].mean() for s in np.unique(who)]))
    rows["semantic (learned ā)"]["friend_of"] = float(
        (f_learned.indices["predicate"] == friend).float().mean())
    rows["semantic (mixture over t)"]["friend_of"] = float(
        (f_mixed["predicate"].argmax(1) == friend).float().mean())
    # episodic friend_of: each friend pair (s, o), from every episode that contains s
    per_pair = []
    for s, o in world.friends.tolist():
        eps = np.nonzero((present == s).any(1))[0]
        if not len(eps):              # s is in no training episode: nothing to recall from
            continue
        rec = model.recall_episode(torch.as_tensor(eps), force={
            "subject": torch.full((len(eps),), s), "object": torch.full((len(eps),), o)})
        per_pair.append(float((rec.indices["predicate"] == friend).float().mean()))
    rows["episodic (mean over the individual's episodes)"]["friend_of"] = float(
        np.mean(per_pair)) if per_pair else float("nan")
    # who are s's friends: the true friends among the top n_friends of P(o | s) (a test
    # that a memory answering friend_of for every pair cannot pass; chance 2/31)
    friends_of = [set(world.friends[world.friends[:, 0] == s, 1].tolist()) for s in range(n_ind)]
    k = max(1, max(len(f) for f in friends_of))      # friends per individual (all alike here)

    def friend_recall(probs: torch.Tensor, subjects: np.ndarray) -> np.ndarray:
        top = probs.topk(k, dim=1).indices.tolist()
        return np.asarray([len(friends_of[s] & set(t)) / k
                           for s, t in zip(subjects.tolist(), top, strict=True)])

    rows["semantic (learned ā)"]["friends_recall"] = float(
        friend_recall(learned.probs["object"], np.arange(n_ind)).mean())
    rows["semantic (mixture over t)"]["friends_recall"] = float(
        friend_recall(mixed["object"], np.arange(n_ind)).mean())
    hit = friend_recall(episodic.probs["object"], who)
    rows["episodic (mean over the individual's episodes)"]["friends_recall"] = float(
        np.mean([hit[who == s].mean() for s in np.unique(who)]))
    return rows


def _majority_hit(counts: Counter, truth: int) -> float:
    """Expected hit of answering the most frequent value (ties: uniformly among them)."""
    top = max(counts.values())
    return float(counts[truth] == top) / sum(v == top for v in counts.values())


def _restricted_hits(probs: torch.Tensor, allowed: tuple[int, ...], truth: list[set]
                     ) -> np.ndarray:
    choice = np.asarray(allowed)[probs[:, list(allowed)].argmax(1).numpy()]
    return np.asarray([c in t for c, t in zip(choice, truth, strict=True)], dtype=float)


@torch.no_grad()
def transient_relations(model: TensorBrainPerception, world: SceneWorld, *,
                        directions: tuple[str, ...] = DIRECTIONS) -> dict[str, Any]:
    """The direction (and any visual predicate) of each pair of each training episode.

    ``directions`` are predicates of which exactly one holds for every pair (in TB-Shapes,
    left/right/above/below); the visual predicates are all but the memory-only one.
    """
    names = world.predicate_names
    direction_ids = tuple(names.index(p) for p in directions)
    memory_id = names.index(world.memory_predicate)
    visual_ids = tuple(i for i, p in enumerate(names) if i != memory_id)
    scenes = world.train
    pairs = scenes.pairs()
    sets = scenes.true_predicates()
    truth = [sets[tuple(p)] for p in pairs.tolist()]
    direction = np.asarray([next(iter(t & set(direction_ids))) for t in truth])
    subj = torch.as_tensor(scenes.individuals[pairs[:, 0], pairs[:, 1]])
    obj = torch.as_tensor(scenes.individuals[pairs[:, 0], pairs[:, 2]])
    probs = {
        "episodic (a_t, s, o forced)": model.recall_episode(
            torch.as_tensor(pairs[:, 0]), force={"subject": subj, "object": obj}
        ).probs["predicate"],
        "semantic (learned ā, s, o forced)": model.recall_semantic(
            subj, force={"object": obj}).probs["predicate"],
        "semantic (mixture over t, s, o forced)": _mixture_probs(
            model, {"subject": subj, "object": obj})["predicate"],
    }
    # base rates: uniform, the most frequent direction overall, and the pair's own majority
    # direction over its training episodes (in-sample: the best any time-free memory can do)
    key = [(int(s), int(o)) for s, o in zip(subj, obj, strict=True)]
    counts: dict[tuple[int, int], Counter] = {}
    for k, d in zip(key, direction, strict=True):
        counts.setdefault(k, Counter())[int(d)] += 1
    n_seen = np.asarray([sum(counts[k].values()) for k in key])
    varying = np.asarray([len(counts[k]) > 1 for k in key])
    pair_majority = np.asarray([_majority_hit(counts[k], int(d))
                                for k, d in zip(key, direction, strict=True)])
    overall = Counter(direction.tolist()).most_common(1)[0][0]
    subsets = {"all pairs": np.ones(len(pairs), bool),
               "pairs seen in >= 2 episodes": n_seen >= 2,
               "pairs whose direction varies across episodes": varying}
    rows: dict[str, dict] = {}
    for name, p in probs.items():
        dir_hit = _restricted_hits(p, direction_ids, truth)
        vis_hit = _restricted_hits(p, visual_ids, truth)
        raw = p.argmax(1).numpy()
        raw_hit = np.asarray([c in t for c, t in zip(raw, truth, strict=True)], float)
        rows[name] = {"direction_acc": {s: float(dir_hit[m].mean()) for s, m in subsets.items()},
                      "visual_hits1": float(vis_hit.mean()),
                      "raw_hits1": float(raw_hit.mean()),
                      "raw_friend_of_share": float((raw == memory_id).mean())}
    rows[f"base rate: uniform over {len(directions)} directions"] = {
        "direction_acc": {s: 1 / len(directions) for s in subsets}}
    rows[f"base rate: most frequent direction ({names[overall]})"] = {
        "direction_acc": {s: float((direction[m] == overall).mean()) for s, m in subsets.items()}}
    rows["base rate: the pair's majority direction (in-sample)"] = {
        "direction_acc": {s: float(pair_majority[m].mean()) for s, m in subsets.items()}}
    return {"rows": rows, "n_pairs": {s: int(m.sum()) for s, m in subsets.items()},
            "n_distinct_pairs": len(counts)}


@dataclass(frozen=True)
class SceneDecoding:
    """Free decoding of one scene's objects: one ordered pair per subject slot.

    Attributes
    ----------
    scene : int
        The scene's index in its split.
    subject_slots, object_slots : numpy.ndarray of int, shape (K,)
        The object slots of each decoded pair: every occupied slot once as the subject, with
        the first other object it is paired with.
    indices : dict of str to numpy.ndarray, shape (K,)
        The decoded index of every head (``"subject"``, ``"subject.shape"``, ``"predicate"``,
        ``"object"``...), one per pair.
    """

    scene: int
    subject_slots: np.ndarray
    object_slots: np.ndarray
    indices: dict[str, np.ndarray]


@torch.no_grad()
def decode_scene_objects(model: TensorBrainPerception, world: SceneWorld, scene: int,
                         split: str = "test_known", *, mode: DecodeMode = "argmax"
                         ) -> SceneDecoding:
    """Decode each object of one scene as a subject, paired with its first other object.

    Parameters
    ----------
    model : TensorBrainPerception
    world : SceneWorld
    scene : int
        Index of the scene in ``split``.
    split : str
    mode : {"argmax", "expected", "sample"}
        As for :meth:`~neuroattn.semantic.perception.TensorBrainPerception.perceive`.

    Returns
    -------
    SceneDecoding

    Examples
    --------
    >>> from neuroattn.datasets.synthetic.tb_shapes import TBShapesConfig, make_tb_shapes
    >>> world = make_tb_shapes(TBShapesConfig.ci(n_train=2, n_test_known=2, n_test_novel=0))
    >>> model = TensorBrainPerception.for_world(world, dim=8).eval()
    >>> decoded = decode_scene_objects(model, world, 0)
    >>> decoded.subject_slots.tolist() == sorted(set(world.test_known.pairs()[:, 1]
    ...                                              [world.test_known.pairs()[:, 0] == 0]))
    True
    >>> decoded.indices["subject"].shape == decoded.subject_slots.shape
    True
    """
    scenes = world.scenes(split)
    pairs = scenes.pairs()
    rows = pairs[pairs[:, 0] == scene]
    first = rows[np.unique(rows[:, 1], return_index=True)[1]]  # one pair per subject slot
    device = model.bank.A.device
    boxes = torch.as_tensor(np.stack([scenes.boxes[scene, first[:, 1]],
                                      scenes.boxes[scene, first[:, 2]]], 1))
    out = model.perceive(torch.as_tensor(scenes.images[[scene]]), boxes.to(device),
                         torch.zeros(len(first), dtype=torch.long, device=device), mode=mode)
    return SceneDecoding(int(scene), first[:, 1], first[:, 2],
                         {head: index.cpu().numpy() for head, index in out.indices.items()})
