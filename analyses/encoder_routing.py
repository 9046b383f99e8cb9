"""Transformer brain encoder vs static-map and ridge baselines on the synthetic routing benchmark.

Reproduces the interpretation of the transformer brain encoder (Adeli et al.
2025) where the answer is known: every synthetic ROI reads the image through a
ground-truth routing map (static for retinotopic ROIs, following its
preferred category for category ROIs, both for mixed ROIs). Three encoders
are trained on the same features: the transformer (one learned query per ROI,
routing per image), the factorised spatial-feature model (one static map per
ROI) and voxelwise ridge on the flattened grid.

    python analyses/encoder_routing.py --out analyses/results/encoder_routing
    python analyses/encoder_routing.py --seed 3 --out /tmp/routing
    python analyses/encoder_routing.py --no-figures --table-seeds 0 1 2 3 \
        --out analyses/results/encoder_routing

Writes ``routing_overlay.png`` (ground-truth, transformer and static maps per
ROI for three test images, over the objects in each image),
``accuracy_surface.png`` (the transformer's per-voxel r²/NC on fsaverage5),
``model_comparison.png`` (mean r²/NC per ROI kind and model) and
``encoder_routing.json`` (the numbers behind them, with seed, config and
timings), and prints a Markdown table.

The default generator is the transformer's own function class, so those
figures show a correctly specified model against misspecified baselines.
``--table-seeds`` also fits every model on every generator of
:data:`GENERATORS` (the matched one, the same with 20 % of voxels in two ROIs
read by the reference's sum rule, per-voxel Gaussian pRFs, channel-wise max
pooling) for each seed, and writes ``generator_table.json`` and a Markdown
table: mean r²/NC over seeds, with the range.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neuroattn.datasets.synthetic import make_synthetic_encoding  # noqa: E402
from neuroattn.encoding import SpatialFeatureEncoder, TransformerBrainEncoder  # noqa: E402
from neuroattn.encoding.metrics import noise_normalized_accuracy  # noqa: E402
from neuroattn.encoding.ridge import RidgeEncoder  # noqa: E402
from neuroattn.plotting.encoding import (  # noqa: E402
    plot_roi_kind_accuracy,
    plot_routing_maps,
    plot_surface_accuracy,
)
from neuroattn.reports import write_json  # noqa: E402

MODELS = ("transformer", "spatial", "ridge")
GENERATORS = {
    "attention": {},
    "attention, 20 % overlap, sum": {"overlap_fraction": 0.2, "overlap_rule": "sum"},
    "prf": {"readout": "prf"},
    "max": {"readout": "max"},
}
"""Generator overrides of ``make_synthetic_encoding`` for the table (the first is matched)."""
BASELINES = ("spatial", "ridge")
LABELS = {"transformer": "transformer (routing per image)",
          "spatial": "spatial-feature (static map)", "ridge": "ridge (flattened grid)"}
COLORS = {"transformer": "tab:blue", "spatial": "tab:orange", "ridge": "tab:gray"}
KINDS = ("retinotopic", "category", "mixed")
MAP_COLUMNS = {"truth": "ground truth", "transformer": "transformer", "spatial": "static map"}
"""The routing overlay's columns per image: key of the maps -> column title."""
OVERLAY_TITLE = ("Where each ROI reads the image: ground-truth routing vs the models' maps "
                 "(each map scaled to its maximum; circles: objects, radius = blob sd)")
SURFACE_TITLE = ("Transformer encoder: r²/NC per voxel on fsaverage5\n(retinotopic ROIs at the "
                 "occipital pole, category ROIs on the fusiform, mixed on lateral occipital)")
N_EXAMPLES = 3


def _encoders(seed: int, overlap_rule: str = "mean") -> dict:
    return {
        "transformer": TransformerBrainEncoder.preset("small", overlap_rule=overlap_rule,
                                                      random_state=seed),
        "spatial": SpatialFeatureEncoder.preset("small", random_state=seed),
        "ridge": RidgeEncoder(cv=3),
    }


def _routing_r(model_maps: np.ndarray, true_maps: np.ndarray) -> np.ndarray:
    """Per ROI: mean over images of Pearson r between the two (n, R, H, W) maps."""
    a = model_maps.reshape(*model_maps.shape[:2], -1).astype(np.float64)
    b = true_maps.reshape(*true_maps.shape[:2], -1).astype(np.float64)
    a = a - a.mean(-1, keepdims=True)
    b = b - b.mean(-1, keepdims=True)
    den = np.sqrt((a**2).sum(-1) * (b**2).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a * b).sum(-1) / den  # NaN where a map is flat
    return np.nanmean(r, axis=0)


