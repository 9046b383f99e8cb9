"""MIT1003 (Judd et al. 2009): free-viewing eye tracking on 1003 images, from the released folders.

In MIT1003 ("Learning to predict where humans look", ICCV 2009) 15 people
looked freely at 1003 natural images for 3 s each while a 240 Hz eye tracker
recorded their gaze. The release unpacks (from ``ALLSTIMULI.zip``,
``DATA.zip`` and the fixation-map zip) into one root folder:

=====================================  ================================================  ======
path under ``root``                    content                                           reader
=====================================  ================================================  ======
``ALLSTIMULI/<stem>.jpeg``             the images (longest side 1024 px)                 yes
``DATA/<subject>/<stem>.mat``          raw gaze of one subject on one image              yes
``DATA/<subject>/*.mat`` (others)      ``shuff_stimnames.mat``, ``CalibrationData.mat``  ignored
``ALLFIXATIONMAPS/<stem>_fixMap.jpg``  grey-level blurred fixation density               yes
``ALLFIXATIONMAPS/<stem>_fixPts.jpg``  all subjects' fixation points (binary, JPEG)      yes
=====================================  ================================================  ======

Each ``DATA`` file holds one MATLAB struct variable named after the stem
(cut to MATLAB's 63 characters) whose ``DATA(1).eyeData`` is an N x 2 array
of raw gaze positions (x, y in image px, one row per 240 Hz sample; negative
values are blinks). This layout is the one Judd et al.'s ``readme`` and
pysaliency's MIT1003 loader (via ``extract_fixations.m``) read.

Judd et al. found fixations with their own acceleration-based
``checkFixations.m`` (minimum fixation 50 ms, 34 px per degree).
:func:`read_mit1003` uses a dispersion-threshold (I-DT, Salvucci & Goldberg
2000) stand-in instead, :func:`idt_fixations`, so its fixations are close to,
not identical with, the ones published by others. It gives a fixations table
(:mod:`neuroattn.store.schema`, kind ``"fixations"``): pixels, **durations
in seconds**, one row per fixation. The data set card is
``datasets/mit1003.md``.

Examples
--------
>>> import tempfile
>>> import numpy as np
>>> from neuroattn.testing.files import write_fake_mit1003
>>> gaze = np.repeat([[200.0, 300.0], [600.0, 400.0]], 60, axis=0)  # two 250 ms fixations
>>> root = write_fake_mit1003(tempfile.mkdtemp(), {"ajs": {"i1": gaze}}, {"i1": (1024, 768)})
>>> ds = read_mit1003(root)
>>> ds.x.values.tolist(), ds.duration.values.tolist(), str(ds.image.values[0])
([200.0, 600.0], [0.25, 0.25], 'i1.jpeg')
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from numpy.lib.stride_tricks import sliding_window_view

from neuroattn._docs import fill_doc
from neuroattn._logging import Verbose, logger, use_log_level
from neuroattn.errors import FormatError, InputNotFoundError, ParameterError
from neuroattn.progress import progress
from neuroattn.store import fixations_from_table

#: The eye tracker's sampling rate (Hz).
SAMPLING_RATE = 240.0
#: Pixels per degree of visual angle assumed by Judd et al.'s ``checkFixations.m``.
PX_PER_DEGREE = 34.0
#: Default I-DT dispersion threshold (px): 1 degree, the top of Salvucci & Goldberg's 0.5-1 deg.
MAX_DISPERSION = PX_PER_DEGREE
#: Default I-DT minimum fixation duration (s): Salvucci & Goldberg's lower bound (100-200 ms).
MIN_DURATION = 0.1
STIMULI_DIR, DATA_DIR, MAPS_DIR = "ALLSTIMULI", "DATA", "ALLFIXATIONMAPS"
_MATLAB_NAME_MAX = 63
_UNPACK = ("{root} must be the folder into which the MIT1003 zips (ALLSTIMULI.zip, DATA.zip and "
           "the fixation maps, from http://people.csail.mit.edu/tjudd/WherePeopleLook/) were "
           "unpacked")


class MIT1003FormatError(FormatError):
    """A file does not have the MIT1003 layout."""


def _folder(root: str | os.PathLike, name: str) -> Path:
    base = Path(root)
    if not base.is_dir():
        raise InputNotFoundError(f"MIT1003 root {base} is not a folder; "
                                 f"{_UNPACK.format(root='it')}.")
    folder = base / name
    if not folder.is_dir():
        raise InputNotFoundError(f"{base} has no {name}/ folder; {_UNPACK.format(root=base)}.")
    return folder


def mit1003_stimuli(root: str | os.PathLike) -> list[str]:
    """The stems of the images in ``root/ALLSTIMULI`` (``*.jpeg``), sorted.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "ALLSTIMULI").mkdir()
    >>> for name in ("i2.jpeg", "i1.jpeg", "notes.txt"):
    ...     _ = (root / "ALLSTIMULI" / name).write_bytes(b"")
    >>> mit1003_stimuli(root)
    ['i1', 'i2']
    """
    folder = _folder(root, STIMULI_DIR)
    stems = sorted(p.stem for p in folder.glob("*.jpeg"))
    if not stems:
        raise InputNotFoundError(f"{folder} holds no *.jpeg image; {_UNPACK.format(root=root)}.")
    return stems


def _grey(root: str | os.PathLike, stem: str, suffix: str) -> np.ndarray:
    from PIL import Image

    path = _folder(root, MAPS_DIR) / f"{stem}_{suffix}.jpg"
    if not path.is_file():
        raise InputNotFoundError(f"{path} does not exist; check the stem {stem!r} (see "
                                 "mit1003_stimuli) and that the fixation maps were unpacked.")
    with Image.open(path) as image:
        return np.asarray(image.convert("L"), dtype=np.float64)


def read_mit1003_fixation_points(root: str | os.PathLike, stem: str, *,
                                 threshold: float = 127.0) -> tuple[np.ndarray, np.ndarray]:
    """The pooled fixation points of all subjects on one image, from ``<stem>_fixPts.jpg``.

    The file is a binary map saved as JPEG, so it is thresholded: every pixel
    brighter than ``threshold`` (grey level, 0-255) is a fixation point.
    JPEG ringing can turn one point into a few neighbouring pixels.

    Returns
    -------
    x, y : numpy.ndarray
        Column and row (px, from the top-left pixel) of each point, in row-major order.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from neuroattn.testing.files import write_fake_mit1003
    >>> points = np.zeros((30, 40), np.uint8)
    >>> points[5, 10] = points[20, 30] = 255
    >>> root = write_fake_mit1003(tempfile.mkdtemp(), maps={"i1": {"fixPts": points}})
    >>> x, y = read_mit1003_fixation_points(root, "i1")
    >>> x.tolist(), y.tolist()
    ([10.0, 30.0], [5.0, 20.0])
    """
    rows, cols = np.nonzero(_grey(root, stem, "fixPts") > threshold)
    return cols.astype(np.float64), rows.astype(np.float64)


def read_mit1003_fixation_map(root: str | os.PathLike, stem: str) -> np.ndarray:
    """The human fixation density of one image, from ``<stem>_fixMap.jpg``, summing to 1.

    Returns
    -------
    numpy.ndarray
        ``float64``, ``(height, width)``: the grey levels divided by their sum.

    Examples
    --------
    >>> import tempfile
    >>> from neuroattn.testing.files import write_fake_mit1003
    >>> root = write_fake_mit1003(tempfile.mkdtemp(), maps={"i1": {"fixMap": [[128] * 4] * 3}})
    >>> density = read_mit1003_fixation_map(root, "i1")
    >>> density.shape, round(float(density.sum()), 12), round(float(density[0, 0]), 4)
    ((3, 4), 1.0, 0.0833)
    """
    grey = _grey(root, stem, "fixMap")
    total = grey.sum()
    if total <= 0:
        raise MIT1003FormatError(f"{stem}_fixMap.jpg is black everywhere; it holds no density.")
    return grey / total


def _field(value: Any, name: str) -> Any:
    """``value.name`` of a MATLAB struct (the first element of a struct array), or None."""
    from scipy.io.matlab import mat_struct

    if isinstance(value, np.ndarray) and value.dtype == object and value.size:
        value = value.flat[0]
    if isinstance(value, mat_struct) and name in value._fieldnames:
        return getattr(value, name)
    return None


def read_mit1003_gaze(root: str | os.PathLike, subject: str, stem: str) -> np.ndarray:
    """The raw gaze of one subject on one image: ``DATA/<subject>/<stem>.mat``.

    Returns
    -------
    numpy.ndarray
        ``float64``, ``(n_samples, 2)``: x, y (px) per 240 Hz sample, as
        recorded (negative values are blinks). Extra columns are dropped.

    Raises
    ------
    FileNotFoundError
        If the root, ``DATA``, the subject's folder or the file is missing.
    MIT1003FormatError
        If the file is not a MATLAB file, has no ``<stem>.DATA(1).eyeData``,
        or ``eyeData`` is not an N x 2 (or wider) numeric array.

    Examples
    --------
    >>> import tempfile
    >>> from neuroattn.testing.files import write_fake_mit1003
    >>> root = write_fake_mit1003(tempfile.mkdtemp(), {"hp": {"i1": [[1, 2], [3, -4]]}})
    >>> read_mit1003_gaze(root, "hp", "i1").tolist()
    [[1.0, 2.0], [3.0, -4.0]]
    """
    from scipy.io import loadmat

    folder = _folder(root, DATA_DIR) / subject
    if not folder.is_dir():
        raise InputNotFoundError(f"{folder} does not exist; subject {subject!r} is not in "
                                 f"{folder.parent} (subjects: {_subjects(folder.parent)}).")
    path = folder / f"{stem}.mat"
    if not path.is_file():
        raise InputNotFoundError(f"{path} does not exist; subject {subject!r} has no data for "
                                 f"image {stem!r}.")
    try:
        mat = loadmat(path, struct_as_record=False, squeeze_me=False)
    except Exception as err:  # scipy's MATLAB readers raise assorted error types
        raise MIT1003FormatError(f"{path} cannot be read as a MATLAB file ({type(err).__name__}: "
                                 f"{err}).") from err
    names = [k for k in mat if not k.startswith("__")]
    name = stem[:_MATLAB_NAME_MAX]
    if name not in mat and len(names) == 1:
        name = names[0]
    eye = _field(_field(mat.get(name), "DATA"), "eyeData")
    if eye is None:
        raise MIT1003FormatError(
            f"{path} has no {name}.DATA(1).eyeData (variables: {names}); MIT1003 gaze files "
            "hold a struct named after the image whose DATA.eyeData is the N x 2 raw gaze.")
    eye = np.asarray(eye)
    if eye.size == 0:
        return np.empty((0, 2))
    if eye.ndim != 2 or eye.shape[1] < 2 or eye.dtype.kind not in "iuf":
        raise MIT1003FormatError(f"{path}: eyeData has shape {eye.shape} and dtype {eye.dtype}; "
                                 "expected numbers, N x 2 (x, y in px, one row per sample).")
    return eye[:, :2].astype(np.float64)


def _subjects(data_dir: Path) -> list[str]:
    return sorted(p.name for p in data_dir.iterdir() if p.is_dir())


def _idt_segment(x: np.ndarray, y: np.ndarray, k: int, max_dispersion: float
                 ) -> list[tuple[int, int]]:
    """I-DT on gap-free samples: ``(first sample, n samples)`` per fixation."""
    m = len(x)
    if m < k:
        return []
    wx, wy = sliding_window_view(x, k), sliding_window_view(y, k)
    window = (wx.max(axis=1) - wx.min(axis=1)) + (wy.max(axis=1) - wy.min(axis=1))
    found: list[tuple[int, int]] = []
    i = 0
    while i <= m - k:
        ok = np.flatnonzero(window[i:] <= max_dispersion)
        if not ok.size:
            break
        i += int(ok[0])
        sx, sy = x[i:], y[i:]
        spread = ((np.maximum.accumulate(sx) - np.minimum.accumulate(sx))
                  + (np.maximum.accumulate(sy) - np.minimum.accumulate(sy)))
        over = np.flatnonzero(spread > max_dispersion)
        n = int(over[0]) if over.size else m - i
        found.append((i, n))
        i += n
    return found


def idt_fixations(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    *,
    sfreq: float = SAMPLING_RATE,
    max_dispersion: float = MAX_DISPERSION,
    min_duration: float = MIN_DURATION,
) -> pd.DataFrame:
    """Fixations in raw gaze by dispersion threshold (I-DT, Salvucci & Goldberg 2000).

    A window of ``ceil(min_duration * sfreq)`` samples is a fixation when its
    dispersion, ``(max x - min x) + (max y - min y)``, is at most
    ``max_dispersion``; it then grows sample by sample while the dispersion
    stays within the threshold. The next search starts after it; windows
    that are too dispersed move on by one sample. NaN samples (blinks, lost
    or off-screen gaze) end a fixation: no fixation spans them.

    Parameters
    ----------
    x, y : array-like
        Gaze positions (px), one per sample.
    sfreq : float
        Sampling rate (Hz).
    max_dispersion : float
        Dispersion threshold (px); the default is 1 degree in MIT1003.
    min_duration : float
        Shortest fixation (s).

    Returns
    -------
    pandas.DataFrame
        One row per fixation: ``x``, ``y`` (mean of its samples, px),
        ``start`` (s, first sample / ``sfreq``), ``duration`` (s, samples /
        ``sfreq``), ``first_sample`` and ``n_samples``.

    Examples
    --------
    >>> x = [10.0] * 30 + [200.0] * 30
    >>> y = [50.0] * 30 + [60.0] * 30
    >>> fix = idt_fixations(x, y, sfreq=240.0, max_dispersion=34.0, min_duration=0.1)
    >>> fix[["x", "y", "start", "duration", "n_samples"]].values.tolist()
    [[10.0, 50.0, 0.0, 0.125, 30.0], [200.0, 60.0, 0.125, 0.125, 30.0]]
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise ParameterError(f"x and y must be 1-D and of one length; got shapes {x.shape} and "
                             f"{y.shape}.")
    if not (sfreq > 0 and max_dispersion >= 0 and min_duration >= 0):
        raise ParameterError(f"Need sfreq > 0, max_dispersion >= 0 and min_duration >= 0; got "
                             f"{sfreq}, {max_dispersion}, {min_duration}.")
    k = max(1, math.ceil(round(min_duration * sfreq, 9)))
    valid = np.isfinite(x) & np.isfinite(y)
    edges = np.flatnonzero(np.diff(np.r_[0, valid.astype(np.int8), 0])).reshape(-1, 2)
    found = [(a + i, n) for a, b in edges for i, n in _idt_segment(x[a:b], y[a:b], k,
                                                                   max_dispersion)]
    first = np.array([f for f, _ in found], dtype=np.int64)
    count = np.array([n for _, n in found], dtype=np.int64)
    return pd.DataFrame({
        "x": np.array([x[f:f + n].mean() for f, n in found], dtype=np.float64),
        "y": np.array([y[f:f + n].mean() for f, n in found], dtype=np.float64),
        "start": first / sfreq, "duration": count / sfreq,
        "first_sample": first, "n_samples": count,
    })


