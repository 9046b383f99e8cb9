"""OAT, the object-level attention transformer for visual search (Fang et al., ECCV 2024).

OAT predicts a scanpath as a sequence of **object** fixations (reference §2):

* **Object tokens.** A small CNN reads each object's RGB patch
  (``Conv(3→16, 5×5) + ReLU + MaxPool``, ``Conv(16→32, 3×3) + ReLU +
  MaxPool``, flatten, ``Linear → d/2``; here the convolutions are padded
  "same" and the pools are ``cnn_pool``, so that small patches survive),
  concatenated with the object positional encoding ``PE(row, col,
  is_target)`` of width ``d/2``
  (:class:`~neuroattn.gaze.oat.positional.ObjectPositionalEncoding`).
* **Encoder** over the ``P`` object tokens plus one **target token** placed
  last (the target template's CNN features with ``PE(row_t, col_t, 1)``, the
  target object's cell, as in the reference). There is **no order
  encoding** in the encoder, so permuting the objects permutes its outputs.
  Padded object slots are masked out of attention.
* **Decoder** over ``[BOS, f_1, ..., f_t]``: a fixated object's token is its
  CNN features with ``PE(row, col, [it is the target])``; BOS is a blank
  (all-ones) patch at cell ``(n_rows // 2, n_cols // 2)``. The standard 1-D
  sinusoidal encoding is added, then dropout; attention is causal.
* **Pointer head.** For each of ``pointer_heads`` heads, ``score = (W_e
  enc)·(W_d dec)ᵀ`` over the ``P + 1`` encoder tokens with a zero
  placeholder appended, divided by ``sqrt(d)``; a ``Linear(heads → 1)``
  combines the heads. The logits have ``P + 2`` entries: objects ``0..P-1``,
  **EOS = P** (pointing at the target token ends the path) and the
  placeholder, which is the **PAD** id ``P + 1``. Padded objects and PAD get
  ``-inf``, so they can never be predicted; BOS = ``P + 2`` is input only.

Defaults are the reference's (4 + 4 post-LN layers of width 512, 4 heads,
feed-forward 512, dropout 0.1, 2 pointer heads; Xavier-uniform init of every
weight with more than one dimension, from ``seed``). Inputs are
:class:`~neuroattn.gaze.oat.data.OATInputs`; build them with
:meth:`SearchTrials.inputs <neuroattn.gaze.oat.data.SearchTrials.inputs>`.

Examples
--------
>>> import torch
>>> from neuroattn.datasets.synthetic.visual_search import make_visual_search
>>> from neuroattn.gaze.oat import OAT, as_search_trials, scanpath_tokens
>>> trials = as_search_trials(make_visual_search(n_train=4, n_val=1, n_test=1).train)
>>> model = OAT(n_rows=4, n_cols=6, d_model=32, n_encoder_layers=1, n_decoder_layers=1,
...             dim_feedforward=32, pe_iterations=200).eval()
>>> tokens = scanpath_tokens([trials.scanpaths[0][0], trials.scanpaths[1][0]], model.n_slots)
>>> logits = model(trials.inputs([0, 1]), tokens[:, :-1])
>>> logits.shape[0], logits.shape[2], model.eos_index, model.pad_index, model.bos_index
(2, 26, 24, 25, 26)
>>> bool(torch.isinf(logits[..., model.pad_index]).all())
True
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import nn

from neuroattn._validation import check_int, check_number, to_jsonable
from neuroattn.errors import ParameterError
from neuroattn.gaze.oat.data import OATInputs, vocabulary
from neuroattn.gaze.oat.positional import ObjectPositionalEncoding
from neuroattn.nn.pretrained import PretrainedMixin

__all__ = ["OAT", "OATConfig", "OATMemory", "PatchCNN"]

MODEL_NAME = "oat"
"""The model name written into (and checked in) checkpoints."""


@dataclass
class OATConfig:
    """Architecture of :class:`OAT` (defaults: the reference model).

    Parameters
    ----------
    n_rows, n_cols : int
        Grid of the search display (cells of the positional encoding);
        default 4 × 6, the synthetic benchmark's (the reference's Amazon
        shelves are 6 × 14).
    n_objects : int or None
        Object slots ``P`` (default ``n_rows * n_cols``); trials with fewer
        objects are padded.
    patch_size : tuple of int
        ``(height, width)`` of the object patches.
    d_model, n_heads, n_encoder_layers, n_decoder_layers, dim_feedforward, dropout
        Transformer sizes (reference: 512, 4, 4, 4, 512, 0.1).
    pointer_heads : int
        Heads of the pointer head (reference: 2).
    cnn_channels : tuple of int
        Channels of the two conv stages (reference: 16, 32).
    cnn_pool : tuple of int
        Max-pool sizes after each stage (reference, for 150 × 93 patches: 5, 3).
    pe_sigma, pe_iterations, pe_lr
        Fit of the positional table (reference: 2, 10 000, 0.01).
    max_len : int
        Longest scanpath the decoder accepts (positions of its 1-D encoding
        are ``max_len + 1`` with BOS).
    seed : int
        Seed of the weight init and of the positional table.

    Examples
    --------
    >>> OATConfig(n_rows=4, n_cols=6).n_slots
    24
    >>> OATConfig(n_rows=4, n_cols=6, d_model=30)
    Traceback (most recent call last):
    ...
    neuroattn.errors.ParameterError: d_model=30 must be a multiple of 4 (n_heads=4 and an even ...
    """

    n_rows: int = 4
    n_cols: int = 6
    n_objects: int | None = None
    patch_size: tuple[int, int] = (16, 16)
    d_model: int = 512
    n_heads: int = 4
    n_encoder_layers: int = 4
    n_decoder_layers: int = 4
    dim_feedforward: int = 512
    dropout: float = 0.1
    pointer_heads: int = 2
    cnn_channels: tuple[int, int] = (16, 32)
    cnn_pool: tuple[int, int] = (2, 2)
    pe_sigma: float = 2.0
    pe_iterations: int = 10_000
    pe_lr: float = 0.01
    max_len: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("patch_size", "cnn_channels", "cnn_pool"):
            if isinstance(getattr(self, name), list):  # e.g. from a checkpoint / JSON
                setattr(self, name, tuple(getattr(self, name)))
        self.validate()

    @property
    def n_slots(self) -> int:
        """``P``, the number of object slots."""
        return int(self.n_rows * self.n_cols if self.n_objects is None else self.n_objects)

    def validate(self) -> None:
        """Raise ``ValueError`` naming the problem and the fix if a parameter is bad."""
        check_int("n_rows", self.n_rows, 1, 256)
        check_int("n_cols", self.n_cols, 1, 256)
        if self.n_objects is not None:
            check_int("n_objects", self.n_objects, 1)
        check_int("n_heads", self.n_heads, 1)
        check_int("d_model", self.d_model, 2)
        if self.d_model % 2 or self.d_model % self.n_heads:
            raise ParameterError(f"d_model={self.d_model} must be a multiple of "
                                 f"{math.lcm(2, self.n_heads)} (n_heads={self.n_heads} and an even "
                                 "split into CNN and positional halves); pick e.g. a multiple of "
                                 "8.")
        check_int("n_encoder_layers", self.n_encoder_layers, 1)
        check_int("n_decoder_layers", self.n_decoder_layers, 1)
        check_int("dim_feedforward", self.dim_feedforward, 1)
        check_number("dropout", self.dropout, lo=0.0, hi=1.0)
        if self.dropout >= 1:
            raise ParameterError(f"dropout={self.dropout} must be < 1.")
        check_int("pointer_heads", self.pointer_heads, 1)
        for name in ("patch_size", "cnn_channels", "cnn_pool"):
            value = getattr(self, name)
            if not isinstance(value, tuple) or len(value) != 2:
                raise ParameterError(f"{name}={value!r} must be a pair of integers.")
            for v in value:
                check_int(name, v, 1)
        h, w = self.patch_size
        for k in self.cnn_pool:
            h, w = h // k, w // k
        if h < 1 or w < 1:
            raise ParameterError(f"cnn_pool={self.cnn_pool} pools the {self.patch_size} patches "
                                 "below one pixel; use smaller pools or larger patches.")
        check_number("pe_sigma", self.pe_sigma, lo=0.0, strict=True)
        check_int("pe_iterations", self.pe_iterations, 0)
        check_number("pe_lr", self.pe_lr, lo=0.0, strict=True)
        check_int("max_len", self.max_len, 1)
        check_int("seed", self.seed, 0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable copy of the parameters (tuples become lists)."""
        return {f.name: to_jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}


class PatchCNN(nn.Module):
    """Two conv + ReLU + max-pool stages and a linear layer: ``(N, h, w, 3) → (N, out)``.

    Input is channels last, uint8 (scaled by 1/255) or float in [0, 1].

    Examples
    --------
    >>> import torch
    >>> PatchCNN((16, 12), 10)(torch.rand(5, 16, 12, 3)).shape
    torch.Size([5, 10])
    """

    def __init__(self, patch_size: tuple[int, int], out_features: int,
                 channels: tuple[int, int] = (16, 32), pool: tuple[int, int] = (2, 2)) -> None:
        super().__init__()
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(3, c1, 5, padding=2), nn.ReLU(), nn.MaxPool2d(pool[0]),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(pool[1]),
            nn.Flatten(),
        )
        h, w = patch_size
        for k in pool:
            h, w = h // k, w // k
        self.patch_size = tuple(patch_size)
        self.proj = nn.Linear(c2 * h * w, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.uint8:
            x = x.float() / 255.0
        return self.proj(self.features(x.permute(0, 3, 1, 2).to(self.proj.weight.dtype)))


class OATMemory(NamedTuple):
    """The encoded trials, computed once and reused at every decoding step.

    Examples
    --------
    >>> import torch
    >>> from neuroattn.datasets.synthetic.visual_search import make_visual_search
    >>> from neuroattn.gaze.oat import OAT, as_search_trials
    >>> trials = as_search_trials(make_visual_search(n_train=2, n_val=1, n_test=1).train)
    >>> model = OAT(d_model=16, n_heads=2, n_encoder_layers=1, n_decoder_layers=1,
    ...             dim_feedforward=16, pe_iterations=100)
    >>> encoded = model.encode(trials.inputs([0, 1]))
    >>> encoded.memory.shape, encoded.select(torch.tensor([1, 1, 1])).memory.shape
    (torch.Size([2, 25, 16]), torch.Size([3, 25, 16]))
    """

    memory: torch.Tensor
    """``(B, P + 1, d)`` encoder outputs (objects, then the target token)."""
    key_padding_mask: torch.Tensor
    """``(B, P + 1)`` bool, ``True`` on padded slots."""
    object_features: torch.Tensor
    """``(B, P, d/2)`` CNN features of the objects (for the decoder's tokens)."""
    inputs: OATInputs
    """The inputs that were encoded."""

    def select(self, index: torch.Tensor) -> OATMemory:
        """The rows at ``index`` (1-D int64; repeats allowed), e.g. one row per scanpath."""
        return OATMemory(self.memory.index_select(0, index),
                         self.key_padding_mask.index_select(0, index),
                         self.object_features.index_select(0, index), self.inputs.select(index))


class OAT(nn.Module, PretrainedMixin):
    """The object-level attention transformer (see the module docstring).

    Parameters
    ----------
    config : OATConfig or None
        Architecture; defaults to ``OATConfig()`` (the reference's sizes).
    **overrides
        Fields of :class:`OATConfig` to replace.

    Attributes
    ----------
    config : OATConfig
    n_slots, eos_index, pad_index, bos_index : int
        ``P`` and the special token ids ``P``, ``P + 1``, ``P + 2``.

    Saving and loading: ``model.save_pretrained(directory)`` writes
    ``config.json`` (the :class:`OATConfig`) and ``model.safetensors``;
    ``OAT.from_pretrained(directory)`` reads them back (see
    :mod:`neuroattn.nn.pretrained`). ``OAT.preset(size)`` builds a named size
    (:attr:`presets`: ``"tiny"`` for unit tests, ``"small"`` for the learning
    test, the notebook and the analysis, ``"reference"`` for the paper's).

    Examples
    --------
    >>> model = OAT(n_rows=2, n_cols=3, d_model=16, n_heads=2, n_encoder_layers=1,
    ...             n_decoder_layers=1, dim_feedforward=16, pe_iterations=100)
    >>> model.n_slots, model.eos_index
    (6, 6)
    >>> import tempfile
    >>> path = model.save_pretrained(tempfile.mkdtemp() + "/oat")
    >>> again = OAT.from_pretrained(path)
    >>> again.config == model.config, torch.equal(again.position.table, model.position.table)
    (True, True)
    >>> OAT.preset("small").config.d_model
    64
    """

    model_name = MODEL_NAME
    presets = {
        "tiny": dict(n_rows=3, n_cols=5, patch_size=(12, 10), d_model=16, n_heads=2,
                     n_encoder_layers=1, n_decoder_layers=1, dim_feedforward=16,
                     pe_iterations=100, max_len=12),
        "small": dict(n_rows=4, n_cols=6, d_model=64, n_heads=4, n_encoder_layers=2,
                      n_decoder_layers=2, dim_feedforward=128, dropout=0.0, cnn_pool=(4, 2),
                      pe_iterations=2000, max_len=24),
        "reference": {},
    }
    """Named sizes: ``"small"`` is the learning test's, notebook's and analysis's OAT."""

    def __init__(self, config: OATConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        if config is None:
            config = OATConfig(**overrides)
        elif isinstance(config, OATConfig):
            config = dataclasses.replace(config, **overrides)
        else:
            raise TypeError(f"config must be an OATConfig or None, got {type(config).__name__}.")
        self.config = cfg = config
        voc = vocabulary(cfg.n_slots)
        self.n_slots = cfg.n_slots
        self.eos_index, self.pad_index, self.bos_index = voc["eos"], voc["pad"], voc["bos"]
        d, half = cfg.d_model, cfg.d_model // 2
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            self.cnn = PatchCNN(cfg.patch_size, half, cfg.cnn_channels, cfg.cnn_pool)
            self.position = ObjectPositionalEncoding(
                cfg.n_rows, cfg.n_cols, half, sigma=cfg.pe_sigma, n_iter=cfg.pe_iterations,
                lr=cfg.pe_lr, seed=cfg.seed)
            self.encoder = nn.TransformerEncoder(
                nn.TransformerEncoderLayer(d, cfg.n_heads, cfg.dim_feedforward, cfg.dropout,
                                           batch_first=True),
                cfg.n_encoder_layers, enable_nested_tensor=False)
            self.decoder = nn.TransformerDecoder(
                nn.TransformerDecoderLayer(d, cfg.n_heads, cfg.dim_feedforward, cfg.dropout,
                                           batch_first=True),
                cfg.n_decoder_layers)
            self.decoder_dropout = nn.Dropout(cfg.dropout)
            self.pointer_encoder = nn.Linear(d, cfg.pointer_heads * d)
            self.pointer_decoder = nn.Linear(d, cfg.pointer_heads * d)
            self.pointer_mix = nn.Linear(cfg.pointer_heads, 1)
            for p in self.parameters():
                if p.dim() > 1:
                    nn.init.xavier_uniform_(p)
        self.register_buffer("sequence_encoding", _sinusoid(cfg.max_len + 1, d), persistent=False)
        self.register_buffer("bos_patch", torch.ones(1, *cfg.patch_size, 3), persistent=False)

    # ---------------------------------------------------------------- save / load
    def pretrained_config(self) -> dict[str, Any]:
        """The :class:`OATConfig` as a JSON-safe dict (for ``save_pretrained``)."""
        return self.config.to_dict()

    @classmethod
    def from_pretrained_config(cls, config: dict[str, Any]) -> OAT:
        """An untrained OAT of an :class:`OATConfig` dict (fits the positional table)."""
        return cls(OATConfig(**config))

    @classmethod
    def build_for_weights(cls, config: dict[str, Any]) -> OAT:
        """As :meth:`from_pretrained_config`, skipping the positional-table fit.

        The saved weights hold the fitted table, so loading does not refit it.
        """
        model = cls(OATConfig(**{**config, "pe_iterations": 0}))
        model.config = OATConfig(**config)
        return model

    # ---------------------------------------------------------------- encoder
    def encode(self, inputs: OATInputs) -> OATMemory:
        """Run the CNN and the encoder over the objects and the target token."""
        b, p = inputs.rows.shape
        if p != self.n_slots:
            raise ParameterError(f"inputs have {p} object slots but the model has {self.n_slots}; "
                                 f"build them with trials.inputs(..., n_slots={self.n_slots}).")
        if tuple(inputs.patches.shape[2:4]) != tuple(self.config.patch_size):
            raise ParameterError(f"patches are {tuple(inputs.patches.shape[2:4])} pixels but the "
                                 f"model expects patch_size={self.config.patch_size}; resize them "
                                 "or build the model with that patch_size.")
        feats = self.cnn(inputs.patches.reshape(b * p, *inputs.patches.shape[2:])).view(b, p, -1)
        no = torch.zeros_like(inputs.object_mask)
        objects = torch.cat([feats, self.position(inputs.rows, inputs.cols, no)], dim=-1)
        t_row = inputs.rows.gather(1, inputs.target[:, None])
        t_col = inputs.cols.gather(1, inputs.target[:, None])
        t_pos = self.position(t_row, t_col, torch.ones_like(t_row, dtype=torch.bool))
        t_feat = self.cnn(inputs.target_patch)[:, None]
        src = torch.cat([objects, torch.cat([t_feat, t_pos], dim=-1)], dim=1)
        pad = torch.cat([~inputs.object_mask, no[:, :1]], dim=1)
        memory = self.encoder(src, src_key_padding_mask=pad)
        return OATMemory(memory, pad, feats, inputs)

    # ---------------------------------------------------------------- decoder
    def embed_tokens(self, encoded: OATMemory, tokens: torch.Tensor) -> torch.Tensor:
        """``(B, T, d)`` decoder input embeddings of token ids (before the 1-D encoding).

        EOS and PAD (which only follow the end of a path) embed as zeros.
        """
        inputs = encoded.inputs
        is_obj = tokens < self.n_slots
        idx = tokens.clamp(max=self.n_slots - 1)
        feats = encoded.object_features.gather(
            1, idx[..., None].expand(-1, -1, encoded.object_features.shape[-1]))
        rows, cols = inputs.rows.gather(1, idx), inputs.cols.gather(1, idx)
        flag = is_obj & (idx == inputs.target[:, None])
        objects = torch.cat([feats, self.position(rows, cols, flag)], dim=-1)
        centre = torch.tensor([[self.config.n_rows // 2, self.config.n_cols // 2]],
                              device=tokens.device)
        bos = torch.cat([self.cnn(self.bos_patch),
                         self.position(centre[:, 0], centre[:, 1],
                                       torch.zeros(1, dtype=torch.bool, device=tokens.device))],
                        dim=-1).to(objects.dtype)
        out = torch.where(is_obj[..., None], objects, torch.zeros_like(objects))
        return torch.where((tokens == self.bos_index)[..., None], bos.expand_as(out), out)

    def decode(self, encoded: OATMemory, tokens: torch.Tensor) -> torch.Tensor:
        """Pointer logits ``(B, T, P + 2)`` for decoder input ``tokens`` ``(B, T)``.

        ``tokens[:, 0]`` is BOS. Padded objects and PAD are ``-inf``.
        """
        if tokens.ndim != 2 or tokens.shape[0] != encoded.memory.shape[0]:
            raise ParameterError(f"tokens must be (batch, length) with batch "
                                 f"{encoded.memory.shape[0]}; got {tuple(tokens.shape)}.")
        t = tokens.shape[1]
        if t > self.sequence_encoding.shape[0]:
            raise ParameterError(f"decoder input of length {t} exceeds max_len + 1 = "
                                 f"{self.sequence_encoding.shape[0]}; build the model with a "
                                 "larger max_len.")
        x = self.embed_tokens(encoded, tokens) + self.sequence_encoding[:t].to(
            encoded.memory.dtype)
        x = self.decoder_dropout(x)
        causal = torch.ones(t, t, dtype=torch.bool, device=tokens.device).triu(1)
        dec = self.decoder(x, encoded.memory, tgt_mask=causal, tgt_is_causal=True,
                           memory_key_padding_mask=encoded.key_padding_mask)
        return self.pointer(encoded, dec)

    def pointer(self, encoded: OATMemory, dec: torch.Tensor) -> torch.Tensor:
        """The pointer head over the encoder tokens: ``(B, T, d) → (B, T, P + 2)`` logits."""
        b, t, d = dec.shape
        heads = self.config.pointer_heads
        keys = self.pointer_encoder(encoded.memory).view(b, -1, heads, d)
        queries = self.pointer_decoder(dec).view(b, t, heads, d)
        scores = torch.einsum("bthk,bphk->bthp", queries, keys)
        scores = torch.cat([scores, scores.new_zeros(b, t, heads, 1)], dim=-1) / math.sqrt(d)
        logits = self.pointer_mix(scores.transpose(2, 3)).squeeze(-1)  # (B, T, P + 2)
        blocked = torch.cat([encoded.key_padding_mask,
                             torch.ones_like(encoded.key_padding_mask[:, :1])], dim=1)
        return logits.masked_fill(blocked[:, None, :], float("-inf"))

    def forward(self, inputs: OATInputs, tokens: torch.Tensor) -> torch.Tensor:
        """Teacher-forced pointer logits ``(B, T, P + 2)`` (:meth:`encode` then :meth:`decode`)."""
        return self.decode(self.encode(inputs), tokens)

    def generate(self, trials: Any, **kwargs: Any) -> Any:
        """Predict scanpaths; see :func:`neuroattn.gaze.oat.inference.generate_scanpaths`."""
        from neuroattn.gaze.oat.inference import generate_scanpaths

        return generate_scanpaths(self, trials, **kwargs)


def _sinusoid(length: int, dim: int) -> torch.Tensor:
    """The standard 1-D sinusoidal encoding, ``(length, dim)``: sin on even, cos on odd dims."""
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(-torch.arange(0, dim, 2, dtype=torch.float32) * math.log(10000.0) / dim)
    out = torch.zeros(length, dim)
    out[:, 0::2] = torch.sin(pos * freq)
    out[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return out