def _examples(objects: dict, n_test: int) -> list[int]:
    """The first test images with objects of at least two categories (else any)."""
    picked = [i for i in range(n_test)
              if len(set(objects["category"][objects["image"] == i].tolist())) >= 2]
    picked += [i for i in range(n_test) if i not in picked]
    return picked[:N_EXAMPLES]


def _fit_predict(name: str, enc, data) -> np.ndarray:
    """Fit one encoder on the training split and predict the test images."""
    n_train, n_test = len(data.X_train), len(data.X_test)
    if name == "ridge":
        enc.fit(data.X_train.reshape(n_train, -1), data.Y_train)
        return enc.predict(data.X_test.reshape(n_test, -1))
    enc.fit(data.X_train, data.Y_train, rois=data.roi_membership)
    return enc.predict(data.X_test)


def _write_table(runs: list[dict], seeds: list[int], out: Path) -> dict:
    """Summarise the runs so far per generator and model; write ``generator_table.json``."""
    summary = {}
    for gen in GENERATORS:
        mine = [r for r in runs if r["generator"] == gen]
        if not mine:
            continue
        models = list(mine[0]["accuracy_mean"])
        summary[gen] = {m: {"mean": float(np.mean([r["accuracy_mean"][m] for r in mine])),
                            "min": float(np.min([r["accuracy_mean"][m] for r in mine])),
                            "max": float(np.max([r["accuracy_mean"][m] for r in mine]))}
                        for m in models}
        gap = [r["accuracy_mean"]["transformer"]
               - max(r["accuracy_mean"][b] for b in BASELINES) for r in mine]
        summary[gen]["transformer minus best baseline"] = {
            "mean": float(np.mean(gap)), "min": float(np.min(gap)), "max": float(np.max(gap))}
    result = {"what": "mean r²/NC on the test images, every model on every generator",
              "seeds": seeds, "seeds_done": sorted({r["seed"] for r in runs}),
              "generators": GENERATORS,
              "models": {name: enc.get_params() for name, enc in _encoders(0).items()},
              "sum_rule_model": "the transformer with overlap_rule='sum', on generators with "
                                "overlapping voxels",
              "summary": summary, "runs": runs}
    write_json(out / "generator_table.json", result)
    return result


