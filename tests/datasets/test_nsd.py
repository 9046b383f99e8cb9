"""Tests of the Algonauts 2023 / NSD reader and converter (neuroattn.datasets.nsd)."""

from __future__ import annotations

import os
import re
import shutil

import numpy as np
import pytest

from neuroattn.__main__ import main
from neuroattn.datasets.convert import convert
from neuroattn.datasets.nsd import (
    ALGONAUTS_ROIS,
    ROI_FAMILIES,
    AlgonautsFormatError,
    AlgonautsSubject,
    convert_algonauts,
    load_roi_mapping,
    subject_number,
)
from neuroattn.store import open_store
from neuroattn.testing.files import write_fake_algonauts

NAMES = [name for family in ROI_FAMILIES for name in ALGONAUTS_ROIS[family]]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """subj01 with 10 train / 4 test images, 7 lh and 9 rh vertices, everything released."""
    return write_fake_algonauts(tmp_path_factory.mktemp("algonauts"), subject=1, n_train=10,
                                n_test=4, n_vertices=(7, 9), seed=1)


@pytest.fixture
def fresh(tmp_path):
    """A subject that a test may damage."""
    return write_fake_algonauts(tmp_path / "data", subject=2, n_train=5, n_test=3,
                                n_vertices=(6, 8), seed=2)


def test_images_in_the_exact_layout(root):
    sub = AlgonautsSubject(root, 1)
    train = sub.images("train")
    assert len(train) == 10 and all(p.suffix == ".png" for p in train)
    assert train[0].parent == root / "subj01" / "training_split" / "training_images"
    assert [p.name for p in train][:2] == ["train-0001_nsd-00001.png", "train-0002_nsd-00002.png"]
    assert sub.image_ids("test") == [f"test-{i:04d}_nsd-{100 + i:05d}" for i in range(1, 5)]
    np.testing.assert_array_equal(sub.nsd_ids("test"), [101, 102, 103, 104])
    from PIL import Image

    with Image.open(train[0]) as img:
        assert img.size == (8, 8)
    # the subject folder itself works as root, and subject spellings agree
    assert AlgonautsSubject(root / "subj01", "subj01").path == sub.path
    assert AlgonautsSubject(root, "01").subject == 1


def test_responses(root):
    sub = AlgonautsSubject(root, 1)
    base = root / "subj01"
    lh = np.load(base / "training_split" / "training_fmri" / "lh_training_fmri.npy")
    rh = np.load(base / "training_split" / "training_fmri" / "rh_training_fmri.npy")
    np.testing.assert_array_equal(sub.responses("train", "lh"), lh)
    np.testing.assert_array_equal(sub.responses("train", "both"), np.concatenate([lh, rh], 1))
    assert sub.responses("test", "rh").shape == (4, 9)
    assert isinstance(sub.responses("train", "lh"), np.memmap)
    assert sub.n_vertices("lh") == 7 and sub.n_vertices("rh") == 9
    assert sub.has_responses("test") and sub.has_noise_ceiling()


def test_roi_membership_has_24_named_rois_plus_rest(root):
    sub = AlgonautsSubject(root, 1)
    assert len(NAMES) == 24
    member, names = sub.roi_membership("rh")
    assert names == [*NAMES, "rest"] and member.shape == (9, 25) and member.dtype == bool
    # built from the masks: vertex i has id i % (n + 1) in each family, vertex 0 none
    col = 0
    for family in ROI_FAMILIES:
        ids = np.load(root / "subj01" / "roi_masks" / f"rh.{family}_challenge_space.npy")
        for key in range(1, len(ALGONAUTS_ROIS[family]) + 1):
            np.testing.assert_array_equal(member[:, col], ids == key)
            col += 1
    np.testing.assert_array_equal(member[:, -1], ~member[:, :-1].any(1))
    assert member[0].tolist() == [False] * 24 + [True]
    assert member[:, :-1].sum(1).max() == len(ROI_FAMILIES)  # the families overlap
    assert sub.roi_labels("rh")[:2].tolist() == ["rest", "V1v"]
    # one hemisphere's ROIs per query, as the paper: 50 columns, block-diagonal
    both, both_names = sub.roi_membership("both")
    assert both.shape == (16, 50)
    assert both_names[:2] == ["lh-V1v", "lh-V1d"] and both_names[24:26] == ["lh-rest", "rh-V1v"]
    assert not both[:7, 25:].any() and not both[7:, :25].any()
    np.testing.assert_array_equal(both[7:, 25:], member)
    # fewer families
    prf = AlgonautsSubject(root, 1, families=["prf-visualrois"]).roi_membership("lh")[1]
    assert prf == [*ALGONAUTS_ROIS["prf-visualrois"], "rest"]


