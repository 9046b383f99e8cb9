"""The contrastive next-segment objective: same numbers as before, O(M·K) memory, no sync."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from neuroattn.ieeg.objectives import next_segment_contrastive_loss


def _previous_loss(predictions, embeddings, *, num_negatives=30, temperature=0.1,
                   generator=None):
    """The oracle: the implementation before issue 17 (CPU draws, (M, K, d) tensors)."""
    B, T, C, d = embeddings.shape
    pred = predictions[:, :-1].reshape(-1, d)
    positive = embeddings[:, 1:].reshape(-1, d)
    pool = embeddings.detach().reshape(-1, d)
    draw = torch.randint(0, pool.shape[0], (pred.shape[0], num_negatives),
                         generator=generator, device="cpu").to(pool.device)
    negatives = pool[draw]  # (M, K, d)
    candidates = torch.cat([positive[:, None], negatives], dim=1)
    logits = F.cosine_similarity(pred[:, None], candidates, dim=-1) / temperature
    same = (negatives == positive.detach()[:, None]).all(-1)
    logits[:, 1:] = logits[:, 1:].masked_fill(same, float("-inf"))
    target = torch.zeros(pred.shape[0], dtype=torch.long, device=pred.device)
    loss = F.cross_entropy(logits, target)
    accuracy = (logits.argmax(-1) == 0).float().mean()
    return loss, accuracy


def _inputs(seed, shape=(2, 4, 5, 16)):
    g = torch.Generator().manual_seed(seed)
    embeddings = torch.randn(shape, generator=g, dtype=torch.float64).float()
    # Predictions near their positives, so accuracies are neither 0 nor 1.
    predictions = embeddings.roll(-1, dims=1) + 1.5 * torch.randn(shape, generator=g)
    return predictions.requires_grad_(), embeddings.requires_grad_()


def _loss_and_grads(fn, seed, **kwargs):
    predictions, embeddings = _inputs(seed)
    loss, accuracy = fn(predictions, embeddings, num_negatives=7, temperature=0.1,
                        generator=torch.Generator().manual_seed(100 + seed), **kwargs)
    loss.backward()
    return loss.detach(), accuracy, predictions.grad, embeddings.grad


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("max_chunk_elements", [100, 2**25])
def test_same_loss_accuracy_and_gradients_as_the_previous_version(seed, max_chunk_elements):
    # Random embeddings are pairwise distinct, so the old rule (mask a negative equal to
    # the positive) and the new one (mask the positive's own index) coincide.
    old = _loss_and_grads(_previous_loss, seed)
    new = _loss_and_grads(next_segment_contrastive_loss, seed,
                          max_chunk_elements=max_chunk_elements)
    for name, a, b in zip(("loss", "accuracy", "grad predictions", "grad embeddings"),
                          old, new, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6, msg=name)
    assert 0.0 < float(new[1]) < 1.0
    # The draws did hit the positive itself, so the masking was exercised.
    draw = torch.randint(0, 40, (30, 7), generator=torch.Generator().manual_seed(100 + seed))
    positive = torch.arange(40).view(2, 4, 5)[:, 1:].reshape(-1, 1)
    assert (draw == positive).any()


def test_a_negative_is_masked_by_index_not_by_value():
    """Identical embeddings: only the positive's own index is masked, so the loss of a
    prediction is log(1 + its unmasked negatives), exactly."""
    shape, k = (2, 3, 4, 8), 9
    embeddings = torch.ones(shape)
    loss, accuracy = next_segment_contrastive_loss(
        embeddings.clone(), embeddings, num_negatives=k, generator=torch.Generator().manual_seed(5))
    draw = torch.randint(0, 24, (16, k), generator=torch.Generator().manual_seed(5))
    positive = torch.arange(24).view(2, 3, 4)[:, 1:].reshape(-1, 1)
    kept = (draw != positive).sum(1).double()
    torch.testing.assert_close(loss.double(), torch.log1p(kept).mean(), rtol=1e-6, atol=1e-6)
    assert (kept < k).any()  # some draws were the positive itself
    assert float(accuracy) == 1.0  # ties rank the positive (index 0) first


class _LargestTensor(TorchDispatchMode):
    """Records the largest number of elements of any tensor an aten op returns."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, tuple | list) else (out,):
            if isinstance(t, torch.Tensor):
                self.largest = max(self.largest, t.numel())
        return out


