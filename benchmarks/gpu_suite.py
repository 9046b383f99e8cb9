"""One GPU run that measures everything of issue 17 (part G), in under 8 minutes.

Steps, in order (each with its own time budget; a failed or hung step is
recorded and the suite goes on; steps that would start after the suite's
budget is spent are recorded as skipped):

* ``sync_audit``: one ``Trainer.training_step`` of MVPFormer at the S width
  per attention path under ``torch.cuda.set_sync_debug_mode("warn")``, the
  warnings grouped by source line inside ``neuroattn``;
* ``mvpa_accuracy``: flash, chunked and flex against a float64 reference at
  C = 87 and 128 (T = 8), in float32 and bf16, forward and all gradients;
* ``flex_recompiles``: graphs compiled over 10 channel counts, first-call time;
* ``mvpa_speed``: ``bench_mvpa.py --device cuda --width s``;
* ``full_model_<path>``: an MVPFormer-S training step at B = 8, T = 25,
  C = 128 in bf16: seconds and ``max_memory_allocated``;
* ``pretraining_memory``: ContrastivePretraining at B = 4, 8, 16, extrapolated to 32;
* ``resume``: ``python -m neuroattn.train_ieeg pretrain`` for one epoch, then
  ``--resume`` for a second;
* ``data_pinned`` and ``data_bench``: pinned batches of the train_ieeg
  loaders, and ``bench_train_ieeg.py --device cuda``;
* ``streaming``: recording seconds classified per wall second, MVPFormer-S at
  128 channels (goal: >= 1000);
* ``cuda_tests``: the CUDA-only tests; ``bench_neva``/``bench_logpolar``/
  ``bench_encoding``: those benchmarks with ``--device cuda --quick``.

Each step writes ``<out>/<step>.json``; the suite writes ``<out>/summary.json``
and prints one table. ``--dry-run`` runs the same sequence on the CPU at toy
sizes, in one process, and records what needs CUDA as skipped.

Usage::

    bash benchmarks/gpu_suite.sh                      # on a CUDA machine
    bash benchmarks/gpu_suite.sh --dry-run --out /tmp/gpu_dry
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
SUITE_BUDGET_S = 460.0  # of the 480 s (8 min) promised; the rest is start-up and the table
PATHS = ("flash", "chunked", "flex")


@dataclass
class Context:
    device: str
    dry: bool
    out: Path
    work: Path

    @property
    def sizes(self) -> dict[str, Any]:
        if self.dry:
            return dict(preset="tiny", width="tiny", channels=4, segments=3, batch=2,
                        acc_channels=(5, 7), acc_segments=3, flex_counts=(2, 3, 5),
                        flex_segments=2, pre_batches=(1, 2, 4), pre_channels=3,
                        stream_windows=4, stream_batch=2)
        return dict(preset="mvpformer-s", width="mvpformer-s", channels=128, segments=25,
                    batch=8, acc_channels=(87, 128), acc_segments=8,
                    flex_counts=(16, 24, 32, 40, 48, 64, 80, 87, 100, 128), flex_segments=4,
                    pre_batches=(4, 8, 16), pre_channels=64, stream_windows=128,
                    stream_batch=32)


def _model(ctx: Context, attention: str = "flash", **overrides: Any):
    import torch

    from neuroattn.ieeg import MVPFormer, preset

    torch.manual_seed(0)
    cfg = preset(ctx.sizes["preset"], attention=attention, dropout=0.0, **overrides)
    return MVPFormer(cfg).to(ctx.device)


def _windows(ctx: Context, batch: int, channels: int, segments: int):
    import torch

    from neuroattn.ieeg import preset

    seg = preset(ctx.sizes["preset"]).segment_samples
    g = torch.Generator().manual_seed(0)
    return (torch.randn(batch, channels, segments * seg, generator=g),
            torch.randint(0, 2, (batch,), generator=g))


def _trainer(ctx: Context, model, loss_fn, name: str):
    from neuroattn.training.loop import TrainConfig, Trainer

    config = TrainConfig(device=ctx.device, precision="bf16" if not ctx.dry else "32",
                         lr=1e-5)
    return Trainer(model, loss_fn, config, ctx.work / name, progress=False)


# ----------------------------------------------------------------------------- steps


def step_sync_audit(ctx: Context) -> dict[str, Any]:
    from neuroattn.ieeg.gpu_checks import sync_audit
    from neuroattn.train_ieeg.tasks import classification_loss

    s = ctx.sizes
    paths = {}
    for path in PATHS:
        if path == "flex" and ctx.dry:
            paths[path] = {"status": "skipped: FlexAttention has no backward pass on the CPU"}
            continue
        trainer = _trainer(ctx, _model(ctx, path), classification_loss(), f"sync_{path}")
        batch = _windows(ctx, 2, min(s["channels"], 16), min(s["segments"], 8))
        if not ctx.dry:  # pinned, as the loader gives them: a pageable copy would sync
            batch = tuple(t.pin_memory() for t in batch)
        trainer.training_step(batch)  # warm-up: compilation and kernel choice are not audited
        paths[path] = sync_audit(lambda t=trainer, b=batch: t.training_step(b), ctx.device)
    statuses = [p["status"] for p in paths.values()]
    status = "ok" if "ok" in statuses else "skipped: needs CUDA (torch.cuda.set_sync_debug_mode)"
    return {"status": status, "paths": paths,
            "syncs": {k: v.get("syncs") for k, v in paths.items()}}


def step_mvpa_accuracy(ctx: Context) -> dict[str, Any]:
    from neuroattn.ieeg.gpu_checks import mvpa_accuracy

    s = ctx.sizes
    rows = []
    for c in s["acc_channels"]:
        for precision in ("32", "bf16"):
            for path in PATHS:
                rows.append(mvpa_accuracy(path, n_channels=c, n_segments=s["acc_segments"],
                                          precision=precision, device=ctx.device,
                                          width=s["width"]))
    bad = [f"{r['path']} C={r['n_channels']} {r['precision']}" for r in rows if not r["finite"]]
    # the key case: flex's table gradients when T*C is not a multiple of its 128-token blocks
    odd = min(s["acc_channels"])
    flex_tables = {f"{r['precision']}/C{odd}/{name}": r[f"grad_{name}"] for r in rows
                   if r["path"] == "flex" and r["n_channels"] == odd
                   for name in ("time_keys", "chan_keys")}
    return {"status": "ok" if not bad else f"failed: NaN/Inf in {', '.join(bad)}",
            "rows": rows, "flex_table_grads": flex_tables,
            "max_forward": {f"{r['path']}/{r['precision']}/C{r['n_channels']}": r["forward"]
                            for r in rows},
            "max_grad": {f"{r['path']}/{r['precision']}/C{r['n_channels']}": r["max_grad"]
                         for r in rows}}


def step_flex_recompiles(ctx: Context) -> dict[str, Any]:
    import torch._inductor.config

    from neuroattn.ieeg.gpu_checks import flex_recompiles

    s = ctx.sizes
    # Earlier steps filled inductor's on-disk caches: without them, the first call is the
    # cold compilation a user meets on a fresh machine.
    with torch._inductor.config.patch(force_disable_caches=True):
        result = flex_recompiles(s["flex_counts"], n_segments=s["flex_segments"],
                                 width=s["width"], device=ctx.device)
    result["status"], result["inductor_caches"] = "ok", "disabled (cold compilation)"
    if not ctx.dry and result["compilations"] >= len(result["channel_counts"]):
        result["status"] = (f"failed: {result['compilations']} compilations for "
                            f"{len(result['channel_counts'])} channel counts (one per montage)")
    return result


def _full_model_step(path: str) -> Callable[[Context], dict[str, Any]]:
    def step(ctx: Context) -> dict[str, Any]:
        if path == "flex" and ctx.dry:
            return {"status": "skipped: FlexAttention has no backward pass on the CPU"}
        from neuroattn.ieeg.gpu_checks import time_steps
        from neuroattn.train_ieeg.tasks import classification_loss

        s = ctx.sizes
        trainer = _trainer(ctx, _model(ctx, path), classification_loss(), f"full_{path}")
        # On the device already: this times the model, the data path has its own steps.
        batch = [t.to(ctx.device) for t in _windows(ctx, s["batch"], s["channels"],
                                                    s["segments"])]
        result = time_steps(lambda: trainer.training_step(batch), ctx.device,
                            steps=1 if ctx.dry else 3)
        return {"status": "ok", "path": path, "batch": s["batch"], "channels": s["channels"],
                "segments": s["segments"], "precision": trainer.config.precision, **result}

    step.__doc__ = f"MVPFormer training step with attention={path!r}."
    return step


def step_pretraining_memory(ctx: Context) -> dict[str, Any]:
    import torch

    from neuroattn.ieeg.gpu_checks import peak_memory_sweep
    from neuroattn.train_ieeg.tasks import ContrastivePretraining

    s = ctx.sizes
    task = ContrastivePretraining(_model(ctx, "flash"))
    result = peak_memory_sweep(
        task, ContrastivePretraining.loss,
        lambda b: tuple(t.to(ctx.device) for t in _windows(ctx, b, s["pre_channels"],
                                                            s["segments"])),
        batch_sizes=s["pre_batches"], extrapolate_to=32,
        precision="32" if ctx.dry else "bf16")
    result.update(status="ok", channels=s["pre_channels"], segments=s["segments"],
                  gpu_memory_mb=(torch.cuda.get_device_properties(torch.device(ctx.device))
                                 .total_memory / 2**20 if not ctx.dry else None))
    return result


def _write_store(ctx: Context, name: str, channels: int, minutes: float) -> Path:
    from neuroattn.datasets.synthetic import make_synthetic_ieeg

    path = ctx.work / f"{name}.zarr"
    if not path.exists():
        make_synthetic_ieeg(n_channels=channels, duration_s=60 * minutes, sfreq=128.0,
                            n_seizures=1, seed=0).to_store(str(path))
    return path


def _train_ieeg(ctx: Context, argv: list[str], timeout: float) -> dict[str, Any]:
    """``python -m neuroattn.train_ieeg argv``: a fresh process on CUDA, this one in a dry run."""
    if not ctx.dry:
        return _run([sys.executable, "-m", "neuroattn.train_ieeg", *argv], timeout=timeout)
    import contextlib
    import io
    import logging

    from neuroattn._logging import logger
    from neuroattn.train_ieeg.cli import main as cli_main

    start, out, err = time.perf_counter(), io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(err)
    logger.addHandler(handler)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = cli_main(argv)
    finally:
        logger.removeHandler(handler)
    return {"cmd": "python -m neuroattn.train_ieeg " + " ".join(argv), "rc": rc,
            "seconds": round(time.perf_counter() - start, 2), "stdout_tail": _tail(out.getvalue()),
            "stderr_tail": _tail(err.getvalue())}


def step_resume(ctx: Context) -> dict[str, Any]:
    store = _write_store(ctx, "P1", 4, 1.0 if ctx.dry else 4.0)
    run_dir = ctx.work / "resume_run"
    base = ["pretrain", "--data", str(store), "--model", "tiny", "--window-segments", "3",
            "--batch-size", "8", "--device", ctx.device, "--out-dir", str(run_dir),
            "--no-progress", "--set", "pretrain.num_negatives=5"]
    first = _train_ieeg(ctx, base + ["--epochs", "1"], timeout=25)
    if first["rc"] != 0:
        return {"status": f"failed: the first epoch exited {first['rc']}", "first": first}
    second = _train_ieeg(ctx, base + ["--epochs", "2", "--resume"], timeout=25)
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()] \
        if (run_dir / "metrics.jsonl").exists() else []
    epochs = sorted({r["epoch"] for r in rows})
    resumed = "resumed" in second["stderr_tail"] + second["stdout_tail"]
    ok = second["rc"] == 0 and resumed and (run_dir / "last.pt").exists() and len(epochs) == 2
    return {"status": "ok" if ok else (f"failed: the resumed run exited {second['rc']}, "
                                       f"resumed={resumed}, logged epochs {epochs}"),
            "first": first, "second": second, "logged_epochs": epochs, "resumed": resumed}


def step_data_pinned(ctx: Context) -> dict[str, Any]:
    from neuroattn.ieeg import preset
    from neuroattn.ieeg.gpu_checks import pinned_tensors
    from neuroattn.train_ieeg.data import RecordingMix, open_recordings

    store = _write_store(ctx, "P1", 4, 1.0 if ctx.dry else 4.0)
    [rec] = open_recordings([store], preset("tiny"), window_segments=4,
                            cache_dir=ctx.work / "cache")
    # as train_ieeg builds them for a model on this device (on the CPU, a dry run also looks
    # at the batch objects a GPU gets, on "meta", where nothing can be pinned)
    devices = {"": ctx.device} if not ctx.dry else {"": "cpu", "meta_": "meta"}
    found = {f"{prefix}{name}": pinned_tensors(RecordingMix([rec], 8, balanced=balanced,
                                                            prefetch=0, device=device))
             for prefix, device in devices.items()
             for name, balanced in (("blocks", False), ("balanced_sampler", True))}
    if ctx.dry:
        return {"status": "ok", "note": "pinning needs CUDA; counted only", **found}
    unpinned = {k: v["cpu_tensors"] - v["pinned"] for k, v in found.items()}
    bad = {k: n for k, n in unpinned.items() if n}
    return {"status": "ok" if not bad else f"failed: unpinned host tensors in batches {bad}",
            **found}


def step_streaming(ctx: Context) -> dict[str, Any]:
    from neuroattn.ieeg.gpu_checks import streaming_realtime_factor

    s = ctx.sizes
    results = {}
    for path in PATHS:
        if path == "flex" and ctx.dry:
            continue  # forward works on the CPU, but it is the slow eager path there
        model = _model(ctx, path)
        results[path] = streaming_realtime_factor(
            model, s["channels"], window_segments=s["segments"], n_windows=s["stream_windows"],
            batch_size=s["stream_batch"], precision="32" if ctx.dry else "bf16")
        del model
    best = max(results.values())
    out = {"status": "ok", "realtime_factor": results, "best_realtime_factor": best,
           "channels": s["channels"], "window_segments": s["segments"]}
    if not ctx.dry:
        out["goal_1000x_met"] = best >= 1000
    return out


def _external(script: str, args: list[str], timeout: float) -> Callable[[Context], dict]:
    def step(ctx: Context) -> dict[str, Any]:
        path = BENCH / script
        if "--device" not in path.read_text():
            return {"status": f"failed: {script} has no --device flag"}
        if ctx.dry:
            return {"status": "skipped in dry run: a GPU benchmark (its --quick CPU run is "
                              "in RESULTS.md); checked that it takes --device"}
        out = ctx.out / f"{path.stem}_cuda.json"
        run = _run([sys.executable, str(path), "--device", ctx.device, *args, "--out", str(out)],
                   timeout=timeout)
        report = json.loads(out.read_text()) if out.exists() else None
        return {"status": "ok" if run["rc"] == 0 else f"failed: exit {run['rc']}",
                "run": run, "report": report}

    step.__doc__ = f"benchmarks/{script} on CUDA."
    return step


def step_cuda_tests(ctx: Context) -> dict[str, Any]:
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("test_*.py")
                   if re.search(r"cuda\.is_available\(\)|mark\.cuda|requires_cuda",
                                p.read_text()))
    if ctx.dry:
        return {"status": "skipped: needs CUDA (these tests skip on the CPU)", "files": files}
    run = _run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                "-k", "cuda or gpu or CUDA", *files], timeout=80)
    return {"status": "ok" if run["rc"] == 0 else f"failed: pytest exited {run['rc']}",
            "files": files, "run": run}


# ----------------------------------------------------------------------------- plumbing

#: (name, step, budget in seconds on CUDA). Order = priority under the suite's budget.
STEPS: list[tuple[str, Callable[[Context], dict[str, Any]], float]] = [
    ("sync_audit", step_sync_audit, 60),
    ("mvpa_accuracy", step_mvpa_accuracy, 75),
    ("full_model_flash", _full_model_step("flash"), 40),
    ("full_model_chunked", _full_model_step("chunked"), 40),
    ("full_model_flex", _full_model_step("flex"), 60),
    ("streaming", step_streaming, 60),
    ("pretraining_memory", step_pretraining_memory, 50),
    ("flex_recompiles", step_flex_recompiles, 60),
    ("resume", step_resume, 60),  # two runs of at most 25 s each
    ("data_pinned", step_data_pinned, 25),
    # external scripts: their own timeout is the budget less a child's start-up (10 s)
    ("mvpa_speed", _external("bench_mvpa.py", ["--width", "s", "--quick",
                                               "--channels", "64", "128"], 65), 75),
    # its S-model arms build a store of up to 60 min, plus the S data-path rounds; the
    # streaming figure comes from the "streaming" step above
    ("data_bench", _external("bench_train_ieeg.py", ["--quick", "--skip-inference"], 100),
     110),
    ("cuda_tests", step_cuda_tests, 90),  # pytest: 80 s
    ("bench_neva", _external("bench_neva.py", ["--quick"], 25), 35),
    ("bench_logpolar", _external("bench_logpolar.py", ["--quick"], 25), 35),
    ("bench_encoding", _external("bench_encoding.py", ["--quick"], 35), 45),
]


def _tail(text: str, n: int = 2000) -> str:
    return text[-n:] if text else ""


def _run(cmd: list[str], timeout: float) -> dict[str, Any]:
    """Run a command with a timeout; return its exit code, seconds and output tails.

    The command gets its own process group, killed whole on timeout (124), so
    nothing it started outlives its budget.
    """
    start = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, env=env, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        rc = 124
    return {"cmd": " ".join(cmd), "rc": rc, "seconds": round(time.perf_counter() - start, 2),
            "stdout_tail": _tail(out), "stderr_tail": _tail(err)}


class _StepTimeout(Exception):
    pass


def _run_in_process(name: str, fn: Callable[[Context], dict], ctx: Context,
                    budget: float) -> dict[str, Any]:
    """Run one step here, with an alarm at its budget (a Python-level hang only).

    An outer alarm (such as pytest-timeout's) is put back afterwards, less the time spent.
    """
    def alarm(signum, frame):
        raise _StepTimeout(f"timeout after {budget:.0f} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    outer, _ = signal.setitimer(signal.ITIMER_REAL, max(1.0, budget))
    start = time.perf_counter()
    try:
        result = fn(ctx)
    except _StepTimeout as err:
        result = {"status": f"failed: {err}"}
    except Exception as err:  # recorded, and the suite goes on
        result = {"status": f"failed: {type(err).__name__}: {err}",
                  "traceback": traceback.format_exc()[-3000:]}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:
            signal.setitimer(signal.ITIMER_REAL, max(1e-3, outer - (time.perf_counter() - start)))
    return result


def _run_isolated(name: str, ctx: Context, budget: float) -> dict[str, Any]:
    """Run one step in a fresh process (CUDA: a crash or hang cannot take the suite down)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--step", name, "--out", str(ctx.out),
           "--device", ctx.device, "--work", str(ctx.work)] + (["--dry-run"] if ctx.dry else [])
    run = _run(cmd, timeout=budget)
    path = ctx.out / f"{name}.json"
    if path.exists() and json.loads(path.read_text()).get("run_id") == os.getpid():
        return json.loads(path.read_text())
    reason = "timeout" if run["rc"] == 124 else f"exit {run['rc']}"
    return {"status": f"failed: {reason} after {run['seconds']:.0f} s", "run": run}


