"""Fixtures for the iEEG tests: braindecode as a test oracle.

braindecode 1.8.1 requires torchaudio, and no torchaudio release works with
the torch pinned here (torchaudio 2.11 pins torch 2.11). So the oracle is
installed without dependencies into a cache directory (its pure-Python
imports listed below, from PyPI), and run in a subprocess with a stub
``torchaudio`` module (MVPFormer never calls it). Without network access to
PyPI the oracle tests are skipped, with the reason.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ORACLE_PACKAGES = [
    "braindecode==1.8.1", "einops==0.8.2", "docstring-inheritance==3.0.0", "torchinfo==1.8.0",
    "skorch==1.4.0", "tabulate==0.10.0", "pydantic==2.14.3", "pydantic_core==2.50.4",
    "annotated-types==0.8.0", "typing-inspection==0.4.5", "h5py==3.16.0", "wfdb==4.3.1",
    "mne-bids==0.20.0", "linear-attention-transformer==0.19.1",
    "axial_positional_embedding==0.3.12", "CoLT5-attention==0.11.2",
    "hyper-connections==0.4.11", "linformer==0.2.3", "local-attention==1.11.2",
    "product_key_memory==0.3.0",
]

TORCHAUDIO_STUB = '''
import sys, types
def _unavailable(*args, **kwargs):
    raise RuntimeError("torchaudio is stubbed out in the test oracle")
ta = types.ModuleType("torchaudio")
fn = types.ModuleType("torchaudio.functional")
tr = types.ModuleType("torchaudio.transforms")
for name in ("fftconvolve", "filtfilt", "lfilter"):
    setattr(fn, name, _unavailable)
for name in ("Spectrogram", "Resample", "TimeMasking", "FrequencyMasking"):
    setattr(tr, name, type(name, (), {"__init__": _unavailable}))
ta.functional, ta.transforms = fn, tr
sys.modules.update({"torchaudio": ta, "torchaudio.functional": fn,
                    "torchaudio.transforms": tr})
'''


@pytest.fixture(scope="session")
def braindecode_oracle() -> Callable[..., subprocess.CompletedProcess]:
    """Run a script with braindecode 1.8.1 importable: ``run(script, *args)``."""
    cache = Path(os.environ.get("NEUROATTN_ORACLE_DIR",
                                Path.home() / ".cache" / "neuroattn" / "oracles"))
    target = cache / "braindecode-1.8.1"
    if not (target / "braindecode" / "models" / "mvpformer.py").is_file():
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
               "--only-binary=:all:", "--target", str(target), *ORACLE_PACKAGES]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            pytest.skip("installing the braindecode oracle timed out")
        if done.returncode:
            pytest.skip(f"could not install the braindecode oracle: {done.stderr[-300:]}")
    return functools.partial(_run_oracle, target)


def _run_oracle(oracle: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    # The oracle goes after the venv's packages, so the venv's torch is the one imported.
    prelude = f"import sys\nsys.path.append({str(oracle)!r})\n{TORCHAUDIO_STUB}\n"
    return subprocess.run([sys.executable, "-c", prelude + script, *args],
                          capture_output=True, text=True, timeout=600)
