"""MVPFormer training throughput: the full on-disk iEEG pipeline vs in-memory tensors.

One synthetic iEEG store (``make_synthetic_ieeg(...).to_store``, written in a
temporary directory at the model's sampling rate) is opened the way
``python -m neuroattn.train_ieeg`` opens it (``open_recordings``) and batched by
its loader (``RecordingMix``: chunk blocks decoded by worker processes, windows
cut in the main process). The same training step (forward, class-weighted
cross-entropy from ``classification_loss``, backward, gradient clipping at 1.0,
AdamW step, under ``neuroattn.device.autocast``) is timed on

* ``pipeline``: batches pulled from that loader, epoch after epoch;
* ``in_memory``: the limit of the data path. The very same batches (same batch
  size, same shuffled order, drawn beforehand from an identical loader) are
  stacked in one tensor (pinned on CUDA) and indexed; they are cycled when
  ``--pool-mb`` cannot hold all of them.

Both arms share one model and one optimizer and run the same ``train_step``
function, so only the data path differs. After a few untimed warm-up steps per
arm, the arms alternate (ABBA order) in short rounds of a fixed number of steps
(``torch.cuda.synchronize`` around each round on the GPU), so a busy neighbour
on a shared machine slows both alike. Medians over the rounds are reported,
with ``ratio`` = pipeline / in-memory windows per second (``ratio_paired_median``
is the median of the per-round ratios); the target is ``ratio >= 0.9``
(loading never starves the model). The loader alone (no model) is timed too,
as the headroom of the data path.

Defaults: ``tiny`` on the CPU (16 channels, batches of 16, 8-s windows at
128 Hz), ``mvpformer-s`` when CUDA is available (64 channels, batches of 32,
125-s windows at 512 Hz). ``--data-only`` skips the model and times the loader
alone (e.g. the MVPFormer-S geometry on a machine without a GPU).

Every run (``--quick`` too; ``--skip-s-data`` skips it) also measures the data path
alone at MVPFormer-S geometry on the host, new against old side by side
(:func:`s_data_path`): ``s_host_windows_per_s`` (decoding and staging blocks into
``WindowBatch`` objects up to the device hand-off, as for a CUDA model, target >= 400),
``s_host_cut_windows_per_s`` (the old path: each window copied into a fresh batch on
the host, reproduced in :func:`legacy_host_cut`), ``s_data_path_speedup`` (their
ratio, target >= 8), ``s_cpu_batch_speedup`` (new over old when the whole batch must
exist on the CPU, target >= 2) and ``s_host_bytes_per_window`` (``new``/``old``).
It also reports ``s_inference_realtime_factor`` (``--skip-inference`` skips it): seconds
of a 128-channel recording that MVPFormer-S classifies per wall second when streaming one
25-segment window per new segment (:func:`s_inference`; the goal on one H100 is >= 1000).

On the CPU the model runs on one intra-op thread (``--threads``) and the loader
with no worker process (``--num-workers 0``): on a small shared machine, two
OpenMP threads that wait for a descheduled peer made single steps 10-100x
slower at random, which drowned the comparison; and 0, 1 and 2 workers gave
the same ratio (the tiny model's step costs about 1000x the loader's work).
On CUDA the defaults are torch's thread count and 4 workers.

Usage::

    python benchmarks/bench_train_ieeg.py --quick --out bench_train_ieeg.json
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from neuroattn.datasets.synthetic import make_synthetic_ieeg
from neuroattn.device import autocast, resolve_device
from neuroattn.ieeg import MVPFormer, preset
from neuroattn.ieeg.gpu_checks import streaming_realtime_factor
from neuroattn.reports import write_json
from neuroattn.store import WindowBatch, make_loader
from neuroattn.train_ieeg.data import RecordingMix, class_weights, open_recordings
from neuroattn.train_ieeg.tasks import classification_loss, prepare_finetuning

Batch = tuple[torch.Tensor, torch.Tensor] | WindowBatch

# Per model: channels, batch size, window (segments), and the store length cap in minutes.
DEFAULTS = {"tiny": dict(channels=16, batch_size=16, window_segments=8, max_minutes=240.0),
            "mvpformer-s": dict(channels=64, batch_size=32, window_segments=25,
                                max_minutes=60.0)}
TARGET = 0.9


def make_store(root: Path, n_channels: int, minutes: float, sfreq: float, seed: int) -> Path:
    rec = make_synthetic_ieeg(n_channels=n_channels, duration_s=minutes * 60, sfreq=sfreq,
                              n_seizures=3, seed=seed)
    return rec.to_store(root / "P1.zarr")


def batch_stream(mix: RecordingMix) -> Iterator[Batch]:
    """Batches of ``mix``, epoch after epoch (``set_epoch`` as the trainer calls it)."""
    epoch = 0
    while True:
        mix.set_epoch(epoch)
        yield from mix
        epoch += 1


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss_fn: Callable,
               scaler: torch.amp.GradScaler, batch: Batch, device: torch.device,
               precision: str) -> float:
    """One optimiser step, as ``neuroattn.training.Trainer.fit`` takes it (both arms)."""
    batch = batch.to(device, non_blocking=True) if isinstance(batch, WindowBatch) else \
        tuple(b.to(device, non_blocking=True) for b in batch)
    with autocast(device, precision):
        loss, _ = loss_fn(model, batch)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    scaler.step(optimizer)
    scaler.update()
    return loss.item()


def timed_round(next_batch: Callable[[], Batch], step: Callable[[Batch], float],
                device: torch.device, warmup: int, steps: int) -> float:
    """Seconds for ``steps`` steps after ``warmup`` untimed ones."""
    for _ in range(warmup):
        step(next_batch())
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step(next_batch())
    sync(device)
    return time.perf_counter() - t0


def in_memory_pool(stream: Iterator[Batch], n_batches: int, pool_mb: float,
                   pin: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n_batches`` batches of ``stream`` (fewer if over ``pool_mb``), stacked."""
    xs, ys, size = [], [], 0.0
    for _ in range(n_batches):
        x, y = next(stream)
        if xs and size + x.nbytes / 2**20 > pool_mb:
            break
        xs.append(x)
        ys.append(y)
        size += x.nbytes / 2**20
    x, y = torch.stack(xs), torch.stack(ys)
    return (x.pin_memory(), y.pin_memory()) if pin else (x, y)