def _write(ctx: Context, name: str, result: dict[str, Any]) -> None:
    (ctx.out / f"{name}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")


def run_suite(ctx: Context, *, only: list[str] | None, isolate: bool) -> dict[str, Any]:
    ctx.out.mkdir(parents=True, exist_ok=True)
    ctx.work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    summary = []
    for name, fn, budget in STEPS:
        if only and name not in only:
            continue
        left = SUITE_BUDGET_S - (time.perf_counter() - start)
        if not ctx.dry and left < 10:
            result = {"status": f"skipped: the suite's {SUITE_BUDGET_S:.0f} s budget is spent"}
        else:
            t0 = time.perf_counter()
            budget = budget if ctx.dry else min(budget, left)
            result = _run_isolated(name, ctx, budget) if isolate else \
                _run_in_process(name, fn, ctx, budget)
            result["seconds"] = round(time.perf_counter() - t0, 2)
            result["budget_s"] = round(budget, 1)
        result["step"] = name
        _write(ctx, name, result)
        summary.append({"step": name, "status": result["status"],
                        "seconds": result.get("seconds", 0.0), "key": _key_figure(name, result)})
        print(f"[gpu_suite] {name}: {result['status']} ({result.get('seconds', 0.0):.1f} s)",
              flush=True)
    report = {"device": ctx.device, "dry_run": ctx.dry, "machine": _machine(ctx),
              "total_s": round(time.perf_counter() - start, 2), "steps": summary}
    (ctx.out / "summary.json").write_text(json.dumps(report, indent=2) + "\n")
    table = format_table(summary)
    (ctx.out / "summary.txt").write_text(table + "\n")
    print(table)
    return report


