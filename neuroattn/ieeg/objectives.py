"""MVPFormer's generative pre-training objective: contrastive next-segment prediction.

For every token (t, c) but the last segment, the model's prediction
``p = generative_head(h[t, c])`` must pick out the *input embedding* of the
same channel's next segment, ``e[t + 1, c]``, from ``num_negatives`` other
token embeddings drawn uniformly (with replacement) from the whole batch (no
gradient through the negatives). Similarities are cosines divided by a
temperature; the loss is cross-entropy with the positive as the target (InfoNCE).

A drawn negative that *is* the positive token (same flat index in the batch)
is masked. The rule is by index, not by value: a different token whose
embedding happens to equal the positive's (two flat channels, say) stays a
negative, since it is a genuine, if indistinguishable, other token; masking it
would need a comparison of d-vectors per draw, O(M·K·d) work and memory.

Memory: predictions and pool are normalised once, in float32 (float64 stays
float64), also under autocast, as ``cosine_similarity`` was. The negative
scores are dot products of each prediction with its K sampled rows, gathered
chunk by chunk in forward and in backward, so the extra memory is O(M·K) plus
one chunk of ``max_chunk_elements`` values, instead of O(M·K·d) (M predictions,
K negatives, width d). The negatives are drawn on the pool's device.

Examples
--------
>>> import torch
>>> from neuroattn.ieeg import MVPFormer
>>> from neuroattn.ieeg.objectives import next_segment_contrastive_loss
>>> model = MVPFormer("tiny")
>>> out = model(torch.randn(2, 3, 4 * 128), return_features=True)
>>> loss, accuracy = next_segment_contrastive_loss(
...     model.generative_head(out["hidden"]), out["embeddings"], num_negatives=5,
...     generator=torch.Generator().manual_seed(0))
>>> loss.ndim, 0.0 <= float(accuracy) <= 1.0
(0, True)
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from neuroattn.device import autocast_off
from neuroattn.errors import ParameterError

#: Default bound on the gathered (rows, K, d) float32 chunk: 2**25 values, 128 MiB.
MAX_CHUNK_ELEMENTS = 2**25


def next_segment_contrastive_loss(
    predictions: torch.Tensor,
    embeddings: torch.Tensor,
    *,
    num_negatives: int = 30,
    temperature: float = 0.1,
    generator: torch.Generator | None = None,
    max_chunk_elements: int = MAX_CHUNK_ELEMENTS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """InfoNCE of next-segment prediction; returns (loss, accuracy).

    Parameters
    ----------
    predictions : Tensor (B, T, C, d)
        ``generative_head`` applied to the final hidden states.
    embeddings : Tensor (B, T, C, d)
        The tokenizer's input embeddings (the targets; they keep their gradient,
        as in the reference).
    num_negatives : int
        Negatives per prediction, drawn from all tokens of the batch.
    temperature : float
        Cosine similarities are divided by it.
    generator : torch.Generator, optional
        For reproducible negatives. Best on the embeddings' device (no copy). A
        CPU generator with embeddings on an accelerator also works and gives the
        same draws as on the CPU, at the price of a host-to-device copy of the
        (M, K) indices per call (for tests, not for training). ``None`` uses the
        default generator of the embeddings' device (so on CUDA the negatives
        come from the CUDA generator, no longer from the CPU one).
    max_chunk_elements : int
        Bound on the number of float32 values of one gathered (rows, K, d) chunk
        of negatives; at least one row is gathered at a time.

    Returns
    -------
    loss : Tensor
        Mean cross-entropy (0-d, float32; float64 for float64 inputs).
    accuracy : Tensor
        Fraction of predictions whose positive ranks first (0-d, no gradient,
        on the device: reading it is up to the caller).

    Raises
    ------
    ValueError
        If the shapes differ or are not 4-d, the windows have fewer than 2
        segments, or ``num_negatives`` / ``max_chunk_elements`` are not
        positive.

    Examples
    --------
    >>> import torch
    >>> e = torch.randn(2, 3, 4, 8)
    >>> loss, accuracy = next_segment_contrastive_loss(
    ...     e.roll(-1, dims=1), e, num_negatives=7, generator=torch.Generator().manual_seed(0))
    >>> float(accuracy)  # each prediction is its positive: always ranked first
    1.0
    """
    if predictions.shape != embeddings.shape or predictions.ndim != 4:
        raise ParameterError(f"predictions {tuple(predictions.shape)} and embeddings "
                             f"{tuple(embeddings.shape)} must both be (B, T, C, d).")
    if isinstance(num_negatives, bool) or not isinstance(num_negatives, int) or num_negatives < 1:
        raise ParameterError(f"num_negatives={num_negatives!r}; use a positive integer (30 in "
                             "the reference).")
    if (isinstance(max_chunk_elements, bool) or not isinstance(max_chunk_elements, int)
            or max_chunk_elements < 1):
        raise ParameterError(f"max_chunk_elements={max_chunk_elements!r}; use a positive integer "
                             f"(default {MAX_CHUNK_ELEMENTS}).")
    B, T, C, d = embeddings.shape
    if T < 2:
        raise ParameterError("Next-segment prediction needs windows of at least 2 segments.")
    device = embeddings.device
    dtype = torch.promote_types(embeddings.dtype, torch.float32)  # float32, or float64
    with autocast_off(device):
        queries = F.normalize(predictions[:, :-1].reshape(-1, d).to(dtype), dim=-1, eps=1e-8)
        positive = F.normalize(embeddings[:, 1:].reshape(-1, d).to(dtype), dim=-1, eps=1e-8)
        pool = F.normalize(embeddings.detach().reshape(-1, d).to(dtype), dim=-1, eps=1e-8)
    n_pred, n_pool = queries.shape[0], pool.shape[0]
    draw = _draw(n_pool, (n_pred, num_negatives), device, generator)
    # The positive of prediction (b, t, c) is token (b, t + 1, c) of the flat pool.
    positive_index = torch.arange(n_pool, device=device).view(B, T, C)[:, 1:].reshape(-1, 1)
    rows = max(1, max_chunk_elements // (num_negatives * d))
    negative_logits = _SampledDot.apply(queries, pool, draw, rows)
    negative_logits = negative_logits.masked_fill(draw == positive_index, float("-inf"))
    positive_logits = (queries * positive).sum(-1, keepdim=True)
    logits = torch.cat((positive_logits, negative_logits), dim=1) / temperature
    target = torch.zeros(n_pred, dtype=torch.long, device=device)
    loss = F.cross_entropy(logits, target)
    accuracy = (logits.detach().argmax(-1) == 0).float().mean()
    return loss, accuracy


def _draw(high: int, size: tuple[int, int], device: torch.device,
          generator: torch.Generator | None) -> torch.Tensor:
    """Uniform indices in [0, high) on ``device``, drawn where ``generator`` lives."""
    if generator is None or generator.device == device:
        return torch.randint(0, high, size, generator=generator, device=device)
    drawn = torch.randint(0, high, size, generator=generator, device=generator.device)
    return drawn.to(device, non_blocking=True)


class _SampledDot(torch.autograd.Function):
    """``out[m, k] = queries[m] · keys[index[m, k]]`` without an (M, K, d) tensor.

    Gathers ``rows`` queries' keys at a time, in forward and again in backward
    (only ``keys`` and ``index`` are saved). No gradient to ``keys`` (the
    detached pool). Autocast off (the inputs are float32 or float64).
    """

    @staticmethod
    def forward(ctx: Any, queries: torch.Tensor, keys: torch.Tensor, index: torch.Tensor,
                rows: int) -> torch.Tensor:
        ctx.save_for_backward(keys, index)
        ctx.rows = rows
        n, k = index.shape
        out = queries.new_empty(n, k)
        with autocast_off(queries.device):
            for start in range(0, n, rows):
                stop = min(start + rows, n)
                sampled = keys.index_select(0, index[start:stop].reshape(-1)).view(
                    stop - start, k, -1)
                torch.bmm(sampled, queries[start:stop, :, None], out=out[start:stop, :, None])
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, None, None, None]:
        keys, index = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None, None
        n, k = index.shape
        grad_queries = keys.new_empty(n, keys.shape[1])
        with autocast_off(keys.device):
            for start in range(0, n, ctx.rows):
                stop = min(start + ctx.rows, n)
                sampled = keys.index_select(0, index[start:stop].reshape(-1)).view(
                    stop - start, k, -1)
                torch.bmm(grad[start:stop, None], sampled, out=grad_queries[start:stop, None])
        return grad_queries, None, None, None
