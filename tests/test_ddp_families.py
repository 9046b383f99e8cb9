"""DDP under torchrun on the CPU (gloo) for the model families trained on ``Trainer``.

Two ranks must train on disjoint shards that together cover the data, end with
identical weights, and leave one run directory written by rank 0 (the iEEG
command line and OAT have their own tests, in tests/train_ieeg/test_ddp.py and
tests/gaze/oat/test_training.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = Path(__file__).with_name("ddp_family_worker.py")


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize(("family", "n_items", "per_batch"), [
    ("tensor_brain", 10, 2), ("retina", 10, 2), ("kg", 10, 2), ("tiny_clip", 5, 1)])
def test_two_ranks_split_the_data_and_agree_on_the_weights(family, n_items, per_batch, tmp_path):
    probe, run_dir = tmp_path / "probe", tmp_path / "run"
    probe.mkdir()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(WORKER), family, str(probe), str(run_dir)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=500, env=env)
    assert done.returncode == 0, done.stderr[-3000:]

    seen = [json.loads((probe / f"seen{r}.json").read_text()) for r in (0, 1)]
    assert len(seen[0]) == len(seen[1]) == 3        # 5 batches: ceil(5 / 2) each, one wraps
    ids = [{i for batch in s for i in batch} for s in seen]
    firsts = [{i for i in s[0]} for s in seen]
    assert not firsts[0] & firsts[1]               # different batches at the same step
    assert len(ids[0] | ids[1]) == n_items         # together: every item of the epoch
    assert len(ids[0] & ids[1]) <= per_batch       # overlap: only the one wrapped batch

    w0, w1 = (torch.load(probe / f"weights{r}.pt", weights_only=True) for r in (0, 1))
    assert w0.keys() == w1.keys()
    assert all(torch.equal(w0[k], w1[k]) for k in w0)
    saved = torch.load(run_dir / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(saved[k], w0[k]) for k in w0)   # rank 0 saved the shared weights
    steps = [json.loads(r)["step"] for r in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps))                       # each row logged once
