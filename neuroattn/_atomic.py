"""Atomic publication of files and directories.

Work happens under a hidden temporary sibling; only a finished result is
renamed onto the destination, so an interrupted write never leaves a
half-written file or store where a complete one is expected.

Examples
--------
>>> import pathlib, tempfile
>>> from neuroattn._atomic import atomic_path
>>> dst = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
>>> with atomic_path(dst) as tmp:
...     _ = tmp.write_text("done")
>>> dst.read_text()
'done'
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path


def temporary_sibling(dst: Path, tag: str = "tmp") -> Path:
    """A unique hidden path next to ``dst`` (same filesystem, so rename is atomic)."""
    return dst.with_name(f".{dst.name}.{tag}-{uuid.uuid4().hex[:8]}")


def remove(path: Path) -> None:
    """Delete a file or directory tree if it exists."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


@contextlib.contextmanager
def atomic_path(dst: str | os.PathLike, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path; on success move it onto ``dst``.

    Works for files and directories. On error the temporary path is removed
    and ``dst`` is left untouched. An existing ``dst`` is replaced only after
    the new one is complete (``overwrite=False`` refuses instead).
    """
    dst = Path(dst)
    if dst.exists() and not overwrite:
        raise FileExistsError(f"{dst} exists; pass overwrite=True to replace it.")
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(dst)
    try:
        yield tmp
    except BaseException:
        remove(tmp)
        raise
    publish(tmp, dst)


def publish(tmp: Path, dst: Path) -> None:
    """Rename a finished ``tmp`` onto ``dst``, replacing what was there."""
    if tmp.is_dir() and dst.exists():
        # Directories cannot be renamed over a non-empty target: move the old
        # one aside first, publish, then delete it.
        trash = temporary_sibling(dst, "old")
        os.replace(dst, trash)
        os.replace(tmp, dst)
        remove(trash)
    else:
        os.replace(tmp, dst)
