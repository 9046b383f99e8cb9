"""MVPFormer's generative pre-training objective: contrastive next-segment prediction.

For every token (t, c) but the last segment, the model's prediction
``p = generative_head(h[t, c])`` must pick out the *input embedding* of the
same channel's next segment, ``e[t + 1, c]``, from ``num_negatives`` other
token embeddings drawn uniformly from the whole batch (no gradient through
the negatives; a negative identical to the positive is masked). Similarities
are cosines divided by a temperature; the loss is cross-entropy with the
positive as the target (InfoNCE).

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

import torch
import torch.nn.functional as F


def next_segment_contrastive_loss(
    predictions: torch.Tensor,
    embeddings: torch.Tensor,
    *,
    num_negatives: int = 30,
    temperature: float = 0.1,
    generator: torch.Generator | None = None,
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
        For reproducible negatives.

    Returns
    -------
    loss : Tensor
        Mean cross-entropy.
    accuracy : Tensor
        Fraction of predictions whose positive ranks first.
    """
    if predictions.shape != embeddings.shape or predictions.ndim != 4:
        raise ValueError(f"predictions {tuple(predictions.shape)} and embeddings "
                         f"{tuple(embeddings.shape)} must both be (B, T, C, d).")
    B, T, C, d = embeddings.shape
    if T < 2:
        raise ValueError("Next-segment prediction needs windows of at least 2 segments.")
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
