"""NIfTI and GIfTI to fMRI stores."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from neuroattn.store import fmri_from_gifti, fmri_from_nifti, open_store, to_nifti, write_store

SHAPE = (7, 8, 9)  # unequal on purpose


@pytest.fixture
def volumes(rng, tmp_path):
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    data = rng.standard_normal((*SHAPE, 5)).astype("float32")
    mask = np.zeros(SHAPE, "uint8")
    mask[2:5, 1:7, 3:8] = 1
    rois = np.zeros(SHAPE, "int16")
    rois[2:5, 1:4, 3:8] = 1
    rois[2:5, 4:7, 3:8] = 2
    paths = {}
    for name, arr in (("bold", data), ("mask", mask), ("roi", rois),
                      ("nc", rng.uniform(0, 80, SHAPE).astype("float32"))):
        paths[name] = tmp_path / f"{name}.nii.gz"
        nib.save(nib.Nifti1Image(arr, affine), paths[name])
    return data, mask, rois, paths


def test_nifti_mask_rois_and_back(volumes, tmp_path):
    data, mask, rois, paths = volumes
    ds = fmri_from_nifti(paths["bold"], paths["mask"], roi_img=paths["roi"],
                         roi_labels={1: "V1", 2: "V2"}, noise_ceiling_img=paths["nc"],
                         stimulus=[f"img{i}" for i in range(5)], space="native")
    assert ds.responses.shape == (5, int(mask.sum()))
    i, j, k = (ds[c].values for c in "ijk")
    np.testing.assert_array_equal(ds.responses.values, data[i, j, k].T)
    assert set(ds.roi.values) == {"V1", "V2"}
    assert (ds.roi.values == "V1").sum() == (rois == 1).sum()
    path = write_store(ds, tmp_path / "fmri.zarr")
    back = open_store(path, kind="fmri")
    vol = to_nifti(back.responses.values[2], back).get_fdata()
    np.testing.assert_allclose(vol[mask == 1], data[..., 2][mask == 1])
    assert (vol[mask == 0] == 0).all()


def test_mask_on_another_grid_is_explained(volumes):
    _, _, _, paths = volumes
    other = nib.Nifti1Image(np.ones((4, 4, 4), "uint8"), np.eye(4))
    with pytest.raises(ValueError, match="resample_to_img"):
        fmri_from_nifti(paths["bold"], other)


def test_gifti_one_darray_per_stimulus_and_matrix(rng, tmp_path):
    n_vertex = 11
    values = rng.standard_normal((4, n_vertex)).astype("float32")
    per_stim = nib.gifti.GiftiImage(darrays=[nib.gifti.GiftiDataArray(v) for v in values])
    nib.save(per_stim, tmp_path / "lh.func.gii")
    mask = np.ones(n_vertex, bool)
    mask[[0, 5]] = False
    ds = fmri_from_gifti(tmp_path / "lh.func.gii", mask=mask, roi=["a"] * n_vertex)
    np.testing.assert_array_equal(ds.responses.values, values[:, mask])
    np.testing.assert_array_equal(ds.vertex.values, np.flatnonzero(mask))
    matrix = nib.gifti.GiftiImage(darrays=[nib.gifti.GiftiDataArray(values.T.copy())])
    np.testing.assert_array_equal(fmri_from_gifti(matrix).responses.values, values)
    with pytest.raises(ValueError, match="one bool per vertex"):
        fmri_from_gifti(matrix, mask=np.ones(3, bool))
