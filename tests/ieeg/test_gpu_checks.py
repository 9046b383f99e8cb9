"""The measuring functions of the GPU suite, on the CPU at toy sizes."""

from __future__ import annotations

import math
import time
import types
import warnings
from pathlib import Path

import pytest
import torch

from neuroattn.ieeg import gpu_checks
from neuroattn.ieeg.gpu_checks import (
    INPUTS,
    extrapolate_linear,
    flex_recompiles,
    mvpa_accuracy,
    peak_memory_sweep,
    pinned_tensors,
    relative_error,
    streaming_realtime_factor,
    sync_audit,
    time_steps,
    timed_training_step,
    warnings_by_source,
)


class _SleepyModel(torch.nn.Module):
    """Records its inputs and takes a fixed time per call: a model with a known speed."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.config = types.SimpleNamespace(segment_samples=4, segment_s=2.0)
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.seconds, self.inputs, self.modes = seconds, [], []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.inputs.append(x.clone())
        self.modes.append(self.training)
        time.sleep(self.seconds)
        return x.mean(dim=(1, 2))


def test_streaming_windows_are_the_recording_one_segment_apart():
    model = _SleepyModel(0.0)
    streaming_realtime_factor(model, 3, window_segments=5, n_windows=7, batch_size=3, seed=1)
    # warm-up batch, then the 7 windows in batches of 3, 3, 1
    assert [len(x) for x in model.inputs] == [3, 3, 3, 1]
    windows = torch.cat(model.inputs[1:])
    recording = torch.randn(3, (7 + 5 - 1) * 4, generator=torch.Generator().manual_seed(1))
    for i, window in enumerate(windows):
        assert torch.equal(window, recording[:, 4 * i:4 * i + 20])
    assert model.training and not any(model.modes)  # eval inside, restored after


def test_streaming_factor_is_recording_seconds_per_wall_second():
    model = _SleepyModel(0.02)
    factor = streaming_realtime_factor(model, 2, window_segments=2, n_windows=6, batch_size=2,
                                       repeats=2)
    ideal = 6 * 2.0 / (3 * 0.02)  # 6 windows of 2-s segments in 3 calls of 20 ms: 200x
    assert 0.5 * ideal < factor <= ideal
    assert len(model.inputs) == 1 + 2 * 3


def test_streaming_uploads_the_recording_once_and_never_reads_the_device():
    from neuroattn.dispatch_audit import audit_dispatch
    from neuroattn.ieeg import MVPFormer, preset

    model = MVPFormer(preset("tiny", dropout=0.0)).to("meta")  # meta: CUDA's dispatch, no data
    with audit_dispatch() as report:
        streaming_realtime_factor(model, 3, window_segments=3, n_windows=4, batch_size=2)
    # the model's own findings are the GPU-readiness tests' business; ours: one upload
    ours = {site: n for site, n in report.by_site().items() if "gpu_checks.py" in site}
    assert list(ours.values()) == [1]
    assert report.by_site("host_to_device").keys() >= ours.keys()


def test_streaming_rejects_bad_sizes():
    with pytest.raises(ValueError, match="n_windows=0 must be a positive integer"):
        streaming_realtime_factor(_SleepyModel(0.0), 2, n_windows=0)


def test_relative_error_exact_values():
    assert relative_error(torch.tensor([3.0, 4.0]), torch.tensor([3.0, 0.0])) == 4 / 3
    assert relative_error(torch.zeros(2), torch.zeros(2)) == 0.0
    assert relative_error(torch.ones(2), torch.zeros(2)) == math.sqrt(2)


@pytest.mark.parametrize("path", ["flash", "chunked", "reference"])
def test_float32_paths_match_float64_forward_and_every_gradient(path):
    r = mvpa_accuracy(path, n_channels=5, n_segments=3, width="tiny", batch=2, window=1)
    assert r["backward"] == "ok" and r["finite"] and r["tokens"] == 15
    assert r["forward"] < 1e-5
    assert all(r[f"grad_{name}"] < 1e-5 for name in INPUTS)
    assert r["max_grad"] == max(r[f"grad_{name}"] for name in INPUTS)


def test_bf16_autocast_errors_are_measured_not_hidden():
    r32 = mvpa_accuracy("chunked", n_channels=5, n_segments=3, width="tiny")
    r16 = mvpa_accuracy("chunked", n_channels=5, n_segments=3, width="tiny", precision="bf16")
    # bf16 matmuls: errors well above float32's and within a few percent
    assert r32["max_grad"] * 100 < r16["max_grad"] < 0.1
    assert r32["forward"] * 100 < r16["forward"] < 0.1


def test_flex_on_the_cpu_checks_the_forward_and_says_why_not_the_backward():
    r = mvpa_accuracy("flex", n_channels=5, n_segments=3, width="tiny")
    assert r["forward"] < 1e-5 and r["finite"]
    assert r["backward"].startswith("skipped: FlexAttention has no backward pass on the CPU")
    assert r["max_grad"] is None and all(r[f"grad_{n}"] is None for n in INPUTS)


def test_accuracy_rejects_an_unknown_path():
    with pytest.raises(ValueError, match="path='sdpa'; choose one of"):
        mvpa_accuracy("sdpa", n_channels=2)


def test_time_steps_runs_warmup_then_timed_calls():
    calls = []
    r = time_steps(lambda: calls.append(time.sleep(0.01)), "cpu", steps=3, warmup=2)
    assert len(calls) == 5 and r["steps"] == 3
    assert 0.01 <= r["step_s"] < 1.0 and r["peak_memory_mb"] is None
    with pytest.raises(ValueError, match="steps=0 must be >= 1"):
        time_steps(lambda: None, "cpu", steps=0)


def test_timed_training_step_takes_optimiser_steps():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    before = model.weight.detach().clone()
    x = torch.randn(16, 3)
    batch = x, x @ torch.tensor([[1.0], [2.0], [3.0]])

    def loss_fn(m, b):
        return torch.nn.functional.mse_loss(m(b[0]), b[1]), {}

    first = timed_training_step(model, loss_fn, batch, steps=1, warmup=0, lr=0.1)["loss"]
    last = timed_training_step(model, loss_fn, batch, steps=20, warmup=0, lr=0.1)["loss"]
    assert not torch.equal(model.weight, before) and last < first


def test_extrapolate_linear_is_least_squares():
    assert extrapolate_linear([4, 8, 16], [5.0, 9.0, 17.0], 32) == (1.0, 1.0, 33.0)
    slope, intercept, value = extrapolate_linear([0, 1, 2], [0.0, 2.0, 1.0], 4)
    assert (slope, intercept) == (0.5, 0.5) and value == 2.5
    with pytest.raises(ValueError, match="at least two"):
        extrapolate_linear([4], [1.0], 32)


def test_peak_memory_sweep_fits_the_measured_peaks(monkeypatch):
    sizes = []

    def make_batch(b):
        sizes.append(b)
        return torch.randn(b, 3)

    # a device whose peak is 100 MiB + 10 MiB per window of the last batch
    monkeypatch.setattr(gpu_checks, "_peak_mb", lambda device: 100.0 + 10.0 * sizes[-1])
    r = peak_memory_sweep(torch.nn.Linear(3, 1), lambda m, b: (m(b).square().mean(), {}),
                          make_batch, batch_sizes=(4, 8, 16), extrapolate_to=32)
    assert sizes == [4, 8, 16] and r["peak_memory_mb"] == [140.0, 180.0, 260.0]
    assert (r["slope_mb_per_window"], r["intercept_mb"], r["extrapolated_mb"]) == (
        10.0, 100.0, 420.0)


def test_flex_recompiles_times_every_channel_count():
    r = flex_recompiles([2, 3, 5], n_segments=2)
    assert r["channel_counts"] == [2, 3, 5] and len(r["call_s"]) == 3
    assert r["first_call_s"] == r["call_s"][0] and not r["backward"]
    assert r["compilations"] == 0 and r["compile"] is None  # eager on the CPU by default


def _warn_twice() -> str:
    warnings.warn("a synchronizing op", UserWarning, stacklevel=1)
    warnings.warn("something else", UserWarning, stacklevel=1)
    return "done"


def test_warnings_are_grouped_by_source_line():
    root = Path(__file__).parent
    line = _warn_twice.__code__.co_firstlineno + 1

    def run():
        for _ in range(3):
            _warn_twice()
        return 7

    result, counts = warnings_by_source(run, root=root, match="synchroniz")
    assert result == 7 and counts == {f"ieeg/test_gpu_checks.py:{line}": 3}
    _, everything = warnings_by_source(run, root=root)
    assert everything == {f"ieeg/test_gpu_checks.py:{line}": 3,
                          f"ieeg/test_gpu_checks.py:{line + 1}": 3}


def test_sync_audit_needs_cuda_and_runs_nothing_elsewhere():
    calls = []
    r = sync_audit(lambda: calls.append(1), "cpu")
    assert r["status"].startswith("skipped: needs CUDA") and r["syncs"] is None and not calls


class _Block:
    __slots__ = ("data",)

    def __init__(self, data):
        self.data = data


def test_pinned_tensors_looks_inside_batches_and_batch_objects():
    shared = torch.zeros(3)
    batch_object = types.SimpleNamespace(parts=[(_Block(shared), 0), (_Block(shared), 3)],
                                         labels=torch.zeros(1), meta="x")
    batches = [(torch.zeros(2), {"y": torch.ones(2)}), batch_object, (torch.zeros(1),)]
    found = pinned_tensors(batches, n_batches=2)
    # 2 in the tuple, then the shared block (once) and the labels
    assert found == {"batches": 2, "cpu_tensors": 4, "pinned": 0, "device_tensors": 0}
    assert pinned_tensors([batch_object], depth=1)["cpu_tensors"] == 1  # blocks too deep
    meta = pinned_tensors([(torch.zeros(2, device="meta"),)])
    assert meta["device_tensors"] == 1 and meta["cpu_tensors"] == 0
