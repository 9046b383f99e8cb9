"""Stream extracted features into ``features`` stores (behind :meth:`FeatureExtractor.to_store`).

The store skeleton (metadata, ``stimulus`` coordinate, attrs) is written by
xarray from a lazy template, so its layout is exactly that of
:func:`neuroattn.store.write_store`; the data are then written batch by batch
into their regions with zarr, in this process or on dask workers. A chunk
holds whole stimuli and never straddles two batches, so parallel writers
never touch the same chunk.

Examples
--------
>>> from neuroattn.encoding._feature_store import chunk_rows
>>> chunk_rows(batch_size=32, row_bytes=31 * 31 * 768 * 4, chunk_mb=8.0)  # DINOv2-B, 434 px
2
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from neuroattn._atomic import publish, remove, temporary_sibling
from neuroattn._logging import Verbose, logger, use_log_level
from neuroattn.errors import ParameterError
from neuroattn.progress import progress

if TYPE_CHECKING:
    from distributed import Client

DIMS = ("stimulus", "y", "x", "feature")


class Extractor(Protocol):
    """What a store writer needs of :class:`~neuroattn.encoding.features.FeatureExtractor`."""

    name: str
    batch_size: int
    transform: Any
    prefix_tokens: int | None

    @property
    def layers(self) -> list[str]: ...

    def extract(self, images: Any, layers: Sequence[str] | None = None
                ) -> dict[str, np.ndarray]: ...


def chunk_rows(batch_size: int, row_bytes: int, chunk_mb: float) -> int:
    """Stimuli per chunk: the largest divisor of ``batch_size`` within ``chunk_mb`` MB (>= 1)."""
    limit = max(1, int(chunk_mb * 2**20 // max(row_bytes, 1)))
    return max(d for d in range(1, batch_size + 1) if batch_size % d == 0 and d <= limit)


class _Stimuli:
    """Holds the image source so that dask scatters it as one object."""

    def __init__(self, images: Any) -> None:
        self.images = images


def _targets(fx: Extractor, path: Any, layer: str | None) -> dict[str, Path]:
    if isinstance(path, Mapping):
        if layer is not None:
            raise ParameterError("Pass either layer= with one path, or path={layer: path}, not "
                                 "both.")
        if not path:
            raise ParameterError("path={} names no layer to store.")
        unknown = [k for k in path if k not in fx.layers]
        if unknown:
            raise ParameterError(f"Layers {unknown} are not recorded by this extractor "
                                 f"(it records {fx.layers}).")
        targets = {k: Path(p).absolute() for k, p in path.items()}
    else:
        if layer is None:
            if len(fx.layers) != 1:
                raise ParameterError(f"The extractor records {len(fx.layers)} layers {fx.layers}; "
                                     "pass layer=... or path={layer: path, ...}.")
            layer = fx.layers[0]
        elif layer not in fx.layers:
            raise ParameterError(f"layer={layer!r} is not recorded by this extractor "
                                 f"(it records {fx.layers}).")
        targets = {layer: Path(path).absolute()}
    if len(set(targets.values())) != len(targets):
        raise ParameterError("Two layers were given the same store path.")
    return targets


def _stimulus_ids(stimulus: Sequence | np.ndarray | None, n: int) -> np.ndarray:
    ids = np.arange(n) if stimulus is None else np.asarray(stimulus)
    if ids.shape != (n,):
        raise ParameterError(f"Got stimulus ids of shape {ids.shape} for {n} images.")
    uniq, counts = np.unique(ids.astype(str), return_counts=True)
    if (counts > 1).any():
        raise ParameterError(f"Stimulus ids {uniq[counts > 1][:5].tolist()} are repeated; every "
                             "stimulus needs a unique id.")
    return ids.astype(object) if ids.dtype.kind == "U" else ids


def _create(tmp: Path, n: int, sample: tuple[int, ...], dtype: np.dtype, chunk: int,
            ids: np.ndarray, attrs: dict[str, Any]) -> None:
    """Write the metadata and coordinates of an empty features store (status "writing")."""
    import dask.array as da
    import xarray as xr

    from neuroattn.store.schema import (
        KIND_ATTR,
        SCHEMA_VERSION,
        STATUS_ATTR,
        VERSION_ATTR,
        validate_metadata,
    )

    chunks = (chunk, *sample)
    data = da.zeros((n, *sample), dtype=dtype, chunks=chunks)
    ds = xr.Dataset({"features": (DIMS, data)}, coords={"stimulus": ("stimulus", ids)},
                    attrs=attrs)
    validate_metadata(ds, "features")  # e.g. duplicate stimulus ids, before any work
    ds.attrs.update({KIND_ATTR: "features", VERSION_ATTR: SCHEMA_VERSION, STATUS_ATTR: "writing"})
    ds.to_zarr(tmp, mode="w", zarr_format=3, consolidated=False, compute=False,
               encoding={"features": {"chunks": chunks}}, write_empty_chunks=True)


def _write(feats: dict[str, np.ndarray], tmps: Mapping[str, str], start: int,
           dtype: str) -> None:
    """Check one batch of features for NaN/Inf and write it into its region of each store."""
    import zarr

    from neuroattn.store.errors import NonFiniteError

    for key, arr in feats.items():
        bad = ~np.isfinite(arr)
        if bad.any():
            first = start + int(np.argwhere(bad)[0][0])
            raise NonFiniteError(
                f"Layer {key!r} gives NaN or Inf features for stimulus index {first} "
                f"({int(bad.any(axis=(1, 2, 3)).sum())} stimuli in this batch). Check the "
                "weights and the images, or use precision='32'.")
        target = zarr.open_array(str(Path(tmps[key]) / "features"), mode="r+",
                                 config={"write_empty_chunks": True})
        target[start:start + arr.shape[0]] = arr.astype(dtype, copy=False)


def _extract(fx: Extractor, stimuli: _Stimuli, start: int, stop: int,
             keys: Sequence[str]) -> dict[str, np.ndarray]:
    return fx.extract(stimuli.images[start:stop], keys)


def _extract_write(fx: Extractor, stimuli: _Stimuli, start: int, stop: int,
                   tmps: dict[str, str], dtype: str) -> int:
    """One dask task: extract a batch and write it; returns the number of stimuli."""
    _write(_extract(fx, stimuli, start, stop, list(tmps)), tmps, start, dtype)
    return stop - start


def extract_to_store(
    fx: Extractor,
    images: Any,
    path: str | os.PathLike | Mapping[str, str | os.PathLike],
    *,
    layer: str | None = None,
    stimulus: Sequence | np.ndarray | None = None,
    overwrite: bool = False,
    client: Client | None = None,
    dtype: str = "float32",
    chunk_mb: float = 8.0,
    verbose: Verbose = None,
) -> Path | dict[str, Path]:
    """Implementation of :meth:`FeatureExtractor.to_store` (documented there)."""
    from neuroattn.store.io import open_store
    from neuroattn.store.schema import STATUS_ATTR

    targets = _targets(fx, path, layer)
    if np.dtype(dtype).kind != "f":
        raise ParameterError(f"dtype={dtype!r} must be a float dtype (feature stores hold floats).")
    for dst in targets.values():
        if dst.exists() and not overwrite:
            raise FileExistsError(f"{dst} already exists; pass overwrite=True to replace it, or "
                                  "pick a new path.")
    try:
        n = len(images)
    except TypeError:
        raise TypeError(f"images must support len() and slicing (an array or a list); got "
                        f"{type(images).__name__}.") from None
    if n == 0:
        raise ParameterError("No images were given.")
    ids = _stimulus_ids(stimulus, n)
    bs = fx.batch_size
    bounds = [(i, min(i + bs, n)) for i in range(0, n, bs)]
    tmps = {k: temporary_sibling(p, "writing") for k, p in targets.items()}
    tmp_str = {k: str(p) for k, p in tmps.items()}
    keys = list(targets)
    with use_log_level(verbose):
        for dst in targets.values():
            dst.parent.mkdir(parents=True, exist_ok=True)
        futures: list = []
        try:
            with progress(total=n, desc=f"features {fx.name}", unit="img") as bar:
                if isinstance(images, list | tuple):  # workers may run in another directory
                    images = [Path(x).absolute() if isinstance(x, str | os.PathLike) else x
                              for x in images]
                stimuli = _Stimuli(images)
                if client is not None:
                    fx_remote = client.scatter(fx, hash=False)
                    stimuli_remote = client.scatter(stimuli, hash=False)
                    first = client.submit(_extract, fx_remote, stimuli_remote, *bounds[0], keys,
                                          pure=False).result()
                else:
                    first = _extract(fx, stimuli, *bounds[0], keys)
                for key, arr in first.items():
                    sample = arr.shape[1:]
                    row_bytes = int(np.prod(sample)) * np.dtype(dtype).itemsize
                    attrs = {"source": f"{fx.name}:{key}", "layer": key, "model": fx.name,
                             "transform": repr(fx.transform)}
                    if fx.prefix_tokens is not None:
                        attrs["prefix_tokens"] = int(fx.prefix_tokens)
                    _create(tmps[key], n, sample, np.dtype(dtype),
                            chunk_rows(bs, row_bytes, chunk_mb), ids, attrs)
                    logger.debug("%s: %d x %s features -> %s", key, n, sample, targets[key])
                _write(first, tmp_str, 0, dtype)
                bar.update(bounds[0][1])
                rest = bounds[1:]
                if client is not None and rest:
                    from distributed import as_completed

                    futures = [client.submit(_extract_write, fx_remote, stimuli_remote, i, j,
                                             tmp_str, dtype, pure=False) for i, j in rest]
                    for fut in as_completed(futures):
                        bar.update(fut.result())
                else:
                    for i, j in rest:
                        _write(_extract(fx, stimuli, i, j, keys), tmp_str, i, dtype)
                        bar.update(j - i)
            import zarr

            for key, tmp in tmps.items():
                zarr.open_group(tmp, mode="r+").attrs[STATUS_ATTR] = "complete"
                publish(tmp, targets[key])
        except BaseException:
            if futures and client is not None:
                client.cancel(futures)
            for tmp in tmps.values():
                remove(tmp)
            raise
        for key, dst in targets.items():
            open_store(dst, kind="features", check="quick")
            logger.info("wrote features of %s (%d stimuli) to %s", key, n, dst)
    if isinstance(path, Mapping):
        return {k: Path(p) for k, p in path.items()}
    return Path(path)
