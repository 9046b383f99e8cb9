"""The run directory of ``train_ieeg``: what a run owns, and ``--overwrite`` done atomically.

``--overwrite`` moves the previous run out of the way (a hidden sibling
``.<name>.replaced-<id>``) before the new run starts, so nothing of it (a
``best.pt``, an ``evaluation.json``) can be taken for the new run's. The
previous run is deleted only once the new one has finished; if the new run
fails, the previous one is put back, and the failed run's files, if any, are
kept in ``<name>.failed-<id>``. A SIGKILL leaves the previous run in its
hidden sibling, and the next run on that directory says so.

Examples
--------
>>> import pathlib, tempfile
>>> from neuroattn.train_ieeg.rundir import replacing_run
>>> out = pathlib.Path(tempfile.mkdtemp()) / "run"
>>> out.mkdir(); _ = (out / "best.pt").write_text("old")
>>> with replacing_run(out):
...     _ = (out / "last.pt").write_text("new")
>>> sorted(p.name for p in out.iterdir())
['last.pt']
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from neuroattn._atomic import remove
from neuroattn._logging import logger
from neuroattn.config import ConfigError
from neuroattn.training import distributed

#: What a run writes in its directory (``cache`` is carried over by ``--overwrite``).
RUN_FILES = frozenset({
    "config.yaml", "metrics.jsonl", "metrics.csv", "tensorboard", "last.pt", "last.prev.pt",
    "best.pt", "model", "operating_point.json", "evaluation.json", "evaluation.txt",
    "predictions.csv", "figures", "szcore", "cache"})
#: Entries that survive ``--overwrite``: resampled copies, checked against their source on reuse.
CARRIED = ("cache",)


def _owned(name: str) -> bool:
    """A run's file, or a temporary left by an interrupted atomic write of one."""
    return name in RUN_FILES or any(name.startswith(f".{f}.") for f in RUN_FILES)


def replaced_runs(out_dir: Path) -> list[Path]:
    """Previous runs that an interrupted ``--overwrite`` of ``out_dir`` left beside it."""
    return sorted(out_dir.parent.glob(f".{out_dir.name}.replaced-*"))


def warn_replaced_runs(out_dir: Path) -> None:
    """Log a warning for each previous run that an interrupted ``--overwrite`` left behind."""
    for path in replaced_runs(out_dir):
        logger.warning("%s holds the run that an interrupted --overwrite of %s moved aside: "
                       "delete it, or move it back to %s if you want that run.", path, out_dir,
                       out_dir)


def _move_aside(out_dir: Path) -> Path:
    foreign = sorted(p.name for p in out_dir.iterdir() if not _owned(p.name))
    if foreign:
        raise ConfigError(
            f"--overwrite would delete {out_dir}, but it holds files that no run wrote "
            f"({', '.join(foreign[:5])}{' ...' if len(foreign) > 5 else ''}); move them out, "
            "or pick another --out-dir.")
    aside = out_dir.with_name(f".{out_dir.name}.replaced-{uuid.uuid4().hex[:8]}")
    os.replace(out_dir, aside)
    out_dir.mkdir()
    for name in CARRIED:
        if (aside / name).exists():
            os.replace(aside / name, out_dir / name)
    logger.info("--overwrite: the previous run in %s is moved to %s until the new run has "
                "finished", out_dir, aside)
    return aside


def _put_back(out_dir: Path, aside: Path) -> None:
    for name in CARRIED:
        if (out_dir / name).exists() and not (aside / name).exists():
            os.replace(out_dir / name, aside / name)
    failed = None
    if out_dir.exists() and any(out_dir.iterdir()):
        failed = out_dir.with_name(f"{out_dir.name}.failed-{aside.name.rsplit('-', 1)[-1]}")
        os.replace(out_dir, failed)
    elif out_dir.exists():
        out_dir.rmdir()
    os.replace(aside, out_dir)
    logger.error("--overwrite: the new run failed, so the previous run is back in %s%s.",
                 out_dir, "" if failed is None else
                 f"; the failed run's files are in {failed} (delete them when done)")


@contextlib.contextmanager
def replacing_run(out_dir: str | os.PathLike) -> Iterator[None]:
    """Run the body in an emptied ``out_dir``; the previous run goes only if the body succeeds.

    Only rank 0 moves files (the other ranks wait for it). The resampling
    cache (``cache/``) is carried over: its entries are checked against their
    sources on reuse. A directory holding files that no run wrote is refused
    (:class:`~neuroattn.config.ConfigError`), so a mistyped ``--out-dir`` never
    deletes them.
    """
    out_dir = Path(out_dir)
    aside = None
    if distributed.is_main() and out_dir.is_dir() and any(out_dir.iterdir()):
        aside = _move_aside(out_dir)
    distributed.barrier()
    try:
        yield
    except BaseException:
        if aside is not None:
            _put_back(out_dir, aside)
        raise
    if aside is not None:
        remove(aside)
        logger.info("--overwrite: deleted the previous run (%s)", aside)
