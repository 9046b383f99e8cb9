"""Train a :class:`~neuroattn.semantic.perception.TensorBrainPerception` on TB-Shapes.

Three tasks share one model, as in the authors' multi-task training (reference §1.10):

* **perception**: image + oracle boxes → time, subject (+labels), object (+labels),
  predicate, in ``"expected"`` mode (P-SA, the code's differentiable ``integral`` sampling);
* **episodic** recall: ``q_T = a_t`` for the scene's own time index, no sensory input, the
  windows teacher-forced (the code's ``tkg``); this is what learns ``A_T``;
* **semantic** recall: ``q_T = ā`` (learned), subject teacher-forced, on the persistent
  facts: every individual's labels, including the hidden ``dangerous`` label that no
  scene shows, and the non-visual ``friend_of`` relation (the code's ``skg``).

The loss of each task is the mean over rows of the summed negative log-likelihood of the
heads that have a target; the step's loss is the weighted mean over tasks. Training runs on
the package :class:`~neuroattn.training.loop.Trainer` (AdamW, cosine schedule, atomic
checkpoints each epoch, exact resume).

Examples
--------
>>> import tempfile
>>> from neuroattn.datasets.synthetic.tb_shapes import TBShapesConfig, make_tb_shapes
>>> world = make_tb_shapes(TBShapesConfig.ci(n_train=8, n_test_known=0, n_test_novel=0))
>>> model = TensorBrainPerception.for_world(world, dim=16)
>>> summary = fit_tensor_brain(model, world, tempfile.mkdtemp(), epochs=1,
...                            progress=False)
>>> summary["epoch"]
1
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from neuroattn.errors import ParameterError
from neuroattn.semantic.decoder import Decoding
from neuroattn.semantic.perception import TensorBrainPerception
from neuroattn.semantic.world import SceneWorld
from neuroattn.training.distributed import rank_share
from neuroattn.training.loop import TrainConfig, Trainer
from neuroattn.training.objective import ModelObjective, objective_loss

__all__ = ["SceneRows", "SceneTaskBatches", "TaskObjective", "fit_tensor_brain",
           "perception_rows", "semantic_rows", "task_nll"]

TASKS = ("perception", "episodic", "semantic")


@dataclass(frozen=True)
class SceneRows:
    """Rows of one task: which image and boxes (perception) and the targets of each head.

    Attributes
    ----------
    targets : dict of str to torch.Tensor
        ``(M,)`` in-group target of each head that has one.
    image_index : torch.Tensor or None
        ``(M,)`` scene of each row (perception and episodic rows).
    boxes : torch.Tensor or None
        ``(M, 2, 4)`` subject and object pixel boxes (perception rows).
    """

    targets: dict[str, torch.Tensor]
    image_index: torch.Tensor | None = None
    boxes: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(next(iter(self.targets.values())))

    def take(self, rows: torch.Tensor) -> SceneRows:
        """The sub-table of the given row indices."""
        return SceneRows({k: v[rows] for k, v in self.targets.items()},
                         None if self.image_index is None else self.image_index[rows],
                         None if self.boxes is None else self.boxes[rows])


def perception_rows(world: SceneWorld, split: str = "train", *,
                    labels: tuple[str, ...] | None = None, pairs_only: bool = False
                    ) -> SceneRows:
    """One row per true visual triple of a split (or per ordered pair, ``pairs_only``).

    Entity targets exist for known individuals only (not in ``test_novel``); the time target
    is the scene's index in ``train`` only.

    Examples
    --------
    >>> from neuroattn.datasets.synthetic.tb_shapes import TBShapesConfig, make_tb_shapes
    >>> world = make_tb_shapes(TBShapesConfig.ci())
    >>> rows = perception_rows(world, "test_novel", pairs_only=True)
    >>> sorted(rows.targets)[:3], "subject" in rows.targets
    (['object.age', 'object.colour', 'object.parent'], False)
    """
    scenes = world.scenes(split)
    if labels is None:
        labels = world.perception_label_groups
    table = scenes.pairs() if pairs_only else scenes.relations
    scene, s_slot, o_slot = (table[:, i] for i in range(3))
    subj, obj = scenes.individuals[scene, s_slot], scenes.individuals[scene, o_slot]
    targets: dict[str, np.ndarray] = {}
    if split == "train":
        targets["time"] = scene
    known = split != "test_novel"
    for role, ind in (("subject", subj), ("object", obj)):
        if known:
            targets[role] = ind
        for lab in labels:
            targets[f"{role}.{lab}"] = world.attributes[lab][ind]
    if not pairs_only:
        targets["predicate"] = table[:, 3]
    boxes = np.stack([scenes.boxes[scene, s_slot], scenes.boxes[scene, o_slot]], axis=1)
    return SceneRows({k: torch.as_tensor(v, dtype=torch.long) for k, v in targets.items()},
                     torch.as_tensor(scene, dtype=torch.long), torch.as_tensor(boxes))


def semantic_rows(world: SceneWorld) -> SceneRows:
    """The persistent facts: one row per ``friend_of`` pair, with all labels of both.

    Examples
    --------
    >>> from neuroattn.datasets.synthetic.tb_shapes import TBShapesConfig, make_tb_shapes
    >>> rows = semantic_rows(make_tb_shapes(TBShapesConfig.ci()))
    >>> len(rows), int(rows.targets["predicate"].unique())
    (64, 6)
    """
    subj, obj = world.friends[:, 0], world.friends[:, 1]
    targets = {"subject": subj, "object": obj,
               "predicate": np.full(len(subj), world.predicate_names.index(world.memory_predicate))}
    for role, ind in (("subject", subj), ("object", obj)):
        for lab in world.label_groups:
            targets[f"{role}.{lab}"] = world.attributes[lab][ind]
    return SceneRows({k: torch.as_tensor(v, dtype=torch.long) for k, v in targets.items()})


def task_nll(out: Decoding, targets: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Mean over rows of the summed NLL of the heads with a target.

    Examples
    --------
    >>> import torch
    >>> d = Decoding(log_probs={"a": torch.tensor([-1.0, -3.0]), "b": torch.zeros(2)})
    >>> task_nll(d, {"a": torch.tensor([0, 1])}).item()
    2.0
    """
    return -torch.stack([out.log_probs[k] for k in targets]).sum(0).mean()


