"""Chunk-aware torch loading of fixed-length iEEG windows.

Reading one window at a time through xarray/dask costs a full chunk
decompression plus graph overhead per sample. Here:

* :class:`IEEGWindows` is a map-style Dataset whose ``__getitems__`` decodes
  every chunk a batch touches once (with a small per-process cache);
* :class:`ChunkBlockSampler` shuffles *blocks of neighbouring chunks* rather
  than single windows, so consecutive batches reuse decoded chunks, and
  shards blocks across DDP ranks;
* :class:`WindowLoader` (what :func:`make_loader` returns) has workers decode
  whole blocks and ship each sample to the main process once, where the
  batches are cut.

Workers never use dask: each process opens the zarr array itself on first
use, which is why loading is safe under ``fork`` even after the parent ran a
dask computation.

Examples
--------
>>> import tempfile, numpy as np
>>> from neuroattn.store import ieeg_from_array, write_store, IEEGWindows, make_loader
>>> ds = ieeg_from_array(np.random.randn(2000, 4).astype("float32"), sfreq=100.0,
...                      annotations={"onset": [5.0], "duration": [3.0],
...                                   "description": ["seizure"]})
>>> path = write_store(ds, tempfile.mkdtemp() + "/rec.zarr")
>>> windows = IEEGWindows(path, window_s=2.0, stride_s=1.0, label_segment_s=1.0)
>>> x, y = windows[0]
>>> tuple(x.shape), int(windows.labels.sum())
((4, 200), 3)
>>> batch_x, batch_y = next(iter(make_loader(windows, batch_size=8)))
>>> tuple(batch_x.shape)
(8, 4, 200)
"""

from __future__ import annotations

import os
from collections import OrderedDict, deque
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
import zarr
from torch.utils.data import DataLoader, Dataset, Sampler

from neuroattn.store.io import open_store


def seizure_intervals(annotations: dict | None, prefix: str = "seizure") -> np.ndarray:
    """``(n, 2)`` onset/offset seconds of annotations whose description starts with ``prefix``.

    Examples
    --------
    >>> seizure_intervals({"onset": [1.0, 5.0], "duration": [2.0, 1.0],
    ...                    "description": ["seizure", "artifact"]})
    array([[1., 3.]])
    """
    if not annotations:
        return np.zeros((0, 2))
    rows = [(on, on + dur) for on, dur, desc in zip(
        annotations["onset"], annotations["duration"], annotations["description"], strict=True)
        if str(desc).lower().startswith(prefix)]
    return np.asarray(rows, dtype=float).reshape(-1, 2)


