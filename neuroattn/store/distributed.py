"""Run dask computations over stores on a distributed cluster; chunked iEEG preprocessing.

:func:`client` gives a :class:`distributed.Client` on a fresh
:class:`distributed.LocalCluster` by default, or on any running scheduler
whose address you pass (a Slurm cluster from ``dask-jobqueue`` has one:
``SLURMCluster(...).scheduler_address``). :func:`compute` evaluates dask
collections on such a client, and :func:`preprocess_ieeg` band-passes and
rescales a whole iEEG store chunk by chunk on it.

``distributed`` is optional: ``pip install 'neuroattn[distributed]'``.

With ``processes=True`` (the default) workers are separate processes started
with ``spawn``; in a script, start the cluster under
``if __name__ == "__main__":``.

Examples
--------
>>> from neuroattn.store.distributed import filter_overlap
>>> filter_overlap(256.0, l_freq=0.5) / 256.0  # seconds of context per chunk side
10.85546875
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import dask
import dask.array as da
import numpy as np
import zarr
from scipy import signal as sps

from neuroattn._atomic import prepare_destination, remove, temporary_sibling
from neuroattn._docs import fill_doc
from neuroattn._logging import Verbose, logger, use_log_level
from neuroattn.errors import ParameterError
from neuroattn.store.io import open_store, write_store

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["client", "compute", "filter_overlap", "preprocess_ieeg"]

_INSTALL_HINT = "pip install 'neuroattn[distributed]'"

#: Relative L1 tail of the impulse response left beyond the overlap (see filter_overlap).
OVERLAP_TOL = 1e-6
#: Lower bound of the overlap, in cycles of the lowest cut-off frequency.
MIN_OVERLAP_CYCLES = 3.0
#: Working memory allowed per filtering task (float64 copies included).
_BLOCK_BYTES = 256 * 2**20
#: Memory per task when computing quantiles (one column of samples per channel).
_QUANTILE_BYTES = 64 * 2**20
#: 2 * Phi^-1(0.75): the IQR of a standard normal distribution.
IQR_TO_STD = 1.3489795003921634

Scale = Literal["robust", "zscore"] | None


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as err:
        raise ImportError(
            "Running on a dask cluster needs the optional dependency 'distributed' "
            f"(and 'dask-jobqueue' for Slurm); install them with: {_INSTALL_HINT}"
        ) from err
    return distributed


@contextlib.contextmanager
def _connect(
    address: Any = None,
    *,
    n_workers: int | None = None,
    threads_per_worker: int = 1,
    processes: bool = True,
    **cluster_kwargs: Any,
) -> Iterator[Client]:
    distributed = _import_distributed()
    if isinstance(address, distributed.Client):
        if n_workers is not None or cluster_kwargs:
            raise ParameterError("n_workers and cluster options cannot be applied to an existing "
                                 "Client; pass them only when starting a LocalCluster.")
        yield address
        return
    if address is not None:
        if n_workers is not None or cluster_kwargs:
            raise ParameterError(
                f"n_workers / {sorted(cluster_kwargs)} only apply when neuroattn starts a "
                "LocalCluster; they cannot be used with a scheduler address."
            )
        address = getattr(address, "scheduler_address", address)  # a Cluster object
        if not isinstance(address, str):
            raise TypeError(
                f"address must be a scheduler address such as 'tcp://host:8786', a cluster "
                f"or a distributed.Client; got {type(address).__name__}."
            )
        cl = distributed.Client(address)
        logger.info("connected to dask scheduler %s", address)
        try:
            yield cl
        finally:
            cl.close()  # never the cluster: we did not start it
        return
    cluster_kwargs.setdefault("dashboard_address", ":0")
    cluster_kwargs.setdefault("silence_logs", logging.WARNING)
    quiet = cluster_kwargs["silence_logs"]
    if quiet is True:
        quiet = cluster_kwargs["silence_logs"] = logging.WARNING
    with contextlib.ExitStack() as stack:
        if quiet:  # in-process workers and the scheduler log through this logger too
            stack.enter_context(_logger_level("distributed", quiet))
        cluster = stack.enter_context(distributed.LocalCluster(
            n_workers=n_workers, threads_per_worker=threads_per_worker, processes=processes,
            **cluster_kwargs))
        cl = stack.enter_context(distributed.Client(cluster))
        logger.info("started a LocalCluster with %d worker(s) (%s)",
                    len(cluster.workers), "processes" if processes else "threads")
        yield cl


@contextlib.contextmanager
def _logger_level(name: str, level: int | str) -> Iterator[None]:
    log = logging.getLogger(name)
    old = log.level
    log.setLevel(level if isinstance(level, int) else level.upper())
    try:
        yield
    finally:
        log.setLevel(old)


@contextlib.contextmanager
def client(
    address: str | Client | None = None,
    *,
    n_workers: int | None = None,
    threads_per_worker: int = 1,
    processes: bool = True,
    **cluster_kwargs: Any,
) -> Iterator[Client]:
    """A dask :class:`distributed.Client`, on a new local cluster or on a running scheduler.

    Inside the ``with`` block the client is the default one, so plain
    ``dask.compute`` / ``.compute()`` calls run on its cluster.

    Parameters
    ----------
    address : str, Client or cluster, optional
        ``None`` (default): start a :class:`distributed.LocalCluster`, and close
        it and the client on exit. A scheduler address (``"tcp://host:8786"``,
        or the ``scheduler_address`` of a running cluster such as a
        ``dask_jobqueue.SLURMCluster``; a cluster object also works): connect
        to it, and on exit close only the client, never the cluster. A
        :class:`distributed.Client`: yield it unchanged and close nothing.
    n_workers : int, optional
        Local workers (default: chosen by dask from the CPU count).
    threads_per_worker : int
        Threads per local worker. The default 1 suits the GIL-bound, NumPy/SciPy
        work done here.
    processes : bool
        Local workers as processes (default, real parallelism) or as threads in
        this process (starts in milliseconds; good for small jobs and tests).
    **cluster_kwargs
        More :class:`distributed.LocalCluster` options (``memory_limit``...).
        The dashboard goes on a free port (``dashboard_address=":0"``) and
        cluster logs are silenced to WARNING unless you pass otherwise.

    Yields
    ------
    distributed.Client

    Raises
    ------
    ImportError
        If ``distributed`` is not installed (``pip install 'neuroattn[distributed]'``).
    ValueError
        If cluster options are passed together with an address or a client.

    Examples
    --------
    Slurm, with ``dask-jobqueue`` (not run here)::

        from dask_jobqueue import SLURMCluster
        cluster = SLURMCluster(cores=8, memory="32GB", walltime="02:00:00")
        cluster.scale(jobs=4)
        with client(cluster.scheduler_address) as c:  # the cluster stays up
            preprocess_ieeg("rec.zarr", "rec_bp.zarr", client=c)

    A local, thread-based cluster (the suite's one cluster-starting doctest
    is in :func:`preprocess_ieeg`; this one is exercised by the tests):

    >>> import dask.array as da
    >>> with client(processes=False, n_workers=1) as c:  # doctest: +SKIP
    ...     n_workers = len(c.scheduler_info()["workers"])
    ...     total = int(da.ones(10, chunks=5).sum().compute())  # runs on the cluster
    ...     with client(c) as again:  # a Client is passed through, not closed
    ...         same = again is c
    >>> n_workers, total, same, c.status  # doctest: +SKIP
    (1, 10, True, 'closed')
    """
    with _connect(address, n_workers=n_workers, threads_per_worker=threads_per_worker,
                  processes=processes, **cluster_kwargs) as cl:
        yield cl


def _pick(address: Any, client_: Any) -> Any:
    if address is not None and client_ is not None:
        raise ParameterError("Pass either address= or client=, not both.")
    return client_ if client_ is not None else address


def compute(
    *collections: Any,
    address: str | None = None,
    client: Client | None = None,
    **client_kwargs: Any,
) -> tuple:
    """Compute dask collections on a cluster, like :func:`dask.compute`.

    Parameters
    ----------
    *collections
        Dask collections (arrays, xarray objects backed by dask, delayed...),
        possibly nested in lists/dicts; other objects are passed through.
    address : str, optional
        Scheduler address to connect to; default a new LocalCluster.
    client : distributed.Client, optional
        An existing client to use (takes the place of ``address``).
    **client_kwargs
        Passed to :func:`client` when a LocalCluster is started
        (``n_workers``, ``processes``...).

    Returns
    -------
    tuple
        One computed result per argument.

    Examples
    --------
    >>> import dask.array as da
    >>> x = da.arange(100, chunks=10)
    >>> compute(x.sum(), x.max(), processes=False, n_workers=1)  # doctest: +SKIP
    (np.int64(4950), np.int64(99))

    The suite's one cluster-starting doctest, in :func:`preprocess_ieeg`,
    also runs ``compute``; this example is exercised by the tests.
    """
    with _connect(_pick(address, client), **client_kwargs) as cl:
        return dask.compute(*collections, scheduler=cl)


# --------------------------------------------------------------------------- filtering


def _check_band(sfreq: float, l_freq: float | None, h_freq: float | None, order: int) -> None:
    nyq = sfreq / 2.0
    if isinstance(order, bool) or not isinstance(order, int | np.integer) or order < 1:
        raise ParameterError(f"order={order!r} must be a positive integer (Butterworth order).")
    for name, f in (("l_freq", l_freq), ("h_freq", h_freq)):
        if f is None:
            continue
        if not isinstance(f, int | float | np.number) or not np.isfinite(f):
            raise ParameterError(f"{name}={f!r} must be a finite frequency in Hz, or None.")
        if f <= 0:
            raise ParameterError(f"{name}={f} Hz must be > 0 Hz (use {name}=None to skip that "
                                 "edge).")
        if f >= nyq:
            raise ParameterError(
                f"{name}={f} Hz must be below the Nyquist frequency sfreq/2 = {nyq:g} Hz "
                f"(sfreq = {sfreq:g} Hz).")
    if l_freq is not None and h_freq is not None and l_freq >= h_freq:
        raise ParameterError(
            f"l_freq={l_freq} Hz must be below h_freq={h_freq} Hz: the pass band is "
            "[l_freq, h_freq].")


def _design_sos(sfreq: float, l_freq: float | None, h_freq: float | None,
                order: int) -> np.ndarray | None:
    """Butterworth second-order sections, or ``None`` when both edges are ``None``."""
    _check_band(sfreq, l_freq, h_freq, order)
    if l_freq is None and h_freq is None:
        return None
    if l_freq is not None and h_freq is not None:
        return sps.butter(order, [l_freq, h_freq], btype="bandpass", fs=sfreq, output="sos")
    if l_freq is not None:
        return sps.butter(order, l_freq, btype="highpass", fs=sfreq, output="sos")
    return sps.butter(order, h_freq, btype="lowpass", fs=sfreq, output="sos")


def _decay_length(sos: np.ndarray, tol: float) -> int:
    """Samples after which the L1 tail of the impulse response is below ``tol`` of its total."""
    _, poles, _ = sps.sos2zpk(sos)
    r = float(np.max(np.abs(poles))) if poles.size else 0.0
    if r >= 1:
        raise ParameterError("The filter is unstable (a pole on or outside the unit circle); "
                             "raise the cut-off frequency or lower the order.")
    # the envelope decays like r**n: go well past r**n = tol, then measure exactly
    n = 16 * len(sos) + (int(math.ceil(2 * math.log(tol) / math.log(r))) if r > 0 else 0)
    n = min(n, 2**26)
    impulse = np.zeros(n)
    impulse[0] = 1.0
    h = np.abs(sps.sosfilt(sos, impulse))
    tail = np.cumsum(h[::-1])[::-1]  # tail[i] = sum(|h[i:]|)
    below = np.flatnonzero(tail <= tol * tail[0])
    return max(int(below[0]) if below.size else n, 1)


def filter_overlap(
    sfreq: float,
    l_freq: float | None = 0.5,
    h_freq: float | None = None,
    order: int = 4,
    *,
    tol: float = OVERLAP_TOL,
) -> int:
    """Samples of context each chunk needs on each side for a chunked zero-phase filter.

    The overlap is where the impulse response ``h`` of the Butterworth filter
    has decayed: the smallest ``n`` with ``sum(|h[n:]|) <= tol * sum(|h|)``,
    and at least ``MIN_OVERLAP_CYCLES`` (3) cycles of the lowest cut-off. It is
    set by the slowest pole, i.e. by ``l_freq`` for band- and high-pass
    filters (about 5.7 / ``l_freq`` seconds for order 4 and ``tol=1e-6``).

    Truncating the forward and the backward pass at ``n`` samples from the
    chunk changes an output sample by about ``tol`` times the signal amplitude
    around it (drifts included), i.e. below float32 resolution at the default.

    Parameters
    ----------
    sfreq : float
        Sampling rate (Hz).
    l_freq, h_freq : float or None
        Pass band edges (Hz); ``None`` for no high-pass / no low-pass.
    order : int
        Butterworth order (per edge; a band-pass has twice as many poles).
    tol : float
        Relative L1 tail of the impulse response left beyond the overlap.

    Returns
    -------
    int
        Overlap in samples (0 when no filter is requested).

    Examples
    --------
    >>> filter_overlap(256.0, l_freq=1.0, h_freq=40.0)
    1456
    >>> filter_overlap(256.0, l_freq=0.5) > filter_overlap(256.0, l_freq=1.0)
    True
    """
    sos = _design_sos(float(sfreq), l_freq, h_freq, order)
    if sos is None:
        return 0
    length = _decay_length(sos, tol)
    lowest = l_freq if l_freq is not None else h_freq
    return max(length, int(math.ceil(MIN_OVERLAP_CYCLES * sfreq / lowest)))


def _odd_extend(x: np.ndarray, before: int, after: int) -> np.ndarray:
    """scipy's ``padtype="odd"`` extension, on either side separately (time on axis 0)."""
    parts = []
    if before:
        parts.append(2 * x[:1] - x[before:0:-1])
    parts.append(x)
    if after:
        parts.append(2 * x[-1:] - x[-2:-after - 2:-1])
    return np.concatenate(parts, axis=0) if len(parts) > 1 else x


