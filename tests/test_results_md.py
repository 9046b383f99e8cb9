"""Every figure in a benchmark table of RESULTS.md or the README is in the JSON file it cites.

A table row is *tagged* when its last cell is a code span naming a file of
``benchmarks/results/``, ```store_cpu2.json``` (or, with a ``/``, a path from the
repository root, such as an analysis's results), optionally scoped to one part of it with
dot-separated keys, ```mvpa_cpu2.json:results.64```. Every number in the row's other
cells must equal a number of that file (or of that part, or a numeric key on the way to it)
at the precision it is displayed with:
``4.33`` matches 4.3303 (half a unit of the last digit), ``2.1e-5`` matches 2.13e-5,
``2620`` or ``40,600`` match 2619.9 or 40,640 (trailing zeros of an integer may be
rounding), ``100 %`` matches 1.0, and a value may be shown in a unit a factor of 1000 or
a million away (seconds as ms, bytes as MB). Targets in parentheses (``(≥ 0.7)``,
``(target ≥ 4 on CPU: not met)``) and code spans (``--quick``) are not figures and are
skipped. Dictionary keys that are numbers (``results.64``) count as values.

A table whose header ends in a ``JSON`` column must have every row tagged, so a row
without a file cannot pass for benchmark output.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "benchmarks" / "results"
DOCUMENTS = [ROOT / "benchmarks" / "RESULTS.md", ROOT / "README.md"]
TAG = re.compile(r"^`([\w./-]+\.json)(?::([\w.@-]+))?`$")
TARGET = re.compile(r"\([^()]*(?:≥|≤|\btarget\b)[^()]*\)")
FIGURE = re.compile(r"(?<![\w.@])([-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:e[-+]?\d+)?)"
                    r"(?![\w.]*\w)(\s?%)?")
SCALES = (1.0, 1e3, 1e-3, 1e-6)


def figures(cell: str) -> list[tuple[str, bool]]:
    """The figures of a table cell as displayed, each with whether it is a percentage.

    >>> figures("**0.94** (≥ 0.7)"), figures("`--quick` (3,000 targets)"), figures("51×")
    ([('0.94', False)], [('3,000', False)], [('51', False)])
    >>> figures("100 %"), figures("1.25 / 18.8 MB"), figures("2.1e-5 (preds up to 9.4)")
    ([('100', True)], [('1.25', False), ('18.8', False)], [('2.1e-5', False), ('9.4', False)])
    """
    cell = re.sub(r"`[^`]*`", " ", cell)
    cell = TARGET.sub(" ", cell.replace("**", ""))
    return [(m.group(1), bool(m.group(2))) for m in FIGURE.finditer(cell)]


def tolerances(shown: str) -> tuple[float, list[float]]:
    """The value a displayed figure stands for and every half-unit it may be rounded to.

    >>> tolerances("4.33"), tolerances("2620"), tolerances("2.1e-5")[1]
    ((4.33, [0.005]), (2620.0, [0.5, 5.0]), [5e-07])
    """
    text = shown.replace(",", "").replace("−", "-")
    mantissa, _, exponent = text.partition("e")
    power = int(exponent or 0)
    if "." in mantissa:
        return float(text), [0.5 * 10.0 ** (power - len(mantissa.split(".")[1]))]
    digits = mantissa.lstrip("-")
    zeros = len(digits) - len(digits.rstrip("0")) if digits.strip("0") else 0
    return float(text), [0.5 * 10.0 ** (power + k) for k in range(zeros + 1)]


def json_values(data) -> list[float]:
    """Every number in a JSON document, numeric dictionary keys included."""
    out: list[float] = []
    if isinstance(data, dict):
        for key, value in data.items():
            try:
                out.append(float(key))
            except ValueError:
                pass
            out += json_values(value)
    elif isinstance(data, list):
        for value in data:
            out += json_values(value)
    elif isinstance(data, (int, float)) and not isinstance(data, bool):
        out.append(float(data))
    return out


def with_derived(data: dict) -> dict:
    """Add the figures a table shows that a benchmark stores per case, not in total.

    ``fault_matrix.py`` stores one record per case; its table shows the counts per
    area, under ``per_area.<area>`` (``cases`` and one count per outcome).
    """
    if data.get("benchmark") == "fault_matrix":
        per_area: dict[str, Counter] = {}
        for row in data["results"]:
            per_area.setdefault(row["area"], Counter())[row["observed"]] += 1
        data = {**data, "per_area": {
            area: {"cases": sum(c.values()), **{o: c[o] for o in ("good", "silent",
                                                                    "data_loss",
                                                                    "traceback")}}
            for area, c in per_area.items()}}
    return data


def scoped_values(data, scope: str | None) -> list[float]:
    """The numbers of the part of ``data`` at ``scope``, with the numeric keys leading there.

    >>> scoped_values({"results": {"64": {"ms": 3.5}}}, "results.64")
    [3.5, 64.0]
    """
    keys = scope.split(".") if scope else []
    for key in keys:
        data = data[key]
    return json_values(data) + json_values(dict.fromkeys(keys))


def matches(shown: str, percent: bool, values: list[float]) -> bool:
    """Whether a displayed figure equals one of ``values`` at its displayed precision.

    >>> matches("0.35", False, [0.3470]), matches("4.6", False, [4.3303])
    (True, False)
    >>> matches("100", True, [1.0]), matches("682", False, [682.37])
    (True, True)
    >>> matches("18.8", False, [1.88e7])   # bytes shown as MB
    True
    """
    figure, tols = tolerances(shown)
    factors = (1.0, 100.0) if percent else SCALES
    return any(abs(figure - v * f) <= tol * (1 + 1e-9) + 1e-300
               for v in values for f in factors for tol in tols)


def table_rows(path: Path) -> list[tuple[int, list[str], list[str]]]:
    """``(line, header cells, row cells)`` of every body row of every table in ``path``."""
    rows, header = [], None
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
        elif not all(re.fullmatch(r":?-+:?", c) for c in cells):
            rows.append((number, header, cells))
    return rows


def tagged_rows():
    for path in DOCUMENTS:
        for line, header, cells in table_rows(path):
            tag = TAG.match(cells[-1])
            if tag or header[-1] == "JSON":
                yield pytest.param(path, line, header, cells, id=f"{path.name}:{line}")


def test_documents_tag_their_benchmark_rows():
    counts = Counter(p.values[0].name for p in tagged_rows())
    assert counts["RESULTS.md"] >= 25 and counts["README.md"] >= 10, counts


@pytest.mark.parametrize(("path", "line", "header", "cells"), list(tagged_rows()))
def test_tagged_row_matches_its_json(path, line, header, cells):
    tag = TAG.match(cells[-1])
    assert tag, f"{path.name}:{line}: a row of a table with a JSON column names no file"
    file = (ROOT if "/" in tag.group(1) else RESULTS_DIR) / tag.group(1)
    assert file.is_file(), f"{path.name}:{line}: {file} does not exist"
    values = scoped_values(with_derived(json.loads(file.read_text())), tag.group(2))
    shown = [(col, f) for col, cell in zip(header[:-1], cells[:-1], strict=True)
             for f in figures(cell)]
    assert shown, f"{path.name}:{line}: a tagged row with no figure"
    wrong = [f"{col!r}: {f}{' %' if pct else ''}" for col, (f, pct) in shown
             if not matches(f, pct, values)]
    assert not wrong, (f"{path.name}:{line}: not in {cells[-1]} at the displayed precision: "
                       + "; ".join(wrong))
