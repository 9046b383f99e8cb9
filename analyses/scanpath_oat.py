"""OAT between the scanpath baselines and the generating policy (the oracle) on held-out trials.

Trains OAT (the object-level attention transformer) on the synthetic visual
search benchmark, whose "humans" follow a known colour-guided policy, then
scores its greedy and sampled scanpaths, the four baselines, the policy
oracle (the generating policy itself: its most likely path, its step-wise
arg-max path and samples from it) and the humans against each other on the
held-out test trials with the shared metrics of :mod:`neuroattn.gaze.metrics`:

* sequence score (Needleman-Wunsch on object indices, match 1, gap 0, divided
  by the longer path; each path against every human, humans without
  themselves) and normalised edit distance;
* MultiMatch (vector, direction, length, position) on the fixated objects'
  pixel centres, against every human, averaged;
* OAT's behavioural measures (target found, length, search, refixation and
  revisit fractions) and their delta to the humans;
* EOS after target: the share of paths that stop right after the target;
* the ceiling: where OAT lies between the best baseline (0) and the oracle (1)
  (:func:`~neuroattn.gaze.oat.evaluation.gap_closed`), for the sequence score
  (greedy OAT against the oracle's step-wise arg-max, which is what greedy
  decoding of a perfectly learned policy gives, and against its most likely
  path; sampled OAT against the oracle's samples) and for the behavioural
  delta (sampled OAT against the oracle's samples; a deterministic path never
  refixates or revisits, so even the oracle's greedy paths have a large delta).

    python analyses/scanpath_oat.py --out analyses/results/scanpath_oat
    python analyses/scanpath_oat.py --seed 3 --epochs 40 --out /tmp/oat

Training runs on one torch thread by default (``--threads``), as in
``tests/gaze/oat/test_learning.py``, so that the trained model is the test's.
Writes ``metrics.png`` (the table as bars), ``scanpaths.png`` (human, OAT, the
oracle's most likely and the best baseline's paths drawn over three test
displays) and ``scanpath_oat.json`` (every number, with seed, configs and
timings), and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import torch  # noqa: E402

from neuroattn.datasets.synthetic import make_visual_search  # noqa: E402
from neuroattn.gaze.metrics import (  # noqa: E402
    ScanpathPairs,
    edit_distances,
    human_human_pairs,
    model_human_pairs,
    multimatch_means,
)
from neuroattn.gaze.oat import (  # noqa: E402
    BASELINES,
    OAT,
    PolicyOracle,
    fit_oat,
    gap_closed,
    human_agreement,
    make_baseline,
    scanpath_report,
)
from neuroattn.plotting import save_figure  # noqa: E402
from neuroattn.plotting.scanpaths import plot_metric_bars, plot_scanpath_grid  # noqa: E402
from neuroattn.reports import write_json  # noqa: E402
from neuroattn.seeding import set_seed  # noqa: E402

FIXATION_S = 0.25
"""Duration given to every fixation for MultiMatch (the benchmark has none; the duration
dimension is then 1 for everyone and is left out)."""
MM_KEYS = ("vector", "direction", "length", "position")
COLUMNS = ("sequence_score", "edit_distance", *(f"mm_{k}" for k in MM_KEYS), "correct",
           "length", "search", "refix", "revisit", "delta", "eos_after_target")
N_EXAMPLES = 3
OAT_SIZE = "small"
"""OAT.presets["small"], the learning test's; the paper's is d 512, 4 + 4 layers."""
TRAIN_CONFIG = {"batch_size": 24, "lr": 2e-3, "patience": 6, "val_method": "sample",
                "val_samples": 3, "progress": False}
ORACLE_MOST_LIKELY = "oracle: most likely path"
ORACLE_GREEDY = "oracle: step-wise arg-max"
METRIC_PANELS = {"sequence_score": "sequence score (↑)", "mm_position": "MultiMatch position (↑)",
                 "mm_direction": "MultiMatch direction (↑)", "delta": "behavioural delta (↓)"}
BAR_COLOURS = {"humans": "0.35", "OAT": "tab:blue", "oracle": "tab:green"}
"""Bar colour by model-name prefix; the baselines are orange."""


def _pair_metrics(pairs: ScanpathPairs, trials) -> dict[str, float]:
    row = {"edit_distance": float(pairs.trial_mean(edit_distances(pairs.a, pairs.b,
                                                                  normalize=True)))}
    centres = pairs.map_paths(lambda path, i: trials.object_centres(i)[np.asarray(path)])
    mm = multimatch_means(centres, trials.image(0).shape[1::-1], duration=FIXATION_S)
    row.update({f"mm_{k}": mm[k] for k in MM_KEYS})
    return row


def score(paths, trials, ended=None) -> dict[str, float]:
    """Every column of the table for ``paths[i][s]`` on ``trials``."""
    report = scanpath_report(paths, trials, ended=ended)
    row = {k: report[k] for k in ("sequence_score", "correct", "length", "search", "refix",
                                  "revisit", "delta", "eos_after_target")}
    row.update(_pair_metrics(model_human_pairs(paths, trials.scanpaths), trials))
    return row


def score_humans(trials) -> dict[str, float]:
    """Humans against the other humans of the same trial (self-pairs left out)."""
    report = scanpath_report([list(h) for h in trials.scanpaths], trials)
    row = {k: report[f"human_{k}"] for k in ("correct", "length", "search", "refix",
                                            "revisit")}
    row["sequence_score"] = human_agreement(trials)
    row.update(_pair_metrics(human_human_pairs(trials.scanpaths), trials))
    row["delta"] = 0.0
    row["eos_after_target"] = float("nan")  # the policy stops at the target by construction
    return row


def ceiling(table: dict[str, dict[str, float]], baselines: list[str], samples: int,
            ) -> dict[str, dict[str, float]]:
    """OAT's place between the best baseline and the oracle, per comparison."""
    sampled = f"(sampled x{samples})"
    best_ss = max(table[n]["sequence_score"] for n in baselines)
    best_delta = min(table[n]["delta"] for n in baselines)
    rows = {
        "sequence_score, greedy OAT vs the oracle's step-wise arg-max":
            ("OAT (greedy)", ORACLE_GREEDY, "sequence_score", best_ss),
        "sequence_score, greedy OAT vs the oracle's most likely path":
            ("OAT (greedy)", ORACLE_MOST_LIKELY, "sequence_score", best_ss),
        "sequence_score, sampled OAT vs the oracle's samples":
            (f"OAT {sampled}", f"oracle {sampled}", "sequence_score", best_ss),
        "delta, sampled OAT vs the oracle's samples":
            (f"OAT {sampled}", f"oracle {sampled}", "delta", best_delta),
    }
    return {name: {"best_baseline": base, "oat": table[oat][key], "oracle": table[orc][key],
                   "gap_closed": gap_closed(table[oat][key], base, table[orc][key])}
            for name, (oat, orc, key, base) in rows.items()}


