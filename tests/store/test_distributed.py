"""Tests for neuroattn.store.distributed: cluster helpers and chunked iEEG preprocessing."""

from __future__ import annotations

import json
import logging
import sys

import dask.array as da
import numpy as np
import pytest
import zarr
from scipy import signal as sps

from neuroattn.store import distributed as nd
from neuroattn.store import ieeg_from_array, open_store, write_store
from neuroattn.store.distributed import (
    IQR_TO_STD,
    client,
    compute,
    filter_overlap,
    preprocess_ieeg,
)

distributed = pytest.importorskip("distributed")

SFREQ = 256.0
N_TIMES = int(60 * SFREQ)  # 60 s
N_CH = 5
CHUNK = (2560, N_CH)  # 10 s chunks
FREQS = (0.1, 10.0, 100.0)  # drift, in-band tone, out-of-band tone


def _synthetic(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(N_TIMES) / SFREQ
    amps = np.array([[20.0, 1.0, 2.0]]) * rng.uniform(0.5, 2.0, (N_CH, 1))
    phases = rng.uniform(0, 2 * np.pi, (N_CH, 3))
    x = sum(amps[:, i] * np.sin(2 * np.pi * f * t[:, None] + phases[:, i])
            for i, f in enumerate(FREQS))
    x = x + 0.3 * rng.standard_normal((N_TIMES, N_CH)) + rng.uniform(-50, 50, N_CH)
    return (x * 1e-6).astype("float32")  # volts, with a DC offset per channel


def _write(path, chunks=CHUNK):
    ds = ieeg_from_array(
        _synthetic(), SFREQ, ch_names=[f"LA{i}" for i in range(N_CH)],
        positions=np.arange(3 * N_CH, dtype=float).reshape(N_CH, 3) * 1e-3,
        bad=[False, False, True, False, False],
        annotations={"onset": [12.0], "duration": [5.0], "description": ["seizure"]},
        subject="sub-01")
    return write_store(ds, path, chunks={"signal": chunks})


@pytest.fixture(scope="module")
def src(tmp_path_factory):
    return _write(tmp_path_factory.mktemp("src") / "rec.zarr")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0", silence_logs=logging.WARNING) as c:
        yield c


@pytest.fixture(scope="module")
def cl(cluster):
    with distributed.Client(cluster, set_as_default=False) as c:
        yield c


def _sos(l_freq, h_freq, order=4):
    if l_freq is None:
        return sps.butter(order, h_freq, btype="lowpass", fs=SFREQ, output="sos")
    if h_freq is None:
        return sps.butter(order, l_freq, btype="highpass", fs=SFREQ, output="sos")
    return sps.butter(order, [l_freq, h_freq], btype="bandpass", fs=SFREQ, output="sos")


def _robust(y):
    q25, med, q75 = np.quantile(y, [0.25, 0.5, 0.75], axis=0)
    return (y - med) / ((q75 - q25) / IQR_TO_STD)


def _amplitude(y, f, trim):
    """Amplitude of the sinusoid at f Hz in each column, away from the edges."""
    t = np.arange(y.shape[0]) / SFREQ
    sl = slice(trim, y.shape[0] - trim)
    s, c = np.sin(2 * np.pi * f * t[sl]), np.cos(2 * np.pi * f * t[sl])
    ys = y[sl] - y[sl].mean(axis=0)
    return 2 * np.hypot(s @ ys, c @ ys) / (sl.stop - sl.start)


# --------------------------------------------------------------------------- preprocessing


@pytest.mark.parametrize("chunks", [CHUNK, (512, N_CH)], ids=["10s-chunks", "2s-chunks"])
def test_matches_whole_array_reference(src, tmp_path, cl, chunks):
    # 2 s chunks are shorter than the overlap (5.7 s): chunks are merged for filtering
    path = src if chunks == CHUNK else _write(tmp_path / "small.zarr", chunks)
    dst = preprocess_ieeg(path, tmp_path / "bp.zarr", l_freq=1.0, h_freq=40.0, client=cl)
    out = open_store(dst, check="none").signal.values
    assert out.dtype == np.float32
    info = open_store(dst, check="none").attrs["preprocessing"]
    overlap = info["overlap"]
    assert overlap == filter_overlap(SFREQ, 1.0, 40.0) > chunks[0] // 2

    x = open_store(path, check="none").signal.values.astype(np.float64)
    filtered = sps.sosfiltfilt(_sos(1.0, 40.0), x, axis=0, padlen=overlap)
    ref = _robust(filtered)
    # the whole recording, edges included (same odd padding at the true edges)
    np.testing.assert_allclose(out, ref, rtol=0, atol=2e-5)
    # before scaling, away from the edges, against scipy's default edge padding too
    unscaled = out * np.asarray(info["scale_values"]) + np.asarray(info["center"])
    default = sps.sosfiltfilt(_sos(1.0, 40.0), x, axis=0)
    inner = slice(overlap, N_TIMES - overlap)
    amp = np.abs(default[inner]).max()
    np.testing.assert_allclose(unscaled[inner], default[inner], rtol=0, atol=1e-5 * amp)

    # the test can tell a wrong overlap: chunks filtered independently are far off
    naive = np.concatenate([sps.sosfiltfilt(_sos(1.0, 40.0), x[i:i + chunks[0]], axis=0)
                            for i in range(0, N_TIMES, chunks[0])])
    naive = (naive - info["center"]) / info["scale_values"]
    assert np.abs(naive - ref).max() > 100 * np.abs(out - ref).max()


def test_band_attenuation_without_scaling(src, tmp_path, cl):
    dst = preprocess_ieeg(src, tmp_path / "bp.zarr", l_freq=1.0, h_freq=40.0, scale=None,
                          client=cl)
    out = open_store(dst, check="none").signal.values.astype(np.float64)
    x = open_store(src, check="none").signal.values.astype(np.float64)
    trim = filter_overlap(SFREQ, 1.0, 40.0)
    before = {f: _amplitude(x, f, trim) for f in FREQS}
    after = {f: _amplitude(out, f, trim) for f in FREQS}
    np.testing.assert_allclose(after[10.0] / before[10.0], 1.0, atol=0.02)  # kept
    assert np.all(after[100.0] / before[100.0] < 1e-3)  # out-of-band tone removed
    assert np.all(np.abs(out[trim:-trim].mean(axis=0)) < 1e-2 * before[10.0])  # DC removed
    # the 0.1 Hz drift (20x the 10 Hz tone) is gone: what is left is the band
    assert np.all(np.ptp(out[trim:-trim], axis=0) < 2.5 * (before[10.0] + 0.3e-6 * 8))
    assert "center" not in open_store(dst, check="none").attrs["preprocessing"]


def test_highpass_and_lowpass_only(src, tmp_path, cl):
    x = open_store(src, check="none").signal.values.astype(np.float64)
    for l_freq, h_freq in ((0.5, None), (None, 40.0)):
        dst = preprocess_ieeg(src, tmp_path / f"{l_freq}-{h_freq}.zarr", l_freq=l_freq,
                              h_freq=h_freq, scale=None, client=cl)
        out = open_store(dst, check="none")
        overlap = out.attrs["preprocessing"]["overlap"]
        ref = sps.sosfiltfilt(_sos(l_freq, h_freq), x, axis=0, padlen=overlap)
        scale = np.abs(x - x.mean(axis=0)).max()
        assert np.abs(out.signal.values - ref).max() < 1e-5 * scale
        assert out.attrs["preprocessing"]["bandpass"] == [l_freq, h_freq]
    # the high-pass overlap covers at least a few cycles of l_freq
    assert filter_overlap(SFREQ, 0.5) >= 3 * SFREQ / 0.5


@pytest.mark.parametrize(("n", "chunk"), [(3001, 700), (300, 100)],
                         ids=["short-last-chunk", "shorter-than-overlap"])
def test_ragged_and_short_recordings(tmp_path, cl, n, chunk):
    x = np.cumsum(np.random.default_rng(2).standard_normal((n, 3)), axis=0)  # random walk
    path = write_store(ieeg_from_array(x, 100.0), tmp_path / "rw.zarr",
                       chunks={"signal": (chunk, 3)})
    dst = preprocess_ieeg(path, tmp_path / "bp.zarr", l_freq=1.0, h_freq=30.0, scale=None,
                          client=cl)
    overlap = filter_overlap(100.0, 1.0, 30.0)
    assert overlap > 2 * 201  # longer than the last chunk (and than the whole 300 samples)
    sos = sps.butter(4, [1.0, 30.0], btype="bandpass", fs=100.0, output="sos")
    ref = sps.sosfiltfilt(sos, x, axis=0, padlen=min(overlap, n - 1))
    out = open_store(dst).signal.values
    assert zarr.open_group(dst, mode="r")["signal"].chunks == (chunk, 3)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-6 * np.abs(ref).max())


