"""Scanpath metrics: our vectorised MultiMatch vs multimatch-gaze, side by side.

Scores 2000 random scanpath pairs (``--quick``: 500) of 8-20 fixations each
(uniform on a 1280 x 720 screen, durations uniform in [50, 600) ms) with
:func:`neuroattn.gaze.metrics.multimatch_similarity.multimatch_scores` (all pairs in one
call) and with ``multimatch_gaze.docomparison`` in a loop over the pairs.
Timed: the whole scoring of all pairs, after a small warm-up of each; the two
alternate over ``--repeats`` runs (median), so both see the same load on a
shared machine. Done twice: without grouping (the headline ``ours_s``,
``peer_s``, ``speedup`` = peer / ours, target >= 20, and ``max_abs_diff`` over
all pairs and the five dimensions), and with grouping (TAmp 150 px, TDir 45
degrees, TDur 0.3 s) under ``grouping``; pairs on which the peer raises are
counted there and left out of its ``max_abs_diff``. Then OAT's inference
throughput at the paper's size (``oat_*`` keys; ``--no-oat`` leaves it out,
since at the full size it takes long on a CPU). ``load_average`` records the
1-minute load average before and after the run (``os.getloadavg``).

Usage::

    python benchmarks/bench_scanpath_metrics.py --quick --out scanpath_metrics.json
    python benchmarks/bench_scanpath_metrics.py --no-oat --out scanpath_metrics.json
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from neuroattn.gaze.metrics.multimatch_similarity import multimatch_scores
from neuroattn.reports import write_json

SCREEN = (1280, 720)
GROUPING = {"amplitude_threshold": 150.0, "direction_threshold": 45.0,
            "duration_threshold": 0.3}


def random_pairs(n_pairs: int, min_fix: int, max_fix: int, seed: int
                 ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Pairs of (n, 3) scanpaths, n uniform in [min_fix, max_fix]."""
    rng = np.random.default_rng(seed)

    def path() -> np.ndarray:
        n = int(rng.integers(min_fix, max_fix + 1))
        return np.column_stack([rng.uniform(0, SCREEN[0], n), rng.uniform(0, SCREEN[1], n),
                                rng.uniform(0.05, 0.6, n)])

    return [path() for _ in range(n_pairs)], [path() for _ in range(n_pairs)]


def peer_scores(a: list[np.ndarray], b: list[np.ndarray], grouping: bool) -> np.ndarray:
    """``multimatch_gaze.docomparison`` per pair (NaN rows where it raises)."""
    import multimatch_gaze

    thresholds = GROUPING if grouping else {}
    out = np.full((len(a), 5), np.nan)
    for k, (pa, pb) in enumerate(zip(a, b, strict=True)):
        rec_a = np.rec.fromarrays(pa.T, names="start_x,start_y,duration")
        rec_b = np.rec.fromarrays(pb.T, names="start_x,start_y,duration")
        try:
            out[k] = multimatch_gaze.docomparison(
                rec_a, rec_b, list(SCREEN), grouping=grouping,
                TDir=thresholds.get("direction_threshold", 0.0),
                TDur=thresholds.get("duration_threshold", 0.0),
                TAmp=thresholds.get("amplitude_threshold", 0.0))
        except IndexError:  # its lone-short-saccade bug under grouping
            pass
    return out


def ours_scores(a: list[np.ndarray], b: list[np.ndarray], grouping: bool) -> np.ndarray:
    return multimatch_scores(a, b, SCREEN, grouping=grouping,
                            **(GROUPING if grouping else {}), progress=False)


def timed(fn, *args) -> tuple[float, np.ndarray]:
    t0 = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - t0, result


def multimatch_vs_peer(a: list[np.ndarray], b: list[np.ndarray], *, grouping: bool,
                       repeats: int) -> dict:
    """Seconds to score all pairs, ours and the peer's, and their largest difference."""
    ours_scores(a[:20], b[:20], grouping)  # warm-up: lazily imported code, caches
    peer_scores(a[:20], b[:20], grouping)
    ours_times, peer_times = [], []
    for r in range(repeats):
        seconds, ours = timed(ours_scores, a, b, grouping)
        ours_times.append(seconds)
        seconds, theirs = timed(peer_scores, a, b, grouping)
        peer_times.append(seconds)
        print(f"{'grouping' if grouping else 'plain'} repeat {r + 1}: ours "
              f"{ours_times[-1]:.3f} s, multimatch-gaze {peer_times[-1]:.2f} s", flush=True)
    ours_s, peer_s = statistics.median(ours_times), statistics.median(peer_times)
    scored = ~np.isnan(theirs).any(axis=1)
    return {"ours_s": ours_s, "peer_s": peer_s, "speedup": peer_s / ours_s,
            "max_abs_diff": float(np.abs(ours[scored] - theirs[scored]).max()),
            "ours_pairs_per_s": len(a) / ours_s, "peer_pairs_per_s": len(a) / peer_s,
            "ours_times_s": ours_times, "peer_times_s": peer_times,
            "peer_failed_pairs": int((~scored).sum()),
            "ours_nan_pairs": int(np.isnan(ours).any(axis=1).sum())}


