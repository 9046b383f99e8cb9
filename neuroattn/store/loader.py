"""Block-shuffled, DDP-aware batching of :class:`~neuroattn.store.IEEGWindows`.

* :class:`ChunkBlockSampler` shuffles *blocks of neighbouring chunks* rather
  than single windows, so consecutive batches reuse decoded chunks, and
  shards blocks across DDP ranks;
* :class:`WindowLoader` (what :func:`make_loader` returns) has workers decode
  whole blocks and ship each sample to the main process once;
* :class:`WindowBatch` is a batch before its windows are cut: references to
  the decoded blocks, the window offsets and the labels. Its
  :meth:`~WindowBatch.to` is the one place where windows are cut: it copies
  each block to the target device once (a block shared by several batches is
  copied once) and gathers the overlapping windows there; on the CPU the
  same gather fills the batch. :func:`read_batch` makes one from any window
  indices (evaluation in time order, random draws).

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
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from neuroattn.errors import ParameterError
from neuroattn.store.windows import IEEGWindows, empty_span


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
            raise ParameterError(f"batch_size must be >= 1, got {batch_size}.")
        if rank is None or world_size is None:
            dist = torch.distributed
            ddp = dist.is_available() and dist.is_initialized()
            rank = dist.get_rank() if ddp else 0
            world_size = dist.get_world_size() if ddp else 1
        if not 0 <= rank < world_size:
            raise ParameterError(f"rank={rank} must be in [0, world_size={world_size}).")
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.rank, self.world_size = rank, world_size
        self.epoch = 0
        block_of = np.asarray(dataset.chunk_of(np.arange(len(dataset)))) // chunks_per_block
        self.blocks = [np.flatnonzero(block_of == b) for b in np.unique(block_of)]
        if len(self.blocks) < world_size:
            raise ParameterError(
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


class _Block:
    """A decoded ``(C, L)`` span shared by the batches cut from it, copied to a device once.

    ``remaining`` counts the windows still to be cut from it; the device copy is
    dropped when it reaches zero, so a block lives on the device only while a
    batch needs it.
    """

    __slots__ = ("copy", "data", "remaining")

    def __init__(self, data: torch.Tensor, n_windows: int) -> None:
        self.data = data
        self.remaining = n_windows
        self.copy: torch.Tensor | None = None

    def on(self, device: torch.device, non_blocking: bool) -> torch.Tensor:
        """The block on ``device``: the host data itself, the cached copy, or a new copy."""
        if _same_device(self.data.device, device):
            return self.data
        if self.copy is not None and _same_device(self.copy.device, device):
            return self.copy
        # A time-major block crosses as it is and is transposed on the device, once.
        copy = self.data.to(device, non_blocking=non_blocking).contiguous()
        if self.remaining > 0:
            self.copy = copy
        return copy

    def release(self, n_windows: int) -> None:
        """``n_windows`` of its windows have been cut; free the device copy after the last."""
        self.remaining -= n_windows
        if self.remaining <= 0:
            self.copy = None


def _same_device(a: torch.device, b: torch.device) -> bool:
    return a.type == b.type and (a.index is None or b.index is None or a.index == b.index)


def _pinned(t: torch.Tensor) -> torch.Tensor:
    """``t`` in pinned memory, in the same layout (a time-major block stays time-major)."""
    if t.is_pinned():
        return t
    if not t.is_contiguous() and t.T.is_contiguous():
        return t.T.pin_memory().T
    return t.pin_memory()


class _Span:
    """Consecutive samples made of pieces ``block.data[:, lo:hi]`` of one or more blocks.

    A window that crosses a block edge is cut from a span of two pieces: the
    pieces travel with their blocks and are joined on the target device.
    """

    __slots__ = ("pieces",)

    def __init__(self, pieces: list[tuple[_Block, int, int]]) -> None:
        self.pieces = pieces

    def __len__(self) -> int:
        return sum(hi - lo for _, lo, hi in self.pieces)

    def on(self, device: torch.device, non_blocking: bool) -> torch.Tensor:
        views = [b.on(device, non_blocking)[:, lo:hi] for b, lo, hi in self.pieces]
        return views[0] if len(views) == 1 else torch.cat(views, dim=1)

    def release(self, n_windows: int) -> None:
        for block, _, _ in self.pieces:
            block.release(n_windows)


class WindowBatch:
    """A batch of windows, still as references to the blocks they come from.

    The loader ships each decoded block once (pinned when the target is CUDA);
    :meth:`to` copies every block to the device once, then cuts the windows
    there as one gather per block. Neighbouring windows overlap (a 25-segment
    window with a one-segment hop shares 24/25 of its samples with the next),
    so this moves far fewer bytes than cutting the windows on the host.

    Parameters
    ----------
    parts : sequence of (tensor, array)
        Per block: its ``(n_channels, n_samples)`` float tensor and the
        offsets (in samples) at which this batch's windows start in it, in
        batch order.
    labels : array of int
        One label per window, in batch order.
    window : int
        Window length in samples.
    pin_memory : bool
        Pin the blocks and the index (fast, asynchronous copies to CUDA).

    Examples
    --------
    >>> import numpy as np, torch
    >>> block = torch.arange(12.0).reshape(1, 12)
    >>> batch = WindowBatch([(block, np.array([4, 0]))], np.array([1, 0]), window=3)
    >>> x, y = batch.to("cpu")
    >>> x.tolist(), y.tolist()
    ([[[4.0, 5.0, 6.0]], [[0.0, 1.0, 2.0]]], [1, 0])
    """

    def __init__(self, parts: Sequence[tuple[torch.Tensor | _Span, np.ndarray]],
                 labels: np.ndarray, window: int, *, pin_memory: bool = False) -> None:
        offsets = [np.asarray(o, dtype=np.int64) for _, o in parts]
        self.parts = [(s if isinstance(s, _Span) else _Span([(_Block(s, len(o)), 0, s.shape[-1])]),
                       o) for (s, _), o in zip(parts, offsets, strict=True)]
        self.window = int(window)
        labels = np.asarray(labels, dtype=np.int64)
        n = sum(len(o) for o in offsets)
        if len(labels) != n:
            raise ParameterError(f"{len(labels)} labels for {n} windows; give one label per "
                                 "window.")
        for span, o in self.parts:
            if len(o) and (o.min() < 0 or o.max() + self.window > len(span)):
                raise ParameterError(f"Window offsets {o.min()}..{o.max()} do not fit a block of "
                                     f"{len(span)} samples with window={self.window}.")
        # Labels, then offsets: one small host-to-device copy per batch.
        self._index = torch.from_numpy(np.concatenate([labels, *offsets]))
        if pin_memory:
            self.pin_memory()
        self._released = False

    def __len__(self) -> int:
        return len(self._index) // 2

    @property
    def n_channels(self) -> int:
        return int(self.parts[0][0].pieces[0][0].data.shape[0])

    @property
    def labels(self) -> torch.Tensor:
        """The ``(B,)`` int64 labels on the host."""
        return self._index[:len(self)]

    @property
    def staged(self) -> list[torch.Tensor]:
        """The host blocks this batch refers to, each once (batches may share a block)."""
        blocks = {id(b): b.data for span, _ in self.parts for b, _, _ in span.pieces}
        return list(blocks.values())

    @property
    def blocks(self) -> list[tuple[torch.Tensor, np.ndarray]]:
        """Per part: its ``(C, L)`` samples on the host (pieces joined) and window offsets."""
        cpu = torch.device("cpu")
        return [(span.on(cpu, False), o) for span, o in self.parts]

    def pin_memory(self) -> WindowBatch:
        """Move the blocks and the index to pinned memory (what a DataLoader calls)."""
        for span, _ in self.parts:
            for block, _, _ in span.pieces:
                block.data = _pinned(block.data)
        self._index = _pinned(self._index)
        return self

    def to(self, device: torch.device | str, non_blocking: bool = True, *,
           out: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch on ``device``: ``x`` ``(B, C, window)`` and ``y`` ``(B,)`` int64.

        Each block is copied to ``device`` once, even when several batches
        cut windows from it, and freed there once its last window is cut. No
        host synchronisation: the index travels with a non-blocking copy.

        Parameters
        ----------
        device : torch.device or str
        non_blocking : bool
            Asynchronous copies (effective from pinned memory).
        out : tensor, optional
            A ``(B, C, window)`` buffer on ``device`` to cut into (reused
            buffers; the caller guarantees that nothing still reads it).
        """
        device = torch.device(device)
        n = len(self)
        index = self._index.to(device, non_blocking=non_blocking)
        shape = (n, self.n_channels, self.window)
        if out is None:
            out = torch.empty(shape, device=device, dtype=torch.float32)
        elif tuple(out.shape) != shape or out.dtype != torch.float32:
            raise ParameterError(f"out has shape {tuple(out.shape)} and dtype {out.dtype}; this "
                                 f"batch needs {shape} and torch.float32.")
        row = n
        for span, offsets in self.parts:
            k = len(offsets)
            # Every window position of the span as a (positions, C, window) view.
            view = span.on(device, non_blocking).unfold(-1, self.window, 1).transpose(0, 1)
            torch.index_select(view, 0, index[row:row + k], out=out[row - n:row - n + k])
            row += k
        if not self._released:
            self._released = True
            for span, offsets in self.parts:
                span.release(len(offsets))
        return out, index[:n]


