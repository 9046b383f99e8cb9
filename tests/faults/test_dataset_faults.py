"""Fault tests of the converters and dataset readers (issue 19).

Each test feeds one damaged or ill-typed input and asserts the exact outcome:
a neuroattn error naming the file and the fix, a ConversionWarning naming the
file, or exit status 2 with one ``error:`` line and no traceback.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import h5py
import mne
import mne_bids
import numpy as np
import pytest
import torch

from neuroattn.__main__ import main
from neuroattn.datasets import make_synthetic_ieeg
from neuroattn.datasets.bids import BIDSFormatError, convert_bids_ieeg
from neuroattn.datasets.capmit1003 import SCHEMA_SQL, CapMIT1003FormatError, read_capmit1003
from neuroattn.datasets.cocosearch18 import COCOSearch18FormatError, read_cocosearch18
from neuroattn.datasets.edf import TruncatedRecordingError, convert_edf, edf_header_duration
from neuroattn.datasets.prepare import ConversionWarning
from neuroattn.datasets.swec import SWECFormatError, convert_swec
from neuroattn.errors import NeuroattnError
from neuroattn.retina.foveated_cnn import FoveatedResNet, ResNetWeightsError
from neuroattn.retina.logpolar import LogPolar
from neuroattn.store import StoreError, open_store
from neuroattn.testing.files import write_swec_h5

SFREQ = 128.0


# --- fixtures: real files written here ------------------------------------------------------


@pytest.fixture(scope="module")
def edf(tmp_path_factory) -> Path:
    """A complete 60 s EDF+ (4 contacts at 128 Hz, one seizure)."""
    rec = make_synthetic_ieeg(n_channels=4, duration_s=60.0, sfreq=SFREQ, n_seizures=1, seed=1)
    return rec.to_edf(tmp_path_factory.mktemp("edf") / "rec.edf")


@pytest.fixture(scope="module")
def cut_edf(edf) -> Path:
    """The same EDF cut in half, as an interrupted copy leaves it."""
    cut = edf.with_name("cut.edf")
    data = edf.read_bytes()
    cut.write_bytes(data[:len(data) // 2])
    return cut


@pytest.fixture(scope="module")
def bids_template(edf, tmp_path_factory) -> Path:
    """A BIDS root written by mne_bids: sub-01, task rest, sEEG contacts, LA2 bad."""
    root = tmp_path_factory.mktemp("bids") / "ds"
    raw = mne.io.read_raw_edf(edf, verbose="error")
    raw.set_channel_types(dict.fromkeys(raw.ch_names, "seeg"))
    raw.info["bads"] = ["LA2"]
    path = mne_bids.BIDSPath(subject="01", task="rest", root=root, datatype="ieeg")
    mne_bids.write_raw_bids(raw, path, verbose="error")
    return root


@pytest.fixture
def bids_root(bids_template, tmp_path) -> Path:
    """A fresh copy of the BIDS root that a test may damage."""
    return Path(shutil.copytree(bids_template, tmp_path / "ds"))


def _sidecar(root: Path, suffix: str) -> Path:
    return next(root.rglob(f"*_{suffix}.tsv"))


# --- item 6: a truncated EDF ----------------------------------------------------------------


def test_truncated_edf_is_refused_naming_the_file_and_the_fix(cut_edf, tmp_path):
    dst = tmp_path / "cut.zarr"
    with pytest.raises(TruncatedRecordingError,
                       match=r"cut\.edf is truncated: its header declares 60 s but the file "
                             r"holds only 29 s .*allow_truncated=True \(CLI: --allow-truncated\)"
                       ) as err:
        convert_edf(cut_edf, dst)
    assert isinstance(err.value, NeuroattnError) and isinstance(err.value, ValueError)
    assert not dst.exists()


def test_truncated_edf_allowed_warns_and_is_marked_in_the_store(cut_edf, tmp_path):
    with pytest.warns(ConversionWarning, match=r"cut\.edf is truncated: .*60 s .*29 s .*"
                                               r"truncated_from_s=60"):
        ds = open_store(convert_edf(cut_edf, tmp_path / "cut.zarr", allow_truncated=True))
    assert ds.attrs["truncated_from_s"] == 60.0
    assert ds.sizes["time"] == 29 * SFREQ


def test_complete_edf_converts_without_warning_or_mark(edf, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConversionWarning)
        ds = open_store(convert_edf(edf, tmp_path / "rec.zarr"))
    assert "truncated_from_s" not in ds.attrs and ds.sizes["time"] == 60 * SFREQ
    assert edf_header_duration(edf) == 60.0
    assert edf_header_duration(tmp_path / "rec.zarr" / "zarr.json") is None


def test_mne_warnings_are_surfaced_naming_the_file(edf, tmp_path):
    """An EDF longer than its header says: MNE's warning comes back as ours."""
    data = edf.read_bytes()
    header = int(data[184:192])
    record = (len(data) - header) // 60
    long_edf = tmp_path / "long.edf"
    long_edf.write_bytes(data + data[header:header + record])
    with pytest.warns(ConversionWarning, match=r"long\.edf: Number of records from the header "
                                               r"does not match the file size"):
        ds = open_store(convert_edf(long_edf, tmp_path / "long.zarr"))
    assert "truncated_from_s" not in ds.attrs


