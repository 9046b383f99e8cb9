"""Device policy and autocast."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from neuroattn.device import autocast, resolve_device


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


def test_bf16_autocast_on_cpu():
    with autocast(torch.device("cpu"), "bf16"):
        out = torch.nn.functional.linear(torch.ones(2, 3), torch.ones(4, 3))
    assert out.dtype == torch.bfloat16


def test_import_does_not_touch_cuda_or_heavy_modules():
    code = ("import sys, neuroattn, neuroattn.store.schema; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
