"""ChunkBlockSampler, WindowLoader and WindowBatch: coverage, exact (golden) batches,
one transfer per block, fork safety, DDP shards."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from neuroattn.store import (
    ChunkBlockSampler,
    IEEGWindows,
    WindowBatch,
    ieeg_from_array,
    make_loader,
    read_batch,
    write_store,
)


def encoded_store(path, n=6000, n_channels=3, sfreq=100.0, chunk=700, onsets=(20.0,)):
    """A store whose sample ``t`` of channel ``c`` is ``8 t + c``: each window tells its start."""
    data = (np.arange(n)[:, None] * 8 + np.arange(n_channels)[None, :]).astype("float32")
    ds = ieeg_from_array(data, sfreq=sfreq, annotations={
        "onset": list(onsets), "duration": [5.0] * len(onsets),
        "description": ["seizure"] * len(onsets)})
    return write_store(ds, path, chunks={"signal": (chunk, n_channels)}), data


def window_record(batches, data, window):
    """Per batch: window starts and labels, after checking every sample of every window."""
    record = []
    for x, y in batches:
        starts = (x[:, 0, 0].numpy() // 8).astype(int)
        np.testing.assert_array_equal(x.numpy(), np.stack([data[s:s + window].T for s in starts]))
        record.append([starts.tolist(), y.tolist()])
    return record


def digest(record) -> str:
    return hashlib.sha256(json.dumps(record).encode()).hexdigest()[:16]


# Recorded with the loader that cut every window on the host (before WindowBatch): the
# number of batches and a digest of their window starts and labels, over shuffle on/off,
# 1 and 2 DDP ranks (every rank), drop_last on/off and epochs 0 and 1. Stride 15 s
# jumps over whole 14-s blocks; 16-s windows are longer than a block.
GOLDEN = {(2.0, 0.5): (148, "20a1c0f63464dc27"), (2.0, 3.0): (20, "8d170893ae3dc9dd"),
          (2.0, 15.0): (12, "2b29a2af0db203fc"), (16.0, 1.0): (52, "39125b5b2aee269c")}


@pytest.mark.parametrize(("window_s", "stride_s"), sorted(GOLDEN))
def test_batches_equal_the_golden_ones(tmp_path, window_s, stride_s):
    path, data = encoded_store(tmp_path / "idx.zarr")
    w = IEEGWindows(path, window_s=window_s, stride_s=stride_s, label_segment_s=1.0)
    records = []
    for shuffle in (True, False):
        for world_size in (1, 2):
            for rank in range(world_size):
                for drop_last in (False, True):
                    loader = make_loader(w, 12, shuffle=shuffle, seed=5, chunks_per_block=2,
                                         rank=rank, world_size=world_size, drop_last=drop_last)
                    for epoch in (0, 1):
                        loader.set_epoch(epoch)
                        records.append(window_record(list(loader), data, w.window))
    assert (sum(map(len, records)), digest(records)) == GOLDEN[window_s, stride_s]


@pytest.mark.parametrize(("time_major", "num_workers"), [(False, 0), (True, 0), (True, 2)])
def test_window_batches_cut_the_same_windows_as_the_tuples(tmp_path, time_major, num_workers):
    path, data = encoded_store(tmp_path / "idx.zarr")
    w = IEEGWindows(path, window_s=2.0, stride_s=0.5)
    kwargs = dict(seed=1, chunks_per_block=2)
    tuples = list(make_loader(w, 12, **kwargs))
    batches = list(make_loader(w, 12, yield_batches=True, time_major=time_major,
                               num_workers=num_workers, multiprocessing_context="fork",
                               **kwargs))
    assert all(isinstance(b, WindowBatch) for b in batches)
    # Windows crossing a block edge come from two blocks, joined where they are cut.
    assert any(len(span.pieces) == 2 for b in batches for span, _ in b.parts)
    for (x0, y0), batch in zip(tuples, batches, strict=True):
        x1, y1 = batch.to("cpu")
        assert torch.equal(x0, x1) and torch.equal(y0, y1) and y1.dtype == torch.int64


@pytest.mark.parametrize("indices", [[7, 3, 30, 3, 55], [10, 11, 12, 13], [57]])
def test_read_batch_equals_getitems(store, indices):
    path, _ = store
    w = IEEGWindows(path, window_s=3.0, stride_s=1.0, label_segment_s=1.0)
    x, y = read_batch(w, indices).to("cpu")
    items = w.__getitems__(indices)
    assert torch.equal(x, torch.stack([a for a, _ in items]))
    assert torch.equal(y, torch.stack([b for _, b in items]))
    with pytest.raises(ValueError, match="in 0.."):
        read_batch(w, [len(w)])


def test_window_batch_checks_its_arguments():
    block = torch.zeros(2, 10)
    with pytest.raises(ValueError, match="one label per window"):
        WindowBatch([(block, np.array([0, 1]))], np.array([0]), window=4)
    with pytest.raises(ValueError, match="do not fit"):
        WindowBatch([(block, np.array([7]))], np.array([0]), window=4)
    with pytest.raises(ValueError, match="needs"):
        WindowBatch([(block, np.array([0]))], np.array([0]), window=4).to(
            "cpu", out=torch.empty(1, 2, 5))


class HostToDevice(TorchDispatchMode):
    """Records the element count of every copy from the CPU to another device."""

    def __init__(self) -> None:
        super().__init__()
        self.copies: list[int] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.ops.aten._to_copy.default:
            target = kwargs.get("device")
            if args[0].device.type == "cpu" and target is not None and target.type != "cpu":
                self.copies.append(args[0].numel())
        elif func is torch.ops.aten.copy_.default and args[1].device != args[0].device:
            self.copies.append(args[1].numel())
        return func(*args, **kwargs)


def test_a_shared_block_is_copied_to_the_device_once(tmp_path):
    """``meta`` stands in for CUDA: blocks shared by several batches cross once each."""
    path, _ = encoded_store(tmp_path / "idx.zarr", chunk=300)  # 10 blocks of 600 samples
    w = IEEGWindows(path, window_s=2.0, stride_s=0.5)
    batches = list(make_loader(w, 5, seed=2, yield_batches=True, time_major=True))
    blocks = {id(b): b for batch in batches for span, _ in batch.parts for b, _, _ in span.pieces}
    users = [sum(any(b is block for b in batch.staged) for batch in batches)
             for block in (b.data for b in blocks.values())]
    assert max(users) >= 3  # the test needs blocks shared by several batches
    live = []
    with HostToDevice() as mode:
        for batch in batches:
            x, y = batch.to("meta")
            assert x.shape == (len(batch), 3, 200) and y.shape == (len(batch),)
            live.append(sum(b.copy is not None for b in blocks.values()))
    # A block stays on the device only while queued windows need it, never for the
    # neighbour it is stitched with (whose edge waits as a copy of its own).
    assert max(live) <= 2
    # One copy per block and one small index copy (labels and offsets) per batch.
    block_sizes = [b.data.numel() for b in blocks.values()]
    index_sizes = [2 * len(batch) for batch in batches]
    assert sorted(mode.copies) == sorted(block_sizes + index_sizes)
    assert all(b.copy is None and b.remaining == 0 for b in blocks.values())  # freed


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
