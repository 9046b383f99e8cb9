"""Transformer brain encoder (Adeli, Sun & Kriegeskorte 2025) and its static baseline.

:class:`TransformerBrainEncoder` routes a retinotopic feature grid from a
frozen backbone to brain areas: learned queries cross-attend to the grid
(keys carry a sine position code, values do not), and each voxel reads its
query's token linearly. ``query_mode``:

* ``"roi"`` — one query per ROI (pass hemisphere-specific ROIs for one per
  ROI per hemisphere, as the paper). Overlapping ROIs are handled: a voxel
  in several ROIs reads the mean of their tokens (``overlap_rule="mean"``,
  the default) or the sum of its per-ROI predictions (``"sum"``, the
  reference's rule). With a weight vector and a bias per voxel the two rules
  are the same function class (the sum is the mean with the voxel's weights
  scaled by its number of ROIs); the mean keeps every voxel's read on the
  scale of one token, so initialisation and weight decay treat overlapping
  voxels like the others.
* ``"voxel"`` — one query per voxel, processed in chunks (``query_chunk``)
  since queries never interact; memory grows with the chunk, not with the
  voxel count.
* ``"shared"`` — one query for every voxel.

:class:`SpatialFeatureEncoder` is the factorised baseline: each ROI pools the
grid with a learned, image-independent spatial map, then the same per-voxel
readout. It can express retinotopic (static) routing but not content routing.

Examples
--------
>>> import numpy as np
>>> from neuroattn.encoding import TransformerBrainEncoder
>>> rng = np.random.default_rng(0)
>>> X, Y = rng.normal(size=(40, 4, 4, 8)), rng.normal(size=(40, 6))
>>> enc = TransformerBrainEncoder(d_model=16, n_heads=2, max_epochs=2, progress=False)
>>> enc.fit(X, Y, rois=[0, 0, 1, 1, 2, 2]).predict(X).shape
(40, 6)
>>> enc.attention_maps(X[:3]).shape, enc.roi_names_
((3, 3, 4, 4), ['0', '1', '2'])
"""

from __future__ import annotations

import torch
from torch import nn

from neuroattn.encoding._torch_estimator import TorchEncoder
from neuroattn.encoding.layers import RoutingDecoder, SpatialPooling, VoxelReadout
from neuroattn.errors import ParameterError

QUERY_MODES = ("roi", "voxel", "shared")


