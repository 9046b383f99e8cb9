"""The training losses of train_ieeg: exact values, metrics as device tensors, no host sync."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from neuroattn.dispatch_audit import audit_dispatch
from neuroattn.ieeg import MVPFormer, preset
from neuroattn.ieeg.objectives import next_segment_contrastive_loss
from neuroattn.train_ieeg.tasks import ContrastivePretraining, classification_loss

WEIGHTS = torch.tensor([0.6, 3.0])


def test_classification_loss_is_weighted_cross_entropy():
    torch.manual_seed(0)
    model = nn.Linear(6, 2)
    x, y = torch.randn(9, 6), torch.tensor([0, 1, 1, 0, 0, 1, 0, 0, 1])
    loss, metrics = classification_loss(WEIGHTS)(model, (x, y))
    logits = model(x)
    torch.testing.assert_close(loss, F.cross_entropy(logits, y, weight=WEIGHTS))
    accuracy = metrics["accuracy"]
    assert isinstance(accuracy, torch.Tensor) and accuracy.ndim == 0
    assert not accuracy.requires_grad
    assert float(accuracy) == pytest.approx(int((logits.argmax(-1) == y).sum()) / 9, rel=1e-6)
    unweighted, _ = classification_loss()(model, (x, y))
    torch.testing.assert_close(unweighted, F.cross_entropy(logits, y))


def test_classification_loss_copies_the_weights_once_and_never_syncs():
    with torch.device("meta"):
        model = nn.Linear(6, 2)
    batch = (torch.empty(4, 6, device="meta"), torch.empty(4, dtype=torch.long, device="meta"))
    loss_fn = classification_loss(WEIGHTS)
    with audit_dispatch() as first:
        loss, metrics = loss_fn(model, batch)
        loss.backward()
    with audit_dispatch() as later:
        loss, metrics = loss_fn(model, batch)
        loss.backward()
    assert first.host_to_device == 1  # the weights, once
    assert later.host_to_device == later.syncs == later.mixed_device == 0
    assert metrics["accuracy"].device.type == "meta"


def _tiny(**kwargs):
    torch.manual_seed(0)
    return MVPFormer(preset("tiny", dropout=0.0, **kwargs))


def test_pretraining_loss_is_the_objective_with_a_tensor_accuracy():
    task = ContrastivePretraining(_tiny(), num_negatives=5)
    x = torch.randn(2, 3, 4 * 128, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(7)  # the negatives come from the default generator
    loss, metrics = ContrastivePretraining.loss(task, (x, torch.zeros(2)))
    out = task.model(x, return_features=True)
    torch.manual_seed(7)
    expected = next_segment_contrastive_loss(
        task.model.generative_head(out["hidden"]), out["embeddings"], num_negatives=5)
    torch.testing.assert_close(loss, expected[0])
    accuracy = metrics["accuracy"]
    assert isinstance(accuracy, torch.Tensor) and accuracy.ndim == 0
    assert not accuracy.requires_grad and float(accuracy) == float(expected[1])


@pytest.mark.parametrize("name", ["pretraining", "fine-tuning"])
def test_a_step_of_the_model_and_its_loss_does_not_sync(name):
    """On meta (the stand-in for CUDA): the tokenizer, the finiteness check, the
    model and the loss read no device value and copy nothing from the host."""
    with torch.device("meta"):
        model = _tiny(attention="reference")
    x = torch.empty(2, 5, 4 * 128, device="meta")
    y = torch.empty(2, dtype=torch.long, device="meta")
    if name == "pretraining":
        loss_fn, trained = ContrastivePretraining.loss, ContrastivePretraining(model)
    else:
        loss_fn, trained = classification_loss(WEIGHTS), model
    for call in range(2):
        with audit_dispatch() as report:
            loss, metrics = loss_fn(trained, (x, y))
            loss.backward()
        copies = int(call == 0 and name == "fine-tuning")  # the class weights, once
        assert report.host_to_device == report.syncs == copies, str(report)
        assert report.mixed_device == report.list_indexings == report.scalar_reads == 0
    assert metrics["accuracy"].device.type == "meta"