def test_robust_scaling_unit_median_and_iqr(src, tmp_path, cl):
    dst = preprocess_ieeg(src, tmp_path / "bp.zarr", l_freq=1.0, h_freq=40.0, client=cl)
    out = open_store(dst, check="none").signal.values.astype(np.float64)
    q25, med, q75 = np.quantile(out, [0.25, 0.5, 0.75], axis=0)
    np.testing.assert_allclose(med, 0.0, atol=1e-5)
    np.testing.assert_allclose((q75 - q25) / 1.349, 1.0, atol=1e-3)
    assert open_store(dst, check="none").attrs["preprocessing"]["scale_samples"] == N_TIMES


def test_robust_scaling_from_subsample(src, tmp_path, cl):
    dst = preprocess_ieeg(src, tmp_path / "bp.zarr", l_freq=1.0, h_freq=40.0, client=cl,
                          scale_samples=3000)
    ds = open_store(dst, check="none")
    assert ds.attrs["preprocessing"]["scale_samples"] == 3000
    out = ds.signal.values.astype(np.float64)
    q25, med, q75 = np.quantile(out, [0.25, 0.5, 0.75], axis=0)
    # standard errors with 3000 samples are ~2-3 %
    np.testing.assert_allclose(med, 0.0, atol=0.1)
    np.testing.assert_allclose((q75 - q25) / IQR_TO_STD, 1.0, atol=0.1)