def test_noise_ceiling_units(root, tmp_path):
    sub = AlgonautsSubject(root, 1)
    raw = np.load(root / "subj01" / "test_split" / "noise_ceiling" / "lh_noise_ceiling.npy")
    np.testing.assert_allclose(sub.noise_ceiling("lh"), raw)
    assert sub.noise_ceiling("both").shape == (16,)
    pct = write_fake_algonauts(tmp_path, subject=1, n_train=3, n_test=2,
                               noise_ceiling_percent=True, seed=1)
    nc_pct = AlgonautsSubject(pct, 1).noise_ceiling("lh")
    assert nc_pct.max() <= 1.0
    raw_pct = np.load(pct / "subj01" / "test_split" / "noise_ceiling" / "lh_noise_ceiling.npy")
    np.testing.assert_allclose(nc_pct, raw_pct / 100.0, rtol=1e-6)
    with pytest.raises(AlgonautsFormatError, match="noise_ceiling_units='fraction'"):
        AlgonautsSubject(pct, 1, noise_ceiling_units="fraction").noise_ceiling("lh")
    np.testing.assert_allclose(
        AlgonautsSubject(root, 1, noise_ceiling_units="percent").noise_ceiling("lh"), raw / 100)


def test_to_fmri_store(root, tmp_path):
    sub = AlgonautsSubject(root, 1)
    ds = open_store(sub.to_fmri_store(tmp_path / "s1.zarr"), kind="fmri")
    np.testing.assert_array_equal(ds.responses.values, sub.responses("train", "both"))
    assert ds.stimulus.values.tolist() == sub.image_ids("train")
    np.testing.assert_array_equal(ds.nsd_id.values, sub.nsd_ids("train"))
    assert ds.hemisphere.values.tolist() == ["lh"] * 7 + ["rh"] * 9
    assert ds.vertex.values.tolist() == list(range(7)) + list(range(9))
    np.testing.assert_array_equal(ds.fsaverage_vertex.values[:7], sub.fsaverage_vertices("lh"))
    member, names = sub.roi_membership("both")
    np.testing.assert_array_equal(ds.roi_membership.values, member)
    assert ds.roi_name.values.tolist() == names
    assert ds.roi.values[:2].tolist() == ["lh-rest", "lh-V1v"]
    np.testing.assert_allclose(ds.noise_ceiling.values, sub.noise_ceiling("both"), rtol=1e-6)
    assert ds.attrs["space"] == "fsaverage" and ds.attrs["subject"] == "subj01"
    assert ds.attrs["noise_ceiling_units"] == "fraction"
    # test split, one hemisphere, no fsaverage masks -> challenge space
    test = open_store(convert_algonauts(root, tmp_path / "t.zarr", subject=1, split="test",
                                        hemi="rh"))
    np.testing.assert_array_equal(test.responses.values, sub.responses("test", "rh"))
    assert test.roi_name.values.tolist() == [*NAMES, "rest"]
    with pytest.raises(FileExistsError, match="overwrite=True"):
        sub.to_fmri_store(tmp_path / "s1.zarr")


def test_store_without_optional_files(tmp_path):
    root = write_fake_algonauts(tmp_path, subject=4, n_train=3, n_test=2, test_fmri=False,
                                noise_ceiling=False, fsaverage_masks=False)
    sub = AlgonautsSubject(root, 4)
    assert not sub.has_responses("test") and not sub.has_noise_ceiling()
    assert sub.fsaverage_vertices("lh") is None
    ds = open_store(sub.to_fmri_store(tmp_path / "s4.zarr", hemi="lh"))
    assert "noise_ceiling" not in ds.coords and "fsaverage_vertex" not in ds.coords
    assert ds.attrs["space"] == "algonauts2023-challenge"
    with pytest.raises(AlgonautsFormatError, match="test fMRI of lh not found: .*lh_test_fmri"):
        sub.responses("test", "lh")
    with pytest.raises(AlgonautsFormatError, match="noise ceiling of lh not found"):
        sub.noise_ceiling("lh")


def test_cli_converts_algonauts(root, tmp_path):
    dst = tmp_path / "cli.zarr"
    assert main(["-q", "convert", "algonauts", str(root), str(dst), "--subject", "1"]) == 0
    assert open_store(dst).sizes == {"stimulus": 10, "voxel": 16, "roi_name": 50}
    assert main(["-q", "convert", "algonauts", str(root), str(dst), "--subject", "subj01",
                 "--split", "test", "--hemi", "lh", "--overwrite"]) == 0
    assert open_store(dst).responses.shape == (4, 7)
    assert convert("algonauts", root, tmp_path / "c.zarr", subject="01").exists()