class _RoutedEncoder(nn.Module):
    """router (grid → tokens, maps) followed by the voxel readout."""

    def __init__(self, router: nn.Module, readout: VoxelReadout) -> None:
        super().__init__()
        self.router, self.readout = router, readout

    def forward(self, grid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tokens, maps = self.router(grid)
        return self.readout(tokens), maps


class TransformerBrainEncoder(TorchEncoder):
    """Images' feature grids → voxel responses through learned attention routing.

    Parameters
    ----------
    query_mode : {"roi", "voxel", "shared"}
        What one query stands for (see the module docstring).
    d_model, n_heads, n_layers, dim_feedforward, dropout
        Decoder sizes. The paper: 768, 16, 1, 1024, 0.1 on DINOv2 ViT-B/14 features.
    lr, weight_decay, max_epochs, batch_size, grad_clip
        AdamW with a one-cycle schedule.
    patience, val_fraction
        Early stopping on the validation mean Pearson r; the best epoch is kept.
    query_chunk : int
        Queries per decoder pass (``"voxel"`` mode memory control).
    overlap_rule : {"mean", "sum"}
        How a voxel in several ROIs reads them (``query_mode="roi"``): the
        mean of their tokens, or the reference's sum of per-ROI predictions.
    device, precision
        ``"auto"`` uses CUDA with bf16 autocast when available.
    random_state : int
    progress : bool, optional
        Progress bar over epochs (default: on a terminal).

    Attributes
    ----------
    module_ : torch.nn.Module
    roi_names_ : list of str or None
    history_ : list of dict
        Per-epoch training loss and validation r.
    best_epoch_, best_val_r_

    Notes
    -----
    A fitted encoder saves with ``save_pretrained(directory)``: the
    parameters and fitted values in ``config.json``, the module's weights,
    the standardisation statistics and the ROI membership in
    ``model.safetensors``; ``TransformerBrainEncoder.from_pretrained(directory)``
    predicts exactly as the saved one. ``preset("small")`` is the encoder of
    the notebook, the learning test and ``analyses/encoder_routing.py``.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.normal(size=(20, 3, 3, 4)), rng.normal(size=(20, 4))
    >>> enc = TransformerBrainEncoder(d_model=8, n_heads=2, max_epochs=1, progress=False)
    >>> path = enc.fit(X, Y, rois=[0, 0, 1, 1]).save_pretrained(tempfile.mkdtemp() + "/enc")
    >>> again = TransformerBrainEncoder.from_pretrained(path)
    >>> np.array_equal(again.predict(X), enc.predict(X)), again.roi_names_
    (True, ['0', '1'])
    """

    model_name = "transformer_brain_encoder"
    presets = {"small": dict(d_model=32, n_heads=1, dim_feedforward=64, lr=5e-3, dropout=0.0,
                             max_epochs=20, patience=20, progress=False)}
    """Named sizes (``__init__`` parameters): ``"small"`` as in the notebook and analysis."""

    def __init__(self, query_mode: str = "roi", *, d_model: int = 256, n_heads: int = 8,
                 n_layers: int = 1, dim_feedforward: int = 512, dropout: float = 0.1,
                 lr: float = 1e-3, weight_decay: float = 1e-4, max_epochs: int = 30,
                 batch_size: int = 32, grad_clip: float | None = 1.0, patience: int = 5,
                 val_fraction: float = 0.1, query_chunk: int = 4096,
                 overlap_rule: str = "mean", device: str = "auto",
                 precision: str = "auto", random_state: int = 0,
                 progress: bool | None = None) -> None:
        self.query_mode, self.d_model, self.n_heads = query_mode, d_model, n_heads
        self.overlap_rule = overlap_rule
        self.n_layers, self.dim_feedforward, self.dropout = n_layers, dim_feedforward, dropout
        self.lr, self.weight_decay, self.max_epochs = lr, weight_decay, max_epochs
        self.batch_size, self.grad_clip, self.patience = batch_size, grad_clip, patience
        self.val_fraction, self.query_chunk = val_fraction, query_chunk
        self.device, self.precision = device, precision
        self.random_state, self.progress = random_state, progress

    def _build(self, height: int, width: int, n_features: int, n_voxels: int,
               membership: torch.Tensor | None) -> nn.Module:
        if self.query_mode not in QUERY_MODES:
            raise ParameterError(f"query_mode={self.query_mode!r}; use one of {QUERY_MODES}.")
        if self.d_model % self.n_heads or self.d_model % 4:
            raise ParameterError(f"d_model={self.d_model} must be divisible by n_heads="
                                 f"{self.n_heads} and by 4 (the positional code).")
        n_queries = {"roi": None, "voxel": n_voxels, "shared": 1}[self.query_mode]
        if membership is None and self.query_mode == "shared":
            membership = torch.ones(n_voxels, 1, dtype=torch.bool)
        n_queries = membership.shape[1] if n_queries is None else n_queries
        router = RoutingDecoder(n_features, n_queries, d_model=self.d_model,
                                n_heads=self.n_heads, n_layers=self.n_layers,
                                dim_feedforward=self.dim_feedforward, dropout=self.dropout,
                                query_chunk=self.query_chunk)
        return _RoutedEncoder(router, VoxelReadout(membership, n_voxels, self.d_model,
                                                   overlap_rule=self.overlap_rule))


class SpatialFeatureEncoder(TorchEncoder):
    """The factorised baseline: a static spatial map per ROI, then per-voxel feature weights.

    Same fitting, ROIs, readout (``overlap_rule`` included) and attributes as
    :class:`TransformerBrainEncoder` (``query_mode`` is ``"roi"``, or
    ``"voxel"`` for one map per voxel); ``attention_maps`` returns the learned
    maps, identical for every image.

    Examples
    --------
    >>> import numpy as np
    >>> from neuroattn.encoding import SpatialFeatureEncoder
    >>> rng = np.random.default_rng(0)
    >>> enc = SpatialFeatureEncoder(max_epochs=2, progress=False)
    >>> enc.fit(rng.normal(size=(30, 4, 4, 8)), rng.normal(size=(30, 4)), rois=[0, 0, 1, 1])
    SpatialFeatureEncoder(max_epochs=2, progress=False)

    Saved and loaded as :class:`TransformerBrainEncoder` (``save_pretrained``,
    ``from_pretrained``).
    """

    model_name = "spatial_feature_encoder"
    presets = {"small": dict(max_epochs=20, patience=20, progress=False)}
    """Named sizes (``__init__`` parameters): ``"small"`` as in the notebook and analysis."""

    def __init__(self, query_mode: str = "roi", *, lr: float = 1e-2, weight_decay: float = 1e-4,
                 max_epochs: int = 30, batch_size: int = 32, grad_clip: float | None = 1.0,
                 patience: int = 5, val_fraction: float = 0.1, overlap_rule: str = "mean",
                 device: str = "auto", precision: str = "auto", random_state: int = 0,
                 progress: bool | None = None) -> None:
        self.query_mode, self.overlap_rule = query_mode, overlap_rule
        self.lr, self.weight_decay, self.max_epochs = lr, weight_decay, max_epochs
        self.batch_size, self.grad_clip, self.patience = batch_size, grad_clip, patience
        self.val_fraction, self.device, self.precision = val_fraction, device, precision
        self.random_state, self.progress = random_state, progress

    def _build(self, height: int, width: int, n_features: int, n_voxels: int,
               membership: torch.Tensor | None) -> nn.Module:
        if self.query_mode not in ("roi", "voxel"):
            raise ParameterError(f"query_mode={self.query_mode!r}; use 'roi' or 'voxel'.")
        n_queries = n_voxels if membership is None else membership.shape[1]
        return _RoutedEncoder(SpatialPooling(height, width, n_queries),
                              VoxelReadout(membership, n_voxels, n_features,
                                           overlap_rule=self.overlap_rule))
