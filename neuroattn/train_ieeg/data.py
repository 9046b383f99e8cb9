"""Stores → recordings → patient splits → batches, for ``train_ieeg``.

Each store becomes a :class:`Recording`: its windows at the model's rate
(a store at another rate is resampled once, anti-aliased, into the cache;
a cache entry is keyed by the source's absolute path, its content
fingerprint and the rate, and rebuilt when the source changes), on its good
channels (capped at the model's maximum), labelled by whether
the last segment overlaps a seizure. A batch always comes from one
recording, so it has one channel count (MVPFormer takes any count, but not
a mix within a batch); :class:`RecordingMix` interleaves the recordings'
loaders in a seeded order that is the same on every DDP rank.

Examples
--------
>>> import tempfile
>>> from neuroattn.datasets.synthetic import make_synthetic_ieeg
>>> from neuroattn.ieeg import preset
>>> from neuroattn.train_ieeg.data import open_recordings
>>> root = tempfile.mkdtemp()
>>> path = make_synthetic_ieeg(n_channels=4, duration_s=120.0, sfreq=128.0, n_seizures=1,
...                            seed=0).to_store(root + "/P1.zarr")
>>> [rec] = open_recordings([path], preset("tiny"), window_segments=8, cache_dir=root)
>>> rec.patient, rec.windows.n_channels, rec.windows.window
('P1', 4, 1024)
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import zarr
from torch.utils.data import DataLoader, Dataset, Sampler

from neuroattn._atomic import publish, remove, temporary_sibling
from neuroattn._logging import logger
from neuroattn.config import ConfigError
from neuroattn.datasets.prepare import resample_store, select_channels
from neuroattn.ieeg.config import MVPFormerConfig
from neuroattn.store import IEEGWindows, WindowBatch, make_loader, open_store, read_batch
from neuroattn.training import distributed

_DONE = object()  # end of an epoch's batches, from the prefetch thread

#: The root attribute of a resampled cache entry that holds its :func:`cache_key`.
CACHE_KEY_ATTR = "neuroattn_cache_key"


@dataclass
class Recording:
    """One store, windowed for the model."""

    path: Path
    patient: str
    windows: IEEGWindows

    @property
    def n_positive(self) -> int:
        return int(self.windows.labels.sum())


def _patient(path: Path, attrs: dict) -> str:
    subject = attrs.get("subject")
    return path.name.removesuffix(".zarr") if subject is None or str(subject) == "" \
        else str(subject)


def store_fingerprint(path: str | os.PathLike) -> str:
    """A hash that changes whenever a store is re-written or modified.

    It covers the content of every metadata file (``zarr.json``: the schema
    attributes, the shapes, the store's generation stamp when it has one) and
    the name, size and modification time of every chunk file.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from neuroattn.store import ieeg_from_array, write_store
    >>> path = write_store(ieeg_from_array(np.zeros((256, 2), "float32"), sfreq=128.0),
    ...                    tempfile.mkdtemp() + "/a.zarr")
    >>> len(store_fingerprint(path)) == 64 and store_fingerprint(path) == store_fingerprint(path)
    True
    """
    path = Path(path)
    digest = hashlib.sha256()
    for file in sorted(f for f in path.rglob("*") if f.is_file()):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        if file.name == "zarr.json":
            digest.update(file.read_bytes())
        else:
            stat = file.stat()
            digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
        digest.update(b"\0")
    return digest.hexdigest()


def cache_key(path: str | os.PathLike, sfreq: float) -> dict[str, str | float]:
    """What a resampled copy of ``path`` at ``sfreq`` Hz is valid for.

    The source's absolute path, its :func:`store_fingerprint` and the target rate.
    """
    return {"source": str(Path(path).resolve()), "fingerprint": store_fingerprint(path),
            "sfreq": float(sfreq)}


def _stored_key(entry: Path) -> dict | None:
    """The cache key recorded in a cache entry's root attributes (``None``: none or unreadable)."""
    try:
        meta = json.loads((entry / "zarr.json").read_text())
    except (OSError, ValueError):
        return None
    key = meta.get("attributes", {}).get(CACHE_KEY_ATTR) if isinstance(meta, dict) else None
    return key if isinstance(key, dict) else None


def _build_cache_entry(path: Path, entry: Path, model_sfreq: float, key: dict) -> None:
    """Resample ``path`` into a temporary store, record ``key`` in it, publish it as ``entry``."""
    tmp = temporary_sibling(entry)
    try:
        resample_store(path, tmp, model_sfreq)
        zarr.open_group(tmp, mode="r+").attrs[CACHE_KEY_ATTR] = key
    except BaseException:
        remove(tmp)
        raise
    publish(tmp, entry)


def _at_model_rate(path: Path, sfreq: float, model_sfreq: float, cache_dir: Path) -> Path:
    """The store itself, or its cached copy resampled to the model's rate (checked, or rebuilt)."""
    if abs(sfreq - model_sfreq) < 1e-9 * model_sfreq:
        return path
    source = str(path.resolve())
    tag = hashlib.sha256(source.encode()).hexdigest()[:12]
    entry = cache_dir / f"{path.name.removesuffix('.zarr')}@{model_sfreq:g}Hz-{tag}.zarr"
    if distributed.is_main():
        key = cache_key(path, model_sfreq)
        stored = _stored_key(entry) if entry.exists() else None
        if stored != key:
            if entry.exists():
                logger.info("the cached copy %s does not match %s any more (%s): resampling it "
                            "again", entry, path, "no cache key" if stored is None else
                            "the source changed" if stored.get("source") == source
                            else "another source")
            logger.info("resampling %s from %g Hz to the model's %g Hz (cached in %s)",
                        path, sfreq, model_sfreq, entry)
            _build_cache_entry(path, entry, model_sfreq, key)
    distributed.barrier()
    return entry


def open_recordings(
    stores: Sequence[str | os.PathLike],
    model_config: MVPFormerConfig,
    *,
    window_segments: int,
    stride_segments: int = 1,
    max_channels: int = 128,
    cache_dir: str | os.PathLike,
) -> list[Recording]:
    """Open iEEG stores as windowed recordings at the model's rate.

    Parameters
    ----------
    stores : sequence of path-like
        iEEG stores (``python -m neuroattn convert`` makes them from SWEC,
        EDF/BDF or BIDS).
    model_config : MVPFormerConfig
        Gives the sampling rate, segment length and channel maximum.
    window_segments, stride_segments : int
        Window length and hop in segments.
    max_channels : int
        Channel cap (at most the model's ``n_channels``); extra channels are
        dropped with a warning.
    cache_dir : path-like
        Where resampled copies go.
    """
    if not stores:
        raise ConfigError("No data: no store was given; pass --data STORE.zarr ... (python -m "
                          "neuroattn convert makes stores from EDF/BDF, SWEC HDF5 or BIDS).")
    if window_segments < 1 or window_segments > model_config.n_positions:
        raise ConfigError(f"data.window_segments={window_segments} is out of range: the model "
                          f"takes 1..{model_config.n_positions} segments (its n_positions); "
                          "pass --window-segments in that range.")
    cache_dir = Path(cache_dir)
    segment_s = model_config.segment_samples / model_config.sfreq
    recordings = []
    for store in stores:
        path = Path(store)
        ds = open_store(path, kind="ieeg", check="quick")
        names = [str(c) for c in ds["channel"].values]
        bad = np.asarray(ds["bad"].values, bool) if "bad" in ds.coords else \
            np.zeros(len(names), bool)
        channels = select_channels(names, bad,
                                   max_channels=min(max_channels, model_config.n_channels))
        source = _at_model_rate(path, float(ds.attrs["sfreq"]), model_config.sfreq, cache_dir)
        windows = IEEGWindows(source, window_s=window_segments * segment_s,
                              stride_s=stride_segments * segment_s,
                              channels=[names[i] for i in channels],
                              label_segment_s=segment_s)
        recordings.append(Recording(path, _patient(path, dict(ds.attrs)), windows))
    return recordings


def split_by_patient(
    recordings: Sequence[Recording],
    *,
    val_patients: Sequence[str] = (),
    test_patients: Sequence[str] = (),
    val_fraction: float = 0.0,
    seed: int = 0,
) -> dict[str, list[Recording]]:
    """``{"train", "val", "test"}`` recordings, split by patient.

    Named patients go to val/test; with no ``val_patients``, a seeded
    ``val_fraction`` of the remaining patients (at least one when the
    fraction is positive) goes to validation.
    """
    patients = sorted({r.patient for r in recordings})
    unknown = (set(val_patients) | set(test_patients)) - set(patients)
    if unknown:
        raise ConfigError(f"Patients {sorted(unknown)} are in no store: the stores hold "
                          f"{patients}; name patients from that list (or add their stores to "
                          "--data).")
    if set(val_patients) & set(test_patients):
        raise ConfigError(f"Patients {sorted(set(val_patients) & set(test_patients))} are in "
                          "both the validation and the test split: a patient may be in one "
                          "split only; remove them from --val-patients or --test-patients.")
    rest = [p for p in patients if p not in test_patients and p not in val_patients]
    val = list(val_patients)
    if not val and val_fraction > 0:
        n_val = max(1, round(val_fraction * len(rest)))
        if n_val >= len(rest):
            raise ConfigError(f"data.val_fraction={val_fraction} leaves no training patient "
                              f"among {rest}; lower it or name --val-patients.")
        order = np.random.default_rng(seed).permutation(len(rest))
        val = [rest[i] for i in sorted(order[:n_val])]
    split = {"train": [], "val": [], "test": []}
    for r in recordings:
        key = "test" if r.patient in test_patients else "val" if r.patient in val else "train"
        split[key].append(r)
    return split


def class_weights(recordings: Sequence[Recording]) -> torch.Tensor:
    """Inverse-frequency weights ``n / (2 n_c)`` of the two classes over all windows."""
    n = sum(len(r.windows) for r in recordings)
    n_pos = sum(r.n_positive for r in recordings)
    if n_pos == 0 or n_pos == n:
        raise ConfigError(f"The training windows hold {'no' if n_pos == 0 else 'only'} seizure "
                          "windows: fine-tuning needs both classes; check the training "
                          "stores' annotations (descriptions starting with 'seizure'), or "
                          "train on other patients.")
    return torch.tensor([n / (2 * (n - n_pos)), n / (2 * n_pos)], dtype=torch.float32)


class BalancedSampler(Sampler[list[int]]):
    """Batches drawn with seizure and non-seizure windows equally likely, sharded over ranks.

    ``len(dataset)`` windows are drawn (with replacement) per epoch, so an
    epoch is as long as a plain one.
    """

    def __init__(self, windows: IEEGWindows, batch_size: int, *, seed: int = 0) -> None:
        labels = windows.labels
        self.batch_size, self.seed, self.epoch = batch_size, seed, 0
        counts = np.bincount(labels, minlength=2).astype(float)
        self.p = np.where(counts[labels] > 0, 0.5 / np.maximum(counts[labels], 1), 0.0)
        self.p /= self.p.sum()
        self.rank, self.world = distributed.rank(), distributed.world_size()
        self.n_batches = max(1, len(labels) // (batch_size * self.world))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        draws = rng.choice(len(self.p), size=(self.world, self.n_batches, self.batch_size),
                           p=self.p)
        yield from (batch.tolist() for batch in draws[self.rank])

    def __len__(self) -> int:
        return self.n_batches


class _SampledWindows(Dataset):
    """Windows read as one :class:`~neuroattn.store.WindowBatch` per batch of indices."""

    def __init__(self, windows: IEEGWindows, time_major: bool) -> None:
        self.windows = windows
        self.time_major = time_major

    def __len__(self) -> int:
        return len(self.windows)

    def __getitems__(self, indices: list[int]) -> WindowBatch:
        shared = torch.utils.data.get_worker_info() is not None
        return read_batch(self.windows, indices, shared=shared, time_major=self.time_major)


def _as_is(batch: WindowBatch) -> WindowBatch:
    return batch


class _SampledLoader:
    """A DataLoader over a batch sampler yielding WindowBatches, with ``set_epoch``."""

    def __init__(self, windows: IEEGWindows, sampler: BalancedSampler, num_workers: int,
                 device: torch.device) -> None:
        self.sampler = sampler
        self.loader = DataLoader(_SampledWindows(windows, time_major=device.type != "cpu"),
                                 batch_sampler=sampler,
                                 num_workers=num_workers, collate_fn=_as_is,
                                 pin_memory=device.type == "cuda")

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self) -> Iterator[WindowBatch]:
        return iter(self.loader)


