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
from pathlib import Path

import numpy as np

from neuroattn.datasets.nsd import (
    ALGONAUTS_ROIS,
    FSAVERAGE_N_VERTICES,
    HEMIS,
    SPLIT_FOLDERS,
    subject_number,
)

__all__ = ["write_fake_algonauts"]


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
