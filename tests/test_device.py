"""Device policy and autocast."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from neuroattn.device import (
    PRECISIONS,
    autocast,
    enable_tf32,
    needs_grad_scaler,
    precision_dtype,
    resolve_device,
)
from neuroattn.training import TrainConfig, Trainer


def test_auto_and_cpu():
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available() and torch.backends.mps.is_available():
        expected = "mps"
    assert resolve_device("auto").type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_missing_cuda_is_explained():
    with pytest.raises(RuntimeError, match="sees no CUDA GPU. Use --device cpu"):
        resolve_device("cuda:0")


def test_bad_names():
    with pytest.raises(ValueError, match="is not a device"):
        resolve_device("gpu0")
    with pytest.raises(ValueError, match="precision='8'"):
        autocast(torch.device("cpu"), "8")
    with pytest.raises(ValueError, match="precision='fp8' is unknown; use 'auto'"):
        Trainer(torch.nn.Linear(2, 1), None, TrainConfig(precision="fp8"), "unused")


def test_bf16_autocast_on_cpu():
    with autocast(torch.device("cpu"), "bf16"):
        out = torch.nn.functional.linear(torch.ones(2, 3), torch.ones(4, 3))
    assert out.dtype == torch.bfloat16


def test_import_does_not_touch_cuda_or_heavy_modules():
    code = ("import sys, neuroattn, neuroattn.store.schema; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


SPELLINGS = {  # precision -> (dtype on CUDA, dtype on the CPU)
    "auto": (torch.bfloat16, None), "32": (None, None), "fp32": (None, None),
    "float32": (None, None), "bf16": (torch.bfloat16,) * 2,
    "bf16-mixed": (torch.bfloat16,) * 2, "bfloat16": (torch.bfloat16,) * 2,
    "16": (torch.float16, torch.bfloat16), "16-mixed": (torch.float16, torch.bfloat16),
    "fp16": (torch.float16, torch.bfloat16), "float16": (torch.float16, torch.bfloat16),
}


@pytest.mark.parametrize("precision", sorted(SPELLINGS))
def test_every_precision_spelling(precision):
    on_cuda, on_cpu = SPELLINGS[precision]
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert precision_dtype(cuda, precision) is on_cuda
    assert precision_dtype(cpu, precision) is on_cpu
    assert precision_dtype(torch.device("meta"), precision) is None
    # Every fp16 spelling trains with a GradScaler; bf16 and fp32 never need one.
    assert needs_grad_scaler(cuda, precision) is (on_cuda is torch.float16)
    assert not needs_grad_scaler(cpu, precision)
    with autocast(cpu, precision):
        out = torch.nn.functional.linear(torch.ones(2, 3), torch.ones(4, 3))
    assert out.dtype == (on_cpu or torch.float32)
    trainer = Trainer(torch.nn.Linear(2, 1), None, TrainConfig(precision=precision, device="cpu"),
                      "unused")
    assert not trainer.scaler.is_enabled()  # fp16 falls back to bf16 on the CPU


def test_vocabulary_is_complete():
    assert set(PRECISIONS) == set(SPELLINGS)


@pytest.fixture
def tf32_flags():
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def test_tf32_is_set_on_cuda_only(tf32_flags):
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    assert not enable_tf32(torch.device("cpu"))
    assert not torch.backends.cuda.matmul.allow_tf32  # nothing changes off CUDA
    assert enable_tf32(torch.device("cuda"))  # sets backend flags only: no CUDA call
    assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    assert torch.get_float32_matmul_precision() == "high"
    assert enable_tf32(torch.device("cuda:1"), enabled=False)
    assert not torch.backends.cuda.matmul.allow_tf32
    assert torch.get_float32_matmul_precision() == "highest"
