"""Tests of the BIDS iEEG converter on a data set written by mne_bids.write_raw_bids."""

from __future__ import annotations

import logging

import mne
import mne_bids
import numpy as np
import pytest

from neuroattn.datasets import convert_bids_ieeg
from neuroattn.datasets.bids import find_bids_ieeg
from neuroattn.store import open_store, seizure_intervals


@pytest.fixture(scope="module")
def bids_root(synthetic_rec, edf_path, tmp_path_factory):
    """sub-01/ses-01, task rest, runs 1 and 2 (from the synthetic EDF), LA2 bad, positions."""
    root = tmp_path_factory.mktemp("bids") / "ds"
    montage = mne.channels.make_dig_montage(
        ch_pos=dict(zip(synthetic_rec.ch_names, synthetic_rec.positions, strict=True)),
        coord_frame="mni_tal")
    for run in (1, 2):
        raw = mne.io.read_raw_edf(edf_path, verbose="error")
        raw.set_channel_types(dict.fromkeys(raw.ch_names, "seeg"))
        raw.info["bads"] = ["LA2"]
        path = mne_bids.BIDSPath(subject="01", session="01", task="rest", run=run, root=root,
                                 datatype="ieeg")
        mne_bids.write_raw_bids(raw, path, montage=montage, verbose="error")
    return root


def test_round_trip_keeps_bads_positions_and_events(synthetic_rec, bids_root, edf_atol,
                                                    tmp_path):
    dst = convert_bids_ieeg(bids_root, tmp_path / "s.zarr", subject="sub-01", run=2)
    ds = open_store(dst, kind="ieeg")
    n = synthetic_rec.n_times
    np.testing.assert_allclose(ds.signal.values[:n], synthetic_rec.data.T, atol=edf_atol)
    assert ds.attrs["sfreq"] == 256.0
    assert ds.channel.values.tolist() == synthetic_rec.ch_names
    assert set(ds.ch_type.values) == {"seeg"}
    assert ds.bad.values.tolist() == [name == "LA2" for name in synthetic_rec.ch_names]
    pos = np.stack([ds[c].values for c in "xyz"], axis=1)
    np.testing.assert_allclose(pos, synthetic_rec.positions, atol=1e-6)
    np.testing.assert_allclose(seizure_intervals(ds.attrs["annotations"]),
                               synthetic_rec.seizure_intervals(), atol=1 / 256)
    assert len(ds.attrs["annotations"]["onset"]) == len(synthetic_rec.events)
    assert (ds.attrs["subject"], ds.attrs["session"], ds.attrs["task"]) == ("01", "01", "rest")
    assert str(ds.attrs["run"]) == "2"
    assert ds.attrs["bids_basename"] == "sub-01_ses-01_task-rest_run-2_ieeg.edf"


def test_cap_drops_the_bad_channel_first(bids_root, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="neuroattn"):
        ds = open_store(convert_bids_ieeg(bids_root, tmp_path / "c.zarr", subject="01",
                                          session="01", task="rest", run="1", max_channels=4,
                                          sfreq=128.0))
    assert ds.channel.values.tolist() == ["LA1", "LA3", "LA4", "LA5"]
    assert not ds.bad.values.any() and ds.attrs["sfreq"] == 128.0
    assert "first 4 of 6" in caplog.text


@pytest.mark.parametrize(("entities", "match"), [
    ({"subject": "01"}, r"2 iEEG recordings match subject='01'.*--run"),
    ({"subject": "02"}, r"Subject '02' is not in .* it has \['01'\]"),
    ({"subject": "01", "task": "sleep"}, "No iEEG recording .* matches subject='01', "
                                         "task='sleep'.*task-rest_run-1_ieeg.edf"),
])
def test_ambiguous_or_missing_recordings(bids_root, tmp_path, entities, match):
    with pytest.raises(ValueError, match=match):
        convert_bids_ieeg(bids_root, tmp_path / "x.zarr", **entities)
    assert not (tmp_path / "x.zarr").exists()


def test_not_a_bids_root(tmp_path):
    with pytest.raises(ValueError, match="not a BIDS data set root"):
        find_bids_ieeg(tmp_path, subject="01")
    with pytest.raises(FileNotFoundError, match="not a directory"):
        find_bids_ieeg(tmp_path / "missing", subject="01")