def peak_memory(device: torch.device) -> tuple[float, str]:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, \
            "torch.cuda.max_memory_allocated (training, both arms)"
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    scale = 2**20 if sys.platform == "darwin" else 2**10
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale, \
        "CPU: max RSS of the main process (getrusage; includes the in-memory pool, " \
        "excludes loader workers)"


def data_only(next_batch: Callable[[], Batch], batches: int) -> dict:
    """The loader alone: ``batches`` batches pulled with no model step."""
    t0 = time.perf_counter()
    n = 0
    for _ in range(batches):
        batch = next_batch()
        n += len(batch) if isinstance(batch, WindowBatch) else len(batch[0])
    seconds = time.perf_counter() - t0
    return {"batches": batches, "seconds": seconds, "windows_per_s": n / seconds}


# The MVPFormer-S data path: 64 channels, 25 segments of 5 s at 512 Hz (64,000 samples),
# hop one segment, batches of 32.
S_DATA = dict(channels=64, batch_size=32, window_segments=25)
S_TARGETS = {"s_host_windows_per_s": 400.0, "s_data_path_speedup": 8.0,
             "s_cpu_batch_speedup": 2.0}


def legacy_host_cut(batch: WindowBatch, pin: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """BASELINE, the path before ``WindowBatch``: a faithful copy of the old
    ``WindowLoader._cut``. Each batch is a fresh ``(B, C, window)`` host tensor
    (page-faulted in: 524 MB at S geometry) into which every window is copied,
    one by one, from its decoded block; the library no longer has this path."""
    size, window = len(batch), batch.window
    x = torch.empty((size, batch.n_channels, window), pin_memory=pin)
    y = torch.empty(size, dtype=torch.int64)
    out, filled = x.numpy(), 0
    for data, offsets in batch.blocks:
        data = data.numpy()
        for row, offset in enumerate(offsets, start=filled):
            out[row] = data[:, offset:offset + window]
        filled += len(offsets)
    y[:] = batch.labels
    return x, y


def s_data_path(seed: int, quick: bool, num_workers: int, device: torch.device) -> dict:
    """MVPFormer-S geometry, data only: the new path against the old one, side by side.

    * ``new_host``: decode and stage blocks into WindowBatches, up to the device
      hand-off, as for a CUDA model (the windows are cut on the GPU later);
    * ``old_host_cut``: the old path: the same windows from blocks decoded as
      before (transposed to channel-major, edge-crossing windows stitched on
      the host), each window copied into a fresh batch (:func:`legacy_host_cut`);
    * ``new_cpu``: the full batch on the CPU: the new gather into reused buffers.

    Each round runs the three paths over one epoch of the same store, in
    ABC/CBA order; medians over the rounds are reported.
    """
    config = preset("mvpformer-s")
    batches, rounds = (6, 3) if quick else (12, 5)
    segment = config.segment_samples
    n_windows = batches * S_DATA["batch_size"] + S_DATA["window_segments"] + 2
    minutes = n_windows * segment / config.sfreq / 60
    # Without a GPU, "meta" stands in for it: WindowBatches, but nothing pinned.
    target = device if device.type == "cuda" else torch.device("meta")
    with tempfile.TemporaryDirectory() as tmp:
        store = make_store(Path(tmp), S_DATA["channels"], minutes, config.sfreq, seed)
        [recording] = open_recordings([store], config,
                                      window_segments=S_DATA["window_segments"], cache_dir=tmp)
        windows = recording.windows

        def mix(to: torch.device, **kwargs) -> RecordingMix:
            return RecordingMix([recording], S_DATA["batch_size"], seed=seed,
                                num_workers=num_workers, prefetch=0, device=to, **kwargs)

        loaders = {
            "new_host": mix(target),
            # The old decode: channel-major blocks (transposed on the host), as before.
            "old_host_cut": make_loader(windows, S_DATA["batch_size"], seed=seed,
                                        drop_last=True, num_workers=num_workers,
                                        pin_memory=target.type == "cuda", yield_batches=True),
            "new_cpu": mix(torch.device("cpu"), reuse_buffers=True)}

        def run(path: str) -> tuple[float, int, int]:
            """Seconds, windows and host bytes staged or copied in one epoch of ``path``."""
            staged, previous, n = 0, {}, 0
            t0 = time.perf_counter()
            for batch in loaders[path]:
                if path == "new_cpu":
                    n += len(batch[0])
                    continue
                # Blocks (and joined spans) are shared by consecutive batches: count each once.
                current = {id(data): data.nbytes for data in batch.staged}
                if path == "old_host_cut":  # the old host stitching, then the cut of each window
                    current.update({id(span): len(span) * batch.n_channels * 4
                                    for span, _ in batch.parts if len(span.pieces) > 1})
                    staged += legacy_host_cut(batch, pin=target.type == "cuda")[0].nbytes
                staged += sum(size for k, size in current.items() if k not in previous)
                previous = current
                n += len(batch)
            return time.perf_counter() - t0, n, staged

        run("new_cpu")  # untimed: the first touch of its reused buffers
        paths = ["new_host", "old_host_cut", "new_cpu"]
        seconds: dict[str, list[float]] = {p: [] for p in paths}
        staged_bytes: dict[str, int] = {}
        for r in range(rounds):
            for path in paths if r % 2 == 0 else paths[::-1]:
                sec, n, staged = run(path)
                seconds[path].append(sec)
                staged_bytes[path] = staged
                print(f"S data round {r + 1} {path}: {n / sec:.1f} windows/s", file=sys.stderr,
                      flush=True)
        rate = {p: n / statistics.median(t) for p, t in seconds.items()}
        result = {
            "s_data_config": {"channels": windows.n_channels, "window_samples": windows.window,
                              "stride_samples": windows.stride,
                              "batch_size": S_DATA["batch_size"], "batches": n // S_DATA[
                                  "batch_size"], "rounds": rounds,
                              "chunk_samples": windows.chunk_len, "num_workers": num_workers,
                              "hand_off_device": str(target)},
            "s_host_windows_per_s": rate["new_host"],
            "s_host_cut_windows_per_s": rate["old_host_cut"],
            "s_data_path_speedup": rate["new_host"] / rate["old_host_cut"],
            "s_cpu_batch_windows_per_s": rate["new_cpu"],
            "s_cpu_batch_speedup": rate["new_cpu"] / rate["old_host_cut"],
            # new: the decoded blocks, staged once; old: the same, plus the host stitching of
            # edge-crossing windows and each window's copy into the batch.
            "s_host_bytes_per_window": {"new": staged_bytes["new_host"] / n,
                                        "old": staged_bytes["old_host_cut"] / n},
            "s_data_seconds": seconds,
            "s_targets": S_TARGETS,
        }
        result["s_targets_met"] = {k: result[k] >= v for k, v in S_TARGETS.items()}
        return result


