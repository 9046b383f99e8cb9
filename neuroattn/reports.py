"""Writing results files: JSON (and its Markdown table) atomically, one convention everywhere.

Analyses and benchmarks record every figure they print in a JSON file that the
README, the model cards and ``benchmarks/RESULTS.md`` cite (and
``tests/test_results_md.py`` checks against). They all write it here: plain
JSON (NumPy scalars and arrays, tuples and paths made plain), indented, ending
in a newline, replaced atomically so a reader never sees half a file.

Examples
--------
>>> import json, tempfile
>>> import numpy as np
>>> path = write_json(tempfile.mkdtemp() + "/r.json", {"auroc": np.float32(0.5)})
>>> json.loads(path.read_text())
{'auroc': 0.5}
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from neuroattn._atomic import atomic_path
from neuroattn._validation import to_jsonable

__all__ = ["write_json", "write_report"]


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as indented JSON to ``path``, atomically; returns the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(to_jsonable(data), indent=2, default=str) + "\n")
    return path


def write_report(directory: str | os.PathLike, stem: str, result: Any,
                 markdown: str | None = None) -> Path:
    """``directory/stem.json`` (and ``stem.md`` with ``markdown``), atomically; returns the JSON.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp())
    >>> write_report(out, "table", {"r": 1}, "| r |\\n|---|\\n| 1 |\\n").name
    'table.json'
    >>> sorted(p.name for p in out.iterdir())
    ['table.json', 'table.md']
    """
    directory = Path(directory)
    path = write_json(directory / f"{stem}.json", result)
    if markdown is not None:
        with atomic_path(directory / f"{stem}.md") as tmp:
            tmp.write_text(markdown)
    return path
