"""MVPA forward+backward: our fused (flash) path vs the reference path vs plain SDPA.

``fused`` is the memory-linear online-softmax path (:mod:`neuroattn.ieeg.mvpa_flash`);
the block-wise ``chunked`` path is measured too (``chunked_*`` keys).

Same random inputs for all three, T = 25 segments and C in {16, 64, 128}
channels (N = T * C tokens, up to 3200). Plain
``scaled_dot_product_attention`` over the same tokens, without any position
terms or masks, is the limit: MVPA does strictly more work.

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
    flex_compilations,
    mvpa_chunked,
    mvpa_flex,
    mvpa_reference,
)

WIDTHS = {"tiny": dict(heads=4, kv_heads=2, head_dim=8),
          "s": dict(heads=12, kv_heads=4, head_dim=64)}
WIDTH = {"name": None}  # set by --width (default: tiny on the CPU, s on CUDA)


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
    if impl == "sdpa":
        groups = x["q"].shape[1] // x["k"].shape[1]
        out = F.scaled_dot_product_attention(x["q"], x["k"].repeat_interleave(groups, 1),
                                             x["v"].repeat_interleave(groups, 1))
    else:
        fn = {"fused": mvpa_flash, "chunked": mvpa_chunked, "reference": mvpa_reference,
              "flex": mvpa_flex}[impl]
        out = fn(**x, n_segments=n_segments, window=10)
    out.sum().backward()


def timed(impl: str, n_chans: int, n_segments: int, device: str, repeats: int) -> float:
    x = make_inputs(n_chans, n_segments, device, torch.bfloat16 if device != "cpu"
                    else torch.float32)
    step(impl, x, n_segments)  # warm-up
    times = []
    for _ in range(repeats):
        if device != "cpu":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        step(impl, x, n_segments)
        if device != "cpu":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


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
            f"b.child({impl!r}, {n_chans}, {n_segments})")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).parent, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def child(impl: str, n_chans: int, n_segments: int) -> None:
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
    args = parser.parse_args()
    WIDTH["name"] = args.width
    if args.device != "cpu" and not torch.cuda.is_available():
        raise SystemExit("--device cuda requested but no CUDA GPU is visible.")
    repeats = 2 if args.quick else 5
    results = {}
    for c in args.channels:
        row = {}
        impls = ("fused", "chunked", "reference", "sdpa") + (
            ("flex",) if args.device != "cpu" else ())
        for impl in impls:
            row[f"{impl}_ms"] = timed(impl, c, args.segments, args.device, repeats)
            row[f"{impl}_peak_mb"] = peak_mb(impl, c, args.segments, args.device)
        row["fused_over_sdpa_time"] = row["fused_ms"] / row["sdpa_ms"]
        row["fused_over_sdpa_mem"] = row["fused_peak_mb"] / max(row["sdpa_peak_mb"], 1e-9)
        row["reference_over_fused_mem"] = row["reference_peak_mb"] / max(row["fused_peak_mb"],
                                                                          1e-9)
        if "flex_ms" in row:  # the FlexAttention kernel (GPU only: no CPU backward)
            row["flex_over_sdpa_time"] = row["flex_ms"] / row["sdpa_ms"]
            row["flex_over_sdpa_mem"] = row["flex_peak_mb"] / max(row["sdpa_peak_mb"], 1e-9)
        row["tokens"] = c * args.segments
        results[str(c)] = row
        print(c, json.dumps({k: round(v, 2) for k, v in row.items()}), flush=True)
    report = {"benchmark": "mvpa", "device": args.device, "segments": args.segments,
              "width": WIDTH["name"] or ("s" if args.device != "cpu" else "tiny"),
              "dtype": "bfloat16" if args.device != "cpu" else "float32",
              "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                          "torch": torch.__version__,
                          "gpu": torch.cuda.get_device_name() if args.device != "cpu" else None},
              "results": results}
    if args.device != "cpu":
        report["flex_compilations"] = flex_compilations()
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
