"""Tests of resampling, streamed resampling and channel selection (neuroattn.datasets.prepare)."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest

from neuroattn.datasets.prepare import (
    iter_resampled_blocks,
    resample_signal,
    resample_store,
    select_channels,
)
from neuroattn.store import ieeg_from_array, open_store, seizure_intervals, write_store


def _sine_fit(y: np.ndarray, sfreq: float, freq: float) -> tuple[float, float]:
    """Amplitude of the best-fitting sinusoid at ``freq`` and the residual RMS."""
    t = np.arange(y.size) / sfreq
    basis = np.stack([np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
    return float(np.hypot(*coef)), float(np.sqrt(np.mean((y - basis @ coef) ** 2)))


def _peak_hz(y: np.ndarray, sfreq: float) -> float:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(y.size), n=16 * y.size))
    return float(np.fft.rfftfreq(16 * y.size, 1 / sfreq)[spectrum.argmax()])


@pytest.mark.parametrize(("sfreq_in", "sfreq_out"), [(512.0, 500.0), (1000.0, 256.0),
                                                      (200.0, 512.0), (2048.0, 512.0)])
def test_a_sine_keeps_its_frequency_and_amplitude(sfreq_in, sfreq_out):
    freq, amp = 13.7, 1.7
    t = np.arange(int(8 * sfreq_in)) / sfreq_in
    x = np.stack([amp * np.sin(2 * np.pi * freq * t), -amp * np.cos(2 * np.pi * freq * t)])
    y = resample_signal(x, sfreq_in, sfreq_out)
    up_over_down = sfreq_out / sfreq_in
    assert y.shape == (2, math.ceil(x.shape[1] * up_over_down))
    edge = int(sfreq_out)  # skip the 1-s filter transients at both ends
    for row in y:
        fitted, residual = _sine_fit(row[edge:-edge], sfreq_out, freq)
        assert fitted == pytest.approx(amp, rel=3e-3)  # passband ripple of the filter: 0.2 %
        assert residual < 1e-3 * amp
        assert _peak_hz(row[edge:-edge], sfreq_out) == pytest.approx(freq, abs=0.02)
    # on the output time grid, with no shift: a wrong rate or a delay would show here
    np.testing.assert_allclose(y[0, edge:-edge], amp * np.sin(
        2 * np.pi * freq * np.arange(y.shape[1])[edge:-edge] / sfreq_out), atol=5e-3 * amp)


def test_frequencies_above_the_new_nyquist_are_removed_not_aliased():
    sfreq_in, sfreq_out = 1000.0, 256.0
    t = np.arange(10_000) / sfreq_in
    x = np.sin(2 * np.pi * 200.0 * t)  # 200 Hz would alias to 56 Hz at 256 Hz
    y = resample_signal(x[None], sfreq_in, sfreq_out)[0, 256:-256]
    assert np.sqrt(np.mean(y**2)) < 1e-2  # the sine had RMS 0.71
    # the reference's linear interpolation keeps an aliased 56 Hz component
    linear = np.interp(np.arange(y.size + 512) / sfreq_out, t, x)[256:-256]
    assert np.sqrt(np.mean(linear**2)) > 0.3
    assert _peak_hz(linear, sfreq_out) == pytest.approx(56.0, abs=0.5)


def test_resample_signal_dtypes_and_axis():
    x32 = np.ones((3, 1000), "float32")
    assert resample_signal(x32, 1000.0, 500.0).dtype == np.float32
    assert resample_signal(np.ones((3, 1000), "int16"), 1000.0, 500.0).dtype == np.float64
    assert resample_signal(x32.T, 1000.0, 250.0, axis=0).shape == (250, 3)
    same = resample_signal(x32, 256.0, 256.0)
    assert same is not x32 and np.array_equal(same, x32)


@pytest.mark.parametrize(("sfreq_in", "sfreq_out", "match"), [
    (0.0, 100.0, "sfreq_in=0.0"), (100.0, -1.0, "sfreq_out=-1.0"),
    (float("nan"), 100.0, "not a valid sampling rate")])
def test_resample_signal_rejects_bad_rates(sfreq_in, sfreq_out, match):
    with pytest.raises(ValueError, match=match):
        resample_signal(np.ones((2, 10)), sfreq_in, sfreq_out)


def test_resample_signal_rejects_empty_input():
    with pytest.raises(ValueError, match="no samples"):
        resample_signal(np.ones((2, 0)), 100.0, 50.0)


def test_an_awkward_ratio_is_approximated_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="neuroattn"):
        y = resample_signal(np.ones((1, 3000)), 1000.0, 333.3333)
    assert "drift" in caplog.text and "effective rate" in caplog.text
    assert abs(y.shape[1] - 3000 * 333.3333 / 1000) <= 1


@pytest.mark.parametrize(("sfreq_in", "sfreq_out", "block_len"), [
    (512.0, 500.0, 700), (250.0, 100.0, 333), (100.0, 256.0, 97), (1000.0, 256.0, 4096)])
def test_streamed_blocks_equal_a_whole_signal_resample(rng, sfreq_in, sfreq_out, block_len):
    x = rng.standard_normal((5003, 3))
    blocks = list(iter_resampled_blocks(lambda a, b: x[a:b], len(x), sfreq_in, sfreq_out,
                                        block_len=block_len))
    assert len(blocks) > 1
    whole = resample_signal(x, sfreq_in, sfreq_out, axis=0)
    streamed = np.concatenate(blocks)
    assert streamed.shape == whole.shape
    assert np.abs(streamed - whole).max() <= 1e-9 * np.abs(whole).max()


def test_blocks_pass_through_without_resampling(rng):
    x = rng.standard_normal((1000, 2))
    blocks = list(iter_resampled_blocks(lambda a, b: x[a:b], 1000, 100.0, None, block_len=300))
    assert [len(b) for b in blocks] == [300, 300, 300, 100]


@pytest.fixture
def src_store(tmp_path, rng):
    """7 channels, 40 s at 250 Hz in 700-sample chunks, one bad channel, positions, attrs."""
    n, names = 10_000, [f"LA{i}" for i in range(1, 8)]
    t = np.arange(n) / 250.0
    data = rng.standard_normal((n, 7)) * 1e-5 + 5e-5 * np.sin(2 * np.pi * 9.0 * t)[:, None]
    ds = ieeg_from_array(
        data.astype("float32"), sfreq=250.0, ch_names=names, ch_types=["seeg"] * 6 + ["ecog"],
        positions=rng.standard_normal((7, 3)) * 0.01, bad=[0, 0, 1, 0, 0, 0, 0],
        annotations={"onset": [12.0, 30.5], "duration": [5.0, 1.0],
                     "description": ["seizure", "artifact"]},
        subject="sub-07", first_samp=500)
    return write_store(ds, tmp_path / "src.zarr", chunks={"signal": (700, 7)}), ds


@pytest.mark.parametrize("sfreq", [100.0, 512.0])
def test_resample_store_matches_a_whole_signal_resample(src_store, tmp_path, sfreq):
    src, ds = src_store
    out = open_store(resample_store(src, tmp_path / "out.zarr", sfreq, block_s=3.3))
    whole = resample_signal(ds.signal.values.astype("float64"), 250.0, sfreq, axis=0)
    got = out.signal.values
    assert got.shape == whole.shape == (math.ceil(10_000 * sfreq / 250.0), 7)
    assert got.dtype == np.float32
    assert np.abs(got - whole).max() <= 1e-6 * np.abs(whole).max()
    # everything but the rate is kept
    assert out.attrs["sfreq"] == sfreq and out.attrs["original_sfreq"] == 250.0
    assert out.attrs["subject"] == "sub-07" and out.attrs["units"] == "V"
    assert out.attrs["first_samp"] == round(500 * sfreq / 250.0)
    assert out.channel.values.tolist() == ds.channel.values.tolist()
    assert out.ch_type.values.tolist() == ["seeg"] * 6 + ["ecog"]
    assert out.bad.values.tolist() == ds.bad.values.tolist()
    for c in "xyz":
        np.testing.assert_array_equal(out[c].values, ds[c].values)
    assert out.attrs["annotations"]["description"] == ["seizure", "artifact"]
    np.testing.assert_array_equal(seizure_intervals(out.attrs["annotations"]), [[12.0, 17.0]])
    np.testing.assert_allclose(np.diff(out.time.values[:3]), 1 / sfreq)


def test_resample_store_refuses_to_clobber(src_store, tmp_path):
    src, _ = src_store
    with pytest.raises(ValueError, match="is the source"):
        resample_store(src, src, 100.0, overwrite=True)
    dst = resample_store(src, tmp_path / "out.zarr", 100.0)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        resample_store(src, dst, 125.0)
    resample_store(src, dst, 125.0, overwrite=True)
    assert open_store(dst).attrs["sfreq"] == 125.0


NAMES = [f"LA{i}" for i in range(1, 11)]


def test_select_channels_drops_bad_and_keeps_requested_in_recording_order():
    bad = [False] * 10
    bad[3] = True
    assert select_channels(NAMES, bad) == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    assert select_channels(NAMES, None, channels=["LA9", "LA2", "LA2"]) == [1, 8]
    assert select_channels(NAMES, bad, channels="LA1, LA5") == [0, 4]


def test_select_channels_warns_when_a_requested_channel_is_bad(caplog):
    with caplog.at_level(logging.WARNING, logger="neuroattn"):
        assert select_channels(NAMES, [True] + [False] * 9, channels=["LA1", "LA2"]) == [1]
    assert "LA1" in caplog.text and "marked bad" in caplog.text


def test_the_channel_cap_keeps_a_contiguous_run_and_says_so(caplog):
    bad = [False] * 10
    bad[1] = True
    with caplog.at_level(logging.WARNING, logger="neuroattn"):
        index = select_channels(NAMES, bad, max_channels=5)
    assert index == [0, 2, 3, 4, 5]
    assert "first 5 of 9" in caplog.text and "dropped 4" in caplog.text
    assert "channels=" in caplog.text and "--max-channels" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="neuroattn"):
        assert select_channels(NAMES, None, max_channels=128) == list(range(10))
    assert caplog.text == ""


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"bad": [True] * 10}, "every channel is marked bad"),
    ({"channels": ["LA1", "XX9"]}, r"\['XX9'\] are not in the recording"),
    ({"max_channels": 0}, "max_channels=0"),
    ({"bad": [True, False]}, "2 flags for 10 channels"),
    ({"bad": [True] + [False] * 9, "channels": ["LA1"]}, "none of the requested"),
])
def test_select_channels_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        select_channels(NAMES, **kwargs)