def test_strata_cover_the_recording_without_aliasing():
    idx = nd._strata(10_000, 100)
    assert idx.shape == (100,) and np.all(np.diff(idx) > 0) and 0 <= idx[0] < 100
    assert idx[-1] >= 9_900 and len(np.unique(idx % 100)) > 50  # not one phase of a stride
    np.testing.assert_array_equal(idx, nd._strata(10_000, 100))  # deterministic


def test_zscore_and_flat_channel(tmp_path, cl, caplog):
    x = np.random.default_rng(1).normal(3.0, 2.0, (4000, 3)).astype("float32")
    x[:, 1] = 5.0  # flat channel: centred, not scaled
    path = write_store(ieeg_from_array(x, 100.0), tmp_path / "z.zarr",
                       chunks={"signal": (1000, 3)})
    with caplog.at_level(logging.WARNING, logger="neuroattn"):
        dst = preprocess_ieeg(path, tmp_path / "out.zarr", l_freq=None, h_freq=None,
                              scale="zscore", client=cl)
    assert "ch1" in caplog.text
    out = open_store(dst).signal.values.astype(np.float64)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=0)[[0, 2]], 1.0, atol=1e-5)
    np.testing.assert_allclose(out[:, 1], 0.0)
    info = open_store(dst).attrs["preprocessing"]
    assert "bandpass" not in info and info["scale"] == "zscore"
    np.testing.assert_allclose(info["center"], x.mean(axis=0), rtol=1e-5)


def test_channels_split_when_blocks_are_large(src, tmp_path, cl, monkeypatch):
    monkeypatch.setattr(nd, "_BLOCK_BYTES", 4 * 8 * 8000)  # forces one channel per task
    dst = preprocess_ieeg(src, tmp_path / "bp.zarr", l_freq=1.0, h_freq=40.0, scale=None,
                          client=cl)
    x = open_store(src, check="none").signal.values.astype(np.float64)
    overlap = filter_overlap(SFREQ, 1.0, 40.0)
    ref = sps.sosfiltfilt(_sos(1.0, 40.0), x, axis=0, padlen=overlap)
    np.testing.assert_allclose(open_store(dst, check="none").signal.values, ref,
                               rtol=0, atol=1e-11)


def test_output_store_keeps_coords_attrs_and_chunks(src, tmp_path, cl):
    dst = preprocess_ieeg(src, tmp_path / "bp.zarr", l_freq=0.5, client=cl, verbose="WARNING")
    out = open_store(dst, kind="ieeg", check="full")
    ref = open_store(src, check="none")
    for name in ("time", "channel", "ch_type", "bad", "x", "y", "z"):
        np.testing.assert_array_equal(out[name].values, ref[name].values)
    for key in ("sfreq", "annotations", "subject"):
        assert out.attrs[key] == ref.attrs[key]
    assert out.attrs["units"] == "a.u."  # robust-scaled values are dimensionless
    info = out.attrs["preprocessing"]
    json.dumps(info)  # JSON-safe
    assert info["bandpass"] == [0.5, None] and info["order"] == 4
    assert info["scale"] == "robust" and len(info["center"]) == N_CH
    assert len(info["scale_values"]) == N_CH
    assert zarr.open_group(dst, mode="r")["signal"].chunks == CHUNK
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left

    # a second pass records the first one
    again = preprocess_ieeg(dst, tmp_path / "again.zarr", l_freq=None, h_freq=30.0,
                            scale=None, client=cl)
    info2 = open_store(again, check="none").attrs["preprocessing"]
    assert info2["previous"] == info and info2["bandpass"] == [None, 30.0]


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"l_freq": 0.0}, r"l_freq=0.0 Hz must be > 0"),
    ({"l_freq": -1.0}, r"must be > 0"),
    ({"l_freq": 1.0, "h_freq": 128.0}, r"Nyquist frequency sfreq/2 = 128 Hz"),
    ({"l_freq": 200.0}, r"l_freq=200.0 Hz must be below the Nyquist frequency"),
    ({"l_freq": 40.0, "h_freq": 10.0}, r"l_freq=40.0 Hz must be below h_freq=10.0 Hz"),
    ({"l_freq": float("nan")}, r"finite frequency"),
    ({"order": 0}, r"order=0 must be a positive integer"),
    ({"scale": "minmax"}, r"scale='minmax'"),
])
def test_bad_arguments_raise_before_computing(src, tmp_path, kwargs, match, monkeypatch):
    def no_cluster(*args, **kw):
        raise AssertionError("a cluster was started for invalid arguments")

    monkeypatch.setattr(nd, "_connect", no_cluster)
    with pytest.raises(ValueError, match=match):
        preprocess_ieeg(src, tmp_path / "out.zarr", **kwargs)
    assert not (tmp_path / "out.zarr").exists()


