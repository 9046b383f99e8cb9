"""Fixed-length iEEG windows over a store, as a map-style torch Dataset.

Reading one window at a time through xarray/dask costs a full chunk
decompression plus graph overhead per sample. :class:`IEEGWindows` decodes
every chunk a batch touches once (``__getitems__``, with a small per-process
cache) and never uses dask, so DataLoader workers are safe under ``fork``
even after the parent ran a dask computation. For training, feed it to
:func:`neuroattn.store.make_loader`.

Examples
--------
>>> import tempfile, numpy as np
>>> from neuroattn.store import ieeg_from_array, write_store, IEEGWindows
>>> ds = ieeg_from_array(np.random.randn(2000, 4).astype("float32"), sfreq=100.0,
...                      annotations={"onset": [5.0], "duration": [3.0],
...                                   "description": ["seizure"]})
>>> path = write_store(ds, tempfile.mkdtemp() + "/rec.zarr")
>>> windows = IEEGWindows(path, window_s=2.0, stride_s=1.0, label_segment_s=1.0)
>>> x, y = windows[0]
>>> tuple(x.shape), int(windows.labels.sum())
((4, 200), 3)
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import zarr
from torch.utils.data import Dataset

from neuroattn.errors import ParameterError
from neuroattn.store.build import seizure_intervals
from neuroattn.store.errors import CorruptStoreError, StoreError
from neuroattn.store.guard import CheckedStore
from neuroattn.store.io import open_store
from neuroattn.store.schema import GENERATION_ATTR


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

    Every chunk is read through a :class:`~neuroattn.store.guard.CheckedStore`:
    if the store is overwritten after the dataset was created, reading raises
    :class:`~neuroattn.store.errors.StoreChangedError` (create the dataset
    again); a missing or undecodable chunk raises
    :class:`~neuroattn.store.errors.CorruptStoreError`.
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
        generation = ds.attrs.get(GENERATION_ATTR)
        self._store = CheckedStore(self.path, generation=None if generation is None
                                   else str(generation))
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
            raise ParameterError(
                f"window_s={window_s} ({self.window} samples) is longer than the recording "
                f"({self.n_times / self.sfreq:.1f} s); use a shorter window."
            )
        self.starts = np.arange(0, self.n_times - self.window + 1, self.stride, dtype=np.int64)
        segment = self.window if label_segment_s is None else self._samples(
            label_segment_s, "label_segment_s")
        if segment > self.window:
            raise ParameterError("label_segment_s cannot exceed window_s.")
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
            raise ParameterError(f"{name}={seconds} is shorter than one sample at {self.sfreq} Hz.")
        return n

    @staticmethod
    def _select_channels(names: list[str], bad: np.ndarray,
                         channels: Sequence[str | int] | None) -> np.ndarray:
        if channels is None:
            keep = np.flatnonzero(~bad)
            if keep.size == 0:
                raise ParameterError("Every channel is marked bad; pass channels=... explicitly.")
            return keep
        index = []
        for ch in channels:
            if isinstance(ch, int | np.integer):
                if not 0 <= ch < len(names):
                    raise ParameterError(f"Channel index {ch} is out of range "
                                         f"(0..{len(names) - 1}).")
                index.append(int(ch))
            elif ch in names:
                index.append(names.index(ch))
            else:
                raise ParameterError(f"Channel {ch!r} is not in the store; it has {names[:8]}...")
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
            self._array = zarr.open_array(self._store, path="signal", mode="r")
            self._cache.clear()
            self._pid = os.getpid()
        block = self._cache.get(k)
        if block is None:
            block = self._decode(k)
            if not self._all_channels:
                block = block[:, self.channel_index]
            self._cache[k] = block
            if len(self._cache) > self.cache_chunks:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(k)
        return block

    def _decode(self, k: int) -> np.ndarray:
        try:
            return self._array[k * self.chunk_len:(k + 1) * self.chunk_len]
        except StoreError:
            raise
        except Exception as err:  # codec errors have no common base class
            raise CorruptStoreError(
                f"{self.path}: chunk c/{k}/0 of 'signal' cannot be decoded "
                f"({type(err).__name__}: {err}). The store is damaged; re-create it."
            ) from err

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

    def read_span(self, start: int, stop: int, *, shared: bool = False,
                  pin_memory: bool = False, time_major: bool = False,
                  out: torch.Tensor | None = None) -> torch.Tensor:
        """Samples ``start:stop`` of the selected channels as a ``(C, stop - start)`` tensor.

        ``shared=True`` allocates it in shared memory, so a DataLoader worker
        hands it to the main process without another copy; ``pin_memory=True``
        in pinned memory (fast copies to CUDA). ``time_major=True`` stores it
        as the store does, time by channel (the result is a transposed view),
        so reading it is a plain copy instead of a transposition. ``out``
        fills a given float32 ``(C, stop - start)`` tensor (or view) instead.
        """
        if out is None:
            out = empty_span(self.n_channels, stop - start, shared=shared, pin_memory=pin_memory,
                             time_major=time_major)
        elif tuple(out.shape) != (self.n_channels, stop - start) or out.dtype != torch.float32:
            raise ParameterError(f"out must be float32 of shape {(self.n_channels, stop - start)}, "
                                 f"got {out.dtype} {tuple(out.shape)}.")
        self._fill(out.numpy(), start)
        return out

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"window {index} out of range for {len(self)} windows")
        return self.__getitems__([index % len(self)])[0]


def empty_span(n_channels: int, n_samples: int, *, shared: bool = False,
               pin_memory: bool = False, time_major: bool = False) -> torch.Tensor:
    """An uninitialised float32 ``(n_channels, n_samples)`` tensor, shared or pinned on demand.

    ``time_major=True`` lays it out time by channel (a transposed view).

    Examples
    --------
    >>> span = empty_span(3, 10, shared=True, time_major=True)
    >>> tuple(span.shape), span.stride()
    ((3, 10), (1, 3))
    """
    shape = (n_samples, n_channels) if time_major else (n_channels, n_samples)
    if shared:  # what torch's default_collate does inside workers
        storage = torch.empty(0)._typed_storage()._new_shared(n_channels * n_samples)
        span = torch.empty(0).new(storage).view(shape)
    else:
        span = torch.empty(shape, pin_memory=pin_memory)
    return span.T if time_major else span
