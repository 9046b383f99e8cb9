"""Tests of the synthetic iEEG generator (neuroattn.datasets.synthetic.ieeg)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import signal, stats

from neuroattn.datasets import SyntheticIEEG, SyntheticIEEGConfig, make_synthetic_ieeg

# A background-only recording: no seizures, no decoys, no alpha, no line noise, no gains.
QUIET = dict(
    n_seizures=0,
    spike_rate_hz=0.0,
    artifacts_per_240s=0.0,
    amplitude_decoys=0,
    alpha_peak_ratio=0.0,
    line_noise_amplitude=0.0,
    gain_range=None,
)
# One seizure, nothing else, plenty of pre-ictal baseline.
ONE_SEIZURE = dict(
    n_channels=16,
    duration_s=60.0,
    sfreq=256.0,
    n_seizures=1,
    spike_rate_hz=0.0,
    artifacts_per_240s=0.0,
    gain_range=None,
    event_margin_s=10.0,
)


def _auroc(score: np.ndarray, label: np.ndarray) -> float:
    """Area under the ROC curve by the rank-sum (Mann-Whitney) formula."""
    label = np.asarray(label, dtype=bool)
    ranks = stats.rankdata(score)
    n_pos, n_neg = int(label.sum()), int((~label).sum())
    return float((ranks[label].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _seizures(rec: SyntheticIEEG) -> list[dict]:
    return [e for e in rec.events if e["kind"] == "seizure"]


def _in_rms_units(rec: SyntheticIEEG) -> np.ndarray:
    return rec.data.astype(np.float64) / rec.config.background_rms_v


# --------------------------------------------------------------------------- shapes
@pytest.mark.parametrize(
    ("n_channels", "sfreq", "last_name"),
    [(4, 128.0, "LA4"), (13, 512.0, "LA13"), (40, 256.0, "LC8"), (128, 1000.0, "LH16")],
)
def test_shapes_dtypes_names(n_channels: int, sfreq: float, last_name: str) -> None:
    rec = make_synthetic_ieeg(n_channels=n_channels, sfreq=sfreq, duration_s=60.0, n_seizures=1)
    assert rec.data.shape == (n_channels, int(round(60.0 * sfreq)))
    assert rec.data.dtype == np.float32
    assert np.isfinite(rec.data).all()
    assert rec.sfreq == sfreq
    assert len(rec.ch_names) == n_channels == len(set(rec.ch_names))
    assert rec.ch_names[0] == "LA1" and rec.ch_names[-1] == last_name
    assert rec.positions.shape == (n_channels, 3)
    # contacts 3.5 mm apart along each 16-contact shaft
    for start in range(0, n_channels, 16):
        shaft = rec.positions[start : start + 16]
        if len(shaft) > 1:
            np.testing.assert_allclose(np.linalg.norm(np.diff(shaft, axis=0), axis=1), 0.0035)
    # volts, with a background of ~50 µV (gains 0.5-2 on top)
    rms = rec.data.std(axis=1)
    assert 10e-6 < np.median(rms) < 200e-6
    labels = rec.sample_labels()
    assert labels.shape == (rec.data.shape[1],) and labels.dtype == np.int8
    assert len(_seizures(rec)) == 1


def test_deterministic_and_seed_dependent() -> None:
    kw = dict(n_channels=8, duration_s=120.0, n_seizures=1, amplitude_decoys=1)
    a, b = make_synthetic_ieeg(seed=5, **kw), make_synthetic_ieeg(seed=5, **kw)
    np.testing.assert_array_equal(a.data, b.data)
    assert a.events == b.events
    c = make_synthetic_ieeg(seed=6, **kw)
    assert not np.allclose(a.data, c.data)
    assert a.events != c.events
    # config object + overrides gives the same as keywords
    cfg = SyntheticIEEGConfig(seed=5, **kw)
    np.testing.assert_array_equal(make_synthetic_ieeg(cfg).data, a.data)
    assert make_synthetic_ieeg(cfg, amplitude=2.0).config.amplitude == 2.0


def test_independent_streams_background_unchanged_by_events() -> None:
    """Changing event parameters leaves the background (and event timing) alone."""
    base = dict(n_channels=8, duration_s=120.0, seed=3, postictal=False, n_seizures=2)
    r0 = make_synthetic_ieeg(amplitude=0.0, **base)
    r1 = make_synthetic_ieeg(amplitude=6.0, **base)
    assert [(e["onset"], e["kind"]) for e in r0.events] == [
        (e["onset"], e["kind"]) for e in r1.events
    ]
    labels = r0.sample_labels().astype(bool)
    diff = np.abs(r1.data - r0.data).max(axis=0)
    assert diff[labels].max() > 0  # seizures added
    # far from every event, the two recordings are identical
    busy = np.zeros(r0.data.shape[1], bool)
    for e in r0.events:
        busy[int((e["onset"] - 0.5) * r0.sfreq) : int((e["offset"] + 1.0) * r0.sfreq)] = True
    assert diff[~busy].max() == 0


# ----------------------------------------------------------------------- background
def test_background_spectral_slope() -> None:
    rec = make_synthetic_ieeg(n_channels=16, duration_s=120.0, sfreq=256.0, seed=1, **QUIET)
    freqs, psd = signal.welch(rec.data.astype(np.float64), fs=rec.sfreq, nperseg=1024)
    band = (freqs >= 10) & (freqs <= 40)
    slopes = np.array([np.polyfit(np.log(freqs[band]), np.log(p[band]), 1)[0] for p in psd])
    betas = -slopes
    assert np.all((betas > 1.3) & (betas < 2.5)), betas
    assert 1.5 < betas.mean() < 2.2
    # each channel is unit-RMS before scaling to volts
    np.testing.assert_allclose(rec.data.std(axis=1), 50e-6, rtol=0.02)


def test_background_spatial_correlation() -> None:
    rec = make_synthetic_ieeg(n_channels=16, duration_s=120.0, sfreq=256.0, seed=2, **QUIET)
    corr = np.corrcoef(rec.data.astype(np.float64))
    adjacent, dist3 = np.diag(corr, 1), np.diag(corr, 3)
    assert 0.55 < adjacent.mean() < 0.85
    assert np.all((adjacent > 0.5) & (adjacent < 0.9))
    assert 0.2 < dist3.mean() < 0.5  # rho**3 = 0.343
    assert dist3.mean() < adjacent.mean() - 0.2
    assert abs(np.diag(corr, 8).mean()) < 0.2
    # rho=0 gives uncorrelated channels
    rec0 = make_synthetic_ieeg(n_channels=8, duration_s=60.0, rho=0.0, seed=2, **QUIET)
    assert np.abs(np.diag(np.corrcoef(rec0.data.astype(np.float64)), 1)).max() < 0.15


def test_gains_alpha_and_line_noise_switches() -> None:
    kw = {**QUIET, "n_channels": 8, "duration_s": 60.0, "seed": 4}
    rec = make_synthetic_ieeg(**{**kw, "gain_range": (0.5, 2.0)})
    gains = np.array(rec.background["gain"])
    assert np.all((gains >= 0.5) & (gains <= 2.0))
    np.testing.assert_allclose(rec.data.std(axis=1) / 50e-6, gains, rtol=0.02)

    def band_power(r: SyntheticIEEG, lo: float, hi: float) -> float:
        f, p = signal.welch(r.data.astype(np.float64), fs=r.sfreq, nperseg=1024)
        return float(p[:, (f >= lo) & (f <= hi)].mean())

    plain = make_synthetic_ieeg(**kw)
    alpha = make_synthetic_ieeg(**{**kw, "alpha_peak_ratio": 3.0})
    assert band_power(alpha, 8, 12) > 1.5 * band_power(plain, 8, 12)
    line = make_synthetic_ieeg(**{**kw, "line_noise_amplitude": 0.5})
    assert band_power(line, 49, 51) > 10 * band_power(plain, 49, 51)


# ------------------------------------------------------------------------ seizures
def test_labels_match_events_and_events_do_not_overlap() -> None:
    rec = make_synthetic_ieeg(
        n_channels=16, duration_s=600.0, n_seizures=4, amplitude_decoys=2, seed=7
    )
    kinds = [e["kind"] for e in rec.events]
    assert kinds.count("seizure") == 4 and kinds.count("amplitude_decoy") == 2
    assert kinds.count("interictal_spike") > 40  # 0.2/s minus clearance losses
    assert 2 <= kinds.count("artifact") <= 8
    labels = rec.sample_labels()
    iv = rec.seizure_intervals()
    assert iv.shape == (4, 2) and np.all(np.diff(iv[:, 0]) > 0)
    expected = sum(int(np.ceil(b * rec.sfreq)) - int(np.ceil(a * rec.sfreq)) for a, b in iv)
    assert labels.sum() == expected
    for a, b in iv:
        assert labels[int(np.ceil(a * rec.sfreq))] == 1
        assert labels[int(np.ceil(a * rec.sfreq)) - 1] == 0
        assert labels[int(np.ceil(b * rec.sfreq)) - 1] == 1
        assert labels[int(np.ceil(b * rec.sfreq))] == 0
    # sorted, inside the recording, non-overlapping (seizures incl. post-ictal time)
    ends = [e.get("postictal_offset") or e["offset"] for e in rec.events]
    onsets = [e["onset"] for e in rec.events]
    assert onsets == sorted(onsets)
    assert onsets[0] >= 0 and max(ends) <= rec.data.shape[1] / rec.sfreq
    for k in range(1, len(onsets)):
        assert onsets[k] > ends[k - 1]
    for sz in _seizures(rec):
        assert 8.0 <= sz["focal_duration_s"] <= 20.0
        assert 7.0 <= sz["start_freq_hz"] <= 10.0 and 2.5 <= sz["end_freq_hz"] <= 4.0
        delays = sz["channel_delays_s"]
        assert delays[sz["onset_channel"]] == 0.0
        assert sz["offset"] == pytest.approx(
            sz["onset"] + sz["focal_duration_s"] + max(delays.values())
        )
        # recruited = gain exp(-d/3) >= 0.15  <=>  distance <= 5
        c0 = rec.ch_names.index(sz["onset_channel"])
        dist = [abs(rec.ch_names.index(n) - c0) for n in delays]
        assert max(dist) <= 5 and len(delays) == sum(1 for c in range(16) if abs(c - c0) <= 5)
    json.dumps(rec.ground_truth())  # JSON-serialisable


@pytest.mark.parametrize("seed", [0, 3, 8])
def test_onset_channel_first_and_delays_grow_with_distance(seed: int) -> None:
    rec = make_synthetic_ieeg(amplitude=20.0, seed=seed, **ONE_SEIZURE)
    (sz,) = _seizures(rec)
    x, sf, on = _in_rms_units(rec), rec.sfreq, sz["onset"]
    line_length = signal.lfilter(
        np.ones(int(0.5 * sf)) / int(0.5 * sf), 1.0, np.abs(np.diff(x, axis=1)), axis=1
    )
    names = [n for n, g in sz["channel_gains"].items() if g > 0.3]  # clearly recruited
    detected, true = [], []
    for name in names:
        c, delay = rec.ch_names.index(name), sz["channel_delays_s"][name]
        base = np.median(line_length[c, int((on - 8) * sf) : int((on - 0.5) * sf)])
        plateau = np.median(
            line_length[c, int((on + delay + 3) * sf) : int((on + sz["focal_duration_s"] - 1) * sf)]
        )
        seg = line_length[c, int((on - 0.5) * sf) :]
        assert plateau > 1.5 * base
        detected.append(np.argmax(seg > base + 0.5 * (plateau - base)) / sf - 0.5)
        true.append(delay)
    detected, true = np.array(detected), np.array(true)
    focal = detected[names.index(sz["onset_channel"])]
    assert focal <= detected.min() + 0.1
    assert 0.0 < focal < 3.0  # within the 2 s rise (+ smoothing lag)
    assert stats.spearmanr(true, detected).statistic > 0.8
    # the farthest recruited channels start later than the onset channel
    assert detected[true == true.max()].mean() > focal + 0.4


@pytest.mark.parametrize("seed", [0, 5])
def test_spike_rate_glides_down(seed: int) -> None:
    rec = make_synthetic_ieeg(amplitude=8.0, seed=seed, **ONE_SEIZURE)
    (sz,) = _seizures(rec)
    c0 = rec.ch_names.index(sz["onset_channel"])
    sf, t0 = rec.sfreq, sz["onset"]
    seg = -_in_rms_units(rec)[c0, int(t0 * sf) : int((t0 + sz["focal_duration_s"]) * sf)]
    peaks, _ = signal.find_peaks(seg, prominence=3.0, distance=int(0.06 * sf))
    assert len(peaks) >= 0.7 * sz["n_complexes"]
    isi = np.diff(peaks / sf)
    third = len(isi) // 3
    start, end = np.median(isi[:third]), np.median(isi[-third:])
    assert end > 1.3 * start
    assert start < 1.6 / sz["start_freq_hz"]  # fast at onset
    assert end > 0.6 / sz["end_freq_hz"]  # slow at the end


def test_amplitude_scales_event_power() -> None:
    kw = dict(n_channels=8, duration_s=120.0, n_seizures=2, postictal=False, seed=11)
    r0, r2, r4 = (make_synthetic_ieeg(amplitude=a, **kw) for a in (0.0, 2.0, 4.0))
    ev2 = (r2.data - r0.data).astype(np.float64)
    ev4 = (r4.data - r0.data).astype(np.float64)
    np.testing.assert_allclose(np.sum(ev4**2) / np.sum(ev2**2), 4.0, rtol=1e-3)
    # the seizure-to-background RMS ratio grows with amplitude
    labels = r0.sample_labels().astype(bool)
    ratios = []
    for amp in (1.0, 4.0, 8.0):
        x = make_synthetic_ieeg(amplitude=amp, **kw).data.astype(np.float64)
        ratios.append(x[:, labels].std() / x[:, ~labels].std())
    assert ratios[0] < ratios[1] < ratios[2] and ratios[2] > 1.4


def test_decoys_present_and_label_zero() -> None:
    kw = dict(
        n_channels=8,
        duration_s=240.0,
        n_seizures=1,
        amplitude_decoys=1,
        artifacts_per_240s=3.0,
        gain_range=None,
        seed=12,
    )
    rec = make_synthetic_ieeg(**kw)
    labels = rec.sample_labels()
    x, sf = _in_rms_units(rec), rec.sfreq
    for e in rec.events:
        if e["kind"] == "seizure":
            continue
        mid = int((e["onset"] + e["offset"]) / 2 * sf)
        assert labels[mid] == 0
        if e["kind"] == "amplitude_decoy":
            core = x[:, int((e["onset"] + 1) * sf) : int((e["offset"] - 1) * sf)]
            assert 3.0 < core.std() < 5.0  # background x 4
        if e["kind"] == "artifact":
            seg = x[:, int(e["onset"] * sf) : int(e["offset"] * sf)]
            # 1.5 x amplitude (=6) bump on every channel
            assert np.all(np.abs(seg.mean(axis=1)) > 1.5)
    none = make_synthetic_ieeg(
        **{**kw, "spike_rate_hz": 0.0, "artifacts_per_240s": 0.0, "amplitude_decoys": 0}
    )
    assert {e["kind"] for e in none.events} == {"seizure"}


# --------------------------------------------------------------- detector skill
def _line_length_auroc(amplitude: float, seed: int = 0) -> float:
    rec = make_synthetic_ieeg(
        n_channels=16, duration_s=600.0, sfreq=256.0, n_seizures=4, amplitude=amplitude, seed=seed
    )
    sf = int(rec.sfreq)
    n_seg = rec.data.shape[1] // sf
    x = rec.data[:, : n_seg * sf].astype(np.float64).reshape(len(rec.ch_names), n_seg, sf)
    ll = np.abs(np.diff(x, axis=-1)).sum(axis=-1)  # (channel, segment)
    ll /= np.median(ll, axis=1, keepdims=True)  # per-channel normalisation
    score = ll.max(axis=0)
    lab = rec.sample_labels()[: n_seg * sf].reshape(n_seg, sf)
    pos, neg = lab.all(axis=1), ~lab.any(axis=1)  # drop segments straddling a boundary
    keep = pos | neg
    assert pos.sum() >= 20
    return _auroc(score[keep], pos[keep])


def test_line_length_detects_seizures_at_amplitude_5() -> None:
    assert _line_length_auroc(5.0) >= 0.85


def test_line_length_near_chance_at_tiny_amplitude() -> None:
    assert _line_length_auroc(0.3) <= 0.65


# ------------------------------------------------------------------- exporters
def test_to_raw_round_trip() -> None:
    rec = make_synthetic_ieeg(
        n_channels=6, duration_s=120.0, n_seizures=2, amplitude_decoys=1, seed=13
    )
    raw = rec.to_raw()
    assert raw.ch_names == rec.ch_names
    assert set(raw.get_channel_types()) == {"seeg"}
    assert raw.info["sfreq"] == rec.sfreq
    np.testing.assert_allclose(raw.get_data(), rec.data, rtol=1e-6)
    locs = np.array([ch["loc"][:3] for ch in raw.info["chs"]])
    np.testing.assert_allclose(locs, rec.positions, atol=1e-9)
    ann = raw.annotations
    assert list(ann.description) == [e["kind"] for e in rec.events]
    np.testing.assert_allclose(ann.onset, [e["onset"] for e in rec.events], atol=1e-6)
    np.testing.assert_allclose(
        ann.duration, [e["offset"] - e["onset"] for e in rec.events], atol=1e-6
    )
    assert {"seizure", "interictal_spike", "amplitude_decoy"} <= set(ann.description)
    assert "synthetic" in raw.info["description"]


def test_to_edf_readable(tmp_path: Path) -> None:
    import mne

    rec = make_synthetic_ieeg(n_channels=5, duration_s=60.0, n_seizures=1, seed=14)
    out = rec.to_edf(tmp_path / "synthetic.edf")
    assert out == tmp_path / "synthetic.edf" and out.is_file()
    raw = mne.io.read_raw_edf(out, preload=True, verbose="error")
    assert raw.ch_names == rec.ch_names
    assert raw.info["sfreq"] == pytest.approx(rec.sfreq, rel=1e-3)
    assert abs(raw.n_times - rec.data.shape[1]) <= rec.sfreq  # whole records
    n = rec.data.shape[1]
    data = raw.get_data()[:, :n]
    assert np.corrcoef(data.ravel(), rec.data[:, : data.shape[1]].ravel())[0, 1] > 0.999
    seiz = [a for a in raw.annotations if a["description"] == "seizure"]
    assert len(seiz) == 1
    assert seiz[0]["onset"] == pytest.approx(_seizures(rec)[0]["onset"], abs=0.01)


def test_to_store_round_trip(tmp_path: Path) -> None:
    """The store holds the samples, seizure annotations and the JSON ground truth."""
    from neuroattn.store import open_store, seizure_intervals

    rec = make_synthetic_ieeg(n_channels=4, duration_s=60.0, n_seizures=1, seed=16)
    out = rec.to_store(tmp_path / "rec.zarr")
    assert out == tmp_path / "rec.zarr"
    ds = open_store(out, kind="ieeg")
    assert ds.signal.dtype == np.float32
    np.testing.assert_array_equal(ds.signal.values.T, rec.data)
    np.testing.assert_allclose(seizure_intervals(ds.attrs["annotations"]),
                               rec.seizure_intervals(), atol=1e-9)
    gt = ds.attrs["ground_truth"]
    assert gt == json.loads(json.dumps(rec.ground_truth()))
    assert gt["config"]["seed"] == 16
    assert [e["kind"] for e in gt["events"]] == [e["kind"] for e in rec.events]


# -------------------------------------------------------------- configuration
def test_config_from_lists_and_package_config_loader() -> None:
    from neuroattn.config import from_dict

    cfg = SyntheticIEEGConfig(seizure_duration_s=[8, 12], gain_range=[1, 1])
    assert cfg.seizure_duration_s == (8, 12) and cfg.gain_range == (1, 1)
    cfg2 = from_dict(
        SyntheticIEEGConfig, {"seizure_duration_s": [9, 10], "gain_range": None, "n_channels": 32}
    )
    assert cfg2.seizure_duration_s == (9.0, 10.0) and cfg2.gain_range is None
    assert make_synthetic_ieeg(cfg2, duration_s=60.0, n_seizures=1).data.shape[0] == 32
    assert SyntheticIEEGConfig().to_dict()["gain_range"] == [0.5, 2.0]


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"n_channels": 0}, r"n_channels=0 must be between 1 and"),
        ({"n_channels": 2.5}, r"n_channels=2.5 must be an integer"),
        ({"sfreq": 64.0}, r"sfreq=64.0 Hz is too low .* use sfreq >= 100"),
        ({"amplitude": -1.0}, r"amplitude=-1.0 must be >= 0"),
        ({"duration_s": 30.0}, r"duration_s=30 is too short .* Increase duration_s"),
        ({"duration_s": 0.0}, r"duration_s=0.0 must be > 0"),
        ({"n_seizures": -1}, r"n_seizures=-1 must be >= 0"),
        ({"seizure_duration_s": (2.0, 5.0)}, r"shorter than the 2 s rise \+ 1 s fall"),
        ({"seizure_duration_s": (20.0, 8.0)}, r"low > high"),
        ({"rho": 1.0}, r"rho=1.0 must be < 1"),
        (
            {"line_noise_amplitude": 0.2, "line_noise_hz": 60.0, "sfreq": 100.0},
            r"line_noise_hz=60.0 is not below the Nyquist",
        ),
        ({"spike_rate_hz": float("nan")}, r"spike_rate_hz=nan must be a finite number"),
        ({"gain_range": (0.0, 2.0)}, r"gain_range=.* must be > 0"),
        ({"recruitment_threshold": 1.5}, r"recruitment_threshold=1.5 must be in \(0, 1\]"),
        ({"seed": -3}, r"seed=-3 must be >= 0"),
        ({"n_channel": 8}, r"Unknown parameter\(s\) \['n_channel'\].*valid names"),
    ],
)
def test_bad_parameters_raise(overrides: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_synthetic_ieeg(**overrides)


def test_bad_config_type_raises() -> None:
    with pytest.raises(ValueError, match="config must be a SyntheticIEEGConfig"):
        make_synthetic_ieeg({"n_channels": 4})  # type: ignore[arg-type]


def test_min_duration_is_enough() -> None:
    """The worst-case duration check is sufficient: generation at the minimum works."""
    cfg = SyntheticIEEGConfig(n_channels=4, n_seizures=3, amplitude_decoys=1, duration_s=200.0)
    need = cfg.min_duration_s()
    for seed in range(5):
        rec = make_synthetic_ieeg(cfg, duration_s=need, seed=seed)
        assert len(_seizures(rec)) == 3
    with pytest.raises(ValueError, match="too short"):
        make_synthetic_ieeg(cfg, duration_s=need - 1.0)