@pytest.mark.parametrize(("argv", "match"), [
    (["convert", "algonauts", "{root}", "{dst}"], "needs --subject"),
    (["convert", "algonauts", "{root}", "{dst}", "--subject", "1", "--sfreq", "100"],
     "no option 'sfreq'"),
    (["convert", "algonauts", "{root}", "{dst}", "--subject", "3"],
     "No subj03/ under .* It holds subj01"),
    (["convert", "edf", "{root}/x.edf", "{dst}", "--split", "test"], "algonauts only"),
    (["convert", "algonauts", "{root}", "{dst}", "--subject", "one"], "not a subject number"),
])
def test_cli_errors_are_one_line(root, tmp_path, argv, match, capsys):
    fill = {"root": root, "dst": tmp_path / "o.zarr"}
    assert main([a.format(**fill) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert re.match(f"^error: .*{match}", err) and "\n" not in err


def test_missing_files_and_mismatched_counts(fresh):
    base = fresh / "subj02"
    (base / "training_split" / "training_fmri" / "rh_training_fmri.npy").unlink()
    sub = AlgonautsSubject(fresh, 2)
    with pytest.raises(AlgonautsFormatError, match=r"train fMRI of rh not found: .*rh_training"):
        sub.responses("train", "both")
    sub.responses("train", "lh")  # the other hemisphere still reads
    # an extra image: the responses no longer match row for row
    shutil.copy(base / "training_split" / "training_images" / "train-0001_nsd-00001.png",
                base / "training_split" / "training_images" / "train-0006_nsd-00099.png")
    with pytest.raises(AlgonautsFormatError, match="has 5 rows but there are 6 train images"):
        sub.responses("train", "lh")
    # a ROI mask of the wrong length
    np.save(base / "roi_masks" / "lh.floc-faces_challenge_space.npy", np.zeros(5))
    with pytest.raises(AlgonautsFormatError, match="has 5 vertices but the lh responses have 6"):
        sub.roi_membership("lh")
    # an id the mapping does not name
    np.save(base / "roi_masks" / "lh.floc-faces_challenge_space.npy", np.full(6, 9))
    with pytest.raises(AlgonautsFormatError, match=r"ROI id\(s\) \[9\]"):
        sub.roi_membership("lh")
    (base / "roi_masks" / "mapping_floc-places.npy").unlink()
    with pytest.raises(AlgonautsFormatError,
                       match="ROI mapping of floc-places not found: .*mapping_floc-places.npy"):
        AlgonautsSubject(fresh, 2, families=["floc-places"]).roi_membership("rh")
    shutil.rmtree(base / "test_split" / "test_images")
    with pytest.raises(AlgonautsFormatError, match="test image folder not found"):
        sub.images("test")


def test_bad_arguments(root, tmp_path):
    sub = AlgonautsSubject(root, 1)
    with pytest.raises(ValueError, match="split='val'"):
        sub.images("val")
    with pytest.raises(ValueError, match="hemi='left'"):
        sub.responses("train", "left")
    with pytest.raises(AlgonautsFormatError, match="does not exist"):
        AlgonautsSubject(tmp_path / "nowhere", 1)
    with pytest.raises(ValueError, match="noise_ceiling_units"):
        AlgonautsSubject(root, 1, noise_ceiling_units="permille")
    assert [subject_number(s) for s in (1, "1", "01", "subj01", "sub-08", "SUBJ07")] == [
        1, 1, 1, 1, 8, 7]
    for bad in ("x1", 0, "subj", True):
        with pytest.raises(ValueError):
            subject_number(bad)


class _Payload:
    """Pickles to a call of os.mkdir: what a tampered mapping file could do."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (os.mkdir, (self.target,))


def test_mappings_are_read_without_running_code(tmp_path):
    good = tmp_path / "mapping_floc-places.npy"
    np.save(good, {0: "Unknown", 1: "OPA", 2: "PPA", 3: "RSC"})
    assert load_roi_mapping(good) == {0: "Unknown", 1: "OPA", 2: "PPA", 3: "RSC"}
    assert load_roi_mapping(good, trust_mapping=True) == load_roi_mapping(good)
    # numpy scalars as keys (as a numpy-built dict would have) are fine too
    np.save(good, {np.int64(0): np.str_("Unknown"), np.int64(1): np.str_("OPA")})
    assert load_roi_mapping(good) == {0: "Unknown", 1: "OPA"}
    marker = tmp_path / "pwned"
    evil = tmp_path / "mapping_evil.npy"
    np.save(evil, np.array(_Payload(str(marker)), dtype=object), allow_pickle=True)
    with pytest.raises(AlgonautsFormatError, match=r"refused .*mkdir.*trust_mapping=True"):
        load_roi_mapping(evil)
    assert not marker.exists()
    np.save(tmp_path / "list.npy", np.array([["a", 1]], dtype=object))
    with pytest.raises(AlgonautsFormatError, match="does not hold a dict"):
        load_roi_mapping(tmp_path / "list.npy")
    np.save(tmp_path / "plain.npy", np.arange(3))
    with pytest.raises(AlgonautsFormatError, match="not a pickled dict"):
        load_roi_mapping(tmp_path / "plain.npy")
    np.save(tmp_path / "bad.npy", {"V1": 1})
    with pytest.raises(AlgonautsFormatError, match="expected integer ids"):
        load_roi_mapping(tmp_path / "bad.npy")


def test_data_files_are_never_unpickled(fresh):
    path = fresh / "subj02" / "training_split" / "training_fmri" / "lh_training_fmri.npy"
    np.save(path, np.array([[1, "a"]] * 5, dtype=object), allow_pickle=True)
    with pytest.raises(AlgonautsFormatError, match="cannot be read as a plain array"):
        AlgonautsSubject(fresh, 2).responses("train", "lh")
