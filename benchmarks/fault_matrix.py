"""The fault matrix: every bad input and fault of neuroattn.testing.faults, and what happened.

Runs :func:`neuroattn.testing.faults.run_matrix` (stores with damaged arrays,
interrupted and racing writers, builders, converters on cut or foreign
files, checkpoints, configs, gaze readers, foveated weights, the resample
cache and the ``train_ieeg`` command line) and writes, per case, the
expected and the observed outcome, and the counts ``cases``, ``good``,
``silent``, ``data_loss`` and ``traceback``. The goal is
``silent == data_loss == traceback == 0``.

The counts are the result: the script always exits 0. ``--quick`` runs
every fourth case (every area at least once).

Usage::

    python benchmarks/fault_matrix.py --out fault_matrix.json [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections import Counter
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("NEUROATTN_PROGRESS", "off")

from neuroattn.reports import write_json  # noqa: E402
from neuroattn.testing.fault_matrix import all_cases, quick_subset, run_matrix  # noqa: E402
from neuroattn.testing.faults import OUTCOMES  # noqa: E402


def _progress(i: int, n: int, result) -> None:
    if result.observed != "good":
        print(f"[{i + 1:3d}/{n}] {result.observed:9s} {result.id}: {result.detail[:150]}",
              file=sys.stderr, flush=True)
    elif (i + 1) % 25 == 0 or i + 1 == n:
        print(f"[{i + 1:3d}/{n}]", file=sys.stderr, flush=True)


def summary_table(result: dict) -> str:
    """Counts per area and in all, then the cases that did not behave well."""
    per_area: dict[str, Counter] = {}
    for row in result["results"]:
        per_area.setdefault(row["area"], Counter())[row["observed"]] += 1
    header = f"{'area':12s} {'cases':>5s} " + " ".join(f"{name:>9s}" for name in OUTCOMES)
    lines = [header, "-" * len(header)]
    for area, counts in per_area.items():
        lines.append(f"{area:12s} {sum(counts.values()):5d} "
                     + " ".join(f"{counts[name]:9d}" for name in OUTCOMES))
    lines += ["-" * len(header), f"{'all':12s} {result['cases']:5d} "
              + " ".join(f"{result[name]:9d}" for name in OUTCOMES)]
    bad = [row for row in result["results"] if row["observed"] != "good"]
    if bad:
        lines += ["", "not good:"] + [f"  {row['observed']:9s} {row['id']}: {row['detail'][:160]}"
                                      for row in bad]
    lines.append(f"\n{result['cases']} cases in {result['seconds']:.0f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--quick", action="store_true",
                        help="every fourth case, every area at least once")
    parser.add_argument("--tmp", default=None,
                        help="keep the cases' files in this folder (default: a temporary one)")
    args = parser.parse_args(argv)
    cases = all_cases()
    if args.quick:
        cases = quick_subset(cases)
    result = run_matrix(cases, tmp_root=args.tmp, progress=_progress)
    record = {"benchmark": "fault_matrix", "quick": args.quick,
              "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                          "python": platform.python_version()},
              **result}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, record)
    print(summary_table(result))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