class SceneTaskBatches:
    """Seeded, resumable multi-task batches over a world's training scenes.

    Each batch holds ``scenes_per_batch`` training scenes with all their perception triples
    (and the episodic rows of the same triples), so each image is encoded once per epoch,
    plus ``facts_per_batch`` semantic facts drawn with replacement. An epoch is one pass
    over the scenes.

    Examples
    --------
    >>> from neuroattn.datasets.synthetic.tb_shapes import TBShapesConfig, make_tb_shapes
    >>> world = make_tb_shapes(TBShapesConfig.ci(n_train=10, n_test_known=0, n_test_novel=0))
    >>> batches = SceneTaskBatches(world, scenes_per_batch=4)
    >>> len(batches), next(iter(batches))["images"].shape[0]
    (3, 4)
    """

    def __init__(self, world: SceneWorld, scenes_per_batch: int = 16, facts_per_batch: int = 64,
                 seed: int = 0) -> None:
        if scenes_per_batch < 1 or facts_per_batch < 1:
            raise ParameterError(f"scenes_per_batch={scenes_per_batch!r} and facts_per_batch="
                                 f"{facts_per_batch!r} must be >= 1")
        if world.train.n_scenes == 0 or len(world.train.relations) == 0:
            raise ParameterError("the world has no training scenes; use n_train >= 1")
        self.images = torch.as_tensor(world.train.images)
        self.perception = perception_rows(world, "train")
        self.semantic = semantic_rows(world) if len(world.friends) else None
        self.scenes_per_batch, self.facts_per_batch = int(scenes_per_batch), int(facts_per_batch)
        self.seed, self.epoch = int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch's order (called by the trainer, also after a resume)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(rank_share(-(-len(self.images) // self.scenes_per_batch)))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        gen = torch.Generator().manual_seed(self.seed + 7919 * self.epoch)
        order = torch.randperm(len(self.images), generator=gen)
        plan = []                        # every rank draws the whole epoch, in one order
        for scenes in order.split(self.scenes_per_batch):
            pick = None if self.semantic is None else \
                torch.randint(len(self.semantic), (self.facts_per_batch,), generator=gen)
            plan.append((scenes.sort().values, pick))
        for i in rank_share(len(plan)):   # under torchrun: this rank's share of the batches
            yield self._batch(*plan[i])

    def _batch(self, scenes: torch.Tensor, pick: torch.Tensor | None) -> dict[str, Any]:
        scene_of_row = self.perception.image_index
        rows = self.perception.take(torch.nonzero(torch.isin(scene_of_row, scenes))[:, 0])
        local = torch.searchsorted(scenes, rows.image_index)
        batch: dict[str, Any] = {
            "images": self.images[scenes], "image_index": local, "boxes": rows.boxes,
            "perception": rows.targets, "time": rows.targets["time"],
            "episodic": {k: v for k, v in rows.targets.items() if k != "time"}}
        if pick is not None:
            batch["semantic"] = self.semantic.take(pick).targets
        return batch


