"""Object-annotated visual search (OAT, Fang et al., ECCV 2024): layouts, trials, readers.

OAT predicts a search scanpath as a sequence of **objects** on a shelf-like
grid: Amazon book covers (6 x 14 = 84 objects), wine bottles (2 x 11 = 22)
and yogurts (3 x 9 = 27). One search trial is a layout (the object boxes,
numbered row-major: ``object = row * n_cols + col``), a target object, and
the subject's fixations, each assigned to an object. Here

* :class:`SearchLayout` is the per-scene object table (boxes, centres,
  row/col), :func:`grid_layout` builds one from a regular grid,
  :func:`layout_from_mask` from a binary object mask (OAT's Amazon
  ``binarymask`` images) and :func:`oat_grid` gives the grids OAT's
  preprocessing crops from its wine/shampoo/yogurt screens;
* :class:`SearchTrial` holds one trial: the raw fixations, the target and
  the object-index scanpath; :class:`SearchData` a list of them, with OAT's
  length filter (:meth:`SearchData.drop_length_outliers`), its split
  (:meth:`SearchData.split`) and the fixation table for a store
  (:meth:`SearchData.to_fixations`).

Readers:

* :func:`read_oat_search` reads neuroattn's documented layout, two CSV files
  (:func:`write_oat_search` writes it)::

      ROOT/objects.csv    layout, object, row, col, x0, y0, x1, y1[, image]
      ROOT/fixations.csv  subject, layout, trial, target, fixation, x, y
                          [, duration (s)][, object][, task][, target_name]

  Object boxes are ``x0, y0, x1, y1`` pixels of the layout image. Without an
  ``object`` column, fixations are assigned with OAT's rule (see
  :func:`neuroattn.datasets.fixation_objects.assign_objects`).
* :func:`read_amazon_covers` reads the Amazon book-cover fixations in their
  published JSON (``Amazon.json`` of DFKI's STI data set, the copy OAT uses)
  with the object boxes from OAT's per-image binary masks.
* :func:`read_oat_collected` reads OAT's own wine/shampoo/yogurt trials as
  their preprocessing reads them: one row per fixation with the columns
  ``ID, Sub_ID, Question, Target, T_Package, Choice, X, Y`` (1-based object
  numbers), from CSV (or ``.xlsx`` with ``openpyxl``).

What of these layouts could be checked against OAT's code and data, and what
is assumed, is in the data set card ``datasets/oat-search.md``.

Examples
--------
>>> import tempfile
>>> layout = grid_layout("shelf", n_rows=2, n_cols=3, cell_size=(100, 50))
>>> layout.n_objects, layout.rows.tolist(), layout.centres[4].tolist()
(6, [0, 0, 0, 1, 1, 1], [150.0, 75.0])
>>> trial = SearchTrial(layout, subject="s1", target=4, x=[160.0, 20.0, 140.0],
...                     y=[20.0, 30.0, 70.0])
>>> trial.objects.tolist(), trial.found
([1, 0, 4], True)
>>> data = SearchData([trial])
>>> root = write_oat_search(data, tempfile.mkdtemp())
>>> read_oat_search(root)[0].objects.tolist()
[1, 0, 4]
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neuroattn._atomic import atomic_path
from neuroattn._logging import Verbose, logger, use_log_level
from neuroattn.datasets.fixation_objects import as_xyxy, assign_objects
from neuroattn.errors import FormatError, InputNotFoundError, ParameterError
from neuroattn.store import fixations_from_table

#: OAT's crop grids of its collected screens (1050 px high; the grid sits at the
#: bottom-left): question prefix -> (task, rows, cols, (cell width, cell height)),
#: as in its ``src/preprocess/img_feature.py``.
OAT_GRIDS: dict[str, tuple[str, int, int, tuple[int, int]]] = {
    "Q1": ("wine", 2, 11, (152, 449)),
    "Q2": ("shampoo", 3, 9, (186, 295)),
    "Q3": ("yogurt", 3, 9, (186, 305)),
}
OAT_SCREEN_HEIGHT = 1050
OBJECT_COLUMNS = ("layout", "object", "row", "col", "x0", "y0", "x1", "y1")
FIXATION_COLUMNS = ("subject", "layout", "trial", "target", "fixation", "x", "y")


class OATFormatError(FormatError):
    """A file does not have the layout the OAT search readers expect."""


@dataclass(frozen=True, eq=False)
class SearchLayout:
    """The objects of one search scene, numbered row-major on an ``n_rows x n_cols`` grid.

    Parameters
    ----------
    name : str
        Layout id (e.g. the image name).
    boxes : array-like, shape (n_rows * n_cols, 4)
        ``x0, y0, x1, y1`` pixels per object, object ``i`` at row
        ``i // n_cols`` and column ``i % n_cols`` (OAT's numbering).
    n_rows, n_cols : int
        Grid shape.
    image : str
        The layout's image file, if known.

    Examples
    --------
    >>> lay = SearchLayout("a", [[0, 0, 10, 10], [10, 0, 20, 10]], n_rows=1, n_cols=2)
    >>> lay.table()[["object", "row", "col", "cx", "cy"]].to_dict("records")[1]
    {'object': 1, 'row': 0, 'col': 1, 'cx': 15.0, 'cy': 5.0}
    """

    name: str
    boxes: np.ndarray
    n_rows: int
    n_cols: int
    image: str = ""

    def __post_init__(self) -> None:
        boxes = as_xyxy(self.boxes)
        if self.n_rows < 1 or self.n_cols < 1 or self.n_rows * self.n_cols != len(boxes):
            raise ParameterError(
                f"layout {self.name!r}: {len(boxes)} boxes do not fill a {self.n_rows} x "
                f"{self.n_cols} grid; give n_rows * n_cols boxes, row-major.")
        boxes.setflags(write=False)
        object.__setattr__(self, "boxes", boxes)

    @property
    def n_objects(self) -> int:
        """Number of objects."""
        return len(self.boxes)

    @property
    def centres(self) -> np.ndarray:
        """Box centres ``(cx, cy)``, shape ``(n_objects, 2)``."""
        return (self.boxes[:, :2] + self.boxes[:, 2:]) / 2

    @property
    def rows(self) -> np.ndarray:
        """Grid row of each object (``index // n_cols``)."""
        return np.arange(self.n_objects) // self.n_cols

    @property
    def cols(self) -> np.ndarray:
        """Grid column of each object (``index % n_cols``)."""
        return np.arange(self.n_objects) % self.n_cols

    def assign(self, x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray,
               **options: Any) -> np.ndarray:
        """Object index per fixation (OAT's rule by default; options go to ``assign_objects``)."""
        return assign_objects(x, y, self.boxes, **options)

    def table(self) -> Any:
        """The object table as a pandas DataFrame: object, row, col, x0..y1, cx, cy."""
        import pandas as pd

        c = self.centres
        return pd.DataFrame({
            "object": np.arange(self.n_objects), "row": self.rows, "col": self.cols,
            "x0": self.boxes[:, 0], "y0": self.boxes[:, 1], "x1": self.boxes[:, 2],
            "y1": self.boxes[:, 3], "cx": c[:, 0], "cy": c[:, 1]})


def grid_layout(name: str, n_rows: int, n_cols: int, cell_size: tuple[float, float], *,
                origin: tuple[float, float] = (0.0, 0.0), image: str = "") -> SearchLayout:
    """A layout of ``n_rows x n_cols`` abutting cells of ``cell_size = (width, height)`` px.

    Examples
    --------
    >>> grid_layout("g", 1, 2, (10, 20), origin=(5, 0)).boxes.tolist()
    [[5.0, 0.0, 15.0, 20.0], [15.0, 0.0, 25.0, 20.0]]
    """
    w, h = (float(v) for v in cell_size)
    if w <= 0 or h <= 0:
        raise ParameterError(f"cell_size={cell_size!r} must be a positive (width, height).")
    r, c = np.divmod(np.arange(n_rows * n_cols), n_cols)
    x0, y0 = origin[0] + c * w, origin[1] + r * h
    return SearchLayout(name, np.stack([x0, y0, x0 + w, y0 + h], axis=1), n_rows, n_cols,
                        image)


def oat_grid(question: str) -> SearchLayout:
    """The object grid OAT crops from one of its collected screens (``Q1_*``, ``Q2_*``, ``Q3_*``).

    Examples
    --------
    >>> lay = oat_grid("Q1_7")
    >>> lay.n_rows, lay.n_cols, lay.boxes[0].tolist()
    (2, 11, [0.0, 152.0, 152.0, 601.0])
    """
    prefix = str(question)[:2]
    if prefix not in OAT_GRIDS:
        raise OATFormatError(f"question {question!r} starts with neither of "
                             f"{sorted(OAT_GRIDS)}; OAT's screens are Q1 (wine), Q2 (shampoo) "
                             "and Q3 (yogurt).")
    _, rows, cols, (w, h) = OAT_GRIDS[prefix]
    return grid_layout(str(question), rows, cols, (w, h),
                       origin=(0.0, OAT_SCREEN_HEIGHT - rows * h), image=f"{question}.png")


def layout_from_mask(mask: np.ndarray, n_rows: int, n_cols: int, *, name: str = "",
                     image: str = "", row_tolerance: int = 10) -> SearchLayout:
    """Object boxes from a binary mask image, one box per 8-connected white region.

    The mask is thresholded like OAT's preprocessing (grey level > 127 for
    8-bit images); each region's box is ``(x, y, x + w, y + h)`` as OpenCV's
    ``boundingRect`` gives it, and boxes are numbered in OAT's order: by
    ``y0 // row_tolerance`` (rows), then by ``x0``. That order is checked: if
    the tops of one row straddle a bin edge (so OAT's order would mix rows),
    an error says so instead of misnumbering the objects.

    Parameters
    ----------
    mask : ndarray, shape (H, W) or (H, W, 3)
        Boolean, or 8-bit grey / RGB (white = object).
    n_rows, n_cols : int
        The expected grid; a different number of regions is an error.

    Examples
    --------
    >>> m = np.zeros((20, 30), bool)
    >>> m[2:8, 1:9] = m[2:8, 12:20] = m[11:19, 1:9] = m[11:19, 12:20] = True
    >>> layout_from_mask(m, 2, 2).boxes[1].tolist()
    [12.0, 2.0, 20.0, 8.0]
    """
    from scipy import ndimage

    arr = np.asarray(mask)
    if arr.ndim == 3 and arr.shape[2] in (3, 4):
        arr = arr[..., :3].astype(float) @ np.array([0.299, 0.587, 0.114])
    if arr.ndim != 2:
        raise ParameterError(f"mask must be (H, W) or (H, W, 3); got shape {np.shape(mask)}.")
    binary = arr if arr.dtype == bool else arr > (127 if arr.max() > 1 else 0.5)
    labels, n = ndimage.label(binary, structure=np.ones((3, 3), bool))
    if n != n_rows * n_cols:
        raise OATFormatError(f"mask {name or ''} has {n} object regions, expected "
                             f"{n_rows} x {n_cols} = {n_rows * n_cols}.")
    boxes = [(s[1].start, s[0].start, s[1].stop, s[0].stop) for s in ndimage.find_objects(labels)]
    boxes.sort(key=lambda b: (b[1] // row_tolerance, b[0]))
    arr = np.asarray(boxes, float)
    for r in range(n_rows):
        row = arr[r * n_cols:(r + 1) * n_cols]
        if row[:, 1].max() >= row[:, 3].min() or (np.diff(row[:, 0]) <= 0).any():
            raise OATFormatError(
                f"mask {name or ''}: objects {r * n_cols}..{(r + 1) * n_cols - 1} (row {r} in "
                f"OAT's order, tops binned by {row_tolerance} px) are not one row of "
                "side-by-side boxes; the tops of a row straddle a bin edge. Pass another "
                "row_tolerance, or build the layout from the boxes yourself.")
    return SearchLayout(name, arr, n_rows, n_cols, image)


def _positions(values: Any, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float).reshape(-1)
    if not np.isfinite(arr).all():
        raise ParameterError(f"{what} holds NaN or Inf; every fixation needs a finite position.")
    return arr


@dataclass(frozen=True, eq=False)
class SearchTrial:
    """One search trial: a layout, a target object and the fixations on it.

    Parameters
    ----------
    layout : SearchLayout
    subject : str
    target : int
        The target object (0-based index into the layout).
    x, y : array-like
        Fixation positions (px of the layout image).
    duration : array-like, optional
        Fixation durations in s; NaN where the source has none.
    objects : array-like of int, optional
        Object index per fixation; by default assigned with OAT's rule (the
        containing box, else the nearest centre).
    task, target_name : str
        The search task (``"amazon"``, ``"wine"``, ...) and the target's name.
    trial : int
        Trial id.

    Examples
    --------
    >>> lay = grid_layout("g", 1, 3, (10, 10))
    >>> t = SearchTrial(lay, "s1", target=2, x=[5, 25, 15], y=[5, 5, 5])
    >>> t.objects.tolist(), t.found, t.length
    ([0, 2, 1], False, 3)
    """

    layout: SearchLayout
    subject: str
    target: int
    x: np.ndarray
    y: np.ndarray
    duration: np.ndarray | None = None
    objects: np.ndarray | None = None
    task: str = ""
    target_name: str = ""
    trial: int = 0

    def __post_init__(self) -> None:
        where = f"trial {self.trial} (subject {self.subject}, layout {self.layout.name!r})"
        x, y = _positions(self.x, f"{where}: x"), _positions(self.y, f"{where}: y")
        if x.size != y.size or x.size == 0:
            raise ParameterError(f"{where}: x and y need the same, non-zero number of fixations "
                                 f"(got {x.size} and {y.size}).")
        dur = (np.full(x.size, np.nan) if self.duration is None
               else np.asarray(self.duration, float).reshape(-1))
        if dur.size != x.size:
            raise ParameterError(f"{where}: {dur.size} durations for {x.size} fixations.")
        n = self.layout.n_objects
        if not 0 <= int(self.target) < n:
            raise ParameterError(f"{where}: target {self.target} is not an object index of a "
                                 f"layout with {n} objects (0-based).")
        if self.objects is None:
            obj = self.layout.assign(x, y)
        else:
            raw = np.asarray(self.objects).reshape(-1)
            whole = raw.dtype.kind == "f" and np.isfinite(raw).all() and (raw == raw.round()).all()
            if raw.dtype.kind not in "iu" and not whole:
                raise ParameterError(f"{where}: object indices must be whole numbers (no NaN); got "
                                     f"{raw[:5].tolist()}...")
            obj = raw.astype(np.int64)
            if obj.size != x.size:
                raise ParameterError(f"{where}: {obj.size} object indices for {x.size} fixations.")
            if ((obj < 0) | (obj >= n)).any():
                raise ParameterError(f"{where}: object indices must lie in 0..{n - 1}; got "
                                     f"{sorted(set(obj[(obj < 0) | (obj >= n)].tolist()))}.")
        for name, value in (("x", x), ("y", y), ("duration", dur), ("objects", obj)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        object.__setattr__(self, "target", int(self.target))

    @property
    def length(self) -> int:
        """Number of fixations."""
        return int(self.x.size)

    @property
    def found(self) -> bool:
        """Whether the last fixation is on the target (OAT's ``correct``)."""
        return bool(self.objects[-1] == self.target)


@dataclass(eq=False)
class SearchData(Sequence[SearchTrial]):
    """A list of search trials, with OAT's filtering and splitting.

    Examples
    --------
    >>> lay = grid_layout("g", 1, 4, (10, 10))
    >>> trials = [SearchTrial(lay, "s1", 3, x=[5.0] * n, y=[5.0] * n, trial=i, task="t")
    ...           for i, n in enumerate([2, 3, 3, 2, 3, 2, 3, 2, 3, 2])]
    >>> data = SearchData(trials)
    >>> parts = data.split(np.arange(10))
    >>> [len(parts[k]) for k in ("train", "val", "test")]
    [8, 1, 1]
    """

    trials: list[SearchTrial]
    layouts: dict[str, SearchLayout] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for t in self.trials:
            self.layouts.setdefault(t.layout.name, t.layout)

    def __len__(self) -> int:
        return len(self.trials)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return SearchData(self.trials[index])
        return self.trials[index]

    def __iter__(self) -> Iterator[SearchTrial]:
        return iter(self.trials)

    @property
    def lengths(self) -> np.ndarray:
        """Fixations per trial."""
        return np.array([t.length for t in self.trials], dtype=np.int64)

    def drop_length_outliers(self, n_sd: float = 3.0) -> SearchData:
        """Keep trials whose length is within mean +- ``n_sd`` SD (OAT: 3, population SD).

        Examples
        --------
        >>> lay = grid_layout("g", 1, 2, (10, 10))
        >>> data = SearchData([SearchTrial(lay, "s", 1, [5.0] * n, [5.0] * n)
        ...                    for n in [3] * 20 + [40]])
        >>> len(data.drop_length_outliers())
        20
        """
        lengths = self.lengths
        mean, sd = lengths.mean(), lengths.std()
        keep = (lengths >= mean - n_sd * sd) & (lengths <= mean + n_sd * sd)
        logger.info("length filter (mean %.2f +- %g x %.2f): dropping %d of %d trials", mean,
                    n_sd, sd, int((~keep).sum()), len(keep))
        return SearchData([t for t, k in zip(self.trials, keep, strict=True) if k],
                          dict(self.layouts))

    def split(self, permutation: Sequence[int] | np.ndarray,
              fractions: tuple[float, float] = (0.8, 0.9)) -> dict[str, SearchData]:
        """OAT's split: permute the trials, then per task train < 80 % <= val < 90 % <= test.

        Parameters
        ----------
        permutation : sequence of int
            A permutation of ``range(len(self))`` (OAT stores it, one index a
            line; see :func:`read_permutation`).
        fractions : (float, float)
            Where validation and test start, as fractions of each task's trials.

        Returns
        -------
        dict
            ``{"train", "val", "test"}`` -> :class:`SearchData`, trials in
            permuted order.
        """
        perm = np.asarray(permutation)
        if perm.ndim != 1 or sorted(perm.tolist()) != list(range(len(self))):
            raise ParameterError(f"permutation must hold each of 0..{len(self) - 1} once (got "
                                 f"{perm.size} values); was it made for another data set?")
        lo, hi = fractions
        if not 0 <= lo <= hi <= 1:
            raise ParameterError(f"fractions={fractions!r} must satisfy 0 <= val <= test <= 1.")
        parts: dict[str, list[SearchTrial]] = {"train": [], "val": [], "test": []}
        permuted = [self.trials[i] for i in perm]
        for task in dict.fromkeys(t.task for t in permuted):
            group = [t for t in permuted if t.task == task]
            a, b = int(len(group) * lo), int(len(group) * hi)
            parts["train"] += group[:a]
            parts["val"] += group[a:b]
            parts["test"] += group[b:]
        return {k: SearchData(v, dict(self.layouts)) for k, v in parts.items()}

    def to_fixations(self) -> xr.Dataset:
        """The fixation table (one row per fixation) for :func:`neuroattn.store.write_store`.

        Columns: ``subject``, ``image`` (the layout image, else its name),
        ``trial``, ``fixation``, ``x``, ``y``, ``duration`` (s) and
        ``layout``, ``target``, ``object``, ``task``, ``target_name``.
        Durations are NaN where the source has none (the Amazon covers): such
        a table is fine in memory, but ``write_store`` refuses NaN durations.

        Examples
        --------
        >>> lay = grid_layout("g", 1, 2, (10, 10))
        >>> ds = SearchData([SearchTrial(lay, "s", 1, [5.0, 15.0], [5.0, 5.0],
        ...                              duration=[0.2, 0.3])]).to_fixations()
        >>> ds.object.values.tolist(), ds.target.values.tolist()
        ([0, 1], [1, 1])
        """
        if not self.trials:
            raise ParameterError("No trials: there is nothing to tabulate.")
        ids = [t.trial for t in self.trials]
        if len(set(ids)) != len(ids):
            raise ParameterError("Trial ids are not unique; give each SearchTrial its own trial=.")
        n = self.lengths

        def per_trial(get: Any) -> np.ndarray:
            return np.repeat(np.array([get(t) for t in self.trials]), n)

        table = {
            "subject": per_trial(lambda t: t.subject),
            "image": per_trial(lambda t: t.layout.image or t.layout.name),
            "trial": per_trial(lambda t: t.trial),
            "fixation": np.concatenate([np.arange(k) for k in n]),
            "x": np.concatenate([t.x for t in self.trials]),
            "y": np.concatenate([t.y for t in self.trials]),
            "duration": np.concatenate([t.duration for t in self.trials]),
            "layout": per_trial(lambda t: t.layout.name),
            "target": per_trial(lambda t: t.target).astype(np.int64),
            "object": np.concatenate([t.objects for t in self.trials]),
            "task": per_trial(lambda t: t.task),
            "target_name": per_trial(lambda t: t.target_name),
        }
        return fixations_from_table(table, units="px", dataset="OAT visual search")


_TEXT_COLUMNS = ("subject", "layout", "image", "task", "target_name")


def _read_csv(path: Path, required: Sequence[str]) -> Any:
    import pandas as pd

    if not path.is_file():
        raise InputNotFoundError(f"{path} does not exist; an OAT search folder holds "
                                 "objects.csv and fixations.csv (see datasets/oat-search.md).")
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""],
                        dtype=dict.fromkeys(_TEXT_COLUMNS, str))
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise OATFormatError(f"{path} has no column(s) {missing}; required: {list(required)} "
                             f"(found {list(frame.columns)}).")
    return frame


def _text(value: Any) -> str:
    """A CSV cell as text: '' for an empty cell."""
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def _layouts_from_table(objects: Any, path: Path) -> dict[str, SearchLayout]:
    layouts = {}
    for name, group in objects.groupby("layout", sort=False):
        group = group.sort_values("object")
        idx, row, col = (group[c].to_numpy() for c in ("object", "row", "col"))
        n_rows, n_cols = int(row.max()) + 1, int(col.max()) + 1
        if (not np.array_equal(idx, np.arange(n_rows * n_cols))
            or not np.array_equal(idx, row * n_cols + col)):
            raise OATFormatError(
                f"{path}: the objects of layout {name!r} are not numbered row-major on a "
                f"{n_rows} x {n_cols} grid; need object = row * n_cols + col for every cell, "
                "each once.")
        boxes = group[["x0", "y0", "x1", "y1"]].to_numpy(dtype=float)
        image = _text(group["image"].iloc[0]) if "image" in group else ""
        try:
            layouts[str(name)] = SearchLayout(str(name), boxes, n_rows, n_cols, image)
        except ValueError as err:
            raise OATFormatError(f"{path}: {err}") from err
    return layouts


def read_oat_search(root: str | os.PathLike, *, verbose: Verbose = None) -> SearchData:
    """Read a folder in neuroattn's OAT search layout (``objects.csv`` + ``fixations.csv``).

    Parameters
    ----------
    root : path-like
        The folder. ``objects.csv``: ``layout, object, row, col, x0, y0, x1,
        y1`` (+ optional ``image``), one row per object, objects numbered
        row-major from 0. ``fixations.csv``: ``subject, layout, trial,
        target, fixation, x, y`` (+ optional ``duration`` in s, ``object``,
        ``task``, ``target_name``), one row per fixation; ``trial`` is unique
        per trial, ``fixation`` orders its fixations, ``target`` and
        ``object`` are 0-based object indices.

    Returns
    -------
    SearchData
        Trials in order of first appearance in ``fixations.csv``.
    """
    root = Path(root)
    with use_log_level(verbose):
        layouts = _layouts_from_table(_read_csv(root / "objects.csv", OBJECT_COLUMNS),
                                      root / "objects.csv")
        fix_path = root / "fixations.csv"
        fix = _read_csv(fix_path, FIXATION_COLUMNS)
        unknown = sorted(set(fix["layout"].astype(str)) - set(layouts))
        if unknown:
            raise OATFormatError(f"{fix_path}: layout(s) {unknown[:5]} are not in objects.csv.")
        trials = []
        for trial_id, group in fix.groupby("trial", sort=False):
            group = group.sort_values("fixation", kind="stable")
            for col in ("subject", "layout", "target"):
                if group[col].nunique() != 1:
                    raise OATFormatError(f"{fix_path}: trial {trial_id} has several values of "
                                         f"{col!r}; one trial is one subject, layout, target.")
            first = group.iloc[0]
            opt = {c: group[c].to_numpy() for c in ("duration", "object") if c in group}
            try:
                trials.append(SearchTrial(
                    layouts[str(first["layout"])], str(first["subject"]), int(first["target"]),
                    group["x"].to_numpy(float), group["y"].to_numpy(float),
                    duration=opt.get("duration"), objects=opt.get("object"),
                    task=_text(first.get("task")), trial=int(trial_id),
                    target_name=_text(first.get("target_name"))))
            except (ValueError, TypeError) as err:
                raise OATFormatError(f"{fix_path}: {err}") from err
        logger.info("OAT search: %d trials on %d layouts from %s", len(trials), len(layouts),
                    root)
    return SearchData(trials, layouts)


def write_oat_search(data: SearchData, root: str | os.PathLike) -> Path:
    """Write trials in the layout :func:`read_oat_search` reads (atomically, per file).

    Returns
    -------
    pathlib.Path
        ``root``.
    """
    import pandas as pd

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    objects = pd.concat([lay.table().drop(columns=["cx", "cy"]).assign(
        layout=name, image=lay.image) for name, lay in data.layouts.items()])
    ds = data.to_fixations()
    fixations = pd.DataFrame({c: ds[c].values for c in (
        *FIXATION_COLUMNS, "duration", "object", "task", "target_name")})
    for name, frame in (("objects.csv", objects[[*OBJECT_COLUMNS, "image"]]),
                        ("fixations.csv", fixations)):
        with atomic_path(root / name) as tmp:
            frame.to_csv(tmp, index=False)
    return root


def read_permutation(path: str | os.PathLike) -> np.ndarray:
    """OAT's stored split permutation (``splitlist_*.txt``: one trial index a line).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "splitlist_all_amazon.txt"
    >>> _ = p.write_text("2\\n0\\n1")
    >>> read_permutation(p).tolist()
    [2, 0, 1]
    """
    text = Path(path).read_text().split()
    try:
        return np.array([int(v) for v in text], dtype=np.int64)
    except ValueError as err:
        raise OATFormatError(f"{path}: a split list holds one integer a line ({err}).") from err


def _mask_layout(masks: str | os.PathLike | Mapping[str, SearchLayout], image: str,
                 prefix: str, n_rows: int, n_cols: int) -> SearchLayout:
    if isinstance(masks, Mapping):
        if image not in masks:
            raise OATFormatError(f"no layout for image {image!r} in the given masks mapping.")
        return masks[image]
    from PIL import Image

    path = Path(masks) / f"{prefix}{image}"
    if not path.is_file():
        raise InputNotFoundError(f"{path} does not exist; OAT's Amazon masks are named "
                                 f"'{prefix}<image>' (pass mask_prefix= if yours differ).")
    with Image.open(path) as im:
        grey = np.asarray(im.convert("L"))
    return layout_from_mask(grey, n_rows, n_cols, name=image, image=image)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x0, y0 = np.maximum(box[0], boxes[:, 0]), np.maximum(box[1], boxes[:, 1])
    x1, y1 = np.minimum(box[2], boxes[:, 2]), np.minimum(box[3], boxes[:, 3])
    inter = np.where((x1 >= x0) & (y1 >= y0), (x1 - x0) * (y1 - y0), 0.0)
    area, areas = _area(box), _area(boxes)
    return inter / (area + areas - inter)


def _area(boxes: np.ndarray) -> np.ndarray:
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def read_amazon_covers(
    json_path: str | os.PathLike,
    masks: str | os.PathLike | Mapping[str, SearchLayout],
    *,
    n_rows: int = 6,
    n_cols: int = 14,
    mask_prefix: str = "14x6-",
    verbose: Verbose = None,
) -> SearchData:
    """Read the Amazon book-cover search data (``Amazon.json``) with its object boxes.

    ``Amazon.json`` (DFKI's STI data set; 100 collages of 84 covers, 6
    subjects each) maps each image name to ``{"fixations": {subject: [[x,
    y], ...]}, "ground_truth": [{"xmin", "ymin", "xmax", "ymax"}], "size":
    {"width", "height"}, "target": "target_<k>.jpg"}``. The fixations have
    **no durations** (``duration`` is NaN). As in OAT's preprocessing, the
    target is the object box with the largest IoU with ``ground_truth[0]``
    and fixations are assigned with OAT's rule. Apply
    :meth:`SearchData.drop_length_outliers` to reproduce OAT's 594 trials.

    Parameters
    ----------
    json_path : path-like
        ``Amazon.json``.
    masks : path-like or mapping
        The folder of OAT's binary masks (``<mask_prefix><image>``, white
        objects on black; see :func:`layout_from_mask`), or a mapping from
        image name to :class:`SearchLayout`.
    n_rows, n_cols : int
        The grid (6 x 14 for the covers).

    Returns
    -------
    SearchData
        Task ``"amazon"``; trials numbered in file order (images, then subjects).
    """
    path = Path(json_path)
    with use_log_level(verbose):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise OATFormatError(f"{path} cannot be read as JSON ({err}).") from err
        if not isinstance(data, dict):
            raise OATFormatError(f"{path}: expected an object mapping image names to trials.")
        trials = []
        for image, entry in data.items():
            try:
                gt = entry["ground_truth"][0]
                gt_box = np.array([gt["xmin"], gt["ymin"], gt["xmax"], gt["ymax"]], float)
                fixations = entry["fixations"]
                target_name = str(entry.get("target", ""))
            except (KeyError, IndexError, TypeError) as err:
                raise OATFormatError(f"{path}: image {image!r} lacks {err}; each entry needs "
                                     "'fixations' and 'ground_truth' [{xmin, ymin, xmax, "
                                     "ymax}].") from err
            layout = _mask_layout(masks, image, mask_prefix, n_rows, n_cols)
            iou = _iou(gt_box, layout.boxes)
            if not (iou > 0).any():
                raise OATFormatError(f"{path}: the ground-truth box of {image!r} overlaps no "
                                     "object box; do the masks belong to these images?")
            target = int(iou.argmax())
            for subject, points in fixations.items():
                try:
                    pts = np.asarray(points, dtype=float).reshape(-1, 2)
                    trials.append(SearchTrial(layout, str(subject), target, pts[:, 0],
                                              pts[:, 1], task="amazon", target_name=target_name,
                                              trial=len(trials)))
                except (ValueError, TypeError) as err:
                    raise OATFormatError(f"{path}: image {image!r}, subject {subject}: {err} "
                                         "(fixations are [[x, y], ...]).") from err
        logger.info("Amazon covers: %d trials on %d images", len(trials), len(data))
    return SearchData(trials)


def read_oat_collected(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    duration_column: str | None = None,
    verbose: Verbose = None,
) -> SearchData:
    """Read OAT's wine/shampoo/yogurt search tables, one row per fixation.

    The columns are those OAT's ``img_feature.py`` reads: ``ID`` (trial
    within a file), ``Sub_ID``, ``Question`` (the screen, ``Q1_*`` wine,
    ``Q2_*`` shampoo, ``Q3_*`` yogurt), ``Target`` (target name),
    ``T_Package`` (target object, **1-based**), ``Choice`` (the object each
    fixation was assigned to, 1-based), ``X``, ``Y``. Object boxes are OAT's
    crop grids (:func:`oat_grid`).

    Parameters
    ----------
    paths : path-like or sequence
        ``.csv`` files (or ``.xlsx``, which needs ``openpyxl``); trial ids are
        per file, as OAT reads one sheet per screen type.
    duration_column : str, optional
        A column of fixation durations in **ms**, if your export has one.

    Returns
    -------
    SearchData
        Trials numbered in order of appearance across the files.
    """
    import pandas as pd

    files = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    required = ["ID", "Sub_ID", "Question", "Target", "T_Package", "Choice", "X", "Y"]
    if duration_column:
        required.append(duration_column)
    trials: list[SearchTrial] = []
    with use_log_level(verbose):
        for item in files:
            path = Path(item)
            if not path.is_file():
                raise InputNotFoundError(f"{path} does not exist.")
            try:
                frame = (pd.read_excel(path) if path.suffix.lower() in (".xlsx", ".xls")
                         else pd.read_csv(path))
            except ImportError as err:
                raise ImportError(f"Reading {path.name} needs openpyxl (`pip install "
                                  "openpyxl`), or export the sheet to CSV.") from err
            except (ValueError, OSError, zipfile.BadZipFile) as err:
                raise OATFormatError(f"{path} cannot be read as a table ({err}).") from err
            missing = [c for c in required if c not in frame.columns]
            if missing:
                raise OATFormatError(f"{path} has no column(s) {missing}; OAT's tables have "
                                     f"{required}.")
            for trial_id, group in frame.groupby("ID", sort=False):
                first = group.iloc[0]
                layout = oat_grid(str(first["Question"]))
                dur = (group[duration_column].to_numpy(float) / 1000.0 if duration_column
                       else None)
                try:
                    trials.append(SearchTrial(
                        layout, str(first["Sub_ID"]), int(first["T_Package"]) - 1,
                        group["X"].to_numpy(float), group["Y"].to_numpy(float), duration=dur,
                        objects=group["Choice"].to_numpy() - 1,
                        task=OAT_GRIDS[layout.name[:2]][0], target_name=str(first["Target"]),
                        trial=len(trials)))
                except (ValueError, TypeError) as err:
                    raise OATFormatError(f"{path}: ID {trial_id}: {err} (T_Package and "
                                         "Choice are 1-based in OAT's tables).") from err
        logger.info("OAT collected data: %d trials from %d file(s)", len(trials), len(files))
    return SearchData(trials)
