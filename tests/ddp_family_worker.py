"""Run by test_ddp_families.py under torchrun: one family's fit, recording what each rank saw.

``python -m torch.distributed.run --nproc_per_node=2 ddp_family_worker.py FAMILY PROBE RUN_DIR``
writes ``PROBE/seen{rank}.json`` (the ids of the training items of each batch) and
``PROBE/weights{rank}.pt`` (the trained weights).
"""

import json
import sys
from pathlib import Path

import torch

from neuroattn.training import distributed


def tensor_brain(run_dir: Path, seen: list) -> torch.nn.Module:
    from neuroattn.datasets.synthetic.tb_shapes import TBShapesConfig, make_tb_shapes
    from neuroattn.semantic import TensorBrainPerception, fit_tensor_brain
    from neuroattn.semantic.scene_training import SceneTaskBatches

    batch_of = SceneTaskBatches._batch

    def recorded(self, scenes, pick):
        seen.append(scenes.tolist())
        return batch_of(self, scenes, pick)

    SceneTaskBatches._batch = recorded
    world = make_tb_shapes(TBShapesConfig.ci(n_train=10, n_test_known=0, n_test_novel=0))
    model = TensorBrainPerception.for_world(world, dim=8, seed=0,
                                            encoder_kwargs={"channels": (4, 4)})
    fit_tensor_brain(model, world, run_dir, epochs=1, scenes_per_batch=2, device="cpu",
                     progress=False, warmup_steps=0)
    return model


def retina(run_dir: Path, seen: list) -> torch.nn.Module:
    from neuroattn.retina import CartesianResNet, FixationCrop
    from neuroattn.retina.training import fit_fixation_classifier, fixation_batches

    n = 10
    images = torch.rand(n, 1, 24, 24, generator=torch.Generator().manual_seed(0))
    fixations = torch.stack([torch.linspace(8.0, 16.0, n), torch.full((n,), 12.0)], 1)
    batches = fixation_batches(images, torch.arange(n) % 3, fixations, batch_size=2, seed=0)
    iterate = type(batches).__iter__

    def recorded(self):
        for batch in iterate(self):
            seen.append([round(float(x), 4) for x in batch[1][:, 0]])   # fixation x: the id
            yield batch

    type(batches).__iter__ = recorded
    torch.manual_seed(0)
    model = CartesianResNet("resnet18", num_classes=3, in_channels=1, crop=FixationCrop(16))
    fit_fixation_classifier(model, batches, run_dir, epochs=1, device="cpu", progress=False)
    return model


def kg(run_dir: Path, seen: list) -> torch.nn.Module:
    import numpy as np

    from neuroattn.datasets.knowledge_graphs import KnowledgeGraph
    from neuroattn.semantic.kg import ComplEx, fit_kg

    triples = np.array([(h, h % 3, (h + 1 + h % 3) % 10) for h in range(10)])  # 10 distinct
    graph = KnowledgeGraph(tuple("abcdefghij"), ("r", "s", "t"), triples, triples[:2],
                           triples[2:4])
    model = ComplEx(10, 3, dim=4, seed=0)
    loss = model.kg_loss

    def recorded(batch, **kwargs):
        seen.append(["-".join(map(str, row)) for row in batch.tolist()])
        return loss(batch, **kwargs)

    model.kg_loss = recorded
    fit_kg(model, graph, run_dir, epochs=1, batch_size=2, lr=0.05, progress=False)
    del model.kg_loss
    return model


def tiny_clip(run_dir: Path, seen: list) -> torch.nn.Module:
    from neuroattn.datasets.synthetic import make_captioned_scenes
    from neuroattn.gaze.neva import toy_encoders
    from neuroattn.gaze.neva.toy_encoders import fit_tiny_clip

    share = toy_encoders.rank_share

    def recorded(n):          # the batches of the plan this rank trains on, by index
        mine = share(n)
        seen[:] = [[f"batch{i}"] for i in mine]    # (called by len() and by iter())
        return mine

    toy_encoders.rank_share = recorded
    scenes = make_captioned_scenes(12, size=32, seed=0)
    return fit_tiny_clip(scenes, run_dir, steps=5, batch_size=4, width=4, embed_dim=8,
                         device="cpu", progress=False)


if __name__ == "__main__":
    family, probe, run_dir = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    distributed.init_distributed(torch.device("cpu"))
    seen: list = []
    model = {"tensor_brain": tensor_brain, "retina": retina, "kg": kg,
             "tiny_clip": tiny_clip}[family](run_dir, seen)
    rank = distributed.rank()
    (probe / f"seen{rank}.json").write_text(json.dumps(seen))
    torch.save(model.state_dict(), probe / f"weights{rank}.pt")
    distributed.shutdown()