def oat_throughput(*, n_trials: int, device: str, seed: int) -> dict:
    """OAT scanpaths per second at the paper's size (d 512, 4 + 4 layers), untrained weights.

    Greedy decoding of ``n_trials`` synthetic 4 x 6 search displays, all trials
    batched, against the same trials decoded one at a time (the reference
    code's loop); and sampling 10 paths per trial, batched. Generation cost
    does not depend on the weights, only on the path lengths, which are
    ``max_len`` = 24 for an untrained model (the worst case).
    """
    import torch

    from neuroattn.datasets.synthetic import make_visual_search
    from neuroattn.device import resolve_device
    from neuroattn.gaze.oat import OAT, as_search_trials

    torch.manual_seed(seed)
    test = make_visual_search(n_train=2, n_val=1, n_test=n_trials, seed=seed).test
    dev = resolve_device(device)
    model = OAT(n_rows=4, n_cols=6, max_len=24, pe_iterations=2000, seed=seed).to(dev)
    model.generate(test, batch_size=32)  # warm-up
    start = time.perf_counter()
    greedy = model.generate(test, batch_size=256)
    batched_s = time.perf_counter() - start
    n_loop = min(n_trials, 50)  # one trial at a time is slow: time a prefix, scale to all
    prefix = as_search_trials(test).subset(np.arange(n_loop))
    start = time.perf_counter()
    model.generate(prefix, batch_size=1)
    loop_s = (time.perf_counter() - start) * n_trials / n_loop
    start = time.perf_counter()
    model.generate(test, method="sample", n_samples=10, batch_size=1024, seed=seed)
    sampled_s = time.perf_counter() - start
    return {"oat_device": str(dev), "oat_trials": n_trials,
            "oat_mean_length": float(np.mean([len(p[0]) for p in greedy])),
            "oat_scanpaths_per_s": n_trials / batched_s,
            "oat_loop_scanpaths_per_s": n_trials / loop_s,
            "oat_batch_speedup": loop_s / batched_s,
            "oat_sampled_scanpaths_per_s": 10 * n_trials / sampled_s}


def machine() -> dict:
    import scipy
    import torch

    def version(dist: str) -> str:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    return {"platform": platform.platform(), "cpu_count": os.cpu_count(),
            "python": sys.version.split()[0], "numpy": np.__version__,
            "scipy": scipy.__version__, "torch": torch.__version__,
            "multimatch_gaze": version("multimatch-gaze"), "neuroattn": version("neuroattn"),
            "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="500 pairs instead of 2000")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed runs of each, alternating (median; default 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="OAT's device (default: CUDA if any)")
    parser.add_argument("--no-oat", action="store_true",
                        help="MultiMatch only: leave out the OAT throughput")
    args = parser.parse_args()
    n_pairs, min_fix, max_fix = (500 if args.quick else 2000), 8, 20
    a, b = random_pairs(n_pairs, min_fix, max_fix, args.seed)
    report: dict = {
        "benchmark": "scanpath_metrics",
        "config": {"n_pairs": n_pairs, "fixations": [min_fix, max_fix], "screen": SCREEN,
                   "durations_s": [0.05, 0.6], "grouping_thresholds": GROUPING,
                   "repeats": args.repeats, "seed": args.seed, "quick": args.quick,
                   "ours": "multimatch_scores, all pairs in one call",
                   "peer": "multimatch_gaze.docomparison in a loop"},
        "machine": machine(),
        "n_pairs": n_pairs,
        "quick": args.quick,
    }
    load_before = os.getloadavg()[0]

    # --- MultiMatch against multimatch-gaze ------------------------------------------------
    report.update(multimatch_vs_peer(a, b, grouping=False, repeats=args.repeats))
    report["grouping"] = multimatch_vs_peer(a, b, grouping=True, repeats=args.repeats)

    # --- OAT inference throughput ----------------------------------------------------------
    if not args.no_oat:
        report.update(oat_throughput(n_trials=100 if args.quick else 200, device=args.device,
                                     seed=args.seed))
    report["load_average"] = {"before": load_before, "after": os.getloadavg()[0]}

    print(json.dumps({k: v for k, v in report.items() if not isinstance(v, (dict, list))},
                     indent=1))
    if args.out:
        write_json(args.out, report)


if __name__ == "__main__":
    main()