class IEEGWindows(Dataset):
    """Fixed-length windows over an iEEG store, as ``(x, y)`` pairs.

    ``x`` is a float32 tensor ``(n_channels, window_samples)``; ``y`` is 1 if
    the window's last segment (``label_segment_s`` long, the whole window by
    default) overlaps a seizure annotation, else 0. This is MVPFormer's
    online-detection convention: decide about the newest segment given the
    context before it.

    Parameters
    ----------
    path : path-like
        An iEEG store.
    window_s, stride_s : float
        Window length and hop in seconds (stride defaults to the window).
    channels : sequence of str or int, optional
        Channel subset, by name or index; default all channels not marked bad.
    label_segment_s : float, optional
        Length of the labelled last segment.
    cache_chunks : int
        Decoded chunks kept per process.
    check : {"quick", "full", "none"}
        Validation done once when the dataset is created.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        window_s: float,
        stride_s: float | None = None,
        *,
        channels: Sequence[str | int] | None = None,
        label_segment_s: float | None = None,
        label_prefix: str = "seizure",
        cache_chunks: int = 4,
        check: str = "quick",
    ) -> None:
        self.path = Path(path)
        ds = open_store(self.path, kind="ieeg", check=check, chunks=None)
        self.sfreq = float(ds.attrs["sfreq"])
        self.n_times = int(ds.sizes["time"])
        names = [str(c) for c in ds["channel"].values]
        bad = np.asarray(ds["bad"].values, bool) if "bad" in ds.coords else np.zeros(len(names))
        self.channel_index = self._select_channels(names, bad, channels)
        self.ch_names = [names[i] for i in self.channel_index]
        self._all_channels = len(self.channel_index) == len(names) and np.array_equal(
            self.channel_index, np.arange(len(names)))
        self.chunk_len = int(ds["signal"].encoding["chunks"][0])
        self.window = self._samples(window_s, "window_s")
        self.stride = self._samples(stride_s if stride_s is not None else window_s, "stride_s")
        if self.window > self.n_times:
            raise ValueError(
                f"window_s={window_s} ({self.window} samples) is longer than the recording "
                f"({self.n_times / self.sfreq:.1f} s); use a shorter window."
            )
        self.starts = np.arange(0, self.n_times - self.window + 1, self.stride, dtype=np.int64)
        segment = self.window if label_segment_s is None else self._samples(
            label_segment_s, "label_segment_s")
        if segment > self.window:
            raise ValueError("label_segment_s cannot exceed window_s.")
        self.seizures = seizure_intervals(ds.attrs.get("annotations"), label_prefix)
        self.labels = self._label(segment)
        self.cache_chunks = max(1, int(cache_chunks))
        self._pid: int | None = None
        self._array: zarr.Array | None = None
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()

    def __getstate__(self) -> dict:
        # Spawned workers get no open array and no cached chunks; they reopen lazily.
        return {**self.__dict__, "_pid": None, "_array": None, "_cache": OrderedDict()}

    def _samples(self, seconds: float, name: str) -> int:
        n = int(round(seconds * self.sfreq))
        if n < 1:
            raise ValueError(f"{name}={seconds} is shorter than one sample at {self.sfreq} Hz.")
        return n

    @staticmethod
    def _select_channels(names: list[str], bad: np.ndarray,
                         channels: Sequence[str | int] | None) -> np.ndarray:
        if channels is None:
            keep = np.flatnonzero(~bad)
            if keep.size == 0:
                raise ValueError("Every channel is marked bad; pass channels=... explicitly.")
            return keep
        index = []
        for ch in channels:
            if isinstance(ch, int | np.integer):
                if not 0 <= ch < len(names):
                    raise ValueError(f"Channel index {ch} is out of range (0..{len(names) - 1}).")
                index.append(int(ch))
            elif ch in names:
                index.append(names.index(ch))
            else:
                raise ValueError(f"Channel {ch!r} is not in the store; it has {names[:8]}...")
        return np.asarray(index, dtype=np.int64)

    def _label(self, segment: int) -> np.ndarray:
        seg_start = (self.starts + self.window - segment) / self.sfreq
        seg_end = (self.starts + self.window) / self.sfreq
        labels = np.zeros(len(self.starts), dtype=np.int64)
        for onset, offset in self.seizures:
            labels |= (seg_start < offset) & (seg_end > onset)
        return labels

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def n_channels(self) -> int:
        return len(self.channel_index)

    def chunk_of(self, index: np.ndarray | int) -> np.ndarray | int:
        """The chunk in which window ``index`` starts."""
        return self.starts[index] // self.chunk_len

    def _chunk(self, k: int) -> np.ndarray:
        """Chunk ``k`` as decoded from disk, ``(chunk_len, n_channels)``, cached."""
        if self._pid != os.getpid():  # first use in this process (e.g. a forked worker)
            self._array = zarr.open_array(self.path / "signal", mode="r")
            self._cache.clear()
            self._pid = os.getpid()
        block = self._cache.get(k)
        if block is None:
            block = self._array[k * self.chunk_len:(k + 1) * self.chunk_len]
            if not self._all_channels:
                block = block[:, self.channel_index]
            self._cache[k] = block
            if len(self._cache) > self.cache_chunks:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(k)
        return block

    def _fill(self, out: np.ndarray, start: int) -> None:
        """Copy samples ``start:start + out.shape[1]`` into ``out`` (C, n), transposing."""
        stop, pos = start + out.shape[1], start
        while pos < stop:
            k, off = divmod(pos, self.chunk_len)
            n = min(stop - pos, self.chunk_len - off)
            out[:, pos - start:pos - start + n] = self._chunk(k)[off:off + n].T
            pos += n

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Read a batch of windows as a list of ``(x, y)`` samples.

        Windows are cut in time order, so each chunk is decoded at most once.
        """
        indices = np.asarray(indices, dtype=np.int64)
        x = torch.empty((len(indices), self.n_channels, self.window))
        out = x.numpy()
        for pos in np.argsort(self.starts[indices], kind="stable"):
            self._fill(out[pos], int(self.starts[indices[pos]]))
        return list(zip(x, torch.from_numpy(self.labels[indices]), strict=True))

    def read_span(self, start: int, stop: int, *, shared: bool = False) -> torch.Tensor:
        """Samples ``start:stop`` of the selected channels as a ``(C, stop - start)`` tensor.

        ``shared=True`` allocates it in shared memory, so a DataLoader worker
        hands it to the main process without another copy.
        """
        shape = (self.n_channels, stop - start)
        if shared:  # what torch's default_collate does inside workers
            storage = torch.empty(0)._typed_storage()._new_shared(shape[0] * shape[1])
            span = torch.empty(0).new(storage).view(shape)
        else:
            span = torch.empty(shape)
        self._fill(span.numpy(), start)
        return span

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"window {index} out of range for {len(self)} windows")
        return self.__getitems__([index % len(self)])[0]


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
