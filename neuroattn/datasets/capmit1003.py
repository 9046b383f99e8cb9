"""CapMIT1003 (Zanca et al. 2023, NevaClip): captions and click paths on MIT1003 images (SQLite).

CapMIT1003 pairs MIT1003 images (:mod:`neuroattn.datasets.mit1003`) with
captions that people wrote while exploring the image by clicking: every click
uncovers a region of the image (click-contingent exploration, the data set's
stand-in for gaze). It is released as one SQLite database, ``capmit1003.db``,
with three tables:

========  ============  ======================================================  ======
table     column        meaning                                                 needed
========  ============  ======================================================  ======
captions  obs_uid       id of one image-caption pair (an observation)           yes
captions  usr_uid       id of the person who wrote it                           yes
captions  start_time    when the image was shown (a timestamp)                  yes
captions  caption       the caption                                             yes
captions  img_uid       id of the MIT1003 image                                 yes
images    img_uid       id of the image                                         yes
images    img_path      its file name in MIT1003's ``ALLSTIMULI`` folder        yes
clicks    click_id      ascending id: orders the clicks                         yes
clicks    obs_uid       the observation the click belongs to                    yes
clicks    x, y          click position (image px)                               yes
clicks    click_time    when the click happened (a timestamp)                   yes
========  ============  ======================================================  ======

:class:`CapMIT1003` opens the database read-only and gives the captions, the
click path of one observation and the image files; :func:`read_capmit1003`
turns every click path into a fixations table (:mod:`neuroattn.store.schema`,
kind ``"fixations"``), one row per click. Timestamps are read as the database
holds them: numbers are taken as seconds, text as ISO 8601 date-times (e.g.
``"2022-05-04 10:00:01.500"``); times are then given in **seconds from the
observation's first click**. The images are not in the database: they are
the MIT1003 stimuli, unpacked from ``ALLSTIMULI.zip``. The data set card is
``datasets/capmit1003.md``.

Examples
--------
>>> import tempfile
>>> from neuroattn.testing.files import write_fake_capmit1003
>>> db = write_fake_capmit1003(tempfile.mkdtemp() + "/capmit1003.db", '''
...     INSERT INTO captions VALUES ('o1', 'u1', '2022-05-04 10:00:00', 'a red car', 'i1');
...     INSERT INTO images VALUES ('i1', 'i05june05_static_street_boston_p1010764.jpeg');
...     INSERT INTO clicks VALUES (7, 'o1', 512, 384, '2022-05-04 10:00:01.500'),
...                               (8, 'o1', 100, 80, '2022-05-04 10:00:02.250');''')
>>> with CapMIT1003(db) as data:
...     data.click_path("o1")[["x", "y", "t"]].values.tolist()
[[512.0, 384.0, 0.0], [100.0, 80.0, 0.75]]
>>> ds = read_capmit1003(db)
>>> ds.duration.values.tolist(), str(ds.caption.values[0]), str(ds.subject.values[0])
([0.75, nan], 'a red car', 'u1')
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd
import xarray as xr

from neuroattn._docs import fill_doc
from neuroattn._logging import Verbose, logger, use_log_level
from neuroattn.errors import FormatError, InputNotFoundError
from neuroattn.store import fixations_from_table

#: The columns the reader needs, per table.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "captions": ("obs_uid", "usr_uid", "start_time", "caption", "img_uid"),
    "images": ("img_uid", "img_path"),
    "clicks": ("click_id", "obs_uid", "x", "y", "click_time"),
}
#: ``CREATE TABLE`` statements with these columns (for building test databases).
SCHEMA_SQL = (
    "CREATE TABLE captions(obs_uid TEXT, usr_uid TEXT, start_time, caption TEXT, img_uid TEXT);\n"
    "CREATE TABLE images(img_uid TEXT, img_path TEXT);\n"
    "CREATE TABLE clicks(click_id INTEGER, obs_uid TEXT, x REAL, y REAL, click_time);\n"
)
_STIMULI_HINT = ("the MIT1003 stimuli must be downloaded (ALLSTIMULI.zip, from "
                 "http://people.csail.mit.edu/tjudd/WherePeopleLook/) and unpacked there")
_WHICH = ("the file must be the CapMIT1003 database capmit1003.db (from the GitHub repository "
          "dario-zanca/NevaClip)")


class CapMIT1003FormatError(FormatError):
    """A file is not the CapMIT1003 SQLite database, or holds values it cannot read."""


def _seconds(values: Any, obs: np.ndarray, where: str) -> np.ndarray:
    """Times in s on one clock: numbers as they are, ISO 8601 text from the earliest text time.

    ``obs`` is the observation of each value, for the messages; one observation may not mix
    numbers and text. Text is subtracted before conversion to float, so sub-microsecond
    differences survive (seconds since 1970 would leave float64 only about 0.2 us).
    """
    items = list(values)
    out = np.full(len(items), np.nan)
    number = np.array([isinstance(v, int | float | np.number) and not isinstance(v, bool)
                       and not (isinstance(v, float) and np.isnan(v)) for v in items], dtype=bool)
    text = np.array([isinstance(v, str) for v in items], dtype=bool)
    other = ~(number | text) & ~pd.isna(pd.Series(items, dtype=object)).to_numpy()
    if other.any():
        i = int(np.flatnonzero(other)[0])
        raise CapMIT1003FormatError(f"{where}, observation {obs[i]!r}: click_time {items[i]!r} "
                                    "is neither a number of seconds nor ISO 8601 text.")
    mixed = sorted(set(obs[number].tolist()) & set(obs[text].tolist()))
    if mixed:
        raise CapMIT1003FormatError(f"{where}, observation {mixed[0]!r}: click_time mixes "
                                    "numbers and text; its times cannot be compared.")
    out[number] = [float(items[i]) for i in np.flatnonzero(number)]
    if text.any():
        strings = pd.Series([items[i] for i in np.flatnonzero(text)], dtype=object)
        stamps = pd.to_datetime(strings, format="ISO8601", utc=True, errors="coerce")
        if stamps.isna().any():
            i = int(np.flatnonzero(text)[int(np.flatnonzero(stamps.isna().to_numpy())[0])])
            raise CapMIT1003FormatError(
                f"{where}, observation {obs[i]!r}: click_time {items[i]!r} is not an ISO 8601 "
                "date-time (e.g. '2022-05-04 10:00:01.500').")
        out[text] = ((stamps - stamps.min()) / pd.Timedelta(seconds=1)).to_numpy(dtype=float)
    return out


def _is_number(value: Any) -> bool:
    """A finite int or float (not a bool, not text)."""
    return (isinstance(value, int | float | np.integer | np.floating)
            and not isinstance(value, bool) and bool(np.isfinite(value)))


def _relative(absolute: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Seconds from each group's first row, and the time to the next row (NaN for the last).

    ``group`` labels the rows of each click path; the rows are grouped and in click order.
    """
    if not len(group):
        return np.empty(0), np.empty(0)
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    lengths = np.diff(np.r_[starts, len(group)])
    t = absolute - np.repeat(absolute[starts], lengths)
    duration = np.r_[np.diff(t), np.nan]
    duration[np.r_[starts[1:] - 1, len(group) - 1]] = np.nan
    return t, duration


