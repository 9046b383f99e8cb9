"""A fault-injection matrix: bad inputs and damaged files, and what neuroattn does about them.

Each :class:`FaultCase` builds its inputs in a fresh directory, breaks one
thing (a deleted chunk, a truncated EDF, a flag set to ``nan``, a second
writer on the same path, ...) and runs the library or a command line on
it. :func:`run_case` classifies what happened into exactly one of
:data:`OUTCOMES`:

``"good"``
    The expected outcome: a :class:`~neuroattn.errors.NeuroattnError` whose
    message holds one of the expected fragments (a file, an array, a flag);
    or the expected warning; or, for a command line, exit status 2 with an
    ``error:`` line and no traceback; or, where the input is fine, success
    with the right data.
``"silent"``
    No error and no warning although the input was bad, or wrong data or
    the wrong model used without a word.
``"data_loss"``
    Data the user had (a store, a run, a checkpoint, another writer's
    output) is gone or altered.
``"traceback"``
    An exception that is not a ``NeuroattnError``, a command line that ends
    in a traceback or an exit status other than 0 and 2, or an error whose
    words miss the point (wrong class, no fragment of the expected message).

The expected outcome of every case is the target behaviour (issue 19), not
necessarily what the code does today. :func:`run_matrix` runs them all;
``benchmarks/fault_matrix.py`` writes the result as JSON.

Examples
--------
>>> import tempfile
>>> from neuroattn.testing.faults import Expected, FaultCase, run_case
>>> def refuse_zero(ctx):
...     from neuroattn.store import ieeg_from_array
...     ieeg_from_array([[0.0]], sfreq=0.0)
>>> case = FaultCase("demo.sfreq-0", "demo", "sfreq=0", Expected.error("sfreq"), refuse_zero)
>>> run_case(case, tempfile.mkdtemp()).observed
'good'
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import re
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from neuroattn.errors import NeuroattnError
from neuroattn.testing.faults_fixtures import SharedFixtures

#: The four outcome classes, best first.
OUTCOMES = ("good", "silent", "data_loss", "traceback")
_ACCEPTS = frozenset({"error", "warning", "success"})
#: Wording that sends the user to an older checkpoint (misleading where none is kept).
PROMISES_PREVIOUS = re.compile(r"\b(use|load|fall back to|restore|resume from) (the )?previous",
                               re.IGNORECASE)


class Silent(Exception):
    """Raised by a case's own checks: bad input accepted, or wrong data used, without a word."""


class Lost(Exception):
    """Raised by a case's own checks: data the user had is gone or altered."""


class Unhelpful(Exception):
    """Raised by a case's own checks: an error whose words mislead (counted as a traceback)."""


@dataclass(frozen=True)
class Expected:
    """What a case should end in (see the ``error``, ``warning`` and ``success`` constructors).

    Parameters
    ----------
    accept : frozenset of {"error", "warning", "success"}
        The acceptable outcomes. An error must be a ``error_class`` (for a
        command line: exit 2 with ``error:``); a warning is one of
        neuroattn's (``warnings.warn`` from neuroattn code or a WARNING on the
        ``neuroattn`` logger); success means the case's own checks passed.
    fragments : tuple of str
        The error or warning must contain one of them (any case); none: any.
    error_class : type
        The class the error must be an instance of.
    also : tuple of str
        Fragments that must all appear as well (e.g. the file and the channel).
    """

    accept: frozenset[str]
    fragments: tuple[str, ...] = ()
    error_class: type[BaseException] = NeuroattnError
    also: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.accept or not self.accept <= _ACCEPTS:
            raise ValueError(f"accept={set(self.accept)} must be a non-empty subset of "
                             f"{sorted(_ACCEPTS)}.")
        if not issubclass(self.error_class, NeuroattnError):
            raise ValueError(f"error_class {self.error_class.__name__} is not a NeuroattnError.")

    @classmethod
    def error(cls, *fragments: str, error_class: type[BaseException] = NeuroattnError,
              or_success: bool = False, or_warning: bool = False,
              also: tuple[str, ...] = ()) -> Expected:
        """A neuroattn error (exit 2 on a command line) holding one of ``fragments``."""
        accept = {"error"} | ({"success"} if or_success else set()) | (
            {"warning"} if or_warning else set())
        return cls(frozenset(accept), tuple(fragments), error_class, tuple(also))

    @classmethod
    def warning(cls, *fragments: str, or_error: bool = False,
                also: tuple[str, ...] = ()) -> Expected:
        """Success with a neuroattn warning holding one of ``fragments``."""
        return cls(frozenset({"warning"} | ({"error"} if or_error else set())), tuple(fragments),
                   also=tuple(also))

    @classmethod
    def success(cls) -> Expected:
        """Success, with the case's own checks of the result passing."""
        return cls(frozenset({"success"}))

    def describe(self) -> str:
        """One line for reports, e.g. ``StoreError mentioning 'bad'``."""
        words = "|".join(repr(f) for f in self.fragments) + "".join(
            f" and {a!r}" for a in self.also)
        parts = []
        if "error" in self.accept:
            parts.append(f"{self.error_class.__name__} / exit 2"
                         + (f" mentioning {words}" if words else ""))
        if "warning" in self.accept:
            parts.append("a warning" + (f" mentioning {words}" if words else ""))
        if "success" in self.accept:
            parts.append("success with the right data")
        return " or ".join(parts)


