"""Reads that notice a store replaced under them, and refuse missing chunks.

zarr reads chunks by path, so a reader that opened a store before it was
overwritten would read the new store's chunks (and fill values past its end)
without noticing, and it turns any missing chunk into fill values.
:class:`CheckedStore` is the read-only zarr store that :func:`open_store` and
:class:`~neuroattn.store.IEEGWindows` read through: after every chunk read
it checks that the store is still the one that was opened (a ``stat`` of its
``zarr.json``; the generation stamp in the root attrs when that changed) and
that the chunk was there.

Examples
--------
>>> import tempfile, numpy as np, zarr
>>> from neuroattn.store import ieeg_from_array, write_store
>>> path = write_store(ieeg_from_array(np.ones((10, 2), "float32"), 10.0),
...                    tempfile.mkdtemp() + "/r.zarr")
>>> store = CheckedStore(path, generation=read_generation(path))
>>> float(zarr.open_array(store, path="signal", mode="r")[:].sum())
20.0
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from zarr.abc.store import ByteRequest
from zarr.core.buffer import Buffer, BufferPrototype
from zarr.storage import LocalStore

from neuroattn.store.errors import CorruptStoreError, StoreChangedError
from neuroattn.store.schema import GENERATION_ATTR

_METADATA = {"zarr.json", ".zarray", ".zgroup", ".zattrs", ".zmetadata"}


def read_generation(root: str | os.PathLike) -> str | None:
    """The generation stamp of the store at ``root`` (None for stores written before stamps).

    Raises
    ------
    StoreChangedError
        ``root`` holds no readable ``zarr.json`` (it is being replaced, or was removed).
    """
    try:
        meta = json.loads((Path(root) / "zarr.json").read_bytes())
    except (OSError, ValueError) as err:
        raise StoreChangedError(
            f"{root} was removed or replaced while it was being read ({type(err).__name__}: "
            f"{err}); reopen it once its writer has finished.") from err
    value = meta.get("attributes", {}).get(GENERATION_ATTR)
    return None if value is None else str(value)


def chunk_of(key: str) -> tuple[str, str] | None:
    """``(array, "c/i/j")`` for a chunk key such as ``"signal/c/3/0"``; None for metadata keys."""
    parts = key.split("/")
    if parts[-1] in _METADATA or "c" not in parts:
        return None
    at = parts.index("c")
    return "/".join(parts[:at]), "/".join(parts[at:])


class CheckedStore(LocalStore):
    """A read-only :class:`zarr.storage.LocalStore` that checks every chunk it reads.

    Parameters
    ----------
    root : path-like
        The store directory.
    generation : str or None
        The generation stamp of the store as it was opened (see
        :func:`read_generation`).

    Raises
    ------
    StoreChangedError
        On construction, or after a chunk read, when ``root`` no longer holds
        that generation.
    CorruptStoreError
        When a chunk is missing (zarr would return fill values instead).
    """

    def __init__(self, root: str | os.PathLike, *, generation: str | None,
                 read_only: bool = True) -> None:
        super().__init__(Path(root), read_only=read_only)
        self.generation = generation
        self._seen = self._stat()
        if read_generation(self.root) != generation:
            raise self._changed("before it could be read")

    def with_read_only(self, read_only: bool = False) -> CheckedStore:
        """The same store, read-only or not (what zarr calls when it opens one)."""
        store = type(self)(self.root, generation=self.generation, read_only=read_only)
        store._seen = self._seen
        return store

    def _stat(self) -> tuple[int, int, int]:
        try:
            st = os.stat(self.root / "zarr.json")
        except OSError:
            return (-1, -1, -1)
        return st.st_ino, st.st_mtime_ns, st.st_size

    def _changed(self, detail: str) -> StoreChangedError:
        return StoreChangedError(
            f"{self.root} was overwritten after it was opened ({detail}); reopen it "
            "(open_store, or a new IEEGWindows) to read the new store.")

    def verify(self, key: str, found: bool) -> None:
        """Raise if the store was replaced since it was opened, or if chunk ``key`` is missing."""
        seen = self._stat()
        if seen != self._seen:  # zarr.json changed: compare the stamps
            replaced = read_generation(self.root) != self.generation or (
                self.generation is None and seen[0] != self._seen[0])
            if replaced:
                raise self._changed(f"chunk {key} was read from the new store")
            self._seen = seen
        if not found:
            array, chunk = chunk_of(key)
            raise CorruptStoreError(
                f"{self.root}: chunk {chunk} of {array!r} is missing. Files were deleted or a "
                "copy was incomplete; copy the store again or re-create it.")

    async def get(self, key: str, prototype: BufferPrototype | None = None,
                  byte_range: ByteRequest | None = None) -> Buffer | None:
        """Read ``key``; for a chunk, check the store's generation and that the chunk exists."""
        value = await super().get(key, prototype, byte_range)
        if chunk_of(key) is not None:
            self.verify(key, value is not None)
        return value
