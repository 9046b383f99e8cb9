"""Parameter descriptions shared by many docstrings, written once (MNE's ``fill_doc``).

A docstring line that holds only ``%(key)s`` is replaced by the entry ``key``
of :data:`DOCS`, indented like that line. An unknown key raises ``KeyError``
when the module is imported, so a typo cannot ship.

Examples
--------
>>> @fill_doc
... def convert(src, dst, *, overwrite=False, verbose=None):
...     '''Convert ``src``.
...
...     Parameters
...     ----------
...     %(overwrite_store)s
...     %(verbose)s
...     '''
>>> print(convert.__doc__.splitlines()[4])
    overwrite : bool
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

__all__ = ["DOCS", "fill_doc"]

DOCS: dict[str, str] = {
    "verbose": """verbose : bool, str, int or None
    Log level for this call (``True``: INFO, ``False``: WARNING, or a level
    name or number); ``None`` keeps the package's level.""",
    "overwrite_store": """overwrite : bool
    Replace an existing store.""",
    "returns_dst": """Returns
-------
pathlib.Path
    ``dst``.""",
    "returns_path": """Returns
-------
pathlib.Path
    ``path``.""",
    "axes": """axes : matplotlib.axes.Axes, optional
    Draw there; ``None``: a new figure.""",
    "output_file": """output_file : path-like, optional
    Save the figure there (written atomically).""",
    "dpi": """dpi : int
    Resolution of ``output_file``.""",
    "returns_figure": """Returns
-------
matplotlib.figure.Figure""",
}
"""Entry name -> its text, unindented (continuation lines indented by four)."""

_KEY_LINE = re.compile(r"^([ \t]*)%\((\w+)\)s[ \t]*$", flags=re.MULTILINE)
T = TypeVar("T", bound=Callable)


def _indented(match: re.Match) -> str:
    indent, key = match.groups()
    return "\n".join(indent + line if line else "" for line in DOCS[key].splitlines())


def fill_doc(obj: T) -> T:
    """Fill the ``%(key)s`` lines of ``obj.__doc__`` from :data:`DOCS` and return ``obj``."""
    if obj.__doc__:                                  # None under python -OO
        obj.__doc__ = _KEY_LINE.sub(_indented, obj.__doc__)
    return obj