def read_batch(windows: IEEGWindows, indices: Sequence[int] | np.ndarray, *,
               shared: bool = False, pin_memory: bool = False,
               time_major: bool = False) -> WindowBatch:
    """Windows ``indices`` of ``windows`` as a :class:`WindowBatch`, in that order.

    Neighbouring windows (e.g. consecutive ones for evaluation) are read as
    one span, so their shared samples are read once; scattered ones (e.g.
    drawn at random) are read one by one into one block.

    Parameters
    ----------
    windows : IEEGWindows
    indices : sequence of int
    shared : bool
        Allocate in shared memory (inside DataLoader workers).
    pin_memory : bool
        Allocate in pinned memory (for CUDA; not inside workers).
    time_major : bool
        Keep the samples time by channel (for a cut on a device, see
        :class:`WindowLoader`).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from neuroattn.store import ieeg_from_array, write_store, IEEGWindows
    >>> path = write_store(ieeg_from_array(np.random.randn(1000, 3).astype("float32"), 100.0),
    ...                    tempfile.mkdtemp() + "/r.zarr")
    >>> windows = IEEGWindows(path, window_s=2.0, stride_s=0.5)
    >>> x, y = read_batch(windows, [3, 4, 5]).to("cpu")
    >>> bool((x == torch.stack([windows[i][0] for i in (3, 4, 5)])).all())
    True
    """
    idx = np.asarray(indices, dtype=np.int64)
    if idx.ndim != 1 or len(idx) == 0:
        raise ParameterError("indices must be a non-empty sequence of window indices.")
    if idx.min() < 0 or idx.max() >= len(windows):
        raise ParameterError(f"Window indices must be in 0..{len(windows) - 1}.")
    starts, w = windows.starts[idx], windows.window
    first, stop = int(starts.min()), int(starts.max()) + w
    if stop - first <= len(idx) * w:  # one span holds them all in fewer samples
        data = windows.read_span(first, stop, shared=shared, pin_memory=pin_memory,
                                 time_major=time_major)
        offsets = starts - first
    else:
        data = empty_span(windows.n_channels, len(idx) * w, shared=shared,
                          pin_memory=pin_memory, time_major=time_major)
        for pos in np.argsort(starts, kind="stable"):  # time order: each chunk decoded once
            s = int(starts[pos])
            windows.read_span(s, s + w, out=data[:, pos * w:(pos + 1) * w])
        offsets = np.arange(len(idx), dtype=np.int64) * w
    return WindowBatch([(data, offsets)], windows.labels[idx], w, pin_memory=pin_memory)


