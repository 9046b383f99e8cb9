"""Tests of the MIT1003 readers and the I-DT detector, on folders written in the released layout."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from neuroattn.datasets import (
    idt_fixations,
    mit1003_stimuli,
    read_mit1003,
    read_mit1003_fixation_map,
    read_mit1003_fixation_points,
    read_mit1003_gaze,
)
from neuroattn.datasets.mit1003 import MIN_DURATION, SAMPLING_RATE, MIT1003FormatError
from neuroattn.store import open_store, write_store
from neuroattn.store.schema import validate_metadata
from neuroattn.testing.files import write_fake_mit1003

STREET = "i05june05_static_street_boston_p1010764"  # 1024 x 768
LONG = "i" + "_long_name" * 7  # 71 characters: its MATLAB variable is cut to 63
SIZES = {STREET: (1024, 768), LONG: (600, 800)}


def _scanpath(centres, n_fix, n_sac=6, noise=1.0, seed=0):
    """Gaze at 240 Hz: plateaus of n_fix samples (Gaussian noise) joined by linear saccades.

    Returns the gaze (N x 2) and, per plateau, its first sample and its sample mean.
    """
    rng = np.random.default_rng(seed)
    parts, firsts, means, n = [], [], [], 0
    for i, (centre, length) in enumerate(zip(centres, n_fix, strict=True)):
        if i:
            steps = np.linspace(0, 1, n_sac + 2)[1:-1, None]
            parts.append(np.asarray(centres[i - 1]) + steps * np.subtract(centre, centres[i - 1]))
            n += n_sac
        plateau = np.asarray(centre, float) + rng.normal(0, noise, (length, 2))
        parts.append(plateau)
        firsts.append(n)
        means.append(plateau.mean(axis=0))
        n += length
    return np.concatenate(parts), np.array(firsts), np.array(means)


@pytest.fixture
def root(tmp_path):
    """Two images, two subjects, fixation maps, and the per-subject files the reader ignores."""
    (tmp_path / "ALLSTIMULI").mkdir()
    (tmp_path / "ALLFIXATIONMAPS").mkdir()
    for stem, size in SIZES.items():
        Image.new("RGB", size, (90, 120, 30)).save(tmp_path / "ALLSTIMULI" / f"{stem}.jpeg")
    centres = {STREET: [(512, 384), (200, 150), (900, 600)], LONG: [(300, 400), (100, 700)]}
    for k, subject in enumerate(("ajs", "hp")):
        for stem, points in centres.items():
            gaze, _, _ = _scanpath(points, [48 + 12 * k] * len(points), seed=k)
            write_fake_mit1003(tmp_path, {subject: {stem: gaze}})
        savemat(tmp_path / "DATA" / subject / "CalibrationData.mat", {"calib": np.zeros(3)})
    (tmp_path / "DATA" / "readme.txt").write_text("not a subject")
    return tmp_path


def test_idt_finds_three_plateaus():
    centres = [(300.0, 200.0), (620.0, 240.0), (450.0, 600.0)]
    lengths = [60, 36, 90]  # 250, 150 and 375 ms
    gaze, firsts, means = _scanpath(centres, lengths, n_sac=6, noise=1.5, seed=4)
    fix = idt_fixations(gaze[:, 0], gaze[:, 1])
    assert len(fix) == 3
    np.testing.assert_allclose(fix[["x", "y"]].to_numpy(), means, atol=1.0)
    np.testing.assert_allclose(fix[["x", "y"]].to_numpy(), centres, atol=1.0)
    np.testing.assert_allclose(fix["duration"], np.array(lengths) / SAMPLING_RATE,
                               atol=1 / SAMPLING_RATE)
    np.testing.assert_allclose(fix["start"], firsts / SAMPLING_RATE, atol=1 / SAMPLING_RATE)
    assert (np.abs(fix["n_samples"] - lengths) <= 1).all()


def test_idt_minimum_duration_gaps_and_thresholds():
    # a 20-sample (83 ms) plateau is shorter than the 100 ms default; 24 samples are enough
    gaze, _, _ = _scanpath([(100, 100), (400, 100), (700, 100)], [48, 20, 24], noise=0.5)
    fix = idt_fixations(gaze[:, 0], gaze[:, 1])
    assert fix["n_samples"].tolist() == [48, 24]
    assert round(MIN_DURATION * SAMPLING_RATE) == 24
    # a NaN gap (a blink) ends a fixation: no fixation spans it
    x, y = gaze[:, 0].copy(), gaze[:, 1].copy()
    x[24:27] = np.nan
    assert idt_fixations(x, y)["n_samples"].tolist() == [24, 24]
    # a looser threshold merges two close plateaus; a tight one splits noise
    near, _, _ = _scanpath([(100, 100), (110, 100)], [30, 30], n_sac=0, noise=0.0)
    assert len(idt_fixations(near[:, 0], near[:, 1], max_dispersion=34.0)) == 1
    assert len(idt_fixations(near[:, 0], near[:, 1], max_dispersion=5.0)) == 2
    assert idt_fixations([], []).empty
    with pytest.raises(ValueError, match="one length"):
        idt_fixations([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="sfreq > 0"):
        idt_fixations([1.0], [1.0], sfreq=0)


def test_stimuli_and_gaze_files(root):
    assert mit1003_stimuli(root) == sorted([STREET, LONG])
    gaze = read_mit1003_gaze(root, "ajs", LONG)  # variable name cut to 63 characters
    assert gaze.shape == (48 * 2 + 6, 2) and gaze.dtype == np.float64


def test_read_mit1003_round_trip(root, tmp_path):
    ds = read_mit1003(root)
    validate_metadata(ds, "fixations")
    # subject by subject, images sorted ("0" < "_"): ajs/STREET, ajs/LONG, hp/STREET, hp/LONG
    assert ds.sizes["row"] == 2 * (3 + 2)
    assert ds.subject.values.tolist() == ["ajs"] * 5 + ["hp"] * 5
    assert ds.image.values.tolist()[:5] == [f"{STREET}.jpeg"] * 3 + [f"{LONG}.jpeg"] * 2
    assert ds.trial.values.tolist() == [0, 0, 0, 1, 1, 2, 2, 2, 3, 3]
    assert ds.fixation.values.tolist() == [0, 1, 2, 0, 1] * 2
    np.testing.assert_allclose(ds.x.values[:5], [512, 200, 900, 300, 100], atol=1.0)
    np.testing.assert_allclose(ds.y.values[:5], [384, 150, 600, 400, 700], atol=1.0)
    np.testing.assert_allclose(ds.duration.values, [0.2] * 5 + [0.25] * 5, atol=1 / 240)
    np.testing.assert_allclose(ds.start.values[:3], np.array([0, 54, 108]) / 240, atol=1 / 240)
    assert ds.image_width.values.tolist() == [1024] * 3 + [600] * 2 + [1024] * 3 + [600] * 2
    assert ds.image_height.values[3] == 800
    assert ds.attrs["sfreq"] == 240.0 and ds.attrs["max_dispersion"] == 34.0
    assert ds.attrs["initial_fixation"] == "included"
    back = open_store(write_store(ds, tmp_path / "mit1003.zarr", kind="fixations"))
    np.testing.assert_array_equal(back.duration.values, ds.duration.values)
    assert back.image.values.tolist() == ds.image.values.tolist()
    first = read_mit1003(root, subjects=["hp"], stems=[STREET], drop_initial=True)
    np.testing.assert_allclose(first.x.values, [200, 900], atol=1.0)
    assert first.fixation.values.tolist() == [0, 1] and first.trial.values.tolist() == [0, 0]


def test_blinks_and_off_image_samples_are_dropped(root):
    gaze, _, _ = _scanpath([(100, 100), (500, 300), (1000, 700)], [48, 48, 48], noise=0.5)
    gaze[66:76] = -1.0  # a blink in the middle of the second fixation (12 + 26 samples left)
    gaze[-20:, 0] = 1030.0  # the end of the third is off the 1024 px wide image
    gaze[5, 1] = np.nan
    write_fake_mit1003(root, {"ajs": {STREET: gaze}})
    ds = read_mit1003(root, subjects=["ajs"], stems=[STREET])
    assert ds.n_samples.values.tolist() == [48 - 6, 26, 48 - 20]
    np.testing.assert_allclose(ds.x.values, [100, 500, 1000], atol=1.0)


def test_fixation_points_and_map(root):
    points = np.zeros((768, 1024), np.uint8)
    rng = np.random.default_rng(1)
    xs, ys = rng.choice(1024, 25, replace=False), rng.choice(768, 25, replace=False)
    points[ys, xs] = 255
    Image.fromarray(points).save(root / "ALLFIXATIONMAPS" / f"{STREET}_fixPts.jpg")
    x, y = read_mit1003_fixation_points(root, STREET)
    assert sorted(zip(x, y, strict=True)) == sorted(zip(xs, ys, strict=True))
    grey = np.tile(np.linspace(10, 250, 64), (48, 1)).astype(np.uint8)
    Image.fromarray(grey).save(root / "ALLFIXATIONMAPS" / f"{STREET}_fixMap.jpg", quality=95)
    density = read_mit1003_fixation_map(root, STREET)
    assert density.shape == (48, 64) and density.dtype == np.float64
    assert density.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(density, grey / grey.sum(), rtol=0.05)
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(root / "ALLFIXATIONMAPS" / "i0_fixMap.jpg")
    with pytest.raises(MIT1003FormatError, match="black everywhere"):
        read_mit1003_fixation_map(root, "i0")
    with pytest.raises(FileNotFoundError, match="i9_fixPts.jpg does not exist"):
        read_mit1003_fixation_points(root, "i9")


def test_bad_root_and_folders(tmp_path, root):
    with pytest.raises(FileNotFoundError, match="is not a folder.*ALLSTIMULI.zip"):
        read_mit1003(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="has no DATA/ folder"):
        read_mit1003(root / "ALLSTIMULI")
    with pytest.raises(FileNotFoundError, match="has no ALLSTIMULI/ folder"):
        mit1003_stimuli(root / "DATA")
    with pytest.raises(FileNotFoundError, match=r"Subject 'zb' has no folder.*\['ajs', 'hp'\]"):
        read_mit1003(root, subjects=["zb"])
    with pytest.raises(FileNotFoundError, match=r"i404.jpeg does not exist.*unpacked"):
        read_mit1003(root, stems=["i404"])
    with pytest.raises(FileNotFoundError, match="subject 'zb' is not in"):
        read_mit1003_gaze(root, "zb", STREET)
    with pytest.raises(FileNotFoundError, match="has no ALLFIXATIONMAPS/ folder"):
        read_mit1003_fixation_map(root / "DATA", STREET)


def test_missing_pairs_are_skipped_with_a_warning(root, caplog):
    (root / "DATA" / "hp" / f"{STREET}.mat").unlink()
    ds = read_mit1003(root)
    assert ds.sizes["row"] == 3 + 2 + 2
    assert "no gaze file for 1" in caplog.text and f"hp/{STREET}" in caplog.text
    for subject in ("ajs", "hp"):
        for path in (root / "DATA" / subject).glob("i*.mat"):
            path.unlink()
    with pytest.raises(FileNotFoundError, match="No fixation found"):
        read_mit1003(root)


@pytest.mark.parametrize(("content", "match"), [
    ({STREET: {"DATA": {"samples": np.zeros((5, 2))}}}, r"no .*\.DATA\(1\)\.eyeData"),
    ({STREET: {"info": 1}}, r"no .*\.DATA\(1\)\.eyeData"),
    ({"a": np.zeros(3), "b": np.zeros(3)}, r"variables: \['a', 'b'\]"),
    ({STREET: {"DATA": {"eyeData": np.zeros((5, 1))}}}, r"shape \(5, 1\).*N x 2"),
    ({STREET: {"DATA": {"eyeData": np.zeros((2, 3, 2))}}}, r"shape \(2, 3, 2\)"),
    ({STREET: {"DATA": {"eyeData": "x, y"}}}, "expected numbers"),
])
def test_bad_gaze_files(root, content, match):
    savemat(root / "DATA" / "ajs" / f"{STREET}.mat", content)
    with pytest.raises(MIT1003FormatError, match=match):
        read_mit1003_gaze(root, "ajs", STREET)
    with pytest.raises(MIT1003FormatError, match=match):
        read_mit1003(root, subjects=["ajs"])


def test_not_a_matlab_file_and_odd_layouts(root):
    path = root / "DATA" / "ajs" / f"{STREET}.mat"
    path.write_bytes(b"garbage" * 40)
    with pytest.raises(MIT1003FormatError, match="cannot be read as a MATLAB file"):
        read_mit1003_gaze(root, "ajs", STREET)
    # a struct array DATA (first element used), a wider eyeData (first two columns kept),
    # a lone variable under another name, and an empty recording
    data = np.zeros((1, 2), dtype=[("eyeData", object)])
    data[0, 0]["eyeData"] = np.array([[1.0, 2.0, 0.0], [3.0, 4.0, 0.0]])
    data[0, 1]["eyeData"] = np.zeros((9, 2))
    savemat(path, {"renamed": {"DATA": data}})
    assert read_mit1003_gaze(root, "ajs", STREET).tolist() == [[1.0, 2.0], [3.0, 4.0]]
    savemat(path, {STREET: {"DATA": {"eyeData": np.zeros((0, 2))}}})
    assert read_mit1003_gaze(root, "ajs", STREET).shape == (0, 2)