class _Ring:
    """``size`` host buffers of ``numel`` floats handed out in turn: each is reused ``size``
    batches later."""

    def __init__(self, size: int, numel: int) -> None:
        self.buffers: list[torch.Tensor | None] = [None] * size
        self.numel = numel
        self.turn = 0

    def next(self, batch: WindowBatch) -> torch.Tensor:
        """The next buffer, as a ``(B, C, window)`` view sized for ``batch``."""
        shape = (len(batch), batch.n_channels, batch.window)
        numel = shape[0] * shape[1] * shape[2]
        k = self.turn % len(self.buffers)
        self.turn += 1
        flat = self.buffers[k]
        if flat is None or flat.numel() < numel:
            flat = self.buffers[k] = torch.empty(max(numel, self.numel))
        return flat[:numel].view(shape)


class RecordingMix:
    """Batches from several recordings, interleaved in a seeded per-epoch order.

    Every rank draws the same order, so every rank steps through the same
    recordings in lockstep, each on its own shard of that recording.

    For a CPU (the default) it yields ``(x, y)`` tensors. For another device
    (CUDA) it yields :class:`~neuroattn.store.WindowBatch` objects: decoded
    blocks, pinned, not yet cut; ``batch.to(device)`` (which
    :class:`~neuroattn.training.Trainer` calls) copies each block to the
    device once and cuts the overlapping windows there. Either way the
    decoding (and the host cut, on the CPU) runs ``prefetch`` batches ahead
    in a background thread, overlapping the training step.

    Parameters
    ----------
    recordings : sequence of Recording
    batch_size : int
    shuffle : bool
        Shuffle windows (block-wise, see :class:`neuroattn.store.WindowLoader`)
        and the interleaving.
    balanced : bool
        Use :class:`BalancedSampler` for every recording instead.
    seed, num_workers
        As for :func:`neuroattn.store.make_loader`.
    prefetch : int
        Batches prepared ahead in a background thread (0: none).
    device : torch.device or str, optional
        Where the batches will be used (default: the CPU).
    reuse_buffers : bool
        On the CPU, cut the batches into a ring of ``prefetch + 3`` reused
        buffers instead of a new tensor each (no fresh, page-faulted batch per
        step). A batch then stays intact only until the batch after the next
        one is requested: for a consumer, like the Trainer, that is done with
        a batch when it asks for the next. Ignored for other devices.
    """

    def __init__(self, recordings: Sequence[Recording], batch_size: int, *,
                 shuffle: bool = True, balanced: bool = False, seed: int = 0,
                 num_workers: int = 0, prefetch: int = 2,
                 device: torch.device | str | None = None, reuse_buffers: bool = False) -> None:
        if not recordings:
            raise ConfigError("No recordings to train on: the patient split left none; check "
                              "--data, --val-patients and --test-patients.")
        self.seed, self.shuffle, self.epoch, self.prefetch = seed, shuffle, 0, prefetch
        self.device = torch.device("cpu" if device is None else device)
        # The ring outlives the prefetch queue (prefetch), the batch in the producer's
        # hand, the consumer's batch and its previous one; it is kept across epochs.
        self._ring = _Ring(prefetch + 3, batch_size * max(
            r.windows.n_channels * r.windows.window for r in recordings)) \
            if reuse_buffers and self.device.type == "cpu" else None
        pin = self.device.type == "cuda"
        if balanced:
            self.loaders = [_SampledLoader(r.windows, BalancedSampler(
                r.windows, batch_size, seed=seed + i), num_workers, self.device)
                for i, r in enumerate(recordings)]
        else:
            self.loaders = [make_loader(r.windows, batch_size, shuffle=shuffle, seed=seed + i,
                                        num_workers=num_workers, drop_last=True,
                                        pin_memory=pin, yield_batches=True,
                                        time_major=self.device.type != "cpu")
                            for i, r in enumerate(recordings)]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        for loader in self.loaders:
            loader.set_epoch(epoch)

    def __len__(self) -> int:
        return sum(len(loader) for loader in self.loaders)

    def _batches(self) -> Iterator[WindowBatch | tuple[torch.Tensor, torch.Tensor]]:
        order = np.repeat(np.arange(len(self.loaders)), [len(lo) for lo in self.loaders])
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(order)
        iterators = [iter(loader) for loader in self.loaders]
        on_host = self.device.type == "cpu"
        for i in order:
            batch = next(iterators[i])
            if on_host:
                yield batch.to("cpu", out=None if self._ring is None else self._ring.next(batch))
            else:
                yield batch

    def __iter__(self) -> Iterator[WindowBatch | tuple[torch.Tensor, torch.Tensor]]:
        """Batches prepared ``prefetch`` ahead in a background thread, so that decoding and
        staging the next blocks (which release the GIL) overlap the training step."""
        if not self.prefetch:
            yield from self._batches()
            return
        ready: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()

        def produce() -> None:
            try:
                for batch in self._batches():
                    while not stop.is_set():
                        try:
                            ready.put(batch, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                ready.put(_DONE)
            except BaseException as err:  # re-raised in the consumer
                ready.put(err)

        worker = threading.Thread(target=produce, name="neuroattn-prefetch", daemon=True)
        worker.start()
        try:
            while (item := ready.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            worker.join()