def _key_figure(name: str, r: dict[str, Any]) -> str:
    """The one figure of a step that goes in the table."""
    def g(x):
        return "-" if x is None else f"{x:.3g}"

    if name == "sync_audit" and "syncs" in r:
        return " ".join(f"{k}={v if v is not None else '-'}" for k, v in r["syncs"].items())
    if name == "mvpa_accuracy" and "rows" in r:
        worst = {}
        for row in r["rows"]:
            if row["max_grad"] is not None:
                worst[row["precision"]] = max(worst.get(row["precision"], 0.0), row["max_grad"])
        flex = [v for v in r["flex_table_grads"].values() if v is not None]
        return ("worst grad rel err " + " ".join(f"{k}:{g(v)}" for k, v in worst.items())
                + (f"; flex tables {g(max(flex))}" if flex else ""))
    if name == "flex_recompiles" and "compilations" in r:
        return (f"{r['compilations']} compiles / {len(r['channel_counts'])} counts, first "
                f"{g(r['first_call_s'])} s")
    if name.startswith("full_model") and "step_s" in r:
        return f"{g(r['step_s'])} s/step, peak {g(r['peak_memory_mb'])} MiB"
    if name == "pretraining_memory" and "peak_memory_mb" in r:
        return f"peaks {[g(p) for p in r['peak_memory_mb']]} MiB -> B=32 {g(r['extrapolated_mb'])}"
    if name == "streaming" and "best_realtime_factor" in r:
        return f"{g(r['best_realtime_factor'])}x real time"
    if name == "data_pinned" and "blocks" in r:
        return " ".join(f"{k}: {v['pinned']}/{v['cpu_tensors']} pinned"
                        for k, v in r.items() if isinstance(v, dict) and "pinned" in v)
    if name == "resume" and "logged_epochs" in r:
        return f"epochs {r['logged_epochs']}"
    return ""


