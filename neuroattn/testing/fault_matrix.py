"""The fault matrix: every case of the family modules, run and counted.

The cases live in ``faults_store``, ``faults_builders``, ``faults_data`` (with
``faults_convert``) and ``faults_train``; :mod:`neuroattn.testing.faults`
defines what a case is and how its outcome is classified.

Examples
--------
>>> from neuroattn.testing.fault_matrix import all_cases, quick_subset
>>> cases = all_cases()
>>> len(cases) >= 150, len({c.area for c in quick_subset(cases)}) == len({c.area for c in cases})
(True, True)
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from neuroattn.testing import faults_builders, faults_data, faults_store, faults_train
from neuroattn.testing.faults import OUTCOMES, CaseResult, FaultCase, run_case
from neuroattn.testing.faults_fixtures import SharedFixtures

__all__ = ["all_cases", "quick_subset", "run_matrix"]


def all_cases() -> list[FaultCase]:
    """Every case of the matrix, in a fixed order (ids are unique)."""
    return [*faults_store.cases(), *faults_builders.cases(), *faults_data.cases(),
            *faults_train.cases()]


def quick_subset(cases: Sequence[FaultCase], every: int = 4) -> list[FaultCase]:
    """Every ``every``-th case, plus the first case of any area that would be left out."""
    chosen = {c.id for c in cases[::every]}
    areas = {c.area for c in cases if c.id in chosen}
    for c in cases:
        if c.area not in areas:
            chosen.add(c.id)
            areas.add(c.area)
    return [c for c in cases if c.id in chosen]


def run_matrix(cases: Sequence[FaultCase] | None = None, tmp_root: str | Path | None = None,
               progress: Callable[[int, int, CaseResult], None] | None = None,
               ) -> dict[str, Any]:
    """Run cases (default: :func:`all_cases`) and count the outcomes.

    Parameters
    ----------
    cases : sequence of FaultCase, optional
    tmp_root : path-like, optional
        Where each case gets its directory (and the shared fixtures theirs);
        default a temporary directory, deleted at the end.
    progress : callable, optional
        Called as ``progress(i, n, result)`` after each case.

    Returns
    -------
    dict
        ``cases``, ``good``, ``silent``, ``data_loss``, ``traceback``,
        ``seconds`` and ``results`` (one dict per case: ``id``, ``area``,
        ``description``, ``expected``, ``observed``, ``detail``, ``seconds``).
    """
    cases = list(all_cases() if cases is None else cases)
    own = tmp_root is None
    root = Path(tempfile.mkdtemp(prefix="neuroattn-faults-") if own else tmp_root)
    shared = SharedFixtures(root / "_shared")
    start = time.perf_counter()
    results = []
    try:
        for i, case in enumerate(cases):
            result = run_case(case, root / case.id, shared=shared)
            results.append(result.to_dict())
            if progress is not None:
                progress(i, len(cases), result)
    finally:
        if own:
            shutil.rmtree(root, ignore_errors=True)
    counts = {name: sum(r["observed"] == name for r in results) for name in OUTCOMES}
    return {"cases": len(results), **counts, "seconds": round(time.perf_counter() - start, 1),
            "results": results}
