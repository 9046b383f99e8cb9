"""GPU readiness without a GPU: one training step on the ``meta`` device, audited.

The ``meta`` device runs PyTorch's real dispatch (the aten ops a CUDA step
launches) with no data, so :func:`neuroattn.dispatch_audit.audit_dispatch` can
count what would stall a GPU. Each test runs :meth:`Trainer.training_step`
(the step of ``fit``: device transfer, forward, backward, clipping, AdamW,
schedule, metric accumulation) for an attention path and a task (the second
step: the first one also sets up AdamW's state and one-off caches), at the
MVPFormer-S width with B = 8 windows of T = 25 segments and C = 64 channels
(issue 17's geometry), and asserts its budgets:

* Python-list (or CPU-tensor) indexings of device tensors: at most 5 per layer;
* blocking host-to-device copies, scalar reads and device-to-host copies: at
  most 2 per step, besides the batch's own transfer (x and y, each once);
* aten ops: at most 5,000 per layer on the path CUDA uses by default;
* no op mixes CPU and device tensors.

Per-layer figures are the difference between a 2-layer and a 1-layer model,
so the per-step overhead (tokenizer, loss, optimizer) is not divided away.
To keep the module fast, only the CUDA default path runs both depths; the
other paths run the 1-layer step, whose whole count (one layer plus the
step's overhead) must meet the per-layer list-indexing budget.

FlexAttention is not audited here: it refuses ``meta`` tensors ("only
supported on CUDA, CPU, HPU, or MPS"), and on fake CUDA tensors
(``FakeTensorMode``) it is compiled, which ``torch.compile`` refuses under a
user dispatch mode. The GPU suite's sync audit covers it on a real GPU.

What the meta device cannot show: autocast (it has none, so bf16 casts are not
counted) and the fused CUDA AdamW (meta runs the per-tensor loop, so the
optimizer's op count is an upper bound).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuroattn.dispatch_audit import DispatchReport, audit_dispatch
from neuroattn.ieeg import MVPFormer
from neuroattn.ieeg.config import MVPFormerConfig, preset
from neuroattn.store import WindowBatch
from neuroattn.train_ieeg.tasks import (
    ContrastivePretraining,
    classification_loss,
    prepare_finetuning,
)
from neuroattn.training import TrainConfig, Trainer

B, T, C = 8, 25, 64
PATHS = ("flash", "chunked", "reference")
TASKS = ("pretraining", "finetuning")
LIST_INDEXINGS_PER_LAYER = 5
SYNCS_PER_STEP = 2
BATCH_TRANSFERS = 2  # x and y
OPS_PER_LAYER = 5_000


def cuda_default_attention() -> str:
    """The attention path an MVPFormer uses on CUDA when the config does not name one."""
    return MVPFormerConfig().attention


def audited_step(attention: str, task: str, n_layers: int, tmp_path) -> DispatchReport:
    """Audit a steady-state ``Trainer.training_step`` of an S-width model on the meta device."""
    cfg = preset("mvpformer-s", n_layers=n_layers, attention=attention)  # dropout 0.1
    with torch.device("meta"):
        model = MVPFormer(cfg)
        if task == "pretraining":
            module, loss_fn = ContrastivePretraining(model), ContrastivePretraining.loss
        else:  # train_ieeg's defaults: LoRA, class-weighted cross-entropy
            prepare_finetuning(model, method="lora")
            module, loss_fn = model, classification_loss(torch.tensor([1.0, 5.0], device="cpu"))
    trainer = Trainer(module, loss_fn, TrainConfig(device="meta"),
                      tmp_path / f"{attention}-{task}-{n_layers}", progress=False)
    batch = (torch.empty(B, C, T * cfg.segment_samples), torch.zeros(B, dtype=torch.long))
    for _ in range(2):  # the first step also creates AdamW's state and per-device caches
        with audit_dispatch(expected=batch) as report:
            loss = trainer.training_step(batch)
    assert loss.device.type == "meta" and trainer.step == 2
    return report


@pytest.fixture(scope="module")
def audits(tmp_path_factory):
    """Reports by (attention, task, n_layers), computed once each."""
    cache: dict[tuple[str, str, int], DispatchReport | Exception] = {}
    root = tmp_path_factory.mktemp("meta-steps")

    def get(attention: str, task: str, n_layers: int) -> DispatchReport:
        key = (attention, task, n_layers)
        if key not in cache:
            try:
                cache[key] = audited_step(attention, task, n_layers, root)
            except Exception as err:  # run once; fails every test that uses it
                cache[key] = err
        if isinstance(cache[key], Exception):
            raise cache[key]
        return cache[key]

    return get


def per_layer(audits, attention: str, task: str, figure: str) -> int:
    one, two = audits(attention, task, 1), audits(attention, task, 2)
    return two.summary()[figure] - one.summary()[figure]


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("attention", PATHS)
def test_no_list_indexing_of_device_tensors(audits, attention, task):
    report = audits(attention, task, 1)  # one layer plus the whole step's overhead
    assert report.list_indexings <= LIST_INDEXINGS_PER_LAYER, \
        report.by_site("list_indexings").most_common(5)
    if attention == cuda_default_attention():
        assert per_layer(audits, attention, task, "list_indexings") <= LIST_INDEXINGS_PER_LAYER


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("attention", PATHS)
def test_at_most_two_syncs_per_step(audits, attention, task):
    report = audits(attention, task, 1)
    syncs = [(f.kind, f.site, f.detail) for f in report.findings
             if f.blocking and f.kind != "list_indexings"]
    assert report.syncs <= SYNCS_PER_STEP, syncs
    assert report.expected_copies == BATCH_TRANSFERS  # the batch moves to the device once


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("attention", PATHS)
def test_no_op_mixes_cpu_and_device_tensors(audits, attention, task):
    report = audits(attention, task, 1)
    assert report.mixed_device == 0, report.by_site("mixed_device")


@pytest.mark.parametrize("task", TASKS)
def test_cuda_default_path_launches_at_most_5000_ops_per_layer(audits, task):
    attention = cuda_default_attention()
    ops = per_layer(audits, attention, task, "aten_ops")
    top = audits(attention, task, 2).op_counts.most_common(5)
    assert 0 < ops <= OPS_PER_LAYER, f"{attention}: {ops} aten ops per layer; top ops {top}"


def test_window_batch_reaches_the_device_without_a_sync(tmp_path):
    """The loader's batch (contract C2): its block crosses once and is cut on the device."""
    cfg = preset("mvpformer-s", n_layers=1, attention=cuda_default_attention())
    with torch.device("meta"):
        model = MVPFormer(cfg)
    trainer = Trainer(model, classification_loss(), TrainConfig(device="meta"), tmp_path,
                      progress=False)
    seg = cfg.segment_samples
    block = torch.empty(C, (T + B - 1) * seg)  # B windows of T segments, one segment apart
    batch = WindowBatch([(block, np.arange(B) * seg)], np.zeros(B, dtype=np.int64),
                        window=T * seg)
    with audit_dispatch(expected=batch.staged) as report:
        trainer.training_step(batch)  # a first step: a fresh batch's block crosses every time
    assert report.expected_copies == 1  # the block, once (not B windows)
    # On meta nothing is pinned, so the batch's small index copy counts as one sync here.
    assert report.syncs <= SYNCS_PER_STEP, [(f.kind, f.site) for f in report.findings]
    assert report.list_indexings == 0 and report.mixed_device == 0
