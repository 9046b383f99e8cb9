#!/usr/bin/env bash
# One GPU run that measures everything of issue 17 (part G) in under 8 minutes.
#   bash benchmarks/gpu_suite.sh                    # on a CUDA machine: benchmarks/results/gpu/
#   bash benchmarks/gpu_suite.sh --dry-run --out DIR  # the same sequence on the CPU, toy sizes
# Every step has its own timeout and the suite goes on after a failure; see
# benchmarks/gpu_suite.py for the steps. PYTHON picks the interpreter (default: python).
set -u
cd "$(dirname "$0")/.."
exec "${PYTHON:-python}" benchmarks/gpu_suite.py "$@"