def s_inference(device: torch.device, quick: bool) -> dict:
    """Streaming inference of MVPFormer-S at 128 channels: recording seconds per wall second.

    Windows of 25 segments, one per new 5-s segment (``streaming_realtime_factor``). On the
    CPU one window is timed (about 25 s on one thread); on CUDA 64 windows in batches of 16.
    """
    model = MVPFormer(preset("mvpformer-s")).to(device)
    cpu = device.type == "cpu"
    n_windows, batch = (1, 1) if cpu else (64, 16)
    t0 = time.perf_counter()
    factor = streaming_realtime_factor(model, 128, window_segments=25, n_windows=n_windows,
                                       batch_size=batch, repeats=1 if cpu or quick else 3)
    return {"s_inference_realtime_factor": factor,
            "s_inference": {"model": "mvpformer-s", "channels": 128, "window_segments": 25,
                            "windows": n_windows, "batch_size": batch,
                            "attention": model.config.attention,
                            "seconds": time.perf_counter() - t0}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="9 rounds of 8 steps, 2 warm-up (default: 15 rounds of 16, 3)")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--model", choices=sorted(DEFAULTS),
                        help="preset (default: tiny on the CPU, mvpformer-s on CUDA)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda[:N]")
    parser.add_argument("--precision", default="auto",
                        help="auto (bf16 on CUDA, 32 elsewhere), 32, bf16 or 16")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--channels", type=int)
    parser.add_argument("--window-segments", type=int)
    parser.add_argument("--num-workers", type=int, default=None,
                        help="loader worker processes (default: 0 on the CPU, where workers "
                             "would compete with the model for the cores; 4 on CUDA)")
    parser.add_argument("--steps", type=int, help="timed steps per round")
    parser.add_argument("--warmup", type=int, help="untimed steps per arm, once")
    parser.add_argument("--repeats", type=int, help="rounds per arm")
    parser.add_argument("--minutes", type=float,
                        help="store length (default: about one epoch for the whole run)")
    parser.add_argument("--finetune", choices=["full", "lora"], default="full",
                        help="trainable parameters (prepare_finetuning method)")
    parser.add_argument("--pool-mb", type=float, default=4096.0,
                        help="most host memory for the in-memory arm's batches")
    parser.add_argument("--data-only", action="store_true",
                        help="time the loader alone (no model, no in-memory arm)")
    parser.add_argument("--threads", type=int,
                        help="torch intra-op threads (default: 1 on the CPU, see above; "
                             "torch's own default on CUDA)")
    parser.add_argument("--skip-s-data", action="store_true",
                        help="skip the MVPFormer-S data-path comparison (new vs old path)")
    parser.add_argument("--skip-inference", action="store_true",
                        help="skip the MVPFormer-S streaming-inference figure "
                             "(s_inference_realtime_factor)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    device = resolve_device(args.device)
    threads = args.threads or (1 if device.type == "cpu" else None)
    if threads:
        torch.set_num_threads(threads)
    name = args.model or ("mvpformer-s" if device.type == "cuda" else "tiny")
    d = DEFAULTS[name]
    channels = args.channels or d["channels"]
    batch_size = args.batch_size or d["batch_size"]
    window_segments = args.window_segments or d["window_segments"]
    num_workers = args.num_workers if args.num_workers is not None else (
        4 if device.type == "cuda" else 0)
    steps = args.steps or (8 if args.quick else 16)
    warmup = args.warmup if args.warmup is not None else (2 if args.quick else 3)
    repeats = args.repeats or (9 if args.quick else 15)
    config = preset(name)
    segment_s = config.segment_s
    pipeline_batches = warmup + steps * (repeats + 1) + 1  # + the loader-alone round
    minutes = args.minutes or min(d["max_minutes"], 1.1 * (
        pipeline_batches * batch_size + window_segments) * segment_s / 60 + 1)

    torch.manual_seed(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        store = make_store(Path(tmp), channels, minutes, config.sfreq, args.seed)
        store_s = time.perf_counter() - t0
        recordings = open_recordings([store], config, window_segments=window_segments,
                                     cache_dir=tmp)
        windows = recordings[0].windows

        def loader(workers: int, target: torch.device | None = device) -> RecordingMix:
            # what python -m neuroattn.train_ieeg builds for fine-tuning (balance="weights");
            # the in-memory pool keeps its batches, so it takes fresh CPU tensors
            return RecordingMix(recordings, batch_size, seed=args.seed, num_workers=workers,
                                device=target, reuse_buffers=target is not None)

        mix = loader(num_workers)
        pipeline = batch_stream(mix)
        t0 = time.perf_counter()
        first = next(pipeline)  # worker start-up + the first block
        first_batch_s = time.perf_counter() - t0
        pending = [first]

        def next_pipeline() -> Batch:
            return pending.pop() if pending else next(pipeline)

        result = {
            "benchmark": "train_ieeg",
            "config": {"model": name, "device": str(device), "precision": args.precision,
                       "batch_size": batch_size, "channels": windows.n_channels,
                       "window_segments": window_segments, "window_samples": windows.window,
                       "sfreq": windows.sfreq, "stride_segments": 1, "num_workers": num_workers,
                       "steps": steps, "warmup": warmup, "repeats": repeats,
                       "finetune": args.finetune, "store_minutes": minutes,
                       "chunk_samples": windows.chunk_len, "windows": len(windows),
                       "batches_per_epoch": len(mix), "quick": args.quick, "seed": args.seed,
                       "data_only": args.data_only, "threads": torch.get_num_threads()},
            "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                        "torch": torch.__version__, "python": platform.python_version(),
                        "torch_threads": torch.get_num_threads(),
                        "gpu": torch.cuda.get_device_name(device)
                        if device.type == "cuda" else None},
            "store_seconds": store_s,
            "pipeline_first_batch_s": first_batch_s,
        }
        if args.data_only:
            rounds = [data_only(next_pipeline, steps)["windows_per_s"]
                      for _ in range(repeats)]
            result["pipeline_data_only_windows_per_s"] = statistics.median(rounds)
            result["pipeline_data_only_rounds"] = rounds
            pipeline.close()
            if not args.skip_s_data:
                result.update(s_data_path(args.seed, args.quick, num_workers, device))
            if not args.skip_inference:
                result.update(s_inference(device, args.quick))
            finish(result, args.out)
            return

        model = MVPFormer(config)
        prepare_finetuning(model, method=args.finetune)
        model.to(device).train()
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
        scaler = torch.amp.GradScaler(device.type, enabled=args.precision in ("16", "16-mixed"))
        loss_fn = classification_loss(class_weights(recordings))

        def step(batch: Batch) -> float:
            return train_step(model, optimizer, loss_fn, scaler, batch, device, args.precision)

        # The in-memory arm: the same batches, in the same order, from an identical loader.
        t0 = time.perf_counter()
        x_pool, y_pool = in_memory_pool(batch_stream(loader(0, None)), warmup + steps * repeats,
                                        args.pool_mb, pin=device.type == "cuda")
        result["in_memory_pool_seconds"] = time.perf_counter() - t0
        cursor = [0]

        def next_in_memory() -> Batch:
            i = cursor[0] % len(x_pool)
            cursor[0] += 1
            return x_pool[i], y_pool[i]

        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        arms = {"pipeline": next_pipeline, "in_memory": next_in_memory}
        for arm in arms:  # untimed: lazy initialisation, optimizer state, allocator
            timed_round(arms[arm], step, device, warmup, 0)
        seconds: dict[str, list[float]] = {"pipeline": [], "in_memory": []}
        for r in range(repeats):
            order = ["pipeline", "in_memory"] if r % 2 == 0 else ["in_memory", "pipeline"]
            for arm in order:
                seconds[arm].append(timed_round(arms[arm], step, device, 0, steps))
                print(f"round {r + 1} {arm}: {steps * batch_size / seconds[arm][-1]:.2f} "
                      "windows/s", file=sys.stderr, flush=True)
        peak_mb, peak_kind = peak_memory(device)
        loader_alone = data_only(next_pipeline, steps)

        for arm, times in seconds.items():
            median = statistics.median(times)
            result[arm] = {"seconds": times, "median_seconds": median,
                           "steps_per_s": steps / median,
                           "windows_per_s": steps * batch_size / median}
        pipe, mem = result["pipeline"], result["in_memory"]
        ratio = pipe["windows_per_s"] / mem["windows_per_s"]
        per_round = [m / p for p, m in zip(seconds["pipeline"], seconds["in_memory"],
                                           strict=True)]
        result.update({
            "model": name, "device": str(device), "batch_size": batch_size,
            "channels": windows.n_channels, "window_samples": windows.window,
            "num_workers": num_workers, "torch": torch.__version__,
            "cpu_count": os.cpu_count(),
            "trainable_parameters": sum(p.numel() for p in params),
            "pipeline_windows_per_s": pipe["windows_per_s"],
            "in_memory_windows_per_s": mem["windows_per_s"],
            "pipeline_steps_per_s": pipe["steps_per_s"],
            "in_memory_steps_per_s": mem["steps_per_s"],
            "ratio": ratio,
            "ratio_paired_median": statistics.median(per_round),
            "ratio_per_round": per_round,
            "target_ratio": TARGET, "target_met": ratio >= TARGET,
            "pipeline_data_only_windows_per_s": loader_alone["windows_per_s"],
            "in_memory_pool_batches": len(x_pool),
            "in_memory_pool_mb": x_pool.nbytes / 2**20,
            "peak_memory_mb": peak_mb, "peak_memory_kind": peak_kind,
        })
        pipeline.close()  # stop the workers before the temporary store goes
        del mix
    if not args.skip_s_data:
        result.update(s_data_path(args.seed, args.quick, num_workers, device))
    if not args.skip_inference:
        result.update(s_inference(device, args.quick))
    finish(result, args.out)


def finish(result: dict, out: Path | None) -> None:
    cfg = result["config"]
    lines = [f"train_ieeg: {cfg['model']} on {cfg['device']}, batch {cfg['batch_size']} x "
             f"{cfg['channels']} ch x {cfg['window_samples']} samples, "
             f"{cfg['num_workers']} worker(s)",
             f"  loader alone:  {result['pipeline_data_only_windows_per_s']:8.2f} windows/s"]
    if "ratio" in result:
        lines[1:1] = [
            f"  pipeline:      {result['pipeline_windows_per_s']:8.2f} windows/s "
            f"({result['pipeline_steps_per_s']:.3f} steps/s)",
            f"  in memory:     {result['in_memory_windows_per_s']:8.2f} windows/s "
            f"({result['in_memory_steps_per_s']:.3f} steps/s)",
            f"  ratio:         {result['ratio']:8.3f} (target >= {TARGET}: "
            f"{'met' if result['target_met'] else 'NOT met'})"]
        lines.append(f"  peak memory:   {result['peak_memory_mb']:8.1f} MB "
                     f"({result['peak_memory_kind']})")
    if "s_host_windows_per_s" in result:
        met = result["s_targets_met"]
        lines += [
            "  MVPFormer-S data path (64 ch x 64,000 samples, batches of 32), host side:",
            f"    new, to the device hand-off: {result['s_host_windows_per_s']:8.1f} windows/s "
            f"(target >= {S_TARGETS['s_host_windows_per_s']:g}: "
            f"{'met' if met['s_host_windows_per_s'] else 'NOT met'})",
            f"    old host cut:                {result['s_host_cut_windows_per_s']:8.1f} windows/s",
            f"    speedup:                     {result['s_data_path_speedup']:8.1f}x "
            f"(target >= {S_TARGETS['s_data_path_speedup']:g}: "
            f"{'met' if met['s_data_path_speedup'] else 'NOT met'})",
            f"    new, full batch on the CPU:  {result['s_cpu_batch_windows_per_s']:8.1f} "
            f"windows/s, {result['s_cpu_batch_speedup']:.1f}x the old (target >= "
            f"{S_TARGETS['s_cpu_batch_speedup']:g}: "
            f"{'met' if met['s_cpu_batch_speedup'] else 'NOT met'})",
            "    host MB per window:          new {new:.2f}, old {old:.2f}".format(
                **{k: v / 1e6 for k, v in result["s_host_bytes_per_window"].items()})]
    if "s_inference_realtime_factor" in result:
        lines.append("  MVPFormer-S streaming inference, 128 channels: "
                     f"{result['s_inference_realtime_factor']:.3g}x real time")
    print("\n".join(lines))
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_json(out, result)


if __name__ == "__main__":
    main()
