"""Tests of the COCO-Search18 reader and converter, on files written in the released layout."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from neuroattn.datasets import CONVERTERS
from neuroattn.datasets.cocosearch18 import (
    COCOSearch18FormatError,
    cocosearch18_trials,
    convert_cocosearch18,
    read_cocosearch18,
)
from neuroattn.datasets.convert import convert, converter_options
from neuroattn.store import open_store


def _trial(name="000000211326.jpg", subject=2, task="bottle", n=5, seed=0, **fields):
    """One record as in coco_search18_fixations_TP_*.json (values shaped like the real ones)."""
    rng = np.random.default_rng(seed)
    rec = {"name": name, "subject": subject, "task": task, "condition": "present",
           "bbox": [377, 0, 288, 213],
           "X": [848.3, *np.round(rng.uniform(0, 1680, n - 1), 1).tolist()],
           "Y": [530.0, *np.round(rng.uniform(0, 1050, n - 1), 1).tolist()],
           "T": rng.integers(40, 700, n).tolist(), "length": n, "correct": 1, "RT": 920,
           "split": "valid"}
    rec.update(fields)
    return rec


def _absent(name="000000000139.jpg", subject=4, task="car", n=3):
    """A target-absent record: no bbox, no RT (as in the TA files)."""
    rec = _trial(name, subject, task, n, seed=5, condition="absent", correct=0, split="train")
    del rec["bbox"], rec["RT"]
    return rec


def _write(path, records):
    path.write_text(json.dumps(records, indent=4))
    return path


@pytest.fixture
def files(tmp_path):
    tp = _write(tmp_path / "coco_search18_fixations_TP_validation_split1.json",
                [_trial(n=5), _trial("000000350270.jpg", subject=7, task="potted plant", n=7,
                                     seed=1, fixOnTarget=True)])
    ta = _write(tmp_path / "coco_search18_fixations_TA_trainval.json", [_absent()])
    return tp, ta


def test_reads_fixations_in_pixels_and_seconds(files):
    tp, ta = files
    ds = read_cocosearch18([tp, ta])
    assert ds.sizes["row"] == 5 + 7 + 3
    first = _trial(n=5)
    np.testing.assert_array_equal(ds.x.values[:5], first["X"])
    np.testing.assert_array_equal(ds.y.values[:5], first["Y"])
    np.testing.assert_allclose(ds.duration.values[:5], np.array(first["T"]) / 1000)
    assert ds.trial.values.tolist() == [0] * 5 + [1] * 7 + [2] * 3
    assert ds.fixation.values.tolist() == [*range(5), *range(7), *range(3)]
    assert set(ds.subject.values[:5]) == {"2"} and set(ds.subject.values[5:12]) == {"7"}
    assert ds.task.values[5] == "potted plant" and ds.condition.values[-1] == "absent"
    # the target box and the trial fields are on every row of the trial
    np.testing.assert_array_equal(ds.bbox_w.values[:12], 288.0)
    assert np.isnan(ds.bbox_x.values[12:]).all()
    assert ds.rt.values[0] == pytest.approx(0.92) and np.isnan(ds.rt.values[-1])
    assert ds.correct.values.tolist() == [1] * 12 + [0] * 3
    assert ds.fix_on_target.values.tolist() == [-1] * 5 + [1] * 7 + [-1] * 3
    assert ds.split.values[0] == "valid" and ds.source.values[-1] == ta.name
    assert ds.attrs["image_width"] == 1680 and ds.attrs["image_height"] == 1050
    assert ds.attrs["units"] == "px" and ds.attrs["source_files"] == [tp.name, ta.name]


def test_trial_table(files):
    trials = cocosearch18_trials(read_cocosearch18(list(files)))
    assert trials["trial"].tolist() == [0, 1, 2]
    assert trials["length"].tolist() == [5, 7, 3]
    assert trials["image"].tolist() == ["000000211326.jpg", "000000350270.jpg",
                                        "000000000139.jpg"]
    assert trials.loc[0, ["bbox_x", "bbox_y", "bbox_w", "bbox_h"]].tolist() == [377, 0, 288, 213]


def test_folder_and_drop_initial(files, tmp_path):
    (tmp_path / "notes.json").write_text("{}")  # not a fixation file: ignored
    ds = read_cocosearch18(tmp_path)  # sorted: TA_trainval before TP_validation
    assert ds.source.values[0] == files[1].name and ds.sizes["row"] == 15
    dropped = read_cocosearch18(tmp_path, drop_initial=True)
    assert dropped.sizes["row"] == 15 - 3
    assert dropped.attrs["initial_fixation"] == "dropped"
    np.testing.assert_array_equal(dropped.x.values[:2], _absent()["X"][1:])
    one = _write(tmp_path / "one.json", [_trial(n=1)])
    with pytest.raises(ValueError, match="only the initial fixation"):
        read_cocosearch18(one, drop_initial=True)


@pytest.mark.parametrize(("change", "match"), [
    ({"T": None}, r"trial 1 \(image '000000211326.jpg'\) has no field\(s\) \['T'\]"),
    ({"Y": [1.0, 2.0]}, r"X, Y and T have different lengths \(5, 2, 5\)"),
    ({"X": [848.3, math.nan, 1.0, 2.0, 3.0]}, r"X\[1\] is nan; .* must be finite"),
    ({"X": [], "Y": [], "T": [], "length": 0}, "empty scanpath"),
    ({"length": 6}, "'length' is 6 but X holds 5"),
    ({"condition": "TP"}, "condition 'TP' must be 'present' or 'absent'"),
    ({"bbox": [1, 2, 3]}, r"bbox must be \[x, y, w, h\]"),
    ({"T": [100, -5, 100, 100, 100]}, "negative duration"),
    ({"X": ["848.3", 1, 2, 3, 4]}, "'X' must be a list of numbers"),
    ({"RT": "fast"}, "'RT' must be a finite number"),
    ({"correct": 2}, "'correct' must be 0/1"),
])
def test_bad_trials_are_named(tmp_path, change, match):
    bad = _trial(n=5)
    for key, value in change.items():
        if value is None:
            del bad[key]
        else:
            bad[key] = value
    path = _write(tmp_path / "coco_search18_fixations_TP_train_split1.json", [_trial(), bad])
    with pytest.raises(COCOSearch18FormatError, match=match) as info:
        read_cocosearch18(path)
    assert path.name in str(info.value)


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_cocosearch18(tmp_path / "missing.json")
    with pytest.raises(FileNotFoundError, match="holds no coco_search18_fixations"):
        read_cocosearch18(tmp_path)
    obj = tmp_path / "obj.json"
    obj.write_text(json.dumps({"trials": []}))
    with pytest.raises(COCOSearch18FormatError, match="top level is a dict"):
        read_cocosearch18(obj)
    obj.write_text("[{")
    with pytest.raises(COCOSearch18FormatError, match="not valid JSON"):
        read_cocosearch18(obj)
    obj.write_text("[]")
    with pytest.raises(COCOSearch18FormatError, match="holds no trials"):
        read_cocosearch18(obj)
    obj.write_text("[[1, 2]]")
    with pytest.raises(COCOSearch18FormatError, match="trial 0 is a list"):
        read_cocosearch18(obj)


def test_convert_writes_a_fixations_store(files, tmp_path):
    assert CONVERTERS["cocosearch18"] is convert_cocosearch18
    assert set(converter_options("cocosearch18")) >= {"drop_initial", "overwrite"}
    dst = convert("cocosearch18", tmp_path, tmp_path / "cs18.zarr")
    ds = open_store(dst, kind="fixations")
    ref = read_cocosearch18(tmp_path)
    np.testing.assert_array_equal(ds.x.values, ref.x.values)
    np.testing.assert_array_equal(ds.duration.values, ref.duration.values)
    assert ds.task.values.tolist() == ref.task.values.tolist()
    assert ds.correct.dtype == np.int8
    with pytest.raises(FileExistsError, match="overwrite=True"):
        convert("cocosearch18", tmp_path, dst)
    convert("cocosearch18", files[0], dst, overwrite=True, drop_initial=True)
    assert open_store(dst).sizes["row"] == 5 + 7 - 2


def test_cli_convert(files, tmp_path):
    from neuroattn.__main__ import main

    dst = tmp_path / "cli.zarr"
    assert main(["-q", "convert", "cocosearch18", str(files[0]), str(dst)]) == 0
    n_rows = read_cocosearch18(files[0]).sizes["row"]
    assert open_store(dst, kind="fixations").sizes["row"] == n_rows
