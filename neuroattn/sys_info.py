"""What is installed, and which device neuroattn would use: paste it into bug reports.

Examples
--------
>>> from neuroattn.sys_info import collect
>>> info = collect()
>>> sorted(info)[:3]
['cpu_count', 'cuda', 'device']
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
from typing import Any, TextIO

PACKAGES = ("neuroattn", "torch", "torchvision", "numpy", "scipy", "xarray", "dask", "zarr",
            "mne", "nilearn", "nibabel", "matplotlib", "tqdm", "yaml", "edfio", "distributed",
            "dask_jobqueue", "jupyterlab", "nbclient")


def _version(name: str) -> str:
    try:
        module = importlib.import_module(name)
    except ImportError:
        return "not installed"
    return str(getattr(module, "__version__", "installed"))


def collect() -> dict[str, Any]:
    """Versions of Python and every (optional) dependency, CUDA details and the chosen device."""
    import torch

    from neuroattn.device import resolve_device

    cuda: dict[str, Any] = {"available": torch.cuda.is_available(),
                            "torch_built_with": torch.version.cuda}
    if cuda["available"]:
        cuda["devices"] = [
            f"{i}: {torch.cuda.get_device_name(i)} "
            f"({torch.cuda.get_device_properties(i).total_memory / 2**30:.1f} GiB)"
            for i in range(torch.cuda.device_count())]
        cuda["bf16_supported"] = torch.cuda.is_bf16_supported()
    return {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "packages": {name: _version(name) for name in PACKAGES},
        "cuda": cuda,
        "mps": torch.backends.mps.is_available(),
        "device": str(resolve_device("auto")),
    }


def show(out: TextIO | None = None) -> None:
    """Print :func:`collect` as an aligned table."""
    out = out or sys.stdout
    info = collect()
    rows = [("platform", info["platform"]), ("python", f"{info['python']} ({info['executable']})"),
            ("CPU cores", f"{info['cpu_count']} (torch threads: {info['torch_threads']})")]
    rows += [(name, version) for name, version in info["packages"].items()]
    cuda = info["cuda"]
    rows.append(("CUDA", "available" if cuda["available"] else
                 f"not available (torch built with CUDA {cuda['torch_built_with']})"))
    for dev in cuda.get("devices", []):
        rows.append(("  GPU", dev))
    rows.append(("MPS", "available" if info["mps"] else "not available"))
    rows.append(("device='auto' uses", info["device"]))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}", file=out)
