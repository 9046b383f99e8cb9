"""Tests of the CapMIT1003 reader, on SQLite databases written with the released schema."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from PIL import Image

from neuroattn.datasets import CapMIT1003, read_capmit1003
from neuroattn.datasets.capmit1003 import REQUIRED_COLUMNS, SCHEMA_SQL, CapMIT1003FormatError
from neuroattn.store import NonFiniteError, open_store, write_store
from neuroattn.store.schema import validate_metadata

# The three tables as in capmit1003.db (written out here, independently of SCHEMA_SQL).
TABLES = {
    "captions": "obs_uid TEXT, usr_uid TEXT, start_time, caption TEXT, img_uid TEXT",
    "images": "img_uid TEXT, img_path TEXT",
    "clicks": "click_id INTEGER, obs_uid TEXT, x REAL, y REAL, click_time",
}
STREET = "i05june05_static_street_boston_p1010764.jpeg"
CAPTIONS = [
    ("obs-a", "usr-1", "2022-06-01 09:59:58", "a man rides a bike down the street", "img-1"),
    ("obs-b", "usr-2", "2022-06-01 10:05:00", "two dogs on a sofa", "img-2"),
    ("obs-c", "usr-1", "2022-06-01 10:10:00", "an empty room", "img-1"),  # no clicks
]
IMAGES = [("img-1", STREET), ("img-2", "i1000795432.jpeg")]
CLICKS = [  # inserted out of order: click_id gives the order
    (12, "obs-a", 700, 120, "2022-06-01 10:00:03.125"),
    (10, "obs-a", 512, 384, "2022-06-01 10:00:01.000"),
    (11, "obs-a", 300, 200, "2022-06-01 10:00:01.750"),
    (21, "obs-b", 50, 60, "2022-06-01 10:05:02.500"),
    (20, "obs-b", 40, 30, "2022-06-01 10:05:01.000"),
]


def _write(path, tables=TABLES, captions=CAPTIONS, images=IMAGES, clicks=CLICKS):
    cnx = sqlite3.connect(path)
    for name, columns in tables.items():
        cnx.execute(f"CREATE TABLE {name}({columns})")
    for name, rows in (("captions", captions), ("images", images), ("clicks", clicks)):
        if rows:
            cnx.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' * len(rows[0]))})", rows)
    cnx.commit()
    cnx.close()
    return path


@pytest.fixture
def db(tmp_path):
    return _write(tmp_path / "capmit1003.db")


def test_captions_join_the_image_file(db):
    with CapMIT1003(db) as data:
        caps = data.captions()
    assert caps.columns.tolist() == ["obs_uid", "usr_uid", "img_uid", "caption", "start_time",
                                     "img_path"]
    assert caps["obs_uid"].tolist() == ["obs-a", "obs-b", "obs-c"]
    assert caps["img_path"].tolist() == [STREET, "i1000795432.jpeg", STREET]
    assert caps.loc[1, "caption"] == "two dogs on a sofa"
    assert caps.loc[0, "start_time"] == "2022-06-01 09:59:58"  # as stored


def test_click_path_is_ordered_and_timed_from_the_first_click(db):
    with CapMIT1003(db) as data:
        path = data.click_path("obs-a")
        assert data.click_path("obs-c").empty  # captioned, never clicked
    assert path["click_id"].tolist() == [10, 11, 12]
    assert path["x"].tolist() == [512.0, 300.0, 700.0]
    assert path["y"].tolist() == [384.0, 200.0, 120.0]
    np.testing.assert_allclose(path["t"], [0.0, 0.75, 2.125], atol=1e-9)


@pytest.mark.parametrize(("times", "expected"), [
    ([1654077601.5, 1654077602.0], [0.0, 0.5]),  # numbers: seconds
    (["2022-06-01T10:00:00Z", "2022-06-01T12:00:00.25+02:00"], [0.0, 0.25]),  # time zones
    (["2022-06-01 10:00:00", None], [0.0, np.nan]),  # an empty time stays unknown
])
def test_click_times_numbers_and_iso_text(tmp_path, times, expected):
    clicks = [(i, "obs-a", 1.0, 2.0, t) for i, t in enumerate(times)]
    with CapMIT1003(_write(tmp_path / "c.db", clicks=clicks)) as data:
        np.testing.assert_allclose(data.click_path("obs-a")["t"], expected, atol=1e-9)


def test_read_capmit1003_one_row_per_click(db):
    ds = read_capmit1003(db)
    validate_metadata(ds, "fixations")
    assert ds.sizes["row"] == 5
    assert ds.obs_uid.values.tolist() == ["obs-a"] * 3 + ["obs-b"] * 2
    assert ds.subject.values.tolist() == ["usr-1"] * 3 + ["usr-2"] * 2
    assert ds.image.values.tolist() == [STREET] * 3 + ["i1000795432.jpeg"] * 2
    assert ds.trial.values.tolist() == [0, 0, 0, 1, 1]
    assert ds.fixation.values.tolist() == [0, 1, 2, 0, 1]
    assert ds.click_id.values.tolist() == [10, 11, 12, 20, 21]
    np.testing.assert_array_equal(ds.x.values, [512, 300, 700, 40, 50])
    np.testing.assert_allclose(ds.start.values, [0, 0.75, 2.125, 0, 1.5], atol=1e-9)
    np.testing.assert_allclose(ds.duration.values, [0.75, 1.375, np.nan, 1.5, np.nan],
                               atol=1e-9)
    assert ds.caption.values[3] == "two dogs on a sofa"
    assert ds.attrs["units"] == "px" and ds.attrs["source_files"] == ["capmit1003.db"]


def test_stores_need_the_last_duration_filled_or_dropped(db, tmp_path):
    ds = read_capmit1003(db)
    with pytest.raises(NonFiniteError, match="'duration' holds NaN"):
        write_store(ds, tmp_path / "nan.zarr", kind="fixations")
    kept = ds.isel(row=ds.duration.notnull())  # the recipe of the docstring and the card
    back = open_store(write_store(kept, tmp_path / "kept.zarr", kind="fixations"))
    assert back.sizes["row"] == 3 and back.caption.values.tolist()[-1] == "two dogs on a sofa"
    assert back.trial.dtype == np.int64


def test_read_capmit1003_drops_clicks_without_caption(tmp_path, caplog):
    clicks = [*CLICKS, (30, "obs-unknown", 1, 1, "2022-06-01 11:00:00")]
    ds = read_capmit1003(_write(tmp_path / "c.db", clicks=clicks))
    assert ds.sizes["row"] == 5
    assert "obs-unknown" in caplog.text
    ds = read_capmit1003(_write(tmp_path / "i.db", images=IMAGES[:1]))  # img-2 has no row
    assert ds.image.values.tolist()[-2:] == ["", ""] and "no row in the images" in caplog.text
    with pytest.raises(CapMIT1003FormatError, match="holds no clicks"):
        read_capmit1003(_write(tmp_path / "n.db", clicks=[]))


def test_images_and_their_errors(db, tmp_path):
    stimuli = tmp_path / "ALLSTIMULI"
    stimuli.mkdir()
    Image.new("L", (8, 5), 90).save(stimuli / STREET)  # MIT1003 has some grey images
    with CapMIT1003(db) as data:
        assert data.image_path("img-1", stimuli) == stimuli / STREET
        image = data.load_image("img-1", stimuli)
        assert image.shape == (5, 8, 3) and image.dtype == np.uint8
        assert int(image[2, 3, 0]) == pytest.approx(90, abs=2)
        with pytest.raises(FileNotFoundError, match=r"i1000795432.jpeg.*ALLSTIMULI.*unpacked"):
            data.load_image("img-2", stimuli)
        with pytest.raises(KeyError, match="img-9"):
            data.image_path("img-9", stimuli)


def test_unknown_obs_uid(db):
    with CapMIT1003(db) as data, pytest.raises(KeyError, match="obs-zzz"):
        data.click_path("obs-zzz")


@pytest.mark.parametrize(("table", "column"), [
    ("clicks", None), ("images", None), ("captions", None),
    ("clicks", "click_time"), ("images", "img_path"), ("captions", "usr_uid"),
])
def test_missing_table_or_column(tmp_path, table, column):
    tables = dict(TABLES)
    if column is None:
        del tables[table]
        match = rf"no table '{table}'.*CapMIT1003 database"
    else:
        tables[table] = ", ".join(c for c in tables[table].split(", ")
                                  if not c.startswith(column + " ") and c != column)
        match = rf"table '{table}' has no column\(s\) \['{column}'\].*CapMIT1003 database"
    path = _write(tmp_path / "bad.db", tables=tables, captions=[], images=[], clicks=[])
    with pytest.raises(CapMIT1003FormatError, match=match):
        CapMIT1003(path)


def test_not_a_database(tmp_path):
    with pytest.raises(FileNotFoundError, match="capmit1003.db"):
        CapMIT1003(tmp_path / "missing.db")
    text = tmp_path / "notes.db"
    text.write_text("hello " * 200)
    with pytest.raises(CapMIT1003FormatError, match="not a SQLite database"):
        CapMIT1003(text)


@pytest.mark.parametrize(("click", "match"), [
    ((None, "obs-a", 1, 2, 0.0), "observation 'obs-a': a click has no 'click_id'"),
    ((1, "obs-a", None, 2, 0.0), "a click has no 'x'"),
    ((1, "obs-a", 1, 2, "yesterday"), "'yesterday' is not an ISO 8601"),
    ((1, "obs-a", 1, 2, b"\x00"), "neither a number of seconds nor ISO 8601 text"),
])
def test_bad_clicks_are_named(tmp_path, click, match):
    first = "2022-06-01 10:00:00" if isinstance(click[4], str) else 1.0
    path = _write(tmp_path / "c.db", clicks=[(5, "obs-a", 3, 4, first), click])
    with CapMIT1003(path) as data, pytest.raises(CapMIT1003FormatError, match=match):
        data.click_path("obs-a")
    with pytest.raises(CapMIT1003FormatError, match=match):
        read_capmit1003(path)


def test_mixed_time_types_and_repeated_obs(tmp_path):
    mixed = [(1, "obs-a", 1, 2, 5.0), (2, "obs-a", 1, 2, "2022-06-01 10:00:00"),
             (3, "obs-b", 1, 2, 7.0)]
    with pytest.raises(CapMIT1003FormatError, match="'obs-a': click_time mixes numbers"):
        read_capmit1003(_write(tmp_path / "m.db", clicks=mixed))
    # one observation in numbers and another in text is fine
    ds = read_capmit1003(_write(tmp_path / "ok.db", clicks=[mixed[1], mixed[2]]))
    assert ds.sizes["row"] == 2
    repeated = [*CAPTIONS, CAPTIONS[0]]
    with pytest.raises(CapMIT1003FormatError, match="'obs-a' appears more than once"):
        read_capmit1003(_write(tmp_path / "r.db", captions=repeated))


def test_read_only_and_close(db):
    data = CapMIT1003(db)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        data._cnx.execute("DELETE FROM clicks")
    data.close()
    with pytest.raises(ValueError, match="is closed"):
        data.click_path("obs-a")
    with sqlite3.connect(db) as cnx:
        assert cnx.execute("SELECT COUNT(*) FROM clicks").fetchone() == (5,)
    cnx.close()


def test_schema_sql_has_the_required_columns(tmp_path):
    cnx = sqlite3.connect(tmp_path / "s.db")
    cnx.executescript(SCHEMA_SQL)
    for table, columns in REQUIRED_COLUMNS.items():
        found = [r[1] for r in cnx.execute(f"PRAGMA table_info({table})")]
        assert found == list(columns)
    cnx.close()
