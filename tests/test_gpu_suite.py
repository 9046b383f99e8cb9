"""``benchmarks/gpu_suite.sh --dry-run``: the GPU suite's whole sequence on the CPU."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_suite.sh"

#: Every measurement that issue 17 (part G) asks of the GPU run.
REQUIRED = {"sync_audit", "mvpa_accuracy", "flex_recompiles", "mvpa_speed", "full_model_flash",
            "full_model_chunked", "full_model_flex", "pretraining_memory", "resume",
            "data_pinned", "data_bench", "streaming", "cuda_tests", "bench_neva",
            "bench_logpolar", "bench_encoding"}


@pytest.fixture(scope="module")
def suite():
    """benchmarks/gpu_suite.py as a module (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location("gpu_suite", ROOT / "benchmarks" /
                                                  "gpu_suite.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_suite"] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules["gpu_suite"]


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1",
           "NEUROATTN_PROGRESS": "off"}
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


def _ok_or_skipped(status: str) -> bool:
    return status == "ok" or status.startswith("skipped")


@pytest.mark.slow
def test_dry_run_runs_every_step_and_writes_the_table(tmp_path):
    start = time.perf_counter()
    proc = _run("--dry-run", "--out", str(tmp_path))
    seconds = time.perf_counter() - start
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["dry_run"] and summary["device"] == "cpu"
    steps = {s["step"]: s for s in summary["steps"]}
    assert set(steps) == REQUIRED
    for name, step in steps.items():
        assert _ok_or_skipped(step["status"]), (name, step["status"])
        assert json.loads((tmp_path / f"{name}.json").read_text())["status"] == step["status"]
    # what runs on the CPU runs, and only what needs CUDA is skipped
    ran = {n for n, s in steps.items() if s["status"] == "ok"}
    assert {"mvpa_accuracy", "full_model_flash", "full_model_chunked", "streaming",
            "pretraining_memory", "flex_recompiles", "resume", "data_pinned"} <= ran
    assert steps["sync_audit"]["status"] == "skipped: needs CUDA (torch.cuda.set_sync_debug_mode)"
    accuracy = json.loads((tmp_path / "mvpa_accuracy.json").read_text())
    float32 = [r for r in accuracy["rows"] if r["precision"] == "32"]
    assert all(r["forward"] < 1e-5 for r in float32)
    assert all(r["max_grad"] < 1e-5 for r in float32 if r["path"] != "flex")
    assert json.loads((tmp_path / "resume.json").read_text())["resumed"] is True
    table = (tmp_path / "summary.txt").read_text()
    assert all(name in table and name in proc.stdout for name in REQUIRED)
    assert seconds < 60, f"the dry run took {seconds:.0f} s; it runs in the test suite"


def test_isolated_steps_run_in_a_child_process(tmp_path):
    proc = _run("--dry-run", "--isolate", "--only", "cuda_tests", "--out", str(tmp_path),
                timeout=60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    step = json.loads((tmp_path / "cuda_tests.json").read_text())
    assert step["status"].startswith("skipped: needs CUDA")
    assert "tests/nn/test_wavelet.py" in step["files"]  # found by its CUDA skip condition
    assert step["run_id"] != os.getpid()  # written by the child of this run's suite


def test_a_failing_or_hanging_step_is_recorded_and_the_suite_goes_on(suite, tmp_path):
    ctx = suite.Context(device="cpu", dry=True, out=tmp_path, work=tmp_path)

    def broken(ctx):
        raise RuntimeError("CUDA error: an illegal memory access")

    def hang(ctx):
        time.sleep(30)

    failed = suite._run_in_process("broken", broken, ctx, budget=10)
    assert failed["status"] == "failed: RuntimeError: CUDA error: an illegal memory access"
    assert "broken" in failed["traceback"]
    start = time.perf_counter()
    hung = suite._run_in_process("hang", hang, ctx, budget=1)
    assert hung["status"] == "failed: timeout after 1 s" and time.perf_counter() - start < 5


def test_the_table_has_one_row_per_step(suite):
    table = suite.format_table([
        {"step": "streaming", "status": "ok", "seconds": 1.25, "key": "1.2e+03x real time"},
        {"step": "resume", "status": "failed: exit 1", "seconds": 3.0, "key": ""}])
    lines = table.splitlines()
    assert len(lines) == 4 and lines[0].split()[:3] == ["step", "status", "s"]
    assert lines[2].split() == ["streaming", "ok", "1.2", "1.2e+03x", "real", "time"]
    assert lines[3].split()[:4] == ["resume", "failed:", "exit", "1"]
