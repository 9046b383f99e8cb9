"""IEEGWindows: windows match the array, labels, channel selection, chunk reuse."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuroattn.store import (
    IEEGWindows,
)


def test_windows_match_the_array(store):
    path, data = store
    w = IEEGWindows(path, window_s=3.0, stride_s=1.5, channels=["e", "a"])
    assert len(w) == (6000 - 300) // 150 + 1
    idx = [17, 3, 30, 3]
    batch = w.__getitems__(idx)
    for i, (x, _) in zip(idx, batch, strict=True):
        s = int(w.starts[i])
        np.testing.assert_array_equal(x.numpy(), data[s:s + 300, [4, 0]].T)
        assert x.dtype == torch.float32


def test_bad_channels_dropped_by_default(store):
    path, _ = store
    assert IEEGWindows(path, window_s=1.0).ch_names == ["a", "b", "d", "e"]


def test_labels_follow_last_segment(store):
    path, _ = store
    w = IEEGWindows(path, window_s=4.0, stride_s=1.0, label_segment_s=1.0)
    last_start = w.starts / 100.0 + 3.0
    expected = (last_start < 25.0) & (last_start + 1.0 > 20.0)  # artifact is not a seizure
    np.testing.assert_array_equal(w.labels, expected.astype(int))
    whole = IEEGWindows(path, window_s=4.0, stride_s=1.0)
    assert whole.labels.sum() > w.labels.sum()


def test_each_chunk_decoded_once_per_batch(store, monkeypatch):
    path, _ = store
    w = IEEGWindows(path, window_s=2.0, stride_s=0.5, cache_chunks=2)
    reads = []
    original = w._chunk

    def counting(k):
        if k not in w._cache:
            reads.append(k)
        return original(k)

    monkeypatch.setattr(w, "_chunk", counting)
    w.__getitems__(list(range(0, 40)))
    assert sorted(reads) == sorted(set(reads))


def test_bad_arguments_are_explained(store):
    path, _ = store
    with pytest.raises(ValueError, match="longer than the recording"):
        IEEGWindows(path, window_s=100.0)
    with pytest.raises(ValueError, match="'zz' is not in the store"):
        IEEGWindows(path, window_s=1.0, channels=["zz"])
    with pytest.raises(ValueError, match="shorter than one sample"):
        IEEGWindows(path, window_s=0.001)


def test_pickles_without_open_handles_or_cache(store):
    """Spawned workers receive a light dataset that reopens the store itself."""
    import pickle

    path, data = store
    w = IEEGWindows(path, window_s=1.0)
    x0, _ = w[3]
    clone = pickle.loads(pickle.dumps(w))
    assert clone._array is None and not clone._cache
    assert torch.equal(clone[3][0], x0)


@pytest.mark.parametrize("shared", [False, True])
def test_time_major_spans_hold_the_same_samples(store, shared):
    """Time-major spans (the store's layout, no host transposition) read the same samples."""
    path, data = store
    w = IEEGWindows(path, window_s=1.0, channels=["e", "a", "b"])
    span = w.read_span(650, 1480, shared=shared, time_major=True)
    assert span.shape == (3, 830) and span.stride() == (1, 3)  # a transposed view
    np.testing.assert_array_equal(span.numpy(), data[650:1480, [4, 0, 1]].T)
    assert torch.equal(span, w.read_span(650, 1480))
    with pytest.raises(ValueError, match="out must be float32"):
        w.read_span(0, 10, out=torch.empty(3, 11))
