"""fMRI datasets from NIfTI volumes and GIfTI surfaces (via nibabel/nilearn).

Examples
--------
>>> import numpy as np, nibabel as nib
>>> from neuroattn.store.neuroimaging import fmri_from_nifti
>>> img = nib.Nifti1Image(np.random.rand(7, 8, 9, 4).astype("float32"), np.eye(4))
>>> mask = nib.Nifti1Image((np.arange(7 * 8 * 9).reshape(7, 8, 9) % 2).astype("uint8"), np.eye(4))
>>> fmri_from_nifti(img, mask).responses.shape
(4, 252)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from neuroattn.errors import FormatError, ParameterError
from neuroattn.store.build import fmri_from_array

ImageLike = Any  # a nibabel image or a path


def _load(img: ImageLike) -> Any:
    import nibabel as nib

    return nib.load(os.fspath(img)) if isinstance(img, str | os.PathLike) else img


def fmri_from_nifti(
    img: ImageLike,
    mask_img: ImageLike,
    *,
    stimulus: Sequence | None = None,
    roi_img: ImageLike | None = None,
    roi_labels: Mapping[int, str] | None = None,
    noise_ceiling_img: ImageLike | None = None,
    space: str = "unknown",
    dtype: str = "float32",
) -> xr.Dataset:
    """Mask a 4-D volume of single-trial responses (last axis = stimulus).

    Parameters
    ----------
    img : Nifti image or path
        4-D, ``(X, Y, Z, n_stimuli)`` (e.g. NSD betas).
    mask_img : Nifti image or path
        3-D mask on the same grid; non-zero voxels are kept.
    roi_img, roi_labels : optional
        Integer label volume and ``{label: name}``; voxels get an ``roi`` coord.
    noise_ceiling_img : optional
        3-D noise-ceiling volume (%), stored per voxel.

    Returns
    -------
    xarray.Dataset
        ``responses`` (stimulus, voxel) with ``i, j, k`` voxel indices and
        ``attrs["affine"]`` / ``attrs["mask_shape"]`` to map results back.
    """
    img, mask_img = _load(img), _load(mask_img)
    data = np.asanyarray(img.dataobj)
    if data.ndim != 4:
        raise ParameterError(f"img must be 4-D (x, y, z, stimulus); got shape {data.shape}.")
    mask = np.asanyarray(mask_img.dataobj) != 0
    if mask.shape != data.shape[:3] or not np.allclose(mask_img.affine, img.affine, atol=1e-4):
        raise ParameterError(
            f"The mask ({mask.shape}) is not on the image grid ({data.shape[:3]}); resample it "
            "with nilearn.image.resample_to_img(mask_img, img, interpolation='nearest')."
        )
    ijk = np.argwhere(mask)
    responses = data[mask].T.astype(dtype)
    roi = None
    if roi_img is not None:
        labels = np.asanyarray(_load(roi_img).dataobj)[mask].astype(int)
        names = roi_labels or {}
        roi = [names.get(int(v), str(int(v)) if v else "none") for v in labels]
    nc = None
    if noise_ceiling_img is not None:
        nc = np.asanyarray(_load(noise_ceiling_img).dataobj)[mask].astype(float)
    ds = fmri_from_array(responses, stimulus=stimulus, noise_ceiling=nc, roi=roi, space=space,
                         affine=np.asarray(img.affine).tolist(), mask_shape=list(mask.shape))
    return ds.assign_coords(i=("voxel", ijk[:, 0]), j=("voxel", ijk[:, 1]),
                            k=("voxel", ijk[:, 2]))


def to_nifti(values: np.ndarray, ds: xr.Dataset, fill: float = 0.0) -> Any:
    """Put per-voxel ``values`` (e.g. a score map) back into a 3-D NIfTI image.

    Examples
    --------
    >>> import numpy as np, nibabel as nib
    >>> img = nib.Nifti1Image(np.ones((2, 3, 4, 5), "float32"), np.eye(4))
    >>> ds = fmri_from_nifti(img, nib.Nifti1Image(np.ones((2, 3, 4), "uint8"), np.eye(4)))
    >>> to_nifti(np.arange(24.0), ds).shape
    (2, 3, 4)
    """
    import nibabel as nib

    if "mask_shape" not in ds.attrs or "i" not in ds.coords:
        raise ParameterError("This dataset has no volume geometry (build it with fmri_from_nifti).")
    values = np.asarray(values, dtype=np.float32)
    if values.shape != (ds.sizes["voxel"],):
        raise ParameterError(f"values need one entry per voxel ({ds.sizes['voxel']}); "
                             f"got {values.shape}.")
    vol = np.full(tuple(ds.attrs["mask_shape"]), fill, np.float32)
    vol[ds["i"].values, ds["j"].values, ds["k"].values] = values
    return nib.Nifti1Image(vol, np.asarray(ds.attrs["affine"]))


def fmri_from_gifti(
    gii: ImageLike | Sequence[ImageLike],
    *,
    mask: np.ndarray | None = None,
    hemi: str = "lh",
    stimulus: Sequence | None = None,
    roi: Sequence[str] | None = None,
    space: str = "unknown",
    dtype: str = "float32",
) -> xr.Dataset:
    """Surface responses from GIfTI: one darray per stimulus, or one (vertex, stimulus) darray.

    ``gii`` may also be a list of single-stimulus images. ``mask`` (bool per
    vertex, e.g. excluding the medial wall) selects vertices; ``roi`` labels
    every vertex of the full surface.

    Examples
    --------
    >>> import numpy as np, nibabel as nib
    >>> darrays = [nib.gifti.GiftiDataArray(np.random.rand(10).astype("float32"))
    ...            for _ in range(3)]
    >>> fmri_from_gifti(nib.gifti.GiftiImage(darrays=darrays)).responses.shape
    (3, 10)
    """
    images = [_load(g) for g in gii] if isinstance(gii, list | tuple) else [_load(gii)]
    columns = []
    for image in images:
        arrays = [np.asarray(d.data) for d in image.darrays]
        if len(arrays) == 1 and arrays[0].ndim == 2:
            columns.extend(arrays[0].T)
        else:
            columns.extend(a.ravel() for a in arrays)
    lengths = {c.shape[0] for c in columns}
    if len(lengths) != 1:
        raise FormatError(f"GIfTI darrays have different vertex counts {sorted(lengths)}.")
    responses = np.stack(columns).astype(dtype)
    n_vertex = responses.shape[1]
    keep = np.ones(n_vertex, bool) if mask is None else np.asarray(mask, bool)
    if keep.shape != (n_vertex,):
        raise ParameterError(f"mask needs one bool per vertex ({n_vertex}); got {keep.shape}.")
    labels = None if roi is None else np.asarray(roi, dtype=object)[keep]
    vertex = np.flatnonzero(keep)
    ds = fmri_from_array(responses[:, keep], stimulus=stimulus, roi=labels, space=space,
                         hemi=hemi, n_vertices=n_vertex)
    return ds.assign_coords(vertex=("voxel", vertex))
