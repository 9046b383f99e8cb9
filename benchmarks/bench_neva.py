"""NeVA: our batched scanpath search vs the reference's per-image loop, side by side.

Generates 10-fixation scanpaths (NevaClip's defaults: 20 signed-gradient
steps of 0.1 per fixation, random restarts, no memory) for a batch of 32
images at 224 px, three ways with the same search code:

* ``batched``: the whole batch in one call, as a user makes it; on the CPU the
  search splits it into cache-sized chunks (``CPU_CHUNK_BYTES``; the JSON
  records the chunk), on a GPU it searches all images at once;
* ``loop``: one image at a time (what the reference does);
* ``unchunked`` (CPU only; on a GPU it is ``batched``): all 32 images in one
  batch (``chunk_bytes=None``), the path that streams every step's tensors
  through main memory; kept to show what chunking buys.

All give the same scanpaths (same per-image seeds); the JSON records the
largest fixation difference from the loop. Keys: ``batched_images_per_s``,
``loop_images_per_s``, ``speedup`` = loop time / batched time (target >= 4 on
a GPU; >= 1 on the CPU), ``unchunked_speedup`` = loop time / unchunked time
(null on a GPU), and the load average before and after (on a shared machine
the arms alternate, but the ratio still moves with the load).

The objective's encoder is chosen with ``--encoder``:

* ``energy`` (default on CPU): the analytic channel-energy encoder, so the
  cost is the search itself (foveation, gradient, bookkeeping);
* ``tiny``: TinyCLIP (a 4-layer CNN) at 224 px, a light learned encoder;
* ``rn50``: open_clip RN50 with random weights, NevaClip's backbone (the GPU
  figure; very slow on a CPU).

The images are synthetic captioned scenes; the timing does not depend on
what the weights know. ``--quick``: 8 images and 3 fixations. Each mode runs
``--repeats`` times, alternating, and the medians are reported, with every run.

Usage::

    python benchmarks/bench_neva.py --quick --out neva.json
    python benchmarks/bench_neva.py --encoder rn50 --device cuda --out neva_gpu.json
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
import torch

from neuroattn.datasets.synthetic import make_captioned_scenes
from neuroattn.datasets.synthetic.captioned_scenes import COLOURS, SHAPES
from neuroattn.device import resolve_device
from neuroattn.gaze.neva import ChannelEnergyEncoder, NevaClip, TinyCLIP, search_chunk_size
from neuroattn.reports import write_json


def build(encoder: str, images: torch.Tensor, device: torch.device) -> NevaClip:
    """A NevaClip whose objective runs ``encoder`` on ``device``."""
    if encoder == "energy":
        enc = ChannelEnergyEncoder.calibrated(images)
        return NevaClip(enc.encode_image, lambda caps: enc.encode_text(caps).to(device),
                        image_size=images.shape[-1], mean=(0, 0, 0), std=(1, 1, 1),
                        device=device)
    if encoder == "tiny":
        model = TinyCLIP(["a", *COLOURS, *SHAPES], width=16).to(device).eval().requires_grad_(False)
        return NevaClip(model.encode_image, model.encode_text, image_size=images.shape[-1],
                        mean=model.mean, std=model.std, device=device)
    return NevaClip.from_open_clip("RN50", random_weights=True, device=device)


ARMS = ("batched", "loop", "unchunked")


def run(clip: NevaClip, images: torch.Tensor, captions: list[str], *, arm: str,
        n_fixations: int, seed: int) -> tuple[float, np.ndarray]:
    """Time one arm of :data:`ARMS`; returns seconds and the ``(B, L, 2)`` fixations."""
    kwargs = dict(n_fixations=n_fixations, progress=False)

    def sync() -> None:
        if clip.device.type == "cuda":
            torch.cuda.synchronize(clip.device)

    sync()
    start = time.perf_counter()
    if arm != "loop":
        chunk_bytes = {} if arm == "batched" else {"chunk_bytes": None}
        fixations = clip.scanpaths(images, captions, seed=seed, batch_size=len(images),
                                   **chunk_bytes, **kwargs).fixations
    else:
        fixations = np.concatenate([
            clip.scanpaths(images[i:i + 1], captions[i:i + 1], seed=seed + i, **kwargs).fixations
            for i in range(len(images))
        ])
    sync()
    return time.perf_counter() - start, fixations


def machine(device: torch.device) -> dict:
    try:
        version = importlib.metadata.version("neuroattn")
    except importlib.metadata.PackageNotFoundError:
        version = "not installed"
    return {"platform": platform.platform(), "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "python": sys.version.split()[0],
            "torch": torch.__version__, "neuroattn": version, "device": str(device),
            "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="8 images, 3 fixations")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--encoder", choices=("energy", "tiny", "rn50"), default="energy")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--n-images", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed runs of each, alternating (median; default 3)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's, one per core)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    n_images = 8 if args.quick else args.n_images
    n_fixations = 3 if args.quick else 10
    scenes = make_captioned_scenes(n_images, size=224, colours=("red", "green", "blue"),
                                   seed=args.seed)
    images = torch.from_numpy(scenes.images).to(device)
    clip = build(args.encoder, images, device)
    run(clip, images[:2], scenes.captions[:2], arm="batched", n_fixations=1, seed=0)  # warm-up
    chunk = search_chunk_size(images) if device.type == "cpu" else len(images)
    load_before = os.getloadavg()
    arms = ARMS if device.type == "cpu" else ARMS[:2]
    times: dict[str, list[float]] = {arm: [] for arm in arms}
    found: dict[str, np.ndarray] = {}
    for _ in range(args.repeats):  # alternating, so all see the same load on a shared machine
        for arm in arms:
            seconds, found[arm] = run(clip, images, scenes.captions, arm=arm,
                                      n_fixations=n_fixations, seed=args.seed)
            times[arm].append(seconds)
    load_after = os.getloadavg()
    median = {arm: statistics.median(runs) for arm, runs in times.items()}
    batched_s, loop_s, unchunked_s = (median.get(arm) for arm in ARMS)
    diff = np.stack([np.abs(found[arm] - found["loop"]).max(-1) for arm in arms])
    report = {
        "benchmark": "neva",
        "config": {"n_images": n_images, "image_size": 224, "n_fixations": n_fixations,
                   "steps": 20, "lr": 0.1, "restarts": "random", "encoder": args.encoder,
                   "seed": args.seed, "quick": args.quick, "repeats": args.repeats,
                   "ours": "one search call over the whole batch (cache-sized chunks on the "
                           "CPU)",
                   "peer": "the same search, one image at a time (the reference's loop)",
                   "unchunked": "the whole batch at once, chunk_bytes=None",
                   "chunk_images": chunk},
        "machine": machine(device),
        "load_average_before": list(load_before),
        "load_average_after": list(load_after),
        "batched_s": batched_s,
        "batched_s_runs": times["batched"],
        "loop_s": loop_s,
        "loop_s_runs": times["loop"],
        "unchunked_s": unchunked_s,
        "unchunked_s_runs": times.get("unchunked"),
        "batched_images_per_s": n_images / batched_s,
        "loop_images_per_s": n_images / loop_s,
        "unchunked_images_per_s": n_images / unchunked_s if unchunked_s else None,
        "speedup": loop_s / batched_s,
        "unchunked_speedup": loop_s / unchunked_s if unchunked_s else None,
        "max_fixation_diff_px": float(diff.max()),
        "same_fixation_fraction": float((diff < 0.5).mean()),
    }
    print(json.dumps({k: v for k, v in report.items() if not isinstance(v, dict)}, indent=1))
    if args.out:
        write_json(args.out, report)


if __name__ == "__main__":
    main()
