"""MVPA forward+backward: our fused (flash) path vs the reference path vs plain SDPA.

``fused`` is the memory-linear online-softmax path (:mod:`neuroattn.ieeg.mvpa_flash`);
the block-wise ``chunked`` path is measured too (``chunked_*`` keys).

Same random inputs for all, T = 25 segments and C in {16, 64, 128} channels
(N = T * C tokens, up to 3200). The fair limit is plain
``scaled_dot_product_attention`` over the same tokens **with the same
block-causal mask** (``sdpa_block_causal_*`` keys, and the ratios
``fused_over_block_causal_sdpa_time`` / ``_mem``): the same pairs attended,
without MVPA's position terms. SDPA **without** a mask (``sdpa_*`` keys,
``fused_over_sdpa_*``) attends every pair, about twice the pairs the fused
path visits at T = 25; it is kept, labelled unmasked, and is not the limit.
``pair_fraction`` gives the share of the N x N query-key pairs each path
scores: the fused path skips future key segments, (T + 1) / (2 T) = 0.52; the
reference and both SDPA arms score every pair (the masked one then discards
48 % of them).

Times are medians over 5 rounds (``--quick``: 2) after a warm-up; within a
channel count the arms alternate, in order and then in reverse, so load from
other jobs falls on all of them alike. ``load_average`` records the 1-minute
load average before and after the run (``os.getloadavg``). ``--threads 1``
runs every arm on one torch thread: on a loaded shared CPU, two OpenMP threads
make a step wait for a descheduled peer at every parallel region, which
penalises the many-small-op fused and chunked paths far more than one SDPA call.

* CPU: the tiny width (4 query / 2 key-value heads of 8 dims); peak memory is
  the rise of the peak resident memory (VmHWM) during one forward+backward,
  measured in a fresh subprocess per case.
* CUDA (``--device cuda``): the MVPFormer-S width (12 / 4 heads of 64 dims);
  peak memory from ``torch.cuda.max_memory_allocated``. The FlexAttention
  path (``flex_*`` keys) is measured too, compiled with dynamic shapes as the
  model runs it; ``flex_compilations`` counts its graphs over all channel
  counts (a recompile per count would show here).

Usage::

    python benchmarks/bench_mvpa.py --quick --out bench_mvpa.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from neuroattn.ieeg.mvpa_flash import mvpa_flash
from neuroattn.ieeg.mvpa_functional import (
    block_causal_fraction,
    block_causal_mask,
    flex_compilations,
    mvpa_chunked,
    mvpa_flex,
    mvpa_reference,
)
from neuroattn.reports import write_json

WIDTHS = {"tiny": dict(heads=4, kv_heads=2, head_dim=8),
          "s": dict(heads=12, kv_heads=4, head_dim=64)}
WIDTH = {"name": None}  # set by --width (default: tiny on the CPU, s on CUDA)
THREADS = {"n": None}  # set by --threads (default: torch's)


def make_inputs(n_chans: int, n_segments: int, device: str, dtype: torch.dtype, seed: int = 0):
    width = WIDTHS[WIDTH["name"] or ("s" if device.startswith("cuda") else "tiny")]
    g = torch.Generator().manual_seed(seed)
    n = n_segments * n_chans
    h, hkv, d = width["heads"], width["kv_heads"], width["head_dim"]

    def r(*shape):
        return torch.randn(*shape, generator=g).to(device, dtype).requires_grad_()

    return dict(q=r(1, h, n, d), k=r(1, hkv, n, d), v=r(1, hkv, n, d), time_keys=r(hkv, 110, d),
                chan_keys=r(hkv, 128, d), u=r(hkv, d), v_bias=r(hkv, d), w_bias=r(hkv, d))


def step(impl: str, x: dict, n_segments: int) -> None:
    """One forward+backward pass of ``impl``."""
    if impl in ("sdpa", "sdpa_block_causal"):
        groups = x["q"].shape[1] // x["k"].shape[1]
        mask = None if impl == "sdpa" else block_causal_mask(
            n_segments, x["q"].shape[2] // n_segments, x["q"].device)
        out = F.scaled_dot_product_attention(x["q"], x["k"].repeat_interleave(groups, 1),
                                             x["v"].repeat_interleave(groups, 1),
                                             attn_mask=mask)
    else:
        fn = {"fused": mvpa_flash, "chunked": mvpa_chunked, "reference": mvpa_reference,
              "flex": mvpa_flex}[impl]
        out = fn(**x, n_segments=n_segments, window=10)
    out.sum().backward()


def timed(impls: tuple[str, ...], n_chans: int, n_segments: int, device: str,
          repeats: int) -> dict[str, float]:
    """Median milliseconds per forward+backward of every arm, the arms alternating.

    Round ``r`` runs the arms in order, round ``r + 1`` in reverse (ABBA), so a
    neighbour's load drifting during the run falls on every arm alike.
    """
    dtype = torch.bfloat16 if device != "cpu" else torch.float32
    inputs = {impl: make_inputs(n_chans, n_segments, device, dtype) for impl in impls}
    for impl in impls:
        step(impl, inputs[impl], n_segments)  # warm-up
    times: dict[str, list[float]] = {impl: [] for impl in impls}
    for r in range(repeats):
        for impl in impls if r % 2 == 0 else impls[::-1]:
            if device != "cpu":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            step(impl, inputs[impl], n_segments)
            if device != "cpu":
                torch.cuda.synchronize()
            times[impl].append(time.perf_counter() - t0)
    return {impl: 1000 * statistics.median(t) for impl, t in times.items()}


def _status_mb(field: str) -> float:
    """VmRSS or VmHWM of this process in MiB. (VmHWM belongs to this process image, unlike
    ru_maxrss, which a child inherits from its parent's peak across fork + exec.)"""
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith(field + ":"))
    return int(line.split()[1]) / 1024


