"""The package logger and the ``verbose=`` convention.

Every module logs through ``logging.getLogger("neuroattn")``; library code
never prints. Public functions that talk take ``verbose`` (a level name, an
int, a bool or ``None`` to keep the current level).

Examples
--------
>>> from neuroattn._logging import logger, set_log_level, use_log_level
>>> set_log_level("INFO")
>>> with use_log_level("ERROR"):
...     logger.getEffectiveLevel()
40
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

from neuroattn.errors import ParameterError

logger = logging.getLogger("neuroattn")

Verbose = bool | int | str | None

if not logger.handlers:
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("%(levelname)s [neuroattn] %(message)s"))
    logger.addHandler(_handler)
    logger.setLevel(os.environ.get("NEUROATTN_LOG_LEVEL", "INFO").upper())


def _to_level(verbose: Verbose) -> int:
    if isinstance(verbose, bool):
        return logging.INFO if verbose else logging.WARNING
    if isinstance(verbose, int):
        return verbose
    if isinstance(verbose, str):
        level = logging.getLevelName(verbose.upper())
        if isinstance(level, int):
            return level
    raise ParameterError(
        f"verbose={verbose!r} is not a log level; use True/False, an int, "
        "or one of 'DEBUG', 'INFO', 'WARNING', 'ERROR'."
    )


def set_log_level(verbose: Verbose) -> None:
    """Set the level of the ``neuroattn`` logger (``None`` leaves it unchanged)."""
    if verbose is not None:
        logger.setLevel(_to_level(verbose))


@contextlib.contextmanager
def use_log_level(verbose: Verbose) -> Iterator[None]:
    """Temporarily set the package log level; ``None`` changes nothing."""
    old = logger.level
    set_log_level(verbose)
    try:
        yield
    finally:
        logger.setLevel(old)
