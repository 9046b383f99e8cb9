"""Prepare recordings for the models: resample, pick channels, stream into a store.

Three ideas live here, shared by every converter:

* :func:`resample_signal` changes the sampling rate with an anti-aliasing
  polyphase filter, and :func:`iter_resampled_blocks` does the same block by
  block, so a recording far larger than memory can be resampled; the blocks
  join without seams.
* :func:`select_channels` decides which channels to keep: no bad ones, the
  requested ones, and at most ``max_channels`` contiguous ones.
* :func:`write_ieeg_stream` reads a recording through a ``read(start, stop)``
  callback and writes an iEEG store chunk by chunk (atomically), resampling on
  the way. :func:`resample_store` applies it to an existing store.

Converters report input they convert but do not trust (a truncated file, a
missing sidecar) with :func:`warn_conversion`: a :class:`ConversionWarning`
that names the file, also logged.

Examples
--------
>>> import numpy as np
>>> from neuroattn.datasets.prepare import resample_signal, select_channels
>>> resample_signal(np.zeros((3, 512)), 512.0, 500.0).shape
(3, 500)
>>> select_channels(["A1", "A2", "A3"], [False, True, False])
[0, 2]
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from neuroattn._docs import fill_doc
from neuroattn._logging import Verbose, logger, use_log_level
from neuroattn.errors import DestinationExistsError, ParameterError
from neuroattn.progress import progress

#: Largest up- or down-sampling factor of the polyphase filter. Rates whose exact
#: ratio needs larger factors are approximated (and a warning gives the drift).
MAX_FACTOR = 4096
#: Half-length of scipy's default ``resample_poly`` filter, in units of max(up, down).
_HALF_LEN = 10
#: Target size of a store chunk (as :func:`neuroattn.store.write_store` uses).
_CHUNK_MB = 8.0
# Attrs a stream rewrites itself, or that are parameters of the writer.
_RESERVED_ATTRS = {"sfreq", "annotations", "data", "ch_names", "ch_types", "positions",
                   "bad", "t0", "neuroattn_kind", "neuroattn_schema", "neuroattn_status",
                   "neuroattn_generation"}

ReadFn = Callable[[int, int], np.ndarray]


class ConversionWarning(UserWarning):
    """Input that a converter converts but cannot fully trust (e.g. a missing sidecar).

    Silence one kind with ``warnings.filterwarnings("ignore", category=ConversionWarning)``
    only after checking the data it names.
    """


def warn_conversion(message: str, *, stacklevel: int = 3) -> None:
    """Warn with :class:`ConversionWarning` and log the same message.

    Parameters
    ----------
    message : str
        What is wrong with which file, and how to fix it.
    stacklevel : int
        Passed to :func:`warnings.warn`; the default points at the caller's caller.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_conversion("a.edf: a test warning; nothing to fix.")
    >>> caught[0].category.__name__, str(caught[0].message)
    ('ConversionWarning', 'a.edf: a test warning; nothing to fix.')
    """
    logger.warning("%s", message)
    warnings.warn(message, ConversionWarning, stacklevel=stacklevel)


def _check_rate(value: float, name: str) -> float:
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ParameterError(f"{name}={value} Hz is not a valid sampling rate; pass a positive "
                             "number.")
    return value


def _up_down(sfreq_in: float, sfreq_out: float) -> tuple[int, int]:
    """Integer factors with ``sfreq_in * up / down ≈ sfreq_out`` (exact when possible)."""
    sfreq_in = _check_rate(sfreq_in, "sfreq_in")
    sfreq_out = _check_rate(sfreq_out, "sfreq_out")
    exact = (Fraction(sfreq_out).limit_denominator(10**6)
             / Fraction(sfreq_in).limit_denominator(10**6))
    ratio = exact
    if max(ratio.numerator, ratio.denominator) > MAX_FACTOR:
        ratio = (ratio.limit_denominator(MAX_FACTOR) if ratio <= 1
                 else 1 / (1 / ratio).limit_denominator(MAX_FACTOR))
        effective = sfreq_in * ratio.numerator / ratio.denominator
        drift_ms = abs(effective / sfreq_out - 1) * 3600e3
        logger.warning(
            "Resampling %g Hz -> %g Hz needs factors above %d; using %d/%d (effective rate "
            "%.6f Hz, a timing drift of %.3g ms per hour). Pick a rate with a simpler ratio "
            "to %g Hz to avoid this.", sfreq_in, sfreq_out, MAX_FACTOR, ratio.numerator,
            ratio.denominator, effective, drift_ms, sfreq_in)
    return ratio.numerator, ratio.denominator


def resample_signal(
    x: np.ndarray, sfreq_in: float, sfreq_out: float, *, axis: int = -1
) -> np.ndarray:
    """Resample with an anti-aliasing polyphase filter (``scipy.signal.resample_poly``).

    The rate ratio is written as a fraction ``up / down`` (exact for the usual
    rates, e.g. 512 → 500 Hz is 125/128); the signal is upsampled by ``up``,
    low-pass filtered below the lower of the two Nyquist frequencies (a
    Kaiser-windowed FIR, scipy's default) and downsampled by ``down``. The
    output has ``ceil(n * up / down)`` samples and starts at the same time as
    the input (no delay). The gain stays within 0.25 % of 1 up to 80 % of the
    lower Nyquist frequency.

    The MVPFormer reference loader changes rates by plain linear interpolation
    between samples, without an anti-aliasing filter, so power above the new
    Nyquist frequency (spikes, high gamma, line-noise harmonics) folds back
    into the band the model sees. We deliberately differ and filter first; the
    price is a few samples of edge transient at the very start and end of a
    recording, where the filter sees zeros.

    Parameters
    ----------
    x : ndarray, shape (n_channels, n_times)
        Samples; time runs along ``axis`` (the last one by default).
    sfreq_in, sfreq_out : float
        Input and output sampling rates in Hz.
    axis : int
        The time axis.

    Returns
    -------
    ndarray
        The resampled signal, float64 for integer input, else the input's dtype
        (the computation itself is done in float64).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(1024) / 512.0
    >>> y = resample_signal(np.sin(2 * np.pi * 10 * t)[None], 512.0, 128.0)
    >>> y.shape, round(float(np.abs(y[0, 32:-32]).max()), 2)
    ((1, 256), 1.0)
    """
    from scipy.signal import resample_poly

    x = np.asarray(x)
    if x.ndim == 0 or x.shape[axis] == 0:
        raise ParameterError(f"Cannot resample an array of shape {x.shape}: it has no samples.")
    up, down = _up_down(sfreq_in, sfreq_out)
    out_dtype = x.dtype if x.dtype.kind == "f" else np.dtype("float64")
    if up == down:
        return x.astype(out_dtype, copy=True)
    y = resample_poly(x.astype(np.float64, copy=False), up, down, axis=axis)
    return y.astype(out_dtype, copy=False)


def _edge_pad(up: int, down: int) -> int:
    """Input samples of context each side of a block: the filter support, whole ``down``s."""
    support = math.ceil(_HALF_LEN * max(up, down) / up) + 2
    return math.ceil(support / down) * down


def iter_resampled_blocks(
    read: ReadFn,
    n_times: int,
    sfreq_in: float,
    sfreq_out: float | None,
    *,
    block_len: int,
) -> Iterator[np.ndarray]:
    """Yield a long recording resampled block by block, without seams.

    Each block is read with enough context on both sides to cover the
    anti-aliasing filter, resampled with :func:`resample_signal`'s filter, and
    cut back to its own output samples. Blocks start on multiples of the
    downsampling factor, so their outputs fall exactly on the output grid;
    concatenated, they equal a resample of the whole signal to rounding
    error.

    Parameters
    ----------
    read : callable
        ``read(start, stop)`` returns samples ``start:stop`` shaped
        ``(stop - start, n_channels)``.
    n_times : int
        Length of the recording in samples.
    sfreq_in, sfreq_out : float
        Sampling rates in Hz; ``sfreq_out=None`` (or equal rates) yields the
        blocks unchanged.
    block_len : int
        Input samples per block (rounded up to a multiple of the
        downsampling factor).

    Yields
    ------
    ndarray, shape (n_out, n_channels)
        Consecutive output blocks, float64 when resampled.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((1000, 2))
    >>> blocks = iter_resampled_blocks(lambda a, b: x[a:b], 1000, 250.0, 100.0, block_len=128)
    >>> y = np.concatenate(list(blocks))
    >>> bool(np.allclose(y, resample_signal(x, 250.0, 100.0, axis=0)))
    True
    """
    if n_times < 1:
        raise ParameterError("The recording has no samples.")
    block_len = max(1, int(block_len))
    if sfreq_out is None or float(sfreq_out) == float(sfreq_in):
        for start in range(0, n_times, block_len):
            yield read(start, min(start + block_len, n_times))
        return
    from scipy.signal import resample_poly

    up, down = _up_down(sfreq_in, sfreq_out)
    pad = _edge_pad(up, down)
    block_len = math.ceil(block_len / down) * down
    for start in range(0, n_times, block_len):
        stop = min(start + block_len, n_times)
        lo, hi = max(0, start - pad), min(n_times, stop + pad)
        x = np.asarray(read(lo, hi), dtype=np.float64)
        y = resample_poly(x, up, down, axis=0)
        first = (start - lo) * up // down  # lo and start are multiples of down (or lo == 0)
        end = math.ceil(stop * up / down) if stop == n_times else stop * up // down
        yield y[first:first + end - start * up // down]


def select_channels(
    ch_names: Sequence[str],
    bad: Sequence[bool] | None = None,
    *,
    max_channels: int | None = 128,
    channels: Sequence[str] | None = None,
) -> list[int]:
    """Indices of the channels to keep: good ones, requested ones, at most ``max_channels``.

    Channels marked bad are dropped (a requested bad channel too, with a
    warning). With ``channels``, only those names are kept, in recording
    order. If more than ``max_channels`` remain, the **first** ``max_channels``
    are kept: a contiguous run, because neighbouring contacts of a shaft sit
    next to each other in the recording order, and MVPA's channel-distance
    bias assumes that adjacency. A warning says how many were dropped and how
    to choose others.

    Parameters
    ----------
    ch_names : sequence of str
        All channel names, in recording order.
    bad : sequence of bool, optional
        Bad flag per channel.
    max_channels : int or None
        Upper bound on the kept channels (MVPFormer handles 128); ``None``
        keeps them all.
    channels : sequence of str, optional
        Names to keep (others are dropped).

    Returns
    -------
    list of int
        Sorted indices into ``ch_names``.

    Examples
    --------
    >>> names = [f"LA{i}" for i in range(1, 7)]
    >>> select_channels(names, [0, 0, 1, 0, 0, 0], max_channels=3)
    [0, 1, 3]
    >>> select_channels(names, channels=["LA5", "LA2"])
    [1, 4]
    """
    names = [str(c) for c in ch_names]
    flags = np.zeros(len(names), bool) if bad is None else np.asarray(bad, bool)
    if flags.shape != (len(names),):
        raise ParameterError(f"bad has {flags.size} flags for {len(names)} channels.")
    if max_channels is not None and int(max_channels) < 1:
        raise ParameterError(f"max_channels={max_channels}; pass a positive number or None.")
    keep = ~flags
    if channels is not None:
        if isinstance(channels, str):
            channels = [c.strip() for c in channels.split(",") if c.strip()]
        unknown = [c for c in channels if c not in names]
        if unknown:
            raise ParameterError(
                f"Channel(s) {unknown} are not in the recording; it has {len(names)} channels: "
                f"{names[:12]}{' ...' if len(names) > 12 else ''}. Check the spelling.")
        wanted = np.isin(names, list(channels))
        requested_bad = [n for n, w, b in zip(names, wanted, flags, strict=True) if w and b]
        if requested_bad:
            logger.warning("Requested channel(s) %s are marked bad and were dropped; clear "
                           "their bad flag in the source to keep them.", requested_bad)
        keep &= wanted
    index = [int(i) for i in np.flatnonzero(keep)]
    if not index:
        why = "every channel is marked bad" if channels is None else \
            "none of the requested channels is good"
        raise ParameterError(f"No channels left to keep: {why} ({len(names)} channels, "
                             f"{int(flags.sum())} bad).")
    if max_channels is not None and len(index) > max_channels:
        dropped = [names[i] for i in index[max_channels:]]
        logger.warning(
            "Keeping the first %d of %d usable channels (%s..%s, a contiguous run that keeps "
            "contact adjacency); dropped %d: %s%s. To choose others, pass channels=[...] "
            "(CLI: --channels A1,A2,...) or a larger max_channels (--max-channels).",
            max_channels, len(index), names[index[0]], names[index[max_channels - 1]],
            len(dropped), ", ".join(dropped[:8]), " ..." if len(dropped) > 8 else "")
        index = index[:max_channels]
    return index


def check_destination(dst: str | os.PathLike, overwrite: bool, *sources: Any) -> Path:
    """Fail early (before reading any data) on an existing or clashing destination."""
    dst = Path(dst)
    for src in sources:
        if src is not None and Path(src).resolve() == dst.resolve():
            raise ParameterError(f"The destination {dst} is the source; write to a new path.")
    if dst.exists() and not overwrite:
        raise DestinationExistsError(
            f"{dst} already exists; pass overwrite=True (CLI: --overwrite) to replace it.")
    return dst


@fill_doc
def write_ieeg_stream(
    read: ReadFn,
    n_times: int,
    sfreq: float,
    dst: str | os.PathLike,
    *,
    ch_names: Sequence[str],
    ch_types: str | Sequence[str] = "seeg",
    positions: np.ndarray | None = None,
    bad: Sequence[bool] | None = None,
    annotations: Mapping[str, Sequence] | None = None,
    attrs: Mapping[str, Any] | None = None,
    resample_to: float | None = None,
    block_len: int | None = None,
    dtype: str = "float32",
    overwrite: bool = False,
    desc: str = "converting",
) -> Path:
    """Write a recording read block by block into an iEEG store, optionally resampled.

    Memory stays bounded by a block (plus filter context) and a store chunk.
    The store is written under a hidden temporary name and renamed into place
    only when complete (:class:`neuroattn.store.IEEGStoreWriter`).

    Parameters
    ----------
    read : callable
        ``read(start, stop)`` returns samples shaped ``(stop - start, n_channels)``
        in ``attrs["units"]`` (volts by default).
    n_times : int
        Length of the recording in samples at ``sfreq``.
    sfreq : float
        Sampling rate of the recording in Hz.
    dst : path-like
        The store to write.
    ch_names, ch_types, positions, bad
        Per-channel metadata, as for :func:`neuroattn.store.ieeg_from_array`.
    annotations : dict, optional
        ``{"onset", "duration", "description"[, "ch_names"]}`` in seconds from
        the first sample (unchanged by resampling).
    attrs : dict, optional
        Extra store attrs (``units``, ``subject``, ...). With resampling,
        ``first_samp`` is rescaled and ``original_sfreq`` records the
        recording's rate.
    resample_to : float, optional
        Output rate in Hz (anti-aliased, see :func:`resample_signal`).
    block_len : int, optional
        Input samples per read; default about 60 s.
    dtype : str
        Sample dtype in the store.

    %(returns_dst)s

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from neuroattn.store import open_store
    >>> x = np.ones((1000, 2))
    >>> path = write_ieeg_stream(lambda a, b: x[a:b], 1000, 100.0,
    ...                          tempfile.mkdtemp() + "/s.zarr", ch_names=["A", "B"],
    ...                          resample_to=50.0, block_len=300)
    >>> ds = open_store(path)
    >>> ds.signal.shape, ds.attrs["sfreq"], ds.attrs["original_sfreq"]
    ((500, 2), 50.0, 100.0)
    """
    from neuroattn.store import IEEGStoreWriter

    sfreq = _check_rate(sfreq, "sfreq")
    out_sfreq = sfreq if resample_to is None else _check_rate(resample_to, "sfreq")
    extra = {k: v for k, v in (attrs or {}).items() if k not in _RESERVED_ATTRS}
    if out_sfreq != sfreq:
        extra.setdefault("original_sfreq", sfreq)
        if "first_samp" in extra:
            extra["first_samp"] = int(round(int(extra["first_samp"]) * out_sfreq / sfreq))
    if bad is not None:
        extra["bad"] = [bool(b) for b in bad]  # the writer passes attrs on to ieeg_from_array
    row_bytes = max(1, len(ch_names)) * np.dtype(dtype).itemsize
    chunk_s = max(1, int(_CHUNK_MB * 2**20 // row_bytes)) / out_sfreq
    block_len = int(block_len or max(1, round(60.0 * sfreq)))
    n_blocks = math.ceil(n_times / block_len)
    with IEEGStoreWriter(dst, list(ch_names), out_sfreq, ch_types=ch_types,
                         positions=positions, chunk_s=chunk_s, dtype=dtype, attrs=extra,
                         overwrite=overwrite) as writer:
        if annotations is not None:
            writer.set_annotations(annotations["onset"], annotations["duration"],
                                   annotations["description"], annotations.get("ch_names"))
        blocks = iter_resampled_blocks(read, n_times, sfreq, resample_to, block_len=block_len)
        for block in progress(blocks, desc=desc, total=n_blocks, unit="block"):
            writer.append(block)
    return Path(dst)


@fill_doc
def resample_store(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    sfreq: float,
    *,
    block_s: float = 60.0,
    overwrite: bool = False,
    verbose: Verbose = None,
) -> Path:
    """Stream an iEEG store into a new store at another sampling rate.

    The signal is resampled block by block (see :func:`iter_resampled_blocks`:
    block edges match a whole-signal resample to rounding error), so stores of
    any size work. Channels, channel types, bad flags, positions,
    annotations (seconds, unchanged) and attrs are kept; ``sfreq`` becomes the
    new rate and ``original_sfreq`` records the old one.

    Parameters
    ----------
    src : path-like
        An iEEG store.
    dst : path-like
        The new store (must differ from ``src``).
    sfreq : float
        New sampling rate in Hz.
    block_s : float
        Seconds of input per block (memory is about two blocks).
    %(overwrite_store)s

    %(returns_dst)s

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from neuroattn.store import ieeg_from_array, open_store, write_store
    >>> tmp = tempfile.mkdtemp()
    >>> ds = ieeg_from_array(np.zeros((1024, 3), "float32"), sfreq=512.0, bad=[0, 1, 0])
    >>> src = write_store(ds, tmp + "/a.zarr")
    >>> out = open_store(resample_store(src, tmp + "/b.zarr", 128.0))
    >>> out.signal.shape, out.attrs["sfreq"], out.bad.values.tolist()
    ((256, 3), 128.0, [False, True, False])
    """
    from neuroattn.store import open_store

    with use_log_level(verbose):
        dst = check_destination(dst, overwrite, src)
        ds = open_store(src, kind="ieeg", check="quick", chunks=None)
        sfreq_in = float(ds.attrs["sfreq"])
        signal = ds["signal"]
        positions = (np.stack([ds[c].values for c in ("x", "y", "z")], axis=1)
                     if all(c in ds.coords for c in ("x", "y", "z")) else None)
        bad = ds["bad"].values if "bad" in ds.coords else None
        path = write_ieeg_stream(
            lambda a, b: np.asarray(signal[a:b].values), int(ds.sizes["time"]), sfreq_in, dst,
            ch_names=[str(c) for c in ds["channel"].values],
            ch_types=[str(t) for t in ds["ch_type"].values], positions=positions, bad=bad,
            annotations=ds.attrs.get("annotations"), attrs=dict(ds.attrs), resample_to=sfreq,
            block_len=max(1, round(block_s * sfreq_in)), dtype=str(signal.dtype),
            overwrite=overwrite, desc="resampling")
        logger.info("resampled %s (%g Hz) -> %s (%g Hz)", src, sfreq_in, path, sfreq)
    return path