def peak_mb(impl: str, n_chans: int, n_segments: int, device: str) -> float:
    """Peak extra memory of one forward+backward (fresh process on CPU)."""
    if device != "cpu":
        x = make_inputs(n_chans, n_segments, device, torch.bfloat16)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        step(impl, x, n_segments)
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    code = (f"import bench_mvpa as b; b.WIDTH['name'] = {WIDTH['name']!r}; "
            f"b.THREADS['n'] = {THREADS['n']!r}; b.child({impl!r}, {n_chans}, {n_segments})")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).parent, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def child(impl: str, n_chans: int, n_segments: int) -> None:
    if THREADS["n"]:
        torch.set_num_threads(THREADS["n"])
    step(impl, make_inputs(2, 2, "cpu", torch.float32), 2)  # load lazily imported code first
    x = make_inputs(n_chans, n_segments, "cpu", torch.float32)
    before = _status_mb("VmRSS")
    step(impl, x, n_segments)
    print(_status_mb("VmHWM") - before)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--segments", type=int, default=25)
    parser.add_argument("--channels", type=int, nargs="+", default=[16, 64, 128])
    parser.add_argument("--width", choices=sorted(WIDTHS),
                        help="head layout (default: tiny on the CPU, s on CUDA)")
    parser.add_argument("--threads", type=int,
                        help="torch CPU threads for every arm (default: torch's)")
    args = parser.parse_args()
    WIDTH["name"] = args.width
    THREADS["n"] = args.threads
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device != "cpu" and not torch.cuda.is_available():
        raise SystemExit("--device cuda requested but no CUDA GPU is visible.")
    repeats = 2 if args.quick else 5
    load_before = os.getloadavg()[0]
    results = {}
    for c in args.channels:
        row = {}
        impls = ("fused", "chunked", "reference", "sdpa_block_causal", "sdpa") + (
            ("flex",) if args.device != "cpu" else ())
        for impl, ms in timed(impls, c, args.segments, args.device, repeats).items():
            row[f"{impl}_ms"] = ms
        for impl in impls:
            row[f"{impl}_peak_mb"] = peak_mb(impl, c, args.segments, args.device)
        row["fused_over_block_causal_sdpa_time"] = row["fused_ms"] / row["sdpa_block_causal_ms"]
        row["fused_over_block_causal_sdpa_mem"] = row["fused_peak_mb"] / max(
            row["sdpa_block_causal_peak_mb"], 1e-9)
        row["fused_over_sdpa_time"] = row["fused_ms"] / row["sdpa_ms"]  # unmasked: not the limit
        row["fused_over_sdpa_mem"] = row["fused_peak_mb"] / max(row["sdpa_peak_mb"], 1e-9)
        row["reference_over_fused_mem"] = row["reference_peak_mb"] / max(row["fused_peak_mb"],
                                                                          1e-9)
        if "flex_ms" in row:  # the FlexAttention kernel (GPU only: no CPU backward)
            row["flex_over_sdpa_time"] = row["flex_ms"] / row["sdpa_ms"]
            row["flex_over_sdpa_mem"] = row["flex_peak_mb"] / max(row["sdpa_peak_mb"], 1e-9)
        row["tokens"] = c * args.segments
        results[str(c)] = row
        print(c, json.dumps({k: round(v, 2) for k, v in row.items()}), flush=True)
    causal = block_causal_fraction(args.segments)
    pair_fraction = {"fused": causal, "flex": causal, "reference": 1.0, "sdpa": 1.0,
                     "sdpa_block_causal": 1.0, "attended": causal}
    report = {"benchmark": "mvpa", "device": args.device, "segments": args.segments,
              "width": WIDTH["name"] or ("s" if args.device != "cpu" else "tiny"),
              "dtype": "bfloat16" if args.device != "cpu" else "float32",
              "torch_threads": torch.get_num_threads(),
              "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                          "torch": torch.__version__,
                          "gpu": torch.cuda.get_device_name() if args.device != "cpu" else None},
              "load_average": {"before": load_before, "after": os.getloadavg()[0]},
              "pair_fraction": pair_fraction, "results": results}
    if args.device != "cpu":
        report["flex_compilations"] = flex_compilations()
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_json(args.out, report)


if __name__ == "__main__":
    main()