def format_table(rows: list[dict[str, Any]]) -> str:
    """A fixed-width table: step, status, seconds, key figure."""
    status_w = min(48, max([len("status")] + [len(r["status"]) for r in rows]))
    lines = [f"{'step':<20} {'status':<{status_w}} {'s':>7}  key figure",
             "-" * (20 + status_w + 22)]
    for r in rows:
        status = r["status"] if len(r["status"]) <= status_w else r["status"][:status_w - 3] + "..."
        lines.append(f"{r['step']:<20} {status:<{status_w}} {r['seconds']:>7.1f}  {r['key']}")
    return "\n".join(lines)


def _machine(ctx: Context) -> dict[str, Any]:
    gpu = None
    if ctx.device.startswith("cuda"):
        import torch

        gpu = torch.cuda.get_device_name(torch.device(ctx.device))
    return {"platform": platform.platform(), "cpu_count": os.cpu_count(),
            "torch": importlib.metadata.version("torch"), "python": platform.python_version(),
            "gpu": gpu}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true",
                        help="the same sequence on the CPU at toy sizes (tests)")
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "gpu",
                        help="where the JSON files go (default: benchmarks/results/gpu)")
    parser.add_argument("--device", help="default: cuda, or cpu with --dry-run")
    parser.add_argument("--only", nargs="+", metavar="STEP", choices=[s[0] for s in STEPS],
                        help="run only these steps")
    parser.add_argument("--isolate", action=argparse.BooleanOptionalAction, default=None,
                        help="one process per step (default: on CUDA, not in a dry run)")
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--step", help=argparse.SUPPRESS)  # a child of --isolate
    args = parser.parse_args(argv)
    device = args.device or ("cpu" if args.dry_run else "cuda")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            parser.error("no CUDA GPU is visible; run with --dry-run for the CPU rehearsal.")
    with tempfile.TemporaryDirectory(prefix="gpu_suite_") as tmp:
        ctx = Context(device=device, dry=args.dry_run, out=args.out,
                      work=args.work or Path(tmp))
        if args.step:
            fn, budget = next((f, b) for n, f, b in STEPS if n == args.step)
            result = _run_in_process(args.step, fn, ctx, 10 * budget)  # the parent times out
            result["run_id"] = os.getppid()
            _write(ctx, args.step, result)
            return 0
        isolate = not args.dry_run if args.isolate is None else args.isolate
        report = run_suite(ctx, only=args.only, isolate=isolate)
    ok = all(s["status"] == "ok" or s["status"].startswith("skipped") for s in report["steps"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
