"""Tests of OAT's object-annotated search data: layouts, trials, the three readers, split."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from neuroattn.datasets.fixation_objects import assign_objects
from neuroattn.datasets.oat_search import (
    OAT_GRIDS,
    OATFormatError,
    SearchData,
    SearchLayout,
    SearchTrial,
    grid_layout,
    layout_from_mask,
    oat_grid,
    read_amazon_covers,
    read_oat_collected,
    read_oat_search,
    read_permutation,
    write_oat_search,
)
from neuroattn.store import open_store, write_store

# -- neuroattn's CSV layout ------------------------------------------------------------------


def _objects_csv(path, layouts):
    rows = []
    for name, (n_rows, n_cols, w, h) in layouts.items():
        for i in range(n_rows * n_cols):
            r, c = divmod(i, n_cols)
            rows.append({"layout": name, "object": i, "row": r, "col": c, "x0": c * w + 2,
                         "y0": r * h + 3, "x1": (c + 1) * w - 2, "y1": (r + 1) * h - 3,
                         "image": f"{name}.png"})
    pd.DataFrame(rows).sample(frac=1.0, random_state=0).to_csv(path, index=False)


@pytest.fixture
def oat_root(tmp_path):
    """Two layouts (2 x 3 and 3 x 4 cells), four trials, one with durations and objects."""
    _objects_csv(tmp_path / "objects.csv", {"L1": (2, 3, 100, 60), "07": (3, 4, 50, 40)})
    fix = [
        # subject, layout, trial, target, fixation, x, y
        ("s01", "L1", 10, 5, 1, 150.0, 30.0), ("s01", "L1", 10, 5, 0, 50.0, 30.0),
        ("s01", "L1", 10, 5, 2, 250.0, 90.0),
        ("s02", "L1", 11, 0, 0, 99.0, 59.0),
        ("s02", "07", 3, 11, 0, 10.0, 10.0), ("s02", "07", 3, 11, 1, 190.0, 110.0),
        ("s03", "07", 4, 0, 0, 300.0, 300.0),
    ]
    frame = pd.DataFrame(fix, columns=["subject", "layout", "trial", "target", "fixation",
                                       "x", "y"])
    frame["duration"] = [0.2, 0.1, 0.3, 0.25, np.nan, np.nan, np.nan]
    frame["task"] = ["books", "books", "books", "books", "", "", ""]
    frame.to_csv(tmp_path / "fixations.csv", index=False)
    return tmp_path


def test_read_oat_search(oat_root):
    data = read_oat_search(oat_root)
    assert len(data) == 4 and sorted(data.layouts) == ["07", "L1"]
    first = data[0]
    assert (first.trial, first.subject, first.target, first.task) == (10, "s01", 5, "books")
    # fixations sorted by their 'fixation' column, assigned with OAT's rule
    assert first.x.tolist() == [50.0, 150.0, 250.0]
    assert first.duration.tolist() == [0.1, 0.2, 0.3]
    assert first.objects.tolist() == [0, 1, 5] and first.found
    assert data[1].objects.tolist() == [0] and data[1].found  # (99, 59): in the gap -> centre
    lay = data.layouts["07"]  # a layout id that looks like a number stays text
    assert (lay.n_rows, lay.n_cols, lay.image) == (3, 4, "07.png")
    assert data[2].objects.tolist() == [0, 11] and np.isnan(data[2].duration).all()
    assert data[2].task == "" and data[3].objects.tolist() == [11] and not data[3].found
    np.testing.assert_array_equal(lay.rows, np.arange(12) // 4)
    np.testing.assert_allclose(lay.centres[5], [75, 60])


def test_objects_column_is_used_and_checked(oat_root):
    frame = pd.read_csv(oat_root / "fixations.csv", dtype={"layout": str})
    frame["object"] = [4, 4, 4, 2, 1, 1, 1]
    frame.to_csv(oat_root / "fixations.csv", index=False)
    assert read_oat_search(oat_root)[0].objects.tolist() == [4, 4, 4]
    frame["object"] = [4, 4, 4, 6, 1, 1, 1]  # layout L1 has 6 objects
    frame.to_csv(oat_root / "fixations.csv", index=False)
    with pytest.raises(OATFormatError, match=r"object indices must lie in 0..5; got \[6\]"):
        read_oat_search(oat_root)
    frame["object"] = [4, 4, np.nan, 2, 1, 1, 1]
    frame.to_csv(oat_root / "fixations.csv", index=False)
    with pytest.raises(OATFormatError, match="whole numbers"):
        read_oat_search(oat_root)


def test_round_trip_and_store(oat_root, tmp_path):
    data = read_oat_search(oat_root)
    again = read_oat_search(write_oat_search(data, tmp_path / "copy"))
    for a, b in zip(data, again, strict=True):
        np.testing.assert_array_equal(a.x, b.x)
        np.testing.assert_array_equal(a.objects, b.objects)
        np.testing.assert_array_equal(a.layout.boxes, b.layout.boxes)
        assert (a.subject, a.target, a.trial, a.task) == (b.subject, b.target, b.trial, b.task)
    ds = data[:2].to_fixations()
    assert ds.sizes["row"] == 4 and ds.object.values.tolist() == [0, 1, 5, 0]
    assert ds.image.values[0] == "L1.png" and ds.target.values.tolist() == [5, 5, 5, 0]
    stored = open_store(write_store(ds, tmp_path / "oat.zarr"), kind="fixations")
    assert stored.layout.values.tolist() == ["L1"] * 4
    with pytest.raises(ValueError, match="holds NaN"):  # no durations in trials 3 and 4
        write_store(data.to_fixations(), tmp_path / "nan.zarr")


@pytest.mark.parametrize(("edit", "match"), [
    (lambda o, f: o.drop(columns="x1"), r"objects.csv has no column\(s\) \['x1'\]"),
    (lambda o, f: o.assign(col=o["col"].where(o["object"] != 1, 2)), "not numbered row-major"),
    (lambda o, f: o[o["object"] != 4], "not numbered row-major"),
    (lambda o, f: o.assign(x1=o["x1"].where(o["object"] != 2, -1)), "x1 < x0"),
])
def test_bad_object_tables(oat_root, edit, match):
    path = oat_root / "objects.csv"
    edit(pd.read_csv(path, dtype={"layout": str}), None).to_csv(path, index=False)
    with pytest.raises(OATFormatError, match=match):
        read_oat_search(oat_root)


@pytest.mark.parametrize(("edit", "match"), [
    (lambda f: f.drop(columns="target"), r"no column\(s\) \['target'\]"),
    (lambda f: f.assign(layout="L9"), r"layout\(s\) \['L9'\] are not in objects.csv"),
    (lambda f: f.assign(target=[5, 4, 5, 0, 11, 11, 0]), "several values of 'target'"),
    (lambda f: f.assign(target=[6, 6, 6, 0, 11, 11, 0]), "target 6 is not an object index"),
    (lambda f: f.assign(x=[1.0, np.nan, 2, 3, 4, 5, 6]), "x holds NaN"),
])
def test_bad_fixation_tables(oat_root, edit, match):
    path = oat_root / "fixations.csv"
    edit(pd.read_csv(path, dtype={"layout": str})).to_csv(path, index=False)
    with pytest.raises(OATFormatError, match=match):
        read_oat_search(oat_root)


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="objects.csv and fixations.csv"):
        read_oat_search(tmp_path)


# -- layouts --------------------------------------------------------------------------------


def test_layout_checks():
    with pytest.raises(ValueError, match="5 boxes do not fill a 2 x 3 grid"):
        SearchLayout("x", np.ones((5, 4)), 2, 3)
    with pytest.raises(ValueError, match="cell_size"):
        grid_layout("g", 1, 1, (0, 5))
    lay = grid_layout("g", 2, 2, (10, 20))
    with pytest.raises(ValueError, match="read-only"):
        lay.boxes[0, 0] = 5.0


def test_oat_grids_of_the_collected_screens():
    for prefix, (_task, rows, cols, (w, h)) in OAT_GRIDS.items():
        lay = oat_grid(f"{prefix}_12")
        assert (lay.n_rows, lay.n_cols, lay.image) == (rows, cols, f"{prefix}_12.png")
        assert lay.boxes[:, 3].max() == 1050 and lay.boxes[0, 0] == 0  # bottom-left aligned
        np.testing.assert_allclose(lay.boxes[:, 2] - lay.boxes[:, 0], w)
        np.testing.assert_allclose(lay.boxes[:, 3] - lay.boxes[:, 1], h)
    assert oat_grid("Q1_1").n_objects == 22 and oat_grid("Q3_4").n_objects == 27
    with pytest.raises(OATFormatError, match="Q1 \\(wine\\)"):
        oat_grid("Q4_1")


def _cover_mask(n_rows=6, n_cols=14, rgb=False, row_step=50):
    """A collage mask with unequal, slightly misaligned covers; returns (mask, boxes)."""
    boxes = []
    for r in range(n_rows):
        for c in range(n_cols):
            x0, y0 = 4 + c * 30, 3 + r * row_step + (c % 4)  # tops jitter by up to 3 px
            boxes.append((x0, y0, x0 + 24 + c % 3, y0 + 38))
    mask = np.zeros((n_rows * row_step + 8, n_cols * 30 + 6), np.uint8)
    for x0, y0, x1, y1 in boxes:
        mask[y0:y1, x0:x1] = 255
    if rgb:
        mask = np.repeat(mask[..., None], 3, axis=2)
    return mask, np.array(boxes, float)


def test_layout_from_mask_numbers_boxes_row_major():
    mask, boxes = _cover_mask()
    for m in (mask, mask > 0, _cover_mask(rgb=True)[0]):
        lay = layout_from_mask(m, 6, 14, name="1.jpg")
        np.testing.assert_array_equal(lay.boxes, boxes)
    with pytest.raises(OATFormatError, match="84 object regions, expected 5 x 14 = 70"):
        layout_from_mask(mask, 5, 14)
    # with rows 45 px apart, the tops of row 1 (48..51 px) straddle OAT's bin edge at 50
    with pytest.raises(OATFormatError, match="row 1 .* straddle a bin edge"):
        layout_from_mask(_cover_mask(row_step=45)[0], 6, 14)
    lay = layout_from_mask(_cover_mask(row_step=45)[0], 6, 14, row_tolerance=45)
    np.testing.assert_array_equal(lay.boxes, _cover_mask(row_step=45)[1])
    with pytest.raises(ValueError, match="must be \\(H, W\\)"):
        layout_from_mask(np.zeros((2, 2, 2, 2)), 1, 1)


# -- Amazon book covers (the STI Amazon.json layout) -----------------------------------------


@pytest.fixture
def amazon(tmp_path):
    from PIL import Image

    mask, boxes = _cover_mask()
    (tmp_path / "binarymask").mkdir()
    rng = np.random.default_rng(3)
    data = {}
    for image, target in (("1.jpg", 17), ("10.jpg", 80)):
        Image.fromarray(mask).save(tmp_path / "binarymask" / f"14x6-{image}", format="PNG")
        x0, y0, x1, y1 = boxes[target]
        gt = {"xmin": x0 + 1, "ymin": y0 + 2, "xmax": x1 + 3, "ymax": y1 - 1}
        fixations = {str(s): rng.uniform(0, 420, (int(rng.integers(3, 9)), 2)).round().tolist()
                     for s in range(1, 7)}
        data[image] = {"fixations": fixations, "ground_truth": [gt],
                       "size": {"height": mask.shape[0], "width": mask.shape[1]},
                       "target": f"target_{target}.jpg"}
    (tmp_path / "Amazon.json").write_text(json.dumps(data))
    return tmp_path, data, boxes


def test_read_amazon_covers(amazon):
    root, data, boxes = amazon
    covers = read_amazon_covers(root / "Amazon.json", root / "binarymask")
    assert len(covers) == 12 and {t.task for t in covers} == {"amazon"}
    assert [t.target for t in covers] == [17] * 6 + [80] * 6
    assert covers[6].target_name == "target_80.jpg" and covers[6].subject == "1"
    assert [t.trial for t in covers] == list(range(12))
    pts = np.asarray(data["10.jpg"]["fixations"]["2"])
    trial = covers[7]
    np.testing.assert_array_equal(trial.x, pts[:, 0])
    np.testing.assert_array_equal(trial.objects, assign_objects(pts[:, 0], pts[:, 1], boxes))
    assert np.isnan(trial.duration).all()
    # the same, with layouts given directly
    layouts = {name: SearchLayout(name, boxes, 6, 14) for name in data}
    again = read_amazon_covers(root / "Amazon.json", layouts)
    assert [t.objects.tolist() for t in again] == [t.objects.tolist() for t in covers]


def test_amazon_errors(amazon):
    root, data, _ = amazon
    with pytest.raises(FileNotFoundError, match="'14x6-<image>'"):
        read_amazon_covers(root / "Amazon.json", root)
    data["1.jpg"]["ground_truth"] = [{"xmin": 2000, "ymin": 2000, "xmax": 2100, "ymax": 2100}]
    (root / "Amazon.json").write_text(json.dumps(data))
    with pytest.raises(OATFormatError, match="overlaps no object box"):
        read_amazon_covers(root / "Amazon.json", root / "binarymask")
    del data["1.jpg"]["ground_truth"]
    (root / "Amazon.json").write_text(json.dumps(data))
    with pytest.raises(OATFormatError, match="lacks 'ground_truth'"):
        read_amazon_covers(root / "Amazon.json", root / "binarymask")


# -- OAT's collected wine / shampoo / yogurt tables ------------------------------------------


def test_read_oat_collected(tmp_path):
    rows = [
        # ID, Sub_ID, Question, Target, T_Package, Choice, X, Y, duration (ms)
        (1, 5, "Q1_3", "T1_2", 7, 1, 70.0, 300.0, 180),
        (1, 5, "Q1_3", "T1_2", 7, 7, 990.0, 350.0, 220),
        (2, 6, "Q3_21", "T3_1", 27, 14, 800.0, 500.0, 250),
        (2, 6, "Q3_21", "T3_1", 27, 27, 1600.0, 1000.0, 300),
    ]
    cols = ["ID", "Sub_ID", "Question", "Target", "T_Package", "Choice", "X", "Y", "Dur"]
    path = tmp_path / "time_Q13.csv"
    pd.DataFrame(rows, columns=cols).to_csv(path, index=False)
    data = read_oat_collected(path, duration_column="Dur")
    wine, yogurt = data
    assert (wine.task, wine.subject, wine.target, wine.target_name) == ("wine", "5", 6, "T1_2")
    assert wine.objects.tolist() == [0, 6] and wine.found
    assert wine.layout.n_objects == 22 and yogurt.layout.n_objects == 27
    assert yogurt.objects.tolist() == [13, 26] and yogurt.duration.tolist() == [0.25, 0.3]
    # OAT's own assignment agrees with its crop grid for these points
    assert yogurt.layout.assign(yogurt.x, yogurt.y).tolist() == [13, 26]
    bad = pd.DataFrame(rows, columns=cols).assign(Choice=0)
    bad.to_csv(path, index=False)
    with pytest.raises(OATFormatError, match="1-based"):
        read_oat_collected(path)
    bad.drop(columns="Choice").to_csv(path, index=False)
    with pytest.raises(OATFormatError, match=r"no column\(s\) \['Choice'\]"):
        read_oat_collected(path)


def test_collected_xlsx_needs_openpyxl(tmp_path):
    import zipfile

    path = tmp_path / "time_Q1.xlsx"
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(OATFormatError, match="cannot be read as a table"):
        read_oat_collected(path)
    with zipfile.ZipFile(path, "w") as zf:  # enough of an .xlsx for pandas to pick openpyxl
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="openpyxl"):
            read_oat_collected(path)
    else:
        pytest.skip("openpyxl is installed: the missing-dependency message cannot be checked")


# -- OAT's length filter and split ----------------------------------------------------------


def _trials(lengths, tasks):
    lay = grid_layout("g", 1, 3, (10, 10))
    return SearchData([SearchTrial(lay, "s", 2, x=np.full(n, 25.0), y=np.full(n, 5.0),
                                   task=task, trial=i)
                       for i, (n, task) in enumerate(zip(lengths, tasks, strict=True))])


def test_drop_length_outliers_is_mean_plus_minus_3_population_sd():
    rng = np.random.default_rng(0)
    lengths = np.r_[rng.integers(3, 20, 200), 60, 1]
    data = _trials(lengths, ["amazon"] * len(lengths))
    kept = data.drop_length_outliers()
    lo, hi = lengths.mean() - 3 * lengths.std(), lengths.mean() + 3 * lengths.std()
    assert kept.lengths.tolist() == [n for n in lengths if lo <= n <= hi]
    assert 60 not in kept.lengths and len(kept) == 201
    assert len(data.drop_length_outliers(n_sd=100)) == len(data)


def test_split_by_task_after_the_permutation(tmp_path):
    tasks = ["wine"] * 20 + ["yogurt"] * 10
    data = _trials([2] * 30, tasks)
    perm_path = tmp_path / "splitlist_all.txt"
    perm = np.random.default_rng(2).permutation(30)
    perm_path.write_text("\n".join(map(str, perm)))
    parts = data.split(read_permutation(perm_path))
    assert [len(parts[k]) for k in ("train", "val", "test")] == [16 + 8, 2 + 1, 2 + 1]
    ids = {k: [t.trial for t in v] for k, v in parts.items()}
    assert sorted(sum(ids.values(), [])) == list(range(30))
    wine_order = [i for i in perm if tasks[i] == "wine"]
    assert ids["val"][:2] == wine_order[16:18] and ids["test"][:2] == wine_order[18:]
    with pytest.raises(ValueError, match="each of 0..29 once"):
        data.split(perm[:-1])
    with pytest.raises(ValueError, match="fractions"):
        data.split(perm, fractions=(0.9, 0.8))
    perm_path.write_text("1\nx\n")
    with pytest.raises(OATFormatError, match="one integer a line"):
        read_permutation(perm_path)


def test_trial_checks():
    lay = grid_layout("g", 1, 3, (10, 10))
    with pytest.raises(ValueError, match="same, non-zero number"):
        SearchTrial(lay, "s", 0, x=[], y=[])
    with pytest.raises(ValueError, match="2 durations for 3 fixations"):
        SearchTrial(lay, "s", 0, x=[1, 2, 3], y=[1, 2, 3], duration=[0.1, 0.2])
    with pytest.raises(ValueError, match="target -1 is not an object index"):
        SearchTrial(lay, "s", -1, x=[1], y=[1])
    data = SearchData([SearchTrial(lay, "s", 0, [1], [1]), SearchTrial(lay, "s", 0, [1], [1])])
    with pytest.raises(ValueError, match="not unique"):
        data.to_fixations()
    with pytest.raises(ValueError, match="No trials"):
        SearchData([]).to_fixations()