class CapMIT1003:
    """The CapMIT1003 SQLite database, opened read-only.

    Parameters
    ----------
    db_path : path-like
        ``capmit1003.db``.

    Raises
    ------
    FileNotFoundError
        If ``db_path`` does not exist.
    CapMIT1003FormatError
        (a ``ValueError``) if the file is not a SQLite database, or lacks one
        of the tables or columns in :data:`REQUIRED_COLUMNS`.

    Examples
    --------
    >>> import tempfile
    >>> from neuroattn.testing.files import write_fake_capmit1003
    >>> data = CapMIT1003(write_fake_capmit1003(tempfile.mkdtemp()))  # two captions
    >>> data.captions()["caption"].tolist()
    ['a car', 'two dogs']
    >>> data.close()
    """

    def __init__(self, db_path: str | os.PathLike) -> None:
        self.path = Path(db_path)
        if not self.path.is_file():
            raise InputNotFoundError(f"{self.path} does not exist; {_WHICH}.")
        uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
        self._cnx: sqlite3.Connection | None = sqlite3.connect(uri, uri=True)
        try:
            self._check_tables()
        except BaseException:
            self.close()
            raise

    def _check_tables(self) -> None:
        try:
            rows = self._query("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
        except sqlite3.DatabaseError as err:
            raise CapMIT1003FormatError(f"{self.path} is not a SQLite database ({err}); "
                                        f"{_WHICH}.") from err
        tables = {str(name).lower(): str(name) for (name,) in rows}
        for table, needed in REQUIRED_COLUMNS.items():
            if table not in tables:
                raise CapMIT1003FormatError(
                    f"{self.path.name} has no table {table!r} (found {sorted(tables.values())}); "
                    f"{_WHICH}.")
            found = [str(r[1]) for r in self._query(f'PRAGMA table_info("{tables[table]}")')]
            missing = [c for c in needed if c.lower() not in {f.lower() for f in found}]
            if missing:
                raise CapMIT1003FormatError(
                    f"{self.path.name}: table {table!r} has no column(s) {missing} (found "
                    f"{found}); {_WHICH}.")

    def _query(self, sql: str, params: tuple = ()) -> list[tuple]:
        if self._cnx is None:
            raise ValueError(f"The CapMIT1003 database {self.path.name} is closed.")
        return self._cnx.execute(sql, params).fetchall()

    def close(self) -> None:
        """Close the database connection (calling it again does nothing).

        Examples
        --------
        >>> import tempfile
        >>> from neuroattn.testing.files import write_fake_capmit1003
        >>> data = CapMIT1003(write_fake_capmit1003(tempfile.mkdtemp(), sql=""))
        >>> data.close(); data.close()
        >>> data.captions()
        Traceback (most recent call last):
        ...
        ValueError: The CapMIT1003 database capmit1003.db is closed.
        """
        if self._cnx is not None:
            self._cnx.close()
            self._cnx = None

    def __enter__(self) -> CapMIT1003:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def captions(self) -> pd.DataFrame:
        """All image-caption pairs, in the order of the ``captions`` table.

        Returns
        -------
        pandas.DataFrame
            Columns ``obs_uid``, ``usr_uid``, ``img_uid``, ``caption``,
            ``start_time`` (as stored) and ``img_path`` (the file name in
            ``ALLSTIMULI``; ``None`` when ``images`` has no row for the image).

        Examples
        --------
        >>> import tempfile
        >>> from neuroattn.testing.files import write_fake_capmit1003
        >>> with CapMIT1003(write_fake_capmit1003(tempfile.mkdtemp())) as data:
        ...     row = data.captions().iloc[0]
        >>> row.tolist()
        ['o1', 'u1', 'i1', 'a car', '2022-05-04 10:00:00', 'i1.jpeg']
        """
        columns = ["obs_uid", "usr_uid", "img_uid", "caption", "start_time", "img_path"]
        rows = self._query(
            "SELECT c.obs_uid, c.usr_uid, c.img_uid, c.caption, c.start_time, i.img_path "
            "FROM captions AS c LEFT JOIN images AS i ON c.img_uid = i.img_uid")
        return pd.DataFrame(rows, columns=columns, dtype=object)

    def click_path(self, obs_uid: str) -> pd.DataFrame:
        """The clicks of one observation, in click order (ascending ``click_id``).

        Parameters
        ----------
        obs_uid : str
            The observation (image-caption pair), as in :meth:`captions`.

        Returns
        -------
        pandas.DataFrame
            Columns ``click_id``, ``x``, ``y`` (px) and ``t`` (s from the first
            click; NaN where ``click_time`` is empty). No rows for an
            observation without clicks.

        Raises
        ------
        KeyError
            If ``obs_uid`` is neither in ``captions`` nor in ``clicks``.
        CapMIT1003FormatError
            If a click has no ``click_id``, ``x`` or ``y``, a non-numeric id or a
            position that is not a number >= 0, or an unreadable time.

        Examples
        --------
        >>> import tempfile
        >>> from neuroattn.testing.files import write_fake_capmit1003
        >>> with CapMIT1003(write_fake_capmit1003(tempfile.mkdtemp())) as data:
        ...     data.click_path("o1").to_dict("list")
        {'click_id': [1, 2], 'x': [10.0, 30.0], 'y': [20.0, 40.0], 't': [0.0, 2.5]}
        """
        rows = self._query("SELECT click_id, x, y, click_time FROM clicks WHERE obs_uid = ? "
                           "ORDER BY click_id", (obs_uid,))
        if not rows and not self._query("SELECT 1 FROM captions WHERE obs_uid = ? LIMIT 1",
                                        (obs_uid,)):
            raise KeyError(f"obs_uid {obs_uid!r} is not in {self.path.name} (neither in captions "
                           "nor in clicks); take the ids from CapMIT1003.captions().")
        frame = self._clicks(rows, np.full(len(rows), obs_uid, dtype=object))
        return frame[["click_id", "x", "y", "t"]]

    def _clicks(self, rows: list[tuple], obs: np.ndarray) -> pd.DataFrame:
        """Rows ``(click_id, x, y, click_time, ...)`` as a frame with ``t`` and ``duration``."""
        raw = pd.DataFrame([r[:4] for r in rows], columns=["click_id", "x", "y", "click_time"],
                           dtype=object)
        for col in ("click_id", "x", "y"):
            empty = raw[col].isna().to_numpy()
            if empty.any():
                i = int(np.flatnonzero(empty)[0])
                raise CapMIT1003FormatError(
                    f"{self.path.name}, observation {obs[i]!r}: a click has no {col!r}; every "
                    "click needs click_id, x and y.")
        self._check_numbers(raw, obs)
        t, duration = _relative(_seconds(raw["click_time"], obs, self.path.name), obs)
        if (duration < 0).any():
            logger.warning("CapMIT1003: %d click(s) come before the previous click by "
                           "click_time (e.g. in observation %r); their durations are negative.",
                           int((duration < 0).sum()), obs[int(np.flatnonzero(duration < 0)[0])])
        return pd.DataFrame({"click_id": raw["click_id"].to_numpy(dtype=np.int64),
                             "x": raw["x"].to_numpy(dtype=float),
                             "y": raw["y"].to_numpy(dtype=float), "t": t,
                             "duration": duration})

    def _check_numbers(self, raw: pd.DataFrame, obs: np.ndarray) -> None:
        """Refuse a click whose id is not a whole number or whose position is not a pixel."""
        for col in ("click_id", "x", "y"):
            values = raw[col].to_numpy()
            ok = [_is_number(v) and (col != "click_id" or float(v).is_integer())
                  and (col == "click_id" or v >= 0) for v in values]
            if not all(ok):
                i = ok.index(False)
                raise CapMIT1003FormatError(
                    f"{self.path.name}, observation {obs[i]!r}: a click has {col}="
                    f"{values[i]!r:.60}; click_id is a whole number and x, y are image pixels "
                    "(finite numbers >= 0). Fix or delete that row of the clicks table.")

    def image_path(self, img_uid: str, image_dir: str | os.PathLike) -> Path:
        """The file of one image: ``image_dir / img_path``.

        Parameters
        ----------
        img_uid : str
            The image, as in :meth:`captions`.
        image_dir : path-like
            The unpacked MIT1003 ``ALLSTIMULI`` folder.

        Raises
        ------
        KeyError
            If ``img_uid`` is not in the ``images`` table.
        FileNotFoundError
            If the image file is not in ``image_dir``.

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> from neuroattn.testing.files import write_fake_capmit1003
        >>> tmp = Path(tempfile.mkdtemp())
        >>> _ = (tmp / "i1.jpeg").write_bytes(b"")
        >>> with CapMIT1003(write_fake_capmit1003(tmp)) as data:    # i1 is i1.jpeg
        ...     data.image_path("i1", tmp).name
        'i1.jpeg'
        """
        rows = self._query("SELECT img_path FROM images WHERE img_uid = ?", (img_uid,))
        if not rows or rows[0][0] is None:
            raise KeyError(f"img_uid {img_uid!r} has no img_path in the images table of "
                           f"{self.path.name}.")
        path = Path(image_dir) / str(rows[0][0])
        if not path.is_file():
            raise InputNotFoundError(f"Image {path} (img_uid {img_uid!r}) does not exist; "
                                     f"{_STIMULI_HINT}, or pass the folder that holds them.")
        return path

    def load_image(self, img_uid: str, image_dir: str | os.PathLike) -> np.ndarray:
        """One image as a ``uint8`` RGB array ``(height, width, 3)`` (grey images are expanded).

        See :meth:`image_path` for the parameters and errors.

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> from PIL import Image
        >>> from neuroattn.testing.files import write_fake_capmit1003
        >>> tmp = Path(tempfile.mkdtemp())
        >>> Image.new("RGB", (6, 4), (200, 10, 10)).save(tmp / "i1.jpeg")
        >>> with CapMIT1003(write_fake_capmit1003(tmp)) as data:
        ...     image = data.load_image("i1", tmp)
        >>> image.shape, image.dtype
        ((4, 6, 3), dtype('uint8'))
        """
        from PIL import Image

        with Image.open(self.image_path(img_uid, image_dir)) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8)