def test_dst_must_differ_and_not_exist(src, tmp_path, cl):
    with pytest.raises(ValueError, match="source store"):
        preprocess_ieeg(src, src, overwrite=True, client=cl)
    dst = preprocess_ieeg(src, tmp_path / "out.zarr", client=cl, scale=None)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        preprocess_ieeg(src, dst, client=cl)
    preprocess_ieeg(src, dst, client=cl, overwrite=True, scale="zscore")
    assert open_store(dst).attrs["preprocessing"]["scale"] == "zscore"
    with pytest.raises(ValueError, match="either address= or client="):
        preprocess_ieeg(src, tmp_path / "x.zarr", client=cl, address="tcp://127.0.0.1:1")


def test_missing_distributed_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"pip install 'neuroattn\[distributed\]'"):
        with client():
            pass


# --------------------------------------------------------------------------- clusters


def test_client_starts_and_closes_its_own_cluster():
    with client(processes=False, n_workers=2) as c:
        cluster = c.cluster
        assert len(c.scheduler_info()["workers"]) == 2
        assert int(da.arange(10, chunks=3).sum().compute()) == 45  # default client
    assert c.status == "closed"
    assert cluster.status.name == "closed"


def test_client_connects_to_address_and_leaves_cluster_running(cluster):
    with client(cluster.scheduler_address) as c:
        assert c.scheduler.address == cluster.scheduler_address
        assert c.submit(sum, [1, 2]).result() == 3
    assert c.status == "closed"
    assert cluster.status.name == "running"
    with client(cluster) as c2:  # a cluster object also works
        assert c2.submit(sum, [3, 4]).result() == 7
    assert cluster.status.name == "running"
    with pytest.raises(ValueError, match="only apply when neuroattn starts a LocalCluster"):
        with client(cluster.scheduler_address, n_workers=2):
            pass


def test_client_passes_an_existing_client_through(cl):
    with client(cl) as c:
        assert c is cl
    assert cl.status == "running"


def test_compute(cluster, cl):
    x = da.arange(1000, chunks=100)
    assert compute(x.sum(), x.max(), client=cl) == (499500, 999)
    (total,) = compute(x.sum(), address=cluster.scheduler_address)
    assert total == 499500 and cluster.status.name == "running"
    (y, meta) = compute({"a": x[:3]}, "not dask", processes=False, n_workers=1)
    np.testing.assert_array_equal(y["a"], [0, 1, 2])
    assert meta == "not dask"


def test_preprocess_on_scheduler_address(src, tmp_path, cluster):
    dst = preprocess_ieeg(src, tmp_path / "bp.zarr", l_freq=1.0, h_freq=40.0,
                          address=cluster.scheduler_address)
    assert open_store(dst, check="quick").attrs["preprocessing"]["bandpass"] == [1.0, 40.0]
    assert cluster.status.name == "running"


@pytest.mark.slow
def test_preprocess_on_default_process_cluster(src, tmp_path, cl):
    # address=None, client=None: a LocalCluster of worker processes for this call
    dst = preprocess_ieeg(src, tmp_path / "bp.zarr", l_freq=1.0, h_freq=40.0)
    ref = preprocess_ieeg(src, tmp_path / "ref.zarr", l_freq=1.0, h_freq=40.0, client=cl)
    np.testing.assert_array_equal(open_store(dst, check="none").signal.values,
                                  open_store(ref, check="none").signal.values)