class _BlockSpans(Dataset):
    """Item ``b`` = samples ``spans[b] = (start, stop)``, in shared memory inside workers."""

    def __init__(self, windows: IEEGWindows, spans: list[tuple[int, int]],
                 pin_memory: bool, time_major: bool) -> None:
        self.windows = windows
        self.spans = spans
        self.pin_memory = pin_memory
        self.time_major = time_major

    def __len__(self) -> int:
        return len(self.spans)

    def __getitem__(self, block: int) -> torch.Tensor:
        start, stop = self.spans[block]
        shared = torch.utils.data.get_worker_info() is not None
        return self.windows.read_span(start, stop, shared=shared, time_major=self.time_major,
                                      pin_memory=self.pin_memory and not shared)


class _EpochOrder(Sampler[int]):
    """The block order of the current epoch (set by the loader before iterating)."""

    def __init__(self) -> None:
        self.order: list[int] = []

    def __iter__(self) -> Iterator[int]:
        return iter(self.order)

    def __len__(self) -> int:
        return len(self.order)


class WindowLoader:
    """Batches of windows, fed by workers that decode whole blocks of chunks.

    Each worker reads the chunks of one block (``chunks_per_block`` neighbouring
    chunks) and sends them as one shared-memory tensor. Every chunk is decoded
    once per epoch and every sample crosses between processes once, although
    windows overlap: a window that runs past its block's end is stitched from
    the two neighbouring blocks when both have arrived. (Under DDP, a block
    whose neighbour belongs to another rank reads the few samples it needs
    itself.)

    By default it yields ``(x, y)`` tensors, each batch a new tensor. With
    ``yield_batches=True`` it yields :class:`WindowBatch` objects instead (the
    blocks, not yet cut): ``batch.to(device)`` ships each block to the device
    once and cuts the windows there, which is what a CUDA training loop wants.
    A window that crosses a block edge is then cut from two pieces joined on
    the device: the live neighbour block and, from the block that arrived
    first, a copy of its edge (so that no whole block waits for its
    neighbour, on the host or on the device).

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
        Pin batches (or, with ``yield_batches``, the blocks) for fast GPU
        copies; default when CUDA is available.
    yield_batches : bool
        Yield :class:`WindowBatch` objects instead of ``(x, y)`` tensors.
    time_major : bool
        Keep the decoded blocks time by channel, as the store has them (no
        transposition on the host; the device transposes each block once).
        For batches cut on a device; a host cut from them would be slower.

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
        yield_batches: bool = False,
        time_major: bool = False,
    ) -> None:
        self.dataset = dataset
        self.sampler = ChunkBlockSampler(dataset, batch_size, shuffle=shuffle, seed=seed,
                                         chunks_per_block=chunks_per_block, drop_last=drop_last,
                                         rank=rank, world_size=world_size)
        self.batch_size = batch_size
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else pin_memory
        self.yield_batches = yield_batches
        self.time_major = time_major
        self._plan_geometry(chunks_per_block)
        self._order = _EpochOrder()
        self._blocks = DataLoader(
            _BlockSpans(dataset, self._spans, self.pin_memory and yield_batches, time_major),
            batch_size=None, sampler=self._order,
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

    def __iter__(self) -> Iterator[WindowBatch | tuple[torch.Tensor, torch.Tensor]]:
        ds = self.dataset
        ids, windows, n_batches = self.sampler.plan()
        self._order.order = ids
        pin_blocks = self.pin_memory and self.yield_batches
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
        # A tail or head waiting for its neighbour block is copied out of its block,
        # so that the block (and its device copy) need not wait too.
        heads: dict[int, tuple[_Block, int, int]] = {}
        tails: dict[int, tuple[_Block, int, int]] = {}
        queue: deque[tuple[_Span, int, np.ndarray]] = deque()
        n_queued = 0
        spans = iter(self._blocks)
        arrivals = iter(ids)
        for _ in range(n_batches):
            while n_queued < self.batch_size:
                i = next(arrivals, None)
                if i is None:
                    break
                data = next(spans)
                if pin_blocks:  # from a worker's shared memory
                    data = _pinned(data)
                n, uses, stitched = data.shape[1], len(inner[i]), []
                if i in crossing:  # my windows that run into block i + 1
                    lo = int(ds.starts[crossing[i]].min()) - self._own[i][0]
                    if i + 1 in heads:
                        stitched.append((i, (None, lo, n), heads.pop(i + 1)))
                        uses += len(crossing[i])
                    else:
                        tails[i] = self._piece(data[:, lo:], len(crossing[i]))
                if i - 1 in crossing:  # block i - 1's windows that run into me
                    if i - 1 in tails:
                        stitched.append((i - 1, tails.pop(i - 1), (None, 0, overhang)))
                        uses += len(crossing[i - 1])
                    else:
                        heads[i] = self._piece(data[:, :overhang], len(crossing[i - 1]))
                block = _Block(data, uses)
                entries = [(_Span([(block, 0, n)]), self._spans[i][0], inner[i])]
                for j, *pieces in stitched:
                    tail, head = ((block if b is None else b, lo, hi) for b, lo, hi in pieces)
                    entries.append((_Span([tail, head]), self._own[j][1] - (tail[2] - tail[1]),
                                    crossing[j]))
                for entry in entries:
                    if len(entry[2]):
                        queue.append(entry)
                        n_queued += len(entry[2])
            size = min(self.batch_size, n_queued)
            batch = self._take(queue, size)
            n_queued -= size
            if self.yield_batches:
                yield batch
            else:
                x = torch.empty((size, ds.n_channels, ds.window), pin_memory=self.pin_memory)
                yield batch.to("cpu", out=x)

    def _piece(self, view: torch.Tensor, n_windows: int) -> tuple[_Block, int, int]:
        """A copy of ``view`` (part of a block) as a block of its own, for a later stitch."""
        copy = empty_span(view.shape[0], view.shape[1], time_major=self.time_major,
                          pin_memory=self.pin_memory and self.yield_batches)
        copy.copy_(view)
        return _Block(copy, n_windows), 0, view.shape[1]

    def _take(self, queue: deque, size: int) -> WindowBatch:
        """The next ``size`` windows of the queue, as a :class:`WindowBatch`."""
        ds = self.dataset
        parts, labels, filled = [], [], 0
        while filled < size:
            span, first, left = queue[0]
            take = left[: size - filled]
            parts.append((span, ds.starts[take] - first))
            labels.append(ds.labels[take])
            filled += len(take)
            if len(take) == len(left):
                queue.popleft()
            else:
                queue[0] = (span, first, left[len(take):])
        return WindowBatch(parts, np.concatenate(labels), ds.window,
                           pin_memory=self.pin_memory and self.yield_batches)


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
