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
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Circle  # noqa: E402

from neuroattn.datasets.synthetic import make_synthetic_encoding  # noqa: E402
from neuroattn.encoding import SpatialFeatureEncoder, TransformerBrainEncoder  # noqa: E402
from neuroattn.encoding.metrics import noise_normalized_accuracy  # noqa: E402
from neuroattn.encoding.ridge import RidgeEncoder  # noqa: E402
from neuroattn.plotting import save_figure  # noqa: E402
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


def plot_overlay(data, maps: dict, images: list[int], path: Path) -> None:
    """Rows: ROIs; per image three columns: ground truth, transformer, static map."""
    cat_colors = plt.get_cmap("tab10")(np.arange(data.config.n_categories) + 2)
    n_roi = len(data.roi_names)
    columns = [("truth", "ground truth"), ("transformer", "transformer"),
               ("spatial", "static map")]
    n_img = len(images)
    ratios = ([1, 1, 1, 0.3] * n_img)[:-1]  # a narrow spacer between images
    fig, grid = plt.subplots(n_roi, len(ratios), figsize=(1.35 * sum(ratios) + 1.6,
                                                          1.35 * n_roi + 1.4),
                             squeeze=False, gridspec_kw={"wspace": 0.06, "hspace": 0.1,
                                                         "width_ratios": ratios})
    for ax in grid[:, 3::4].ravel():
        ax.axis("off")
    axes = np.delete(grid, np.s_[3::4], axis=1)
    obj = data.objects_test
    for k, image in enumerate(images):
        here = obj["image"] == image
        for c, (key, title) in enumerate(columns):
            for r in range(n_roi):
                ax = axes[r, 3 * k + c]
                m = maps[key][image, r]
                ax.imshow(m / m.max(), cmap="magma", vmin=0, vmax=1, interpolation="nearest")
                for y, x, s, cat in zip(obj["y"][here], obj["x"][here], obj["size"][here],
                                        obj["category"][here], strict=True):
                    ax.add_patch(Circle((x, y), s, fill=False, lw=1.6, color=cat_colors[cat]))
                    ax.plot(x, y, "+", ms=5, mew=1.5, color=cat_colors[cat])
                ax.set_xticks([])
                ax.set_yticks([])
                if r == 0:
                    ax.set_title(f"image {image}\n{title}" if c == 1 else f"\n{title}",
                                 fontsize=9)
                if k == 0 and c == 0:
                    kind = data.roi_kinds[r]
                    pref = int(data.roi_categories[r])
                    ax.set_ylabel(f"{data.roi_names[r]}\n{kind}"
                                  + (f"\n(prefers cat {pref})" if pref >= 0 else ""),
                                  fontsize=8, rotation=0, ha="right", va="center",
                                  color=cat_colors[pref] if pref >= 0 else "k")
    handles = [Line2D([], [], marker="o", ls="", mfc="none", mec=cat_colors[i], mew=1.6,
                      label=f"category {i} object") for i in range(len(cat_colors))]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8,
               frameon=False, bbox_to_anchor=(0.5, 0.0))
    fig.suptitle("Where each ROI reads the image: ground-truth routing vs the models' maps "
                 "(each map scaled to its maximum; circles: objects, radius = blob sd)",
                 fontsize=10)
    save_figure(fig, path, dpi=130, close=True)


def plot_surface(data, accuracy: np.ndarray, path: Path) -> None:
    """The transformer's per-voxel r²/NC on fsaverage5; vertices outside the ROIs are blank."""
    from nilearn import datasets, plotting

    mesh = datasets.load_fsaverage("fsaverage5")["inflated"]
    sulc = datasets.load_fsaverage_data(mesh="fsaverage5", data_type="sulcal",
                                        mesh_type="inflated")
    views = ("ventral", "posterior")
    fig, axes = plt.subplots(2, 2, figsize=(9, 6.5), subplot_kw={"projection": "3d"},
                             gridspec_kw={"hspace": 0.0, "wspace": 0.0})
    for row, (hemi, side) in enumerate((("lh", "left"), ("rh", "right"))):
        texture = np.full(mesh.parts[side].n_vertices, np.nan)
        mine = data.voxel_hemisphere == hemi
        texture[data.voxel_vertex[mine]] = accuracy[mine]
        rois = [n for n, h in zip(data.roi_names, data.roi_hemispheres, strict=True) if h == hemi]
        for col, view in enumerate(views):
            plotting.plot_surf_stat_map(
                mesh.parts[side], texture, hemi=side, view=view,
                bg_map=np.asarray(sulc.data.parts[side]), cmap="viridis",
                vmin=0.0, vmax=1.0, colorbar=(col == 1), symmetric_cbar=False,
                axes=axes[row, col], figure=fig,
                title=f"{hemi} {view} ({', '.join(rois)})")
    fig.suptitle("Transformer encoder: r²/NC per voxel on fsaverage5\n(retinotopic ROIs at the "
                 "occipital pole, category ROIs on the fusiform, mixed on lateral occipital)",
                 fontsize=10)
    save_figure(fig, path, dpi=130, close=True)


def plot_comparison(data, per_roi: dict, path: Path) -> None:
    """Mean r²/NC per ROI kind for each model, with the ROIs as points."""
    fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
    width = 0.26
    kinds = np.asarray(data.roi_kinds)
    for m, model in enumerate(MODELS):
        scores = np.array([per_roi[model][name] for name in data.roi_names])
        means = [scores[kinds == kind].mean() for kind in KINDS]
        x = np.arange(len(KINDS)) + (m - 1) * width
        ax.bar(x, means, width=width * 0.95, color=COLORS[model], label=LABELS[model])
        for i, kind in enumerate(KINDS):
            pts = scores[kinds == kind]
            ax.scatter(np.full(pts.size, x[i]) + np.linspace(-0.05, 0.05, pts.size), pts,
                       s=14, color="k", zorder=3)
            ax.text(x[i], 0.03, f"{means[i]:.2f}", ha="center", fontsize=8, color="white",
                    fontweight="bold")  # inside the bar, clear of the dots
    ax.axhline(1.0, color="k", lw=0.8, ls="--")
    ax.set(xticks=range(len(KINDS)), xticklabels=[f"{k} ROIs" for k in KINDS],
           ylabel="mean r²/NC (test)", ylim=(0, 1.12),
           title="Encoding accuracy per ROI kind (dots: single ROIs; 1 = noise ceiling)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, fontsize=8, frameon=False)
    save_figure(fig, path, dpi=130, close=True)


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
    plot_overlay(data, maps, images, out / "routing_overlay.png")
    plot_surface(data, accuracy["transformer"], out / "accuracy_surface.png")
    plot_comparison(data, per_roi, out / "model_comparison.png")
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
