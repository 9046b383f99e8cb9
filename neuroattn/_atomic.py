"""Atomic, exclusive publication of files and directories.

Work happens under a hidden temporary sibling; only a finished result is
renamed onto the destination, so an interrupted write never leaves a
half-written file or store where a complete one is expected. With
``overwrite=False`` the rename itself refuses an existing destination, so of
two writers racing for one path exactly one wins and the other gets
:class:`DestinationExistsError`.

Each temporary's name records the host and process that made it
(``.NAME.tmp-HOST-PID-RANDOM``). The next write of the same destination
removes the temporaries of writers that died on this host (e.g. a SIGKILL),
and puts back a previous version that an overwrite killed between its two
renames had moved aside.

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
import errno
import glob
import hashlib
import os
import re
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from neuroattn._logging import logger
from neuroattn.errors import DestinationExistsError

# A leftover whose name carries no owner (written before owners were recorded)
# counts as abandoned once it is this old.
UNOWNED_STALE_S = 3600.0
_EXISTS = (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR)
_LEFTOVER = re.compile(r"(?P<tag>[a-z]+)-(?:(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-)?[0-9a-f]{8}")
_RACE_ATTEMPTS = 100


def host_id() -> str:
    """A short id (8 hex digits) of this host and process-id namespace, for temporaries' names.

    Two containers may share a host name but not their process ids: the
    namespace keeps one from judging the other's writers dead.
    """
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:  # not Linux
        namespace = ""
    return hashlib.sha1(f"{socket.gethostname()}/{namespace}".encode()).hexdigest()[:8]


def temporary_sibling(dst: Path, tag: str = "tmp") -> Path:
    """A unique hidden path next to ``dst`` (same filesystem, so rename is atomic).

    Its name records this host and process, so a later write can tell whether
    the writer that left it is still alive.
    """
    return dst.with_name(f".{dst.name}.{tag}-{host_id()}-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def remove(path: Path) -> None:
    """Delete a file or directory tree if it exists."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)


@dataclass(frozen=True)
class Leftover:
    """A hidden temporary (``tag`` "tmp", ...) or moved-aside copy ("old") next to a destination."""

    path: Path
    tag: str
    host: str | None
    pid: int | None

    @property
    def abandoned(self) -> bool:
        """Its writer is dead: a process of this host that is gone, or no owner and old."""
        if self.host is None:
            return time.time() - _mtime(self.path) > UNOWNED_STALE_S
        return self.host == host_id() and not _alive(self.pid)


def _mtime(path: Path) -> float:
    try:
        return path.lstat().st_mtime
    except FileNotFoundError:  # removed meanwhile (by another cleaner)
        return time.time()


def _alive(pid: int | None) -> bool:
    if pid is None or os.name != "posix":  # signal 0 is a probe only on POSIX
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def leftovers(dst: str | os.PathLike) -> list[Leftover]:
    """The temporaries and moved-aside copies that writes of ``dst`` left next to it."""
    dst = Path(dst)
    prefix = f".{dst.name}."
    found = []
    for path in sorted(dst.parent.glob(glob.escape(prefix) + "*")):
        match = _LEFTOVER.fullmatch(path.name[len(prefix):])
        if match:
            pid = match["pid"]
            found.append(Leftover(path, match["tag"], match["host"],
                                  None if pid is None else int(pid)))
    return found


def clean_leftovers(dst: str | os.PathLike) -> None:
    """Remove what dead writers of ``dst`` left, restoring a version a killed overwrite moved aside.

    Only leftovers whose writer is dead are touched (see :attr:`Leftover.abandoned`).
    """
    dst = Path(dst)
    if not dst.parent.is_dir():
        return
    dead = [item for item in leftovers(dst) if item.abandoned]
    aside = sorted((item for item in dead if item.tag == "old"), key=lambda i: _mtime(i.path))
    if aside and not (dst.exists() or dst.is_symlink()) and _restore(aside[-1].path, dst):
        dead.remove(aside[-1])
    for item in dead:
        remove(item.path)
        logger.warning("removed %s, left by an interrupted write of %s (its writer, process "
                       "%s, is gone)", item.path, dst, "unknown" if item.pid is None else item.pid)


