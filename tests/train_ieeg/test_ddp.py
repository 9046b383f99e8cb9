"""DDP under torchrun on the CPU (gloo): distinct shards, identical weights, rank 0 writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch


@pytest.mark.slow
def test_two_ranks_split_the_data_and_agree_on_the_weights(tmp_path, patient_stores):
    probe, run_dir = tmp_path / "probe", tmp_path / "run"
    probe.mkdir()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(Path(__file__).with_name("ddp_worker.py")), str(probe), "finetune",
           "--data", *map(str, patient_stores[:2]), "--model", "tiny", "--device", "cpu",
           "--batch-size", "8", "--max-steps", "4", "--no-progress", "--out-dir", str(run_dir),
           "--set", "train.log_every=1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stderr[-3000:]

    seen = [json.loads((probe / f"windows{r}.json").read_text()) for r in (0, 1)]
    for store in range(2):  # per recording: both ranks get windows, never the same ones
        assert seen[0][store] and seen[1][store]
        assert not set(seen[0][store]) & set(seen[1][store])
    w0, w1 = (torch.load(probe / f"weights{r}.pt", weights_only=True) for r in (0, 1))
    assert w0.keys() == w1.keys()
    assert all(torch.equal(w0[k], w1[k]) for k in w0)
    saved = torch.load(run_dir / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(saved[k], w0[k]) for k in w0)  # rank 0 saved the shared weights

    rows = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["step"] for r in rows] == [1, 2, 3, 4]  # logged once, by rank 0
    assert done.stdout.count("finetune finished") == 1