@fill_doc
def read_capmit1003(db_path: str | os.PathLike, *, verbose: Verbose = None) -> xr.Dataset:
    """Read every CapMIT1003 click path into one fixations table (one row per click).

    Parameters
    ----------
    db_path : path-like
        ``capmit1003.db``.
    %(verbose)s

    Returns
    -------
    xarray.Dataset
        A ``fixations`` table along ``row``: ``subject`` (``usr_uid``),
        ``image`` (``img_path``, the file name in ``ALLSTIMULI``; ``""`` when
        the ``images`` table lacks the image), ``trial`` (running index over
        the observations with clicks, in the order of ``captions``, from 0),
        ``fixation`` (click index in click order, from 0), ``x``, ``y`` (px),
        ``duration`` (s from this click to the next; **NaN for the last
        click**, whose end is not recorded), ``start`` (s from the
        observation's first click), ``click_id``, ``obs_uid``, ``img_uid``
        and the observation's ``caption`` on every row. Observations without
        clicks have no row; clicks of an ``obs_uid`` missing from ``captions``
        are dropped, with a warning.

    Raises
    ------
    CapMIT1003FormatError
        If the file is not the CapMIT1003 database, ``obs_uid`` repeats in
        ``captions``, or a click lacks ``click_id``/``x``/``y``, has a
        position that is not a number >= 0, or has an unreadable time.

    Notes
    -----
    :func:`neuroattn.store.write_store` refuses NaN durations; to write a
    store, fill the last click's (``ds["duration"] = ds.duration.fillna(0.0)``)
    or drop those rows (``ds = ds.isel(row=ds.duration.notnull())``).

    Examples
    --------
    >>> import tempfile
    >>> from neuroattn.testing.files import write_fake_capmit1003
    >>> db = write_fake_capmit1003(tempfile.mkdtemp() + "/capmit1003.db", '''
    ...     INSERT INTO captions VALUES ('o1', 'u1', 0, 'a car', 'i1'),
    ...                                 ('o2', 'u2', 0, 'a dog', 'i1');
    ...     INSERT INTO images VALUES ('i1', 'i1.jpeg');
    ...     INSERT INTO clicks VALUES (1, 'o2', 5, 6, 3.0), (2, 'o1', 1, 2, 1.0),
    ...                               (3, 'o1', 3, 4, 1.5);''')
    >>> ds = read_capmit1003(db)
    >>> ds.obs_uid.values.tolist(), ds.trial.values.tolist(), ds.fixation.values.tolist()
    (['o1', 'o1', 'o2'], [0, 0, 1], [0, 1, 0])
    >>> ds.start.values.tolist(), ds.duration.values.tolist()
    ([0.0, 0.5, 0.0], [0.5, nan, nan])
    """
    with use_log_level(verbose), CapMIT1003(db_path) as data:
        caps = data.captions()
        repeated = caps["obs_uid"][caps["obs_uid"].duplicated()]
        if len(repeated):
            raise CapMIT1003FormatError(
                f"{data.path.name}: obs_uid {repeated.iloc[0]!r} appears more than once in "
                "captions; each image-caption pair needs its own id.")
        order = {uid: i for i, uid in enumerate(caps["obs_uid"])}
        rows = data._query("SELECT click_id, x, y, click_time, obs_uid FROM clicks")
        kept = [r for r in rows if r[4] in order]
        if len(kept) < len(rows):
            orphans = sorted({str(r[4]) for r in rows if r[4] not in order})
            logger.warning("CapMIT1003: dropped %d click(s) of %d obs_uid(s) not in captions "
                           "(e.g. %r).", len(rows) - len(kept), len(orphans), orphans[0])
        if not kept:
            raise CapMIT1003FormatError(f"{data.path.name} holds no clicks of any captioned "
                                        "observation.")
        kept.sort(key=lambda r: (order[r[4]], -np.inf if r[0] is None else r[0]))
        position = np.array([order[r[4]] for r in kept])
        clicks = data._clicks(kept, np.array([r[4] for r in kept], dtype=object))
        caps = caps.iloc[np.unique(position)]
        lengths = np.bincount(position, minlength=len(order))[np.unique(position)]
        per_trial = {col: np.repeat(caps[col].to_numpy(dtype=object), lengths)
                     for col in ("usr_uid", "img_path", "obs_uid", "img_uid", "caption")}
        missing = sum(v is None for v in caps["img_path"])
        if missing:
            logger.warning("CapMIT1003: %d observation(s) show an img_uid with no row in the "
                           "images table; their image reads as ''.", missing)
        text = {col: np.array(["" if v is None else str(v) for v in values])
                for col, values in per_trial.items()}
        table: dict[str, Any] = {
            "subject": text["usr_uid"], "image": text["img_path"],
            "trial": np.repeat(np.arange(len(lengths)), lengths),
            "fixation": np.concatenate([np.arange(n) for n in lengths]),
            "x": clicks["x"].to_numpy(), "y": clicks["y"].to_numpy(),
            "duration": clicks["duration"].to_numpy(), "start": clicks["t"].to_numpy(),
            "click_id": clicks["click_id"].to_numpy(), "obs_uid": text["obs_uid"],
            "img_uid": text["img_uid"], "caption": text["caption"],
        }
        ds = fixations_from_table(table, units="px", dataset="CapMIT1003",
                                  source_files=[data.path.name],
                                  time_origin="first click of each observation")
        logger.info("CapMIT1003: %d observations with clicks (of %d captions), %d clicks",
                    len(lengths), len(order), len(kept))
    return ds
