"""COCO-Search18 fixations (Chen et al. 2021; Yang et al. 2020): read the JSON, convert to a store.

COCO-Search18 is goal-directed search on COCO images: 10 subjects search for
one of 18 target categories in 6202 images shown at 1680 x 1050 px (zero
padded, aspect ratio kept). Each released file (e.g.
``coco_search18_fixations_TP_train_split1.json``) is a JSON **list of trials**,
one object per (subject, image, task) with the fields

============  ==========================================================  ========
field         meaning                                                     needed
============  ==========================================================  ========
name          image file, e.g. ``"000000211326.jpg"``                     yes
subject       subject number (1-10)                                       yes
task          target category, e.g. ``"bottle"``, ``"potted plant"``      yes
condition     ``"present"`` or ``"absent"``                               yes
X, Y          fixation positions (px, 1680 x 1050 frame), including the   yes
              initial centre fixation
T             fixation durations (ms)                                     yes
length        number of fixations (checked against ``X``)                 no
bbox          target box ``[x, y, w, h]`` (px; target-present files)      no
correct       1 for a correct response, 0 otherwise                       no
RT            reaction time (ms)                                          no
split         ``"train"`` or ``"valid"``                                  no
fixOnTarget   whether the scanpath reached the target (later releases)    no
============  ==========================================================  ========

:func:`read_cocosearch18` turns one or more such files into a fixations table
(:mod:`neuroattn.store.schema`, kind ``"fixations"``): pixels, **durations in
seconds**, one row per fixation. The per-trial fields are repeated on every
row of the trial (``task``, ``condition``, ``bbox_x/y/w/h``, ``correct``,
``rt`` in s, ``split``, ``fix_on_target``), so every fixation knows its
trial's target; :func:`cocosearch18_trials` gives one row per trial. Missing
optional fields read as NaN (floats), ``-1`` (``correct``,
``fix_on_target``) or ``""`` (``split``). The data set card is
``datasets/coco-search18.md``.

Examples
--------
>>> import json, tempfile
>>> from pathlib import Path
>>> path = Path(tempfile.mkdtemp()) / "coco_search18_fixations_TP_validation_split1.json"
>>> _ = path.write_text(json.dumps([{"name": "000000211326.jpg", "subject": 2,
...     "task": "bottle", "condition": "present", "bbox": [377, 0, 288, 213],
...     "X": [848.3, 738.5, 520.5], "Y": [530.0, 360.3, 45.6], "T": [168, 157, 643],
...     "length": 3, "correct": 1, "RT": 920, "split": "valid"}]))
>>> ds = read_cocosearch18(path)
>>> ds.sizes["row"], ds.duration.values.tolist(), str(ds.task.values[0])
(3, [0.168, 0.157, 0.643], 'bottle')
>>> cocosearch18_trials(ds)[["subject", "task", "bbox_w", "rt", "length"]].to_dict("records")
[{'subject': '2', 'task': 'bottle', 'bbox_w': 288.0, 'rt': 0.92, 'length': 3}]
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neuroattn._docs import fill_doc
from neuroattn._logging import Verbose, logger, use_log_level
from neuroattn.datasets.prepare import check_destination
from neuroattn.errors import FormatError, InputNotFoundError, ParameterError
from neuroattn.store import fixations_from_table, write_store

#: The 18 target categories, as spelled in the ``task`` field.
TASKS = ("bottle", "bowl", "car", "chair", "clock", "cup", "fork", "keyboard", "knife",
         "laptop", "microwave", "mouse", "oven", "potted plant", "sink", "stop sign",
         "toilet", "tv")
#: The display frame of every fixation, (width, height) in px.
IMAGE_SIZE = (1680, 1050)
REQUIRED_FIELDS = ("name", "subject", "task", "condition", "X", "Y", "T")
_TRIAL_COLUMNS = ("subject", "image", "task", "condition", "bbox_x", "bbox_y", "bbox_w",
                  "bbox_h", "correct", "rt", "split", "fix_on_target", "source")


class COCOSearch18FormatError(FormatError):
    """A file does not have the COCO-Search18 fixation JSON layout."""


def _where(path: Path, index: int, record: Any) -> str:
    name = record.get("name") if isinstance(record, dict) else None
    return f"{path.name}: trial {index}" + (f" (image {name!r})" if name else "")


def _numbers(value: Any, field: str, where: str) -> np.ndarray:
    raw = np.asarray(value) if isinstance(value, list | tuple) else None
    if raw is None or raw.ndim != 1 or (raw.size and raw.dtype.kind not in "iuf"):
        raise COCOSearch18FormatError(
            f"{where}: field {field!r} must be a list of numbers; got {value!r:.80}.")
    arr = raw.astype(float)
    if not np.isfinite(arr).all():
        i = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise COCOSearch18FormatError(
            f"{where}: {field}[{i}] is {arr[i]}; COCO-Search18 values must be finite. Drop or "
            "repair this trial before reading.")
    return arr


def _optional_number(record: dict, field: str, where: str) -> float:
    value = record.get(field)
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise COCOSearch18FormatError(f"{where}: field {field!r} must be a finite number; got "
                                      f"{value!r}.")
    return float(value)


def _flag(record: dict, field: str, where: str) -> int:
    value = record.get(field)
    if value is None:
        return -1
    if value in (0, 1) or isinstance(value, bool):
        return int(value)
    raise COCOSearch18FormatError(f"{where}: field {field!r} must be 0/1 or true/false; got "
                                  f"{value!r}.")


def _text_field(record: dict, field: str, where: str) -> str:
    """A label field (``name``, ``subject``, ``task``): a string, or a whole number."""
    value = record[field]
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise COCOSearch18FormatError(
            f"{where}: field {field!r} is {value!r:.80}, not a non-empty string or whole "
            f"number; write the {field} as in the released files (e.g. \"subject\": 2, "
            "\"task\": \"bottle\").")
    return str(value)


def _check_frame(xs: np.ndarray, ys: np.ndarray, where: str) -> None:
    """Refuse fixations outside the display frame (0..1680 x 0..1050 px)."""
    width, height = IMAGE_SIZE
    outside = (xs < 0) | (xs > width) | (ys < 0) | (ys > height)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise COCOSearch18FormatError(
            f"{where}: fixation {i} at (x={xs[i]:g}, y={ys[i]:g}) lies outside the "
            f"{width} x {height} px display frame ({int(outside.sum())} of {len(xs)} "
            f"fixations do); positions are display pixels with x in 0..{width} and y in "
            f"0..{height}. Drop or repair this trial before reading.")


def _parse_trial(record: Any, path: Path, index: int) -> dict[str, Any]:
    where = _where(path, index, record)
    if not isinstance(record, dict):
        raise COCOSearch18FormatError(f"{where} is a {type(record).__name__}, not an object "
                                      "with fields name, subject, task, X, Y, T, ...")
    missing = [f for f in REQUIRED_FIELDS if f not in record]
    if missing:
        raise COCOSearch18FormatError(
            f"{where} has no field(s) {missing}; every COCO-Search18 trial needs "
            f"{list(REQUIRED_FIELDS)}.")
    xs, ys, ts = (_numbers(record[f], f, where) for f in ("X", "Y", "T"))
    if not len(xs) == len(ys) == len(ts):
        raise COCOSearch18FormatError(
            f"{where}: X, Y and T have different lengths ({len(xs)}, {len(ys)}, {len(ts)}); "
            "each fixation needs a position and a duration.")
    if len(xs) == 0:
        raise COCOSearch18FormatError(f"{where} has an empty scanpath (no fixations).")
    _check_frame(xs, ys, where)
    labels = {field: _text_field(record, field, where) for field in ("name", "subject", "task")}
    if (ts < 0).any():
        raise COCOSearch18FormatError(f"{where}: T holds a negative duration "
                                      f"({ts.min()} ms).")
    length = record.get("length")
    if length is not None and length != len(xs):
        raise COCOSearch18FormatError(
            f"{where}: 'length' is {length!r} but X holds {len(xs)} fixations.")
    condition = record["condition"]
    if condition not in ("present", "absent"):
        raise COCOSearch18FormatError(
            f"{where}: condition {condition!r} must be 'present' or 'absent'.")
    bbox = record.get("bbox")
    if bbox is None:
        box = np.full(4, np.nan)
    else:
        box = _numbers(bbox, "bbox", where)
        if box.shape != (4,):
            raise COCOSearch18FormatError(
                f"{where}: bbox must be [x, y, w, h] (4 numbers); got {bbox!r}.")
    split = record.get("split", "")
    if split is not None and not isinstance(split, str):
        raise COCOSearch18FormatError(f"{where}: field 'split' is {split!r:.80}; it must be a "
                                      "string such as 'train' or 'valid'.")
    return {
        "subject": labels["subject"], "image": labels["name"],
        "task": labels["task"], "condition": condition,
        "bbox_x": box[0], "bbox_y": box[1], "bbox_w": box[2], "bbox_h": box[3],
        "correct": _flag(record, "correct", where),
        "rt": _optional_number(record, "RT", where) / 1000.0,
        "split": "" if split is None else str(split),
        "fix_on_target": _flag(record, "fixOnTarget", where),
        "source": path.name, "x": xs, "y": ys, "duration": ts / 1000.0,
    }


def _json_files(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    files: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(path.glob("coco_search18_fixations_*.json"))
            if not found:
                raise InputNotFoundError(
                    f"{path} holds no coco_search18_fixations_*.json file; pass the JSON "
                    "files themselves, or the folder they were unpacked into.")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise InputNotFoundError(f"{path} does not exist; check the path to the "
                                     "COCO-Search18 fixation JSON.")
    if not files:
        raise ParameterError("No COCO-Search18 file given.")
    return files


def _load(path: Path) -> list:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise COCOSearch18FormatError(f"{path} is not valid JSON ({err}).") from err
    if not isinstance(data, list):
        raise COCOSearch18FormatError(
            f"{path}: the top level is a {type(data).__name__}; COCO-Search18 fixation files "
            "hold a list of trials.")
    if not data:
        raise COCOSearch18FormatError(f"{path} holds no trials.")
    return data


@fill_doc
def read_cocosearch18(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    drop_initial: bool = False,
    verbose: Verbose = None,
) -> xr.Dataset:
    """Read COCO-Search18 fixation JSON files into one fixations table.

    Parameters
    ----------
    paths : path-like or sequence of path-likes
        JSON files, or folders holding ``coco_search18_fixations_*.json``
        (read in sorted order).
    drop_initial : bool
        Drop the first fixation of every trial, the initial fixation on the
        display centre that the files include. Trials left empty are dropped.
    %(verbose)s

    Returns
    -------
    xarray.Dataset
        A ``fixations`` table along ``row``: ``subject``, ``image``,
        ``trial`` (running index over all trials read, from 0), ``fixation``
        (index within the trial, from 0), ``x``, ``y`` (px), ``duration`` (s)
        and the trial's ``task``, ``condition``, ``bbox_x``, ``bbox_y``,
        ``bbox_w``, ``bbox_h`` (px, NaN without a box), ``correct``
        (1/0/-1 unknown), ``rt`` (s, NaN if absent), ``split``,
        ``fix_on_target`` (1/0/-1) and ``source`` (file name). Attrs give
        ``image_width``, ``image_height`` and the ``source_files``.

    Raises
    ------
    COCOSearch18FormatError
        (a ``ValueError``) naming the file, trial and field at fault: a
        missing field, ``X``/``Y``/``T`` of different lengths, NaN, a
        fixation outside the 1680 x 1050 px frame, an empty scanpath, a wrong
        ``length``, an unknown ``condition``, a ``name``, ``subject`` or
        ``task`` that is neither a string nor a whole number.

    Examples
    --------
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "coco_search18_fixations_TA_trainval.json"
    >>> _ = path.write_text(json.dumps([{"name": "a.jpg", "subject": 1, "task": "car",
    ...     "condition": "absent", "X": [840.0, 100.0], "Y": [525.0, 80.0], "T": [200, 300]}]))
    >>> ds = read_cocosearch18(path, drop_initial=True)
    >>> ds.x.values.tolist(), float(ds.bbox_x[0]), int(ds.correct[0])
    ([100.0], nan, -1)
    """
    with use_log_level(verbose):
        files = _json_files(paths)
        trials = [_parse_trial(rec, path, i) for path in files
                  for i, rec in enumerate(_load(path))]
        if drop_initial:
            for t in trials:
                t["x"], t["y"], t["duration"] = t["x"][1:], t["y"][1:], t["duration"][1:]
            trials = [t for t in trials if len(t["x"])]
            if not trials:
                raise ParameterError("Every trial had only the initial fixation; nothing is left "
                                     "with drop_initial=True.")
        lengths = np.array([len(t["x"]) for t in trials])
        table: dict[str, Any] = {
            col: np.repeat(np.array([t[col] for t in trials]), lengths)
            for col in _TRIAL_COLUMNS}
        for col in ("correct", "fix_on_target"):
            table[col] = table[col].astype(np.int8)
        table["trial"] = np.repeat(np.arange(len(trials)), lengths)
        table["fixation"] = np.concatenate([np.arange(n) for n in lengths])
        for col in ("x", "y", "duration"):
            table[col] = np.concatenate([t[col] for t in trials])
        ds = fixations_from_table(
            table, units="px", dataset="COCO-Search18", image_width=IMAGE_SIZE[0],
            image_height=IMAGE_SIZE[1], source_files=[f.name for f in files],
            initial_fixation="dropped" if drop_initial else "included")
        unknown = sorted(set(np.unique(table["task"]).tolist()) - set(TASKS))
        if unknown:
            logger.warning("COCO-Search18: task(s) %s are not among the 18 categories.", unknown)
        logger.info("COCO-Search18: %d trials, %d fixations from %d file(s)", len(trials),
                    int(lengths.sum()), len(files))
    return ds


def cocosearch18_trials(ds: xr.Dataset) -> Any:
    """One row per trial of a table from :func:`read_cocosearch18` (a pandas DataFrame).

    Columns: ``trial``, the per-trial fields (``subject``, ``image``, ``task``,
    ``condition``, ``bbox_*``, ``correct``, ``rt``, ``split``,
    ``fix_on_target``, ``source``) and ``length`` (fixations in the table).

    Examples
    --------
    >>> from neuroattn.store import fixations_from_table
    >>> ds = fixations_from_table({"subject": ["1"] * 3, "image": ["a.jpg"] * 3,
    ...     "trial": [0, 0, 1], "fixation": [0, 1, 0], "x": [1.0, 2, 3], "y": [1.0, 2, 3],
    ...     "duration": [0.1, 0.2, 0.3], "task": ["car", "car", "cup"]})
    >>> cocosearch18_trials(ds)[["trial", "task", "length"]].to_dict("records")
    [{'trial': 0, 'task': 'car', 'length': 2}, {'trial': 1, 'task': 'cup', 'length': 1}]
    """
    import pandas as pd

    if "trial" not in ds:
        raise ParameterError("Not a fixations table: it has no 'trial' column.")
    cols = ["trial", *[c for c in _TRIAL_COLUMNS if c in ds]]
    frame = pd.DataFrame({c: ds[c].values for c in cols})
    trials = frame.groupby("trial", sort=True).first().reset_index()
    trials["length"] = frame.groupby("trial", sort=True).size().to_numpy()
    return trials


def convert_cocosearch18(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    drop_initial: bool = False,
    overwrite: bool = False,
    verbose: Verbose = None,
) -> Path:
    """Convert COCO-Search18 fixation JSON (a file or a folder of them) into a fixations store.

    ``python -m neuroattn convert cocosearch18 SRC DST`` calls this. See
    :func:`read_cocosearch18` for the columns; the store is written atomically.

    Examples
    --------
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> from neuroattn.store import open_store
    >>> tmp = Path(tempfile.mkdtemp())
    >>> _ = (tmp / "coco_search18_fixations_TP_train_split1.json").write_text(json.dumps([
    ...     {"name": "b.jpg", "subject": 3, "task": "cup", "condition": "present",
    ...      "bbox": [1, 2, 3, 4], "X": [840.0], "Y": [525.0], "T": [250]}]))
    >>> ds = open_store(convert_cocosearch18(tmp, tmp / "cs18.zarr"), kind="fixations")
    >>> str(ds.task.values[0]), float(ds.duration[0])
    ('cup', 0.25)
    """
    with use_log_level(verbose):
        dst = check_destination(dst, overwrite, src)
        ds = read_cocosearch18(src, drop_initial=drop_initial)
        return write_store(ds, dst, kind="fixations", overwrite=overwrite)