def test_truncated_edf_in_bids_is_refused(bids_root, tmp_path):
    data_file = next(bids_root.rglob("*_ieeg.edf"))
    data = data_file.read_bytes()
    data_file.write_bytes(data[:len(data) // 2])
    with pytest.raises(TruncatedRecordingError, match=r"sub-01_task-rest_ieeg\.edf is truncated"
                                                      r".*--allow-truncated"):
        convert_bids_ieeg(bids_root, tmp_path / "b.zarr", subject="01")
    with pytest.warns(ConversionWarning, match=r"_ieeg\.edf is truncated"):
        ds = open_store(convert_bids_ieeg(bids_root, tmp_path / "b.zarr", subject="01",
                                          allow_truncated=True))
    assert ds.attrs["truncated_from_s"] == 60.0


# --- item 6: BIDS sidecars ------------------------------------------------------------------


def test_bids_intact_sidecars_keep_types_and_bads(bids_root, tmp_path):
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*channels.tsv", category=ConversionWarning)
        ds = open_store(convert_bids_ieeg(bids_root, tmp_path / "b.zarr", subject="01"))
    assert set(ds.ch_type.values) == {"seeg"} and ds.bad.values.tolist() == [0, 1, 0, 0]


def test_bids_missing_channels_tsv_warns_naming_the_file(bids_root, tmp_path):
    _sidecar(bids_root, "channels").unlink()
    with pytest.warns(ConversionWarning,
                      match=r"sub-01_task-rest_ieeg\.edf: no \*_channels\.tsv sidecar .*channel "
                            r"types .*bad flags; add sub-01_task-rest_channels\.tsv"):
        ds = open_store(convert_bids_ieeg(bids_root, tmp_path / "b.zarr", subject="01"))
    assert set(ds.ch_type.values) == {"eeg"} and not ds.bad.values.any()  # what was lost


def test_bids_binary_channels_tsv_warns_naming_the_sidecar(bids_root, tmp_path):
    _sidecar(bids_root, "channels").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.warns(ConversionWarning,
                      match=r"sub-01_task-rest_channels\.tsv cannot be read as UTF-8 text .*not "
                            r"a readable BIDS channels table"):
        convert_bids_ieeg(bids_root, tmp_path / "b.zarr", subject="01")


def test_bids_channels_tsv_without_header_warns(bids_root, tmp_path):
    _sidecar(bids_root, "channels").write_text("garbage not a tsv\n{{{\n")
    with pytest.warns(ConversionWarning,
                      match=r"_channels\.tsv has no column\(s\) \['name', 'type'\]"):
        convert_bids_ieeg(bids_root, tmp_path / "b.zarr", subject="01")


def test_bids_ragged_channels_tsv_is_an_error_naming_the_sidecar(bids_root, tmp_path):
    _sidecar(bids_root, "channels").write_text("name\ttype\nLA1\n")
    with (pytest.warns(ConversionWarning, match=r"_channels\.tsv has 1 field\(s\) on line 2"),
          pytest.raises(BIDSFormatError,
                        match=r"mne_bids cannot read .*_ieeg\.edf .*its sidecars: .*"
                              r"_channels\.tsv has 1 field\(s\) on line 2 for 2 columns")):
        convert_bids_ieeg(bids_root, tmp_path / "b.zarr", subject="01")
    assert not (tmp_path / "b.zarr").exists()


def test_bids_garbled_events_tsv_is_an_error_naming_the_sidecar(bids_root, tmp_path):
    _sidecar(bids_root, "events").write_text("onset\tduration\nxx\t1.0\n")
    with (pytest.warns(ConversionWarning, match=r"_events\.tsv has onset='xx' on line 2, not a "
                                                r"number or n/a"),
          pytest.raises(BIDSFormatError, match=r"its sidecars: .*_events\.tsv has onset='xx'")):
        convert_bids_ieeg(bids_root, tmp_path / "b.zarr", subject="01")


def test_bids_garbled_electrodes_tsv_is_an_error_naming_the_sidecar(bids_root, tmp_path):
    electrodes = _sidecar(bids_root, "electrodes")
    electrodes.write_text("name\tx\ty\tz\tsize\nLA1\tleft\t0\t0\tn/a\n")
    with (pytest.warns(ConversionWarning, match=r"_electrodes\.tsv has x='left' on line 2"),
          pytest.raises(BIDSFormatError, match=r"could not convert .*its sidecars: .*"
                                               r"sub-01_electrodes\.tsv has x='left'")):
        convert_bids_ieeg(bids_root, tmp_path / "b.zarr", subject="01")


# --- SWEC: strings and NaN ------------------------------------------------------------------


def test_swec_strings_are_a_format_error(tmp_path):
    src = tmp_path / "ID03_total.h5"
    with h5py.File(src, "w") as f:
        f.create_dataset("data/ieeg", data=np.full((3, 100), b"x", dtype="S1"))
        f.attrs["sampling_rate"] = 10.0
    with pytest.raises(SWECFormatError,
                       match=r"ID03_total\.h5: data/ieeg holds \|S1 values, not numbers; .*"
                             r"astype\('float32'\)"):
        convert_swec(src, tmp_path / "s.zarr")


def test_swec_nan_names_file_channel_and_sample(tmp_path):
    data = np.zeros((3, 5000), "float32")
    data[2, 4000] = np.nan
    src = write_swec_h5(tmp_path / "ID04_total.h5", data, 100.0, chunk_s=10.0)
    with pytest.raises(SWECFormatError,
                       match=r"ID04_total\.h5: data/ieeg holds nan at channel ch2 .*sample 4000 "
                             r"\(40\.000 s\).*channels=\[\.\.\.\]"):
        convert_swec(src, tmp_path / "s.zarr")
    assert not (tmp_path / "s.zarr").exists()
    out = open_store(convert_swec(src, tmp_path / "s.zarr", channels=["ch0", "ch1"]))
    assert out.sizes["channel"] == 2  # the fix the message gives works


# --- gaze readers: out-of-frame positions and wrong types -----------------------------------


def _coco(tmp_path: Path, **fields) -> Path:
    trial = {"name": "a.jpg", "subject": 2, "task": "bottle", "condition": "present",
             "X": [840.0, 100.0], "Y": [525.0, 80.0], "T": [200, 300]}
    trial.update(fields)
    path = tmp_path / "coco_search18_fixations_TP_validation_split1.json"
    path.write_text(json.dumps([trial]))
    return path


@pytest.mark.parametrize(("x", "y"), [(-500.0, 99999.0), (1680.5, 10.0), (10.0, -0.1)])
def test_cocosearch18_fixation_outside_the_frame(tmp_path, x, y):
    path = _coco(tmp_path, X=[840.0, x], Y=[525.0, y])
    with pytest.raises(COCOSearch18FormatError,
                       match=rf"validation_split1\.json: trial 0 \(image 'a\.jpg'\): fixation 1 "
                             rf"at \(x={x:g}, y={y:g}\) lies outside the 1680 x 1050 px display "
                             r"frame"):
        read_cocosearch18(path)


def test_cocosearch18_frame_edges_are_inside(tmp_path):
    ds = read_cocosearch18(_coco(tmp_path, X=[0.0, 1680.0], Y=[1050.0, 0.0]))
    assert ds.x.values.tolist() == [0.0, 1680.0]


@pytest.mark.parametrize(("field", "value"), [
    ("subject", {"id": 2}), ("subject", [2]), ("subject", True), ("name", None),
    ("task", 3.5), ("subject", ""),
])
def test_cocosearch18_label_of_the_wrong_type(tmp_path, field, value):
    path = _coco(tmp_path, **{field: value})
    with pytest.raises(COCOSearch18FormatError,
                       match=rf"trial 0.*: field '{field}' is .*not a non-empty string or whole "
                             "number"):
        read_cocosearch18(path)


def test_cocosearch18_split_of_the_wrong_type(tmp_path):
    with pytest.raises(COCOSearch18FormatError, match=r"field 'split' is \{'a': 1\}"):
        read_cocosearch18(_coco(tmp_path, split={"a": 1}))


@pytest.mark.parametrize(("x", "shown"), [("'left'", "x='left'"), ("-5", "x=-5")])
def test_capmit1003_click_position_must_be_a_pixel(tmp_path, x, shown):
    db = tmp_path / "capmit1003.db"
    cnx = sqlite3.connect(db)
    cnx.executescript(SCHEMA_SQL + "INSERT INTO captions VALUES ('o1', 'u1', 0, 'a car', 'i1');"
                      f"INSERT INTO clicks VALUES (1, 'o1', 10, 20, 1.0), (2, 'o1', {x}, 5, 2.0);")
    cnx.close()
    with pytest.raises(CapMIT1003FormatError,
                       match=rf"capmit1003\.db, observation 'o1': a click has {shown}"):
        read_capmit1003(db)


# --- foveated CNN: a pickle instead of a state dict -----------------------------------------


class _Payload:
    """Unpickling this would create a file: proof that nothing ran if it is absent."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_foveated_resnet_refuses_a_pickle(tmp_path):
    marker = tmp_path / "unpickled"
    evil = tmp_path / "evil.pth"
    torch.save({"conv1.weight": _Payload(marker)}, evil)
    with pytest.raises(ResNetWeightsError,
                       match=r"evil\.pth is not a weights-only state dict \(UnpicklingError.*"
                             r"never unpickled here.*state_dict\(\)") as err:
        FoveatedResNet("resnet18", num_classes=3, log_polar=LogPolar(16, 16), weights=evil)
    assert isinstance(err.value, NeuroattnError) and isinstance(err.value, ValueError)
    assert not marker.exists()


def test_foveated_resnet_refuses_a_non_dict(tmp_path):
    path = tmp_path / "tensor.pth"
    torch.save(torch.zeros(3), path)
    with pytest.raises(ResNetWeightsError, match=r"tensor\.pth holds a Tensor, not a state dict"):
        FoveatedResNet("resnet18", num_classes=3, log_polar=LogPolar(16, 16), weights=path)


# --- the CLI: one line, exit status 2 -------------------------------------------------------


def test_cli_truncated_edf_exits_2_without_traceback(cut_edf, tmp_path):
    dst = tmp_path / "cut.zarr"
    run = subprocess.run([sys.executable, "-m", "neuroattn", "convert", "edf", str(cut_edf),
                          str(dst)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    lines = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "cut.edf is truncated" in lines[0]
    assert "--allow-truncated" in lines[0] and not dst.exists()


def test_cli_allow_truncated_converts_with_a_warning(cut_edf, tmp_path):
    dst = tmp_path / "cut.zarr"
    with pytest.warns(ConversionWarning, match=r"cut\.edf is truncated"):
        assert main(["-q", "convert", "edf", str(cut_edf), str(dst), "--allow-truncated"]) == 0
    assert open_store(dst).attrs["truncated_from_s"] == 60.0


@pytest.mark.parametrize(("argv", "match"), [
    (["convert", "swec", "{nan_h5}", "{dst}"],
     r"ID05_total\.h5: data/ieeg holds inf at channel ch1 .*sample 7"),
    (["convert", "swec", "{nan_h5}", "{dst}", "--allow-truncated"],
     "no option 'allow_truncated'"),
    (["convert", "cocosearch18", "{coco}", "{dst}"], "lies outside the 1680 x 1050 px"),
    (["synth", "ieeg", "--out", "{nan_h5}"], r"ID05_total\.h5 exists; pass --overwrite"),
    (["synth", "ieeg", "--out", "{dst}", "--duration", "5", "--figure", "none"],
     "too short"),
])
def test_cli_expected_failures_exit_2_on_one_line(tmp_path, capsys, argv, match):
    data = np.zeros((2, 300), "float32")
    data[1, 7] = np.inf
    fill = {"nan_h5": write_swec_h5(tmp_path / "ID05_total.h5", data, 10.0),
            "coco": _coco(tmp_path, X=[-500.0], Y=[99999.0], T=[100]),
            "dst": tmp_path / "o.zarr"}
    assert main(["-q", *(a.format(**fill) for a in argv)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert re.search(match, err[0]), err[0]


# --- SIGKILL during a conversion ------------------------------------------------------------

_KILLED_CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import mne
    import neuroattn.datasets.prepare as prepare
    from neuroattn.datasets.edf import convert_edf

    prepare._CHUNK_MB = 0.01  # many small chunks, so the first block reaches the disk
    src, dst, marker = map(Path, sys.argv[1:4])
    read = mne.io.BaseRaw.get_data
    calls = []

    def get_data(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the first 60 s block is written: wait here to be killed
            marker.touch()
            time.sleep(120)
        return read(self, *args, **kwargs)

    mne.io.BaseRaw.get_data = get_data
    convert_edf(src, dst)
""")


@pytest.mark.slow
def test_sigkill_during_conversion_publishes_nothing(tmp_path):
    rec = make_synthetic_ieeg(n_channels=4, duration_s=150.0, sfreq=SFREQ, n_seizures=1, seed=2)
    src = rec.to_edf(tmp_path / "long.edf")
    dst, marker = tmp_path / "long.zarr", tmp_path / "first-block-written"
    script = tmp_path / "child.py"
    script.write_text(_KILLED_CHILD)
    child = subprocess.Popen([sys.executable, str(script), str(src), str(dst), str(marker)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert child.poll() is None, child.communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline, "the child never reached its second block"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate()
    assert child.returncode == -signal.SIGKILL
    assert not dst.exists()
    with pytest.raises(StoreError):
        open_store(dst)
    ds = open_store(convert_edf(src, dst))
    assert ds.sizes["time"] == 150 * SFREQ and ds.attrs["neuroattn_status"] == "complete"
