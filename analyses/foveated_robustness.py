"""Foveated vs Cartesian ResNet18 on cluttered digits: rotation, zoom and localization by scanning.

The experiment of Jérémie, Daucé & Perrinet (2024) on real data that needs no
download: scikit-learn's bundled handwritten digits, each upscaled, placed at
a random position and size on a 96 px noisy canvas with distractor fragments
(:func:`~neuroattn.datasets.cluttered_digits.make_cluttered_digits`; train and
test canvases use disjoint digits). Five ResNet18s, trained from scratch the
same way (fixation at the digit's centre, jittered by 2 px, plus a quarter of
each batch fixated at least 20 px away with the uniform distribution as target),
see the same field of view (a radius of 24 px, a quarter of the canvas) with
the same number of pixels:

* ``foveated_invariant``: the log-polar retina (32 radii x 16 angles, from the
  field's edge to 1/16 of it, anti-aliased by 2x supersampling) and the
  rotation-invariant head (stride 1 along the angle). Its angle grid is
  22.5 degrees: rotations by multiples of 22.5 degrees are column rolls, to
  which it is invariant **by construction**; rotations in between are not;
* ``foveated``: the reference's design, a 32 x 32 point-sampled retina (11.25
  degrees per column) and the ResNet's usual strides, exactly invariant only to
  rolls by its 32-column stride (360 degrees);
* ``cartesian``: the control, a 32 x 32 Cartesian patch behind the inscribed
  circular aperture, trained upright like the two above;
* ``cartesian_rotated``: the same control **trained with rotation
  augmentation** (every training canvas rotated about the fixation by an angle
  drawn uniformly from -180 to 180 degrees), the fair baseline outside the
  log-polar model class;
* ``cartesian_rotated_3x``: the same with three times the epochs, so it trains
  as long as ``foveated_invariant`` (whose stride-1 angle axis makes it 3x
  slower per epoch), since augmentation makes the task harder.

The first three see **no rotation or zoom in training**.

Measured on held-out canvases: accuracy against the rotation of the image
about the fixation every 5.625 degrees from 0 to 180 (on the invariant
retina's 22.5-degree grid and between its steps, including the odd multiples
of 11.25 degrees, half-way between two columns), against zoom about the
fixation, and the class-probability map over an 11 x 11 scan of fixations,
whose peak (refined to the 3 x 3 centroid) is compared with the digit's box.

    python analyses/foveated_robustness.py            # analyses/results/foveated_robustness
    python analyses/foveated_robustness.py --quick    # about 6 min, to a temporary folder

Writes ``rotation.png``, ``zoom.png``, ``localization.png`` (maps over four
test canvases), ``retina.png`` (a canvas, its log-polar view and the view
mapped back), ``foveated_robustness.json`` (every number, with seeds,
configs, machine and timings) and ``foveated_robustness.md`` (the tables),
and prints the tables.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import torch  # noqa: E402

from neuroattn import sys_info  # noqa: E402
from neuroattn.datasets.cluttered_digits import make_cluttered_digits  # noqa: E402
from neuroattn.plotting import save_figure  # noqa: E402
from neuroattn.plotting.retina import (  # noqa: E402
    plot_fixation_scans,
    plot_log_polar_view,
    plot_rotation_sweep,
    plot_zoom_sweep,
)
from neuroattn.reports import write_report  # noqa: E402
from neuroattn.retina import CartesianResNet, FoveatedResNet, LogPolar  # noqa: E402
from neuroattn.retina.sampling import FixationCrop, rotate_zoom_about  # noqa: E402
from neuroattn.retina.scan import scan_fixations  # noqa: E402
from neuroattn.retina.training import (  # noqa: E402
    accuracy,
    fit_fixation_classifier,
    fixation_batches,
    rotation_sweep,
)
from neuroattn.seeding import set_seed  # noqa: E402

FULL = {"train": 3000, "epochs": 4, "test": 500, "scan": 100}
QUICK = {"train": 1000, "epochs": 2, "test": 200, "scan": 40}
TRAIN = {"lr": 2e-3, "jitter": 2.0, "warmup_steps": 20, "batch_size": 32, "off_object": 0.25,
         "off_object_distance": 20.0}
ROTATION_AUGMENTATION = {"cartesian_rotated": 180.0, "cartesian_rotated_3x": 180.0}
"""Degrees of the uniform random rotation about the fixation in training (others: none)."""
EPOCH_FACTOR = {"cartesian_rotated_3x": 3}
"""Epochs x3: the training time of the invariant network (3.0x a Cartesian ResNet18's)."""
FIELD = {"log2_r_max": -1.0, "log2_r_min": -5.0}
"""The retina reaches 2^-1 of the canvas half-width (24 px) and down to 1.5 px."""
ANGLES = tuple(float(a) for a in np.arange(0.0, 180.1, 5.625))
"""Every 5.625 degrees: a quarter of the invariant retina's 22.5-degree angle step."""
GRID_STEP = 22.5
"""The invariant retina's angle step (16 angles): rotations by its multiples are column rolls."""
ZOOMS = (0.6, 0.7, 0.8, 0.9, 1.0, 1.15, 1.3, 1.5, 1.7)
SCAN = {"resolution": (11, 11), "border": 0.8}
MODELS = ("foveated_invariant", "foveated", "cartesian", "cartesian_rotated",
          "cartesian_rotated_3x")
COLOURS = {"foveated_invariant": "tab:red", "foveated": "tab:orange", "cartesian": "tab:blue",
           "cartesian_rotated": "tab:green", "cartesian_rotated_3x": "tab:olive"}


def build(name: str) -> torch.nn.Module:
    """One of the five ResNet18s (see the module docstring)."""
    if name.startswith("cartesian"):
        return CartesianResNet("resnet18", num_classes=10, in_channels=1,
                               crop=FixationCrop(32, log2_radius=FIELD["log2_r_max"]))
    if name == "foveated_invariant":
        return FoveatedResNet("resnet18", num_classes=10, in_channels=1,
                              log_polar=LogPolar(32, 16, **FIELD, supersample=2),
                              rotation_invariant=True)
    return FoveatedResNet("resnet18", num_classes=10, in_channels=1,
                          log_polar=LogPolar(32, 32, **FIELD))


def zoom_sweep(model, test) -> list[float]:
    """Accuracy at the digit's centre after zooming every canvas about it."""
    images, centres = torch.from_numpy(test.images), torch.from_numpy(test.centres)
    return [accuracy(model, rotate_zoom_about(images, centres, zoom=z), test.labels, centres)
            for z in ZOOMS]


def localize(model, test, n: int) -> dict:
    images = torch.from_numpy(test.images[:n])
    scan = scan_fixations(model, images, torch.from_numpy(test.labels[:n]), **SCAN)
    boxes = torch.from_numpy(test.boxes[:n])
    return {"scan": scan,
            "peak_in_box": float(scan.peak_in_box(boxes).float().mean()),
            "grid_peak_in_box": float(scan.peak_in_box(boxes, refine=False).float().mean())}


def markdown(result: dict) -> str:
    rows, angles = result["results"], result["angles"]
    lines = ["| model | trained with rotations | accuracy (0°) | mean on the 22.5° grid | "
             "mean between grid angles | worst angle | mean over zooms | scan peak in box |",
             "|---|---|---|---|---|---|---|---|"]
    for name in MODELS:
        r, summary = rows[name], rows[name]["rotation_summary"]
        augmented = "yes (±180°)" if name in ROTATION_AUGMENTATION else "no"
        if name in EPOCH_FACTOR:
            augmented += f", {EPOCH_FACTOR[name]}x epochs"
        lines.append(f"| {name} | {augmented} | {summary['upright']:.3f} | "
                     f"{summary['on_grid_mean']:.3f} | {summary['off_grid_mean']:.3f} | "
                     f"{summary['worst']:.3f} | {r['zoom_mean']:.3f} | "
                     f"{r['peak_in_box']:.3f} |")
    lines += ["", f"Means over the rotated angles (0° excluded): on the grid = multiples of "
              f"{GRID_STEP:g}° (column rolls of the invariant retina), between = the others.", "",
              "Accuracy against rotation about the fixation (degrees; * = on the 22.5° grid):", "",
              "| angle | " + " | ".join(MODELS) + " |", "|---|" + "---|" * len(MODELS)]
    for i, angle in enumerate(angles):
        mark = "*" if rows[MODELS[0]]["rotation_on_grid"][i] else ""
        lines.append(f"| {angle:g}{mark} | "
                     + " | ".join(f"{rows[n]['rotation'][i]:.3f}" for n in MODELS) + " |")
    lines += ["", "Accuracy against zoom about the fixation:", "",
              "| model | " + " | ".join(f"{z:g}" for z in ZOOMS) + " |",
              "|---|" + "---|" * len(ZOOMS)]
    lines += [f"| {n} | " + " | ".join(f"{v:.3f}" for v in rows[n]["zoom"]) + " |"
              for n in MODELS]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0, help="added to the data and model seeds")
    parser.add_argument("--quick", action="store_true",
                        help="smaller budget; writes to a temporary folder unless --out-dir")
    parser.add_argument("--out-dir", "--out", dest="out_dir", default=None,
                        help="output folder (default analyses/results/foveated_robustness)")
    parser.add_argument("--device", default="cpu", help="cpu (the recorded numbers), cuda or auto")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    default_out = (Path(tempfile.gettempdir()) / "foveated_robustness_quick" if args.quick
                   else Path("analyses/results/foveated_robustness"))
    out = Path(args.out_dir) if args.out_dir else default_out
    out.mkdir(parents=True, exist_ok=True)
    budget = QUICK if args.quick else FULL
    start = time.perf_counter()
    train = make_cluttered_digits(budget["train"], seed=args.seed, split="train")
    test = make_cluttered_digits(budget["test"], seed=args.seed + 1, split="test")
    results, scans, sweeps, timings = {}, {}, {}, {}
    with tempfile.TemporaryDirectory() as runs:
        for name in MODELS:
            set_seed(args.seed)
            model = build(name)
            t = time.perf_counter()
            fit_fixation_classifier(
                model, fixation_batches(train.images, train.labels, train.centres,
                                        batch_size=TRAIN["batch_size"], seed=args.seed),
                Path(runs) / name, epochs=budget["epochs"] * EPOCH_FACTOR.get(name, 1),
                lr=TRAIN["lr"],
                jitter=TRAIN["jitter"], warmup_steps=TRAIN["warmup_steps"],
                rotation=ROTATION_AUGMENTATION.get(name, 0.0), off_object=TRAIN["off_object"],
                off_object_distance=TRAIN["off_object_distance"], device=args.device,
                seed=args.seed)
            timings[f"train_{name}"] = time.perf_counter() - t
            t = time.perf_counter()
            found = localize(model, test, budget["scan"])
            scans[name] = found.pop("scan")
            rotated = sweeps[name] = rotation_sweep(
                model, test.images, test.labels, test.centres, ANGLES, grid_step=GRID_STEP,
                device=args.device)
            results[name] = {"rotation": rotated.accuracy.tolist(),
                             "rotation_on_grid": rotated.on_grid.tolist(),
                             "rotation_summary": rotated.summary(),
                             "zoom": zoom_sweep(model, test), **found}
            results[name]["zoom_mean"] = float(np.mean(results[name]["zoom"]))
            timings[f"evaluate_{name}"] = time.perf_counter() - t
            print(f"{name}: trained in {timings[f'train_{name}']:.0f} s; "
                  f"rotation {np.round(results[name]['rotation'], 3).tolist()}")
    fig = plot_rotation_sweep(sweeps, colours=COLOURS,
                              title="Rotation (only cartesian rotated saw rotations in training)")
    fig.tight_layout()
    save_figure(fig, out / "rotation.png", dpi=110, close=True)
    figures = {
        "zoom": plot_zoom_sweep(ZOOMS, {n: r["zoom"] for n, r in results.items()},
                                colours=COLOURS, title="Zoom (trained at 20-28 px digits)"),
        "localization": plot_fixation_scans(test.images[:, 0], scans, test.boxes,
                                            titles=[f"digit {d}" for d in test.labels]),
        "retina": plot_log_polar_view(LogPolar(64, 64, **FIELD), torch.from_numpy(test.images[0]),
                                      torch.from_numpy(test.centres[0]),
                                      image_title="canvas (+: fixation)")}
    figures["localization"].suptitle("P(true class) over an 11 x 11 fixation scan (+: refined "
                                     "peak; box: digit)", fontsize=10)
    for name, fig in figures.items():
        fig.tight_layout()
        save_figure(fig, out / f"{name}.png", dpi=110, close=True)
    timings["total"] = time.perf_counter() - start
    result = {
        "what": __doc__.split("\n\n")[0], "seed": args.seed, "quick": args.quick,
        "machine": sys_info.collect() | {"torch_threads": torch.get_num_threads(),
                                         "device": args.device},
        "data": {"canvas": 96, "digit_size": [20, 28], "n_clutter": 4, "noise": 0.1,
                 "n_train": budget["train"], "n_test": budget["test"],
                 "train_seed": args.seed, "test_seed": args.seed + 1},
        "models": {"arch": "resnet18 from scratch", "field": FIELD,
                   "foveated_invariant": "LogPolar 32 x 16, supersample 2, stride 1 along the "
                                         "angle",
                   "foveated": "LogPolar 32 x 32, the ResNet's strides",
                   "cartesian": "32 x 32 crop, inscribed circular aperture",
                   "cartesian_rotated": "as cartesian, trained with rotation augmentation",
                   "cartesian_rotated_3x": "as cartesian_rotated, 3x the epochs (the training "
                                           "time of foveated_invariant)"},
        "training": {**TRAIN, "epochs": budget["epochs"], "optimizer": "AdamW, weight decay "
                     "0.01, label smoothing 0.01, warm-up + cosine", "augmentation": "fixation "
                     "jitter; cartesian_rotated also a uniform rotation about the fixation",
                     "rotation_augmentation_degrees": ROTATION_AUGMENTATION,
                     "epoch_factor": EPOCH_FACTOR},
        "angles": list(ANGLES), "angle_grid_step": GRID_STEP,
        "angle_grid": "the invariant retina's 16 angles: multiples of 22.5 degrees are column "
                      "rolls (invariance by construction); the others lie between grid angles",
        "zooms": list(ZOOMS),
        "scan": {**SCAN, "n_images": budget["scan"],
                 "readout": "argmax, refined to the probability-weighted centroid of its "
                            "3 x 3 neighbourhood; grid_peak_in_box: the argmax grid point"},
        "results": results, "seconds": timings,
    }
    text = markdown(result)
    write_report(out, "foveated_robustness", result, text)
    print("\n" + text)
    print(f"wrote {out}/ in {timings['total']:.0f} s")


if __name__ == "__main__":
    main()
