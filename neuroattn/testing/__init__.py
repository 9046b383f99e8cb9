"""Shipped check suites that other code (tests, benchmarks, users) can run.

:mod:`neuroattn.testing.faults` is a fault-injection suite, in the spirit of
``sklearn.utils.estimator_checks``: it damages stores, files, checkpoints and
command lines on purpose and classifies what neuroattn does about it.

Examples
--------
>>> from neuroattn.testing import all_cases
>>> len(all_cases()) >= 150
True
"""

from neuroattn.testing.fault_matrix import all_cases, run_matrix
from neuroattn.testing.faults import (
    OUTCOMES,
    CaseContext,
    CaseResult,
    Expected,
    FaultCase,
    SharedFixtures,
    run_case,
)

__all__ = ["OUTCOMES", "CaseContext", "CaseResult", "Expected", "FaultCase", "SharedFixtures",
           "all_cases", "run_case", "run_matrix"]
