"""Errors raised when a store is missing, malformed or damaged.

Every message names the problem and says how to fix it. All errors derive
from :class:`StoreError` (a ``ValueError``), so ``except StoreError`` catches
them all. A write refused because its destination exists (or another writer
published there first) raises :class:`DestinationExistsError` instead, a
``FileExistsError`` shared by every atomic writer of the package.
"""

from __future__ import annotations

from neuroattn.errors import DestinationExistsError, NeuroattnError

__all__ = ["CorruptStoreError", "DestinationExistsError", "IncompleteStoreError",
           "NonFiniteError", "NotAStoreError", "SchemaError", "StoreChangedError", "StoreError"]


class StoreError(NeuroattnError, ValueError):
    """Base class of all store problems."""


class NotAStoreError(StoreError):
    """The path does not exist, or is not a zarr v3 store."""


class SchemaError(StoreError):
    """A dimension, coordinate, attribute or dtype does not match the schema."""


class NonFiniteError(StoreError):
    """The data hold NaN or Inf."""


class CorruptStoreError(StoreError):
    """A chunk or metadata file is missing or cannot be decoded."""


class IncompleteStoreError(StoreError):
    """The store was never finished (an interrupted write or append)."""


class StoreChangedError(StoreError):
    """The store was replaced (overwritten) after it was opened: reopen it."""
