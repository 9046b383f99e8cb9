"""Torch building blocks of the encoders: positions, the routing decoder, readouts.

* :func:`sine_positions` — a fixed 2-D sine/cosine code of grid positions,
  added to the keys only (never the values), as in the paper.
* :class:`RoutingDecoder` — learned queries cross-attend to a feature grid;
  no self-attention among queries, so queries are independent and can be
  processed in chunks (what makes one query per voxel fit in memory).
* :class:`SpatialPooling` — the static baseline: one softmax map per query,
  the same for every image.
* :class:`VoxelReadout` — each voxel's response is a linear read of its own
  token. With one token per ROI it is computed ROI by ROI (a gather, never a
  dense token × voxel product); a voxel in several ROIs reads the mean of
  their tokens (``overlap_rule="mean"``) or, as the reference implementation,
  the sum of its per-ROI reads (``"sum"``).

Examples
--------
>>> import torch
>>> from neuroattn.encoding.layers import RoutingDecoder
>>> decoder = RoutingDecoder(n_features=16, n_queries=3, d_model=32, n_heads=4)
>>> tokens, attention = decoder(torch.randn(2, 5, 5, 16))
>>> tuple(tokens.shape), tuple(attention.shape)
((2, 3, 32), (2, 3, 25))
"""

from __future__ import annotations

import math

import torch
from torch import nn

from neuroattn.config import ConfigError
from neuroattn.errors import ParameterError

OVERLAP_RULES = ("mean", "sum")
"""How a voxel in several ROIs combines their tokens: ours (the default), the reference's."""


def sine_positions(height: int, width: int, dim: int, *, temperature: float = 10000.0
                   ) -> torch.Tensor:
    """(height·width, dim) sine/cosine code: half the channels for y, half for x.

    Coordinates are normalised to (0, 2π] so the code does not depend on the
    grid size's units. ``dim`` must be a multiple of 4.

    Examples
    --------
    >>> sine_positions(2, 3, 8).shape
    torch.Size([6, 8])
    """
    if dim % 4:
        raise ParameterError(f"The positional code needs a width divisible by 4; got {dim}.")
    quarter = dim // 4
    freqs = temperature ** (-torch.arange(quarter, dtype=torch.float32) / quarter)
    ys = (torch.arange(height, dtype=torch.float32) + 1) / height * 2 * math.pi
    xs = (torch.arange(width, dtype=torch.float32) + 1) / width * 2 * math.pi

    def code(values: torch.Tensor) -> torch.Tensor:
        angles = values[:, None] * freqs[None]
        return torch.cat([angles.sin(), angles.cos()], dim=1)

    y_code = code(ys)[:, None].expand(height, width, 2 * quarter)
    x_code = code(xs)[None].expand(height, width, 2 * quarter)
    return torch.cat([y_code, x_code], dim=-1).reshape(height * width, dim)


