"""NevaClip against scanpath baselines and observer agreement on captioned scenes, and on photos.

Part 1, synthetic (the known-answer test of the reference notes §6.2). A
TinyCLIP is trained contrastively on single-object captioned scenes (a
caption describes the whole image, as in CLIP's training data). On held-out
three-object scenes NevaClip searches three fixations (one per object) with
the right caption and with a wrong one (a colour and a shape absent from the
scene); the four image baselines (random, centre bias, saliency peaks, CLE)
give three fixations too. Every path is scored against the scene's synthetic
caption-guided observers (target first, then the other objects nearest-first)
with the shared metrics of :mod:`neuroattn.gaze.metrics`:

* first fixation on the target (inside its box) and on any object;
* objects fixated: distinct objects among the fixations;
* sequence score and normalised edit distance on object symbols (the object
  whose box, grown by half a radius, holds the fixation; the background is one
  more symbol), each path against every observer of its scene;
* MultiMatch (vector, direction, length, position) on the pixel fixations;
* the ceiling: each observer against the other observers of the scene.

The NevaClip rows use the default bookkeeping (``record="evaluated"``: the
fixation is a position whose loss was evaluated). The same searches are
repeated with the reference's bookkeeping (``record="after_step"``: the
position one step after the best evaluated one), bounded and unbounded (the
reference-exact search), and scored the same way, with how far each fixation
moved.

Part 2, photos (scikit-image's astronaut, coffee, chelsea and rocket).
NevaClip free viewing (the target is the unfoveated photo's own embedding)
under the reference Gaussian fovea and the eccentricity blur, and captioned.
Given ``--clip-checkpoint`` these are CLIP scanpaths (``NevaClip.from_open_clip``).
Without one (no CLIP weights are available offline) they are **not** CLIP
scanpaths: the encoder is the analytic channel-energy encoder, calibrated on
each photo, so free viewing seeks the high-frequency energy that makes up the
photo's own channel-energy profile and the "captions" are colour words. They
are drawn next to the spectral-residual saliency map, whose NSS at the
fixations is reported against random and centre-bias fixations, and again for
the reference-exact search (``record="after_step", bounded=False``).

    python analyses/scanpath_nevaclip.py                      # analyses/results/scanpath_nevaclip
    python analyses/scanpath_nevaclip.py --quick              # about a minute, to a temp folder
    python analyses/scanpath_nevaclip.py --clip-checkpoint rn50.pt --clip-model RN50

Writes ``metrics.png`` (the synthetic table as bars), ``scanpaths.png``
(observer, NevaClip and the best baseline over three test scenes),
``photos.png`` (the photo scanpaths and saliency maps),
``scanpath_nevaclip.json`` (every number, with seeds, configs, machine and
timings) and ``scanpath_nevaclip.md`` (the tables), and prints the tables.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import torch  # noqa: E402

from neuroattn.datasets.synthetic import make_captioned_scenes  # noqa: E402
from neuroattn.gaze.metrics import (  # noqa: E402
    ScanpathPairs,
    edit_distances,
    human_human_pairs,
    model_human_pairs,
    multimatch_means,
    nss,
    sequence_scores,
)
from neuroattn.gaze.neva import (  # noqa: E402
    IMAGE_BASELINES,
    ChannelEnergyEncoder,
    NevaClip,
    as_image_batch,
    fit_tiny_clip,
    make_image_baseline,
)
from neuroattn.gaze.saliency_maps import spectral_residual  # noqa: E402
from neuroattn.plotting import save_figure  # noqa: E402
from neuroattn.plotting.scanpaths import (  # noqa: E402
    plot_metric_bars,
    plot_photo_scanpaths,
    plot_scanpath_grid,
)
from neuroattn.reports import write_report  # noqa: E402
from neuroattn.retina import EccentricityFoveation  # noqa: E402
from neuroattn.seeding import set_seed  # noqa: E402

FIXATION_S = 0.25
"""Duration given to every fixation for MultiMatch (the scenes have none; the duration
dimension is then 1 for everyone and is left out)."""
MM_KEYS = ("vector", "direction", "length", "position")
COLUMNS = ("first_on_target", "first_on_object", "objects_fixated", "sequence_score",
           "edit_distance", *(f"mm_{k}" for k in MM_KEYS))
N_OBSERVERS = 5
N_EXAMPLES = 3
SYMBOL_MARGIN = 0.5
"""A fixation belongs to an object whose box grown by this many radii holds it."""
FULL = {"train_scenes": 3000, "train_steps": 300, "test_scenes": 60, "photo_fixations": 10}
QUICK = {"train_scenes": 1500, "train_steps": 100, "test_scenes": 30, "photo_fixations": 5}
TRAIN_DATA = {"size": 48, "n_objects": 1, "seed": 11}
TEST_DATA = {"size": 48, "n_objects": 3, "seed": 99}
RECORDS = {"evaluated (default)": {"record": "evaluated"},
           "after_step": {"record": "after_step"},
           "after_step, unbounded (reference)": {"record": "after_step", "bounded": False}}
"""The bookkeeping variants of the search (``neva_search``'s ``record`` and ``bounded``)."""
REFERENCE_RECORD = "after_step, unbounded (reference)"
TINY_CLIP = {"batch_size": 128, "lr": 3e-3, "width": 16, "seed": 1}
"""The data and model seeds are these plus ``--seed``."""
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
PHOTO_SIZE = 224
CLIP_CAPTIONS = {"astronaut": "the face of a woman", "coffee": "a cup of coffee",
                 "chelsea": "the eyes of a cat", "rocket": "a rocket on the launch pad"}
COLOUR_CAPTIONS = ("red", "blue")
"""The analytic encoder's "captions" on the photos (it knows colour words only)."""
METRIC_PANELS = {"first_on_target": "first fixation on target (↑)",
                 "sequence_score": "sequence score (↑)", "mm_position": "MultiMatch position (↑)",
                 "mm_vector": "MultiMatch vector (↑)"}
BAR_COLOURS = {"observers": "0.35", "NevaClip (wrong": "lightsteelblue", "NevaClip": "tab:blue"}
"""Bar colour by model-name prefix; the baselines are orange."""


# --------------------------------------------------------------------------------------------
# Part 1: synthetic captioned scenes
# --------------------------------------------------------------------------------------------
def symbols(scenes, i: int, path: np.ndarray) -> list[int]:
    """Object index under each fixation of scene ``i`` (background: ``n_objects``)."""
    background = scenes.centres.shape[1]
    return [background if k < 0 else k
            for k in scenes.objects_along(i, path, margin=SYMBOL_MARGIN * scenes.radius)]


def _pair_metrics(pairs: ScanpathPairs, scenes) -> dict[str, float]:
    sym = pairs.map_paths(lambda path, i: symbols(scenes, i, path))
    row = {"sequence_score": float(sym.trial_mean(sequence_scores(sym.a, sym.b))),
           "edit_distance": float(sym.trial_mean(edit_distances(sym.a, sym.b, normalize=True)))}
    mm = multimatch_means(pairs, (scenes.size, scenes.size), duration=FIXATION_S)
    row.update({f"mm_{k}": mm[k] for k in MM_KEYS})
    return row


def _single_path_metrics(paths, scenes) -> dict[str, float]:
    first = np.array([scenes.object_at(i, p[0], margin=0.0) for i, p in enumerate(paths)])
    on_target = first == scenes.target
    objects = [len(set(symbols(scenes, i, p)) - {scenes.centres.shape[1]})
               for i, p in enumerate(paths)]
    return {"first_on_target": float(on_target.mean()),
            "first_on_target_se": float(on_target.std() / np.sqrt(len(paths))),
            "first_on_object": float((first >= 0).mean()),
            "objects_fixated": float(np.mean(objects))}


def score(paths: list[np.ndarray], scenes, observers) -> dict[str, float]:
    """Every column for one ``(n_fixations, 2)`` pixel path per scene."""
    row = _single_path_metrics(paths, scenes)
    row.update(_pair_metrics(model_human_pairs([[p] for p in paths], observers), scenes))
    return row


def score_observers(scenes, observers) -> dict[str, float]:
    """Observers against the other observers of the same scene (self-pairs left out)."""
    per_observer = [_single_path_metrics([obs[s] for obs in observers], scenes)
                    for s in range(len(observers[0]))]
    row = {k: float(np.mean([r[k] for r in per_observer])) for k in per_observer[0]}
    row.update(_pair_metrics(human_human_pairs(observers), scenes))
    return row


def synthetic(args, budget: dict, timings: dict) -> dict:
    """Train the TinyCLIP, search, score; returns the table and what the figures need."""
    t = time.perf_counter()
    train = make_captioned_scenes(budget["train_scenes"], size=TRAIN_DATA["size"],
                                  n_objects=TRAIN_DATA["n_objects"],
                                  seed=TRAIN_DATA["seed"] + args.seed)
    model = fit_tiny_clip(train, steps=budget["train_steps"], batch_size=TINY_CLIP["batch_size"],
                            lr=TINY_CLIP["lr"], width=TINY_CLIP["width"],
                            seed=TINY_CLIP["seed"] + args.seed, device=args.device,
                            progress=False)
    timings["fit_tiny_clip"] = time.perf_counter() - t
    print(f"TinyCLIP: {budget['train_steps']} steps on {len(train)} single-object scenes in "
          f"{timings['fit_tiny_clip']:.1f} s", flush=True)

    test = make_captioned_scenes(budget["test_scenes"], size=TEST_DATA["size"],
                                 n_objects=TEST_DATA["n_objects"],
                                 seed=TEST_DATA["seed"] + args.seed)
    n_fixations = TEST_DATA["n_objects"]
    observers = test.observer_scanpaths(N_OBSERVERS, seed=args.seed)
    clip = NevaClip(model.encode_image, model.encode_text, image_size=test.size, mean=model.mean,
                    std=model.std, device=args.device)
    t = time.perf_counter()
    captions = {"caption": test.captions, "wrong caption": test.wrong_captions}
    by_record = {variant: {kind: clip.scanpaths(test.images, texts, n_fixations=n_fixations,
                                                seed=args.seed, progress=False,
                                                **options).scanpaths()
                           for kind, texts in captions.items()}
                 for variant, options in RECORDS.items()}
    default = next(iter(RECORDS))
    paths = {f"NevaClip ({kind})": by_record[default][kind] for kind in captions}
    timings["nevaclip_search"] = time.perf_counter() - t
    print(f"NevaClip: {2 * len(RECORDS) * len(test)} searches of {n_fixations} fixations in "
          f"{timings['nevaclip_search']:.1f} s", flush=True)

    t = time.perf_counter()
    train_paths = [obs[0] for obs in train.observer_scanpaths(1, seed=args.seed)]
    centre = make_image_baseline("centre").fit(train_paths, [(train.size, train.size)] * len(train))
    for name in IMAGE_BASELINES:  # the centre bias's sigma comes from the training observers
        baseline = centre if name == "centre" else make_image_baseline(name)
        paths[name] = baseline.generate(test.images, n_fixations=n_fixations,
                                        seed=args.seed).scanpaths()
    table = {name: score(p, test, observers) for name, p in paths.items()}
    table["observers (vs each other)"] = score_observers(test, observers)
    records = {}
    for variant, found in by_record.items():
        for kind, variant_paths in found.items():
            shift = np.stack([np.hypot(*(a - b).T) for a, b in
                              zip(variant_paths, by_record[default][kind], strict=True)])
            row = table[f"NevaClip ({kind})"] if variant == default else score(
                variant_paths, test, observers)
            records[f"{kind}, {variant}"] = {
                **row, "first_shift_px_mean": float(shift[:, 0].mean()),
                "first_shift_px_max": float(shift[:, 0].max()),
                "shift_px_mean": float(shift.mean()), "shift_px_max": float(shift.max()),
                "moved_fraction": float((shift > 0.5).mean())}
    timings["baselines_and_scoring"] = time.perf_counter() - t
    best = max(IMAGE_BASELINES, key=lambda n: table[n]["sequence_score"])
    return {"table": table, "records": records, "test": test, "observers": observers,
            "paths": paths, "best_baseline": best, "n_train": len(train), "n_test": len(test),
            "centre_sigma": centre.sigma}


# --------------------------------------------------------------------------------------------
# Part 2: photos
# --------------------------------------------------------------------------------------------
def load_photos() -> dict[str, np.ndarray]:
    """scikit-image's bundled photos, uint8 (H, W, 3)."""
    try:
        from skimage import data
    except ImportError as err:
        raise ImportError('the photo scanpaths need scikit-image: pip install '
                          '"neuroattn[gaze]"') from err

    return {name: getattr(data, name)() for name in PHOTOS}


def _search_photos(clip: NevaClip, images: list[np.ndarray], captions: list[str],
                   kw: dict) -> list[dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Per image: free viewing (Gaussian fovea, eccentricity blur) and one path per caption.

    One image and several captions: one search per caption (the analytic encoder's colour
    words); several images: caption ``i`` belongs to image ``i`` (CLIP).
    """
    found = {"free viewing, Gaussian fovea": clip.scanpaths(images, None, **kw),
             "free viewing, eccentricity blur": clip.scanpaths(
                 images, None, foveation=EccentricityFoveation(), **kw)}
    captioned = clip.scanpaths(images, captions, **kw)
    out = []
    for i in range(len(images)):
        paths = {label: (r.scanpaths()[i], r.losses[i]) for label, r in found.items()}
        for k, caption in enumerate(captions):
            if len(images) == 1 or k == i:
                paths[f"caption '{caption}'"] = (captioned.scanpaths()[k], captioned.losses[k])
        out.append(paths)
    return out


def photo_scanpaths(args, n_fixations: int, timings: dict) -> dict:
    """Free-viewing (two foveations) and captioned NevaClip paths on each photo."""
    photos = load_photos()
    use_clip = args.clip_checkpoint is not None
    kw = {"n_fixations": n_fixations, "seed": args.seed, "progress": False}
    reference_kw = {**kw, **RECORDS[REFERENCE_RECORD]}
    t = time.perf_counter()
    if use_clip:  # one model, all photos in one batch
        clip = NevaClip.from_open_clip(args.clip_model, args.clip_checkpoint, device=args.device)
        found, reference = (_search_photos(clip, list(photos.values()),
                                           [CLIP_CAPTIONS[n] for n in photos], options)
                            for options in (kw, reference_kw))
    else:  # the analytic encoder's floor is each photo's own mean channel energy
        found, reference = [], []
        for image in photos.values():
            encoder = ChannelEnergyEncoder.calibrated(as_image_batch([image], PHOTO_SIZE)[0])
            clip = NevaClip(encoder.encode_image, encoder.encode_text, image_size=PHOTO_SIZE,
                            mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), device=args.device)
            found += _search_photos(clip, [image], list(COLOUR_CAPTIONS), kw)
            reference += _search_photos(clip, [image], list(COLOUR_CAPTIONS), reference_kw)
    timings["photos"] = time.perf_counter() - t
    out: dict = {"encoder": (f"open_clip {args.clip_model} from {args.clip_checkpoint}"
                             if use_clip else "analytic channel-energy encoder (no CLIP weights)"),
                 "is_clip": use_clip, "image_size": clip.image_size,
                 "n_fixations": n_fixations, "photos": {}}
    for (name, image), result, exact in zip(photos.items(), found, reference, strict=True):
        saliency = spectral_residual(image)
        entry = {"size": list(image.shape[:2]), "paths": {}, "losses": {},
                 "nss_spectral_residual": {}, "reference_record": {}}
        for label, (path, losses) in result.items():
            entry["paths"][label] = np.round(path, 1).tolist()
            entry["losses"][label] = np.round(losses, 4).tolist()
            entry["nss_spectral_residual"][label] = float(nss(saliency, path))
            shift = np.hypot(*(exact[label][0] - path).T)
            entry["reference_record"][label] = {
                "nss_spectral_residual": float(nss(saliency, exact[label][0])),
                "first_shift_px": float(shift[0]), "shift_px_mean": float(shift.mean())}
        for base in ("random", "centre"):
            path = make_image_baseline(base).generate([image], n_fixations=n_fixations,
                                                      seed=args.seed).scanpaths()[0]
            entry["nss_spectral_residual"][base] = float(nss(saliency, path))
        out["photos"][name] = entry
    print(f"photos: {len(photos)} x {len(found[0])} scanpaths of {n_fixations} fixations in "
          f"{timings['photos']:.1f} s", flush=True)
    return out


# --------------------------------------------------------------------------------------------
# Figures and tables
# --------------------------------------------------------------------------------------------
def figures(synth: dict, photo: dict, out: Path) -> None:
    """``metrics.png``, ``scanpaths.png`` (the first test scenes) and ``photos.png``."""
    bars = plot_metric_bars(
        synth["table"], METRIC_PANELS, colours=BAR_COLOURS, xlim_scale=1.3, panel_size=(3.4, 3.4),
        title="Held-out 3-object captioned scenes: NevaClip (TinyCLIP), baselines and "
              "observer-observer agreement (grey)")
    save_figure(bars, out / "metrics.png", dpi=110, close=True)

    test, best = synth["test"], synth["best_baseline"]
    columns = {"observer 0": [obs[0] for obs in synth["observers"]],
               "NevaClip (caption)": synth["paths"]["NevaClip (caption)"],
               "NevaClip (wrong caption)": synth["paths"]["NevaClip (wrong caption)"],
               f"best baseline: {best}": synth["paths"][best]}
    scenes = range(min(N_EXAMPLES, len(test)))
    centres = [test.centres[i, test.target[i]] for i in scenes]
    titles = [[f"{name}\n'{test.wrong_captions[i] if 'wrong' in name else test.captions[i]}'"
               if name.startswith("NevaClip") else name for name in columns] for i in scenes]
    grid = plot_scanpath_grid(
        [test.images[i] for i in scenes], {n: [p[i] for i in scenes] for n, p in columns.items()},
        [(x - test.radius, y - test.radius, x + test.radius, y + test.radius) for x, y in centres],
        row_labels=[f"test scene {i}: '{test.captions[i]}'" for i in scenes], cell_titles=titles,
        colours={n: "tab:blue" for n in columns if n.startswith("NevaClip")},
        merge_within=0.3 * test.radius, fontsize=8, panel_size=(2.9, 3.0),
        title="Scanpaths of 3 fixations over held-out scenes (green box: the captioned object; "
              "numbers: fixation order)")
    save_figure(grid, out / "scanpaths.png", dpi=110, close=True)

    photos, entries = load_photos(), photo["photos"]
    if photo["is_clip"]:
        title = f"NevaClip scanpaths with {photo['encoder']}"
    else:
        title = ("NOT CLIP scanpaths (no CLIP weights offline): NevaClip's search with an "
                 "analytic channel-energy encoder; free viewing seeks the photo's own "
                 "high-frequency energy, 'captions' are colour words")
    fig = plot_photo_scanpaths(
        photos, {n: {k: p for k, p in e["paths"].items() if k.startswith("free")}
                 for n, e in entries.items()},
        {n: {k.removeprefix("caption "): p for k, p in e["paths"].items()
             if k.startswith("caption")} for n, e in entries.items()},
        {n: spectral_residual(image) for n, image in photos.items()},
        nss={n: e["nss_spectral_residual"] for n, e in entries.items()},
        saliency_title="spectral-residual saliency\n(circles: free viewing, Gaussian fovea)",
        title=title)
    save_figure(fig, out / "photos.png", dpi=80, close=True)  # photographs: keep it near 1 MB


def markdown(result: dict) -> str:
    """The synthetic table, the photo NSS table and the protocol, as Markdown."""
    names = {"first_on_target": "first on target", "first_on_object": "first on object",
             "objects_fixated": "objects fixated", "sequence_score": "sequence score",
             "edit_distance": "edit distance", **{f"mm_{k}": f"MM {k}" for k in MM_KEYS}}
    lines = ["# NevaClip on synthetic captioned scenes and photos", "",
             f"`python analyses/scanpath_nevaclip.py{' --quick' if result['quick'] else ''}`, "
             f"seed {result['seed']}; {result['machine']['summary']}; "
             f"{result['seconds']['total']:.0f} s in all.", "",
             f"**Synthetic** ({result['synthetic']['n_test_scenes']} held-out 3-object scenes at "
             f"48 px, {N_OBSERVERS} observers each; TinyCLIP trained "
             f"{result['synthetic']['tiny_clip']['steps']} steps on "
             f"{result['synthetic']['n_train_scenes']} single-object scenes; 3 fixations):", "",
             "| model | " + " | ".join(names[k] for k in COLUMNS) + " |",
             "|---|" + "---|" * len(COLUMNS)]
    for name, row in result["synthetic"]["table"].items():
        lines.append(f"| {name} | " + " | ".join(f"{row[k]:.3f}" for k in COLUMNS) + " |")
    lines += ["", "Protocol: " + " ".join(result["synthetic"]["protocol"].values()), ""]
    record_columns = ("first_on_target", "objects_fixated", "sequence_score", "edit_distance",
                      "mm_position", "first_shift_px_mean", "shift_px_mean", "moved_fraction")
    names.update(first_shift_px_mean="first fixation's shift from default (px)",
                 shift_px_mean="mean shift from default (px)",
                 moved_fraction="fixations moved > 0.5 px")
    lines += ["**Which position the search keeps** (`record`): the same NevaClip searches with "
              "the default bookkeeping and with the reference's (the position one step after "
              "the best evaluated one; unbounded: the reference-exact search):", "",
              "| NevaClip, record | " + " | ".join(names[k] for k in record_columns) + " |",
              "|---|" + "---|" * len(record_columns)]
    for name, row in result["synthetic"]["records"].items():
        lines.append(f"| {name} | " + " | ".join(f"{row[k]:.3f}" for k in record_columns) + " |")
    lines.append("")
    photo = result["photos"]
    labels = list(next(iter(photo["photos"].values()))["nss_spectral_residual"])
    lines += [f"**Photos**, {photo['encoder']}, {photo['n_fixations']} fixations: NSS of the "
              "fixations on the spectral-residual saliency map (agreement with a bottom-up "
              "saliency model, not with people):", "",
              "| photo | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for name, entry in photo["photos"].items():
        lines.append(f"| {name} | " + " | ".join(
            f"{entry['nss_spectral_residual'][k]:.2f}" for k in labels) + " |")
    searched = list(next(iter(photo["photos"].values()))["reference_record"])
    lines += ["", "The same photo searches, reference-exact (`record=\"after_step\", "
                  "bounded=False`): NSS, and in brackets the shift of the first fixation and "
                  "the mean shift of all fixations from the default search (px):", "",
              "| photo | " + " | ".join(searched) + " |", "|---|" + "---|" * len(searched)]
    for name, entry in photo["photos"].items():
        lines.append(f"| {name} | " + " | ".join(
            f"{entry['reference_record'][k]['nss_spectral_residual']:.2f} "
            f"({entry['reference_record'][k]['first_shift_px']:.1f}, "
            f"{entry['reference_record'][k]['shift_px_mean']:.1f})" for k in searched) + " |")
    if not photo["is_clip"]:
        lines += ["", "These photo scanpaths are **not CLIP scanpaths**: no CLIP weights are "
                      "available offline; pass `--clip-checkpoint` for those."]
    return "\n".join(lines) + "\n"


def machine() -> dict:
    """What the numbers were measured on."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    threads = torch.get_num_threads()
    summary = (f"{threads} torch thread{'s' * (threads != 1)} on {os.cpu_count()} CPU cores, "
               + (f"GPU {gpu}" if gpu else "no GPU"))
    return {"summary": summary, "platform": platform.platform(),
            "python": platform.python_version(), "torch": torch.__version__,
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "gpu": gpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0,
                        help="added to the data, model and search seeds")
    parser.add_argument("--quick", action="store_true",
                        help="smaller budget (about a minute); writes to a temporary folder "
                             "unless --out-dir is given")
    parser.add_argument("--out-dir", "--out", dest="out_dir", default=None,
                        help="output folder (default analyses/results/scanpath_nevaclip)")
    parser.add_argument("--clip-checkpoint", default=None,
                        help="a local open_clip checkpoint for the photo scanpaths")
    parser.add_argument("--clip-model", default="RN50", help="its open_clip architecture")
    parser.add_argument("--device", default="cpu",
                        help="cpu (the recorded numbers), cuda or auto")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: the models are small, and more "
                             "threads than free cores slow torch down many times over)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    default_out = (Path(tempfile.gettempdir()) / "scanpath_nevaclip_quick" if args.quick
                   else Path("analyses/results/scanpath_nevaclip"))
    out = Path(args.out_dir) if args.out_dir else default_out
    out.mkdir(parents=True, exist_ok=True)
    budget = QUICK if args.quick else FULL

    start = time.perf_counter()
    set_seed(args.seed)
    timings: dict[str, float] = {}
    synth = synthetic(args, budget, timings)
    photo = photo_scanpaths(args, budget["photo_fixations"], timings)

    t = time.perf_counter()
    figures(synth, photo, out)
    timings["figures"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - start

    result = {
        "what": __doc__.split("\n\n")[0], "seed": args.seed, "quick": args.quick,
        "machine": machine(),
        "synthetic": {
            "train_data": {**TRAIN_DATA, "seed": TRAIN_DATA["seed"] + args.seed,
                           "n_scenes": budget["train_scenes"]},
            "test_data": {**TEST_DATA, "seed": TEST_DATA["seed"] + args.seed,
                          "n_scenes": budget["test_scenes"]},
            "tiny_clip": {**TINY_CLIP, "seed": TINY_CLIP["seed"] + args.seed,
                          "steps": budget["train_steps"]},
            "nevaclip": {"n_fixations": TEST_DATA["n_objects"], "other settings": "defaults "
                         "(Gaussian fovea sigma 0.2, blur rescaled from 41/10 px at 224, 20 sign "
                         "steps of 0.1, random restarts, forgetting 0)",
                         "seed": args.seed},
            "n_observers": N_OBSERVERS, "centre_sigma": synth["centre_sigma"],
            "n_train_scenes": synth["n_train"], "n_test_scenes": synth["n_test"],
            "protocol": {
                "first": "First fixation on target: inside the captioned object's box "
                         "(margin 0); on object: inside any object's box.",
                "symbols": f"Symbols: the object whose box grown by {SYMBOL_MARGIN} radius "
                           "holds the fixation, else one background symbol.",
                "sequence_score": "Sequence score: Needleman-Wunsch (match 1, mismatch 0, gap 0) "
                                  "divided by the longer path; each path against each observer "
                                  "of its scene, averaged per scene then over scenes; observers "
                                  "against the other observers only.",
                "edit_distance": "Edit distance: Levenshtein on the symbols divided by the "
                                 "longer path, same pairing.",
                "multimatch": f"MultiMatch: multimatch_scores on the pixel fixations with "
                              f"{FIXATION_S} s each, no grouping, same pairing; every path has "
                              "3 fixations (2 saccades), so multimatch-gaze would score them "
                              "too (it returns NaN below 3).",
            },
            "table": synth["table"], "records": synth["records"],
            "record_variants": RECORDS, "best_baseline": synth["best_baseline"],
            "example_scenes": list(range(min(N_EXAMPLES, synth["n_test"]))),
        },
        "photos": photo, "seconds": timings,
    }
    text = markdown(result)
    write_report(out, "scanpath_nevaclip", result, text)
    print("\n" + text)
    print(f"wrote {out}/ in {timings['total']:.0f} s")


if __name__ == "__main__":
    main()
