"""Tests of the EyeLink .edf reader on the real recordings shipped in the eyelinkio wheel."""

from __future__ import annotations

import sys

import numpy as np
import pytest

eyelinkio = pytest.importorskip("eyelinkio", reason="eyelinkio is not installed "
                                "(pip install neuroattn[gaze])")

from neuroattn.datasets.convert import convert, converter_options  # noqa: E402
from neuroattn.datasets.eyelink import (  # noqa: E402
    convert_eyelink,
    eyelinkio_test_files,
    read_eyelink,
)
from neuroattn.store import open_store  # noqa: E402


@pytest.fixture(scope="module")
def edfs():
    """Each shipped recording, read once by eyelinkio (reading is the slow part)."""
    return {name: eyelinkio.read_edf(path) for name, path in eyelinkio_test_files().items()}


def _messages(edf, key):
    return [(float(t), m.decode().strip()) for t, m in
            zip(edf["discrete"]["messages"]["stime"], edf["discrete"]["messages"]["msg"],
                strict=True) if m.decode().strip().split(" ")[0] == key]


def _windows(edf, start="TRIALID", end="TRIAL_RESULT"):
    """Trial windows written out from the messages, independently of the reader."""
    starts = _messages(edf, start)
    ends = [t for t, _ in _messages(edf, end)] if end else []
    last = len(edf["times"]) / edf["info"]["sfreq"]
    out = []
    for k, (t0, text) in enumerate(starts):
        t1 = starts[k + 1][0] if k + 1 < len(starts) else last
        t1 = min([t for t in ends if t0 <= t < t1], default=t1)
        out.append((t0, t1, text.split(" ", 1)[1] if " " in text else ""))
    return out


def _expected_fixations(edf, eye_code, windows):
    fix = edf["discrete"]["fixations"]
    rows = []
    for k, (t0, t1, tid) in enumerate(windows):
        sel = (fix["eye"] == eye_code) & (fix["stime"] >= t0) & (fix["stime"] < t1)
        for f in np.sort(fix[sel], order="stime"):
            rows.append((k, tid, f["stime"], f["etime"], f["axp"], f["ayp"]))
    return rows


def test_monocular_fixations_match_the_parser_events(edfs):
    edf = edfs["test_2_raw.edf"]
    rec = read_eyelink(edf, subject="S2", image="scene.png")
    ds = rec.fixations
    assert (rec.sfreq, rec.recorded_eye, rec.eyes, rec.screen) == (1000.0, "left", ("left",),
                                                                   (1920, 1080))
    windows = _windows(edf)
    assert rec.n_trials == len(windows) == 40
    want = _expected_fixations(edf, 0, windows)
    assert ds.sizes["row"] == len(want) > 100
    np.testing.assert_array_equal(ds.trial.values, [w[0] for w in want])
    assert ds.trial_id.values.tolist() == [w[1] for w in want]
    np.testing.assert_array_equal(ds.x.values, [w[4] for w in want])
    np.testing.assert_array_equal(ds.y.values, [w[5] for w in want])
    np.testing.assert_array_equal(ds.start.values, [w[2] for w in want])
    # SR Research: an event's end is its last sample, so duration = end - start + 1 sample
    np.testing.assert_allclose(ds.duration.values, [w[3] - w[2] + 0.001 for w in want])
    assert set(ds.subject.values) == {"S2"} and set(ds.image.values) == {"scene.png"}
    for k in np.unique(ds.trial.values):
        assert ds.fixation.values[ds.trial.values == k].tolist() == list(
            range(int((ds.trial.values == k).sum())))
    np.testing.assert_array_equal(ds.trial_onset.values, [windows[w[0]][0] for w in want])
    on = (ds.x >= 0) & (ds.x < 1920) & (ds.y >= 0) & (ds.y < 1080)
    np.testing.assert_array_equal(ds.on_screen.values, on.values)
    assert ds.attrs["screen_width"] == 1920 and ds.attrs["units"] == "px"


def test_incoming_saccades(edfs):
    edf = edfs["test_2_raw.edf"]
    ds = read_eyelink(edf).fixations
    sac = edf["discrete"]["saccades"]
    hits = 0
    for i in range(ds.sizes["row"]):
        start = float(ds.start[i])
        match = np.flatnonzero(np.isclose(sac["etime"] + 0.001, start, atol=1e-4))
        if match.size:
            s = sac[match[0]]
            hits += 1
            assert float(ds.saccade_amplitude[i]) == pytest.approx(
                np.hypot(s["exp"] - s["sxp"], s["eyp"] - s["syp"]))
            assert float(ds.saccade_duration[i]) == pytest.approx(s["etime"] - s["stime"] + 1e-3)
            assert float(ds.saccade_peak_velocity[i]) == pytest.approx(s["pv"])
        else:
            assert np.isnan(float(ds.saccade_amplitude[i]))
    assert hits == int(np.isfinite(ds.saccade_amplitude.values).sum()) > 100