class DecoderLayer(nn.Module):
    """Pre-norm cross-attention (queries → grid) and a feed-forward block."""

    def __init__(self, d_model: int, n_heads: int, dim_feedforward: int, dropout: float) -> None:
        super().__init__()
        self.norm_q = nn.LayerNorm(d_model)
        self.cross = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.norm_ff = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, dim_feedforward), nn.ReLU(),
                                nn.Dropout(dropout), nn.Linear(dim_feedforward, d_model))
        self.dropout = nn.Dropout(dropout)

    def forward(self, tgt: torch.Tensor, queries: torch.Tensor, keys: torch.Tensor,
                values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        q = self.norm_q(tgt) + queries
        out, weights = self.cross(q, keys, values, need_weights=True,
                                  average_attn_weights=True)
        tgt = tgt + self.dropout(out)
        return tgt + self.dropout(self.ff(self.norm_ff(tgt))), weights


class RoutingDecoder(nn.Module):
    """Learned queries that route a feature grid into one token each.

    Parameters
    ----------
    n_features : int
        Feature channels of the grid (projected to ``d_model``).
    n_queries : int
    d_model, n_heads, n_layers, dim_feedforward, dropout
        Decoder sizes (the paper: one layer, no query self-attention).
    query_chunk : int
        Queries per pass; queries never interact, so chunking is exact.
    """

    def __init__(self, n_features: int, n_queries: int, *, d_model: int = 256,
                 n_heads: int = 8, n_layers: int = 1, dim_feedforward: int = 512,
                 dropout: float = 0.1, query_chunk: int = 4096) -> None:
        super().__init__()
        self.input = nn.Linear(n_features, d_model)
        self.queries = nn.Embedding(n_queries, d_model)
        self.layers = nn.ModuleList(DecoderLayer(d_model, n_heads, dim_feedforward, dropout)
                                    for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)
        self.d_model, self.query_chunk = d_model, query_chunk

    def forward(self, grid: torch.Tensor, query_index: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """grid (B, H, W, F) → tokens (B, Q, d) and last-layer attention (B, Q, H·W).

        ``query_index`` selects a subset of the queries (default all).
        """
        B, H, W, _ = grid.shape
        memory = self.input(grid.reshape(B, H * W, -1))
        keys = memory + sine_positions(H, W, self.d_model).to(memory)
        index = torch.arange(self.queries.num_embeddings, device=grid.device) \
            if query_index is None else query_index
        tokens, weights = [], []
        for chunk in index.split(self.query_chunk):
            queries = self.queries(chunk)[None].expand(B, -1, -1)
            tgt = torch.zeros_like(queries)
            for layer in self.layers:
                tgt, attention = layer(tgt, queries, keys, memory)
            tokens.append(self.norm(tgt))
            weights.append(attention)
        return torch.cat(tokens, 1), torch.cat(weights, 1)


class SpatialPooling(nn.Module):
    """Static routing: each query pools the grid with its own softmax map (image-independent).

    Examples
    --------
    >>> import torch
    >>> pool = SpatialPooling(height=4, width=4, n_queries=2)
    >>> tokens, maps = pool(torch.randn(3, 4, 4, 8))
    >>> tuple(tokens.shape), tuple(maps.shape)
    ((3, 2, 8), (3, 2, 16))
    """

    def __init__(self, height: int, width: int, n_queries: int) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(n_queries, height * width))

    def forward(self, grid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B, H, W, F = grid.shape
        maps = self.logits.softmax(-1)
        return torch.einsum("qp,bpf->bqf", maps, grid.reshape(B, H * W, F)), \
            maps[None].expand(B, -1, -1)


class VoxelReadout(nn.Module):
    """Per-voxel linear read of its token(s).

    Parameters
    ----------
    membership : torch.Tensor, shape (n_voxels, n_tokens), bool
        Which token(s) each voxel reads. ``None`` means one token per voxel
        (token v → voxel v).
    dim : int
        Token width.
    overlap_rule : {"mean", "sum"}
        A voxel with several ``True`` in its row reads the mean of those
        tokens (default), or the sum of its reads of each, which is what the
        reference implementation does (it sums the per-ROI predictions, bias
        included, so a voxel in two ROIs gets its bias twice). With a weight
        and a bias per voxel the two are the same function class: a voxel in
        ``k`` ROIs under ``"sum"`` equals ``"mean"`` with its weight and bias
        times ``k``. They differ only in how training treats that voxel
        (initial scale, weight decay).

    Examples
    --------
    >>> import torch
    >>> membership = torch.tensor([[True, False], [True, True]])
    >>> mean = VoxelReadout(membership, n_voxels=2, dim=3)
    >>> summed = VoxelReadout(membership, n_voxels=2, dim=3, overlap_rule="sum")
    >>> _ = summed.load_state_dict(mean.state_dict())
    >>> with torch.no_grad():
    ...     _ = summed.weight[1].div_(2), summed.bias[1].div_(2)
    >>> tokens = torch.randn(4, 2, 3)
    >>> torch.allclose(mean(tokens), summed(tokens), atol=1e-6)
    True
    """

    def __init__(self, membership: torch.Tensor | None, n_voxels: int, dim: int,
                 overlap_rule: str = "mean") -> None:
        super().__init__()
        if overlap_rule not in OVERLAP_RULES:
            raise ConfigError(f"overlap_rule={overlap_rule!r} is not a rule; use 'mean' (a "
                              "voxel reads the mean of its ROIs' tokens) or 'sum' (the "
                              "reference's sum of per-ROI predictions).")
        self.weight = nn.Parameter(torch.randn(n_voxels, dim) / math.sqrt(dim))
        self.bias = nn.Parameter(torch.zeros(n_voxels))
        self.per_voxel = membership is None
        self.overlap_rule = overlap_rule
        self.register_buffer("bias_count", torch.ones(n_voxels), persistent=False)
        if membership is not None:
            share = membership.float()
            if overlap_rule == "mean":
                share = share / share.sum(1, keepdim=True)
            else:  # one bias per ROI read, as the reference's summed predictions
                self.bias_count = membership.float().sum(1)
            groups = [torch.nonzero(membership[:, r]).flatten()
                      for r in range(membership.shape[1])]
            self._groups = len(groups)
            for r, voxels in enumerate(groups):
                self.register_buffer(f"voxels_{r}", voxels, persistent=False)
                self.register_buffer(f"share_{r}", share[voxels, r], persistent=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (B, n_tokens, d) → responses (B, n_voxels)."""
        if self.per_voxel:
            return torch.einsum("bvd,vd->bv", tokens, self.weight) + self.bias
        out = (self.bias * self.bias_count).expand(tokens.shape[0], -1).clone()
        for r in range(self._groups):
            voxels, share = getattr(self, f"voxels_{r}"), getattr(self, f"share_{r}")
            if voxels.numel():
                read = tokens[:, r] @ self.weight[voxels].T  # (B, n_r), never (B, R, V)
                out.index_add_(1, voxels, read * share)
        return out