@dataclass(frozen=True)
class FaultCase:
    """One fault: ``run(ctx)`` builds inputs under ``ctx.tmp``, breaks them and acts.

    ``run`` may return anything; it raises :class:`Silent`, :class:`Lost` or
    :class:`Unhelpful` when its own checks of the result fail, and protects
    the user's data with :meth:`CaseContext.protect` before the faulty step.
    """

    id: str
    area: str
    description: str
    expected: Expected
    run: Callable[[CaseContext], Any] = field(repr=False)


@dataclass
class CaseResult:
    """The observed outcome of one case."""

    id: str
    area: str
    description: str
    expected: str
    observed: str
    detail: str
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CliResult:
    """Exit status and output of a command line run in-process."""

    rc: int
    stdout: str
    stderr: str


def _fingerprint(path: Path) -> Any:
    """Content hashes of a file, or of every file under a directory (None if absent)."""
    if path.is_file():
        return hashlib.sha1(path.read_bytes()).hexdigest()
    if path.is_dir():
        return sorted((str(p.relative_to(path)), hashlib.sha1(p.read_bytes()).hexdigest())
                      for p in path.rglob("*") if p.is_file())
    return None


class CaseContext:
    """What a case gets: its own directory, the shared fixtures and a few helpers."""

    def __init__(self, tmp: Path, shared: SharedFixtures) -> None:
        self.tmp = tmp
        self.shared = shared
        self.cli_result: CliResult | None = None
        self._protected: dict[Path, Any] = {}

    def protect(self, path: str | Path) -> Path:
        """Remember ``path``'s content now; if it changes, the case lost data."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"cannot protect {path}: it does not exist")
        self._protected[path] = _fingerprint(path)
        return path

    def lost(self) -> list[str]:
        """The protected paths that are gone or altered."""
        out = []
        for path, before in self._protected.items():
            after = _fingerprint(path)
            if after != before:
                name = path.relative_to(self.tmp) if path.is_relative_to(self.tmp) else path
                out.append(f"{name} was {'removed' if after is None else 'altered'}")
        return out

    def cli(self, main: Callable[[list[str]], int | None], argv: Sequence[str]) -> CliResult:
        """Run a command line's ``main(argv)`` in-process, as ``python -m`` would."""
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main([str(a) for a in argv])
            except SystemExit as exit_:
                rc = exit_.code
                if not isinstance(rc, int | None):  # SystemExit("message"): printed, status 1
                    print(rc, file=err)
                    rc = 1
            except Exception:  # what the interpreter would print
                traceback.print_exc(file=err)
                rc = 1
        self.cli_result = CliResult(int(rc or 0), out.getvalue(), err.getvalue())
        return self.cli_result


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _matches(text: str, expected: Expected) -> bool:
    """``text`` holds one of the expected fragments and every ``also`` fragment."""
    text = text.lower()
    return (not expected.fragments or any(f.lower() in text for f in expected.fragments)) \
        and all(a.lower() in text for a in expected.also)


def _wanted(expected: Expected) -> str:
    return str(list(expected.fragments)) + (f" and all of {list(expected.also)}"
                                            if expected.also else "")


