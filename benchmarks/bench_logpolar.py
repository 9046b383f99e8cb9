"""Log-polar foveated ResNets: the transform's cost, and batched vs looped fixation scans.

Two measurements, each side by side in one run:

* **transform overhead.** ResNet18 forward passes (eval, no grad) on a batch
  of 64 images at 224 px, with and without the log-polar layer in front
  (:class:`~neuroattn.retina.LogPolar`, the reference's 224 x 224 grid). The
  backbone is the same angle-periodic ResNet18 both times, fed either the
  log-polar image or an image of the same size, so the difference is the
  transform alone. ``transform_overhead`` = (with - without) / without
  (target <= 0.05 on GPU). ``foveated_vs_torchvision`` compares the whole
  foveated model with a plain torchvision ResNet18 on the 224 px image (the
  angle-periodic padding's cost included).
* **fixation scan.** The class-probability map over an 11 x 11 grid of
  fixations (the reference's localization scan) for a batch of images:
  ``scan_batched_s`` with :func:`~neuroattn.retina.scan.scan_fixations` at its
  default (batched passes of at most 256 views), ``scan_one_pass_s`` with all
  121 fixations of every image in one pass (``max_views=None``), ``scan_loop_s``
  with a Python loop over the fixations (one forward pass per fixation, as the
  reference's ``get_saccade_map`` does); ``scan_speedup`` = loop / batched.
  The maps must agree (``scan_max_abs_diff``). The scan's retina is 64 x 64 and
  reaches a quarter of the image (``log2_r_max = -2``).

``--quick``: batch 8, 2 images to scan, 2 repeats. Each timing is the median
of ``--repeats`` runs after a warm-up, the two sides alternating so they see
the same load.

Usage::

    python benchmarks/bench_logpolar.py --quick --out logpolar.json
    python benchmarks/bench_logpolar.py --device cuda --out logpolar_gpu.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torchvision

from neuroattn import sys_info
from neuroattn.device import resolve_device
from neuroattn.reports import write_json
from neuroattn.retina import FoveatedResNet, LogPolar
from neuroattn.retina.scan import fixation_grid, scan_fixations


def timed(fn: Callable[[], torch.Tensor], device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def alternate(fns: dict[str, Callable[[], torch.Tensor]], repeats: int,
              device: torch.device) -> dict[str, list[float]]:
    """Warm each up once, then time them in turn ``repeats`` times."""
    for fn in fns.values():
        fn()
    runs: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            runs[name].append(timed(fn, device))
    return runs


def scan_loop(model: torch.nn.Module, images: torch.Tensor, classes: torch.Tensor,
              resolution: tuple[int, int]) -> torch.Tensor:
    """The reference's way: one forward pass per fixation of the grid."""
    grid = fixation_grid(*images.shape[-2:], resolution).to(images.device).flatten(0, 1)
    maps = [model(images, point.expand(len(images), 2)).float().softmax(-1)
            .gather(1, classes[:, None])[:, 0] for point in grid]
    return torch.stack(maps, 1).view(len(images), *resolution)


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="batch 8, 2 scanned images")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--scan-images", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    batch, n_scan, repeats = (8, 2, 2) if args.quick else (args.batch, args.scan_images,
                                                           args.repeats)
    torch.manual_seed(0)
    images = torch.rand(batch, 3, 224, 224, device=device)
    foveated = FoveatedResNet("resnet18", num_classes=1000).to(device).eval()
    plain = torchvision.models.resnet18(weights=None).to(device).eval()
    forward = alternate({
        "with_transform": lambda: foveated(images),
        "without_transform": lambda: foveated.backbone(images),
        "torchvision": lambda: plain(images),
    }, repeats, device)
    medians = {k: statistics.median(v) for k, v in forward.items()}

    resolution = (11, 11)
    scanner = FoveatedResNet("resnet18", num_classes=10,
                             log_polar=LogPolar(64, 64, log2_r_max=-2, log2_r_min=-6))
    scanner = scanner.to(device).eval()
    scan_images = images[:n_scan]
    classes = torch.arange(n_scan, device=device) % 10
    maps: dict[str, torch.Tensor] = {}

    def batched() -> torch.Tensor:
        maps["batched"] = scan_fixations(scanner, scan_images, classes,
                                         resolution=resolution).probabilities
        return maps["batched"]

    def one_pass() -> torch.Tensor:
        maps["one_pass"] = scan_fixations(scanner, scan_images, classes, resolution=resolution,
                                          max_views=None).probabilities
        return maps["one_pass"]

    def loop() -> torch.Tensor:
        maps["loop"] = scan_loop(scanner, scan_images, classes, resolution).cpu()
        return maps["loop"]

    scan = alternate({"batched": batched, "one_pass": one_pass, "loop": loop}, repeats, device)
    scan_batched_s, scan_loop_s = (statistics.median(scan["batched"]),
                                   statistics.median(scan["loop"]))
    report = {
        "benchmark": "logpolar",
        "config": {"batch": batch, "image_size": 224, "log_polar": "224 x 224, r 1 .. 1/32",
                   "arch": "resnet18", "scan_images": n_scan, "scan_grid": list(resolution),
                   "scan_retina": "64 x 64, r 1/4 .. 1/64", "repeats": repeats,
                   "quick": args.quick, "precision": "fp32",
                   "ours": "LogPolar + angle-periodic ResNet18; scan_fixations (batched passes)",
                   "peer": "the same backbone without the transform; a loop over fixations"},
        "machine": sys_info.collect() | {"device": str(device),
                                         "torch_threads": torch.get_num_threads()},
        "forward_with_transform_s": medians["with_transform"],
        "forward_without_transform_s": medians["without_transform"],
        "forward_torchvision_s": medians["torchvision"],
        "forward_runs_s": forward,
        "transform_overhead": medians["with_transform"] / medians["without_transform"] - 1,
        "foveated_vs_torchvision": medians["with_transform"] / medians["torchvision"] - 1,
        "scan_batched_s": scan_batched_s,
        "scan_one_pass_s": statistics.median(scan["one_pass"]),
        "scan_loop_s": scan_loop_s,
        "scan_runs_s": scan,
        "scan_speedup": scan_loop_s / scan_batched_s,
        "scan_max_abs_diff": float(max((maps["batched"] - maps["loop"]).abs().max(),
                                       (maps["one_pass"] - maps["loop"]).abs().max())),
    }
    print(json.dumps({k: v for k, v in report.items() if not isinstance(v, dict)}, indent=1))
    if args.out:
        write_json(args.out, report)


if __name__ == "__main__":
    main()