def _filtfilt_block(x: np.ndarray, sos: np.ndarray, pad: int,
                    block_info: dict | None = None) -> np.ndarray:
    """Zero-phase filter one overlapped block; odd extension only at the recording's ends."""
    info = block_info[0]
    loc, count = info["chunk-location"][0], info["num-chunks"][0]
    n = x.shape[0]
    before = min(pad, n - 1) if loc == 0 else 0
    after = min(pad, n - 1) if loc == count - 1 else 0
    y = _odd_extend(np.asarray(x, dtype=np.float64), before, after)
    y = sps.sosfiltfilt(sos, y, axis=0, padtype=None)
    return y[before:before + n].astype(x.dtype, copy=False)


def _filter_lazy(x: da.Array, sos: np.ndarray, overlap: int,
                 out_chunks: tuple[int, int]) -> da.Array:
    """Chunked ``sosfiltfilt`` along axis 0 with ``overlap`` samples of context per side."""
    n, n_ch = x.shape
    step = out_chunks[0]
    k = max(1, math.ceil(overlap / step))  # merge source chunks shorter than the overlap
    rows = min(n, k * step)
    cols = max(1, min(n_ch, _BLOCK_BYTES // (4 * 8 * (rows + 2 * overlap))))
    work = x.rechunk((rows, cols))
    depth = overlap if work.numblocks[0] > 1 else 0
    y = da.map_overlap(_filtfilt_block, work, depth={0: depth, 1: 0}, boundary="none",
                       trim=True, dtype=x.dtype, meta=np.empty((0, 0), x.dtype),
                       sos=sos, pad=overlap)
    return y.rechunk(out_chunks)


# --------------------------------------------------------------------------- scaling


def _strata(n: int, size: int, seed: int = 0) -> np.ndarray:
    """One random index in each of ``size`` equal strata of ``range(n)`` (sorted; no aliasing)."""
    edges = np.floor(np.arange(size + 1) * (n / size)).astype(np.int64)
    rng = np.random.default_rng(seed)
    return edges[:-1] + np.floor(rng.random(size) * (edges[1:] - edges[:-1])).astype(np.int64)


def _quantiles(b: np.ndarray) -> np.ndarray:
    return np.quantile(np.asarray(b, dtype=np.float64), [0.25, 0.5, 0.75], axis=0)


def _scale_stats(x: da.Array, scale: Scale, max_samples: int | None,
                 ) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-channel (center, scale, samples used), computed on the current dask scheduler."""
    n, n_ch = x.shape
    if scale == "zscore":
        mean, std = dask.compute(x.mean(axis=0, dtype=np.float64),
                                 x.std(axis=0, dtype=np.float64))
        return np.asarray(mean), np.asarray(std), n
    sub = x if max_samples is None or n <= max_samples else x[_strata(n, max_samples)]
    m = sub.shape[0]
    cols = max(1, min(n_ch, _QUANTILE_BYTES // (8 * max(m, 1))))
    sub = sub.rechunk((m, cols))
    q = sub.map_blocks(_quantiles, chunks=((3,), sub.chunks[1]), dtype=np.float64,
                       meta=np.empty((0, 0), np.float64)).compute()
    return q[1], (q[2] - q[0]) / IQR_TO_STD, m


def _source_chunks(ds: Any) -> tuple[int, int]:
    enc = ds["signal"].encoding.get("chunks") or ds["signal"].encoding.get("preferred_chunks")
    if isinstance(enc, dict):
        enc = (enc["time"], enc["channel"])
    if enc is None:
        enc = tuple(c[0] for c in ds["signal"].data.chunks)
    return int(enc[0]), int(enc[1])


@fill_doc
def preprocess_ieeg(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    l_freq: float | None = 0.5,
    h_freq: float | None = None,
    order: int = 4,
    scale: Scale = "robust",
    scale_samples: int | None = 2**18,
    address: str | None = None,
    client: Client | None = None,
    overwrite: bool = False,
    verbose: Verbose = None,
) -> Path:
    """Band-pass and rescale an iEEG store chunk by chunk on a dask cluster.

    1. **Filter** (skipped if ``l_freq`` and ``h_freq`` are both ``None``):
       zero-phase Butterworth (:func:`scipy.signal.sosfiltfilt`), band-pass,
       high-pass only (``h_freq=None``) or low-pass only (``l_freq=None``),
       applied with :func:`dask.array.map_overlap` along time. Each chunk is
       filtered with :func:`filter_overlap` samples of neighbouring data on
       each side (source chunks shorter than that are merged for the
       computation, and channels split so a task stays under ~256 MB).
       At the true start and end of the recording the signal is extended by
       odd reflection over the same length, so the result equals
       ``sosfiltfilt(sos, x, axis=0, padlen=overlap)`` on the whole recording
       up to the truncation error of the overlap: relative error ~1e-6 of the
       local signal amplitude, below float32 resolution. The filtered signal is
       stored in a hidden temporary store next to ``dst`` (removed at the end;
       it needs as much disk as ``dst``), so the filter runs once although its
       output is read three times (scale estimation, the finiteness check of
       ``write_store``, the final write).
    2. **Scale** per channel: ``"robust"``: ``(x - median) / (IQR / 1.349)``,
       so Gaussian data get unit scale; ``"zscore"``: ``(x - mean) / std``;
       ``None``: no scaling. Mean and std are exact. Median and IQR are the
       exact quantiles of every sample if a channel has at most
       ``scale_samples`` samples, otherwise of a stratified random subsample
       of ``scale_samples`` samples per channel (one random sample in each of
       equal-length strata, fixed seed: no aliasing with periodic components
       such as line noise; standard errors of about ``1.3 / sqrt(scale_samples)``
       of the scale, 0.25 % at the default). Channels with zero or non-finite
       spread are only centred (scale 1), with a warning.
    3. **Write** ``dst`` with :func:`~neuroattn.store.write_store`: same dtype,
       coords, attrs and on-disk chunking as ``src``, plus ``attrs
       ["preprocessing"]`` describing what was done (``bandpass``, ``order``,
       ``overlap`` in samples, ``scale``, per-channel ``center`` and
       ``scale_values``...; the source's own ``preprocessing`` is kept under
       ``"previous"``). After scaling, ``attrs["units"]`` becomes ``"a.u."``
       (dimensionless); without scaling it is kept.

    No step holds more than a few chunks in one process's memory.

    Parameters
    ----------
    src, dst : path-like
        Source iEEG store and destination (must differ).
    l_freq, h_freq : float or None
        Pass band in Hz, ``0 < l_freq < h_freq < sfreq / 2``.
    order : int
        Butterworth order per edge (applied twice: forward and backward).
    scale : {"robust", "zscore", None}
        Per-channel scaling after filtering.
    scale_samples : int or None
        Most samples per channel used for the robust quantiles; ``None`` uses
        all (each channel is then loaded whole into one task).
    address : str, optional
        Scheduler address (e.g. a ``SLURMCluster``'s ``scheduler_address``);
        default: start a LocalCluster for this call (see :func:`client`).
        Remote workers read ``src`` and write next to ``dst`` themselves, so
        both must be on a file system that all workers share.
    client : distributed.Client, optional
        An existing client to compute on (instead of ``address``).
    %(overwrite_store)s
    %(verbose)s

    %(returns_dst)s

    Raises
    ------
    ValueError
        Bad band edges (naming the Nyquist frequency when it is exceeded),
        order or ``scale``; ``dst`` is ``src``.
    neuroattn._atomic.DestinationExistsError
        ``dst`` exists and ``overwrite`` is False (a ``FileExistsError``).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from neuroattn.store import ieeg_from_array, write_store, open_store
    >>> t = np.arange(2000) / 100.0
    >>> x = np.stack([np.sin(2 * np.pi * 5 * t) + t, np.cos(2 * np.pi * 5 * t)], axis=1)
    >>> src = write_store(ieeg_from_array(x.astype("float32"), sfreq=100.0),
    ...                   tempfile.mkdtemp() + "/rec.zarr", chunks={"signal": (500, 2)})
    >>> with client(processes=False, n_workers=1) as c:
    ...     dst = preprocess_ieeg(src, src.with_name("clean.zarr"), l_freq=1.0, h_freq=20.0,
    ...                           client=c, verbose="WARNING")
    ...     (out,) = compute(open_store(dst).signal, client=c)
    >>> bool(np.abs(np.median(out.values, axis=0)).max() < 1e-6)  # robust scaling centres
    True
    >>> open_store(dst).attrs["preprocessing"]["bandpass"]
    [1.0, 20.0]
    """
    given = Path(dst)
    # absolute paths: workers on other hosts may run in another directory
    src, dst = Path(src).absolute(), given.absolute()
    if dst.resolve() == src.resolve():
        raise ParameterError(f"dst is the source store {src}; write the result to a new path.")
    if scale not in ("robust", "zscore", None):
        raise ParameterError(f"scale={scale!r}; use 'robust', 'zscore' or None.")
    if scale_samples is not None and scale_samples < 2:
        raise ParameterError(f"scale_samples={scale_samples} must be >= 2, or None for all "
                             "samples.")
    prepare_destination(dst, overwrite=overwrite)
    with use_log_level(verbose):
        ds = open_store(src, kind="ieeg", check="quick")
        sfreq = float(ds.attrs["sfreq"])
        sos = _design_sos(sfreq, l_freq, h_freq, order)  # validates the band before any work
        chunks = _source_chunks(ds)
        signal = ds["signal"].data
        n, n_ch = signal.shape
        if sos is not None and n < 2:
            raise ParameterError(f"{src} holds {n} sample(s); filtering needs at least 2.")
        info: dict[str, Any] = {}
        if sos is not None:
            overlap = filter_overlap(sfreq, l_freq, h_freq, order)
            info.update(
                bandpass=[None if l_freq is None else float(l_freq),
                          None if h_freq is None else float(h_freq)],
                filter="butterworth, zero-phase (scipy.signal.sosfiltfilt)",
                order=int(order), overlap=int(overlap), edge_padding="odd")
        tmp = temporary_sibling(dst, "filtered")  # next to dst: visible to remote workers
        with _connect(_pick(address, client)) as cl, dask.config.set(scheduler=cl):
            try:
                if sos is not None:
                    logger.info("filtering %s: %s Hz, %d x %d samples, overlap %d samples "
                                "(%.2f s)", src.name, info["bandpass"], n, n_ch, overlap,
                                overlap / sfreq)
                    filtered = _filter_lazy(signal, sos, overlap, chunks)
                    target = zarr.create_array(str(tmp), shape=(n, n_ch), chunks=chunks,
                                               dtype=signal.dtype, zarr_format=3)
                    da.store(filtered, target, lock=False, compute=True)
                    signal = da.from_array(zarr.open_array(str(tmp), mode="r"),
                                           chunks=chunks, asarray=False)
                info["scale"] = scale
                if scale is not None:
                    logger.info("estimating per-channel %s scale", scale)
                    center, spread, used = _scale_stats(signal, scale, scale_samples)
                    bad = ~np.isfinite(spread) | (spread <= 0)
                    if bad.any():
                        names = [str(c) for c in ds["channel"].values[bad]]
                        logger.warning("channel(s) %s have no spread (flat?); they are only "
                                       "centred, not scaled", names)
                        spread = np.where(bad, 1.0, spread)
                    info.update(center=[float(v) for v in center],
                                scale_values=[float(v) for v in spread],
                                scale_samples=int(used))
                    signal = ((signal.astype(np.float64) - center) / spread).astype(
                        ds["signal"].dtype)
                out = ds.drop_encoding()
                # per-channel coords are tiny: load them (object strings cannot stay lazy)
                out = out.assign_coords({k: v.load() for k, v in out.coords.items()
                                         if v.dims == ("channel",)})
                out["signal"] = (("time", "channel"), signal)
                out.attrs = dict(ds.attrs)
                if "preprocessing" in ds.attrs:
                    info["previous"] = ds.attrs["preprocessing"]
                out.attrs["preprocessing"] = info
                if scale is not None:
                    out.attrs["units"] = "a.u."  # scaled values have no physical unit
                write_store(out, dst, kind="ieeg", chunks={"signal": chunks},
                            overwrite=overwrite)
            finally:
                remove(tmp)
        logger.info("preprocessed %s -> %s", src, dst)
    return given