class _Capture(logging.Handler):
    """Collects neuroattn log records at WARNING and above."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _ours(record: warnings.WarningMessage) -> bool:
    """A warning issued from neuroattn's code, or by neuroattn's warning classes."""
    return ("site-packages" not in record.filename or "neuroattn" in record.filename
            or type(record.message).__module__.startswith("neuroattn"))


@contextlib.contextmanager
def _captured() -> Iterator[tuple[list[warnings.WarningMessage], _Capture]]:
    """Record warnings and neuroattn log warnings; silence output; restore the logger."""
    from neuroattn._logging import logger

    handler, level, handlers = _Capture(), logger.level, list(logger.handlers)
    for h in handlers:
        logger.removeHandler(h)
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    sink = io.StringIO()
    try:
        with warnings.catch_warnings(record=True) as records, \
                contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            warnings.simplefilter("always")
            yield records, handler
    finally:
        logger.removeHandler(handler)
        for h in handlers:
            logger.addHandler(h)
        logger.setLevel(level)


def classify(expected: Expected, *, exc: BaseException | None, cli: CliResult | None,
             warned: Sequence[str], lost: Sequence[str]) -> tuple[str, str]:
    """The outcome class of one run and a one-line detail (see the module docstring)."""
    if lost or isinstance(exc, Lost):
        return "data_loss", "; ".join(lost) or str(exc)
    if isinstance(exc, Unhelpful):
        return "traceback", f"misleading: {exc}"
    if isinstance(exc, Silent):
        return "silent", str(exc)
    if exc is not None:
        return _classify_error(expected, exc)
    if cli is not None and cli.rc != 0:
        return _classify_exit(expected, cli)
    return _classify_success(expected, warned)


def _classify_error(expected: Expected, exc: BaseException) -> tuple[str, str]:
    text = f"{type(exc).__name__}: {exc}"
    if not isinstance(exc, NeuroattnError):
        return "traceback", f"raw {text}"[:400]
    if not isinstance(exc, expected.error_class):
        return "traceback", f"wrong class (want {expected.error_class.__name__}): {text}"[:400]
    if "error" not in expected.accept:
        return "traceback", f"refused: {text}"[:400]
    if not _matches(str(exc), expected):
        return "traceback", f"message lacks {_wanted(expected)}: {text}"[:400]
    return "good", text[:400]


def _classify_exit(expected: Expected, cli: CliResult) -> tuple[str, str]:
    line = _last_line(cli.stderr)
    if "Traceback" in cli.stderr or cli.rc != 2:
        return "traceback", f"exit {cli.rc}: {line}"
    if "error:" not in cli.stderr:
        return "traceback", f"exit 2 without an 'error:' line: {line}"
    if "error" not in expected.accept:
        return "traceback", f"refused (exit 2): {line}"
    if not _matches(cli.stderr, expected):
        return "traceback", f"exit 2, message lacks {_wanted(expected)}: {line}"
    return "good", f"exit 2: {line}"


def _classify_success(expected: Expected, warned: Sequence[str]) -> tuple[str, str]:
    hits = [w for w in warned if _matches(w, expected)]
    if "warning" in expected.accept and hits:
        return "good", f"warned: {hits[0][:300]}"
    if "success" in expected.accept:
        return "good", "succeeded; checks passed"
    if warned:
        return "silent", f"no error; only the warning: {warned[0][:300]}"
    return "silent", "no error and no warning"


def run_case(case: FaultCase, tmp_dir: str | Path, *,
             shared: SharedFixtures | None = None) -> CaseResult:
    """Run one case in ``tmp_dir`` and classify its outcome.

    Parameters
    ----------
    case : FaultCase
    tmp_dir : path-like
        An empty directory for the case's files (created if missing).
    shared : SharedFixtures, optional
        Lazily built fixtures (stores, a tiny trained run) shared by cases;
        default: one set per process, in a temporary directory.

    Returns
    -------
    CaseResult
    """
    tmp = Path(tmp_dir)
    tmp.mkdir(parents=True, exist_ok=True)
    ctx = CaseContext(tmp, shared if shared is not None else _default_shared())
    start = time.perf_counter()
    exc: BaseException | None = None
    with _captured() as (records, handler):
        try:
            case.run(ctx)
        except KeyboardInterrupt:
            raise
        except BaseException as err:  # SystemExit from library code counts too
            exc = err
    warned = [str(r.message) for r in records if _ours(r)] + handler.messages
    observed, detail = classify(case.expected, exc=exc, cli=ctx.cli_result, warned=warned,
                                lost=ctx.lost())
    return CaseResult(case.id, case.area, case.description, case.expected.describe(),
                      observed, " ".join(detail.split()), time.perf_counter() - start)


_DEFAULT: list[SharedFixtures] = []


def _default_shared() -> SharedFixtures:
    if not _DEFAULT:
        _DEFAULT.append(SharedFixtures(Path(tempfile.mkdtemp(prefix="neuroattn-faults-"))))
    return _DEFAULT[0]
