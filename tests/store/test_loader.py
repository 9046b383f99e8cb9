"""ChunkBlockSampler and WindowLoader: coverage, exact batches, fork safety, DDP shards."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from neuroattn.store import (
    ChunkBlockSampler,
    IEEGWindows,
    ieeg_from_array,
    make_loader,
    write_store,
)


@pytest.fixture
def test_sampler_covers_everything_once_and_reuses_chunks(store):
    path, _ = store
    w = IEEGWindows(path, window_s=1.0, stride_s=0.25)
    sampler = ChunkBlockSampler(w, batch_size=16, seed=3)
    batches = list(sampler)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(w)))
    # each batch stays within few chunks (block shuffling, not global shuffling)
    spans = [len(set(w.chunk_of(np.array(b)).tolist())) for b in batches]
    assert max(spans) <= 4
    sampler.set_epoch(1)
    assert [b for b in sampler] != batches
    assert len(sampler) == len(batches)


def test_sampler_shards_are_disjoint_and_equal(store):
    path, _ = store
    w = IEEGWindows(path, window_s=1.0, stride_s=0.5)
    shards = [list(ChunkBlockSampler(w, 8, seed=0, chunks_per_block=1, rank=r, world_size=3))
              for r in range(3)]
    sets = [set(np.concatenate(s).tolist()) for s in shards]
    assert all(a.isdisjoint(b) for i, a in enumerate(sets) for b in sets[i + 1:])
    assert len({len(s) for s in shards}) == 1
    with pytest.raises(ValueError, match="rank=3"):
        ChunkBlockSampler(w, 8, rank=3, world_size=3)


def test_loader_batches(store):
    path, data = store
    loader = make_loader(IEEGWindows(path, window_s=2.0), batch_size=5, shuffle=False)
    x, y = next(iter(loader))
    assert x.shape == (5, 4, 200) and y.shape == (5,)
    np.testing.assert_array_equal(x[1].numpy(), data[200:400, [0, 1, 3, 4]].T)  # time order


FORK_AFTER_DASK = """
import sys, torch
from neuroattn.store import open_store, IEEGWindows, make_loader
path = sys.argv[1]
# The parent runs a dask computation first, as a notebook would...
print(float(open_store(path).signal.mean().compute()))
# ...then forks DataLoader workers.
loader = make_loader(IEEGWindows(path, window_s=1.0), batch_size=8, num_workers=2,
                     multiprocessing_context="fork")
n = sum(x.shape[0] for x, _ in loader)
print("windows", n)
"""


def test_fork_workers_after_parent_dask_compute(store):
    """Regression: forked workers deadlock if they use dask after the parent did."""
    path, _ = store
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(FORK_AFTER_DASK), str(path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "windows 60" in result.stdout


def test_window_loader_ddp_shards_and_drop_last(store):
    path, _ = store
    w = IEEGWindows(path, window_s=1.0, stride_s=0.5)
    loaders = [make_loader(w, 7, chunks_per_block=1, rank=r, world_size=2, drop_last=True)
               for r in (0, 1)]
    batches = [list(loader) for loader in loaders]
    assert len(batches[0]) == len(batches[1]) > 0
    assert all(x.shape[0] == 7 for b in batches for x, _ in b)


DDP_SCRIPT = """
import json, sys
import torch.distributed as dist
from neuroattn.store import IEEGWindows, ChunkBlockSampler
dist.init_process_group("gloo")
sampler = ChunkBlockSampler(IEEGWindows(sys.argv[1], window_s=1.0), 4, chunks_per_block=1)
mine = sorted(i for b in sampler for i in b)
shards = [None] * dist.get_world_size()
dist.all_gather_object(shards, {"rank": sampler.rank, "n": len(sampler), "ids": mine})
if dist.get_rank() == 0:
    print(json.dumps(shards))
dist.destroy_process_group()
"""


@pytest.mark.slow
def test_torchrun_ranks_get_distinct_shards(store, tmp_path):
    """Under torchrun (gloo, CPU) the sampler reads its rank and shards by itself."""
    import json

    path, _ = store
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(script), str(path)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    shards = json.loads(out.stdout.strip().splitlines()[-1])
    assert [s["rank"] for s in shards] == [0, 1]
    assert shards[0]["n"] == shards[1]["n"] > 0
    assert set(shards[0]["ids"]).isdisjoint(shards[1]["ids"])


@pytest.mark.parametrize("num_workers", [0, 2])
@pytest.mark.parametrize("stride_s", [0.5, 3.0])
@pytest.mark.parametrize("world_size", [1, 2])
def test_window_loader_yields_the_sampler_windows(tmp_path, num_workers, stride_s, world_size):
    """Every window of the sampler's epoch comes out once, with the right samples and label.

    The samples encode their own time index, so each row tells which window it is.
    """
    n, sfreq = 6000, 100.0
    data = (np.arange(n)[:, None] * 8 + np.arange(3)[None, :]).astype("float32")
    ds = ieeg_from_array(data, sfreq=sfreq, annotations={
        "onset": [20.0], "duration": [5.0], "description": ["seizure"]})
    path = write_store(ds, tmp_path / "idx.zarr", chunks={"signal": (700, 3)})
    w = IEEGWindows(path, window_s=2.0, stride_s=stride_s, label_segment_s=1.0)
    for rank in range(world_size):
        kwargs = dict(seed=5, chunks_per_block=2, rank=rank, world_size=world_size)
        loader = make_loader(w, 12, num_workers=num_workers, multiprocessing_context="fork",
                             **kwargs)
        for epoch in (0, 1):
            loader.set_epoch(epoch)
            sampler = ChunkBlockSampler(w, 12, **kwargs)
            sampler.set_epoch(epoch)
            expected = [i for batch in sampler for i in batch]
            batches = list(loader)
            assert len(batches) == len(sampler) == len(loader)
            seen = []
            for x, y in batches:
                starts = (x[:, 0, 0].numpy() // 8).astype(int)
                ids = np.searchsorted(w.starts, starts)
                np.testing.assert_array_equal(w.starts[ids], starts)
                want = np.stack([data[s:s + 200].T for s in starts])
                np.testing.assert_array_equal(x.numpy(), want)
                np.testing.assert_array_equal(y.numpy(), w.labels[ids])
                seen.extend(ids.tolist())
            assert sorted(seen) == sorted(expected)