def figures(table: dict[str, dict[str, float]], trials, drawn: dict[str, list],
            images: list[int], out: Path) -> None:
    """``metrics.png`` and ``scanpaths.png`` (the ``drawn`` object paths over ``images``)."""
    bars = plot_metric_bars(
        table, METRIC_PANELS, colours=BAR_COLOURS,
        title="Held-out visual-search trials: OAT (blue), baselines (orange), the generating "
              "policy (green) and the humans vs the other humans (grey)")
    save_figure(bars, out / "metrics.png", dpi=130, close=True)
    boxes = [trials.boxes[i, trials.targets[i]] for i in images]
    grid = plot_scanpath_grid(
        [trials.image(i) for i in images],
        {name: [trials.object_centres(i)[np.asarray(paths[i])] for i in images]
         for name, paths in drawn.items()},
        [(x0 - 1, y0 - 1, x1, y1) for x0, y0, x1, y1 in boxes], merge_within=0.0,
        row_labels=[f"test trial {i}" for i in images],
        title="Scanpaths over the search displays (green box: target; numbers: the fixations "
              "on each object, in order)")
    save_figure(grid, out / "scanpaths.png", dpi=130, close=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0, help="data and model seed")
    parser.add_argument("--epochs", type=int, default=20, help="most training epochs")
    parser.add_argument("--samples", type=int, default=10, help="sampled OAT paths per trial")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: the learning test's trajectory)")
    parser.add_argument("--out", default="analyses/results/scanpath_oat")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)

    start = time.perf_counter()
    set_seed(args.seed)
    data = make_visual_search(n_train=1000, n_subjects=3, seed=args.seed)
    timings = {"data": time.perf_counter() - start}

    t = time.perf_counter()
    model = OAT.preset(OAT_SIZE, seed=args.seed)
    with tempfile.TemporaryDirectory() as run_dir:  # the trainer's checkpoints, not kept
        fit = fit_oat(model, data.train, data.val, run_dir, epochs=args.epochs, seed=args.seed,
                      **TRAIN_CONFIG)
    timings["fit_oat"] = time.perf_counter() - t
    print(f"OAT: trained in {timings['fit_oat']:.1f} s (best epoch {fit['best_epoch']})",
          flush=True)

    test = data.test
    t = time.perf_counter()
    greedy, greedy_ended = model.generate(test, return_ended=True)
    sampled, sampled_ended = model.generate(test, method="sample", n_samples=args.samples,
                                            seed=args.seed, return_ended=True)
    timings["generate_oat"] = time.perf_counter() - t
    table = {"OAT (greedy)": score(greedy, test, greedy_ended),
             f"OAT (sampled x{args.samples})": score(sampled, test, sampled_ended)}
    drawn = {"human (subject 0)": [paths[0] for paths in test.scanpaths],
             "OAT (greedy)": [p[0] for p in greedy]}
    baseline_paths = {}
    for name in BASELINES:
        baseline = make_baseline(name).fit(data.train)
        paths = baseline.generate(test, method="sample", n_samples=args.samples, seed=args.seed)
        baseline_paths[name] = paths
        table[f"{name} (sampled x{args.samples})"] = score(paths, test)
    oracle = PolicyOracle()
    t_oracle = time.perf_counter()
    most_likely = oracle.generate(test)
    table[ORACLE_MOST_LIKELY] = score(most_likely, test)
    table[ORACLE_GREEDY] = score(oracle.generate(test, method="greedy"), test)
    table[f"oracle (sampled x{args.samples})"] = score(
        oracle.generate(test, method="sample", n_samples=args.samples, seed=args.seed), test)
    timings["oracle"] = time.perf_counter() - t_oracle
    drawn[ORACLE_MOST_LIKELY] = [p[0] for p in most_likely]
    table["humans"] = score_humans(test)
    baseline_rows = [f"{n} (sampled x{args.samples})" for n in BASELINES]
    best = max(BASELINES, key=lambda n: table[f"{n} (sampled x{args.samples})"]
               ["sequence_score"])
    drawn[f"best baseline: {best}"] = [p[0] for p in baseline_paths[best]]
    timings["scoring"] = (time.perf_counter() - t - timings["generate_oat"]
                          - timings["oracle"])
    place = ceiling(table, baseline_rows, args.samples)

    t = time.perf_counter()
    images = list(range(min(N_EXAMPLES, len(test))))
    figures(table, test, drawn, images, out)
    timings["figures"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - start

    result = {
        "what": __doc__.split("\n\n")[0], "seed": args.seed,
        "data_config": dataclasses.asdict(data.config),
        "oat_config": {"preset": OAT_SIZE, **OAT.presets[OAT_SIZE]},
        "train_config": {**TRAIN_CONFIG, "epochs": args.epochs},
        "best_epoch": fit["best_epoch"], "n_test_trials": len(test),
        "protocol": {
            "sequence_score": "Needleman-Wunsch on object indices (match 1, mismatch 0, gap 0) "
                              "divided by the longer path; each path against every human of "
                              "the trial, averaged per trial then over trials; humans are "
                              "scored against the other humans only",
            "edit_distance": "Levenshtein on object indices divided by the longer path, same "
                             "pairing",
            "multimatch": f"multimatch_scores on the fixated objects' pixel centres with "
                          f"{FIXATION_S} s per fixation, no grouping, same pairing",
            "delta": "mean over correct, length, search, refix, revisit of "
                     "|model - human| / human",
            "oracle": "the generating policy itself (PolicyOracle): most likely complete path "
                      "(exact search), arg-max at every step, and independent samples",
            "ceiling": "gap_closed = (OAT - best baseline) / (oracle - best baseline); best "
                       "baseline: highest sequence score / lowest delta among the sampled "
                       "baselines",
        },
        "table": table, "best_baseline": best, "ceiling": place, "example_trials": images,
        "threads": args.threads, "seconds": timings,
    }
    write_json(out / "scanpath_oat.json", result)

    print("\n| model | " + " | ".join(COLUMNS) + " |")
    print("|---|" + "---|" * len(COLUMNS))
    for name, row in table.items():
        print(f"| {name} | " + " | ".join(f"{row[k]:.3f}" for k in COLUMNS) + " |")
    print("\n| comparison | best baseline | OAT | oracle | gap closed |\n|---|---|---|---|---|")
    for name, row in place.items():
        print(f"| {name} | {row['best_baseline']:.3f} | {row['oat']:.3f} | {row['oracle']:.3f} "
              f"| {row['gap_closed']:.2f} |")
    print(f"\nwrote {out}/ in {timings['total']:.0f} s")


if __name__ == "__main__":
    main()
