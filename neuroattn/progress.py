"""One progress-bar helper for the whole package.

Bars are shown only on an interactive terminal (or in a notebook), and never
when ``NEUROATTN_PROGRESS=off``. ``NEUROATTN_PROGRESS=on`` forces them on.

Examples
--------
>>> from neuroattn.progress import progress
>>> sum(progress(range(3), desc="demo", enabled=False))
3
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress_enabled(enabled: bool | None = None) -> bool:
    """Decide whether to draw a bar.

    ``enabled`` wins when given; then ``NEUROATTN_PROGRESS`` (``on``/``off``);
    otherwise bars are drawn only when stderr is a TTY.
    """
    if enabled is not None:
        return enabled
    env = os.environ.get("NEUROATTN_PROGRESS", "auto").lower()
    if env in {"off", "0", "false", "no"}:
        return False
    if env in {"on", "1", "true", "yes"}:
        return True
    return sys.stderr.isatty() or _in_notebook()


def _in_notebook() -> bool:
    """Whether this code runs inside a Jupyter kernel (not merely next to an imported one)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if hasattr(ipython, "get_ipython") else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def progress(
    iterable: Iterable[T] | None = None,
    *,
    desc: str | None = None,
    total: int | None = None,
    enabled: bool | None = None,
    **kwargs: Any,
) -> tqdm:
    """Wrap ``iterable`` in a tqdm bar that respects :func:`progress_enabled`."""
    return tqdm(
        iterable, desc=desc, total=total, disable=not progress_enabled(enabled), **kwargs
    )
