"""neuroattn: attention-based models of brain data.

``import neuroattn`` is cheap: torch, xarray and MNE load only when a
submodule that needs them is used.

Examples
--------
>>> import neuroattn
>>> neuroattn.__version__
'0.1.0'
>>> neuroattn.set_log_level("WARNING")
>>> sorted(name for name in ("encoding", "gaze", "ieeg", "retina", "semantic")
...        if name in neuroattn.__all__)   # the five model families, loaded on first use
['encoding', 'gaze', 'ieeg', 'retina', 'semantic']
"""

from __future__ import annotations

import importlib
from typing import Any

from neuroattn._logging import logger, set_log_level

__version__ = "0.1.0"

_LAZY = {
    "set_seed": "neuroattn.seeding",
    "resolve_device": "neuroattn.device",
    "progress": "neuroattn.progress",
    "sys_info": "neuroattn.sys_info",
    "store": "neuroattn.store",
    "datasets": "neuroattn.datasets",
    "training": "neuroattn.training",
    "config": "neuroattn.config",
    "ieeg": "neuroattn.ieeg",
    "nn": "neuroattn.nn",
    "plotting": "neuroattn.plotting",
    "errors": "neuroattn.errors",
    "NeuroattnError": "neuroattn.errors",
    "gaze": "neuroattn.gaze",
    "encoding": "neuroattn.encoding",
    "retina": "neuroattn.retina",
    "semantic": "neuroattn.semantic",
    "models": "neuroattn.models",
    "train_ieeg": "neuroattn.train_ieeg",
}

__all__ = ["__version__", "logger", "set_log_level", *_LAZY]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'neuroattn' has no attribute {name!r}")
    module = importlib.import_module(_LAZY[name])
    return module if module.__name__.endswith(name) else getattr(module, name)