def test_saccade_table_flags_blinks(edfs):
    edf = edfs["test_raw_binocular.edf"]
    sac = read_eyelink(edf, eye="both").saccades
    raw = edf["discrete"]["saccades"]
    assert (raw["sxp"] >= 1e8 - 1).any()  # EyeLink's missing value in the file ...
    assert np.isnan(sac.x0.values).any() and np.nanmax(sac.x0.values) < 1e8  # ... becomes NaN
    blinks = edf["discrete"]["blinks"]
    for i in np.flatnonzero(sac.blink.values)[:20]:
        code = ("left", "right").index(str(sac.eye.values[i]))
        inside = ((blinks["eye"] == code) & (blinks["stime"] >= float(sac.start[i]))
                  & (blinks["etime"] <= float(sac.end[i])))
        assert inside.any()
    assert 0 < int(sac.blink.values.sum()) < sac.sizes["row"]
    assert sac.attrs["velocity_units"] == "deg/s"


def test_binocular_eyes(edfs):
    edf = edfs["test_raw_binocular.edf"]
    windows = _windows(edf)
    auto = read_eyelink(edf)  # no validation in this file: the left eye
    assert auto.recorded_eye == "binocular" and auto.eyes == ("left",)
    both = read_eyelink(edf, eye="both")
    right = read_eyelink(edf, eye="right")
    for code, name, rec in ((0, "left", auto), (1, "right", right)):
        want = _expected_fixations(edf, code, windows)
        assert set(rec.fixations.eye.values) == {name}
        assert rec.fixations.sizes["row"] == len(want)
        assert int((both.fixations.eye.values == name).sum()) == len(want)
    # fixations are numbered per trial and eye
    f = both.fixations
    for k in (0, 5):
        for name in ("left", "right"):
            sel = (f.trial.values == k) & (f.eye.values == name)
            assert f.fixation.values[sel].tolist() == list(range(int(sel.sum())))
    assert not f.on_screen.values.all()  # this file has off-screen fixations; they are kept


def test_trial_end_and_onset_messages(edfs):
    edf = edfs["test_raw_binocular.edf"]
    ends = [t for t, _ in _messages(edf, "TRIAL_RESULT")]
    starts = [t for t, _ in _messages(edf, "TRIALID")]
    rec = read_eyelink(edf)
    between = [(e, s) for e, s in zip(ends, starts[1:], strict=False)]
    for e, s in between:
        assert not ((rec.fixations.start.values >= e) & (rec.fixations.start.values < s)).any()
    open_ended = read_eyelink(edf, trial_end=None)
    assert open_ended.fixations.sizes["row"] >= rec.fixations.sizes["row"]
    locked = read_eyelink(edf, onset_message="STIM_ONSET")
    onsets = np.array([t for t, _ in _messages(edf, "STIM_ONSET")])
    f = locked.fixations
    assert set(np.unique(f.trial_onset.values)) <= set(onsets)
    assert (f.start.values >= f.trial_onset.values).all()
    assert f.sizes["row"] < rec.fixations.sizes["row"]


def test_without_trial_messages_the_recording_is_one_trial(edfs):
    edf = edfs["test_raw.edf"]
    rec = read_eyelink(edf, trial_start="NO_SUCH_MESSAGE")
    assert rec.n_trials == 1 and set(rec.fixations.trial_id.values) == {""}
    assert rec.fixations.sizes["row"] == len(edf["discrete"]["fixations"])
    with pytest.raises(ValueError, match="no fixation of the left eye falls inside a trial"):
        read_eyelink(edf, onset_message="NO_SUCH_MESSAGE")


def test_errors(edfs, tmp_path, monkeypatch):
    edf = edfs["test_raw.edf"]
    with pytest.raises(ValueError, match="holds only the left eye"):
        read_eyelink(edf, eye="right")
    with pytest.raises(ValueError, match="eye='cyclops'"):
        read_eyelink(edf, eye="cyclops")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_eyelink(tmp_path / "missing.edf")
    junk = tmp_path / "junk.edf"
    junk.write_bytes(b"0       not an eyelink file" * 20)
    with pytest.raises(ValueError, match="cannot be read as an EyeLink .edf file"):
        read_eyelink(junk)
    monkeypatch.setitem(sys.modules, "eyelinkio", None)
    with pytest.raises(ImportError, match=r"pip install neuroattn\[gaze\]"):
        read_eyelink(junk)


def test_convert_writes_a_fixations_store(edfs, tmp_path):
    assert {"subject", "image", "eye", "trial_start", "trial_end", "onset_message",
            "overwrite"} <= set(converter_options("eyelink"))
    src = eyelinkio_test_files()["test_raw.edf"]
    dst = convert("eyelink", src, tmp_path / "el.zarr", subject="P1", onset_message="SYNCTIME")
    ds = open_store(dst, kind="fixations")
    ref = read_eyelink(edfs["test_raw.edf"], subject="P1", onset_message="SYNCTIME").fixations
    np.testing.assert_array_equal(ds.x.values, ref.x.values)
    np.testing.assert_array_equal(ds.saccade_amplitude.values, ref.saccade_amplitude.values)
    assert set(ds.subject.values) == {"P1"} and ds.attrs["source_file"] == "test_raw.edf"
    with pytest.raises(FileExistsError, match="overwrite=True"):
        convert_eyelink(src, dst)
