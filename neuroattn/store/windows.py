"""Chunk-aware torch loading of fixed-length iEEG windows.

Reading one window at a time through xarray/dask costs a full chunk
decompression plus graph overhead per sample. Here a batch is read with
``__getitems__``: every chunk it touches is decoded once, kept in a small
per-process cache, and all windows are cut from memory. The
:class:`ChunkBlockSampler` shuffles *blocks of neighbouring chunks* instead
of single windows, so consecutive batches reuse the cache.

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

import itertools
import os
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
import zarr
from torch.utils.data import DataLoader, Dataset, Sampler, default_collate

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
        """Chunk ``k`` as a contiguous ``(n_channels, chunk_len)`` array, cached."""
        if self._pid != os.getpid():  # first use in this process (e.g. a forked worker)
            self._array = zarr.open_array(self.path / "signal", mode="r")
            self._cache.clear()
            self._pid = os.getpid()
        block = self._cache.get(k)
        if block is None:
            raw = self._array[k * self.chunk_len:(k + 1) * self.chunk_len]
            if not self._all_channels:
                raw = raw[:, self.channel_index]
            # Transpose once per chunk, not once per (overlapping) window.
            block = np.ascontiguousarray(raw.T, dtype=np.float32)
            self._cache[k] = block
            if len(self._cache) > self.cache_chunks:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(k)
        return block

    def _fill(self, out: np.ndarray, start: int) -> None:
        """Copy the window starting at sample ``start`` into ``out`` (C, W)."""
        stop, pos = start + self.window, start
        while pos < stop:
            k, off = divmod(pos, self.chunk_len)
            n = min(stop - pos, self.chunk_len - off)
            out[:, pos - start:pos - start + n] = self._chunk(k)[:, off:off + n]
            pos += n

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Read a batch of windows as a list of ``(x, y)`` samples.

        Windows are cut in time order, so each chunk is decoded at most once.
        The ``x`` are views of one ``(B, C, W)`` tensor, allocated in shared
        memory inside a DataLoader worker; :func:`collate_windows` hands that
        tensor on without copying (the default collate also works).
        """
        indices = np.asarray(indices, dtype=np.int64)
        shape = (len(indices), self.n_channels, self.window)
        if torch.utils.data.get_worker_info() is not None:
            # What default_collate does: allocate straight into shared memory.
            storage = torch.empty(0)._typed_storage()._new_shared(int(np.prod(shape)))
            x = torch.empty(0).new(storage).view(shape)
        else:
            x = torch.empty(shape)
        out = x.numpy()
        for pos in np.argsort(self.starts[indices], kind="stable"):
            self._fill(out[pos], int(self.starts[indices[pos]]))
        y = torch.from_numpy(self.labels[indices])
        return list(zip(x, y, strict=True))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"window {index} out of range for {len(self)} windows")
        return self.__getitems__([index % len(self)])[0]


def collate_windows(samples: list[tuple[torch.Tensor, torch.Tensor]]):
    """Collate ``(x, y)`` samples; rows of one batch tensor are returned without a copy."""
    xs, ys = zip(*samples, strict=True)
    base = xs[0]._base
    if base is not None and base.shape[0] == len(xs) and all(
            x._base is base and x.data_ptr() == base[i].data_ptr() for i, x in enumerate(xs)):
        return base, torch.stack(ys)
    return default_collate(samples)


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
    num_workers : int
        DataLoader workers; each gets its own lane of blocks, so no two
        workers decode the same chunk (``make_loader`` sets it).

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
        num_workers: int = 0,
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
        self.lanes = max(1, num_workers)
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

    def _rank_batches(self) -> list[list[list[int]]]:
        """Every rank's batches for this epoch (all ranks compute the same plan)."""
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(len(self.blocks)) if self.shuffle else np.arange(len(self.blocks))
        plans = []
        for rank in range(self.world_size):
            mine = [self.blocks[b] for b in order[rank::self.world_size]]
            if self.shuffle:
                mine = [rng.permutation(block) for block in mine]
            # One lane of blocks per DataLoader worker: batch i goes to worker
            # i % n_workers, so interleaving lanes keeps each block in one worker's cache.
            lanes = []
            for lane in range(self.lanes):
                blocks = mine[lane::self.lanes]
                stream = np.concatenate(blocks) if blocks else np.zeros(0, np.int64)
                stop = len(stream) - len(stream) % self.batch_size if self.drop_last else len(
                    stream)
                lanes.append([stream[i:i + self.batch_size].tolist()
                              for i in range(0, stop, self.batch_size)])
            plans.append([b for group in itertools.zip_longest(*lanes) for b in group if b])
        n_batches = min(len(p) for p in plans)  # equal across ranks, or DDP hangs
        return [p[:n_batches] for p in plans]

    def __iter__(self) -> Iterator[list[int]]:
        yield from self._rank_batches()[self.rank]

    def __len__(self) -> int:
        return len(self._rank_batches()[self.rank])


def make_loader(
    dataset: IEEGWindows,
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: int = 0,
    num_workers: int = 0,
    multiprocessing_context: str | None = None,
    **sampler_kwargs,
) -> DataLoader:
    """A DataLoader over ``dataset`` with a :class:`ChunkBlockSampler`.

    Workers are persistent (their chunk caches survive between epochs).
    ``fork`` is safe here because no dask runs inside workers.
    """
    sampler = ChunkBlockSampler(dataset, batch_size, shuffle=shuffle, seed=seed,
                                num_workers=num_workers, **sampler_kwargs)
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        collate_fn=collate_windows,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
        multiprocessing_context=multiprocessing_context if num_workers > 0 else None,
        pin_memory=torch.cuda.is_available(),
    )
