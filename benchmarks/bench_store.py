"""Window-batch throughput: our chunk-aware Dataset vs the raw-chunk limit vs naive xarray.

On a 64-channel, 20-minute, 512 Hz iEEG store (synthetic), it measures window
batches per second for

* ``ours``: :class:`neuroattn.store.IEEGWindows` through
  :func:`neuroattn.store.make_loader` (a ``WindowLoader``: a torch ``DataLoader``
  with 2 worker processes decoding blocks of chunks), steady state (2nd epoch);
* ``raw_chunk``: one process reading every zarr chunk once and cutting the same
  windows into batches (the limit: the same bytes, no framework). It is one
  process while ``ours`` runs 2 workers plus the main process, so
  ``ratio_vs_raw`` near 1 says the loader keeps pace with a bare reader on this
  machine, not that it is as cheap per core;
* ``naive``: per-sample ``ds.signal.isel(time=...).values`` on a dask-backed
  ``xr.open_zarr`` in shuffled order, in one process. Each 4-s window decodes
  its whole 8 MiB chunk (or two), which no careful user would do, so
  ``speedup_vs_naive`` is a floor for orientation, not a headline figure.

Usage::

    python benchmarks/bench_store.py --quick --out bench_store.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import xarray as xr
import zarr

from neuroattn.datasets.synthetic import make_synthetic_ieeg
from neuroattn.store import IEEGWindows, make_loader


def make_store(root: Path, n_channels: int, minutes: float, sfreq: float) -> Path:
    rec = make_synthetic_ieeg(n_channels=n_channels, duration_s=minutes * 60, sfreq=sfreq,
                              n_seizures=3, seed=0)
    return rec.to_store(root / "bench.zarr")


def bench_ours(windows: IEEGWindows, batch_size: int, workers: int) -> dict:
    loader = make_loader(windows, batch_size, num_workers=workers, seed=0,
                         multiprocessing_context="fork" if workers else None)
    t0 = time.perf_counter()
    sum(1 for _ in loader)  # epoch 1 includes worker start-up
    first = time.perf_counter() - t0
    loader.set_epoch(1)
    t0 = time.perf_counter()
    n = sum(1 for _ in loader)
    steady = time.perf_counter() - t0
    return {"batches": n, "seconds": steady, "first_epoch_seconds": first,
            "batches_per_s": n / steady}


def bench_raw(path: Path, windows: IEEGWindows, batch_size: int) -> dict:
    arr = zarr.open_array(path / "signal", mode="r")
    L, W = windows.chunk_len, windows.window
    order = np.random.default_rng(0).permutation(len(windows.starts))
    n_batches = -(-len(order) // batch_size)  # the last partial batch too, like ours
    t0 = time.perf_counter()
    data = np.concatenate([arr[k * L:(k + 1) * L] for k in range(-(-arr.shape[0] // L))])
    for b in range(n_batches):
        idx = order[b * batch_size:(b + 1) * batch_size]
        batch = np.stack([data[s:s + W].T for s in windows.starts[idx]])
        torch.from_numpy(batch)
    seconds = time.perf_counter() - t0
    return {"batches": n_batches, "seconds": seconds, "batches_per_s": n_batches / seconds}


def bench_naive(path: Path, windows: IEEGWindows, batch_size: int, n_batches: int) -> dict:
    ds = xr.open_zarr(path, consolidated=False)
    order = np.random.default_rng(0).permutation(len(windows.starts))
    t0 = time.perf_counter()
    for b in range(n_batches):
        idx = order[b * batch_size:(b + 1) * batch_size]
        samples = [ds.signal.isel(time=slice(s, s + windows.window)).values.T
                   for s in windows.starts[idx]]
        torch.from_numpy(np.stack(samples))
    seconds = time.perf_counter() - t0
    return {"batches": n_batches, "seconds": seconds, "batches_per_s": n_batches / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5-minute store, fewer naive batches")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--sfreq", type=float, default=512.0)
    parser.add_argument("--window-s", type=float, default=4.0)
    parser.add_argument("--stride-s", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    minutes = 5.0 if args.quick else 20.0
    with tempfile.TemporaryDirectory() as tmp:
        path = make_store(Path(tmp), args.channels, minutes, args.sfreq)
        windows = IEEGWindows(path, window_s=args.window_s, stride_s=args.stride_s)
        raw = bench_raw(path, windows, args.batch_size)
        ours = bench_ours(windows, args.batch_size, args.workers)
        naive = bench_naive(path, windows, args.batch_size, 3 if args.quick else 10)
    result = {
        "benchmark": "store",
        "config": {"channels": args.channels, "minutes": minutes, "sfreq": args.sfreq,
                   "window_s": args.window_s, "stride_s": args.stride_s,
                   "batch_size": args.batch_size, "workers": args.workers,
                   "chunk_samples": windows.chunk_len, "quick": args.quick},
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                    "torch": torch.__version__},
        "ours": ours, "raw_chunk": raw, "naive": naive,
        "ours_batches_per_s": ours["batches_per_s"],
        "raw_chunk_batches_per_s": raw["batches_per_s"],
        "naive_batches_per_s": naive["batches_per_s"],
        "ratio_vs_raw": ours["batches_per_s"] / raw["batches_per_s"],
        "speedup_vs_naive": ours["batches_per_s"] / naive["batches_per_s"],
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