class TaskObjective(ModelObjective):
    """The weighted multi-task loss of a :class:`TensorBrainPerception`, as a module.

    Its ``forward(batch)`` runs perception, episodic and semantic recall, so
    the trainer can wrap it in DistributedDataParallel: the loss goes through
    the wrapper's ``forward`` and the gradients of every task are synced over
    ranks (calling the model's methods on a DDP wrapper would fail, and on the
    bare model would skip the sync). Its state dict is the model's.

    Examples
    --------
    >>> from neuroattn.datasets.synthetic.tb_shapes import TBShapesConfig, make_tb_shapes
    >>> world = make_tb_shapes(TBShapesConfig.ci(n_train=4, n_test_known=0, n_test_novel=0))
    >>> model = TensorBrainPerception.for_world(world, dim=16)
    >>> objective = TaskObjective(model, {"perception": 1.0, "semantic": 1.0})
    >>> loss, parts = objective(next(iter(SceneTaskBatches(world, scenes_per_batch=2))))
    >>> sorted(parts), loss.ndim
    (['perception_nll', 'semantic_nll'], 0)
    """

    def __init__(self, model: TensorBrainPerception, weights: Mapping[str, float]) -> None:
        super().__init__(model)
        self.weights = dict(weights)

    def forward(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        model, weights = self.model, self.weights
        losses: dict[str, torch.Tensor] = {}
        if weights.get("perception"):
            out = model.perceive(batch["images"], batch["boxes"], batch["image_index"],
                                 mode="expected", targets=batch["perception"])
            losses["perception"] = task_nll(out, batch["perception"])
        if weights.get("episodic"):
            out = model.recall_episode(batch["time"], mode="teacher",
                                       targets=batch["episodic"])
            losses["episodic"] = task_nll(out, batch["episodic"])
        if weights.get("semantic") and "semantic" in batch:
            tgt = batch["semantic"]
            out = model.recall_semantic(tgt["subject"], mode="teacher", targets=tgt)
            losses["semantic"] = task_nll(out, tgt)
        loss = sum(weights[k] * v for k, v in losses.items()) / sum(weights.values())
        return loss, {f"{k}_nll": v.detach() for k, v in losses.items()}




def fit_tensor_brain(model: TensorBrainPerception, world: SceneWorld,
                     out_dir: str | os.PathLike, *, epochs: int = 40,
                     scenes_per_batch: int = 16, facts_per_batch: int = 64,
                     lr: float = 3e-3, memory_lr: float | None = 0.1,
                     weight_decay: float = 0.0, warmup_steps: int = 20,
                     tasks: Mapping[str, float] | None = None, device: str = "auto",
                     precision: str = "auto", seed: int = 0, resume: bool = False,
                     progress: bool | None = None) -> dict[str, Any]:
    """Train perception, episodic and semantic recall jointly; checkpoints in ``out_dir``.

    Parameters
    ----------
    model : TensorBrainPerception
        Built for the world (``TensorBrainPerception.for_world(world)``); trained in place.
    world : SceneWorld
    out_dir : path-like
        Run directory (``last.pt`` each epoch, ``metrics.csv``, ``config.yaml``).
    epochs : int
    scenes_per_batch, facts_per_batch : int
        Training scenes (with all their triples) and semantic facts per step.
    lr, weight_decay : float
        AdamW settings (cosine decay after ``warmup_steps``).
    memory_lr : float or None
        Learning rate of the concept embeddings ``A`` and ``ā`` (default 0.1; ``None``:
        ``lr``). Each time index gets a gradient from its own scene only, once an epoch, so
        the index layer needs a larger step than the networks.
    tasks : mapping of str to float, optional
        Weight of each task (default ``{"perception": 1, "episodic": 1, "semantic": 1}``);
        a weight of 0 drops the task.
    device, precision : str
        As for :class:`~neuroattn.training.loop.TrainConfig` (bf16 autocast on CUDA).
    seed : int
    resume : bool
        Continue from ``out_dir/last.pt``.
    progress : bool or None
        Progress bars (default: on a terminal only).

    Returns
    -------
    dict
        The trainer's summary (``step``, ``epoch``, ``out_dir``).
    """
    if not isinstance(model, TensorBrainPerception):
        raise TypeError(f"model must be a TensorBrainPerception, got {type(model).__name__}")
    sizes = world.group_sizes()
    for group, size in sizes.items():
        if model.bank.group_size(group) != size:
            raise ParameterError(f"the model's {group!r} group has {model.bank.group_size(group)} "
                                 f"concepts but the world needs {size}; build the model with "
                                 f"TensorBrainPerception.for_world(world)")
    weights = dict(tasks) if tasks is not None else {t: 1.0 for t in TASKS}
    unknown = sorted(set(weights) - set(TASKS))
    if unknown or not any(weights.values()):
        raise ParameterError(f"tasks must weight some of {TASKS}, got {dict(weights)}")
    batches = SceneTaskBatches(world, scenes_per_batch, facts_per_batch, seed)
    config = TrainConfig(epochs=epochs, lr=lr, weight_decay=weight_decay, grad_clip=5.0,
                         warmup_steps=warmup_steps, precision=precision, device=device,
                         seed=seed)
    memory = [model.bank.A] + ([model.semantic.abar] if model.semantic.abar is not None else [])
    rest = [p for p in model.parameters() if all(p is not m for m in memory)]
    groups = [{"params": rest, "lr": lr},
              {"params": memory, "lr": lr if memory_lr is None else memory_lr}]
    trainer = Trainer(TaskObjective(model, weights), objective_loss, config, out_dir,
                      model_name=type(model).__name__, progress=progress, param_groups=groups)
    summary = trainer.fit(batches, resume=resume)
    model.eval()
    return summary
