"""Recordings, patient splits, class balance and the interleaved loader."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuroattn.ieeg import preset
from neuroattn.train_ieeg.data import (
    BalancedSampler,
    RecordingMix,
    class_weights,
    open_recordings,
    split_by_patient,
)

from .conftest import write_patient_store


@pytest.fixture(scope="module")
def recordings(patient_stores, tmp_path_factory):
    return open_recordings(patient_stores, preset("tiny"), window_segments=8,
                           cache_dir=tmp_path_factory.mktemp("cache"))


def test_windows_follow_the_model_grid(recordings):
    assert [r.patient for r in recordings] == ["A", "B", "C"]
    assert [r.windows.n_channels for r in recordings] == [4, 6, 5]
    for r in recordings:
        assert r.windows.window == 8 * 128 and r.windows.stride == 128
        assert 0 < r.n_positive < len(r.windows)


def test_a_store_at_another_rate_is_resampled_once(tmp_path):
    path = write_patient_store(tmp_path / "fast.zarr", "F", 3, seed=4, sfreq=256.0,
                               duration_s=90.0)
    cache = tmp_path / "cache"
    [rec] = open_recordings([path], preset("tiny"), window_segments=4, cache_dir=cache)
    assert rec.windows.sfreq == 128.0 and rec.path == path
    [cached] = cache.iterdir()
    stamp = cached.stat().st_mtime_ns
    open_recordings([path], preset("tiny"), window_segments=4, cache_dir=cache)
    assert cached.stat().st_mtime_ns == stamp  # reused, not redone


def test_channels_are_capped_at_the_model_maximum(patient_stores, tmp_path, caplog):
    [rec] = open_recordings(patient_stores[1:2], preset("tiny", n_channels=3),
                            window_segments=8, cache_dir=tmp_path)
    assert rec.windows.n_channels == 3
    assert "6" in caplog.text and "3" in caplog.text


def test_split_is_by_patient(recordings):
    split = split_by_patient(recordings, test_patients=["C"], val_fraction=0.5, seed=0)
    assert {r.patient for r in split["test"]} == {"C"}
    assert len(split["val"]) == 1 and len(split["train"]) == 1
    with pytest.raises(ValueError, match="in no store"):
        split_by_patient(recordings, test_patients=["Z"])
    with pytest.raises(ValueError, match="both"):
        split_by_patient(recordings, val_patients=["A"], test_patients=["A"])


def test_class_weights_balance_the_loss(recordings):
    w = class_weights(recordings)
    n = sum(len(r.windows) for r in recordings)
    n_pos = sum(r.n_positive for r in recordings)
    # Each class then carries half of the total weight.
    assert float(w[1] * n_pos) == pytest.approx(float(w[0] * (n - n_pos))) == pytest.approx(n / 2)


def test_balanced_sampler_draws_both_classes_equally(recordings):
    windows = recordings[0].windows
    sampler = BalancedSampler(windows, 16, seed=0)
    drawn = np.concatenate([windows.labels[b] for b in sampler])
    assert abs(drawn.mean() - 0.5) < 0.1 < windows.labels.mean() + 0.1
    sampler.set_epoch(1)
    assert next(iter(sampler)) != next(iter(BalancedSampler(windows, 16, seed=0)))


def test_recording_mix_keeps_one_montage_per_batch_and_covers_every_loader(recordings):
    mix = RecordingMix(recordings, 16, seed=0)
    shapes = [x.shape[1] for x, _ in mix]
    assert len(shapes) == len(mix)
    assert sorted(set(shapes)) == [4, 5, 6]
    mix.set_epoch(1)
    assert [x.shape[1] for x, _ in mix] != shapes  # reshuffled interleaving
    assert all(isinstance(y, torch.Tensor) for _, y in mix)


def test_prefetching_changes_nothing_and_stops_cleanly(recordings):
    plain = [(x.clone(), y.clone()) for x, y in RecordingMix(recordings, 16, seed=3, prefetch=0)]
    mix = RecordingMix(recordings, 16, seed=3, prefetch=2)
    ahead = list(mix)
    assert len(ahead) == len(plain)
    for (x0, y0), (x1, y1) in zip(plain, ahead, strict=True):
        assert torch.equal(x0, x1) and torch.equal(y0, y1)
    batches = iter(mix)
    next(batches)
    batches.close()  # stopping early (max_steps) must not leave a blocked thread
    import threading
    assert not any(t.name == "neuroattn-prefetch" for t in threading.enumerate())
