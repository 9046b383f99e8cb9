"""The base classes of every error neuroattn raises on purpose.

An expected failure (bad input, a damaged file, a setting that cannot work)
raises a subclass of :class:`NeuroattnError` whose message names the problem
and says how to fix it. The command-line tools print such errors on one line
and exit with status 2; anything else is a bug and keeps its traceback.

Each subclass also derives from the built-in class that code written before
this base existed caught (``ValueError``, ``RuntimeError``, ...), so
``except ValueError`` keeps working.

Examples
--------
>>> from neuroattn.errors import NeuroattnError, FormatError
>>> from neuroattn.store.errors import CorruptStoreError
>>> issubclass(CorruptStoreError, NeuroattnError), issubclass(FormatError, ValueError)
(True, True)
>>> issubclass(InputNotFoundError, FileNotFoundError)
True
"""

from __future__ import annotations


class NeuroattnError(Exception):
    """Base class of every deliberate neuroattn error (catch this one)."""


class FormatError(NeuroattnError, ValueError):
    """A file or folder (a dataset, a weights file) that does not have the documented layout."""


class ParameterError(NeuroattnError, ValueError):
    """A parameter value that cannot work with this input (an unknown channel, subject, ...)."""


class InputNotFoundError(NeuroattnError, FileNotFoundError):
    """An input file or folder that does not exist, or lacks a file it must hold."""


class DestinationExistsError(NeuroattnError, FileExistsError):
    """The destination of a write exists already, or another writer published it first."""
