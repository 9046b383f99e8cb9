"""Shared docstring sections (neuroattn._docs): filled, indented, and none left unfilled."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

import neuroattn
from neuroattn._docs import DOCS, fill_doc

UNFILLED = re.compile(r"^[ \t]*%\(\w+\)s[ \t]*$", re.MULTILINE)


def test_entries_are_indented_like_their_line():
    @fill_doc
    class Reader:
        """Read.

        Parameters
        ----------
        %(verbose)s
        """

    lines = Reader.__doc__.splitlines()
    start = lines.index("        verbose : bool, str, int or None")
    body = DOCS["verbose"].splitlines()
    assert lines[start:start + len(body)] == ["        " + line for line in body]


def test_an_unknown_key_fails_when_decorating():
    def f():
        """%(no_such_entry)s"""

    with pytest.raises(KeyError, match="no_such_entry"):
        fill_doc(f)


def test_no_docstring_in_the_package_is_left_unfilled():
    unfilled = []
    for info in pkgutil.walk_packages(neuroattn.__path__, "neuroattn."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        objects = [module, *(v for _, v in inspect.getmembers(module)
                             if getattr(v, "__module__", None) == info.name)]
        objects += [m for o in objects if inspect.isclass(o) for m in vars(o).values()]
        for obj in objects:
            doc = getattr(inspect.unwrap(obj) if callable(obj) else obj, "__doc__", None)
            if isinstance(doc, str) and UNFILLED.search(doc):
                unfilled.append(f"{info.name}: {getattr(obj, '__qualname__', obj)}")
    assert not unfilled, "add @fill_doc to: " + ", ".join(unfilled)
