"""Writers of small files in real formats, for tests, examples and the fault matrix.

They write what the readers of :mod:`neuroattn.datasets` read, with random
content: a reader can then be tested end to end on a file in its exact
layout without the (large, licensed) real data.

Examples
--------
>>> import tempfile
>>> root = write_fake_algonauts(tempfile.mkdtemp(), subject=1, n_train=4, n_test=2)
>>> sorted(p.name for p in (root / "subj01").iterdir())
['roi_masks', 'test_split', 'training_split']
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neuroattn._docs import fill_doc
from neuroattn.datasets.capmit1003 import SCHEMA_SQL
from neuroattn.datasets.mit1003 import DATA_DIR, MAPS_DIR, STIMULI_DIR
from neuroattn.datasets.nsd import (
    ALGONAUTS_ROIS,
    FSAVERAGE_N_VERTICES,
    HEMIS,
    SPLIT_FOLDERS,
    subject_number,
)
from neuroattn.datasets.swec import CHUNK_S
from neuroattn.errors import ParameterError

__all__ = ["CAPMIT1003_EXAMPLE_SQL", "write_fake_algonauts", "write_fake_capmit1003",
           "write_fake_mit1003", "write_swec_h5"]


def write_fake_algonauts(
    root: str | os.PathLike,
    subject: int | str = 1,
    *,
    n_train: int = 10,
    n_test: int = 4,
    n_vertices: tuple[int, int] = (7, 9),
    image_size: int = 8,
    test_fmri: bool = True,
    noise_ceiling: bool = True,
    noise_ceiling_percent: bool = False,
    fsaverage_masks: bool = True,
    seed: int = 0,
) -> Path:
    """Write a tiny fake subject in the exact challenge layout; returns ``root``.

    Vertex ``i`` of each hemisphere gets ROI ``i % n`` of each family (so the
    families overlap and, with few vertices, some ROIs are empty); vertex 0 of
    each hemisphere is in no ROI (``"rest"``). Images are random RGB PNGs named
    like the real ones (``train-0001_nsd-00001.png``, ``test-0001_nsd-00101.png``).
    Responses are random float32; noise ceilings are uniform in ``[0, 1]``
    (times 100 with ``noise_ceiling_percent``).

    Examples
    --------
    >>> import tempfile
    >>> root = write_fake_algonauts(tempfile.mkdtemp(), subject="subj05", n_train=3)
    >>> sorted(p.name for p in (root / "subj05").iterdir())
    ['roi_masks', 'test_split', 'training_split']
    """
    from matplotlib.image import imsave

    root = Path(root)
    number = subject_number(subject)
    base = root / f"subj{number:02d}"
    rng = np.random.default_rng(seed)
    for split, n, offset in (("train", n_train, 0), ("test", n_test, 100)):
        folder, stem = SPLIT_FOLDERS[split]
        images = base / folder / f"{stem}_images"
        images.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            pixels = rng.integers(0, 256, size=(image_size, image_size, 3), dtype=np.uint8)
            imsave(images / f"{split}-{i + 1:04d}_nsd-{offset + i + 1:05d}.png", pixels)
        if split == "train" or test_fmri:
            fmri = base / folder / f"{stem}_fmri"
            fmri.mkdir(parents=True, exist_ok=True)
            for h, nv in zip(HEMIS, n_vertices, strict=True):
                np.save(fmri / f"{h}_{stem}_fmri.npy",
                        rng.standard_normal((n, nv)).astype(np.float32))
    masks = base / "roi_masks"
    masks.mkdir(parents=True, exist_ok=True)
    for family, names in ALGONAUTS_ROIS.items():
        np.save(masks / f"mapping_{family}.npy",
                {0: "Unknown", **{i + 1: name for i, name in enumerate(names)}})
        for h, nv in zip(HEMIS, n_vertices, strict=True):
            ids = np.arange(nv) % (len(names) + 1)
            ids[0] = 0
            np.save(masks / f"{h}.{family}_challenge_space.npy", ids.astype(np.float32))
    for h, nv in zip(HEMIS, n_vertices, strict=True):
        if fsaverage_masks:
            mask = np.zeros(FSAVERAGE_N_VERTICES, np.float32)
            mask[np.sort(rng.choice(FSAVERAGE_N_VERTICES, nv, replace=False))] = 1
            np.save(masks / f"{h}.all-vertices_fsaverage_space.npy", mask)
        if noise_ceiling:
            nc_dir = base / "test_split" / "noise_ceiling"
            nc_dir.mkdir(parents=True, exist_ok=True)
            nc = rng.uniform(0.0, 1.0, nv) * (100.0 if noise_ceiling_percent else 1.0)
            np.save(nc_dir / f"{h}_noise_ceiling.npy", nc.astype(np.float32))
    return root


def write_fake_mit1003(root: str | os.PathLike,
                       gaze: Mapping[str, Mapping[str, Any]] | None = None,
                       image_sizes: Mapping[str, tuple[int, int]] | None = None, *,
                       maps: Mapping[str, Mapping[str, Any]] | None = None) -> Path:
    """Write MIT1003's layout: stimuli, raw gaze in ``DATA/<subject>``, fixation maps.

    Parameters
    ----------
    root : path-like
        The data set's folder (created).
    gaze : mapping of str to mapping of str to array-like of shape (n_samples, 2), optional
        Subject -> image stem -> gaze samples ``(x, y)`` in pixels at 240 Hz
        (``-1`` or NaN: lost), stored as ``<stem>.mat`` holding ``<stem>.DATA.eyeData``.
    image_sizes : mapping of str to (int, int), optional
        Image stem -> ``(width, height)`` of a black JPEG written to ``ALLSTIMULI``.
    maps : mapping of str to mapping of str to array-like of shape (H, W), optional
        Image stem -> ``{"fixPts": ..., "fixMap": ...}``: grey levels (0-255) written
        as ``ALLFIXATIONMAPS/<stem>_<kind>.jpg`` at JPEG quality 100.

    Returns
    -------
    pathlib.Path
        ``root``.

    Examples
    --------
    >>> import tempfile
    >>> root = write_fake_mit1003(tempfile.mkdtemp(), {"ajs": {"i1": [[10.0, 20.0]] * 60}},
    ...                           {"i1": (64, 48)})
    >>> sorted(str(p.relative_to(root)) for p in root.rglob("*.*"))
    ['ALLSTIMULI/i1.jpeg', 'DATA/ajs/i1.mat']
    """
    from PIL import Image
    from scipy.io import savemat

    root = Path(root)
    (root / STIMULI_DIR).mkdir(parents=True, exist_ok=True)
    for stem, size in (image_sizes or {}).items():
        Image.new("RGB", tuple(size)).save(root / STIMULI_DIR / f"{stem}.jpeg")
    for stem, kinds in (maps or {}).items():
        (root / MAPS_DIR).mkdir(exist_ok=True)
        for kind, grey in kinds.items():
            Image.fromarray(np.asarray(grey, dtype=np.uint8)).save(
                root / MAPS_DIR / f"{stem}_{kind}.jpg", quality=100)
    for subject, samples in (gaze or {}).items():
        folder = root / DATA_DIR / subject
        folder.mkdir(parents=True, exist_ok=True)
        for stem, points in samples.items():     # MATLAB names hold at most 63 characters
            savemat(folder / f"{stem}.mat",
                    {stem[:63]: {"DATA": {"eyeData": np.asarray(points, dtype=float)}}})
    return root


CAPMIT1003_EXAMPLE_SQL = """
INSERT INTO captions VALUES ('o1', 'u1', '2022-05-04 10:00:00', 'a car', 'i1'),
                            ('o2', 'u2', '2022-05-04 10:05:00', 'two dogs', 'i1');