def generator_table(seeds: list[int], out: Path) -> dict:
    """Every model on every generator of :data:`GENERATORS`, per seed; writes the JSON."""
    runs = []
    for seed in seeds:
        for gen, overrides in GENERATORS.items():
            data = make_synthetic_encoding(seed=seed, **overrides)
            encoders = _encoders(seed)
            if overrides.get("overlap_fraction"):  # the model's rule too, where it matters
                encoders["transformer, sum rule"] = _encoders(seed, "sum")["transformer"]
            scores = {"ground truth": data.true_response(data.X_test)}
            seconds = {}
            for name, enc in encoders.items():
                t = time.perf_counter()
                scores[name] = _fit_predict(name, enc, data)
                seconds[name] = time.perf_counter() - t
            acc = {m: float(noise_normalized_accuracy(p, data.Y_test, data.noise_ceiling).mean())
                   for m, p in scores.items()}
            runs.append({"generator": gen, "overrides": overrides, "seed": seed,
                         "accuracy_mean": acc, "fit_seconds": seconds})
            print(f"seed {seed} {gen}: " + ", ".join(f"{m} {a:.3f}" for m, a in acc.items()),
                  flush=True)
            _write_table(runs, seeds, out)  # after every run: a cut-short sweep keeps its part
    result = _write_table(runs, seeds, out)
    summary = result["summary"]
    columns = ["ground truth", "transformer", "transformer, sum rule", *BASELINES,
               "transformer minus best baseline"]
    print(f"\n| generator (seeds {', '.join(map(str, seeds))}) | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for gen, row in summary.items():
        cells = [f"{row[c]['mean']:.2f} ({row[c]['min']:.2f} to {row[c]['max']:.2f})"
                 if c in row else "–" for c in columns]
        print(f"| {gen} | " + " | ".join(cells) + " |")
    return result


def figures(seed: int, out: Path) -> None:
    """The matched generator with ``seed``: fits, figures, ``encoder_routing.json``, table."""
    start = time.perf_counter()
    data = make_synthetic_encoding(seed=seed)
    timings = {"data": time.perf_counter() - start}
    membership = data.roi_membership
    encoders = _encoders(seed)
    preds, maps = {}, {"truth": data.routing(data.X_test)}
    for name, enc in encoders.items():
        t = time.perf_counter()
        preds[name] = _fit_predict(name, enc, data)
        if name != "ridge":
            maps[name] = enc.attention_maps(data.X_test)
        timings[f"fit_{name}"] = time.perf_counter() - t
        print(f"{name}: fitted in {timings[f'fit_{name}']:.1f} s", flush=True)

    accuracy = {m: noise_normalized_accuracy(preds[m], data.Y_test, data.noise_ceiling)
                for m in MODELS}
    per_roi = {m: {name: float(accuracy[m][membership[:, r]].mean())
                   for r, name in enumerate(data.roi_names)} for m in MODELS}
    per_kind = {m: {kind: float(np.mean([per_roi[m][n] for n, k in
                                         zip(data.roi_names, data.roi_kinds, strict=True)
                                         if k == kind])) for kind in KINDS} for m in MODELS}
    routing = {m: dict(zip(data.roi_names, _routing_r(maps[m], maps["truth"]).tolist(),
                           strict=True)) for m in ("transformer", "spatial")}

    t = time.perf_counter()
    images = _examples(data.objects_test, data.X_test.shape[0])
    figs = [
        plot_routing_maps(maps, images, data.roi_names, objects=data.objects_test,
                          roi_kinds=data.roi_kinds, roi_categories=data.roi_categories,
                          n_categories=data.config.n_categories, columns=MAP_COLUMNS,
                          title=OVERLAY_TITLE, output_file=out / "routing_overlay.png", dpi=130),
        plot_surface_accuracy(accuracy["transformer"], data.voxel_vertex, data.voxel_hemisphere,
                              roi_names=data.roi_names, roi_hemispheres=data.roi_hemispheres,
                              title=SURFACE_TITLE, output_file=out / "accuracy_surface.png",
                              dpi=130),
        plot_roi_kind_accuracy(per_roi, data.roi_names, data.roi_kinds, kinds=KINDS,
                               labels=LABELS, colours=COLORS,
                               output_file=out / "model_comparison.png", dpi=130),
    ]
    for fig in figs:
        plt.close(fig)
    timings["figures"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - start

    result = {
        "what": __doc__.split("\n\n")[0], "seed": seed,
        "data_config": dataclasses.asdict(data.config),
        "models": {name: enc.get_params() for name, enc in encoders.items()},
        "ridge_input": "flattened (H*W*C) grid",
        "metric": "r²/NC: min(max(r, 0)² / NC, 1) per voxel on the test images, "
                  "averaged over the voxels of each ROI",
        "routing_metric": "Pearson r between the model's and the ground-truth map of each "
                          "ROI, per test image, averaged over images (ridge has no map)",
        "rois": [{"name": n, "kind": k, "hemisphere": h}
                 for n, k, h in zip(data.roi_names, data.roi_kinds, data.roi_hemispheres,
                                    strict=True)],
        "accuracy_mean": {m: float(accuracy[m].mean()) for m in MODELS},
        "accuracy_per_roi": per_roi, "accuracy_per_kind": per_kind,
        "routing_r_per_roi": {**routing, "ridge": None},
        "example_images": images, "seconds": timings,
    }
    write_json(out / "encoder_routing.json", result)

    print("\n| model | all | " + " | ".join(KINDS) + " | routing r (" + ", ".join(KINDS)
          + ") |")
    print("|---|---|" + "---|" * len(KINDS) + "---|")
    for m in MODELS:
        r = ("–" if m == "ridge" else ", ".join(
            f"{np.mean([routing[m][n] for n, k in zip(data.roi_names, data.roi_kinds, strict=True) if k == kind]):.2f}"  # noqa: E501
            for kind in KINDS))
        print(f"| {m} | {accuracy[m].mean():.3f} | "
              + " | ".join(f"{per_kind[m][k]:.3f}" for k in KINDS) + f" | {r} |")
    print(f"\nwrote {out}/ in {timings['total']:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=2, help="data and model seed")
    parser.add_argument("--out", default="analyses/results/encoder_routing")
    parser.add_argument("--no-figures", action="store_true",
                        help="skip the figures and their JSON (matched generator, --seed)")
    parser.add_argument("--table-seeds", type=int, nargs="*", default=[],
                        help="seeds of the every-model-on-every-generator table (none: no table)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not args.no_figures:
        figures(args.seed, out)
    if args.table_seeds:
        generator_table(args.table_seeds, out)


if __name__ == "__main__":
    main()