def _restore(aside: Path, dst: Path) -> bool:
    """Rename a moved-aside version back to ``dst``; False if ``dst`` reappeared meanwhile."""
    try:
        os.rename(aside, dst)
    except FileNotFoundError:  # another cleaner restored it first
        return True
    except OSError as err:
        if err.errno not in _EXISTS:
            raise
        return False  # a new version was published meanwhile: the old one can go
    logger.warning("restored %s from %s: an overwrite of it was interrupted between moving the "
                   "old version aside and publishing the new one", dst, aside)
    return True


def prepare_destination(dst: str | os.PathLike, *, overwrite: bool) -> Path:
    """Clean up after dead writers; refuse an existing ``dst`` unless ``overwrite``.

    Also creates the parent folder of ``dst``.

    Raises
    ------
    DestinationExistsError
        ``dst`` exists and ``overwrite`` is False.
    """
    dst = Path(dst)
    clean_leftovers(dst)
    if not overwrite and (dst.exists() or dst.is_symlink()):
        raise DestinationExistsError(
            f"{dst} already exists: nothing was written; pass overwrite=True to replace it, "
            "or choose another path.")
    dst.parent.mkdir(parents=True, exist_ok=True)
    return dst


@contextlib.contextmanager
def atomic_path(dst: str | os.PathLike, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path; on success move it onto ``dst``.

    Works for files and directories. On error the temporary path is removed
    and ``dst`` is left untouched. An existing ``dst`` is replaced only after
    the new one is complete. ``overwrite=False`` refuses a ``dst`` that exists
    on entry or that another writer published meanwhile
    (:class:`DestinationExistsError`; the temporary is removed).
    """
    dst = prepare_destination(dst, overwrite=overwrite)
    tmp = temporary_sibling(dst)
    try:
        yield tmp
    except BaseException:
        remove(tmp)
        raise
    publish(tmp, dst, overwrite=overwrite)


def publish(tmp: Path, dst: Path, *, overwrite: bool = True) -> None:
    """Rename a finished ``tmp`` onto ``dst``.

    With ``overwrite=True`` whatever is at ``dst`` is replaced (a directory is
    moved aside first and deleted once the new one is in place; of two
    writers, the last one wins). With ``overwrite=False`` the rename refuses
    an existing ``dst``.

    Raises
    ------
    DestinationExistsError
        ``overwrite=False`` and ``dst`` exists; ``tmp`` has been removed.
    """
    tmp, dst = Path(tmp), Path(dst)
    if not overwrite:
        _publish_new(tmp, dst)
    elif tmp.is_dir():
        _replace_dir(tmp, dst)
    else:
        os.replace(tmp, dst)


def _publish_new(tmp: Path, dst: Path) -> None:
    """Rename ``tmp`` to ``dst`` only if nothing is there (a hard link for files)."""
    try:
        if dst.exists() or dst.is_symlink():
            raise FileExistsError(errno.EEXIST, "exists", str(dst))
        if tmp.is_dir():
            os.rename(tmp, dst)  # refuses a file or a non-empty directory at dst
        else:
            os.link(tmp, dst)  # refuses anything at dst
            tmp.unlink()
    except OSError as err:
        if err.errno not in _EXISTS:
            raise
        remove(tmp)
        raise DestinationExistsError(
            f"{dst} appeared while this write was running (another writer published it "
            "first): it was kept and this write was discarded; pass overwrite=True to "
            "replace it, or choose another path.") from None


def _move_aside(dst: Path) -> Path | None:
    """Rename ``dst`` to a hidden ``old`` sibling; None when nothing (any more) is there."""
    trash = temporary_sibling(dst, "old")
    try:
        os.replace(dst, trash)
    except FileNotFoundError:
        return None
    return trash


def _replace_dir(tmp: Path, dst: Path) -> None:
    """Publish a directory over whatever is at ``dst``, retrying if another writer interferes."""
    trash: list[Path] = []
    for _ in range(_RACE_ATTEMPTS):
        if dst.exists() or dst.is_symlink():
            moved = _move_aside(dst)
            if moved is not None:
                trash.append(moved)
        try:
            os.rename(tmp, dst)
        except OSError as err:
            if err.errno not in _EXISTS:
                raise
            continue  # another writer published in between: move that aside too
        for old in trash:
            remove(old)
        return
    raise DestinationExistsError(
        f"{dst} kept being replaced by other writers ({_RACE_ATTEMPTS} attempts); this write "
        f"was left at {tmp}. Make sure one process writes {dst.name} at a time, then rerun.")