INSERT INTO images VALUES ('i1', 'i1.jpeg');
INSERT INTO clicks VALUES (2, 'o1', 30, 40, 12.5), (1, 'o1', 10, 20, 10.0), (3, 'o2', 5, 6, 3.0);
"""
"""The rows :func:`write_fake_capmit1003` writes by default: two captions of image ``i1``
(``i1.jpeg``), two clicks of ``o1`` given out of order, one click of ``o2``."""


def write_fake_capmit1003(path: str | os.PathLike, sql: str | None = None) -> Path:
    """Write a CapMIT1003 SQLite database: the reader's schema, then the statements ``sql``.

    Parameters
    ----------
    path : path-like
        The database file (such as ``capmit1003.db``; replaced if it exists), or a
        folder to write ``capmit1003.db`` into.
    sql : str, optional
        ``INSERT`` statements for the ``captions``, ``images`` and ``clicks`` tables
        (see :data:`neuroattn.datasets.capmit1003.SCHEMA_SQL`); ``None``:
        :data:`CAPMIT1003_EXAMPLE_SQL`, ``""``: empty tables.

    Returns
    -------
    pathlib.Path
        The database file.

    Examples
    --------
    >>> import tempfile
    >>> from neuroattn.datasets.capmit1003 import CapMIT1003
    >>> db = write_fake_capmit1003(tempfile.mkdtemp(),
    ...                            "INSERT INTO captions VALUES ('o1', 'u1', 0, 'a car', 'i1');")
    >>> with CapMIT1003(db) as data:
    ...     data.captions()["caption"].tolist()
    ['a car']
    """
    path = Path(path)
    if path.is_dir():
        path = path / "capmit1003.db"
    path.unlink(missing_ok=True)                 # a new database, not rows added to an old one
    connection = sqlite3.connect(path)
    try:
        connection.executescript(SCHEMA_SQL + (CAPMIT1003_EXAMPLE_SQL if sql is None else sql))
    finally:
        connection.close()
    return path


@fill_doc
def write_swec_h5(
    path: str | os.PathLike,
    data: np.ndarray,
    sfreq: float,
    *,
    seizures: Sequence[tuple[float, float]] = (),
    chunk_s: float = CHUNK_S,
    compression: Any = None,
) -> Path:
    """Write samples in the SWEC HDF5 layout, which :func:`~neuroattn.datasets.convert_swec` reads.

    Parameters
    ----------
    path : path-like
        The ``.h5`` file to create (replaced if it exists).
    data : ndarray, shape (n_channels, n_times)
        Samples, as in the real files.
    sfreq : float
        Stored as the root attribute ``sampling_rate``.
    seizures : sequence of (onset, offset)
        Seconds; written to ``data/seizures`` with fields ``onsets``/``offsets``.
    chunk_s : float
        Chunk length along time (all channels per chunk).
    compression : optional
        An h5py compression argument, e.g. ``hdf5plugin.LZ4()``.

    %(returns_path)s

    Examples
    --------
    >>> import tempfile
    >>> write_swec_h5(tempfile.mkdtemp() + "/ID01_part_1.h5", np.zeros((2, 10)), 5.0).suffix
    '.h5'
    """
    import h5py

    data = np.asarray(data)
    if data.ndim != 2:
        raise ParameterError(f"data must be (n_channels, n_times); got shape {data.shape}.")
    path = Path(path)
    chunk = (data.shape[0], max(1, min(data.shape[1], round(chunk_s * sfreq))))
    table = np.array([tuple(map(float, row)) for row in seizures],
                     dtype=[("onsets", "f8"), ("offsets", "f8")])
    with h5py.File(path, "w") as file:
        file.attrs["sampling_rate"] = float(sfreq)
        file.attrs["channels"] = int(data.shape[0])
        file.create_dataset("data/ieeg", data=data, chunks=chunk,
                            **({"compression": compression} if compression is not None else {}))
        file.create_dataset("data/seizures", data=table)
    return path