def _largest(fn, b, **kwargs):
    shape = (b, 6, 8, 64)
    g = torch.Generator().manual_seed(0)
    predictions = torch.randn(shape, generator=g).requires_grad_()
    embeddings = torch.randn(shape, generator=g).requires_grad_()
    with _LargestTensor() as mode:
        loss, _ = fn(predictions, embeddings, num_negatives=30, generator=g, **kwargs)
        loss.backward()
    return mode.largest


@pytest.mark.parametrize("b", [2, 8])
def test_peak_tensor_is_o_mk_plus_a_chunk_not_o_mkd(b):
    m, n, k, d = b * 5 * 8, b * 6 * 8, 30, 64
    largest = _largest(next_segment_contrastive_loss, b, max_chunk_elements=4096)
    assert largest <= max(n * d, m * (k + 1), 4096)
    assert largest < m * k * d / 20
    assert _largest(_previous_loss, b) >= m * k * d  # what the test guards against


def test_runs_on_the_meta_device_so_it_reads_no_device_scalar():
    """On meta, any .item()/bool()/CPU copy of device data raises; the loss has none."""
    predictions = torch.empty(4, 5, 6, 32, device="meta", requires_grad=True)
    embeddings = torch.empty(4, 5, 6, 32, device="meta", requires_grad=True)
    loss, accuracy = next_segment_contrastive_loss(predictions, embeddings, num_negatives=30,
                                                   max_chunk_elements=512)
    loss.backward()
    assert loss.device.type == accuracy.device.type == "meta" and accuracy.ndim == 0
    assert predictions.grad.shape == predictions.shape and not accuracy.requires_grad


def test_float32_scores_under_bf16_autocast():
    predictions, embeddings = (t.detach().bfloat16() for t in _inputs(7))
    reference = next_segment_contrastive_loss(
        predictions.float(), embeddings.float(), num_negatives=7,
        generator=torch.Generator().manual_seed(1))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, accuracy = next_segment_contrastive_loss(
            predictions, embeddings, num_negatives=7, generator=torch.Generator().manual_seed(1))
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, reference[0], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(accuracy, reference[1])


def test_gradcheck_in_float64():
    g = torch.Generator().manual_seed(3)
    predictions = torch.randn(1, 3, 4, 6, dtype=torch.float64, generator=g, requires_grad=True)
    embeddings = torch.randn(1, 3, 4, 6, dtype=torch.float64, generator=g)

    def loss(p):  # no gradient through the negatives by design: check the predictions'
        return next_segment_contrastive_loss(p, embeddings, num_negatives=5, max_chunk_elements=12,
                                             generator=torch.Generator().manual_seed(0))[0]

    assert loss(predictions).dtype == torch.float64
    assert torch.autograd.gradcheck(loss, (predictions,))


def test_bad_arguments_are_explained():
    e = torch.randn(1, 3, 2, 4)
    with pytest.raises(ValueError, match="num_negatives=0"):
        next_segment_contrastive_loss(e, e, num_negatives=0)
    with pytest.raises(ValueError, match="max_chunk_elements"):
        next_segment_contrastive_loss(e, e, max_chunk_elements=0)
    with pytest.raises(ValueError, match="at least 2 segments"):
        next_segment_contrastive_loss(e[:, :1], e[:, :1])
    with pytest.raises(ValueError, match=r"must both be \(B, T, C, d\)"):
        next_segment_contrastive_loss(e, e[0])
    assert math.isfinite(float(next_segment_contrastive_loss(e, e, num_negatives=3)[0]))