def _image_size(root: str | os.PathLike, stem: str) -> tuple[int, int]:
    from PIL import Image

    path = _folder(root, STIMULI_DIR) / f"{stem}.jpeg"
    if not path.is_file():
        raise InputNotFoundError(f"{path} does not exist; the image is needed for its size "
                                 f"(off-screen gaze is dropped); {_UNPACK.format(root=root)}.")
    with Image.open(path) as image:
        return image.size


@fill_doc
def read_mit1003(
    root: str | os.PathLike,
    subjects: Sequence[str] | None = None,
    stems: Sequence[str] | None = None,
    *,
    max_dispersion: float = MAX_DISPERSION,
    min_duration: float = MIN_DURATION,
    drop_initial: bool = False,
    verbose: Verbose = None,
) -> xr.Dataset:
    """Detect fixations in MIT1003's raw gaze and read them into one fixations table.

    For each subject and image, the samples that are NaN or off the image
    (x outside ``[0, width)``, y outside ``[0, height)``; this includes the
    negative values of blinks) are dropped, then :func:`idt_fixations` finds
    the fixations in the rest, without bridging the gaps.

    Parameters
    ----------
    root : path-like
        The folder holding ``ALLSTIMULI/`` and ``DATA/``.
    subjects : sequence of str, optional
        Subject folders in ``DATA`` (e.g. ``["ajs", "hp"]``); all by default.
    stems : sequence of str, optional
        Images, as file stems; all of :func:`mit1003_stimuli` by default. A
        subject without a file for an image is skipped, with a warning.
    max_dispersion : float
        I-DT dispersion threshold (px). The default, 34 px, is 1 degree in
        Judd et al.'s setup, the top of the 0.5-1 degree range Salvucci &
        Goldberg (2000) recommend.
    min_duration : float
        I-DT shortest fixation (s). The default, 0.1 s, is the lower bound
        Salvucci & Goldberg recommend; Judd et al.'s ``checkFixations.m``
        keeps fixations from 50 ms.
    drop_initial : bool
        Drop the first fixation of every scanpath, as Judd et al. did (it
        is usually still on the central fixation cross shown before the image).
    %(verbose)s

    Returns
    -------
    xarray.Dataset
        A ``fixations`` table along ``row``: ``subject``, ``image``
        (``<stem>.jpeg``), ``trial`` (running index over the scanpaths with
        fixations, subject by subject, images in sorted order, from 0),
        ``fixation`` (index within the scanpath, from 0), ``x``, ``y`` (px),
        ``duration`` (s), ``start`` (s from the first sample), ``n_samples``,
        ``image_width`` and ``image_height`` (px). Attrs give ``sfreq`` and
        the detector and its parameters.

    Raises
    ------
    FileNotFoundError
        If the root, ``ALLSTIMULI``, ``DATA``, a subject or an image is
        missing, or no gaze file is found at all.
    MIT1003FormatError
        (a ``ValueError``) for a gaze file without ``eyeData`` or of the wrong shape.

    Examples
    --------
    >>> import tempfile
    >>> from neuroattn.testing.files import write_fake_mit1003
    >>> centre, target = [[400.0, 300.0]] * 48, [[700.0, 100.0]] * 72
    >>> gaze = centre + [[-1.0, -1.0]] * 12 + target                 # a blink in between
    >>> root = write_fake_mit1003(tempfile.mkdtemp(), {"hp": {"i7": gaze}, "tu": {"i7": gaze}},
    ...                           {"i7": (800, 600)})
    >>> ds = read_mit1003(root, subjects=["tu"], drop_initial=True)
    >>> ds.x.values.tolist(), ds.duration.values.tolist(), ds.start.values.tolist()
    ([700.0], [0.3], [0.25])
    """
    with use_log_level(verbose):
        data_dir = _folder(root, DATA_DIR)
        subjects = _subjects(data_dir) if subjects is None else list(subjects)
        for subject in subjects:
            if not (data_dir / subject).is_dir():
                raise InputNotFoundError(f"Subject {subject!r} has no folder in {data_dir} "
                                         f"(subjects: {_subjects(data_dir)}).")
        stems = mit1003_stimuli(root) if stems is None else list(stems)
        sizes = {stem: _image_size(root, stem) for stem in stems}
        pairs = [(subject, stem) for subject in subjects for stem in stems]
        scanpaths: list[tuple[str, str, pd.DataFrame]] = []
        missing, empty = [], 0
        for subject, stem in progress(pairs, desc="MIT1003", unit="scanpath"):
            if not (data_dir / subject / f"{stem}.mat").is_file():
                missing.append(f"{subject}/{stem}")
                continue
            x, y = read_mit1003_gaze(root, subject, stem).T
            width, height = sizes[stem]
            off = ~((x >= 0) & (x < width) & (y >= 0) & (y < height))  # NaN compares False
            x[off], y[off] = np.nan, np.nan
            fix = idt_fixations(x, y, sfreq=SAMPLING_RATE, max_dispersion=max_dispersion,
                                min_duration=min_duration)
            fix = fix.iloc[1:] if drop_initial else fix
            if len(fix):
                scanpaths.append((subject, stem, fix))
            else:
                empty += 1
        if missing:
            logger.warning("MIT1003: no gaze file for %d (subject, image) pair(s), e.g. %s; "
                           "skipped.", len(missing), missing[0])
        if empty:
            logger.info("MIT1003: %d scanpath(s) have no fixation and are left out.", empty)
        if not scanpaths:
            raise InputNotFoundError(f"No fixation found in {data_dir} for subjects {subjects} "
                                     f"and {len(stems)} image(s); check the subjects and stems.")
        lengths = np.array([len(f) for _, _, f in scanpaths])
        fixations = pd.concat([f for _, _, f in scanpaths], ignore_index=True)
        table: dict[str, Any] = {
            "subject": np.repeat([s for s, _, _ in scanpaths], lengths),
            "image": np.repeat([f"{stem}.jpeg" for _, stem, _ in scanpaths], lengths),
            "trial": np.repeat(np.arange(len(scanpaths)), lengths),
            "fixation": np.concatenate([np.arange(n) for n in lengths]),
            "x": fixations["x"].to_numpy(), "y": fixations["y"].to_numpy(),
            "duration": fixations["duration"].to_numpy(),
            "start": fixations["start"].to_numpy(),
            "n_samples": fixations["n_samples"].to_numpy(),
            "image_width": np.repeat([sizes[stem][0] for _, stem, _ in scanpaths], lengths),
            "image_height": np.repeat([sizes[stem][1] for _, stem, _ in scanpaths], lengths),
        }
        ds = fixations_from_table(
            table, units="px", dataset="MIT1003", sfreq=SAMPLING_RATE,
            detector="I-DT (Salvucci & Goldberg 2000), a stand-in for Judd et al.'s "
                     "checkFixations", max_dispersion=float(max_dispersion),
            min_duration=float(min_duration),
            initial_fixation="dropped" if drop_initial else "included")
        logger.info("MIT1003: %d scanpaths, %d fixations from %d subject(s)", len(scanpaths),
                    int(lengths.sum()), len(subjects))
    return ds
