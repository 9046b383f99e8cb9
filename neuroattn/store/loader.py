"""Block-shuffled, DDP-aware batching of :class:`~neuroattn.store.IEEGWindows`.

* :class:`ChunkBlockSampler` shuffles *blocks of neighbouring chunks* rather
  than single windows, so consecutive batches reuse decoded chunks, and
  shards blocks across DDP ranks;
* :class:`WindowLoader` (what :func:`make_loader` returns) has workers decode
  whole blocks and ship each sample to the main process once, where the
  batches are cut.

Examples
--------
>>> import tempfile, numpy as np
>>> from neuroattn.store import ieeg_from_array, write_store, IEEGWindows, make_loader
>>> path = write_store(ieeg_from_array(np.random.randn(2000, 4).astype("float32"), 100.0),
...                    tempfile.mkdtemp() + "/rec.zarr")
>>> batch_x, batch_y = next(iter(make_loader(IEEGWindows(path, window_s=2.0), batch_size=8)))
>>> tuple(batch_x.shape)
(8, 4, 200)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from neuroattn.store.windows import IEEGWindows


class ChunkBlockSampler(Sampler[list[int]]):
    """Batches of window indices, shuffled by blocks of neighbouring chunks.

    Each epoch the blocks (``chunks_per_block`` consecutive chunks) are
    permuted, windows are shuffled within each block, and the stream is cut
    into batches, so a batch touches one or two blocks. Under DDP every rank
    takes a disjoint set of blocks and the same number of batches.

    Parameters
    ----------
    dataset : IEEGWindows
    batch_size : int
    shuffle : bool
        ``False`` gives windows in time order (evaluation).
    seed : int
        Base seed; the epoch is added (call :meth:`set_epoch`).
    rank, world_size : int, optional
        DDP shard; read from ``torch.distributed`` when it is initialised.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from neuroattn.store import ieeg_from_array, write_store, IEEGWindows
    >>> path = write_store(ieeg_from_array(np.zeros((1000, 2), "float32"), sfreq=10.0),
    ...                    tempfile.mkdtemp() + "/r.zarr", chunk_mb=0.001)
    >>> windows = IEEGWindows(path, window_s=1.0)
    >>> shards = [set(sum(ChunkBlockSampler(windows, 4, rank=r, world_size=2), []))
    ...           for r in (0, 1)]
    >>> shards[0].isdisjoint(shards[1])
    True
    """

    def __init__(
        self,
        dataset: IEEGWindows,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        chunks_per_block: int = 2,
        drop_last: bool = False,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        if rank is None or world_size is None:
            dist = torch.distributed
            ddp = dist.is_available() and dist.is_initialized()
            rank = dist.get_rank() if ddp else 0
            world_size = dist.get_world_size() if ddp else 1
        if not 0 <= rank < world_size:
            raise ValueError(f"rank={rank} must be in [0, world_size={world_size}).")
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.rank, self.world_size = rank, world_size
        self.epoch = 0
        block_of = np.asarray(dataset.chunk_of(np.arange(len(dataset)))) // chunks_per_block
        self.blocks = [np.flatnonzero(block_of == b) for b in np.unique(block_of)]
        if len(self.blocks) < world_size:
            raise ValueError(
                f"Only {len(self.blocks)} chunk block(s) for {world_size} ranks; use smaller "
                "chunks (write_store(chunk_mb=...)) or chunks_per_block=1."
            )

    def set_epoch(self, epoch: int) -> None:
        """Change the shuffle for a new epoch (same on every rank)."""
        self.epoch = epoch

    def plan(self) -> tuple[list[int], list[np.ndarray], int]:
        """This rank's epoch plan: block ids in order, their (shuffled) windows, batch count.

        Every rank computes the plan of all ranks, so the batch count is the
        same everywhere (unequal counts would hang DDP).
        """
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(len(self.blocks)) if self.shuffle else np.arange(len(self.blocks))
        plans = []
        for rank in range(self.world_size):
            ids = [int(b) for b in order[rank::self.world_size]]
            windows = [rng.permutation(self.blocks[b]) if self.shuffle else self.blocks[b]
                       for b in ids]
            plans.append((ids, windows))
        sizes = [sum(len(w) for w in windows) for _, windows in plans]
        n_batches = min(n // self.batch_size if self.drop_last else -(-n // self.batch_size)
                        for n in sizes)
        ids, windows = plans[self.rank]
        return ids, windows, n_batches

    def __iter__(self) -> Iterator[list[int]]:
        _, windows, n_batches = self.plan()
        stream = np.concatenate(windows)
        for b in range(n_batches):
            yield stream[b * self.batch_size:(b + 1) * self.batch_size].tolist()

    def __len__(self) -> int:
        return self.plan()[2]


class _BlockSpans(Dataset):
    """Item ``b`` = samples ``spans[b] = (start, stop)``, in shared memory inside workers."""

    def __init__(self, windows: IEEGWindows, spans: list[tuple[int, int]]) -> None:
        self.windows = windows
        self.spans = spans

    def __len__(self) -> int:
        return len(self.spans)

    def __getitem__(self, block: int) -> torch.Tensor:
        start, stop = self.spans[block]
        shared = torch.utils.data.get_worker_info() is not None
        return self.windows.read_span(start, stop, shared=shared)


class _EpochOrder(Sampler[int]):
    """The block order of the current epoch (set by the loader before iterating)."""

    def __init__(self) -> None:
        self.order: list[int] = []

    def __iter__(self) -> Iterator[int]:
        return iter(self.order)

    def __len__(self) -> int:
        return len(self.order)


class WindowLoader:
    """Batches ``(x, y)`` of windows, fed by workers that decode whole blocks of chunks.

    Each worker reads the chunks of one block (``chunks_per_block`` neighbouring
    chunks) and sends them as one shared-memory tensor; the main process cuts
    the windows. Every chunk is decoded once per epoch and every sample crosses
    between processes once, although windows overlap: a window that runs past
    its block's end is stitched from the two neighbouring blocks when both have
    arrived. (Under DDP, a block whose neighbour belongs to another rank reads
    the few samples it needs itself.)

    Each epoch yields the windows of :class:`ChunkBlockSampler` with the same
    arguments, and the same number of batches; only windows crossing a block
    edge may come in a later batch.

    Parameters
    ----------
    dataset : IEEGWindows
    batch_size : int
    shuffle, seed, chunks_per_block, drop_last, rank, world_size
        As for :class:`ChunkBlockSampler` (DDP rank and world size are read from
        ``torch.distributed`` when it is initialised).
    num_workers : int
        Decoding processes (0 decodes in the main process).
    multiprocessing_context : str, optional
        ``"fork"`` is safe: no dask runs in workers.
    pin_memory : bool, optional
        Pin batches for fast GPU copies; default when CUDA is available.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from neuroattn.store import ieeg_from_array, write_store, IEEGWindows
    >>> path = write_store(ieeg_from_array(np.zeros((1000, 2), "float32"), sfreq=10.0),
    ...                    tempfile.mkdtemp() + "/r.zarr", chunk_mb=0.001)
    >>> loader = WindowLoader(IEEGWindows(path, window_s=2.0, stride_s=1.0), batch_size=16)
    >>> [tuple(x.shape) for x, y in loader][:2], len(loader)
    ([(16, 2, 20), (16, 2, 20)], 7)
    """

    def __init__(
        self,
        dataset: IEEGWindows,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        chunks_per_block: int = 2,
        drop_last: bool = False,
        rank: int | None = None,
        world_size: int | None = None,
        num_workers: int = 0,
        multiprocessing_context: str | None = None,
        pin_memory: bool | None = None,
    ) -> None:
        self.dataset = dataset
        self.sampler = ChunkBlockSampler(dataset, batch_size, shuffle=shuffle, seed=seed,
                                         chunks_per_block=chunks_per_block, drop_last=drop_last,
                                         rank=rank, world_size=world_size)
        self.batch_size = batch_size
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else pin_memory
        self._plan_geometry(chunks_per_block)
        self._order = _EpochOrder()
        self._blocks = DataLoader(
            _BlockSpans(dataset, self._spans), batch_size=None, sampler=self._order,
            num_workers=num_workers, persistent_workers=num_workers > 0,
            multiprocessing_context=multiprocessing_context if num_workers > 0 else None)

    def _plan_geometry(self, chunks_per_block: int) -> None:
        """Per block: its own sample range, what it reads, and its edge-crossing windows."""
        ds, sampler = self.dataset, self.sampler
        block_len = chunks_per_block * ds.chunk_len
        numbers = [int(ds.chunk_of(b[0])) // chunks_per_block for b in sampler.blocks]
        n = len(numbers)
        self._own = [(k * block_len, min((k + 1) * block_len, ds.n_times)) for k in numbers]
        self._crossing = []
        for i, block in enumerate(sampler.blocks):
            ends = ds.starts[block] + ds.window
            self._crossing.append(block[ends > self._own[i][1]])
        # Without DDP every successor is local, so blocks read only their own chunks;
        # with DDP, successors may live on another rank: read the overhang directly.
        stitch = sampler.world_size == 1
        self._stitch = [
            stitch and i + 1 < n and numbers[i + 1] == numbers[i] + 1 and (
                len(c) == 0 or int(ds.starts[c].max()) + ds.window <= self._own[i + 1][1])
            for i, c in enumerate(self._crossing)]
        self._spans = [
            (own[0], own[1] if self._stitch[i] or len(self._crossing[i]) == 0
             else int(ds.starts[self._crossing[i]].max()) + ds.window)
            for i, own in enumerate(self._own)]

    def set_epoch(self, epoch: int) -> None:
        """Reshuffle for a new epoch (same on every rank)."""
        self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.sampler)

    def _stitched(self, i: int, tail: np.ndarray, head: np.ndarray, idx: np.ndarray) -> tuple:
        """Queue entry for block ``i``'s edge-crossing windows: its tail + the next head."""
        first = self._own[i][1] - tail.shape[1]
        return np.concatenate([tail, head], axis=1), first, idx

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        ds = self.dataset
        ids, windows, n_batches = self.sampler.plan()
        self._order.order = ids
        # Split each block's (shuffled) windows into those inside its read span
        # and those to be stitched with the next block.
        inner, crossing = {}, {}
        for i, idx in zip(ids, windows, strict=True):
            if self._stitch[i] and len(self._crossing[i]):
                mask = np.isin(idx, self._crossing[i])
                crossing[i], inner[i] = idx[mask], idx[~mask]
            else:
                inner[i] = idx
        overhang = ds.window - 1
        heads: dict[int, np.ndarray] = {}
        tails: dict[int, np.ndarray] = {}
        queue: deque[tuple[np.ndarray, int, np.ndarray]] = deque()
        n_queued = 0
        spans = iter(self._blocks)
        arrivals = iter(ids)
        for _ in range(n_batches):
            while n_queued < self.batch_size:
                i = next(arrivals, None)
                if i is None:
                    break
                data = next(spans).numpy()
                entries = [(data, self._spans[i][0], inner[i])]
                if i in crossing:  # my windows that run into block i + 1
                    first = int(ds.starts[crossing[i]].min())
                    tail = data[:, first - self._own[i][0]:]
                    if i + 1 in heads:
                        entries.append(self._stitched(i, tail, heads.pop(i + 1), crossing[i]))
                    else:
                        tails[i] = tail.copy()
                if i - 1 in crossing:  # block i - 1's windows that run into me
                    head = data[:, :overhang]
                    if i - 1 in tails:
                        entries.append(self._stitched(i - 1, tails.pop(i - 1), head,
                                                      crossing[i - 1]))
                    else:
                        heads[i] = head.copy()
                for entry in entries:
                    if len(entry[2]):
                        queue.append(entry)
                        n_queued += len(entry[2])
            yield self._cut(queue, min(self.batch_size, n_queued))
            n_queued -= min(self.batch_size, n_queued)

    def _cut(self, queue: deque, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Take ``size`` windows from the front of the queue into one batch."""
        ds = self.dataset
        x = torch.empty((size, ds.n_channels, ds.window), pin_memory=self.pin_memory)
        y = torch.empty(size, dtype=torch.int64)
        out, filled = x.numpy(), 0
        while filled < size:
            data, first, left = queue[0]
            take = left[: size - filled]
            for row, i in enumerate(take, start=filled):
                offset = ds.starts[i] - first
                out[row] = data[:, offset:offset + ds.window]
            y[filled:filled + len(take)] = torch.from_numpy(ds.labels[take])
            filled += len(take)
            if len(take) == len(left):
                queue.popleft()
            else:
                queue[0] = (data, first, left[len(take):])
        return x, y


def make_loader(
    dataset: IEEGWindows,
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: int = 0,
    num_workers: int = 0,
    **kwargs,
) -> WindowLoader:
    """The recommended loader: a :class:`WindowLoader` (see it for all options).

    ``fork`` workers are safe here because no dask runs inside them.
    """
    return WindowLoader(dataset, batch_size, shuffle=shuffle, seed=seed,
                        num_workers=num_workers, **kwargs)
