"""Recordings, patient splits, class balance and the interleaved loader."""

from __future__ import annotations

import hashlib
import json
import time

import numpy as np
import pytest
import torch

from neuroattn.ieeg import MVPFormer, preset
from neuroattn.store import WindowBatch, ieeg_from_array, write_store
from neuroattn.train_ieeg.data import (
    BalancedSampler,
    RecordingMix,
    class_weights,
    open_recordings,
    split_by_patient,
)
from neuroattn.train_ieeg.tasks import predict

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


@pytest.fixture(scope="module")
def encoded(tmp_path_factory):
    """Two recordings at the tiny model's rate whose sample ``t`` of channel ``c`` is ``8t + c``."""
    root = tmp_path_factory.mktemp("encoded")
    stores, data = [], {}
    for name, n_channels, n in [("A", 3, 128 * 150), ("B", 2, 128 * 100)]:
        values = (np.arange(n)[:, None] * 8 + np.arange(n_channels)).astype("float32")
        ds = ieeg_from_array(values, sfreq=128.0, annotations={
            "onset": [30.0, 90.0], "duration": [5.0, 5.0], "description": ["seizure"] * 2})
        ds.attrs["subject"] = name
        stores.append(write_store(ds, root / f"{name}.zarr", chunks={"signal": (1500, n_channels)}))
        data[n_channels] = values
    return open_recordings(stores, preset("tiny"), window_segments=8, cache_dir=root), data


def mix_record(batches, data, window):
    """Per batch: channel count, window starts and labels, after checking every sample."""
    record = []
    for x, y in batches:
        starts = (x[:, 0, 0].numpy() // 8).astype(int)
        values = data[x.shape[1]]
        np.testing.assert_array_equal(x.numpy(),
                                      np.stack([values[s:s + window].T for s in starts]))
        record.append([x.shape[1], [starts.tolist(), y.tolist()]])
    return record


# Recorded with the loaders that cut every window on the host (before WindowBatch):
# batches and a digest of (channels, window starts, labels) over epochs 0 and 1.
MIX_GOLDEN = {(False, True): (26, "495f859b7655a7f8"), (False, False): (26, "ff8bf59c2a08c417"),
              (True, True): (26, "9a49674f5637fa4a"), (True, False): (26, "8d83c30363c9fe05")}


@pytest.mark.parametrize(("balanced", "shuffle"), sorted(MIX_GOLDEN))
def test_recording_mix_batches_equal_the_golden_ones(encoded, balanced, shuffle):
    recordings, data = encoded
    window = recordings[0].windows.window
    records = []
    for epoch in (0, 1):
        mix = RecordingMix(recordings, 16, seed=3, shuffle=shuffle, balanced=balanced,
                           prefetch=0)
        mix.set_epoch(epoch)
        records.append([mix_record([b], data, window)[0] for b in mix])
    digest = hashlib.sha256(json.dumps(records).encode()).hexdigest()[:16]
    assert (sum(map(len, records)), digest) == MIX_GOLDEN[balanced, shuffle]


@pytest.mark.parametrize("balanced", [False, True])
def test_device_batches_cut_the_same_windows(encoded, balanced):
    """For a non-CPU device the mix yields WindowBatches; cut, they are the CPU batches."""
    recordings, _ = encoded
    host = list(RecordingMix(recordings, 16, seed=1, balanced=balanced))
    device = list(RecordingMix(recordings, 16, seed=1, balanced=balanced, device="meta"))
    assert all(isinstance(b, WindowBatch) for b in device)
    for (x0, y0), batch in zip(host, device, strict=True):
        x1, y1 = batch.to("cpu")
        assert torch.equal(x0, x1) and torch.equal(y0, y1)
    x, y = device[0].to("meta")
    assert x.device.type == "meta" and x.shape == host[0][0].shape and y.dtype == torch.int64


def test_reused_buffers_are_never_overwritten_while_the_trainer_holds_them(encoded):
    """With ``reuse_buffers`` the host batches come from a ring, yet a batch stays intact
    until the batch after the next is requested, however far the prefetch thread runs."""
    recordings, _ = encoded
    expected = list(RecordingMix(recordings, 16, seed=4, prefetch=0))
    mix = RecordingMix(recordings, 16, seed=4, prefetch=2, reuse_buffers=True)
    held, pointers = [], set()
    for n, (x, y) in enumerate(mix):
        time.sleep(0.02)  # the producer fills the queue and cuts one more batch meanwhile
        held = [*held[-1:], (x, y)]  # the current batch and the previous one
        for k, (hx, hy) in enumerate(held):
            ex, ey = expected[n - len(held) + 1 + k]
            assert torch.equal(hx, ex) and torch.equal(hy, ey)
        pointers.add(x.untyped_storage().data_ptr())
    assert n + 1 == len(expected)
    assert len(pointers) <= mix.prefetch + 3 < len(expected)  # the buffers are reused


def test_predict_cuts_windows_in_time_order(encoded):
    recordings, _ = encoded
    rec = recordings[1]
    torch.manual_seed(0)
    model = MVPFormer(preset("tiny", n_channels=2))
    pred = predict(model, rec, batch_size=48)
    model.eval()
    with torch.no_grad():
        x = torch.stack([x for x, _ in rec.windows.__getitems__(range(len(rec.windows)))])
        want = torch.cat([model(x[i:i + 48]).softmax(-1)[:, 1] for i in range(0, len(x), 48)])
    np.testing.assert_allclose(pred.probabilities, want.double().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(pred.labels, rec.windows.labels)
