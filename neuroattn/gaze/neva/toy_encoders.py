"""Image–text encoders with known behaviour, for testing NevaClip without CLIP weights.

* :class:`ChannelEnergyEncoder` — analytic. The image embedding is the
  high-frequency energy of each colour channel (mean squared Laplacian) plus a
  constant ``floor`` component; a caption's embedding is its colour's channels
  (``"red"`` → R, ``"yellow"`` → R and G) with 0 on the floor. Blur removes
  high-frequency energy, so only the foveated region contributes, and the
  cosine is highest when the fovea sits on the captioned colour's texture.
  The floor stands for "no texture in view": without it the cosine would only
  see the proportions of the channels, and a glimpse of the target's edge
  would score as well as its centre.
* :class:`TinyCLIP` — a small CLIP-style dual encoder (a 4-layer CNN and a
  bag-of-words text tower) trained contrastively by :func:`fit_tiny_clip`
  on :func:`~neuroattn.datasets.synthetic.make_captioned_scenes`, in a few
  CPU minutes.

Examples
--------
>>> import torch
>>> enc = ChannelEnergyEncoder(floor=0.01)
>>> enc.encode_text(["a red disc", "a yellow cross"]).tolist()
[[1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]]
>>> enc.encode_image(torch.rand(2, 3, 16, 16)).shape
torch.Size([2, 4])
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from neuroattn._logging import logger
from neuroattn.device import resolve_device
from neuroattn.errors import ParameterError
from neuroattn.nn.pretrained import PretrainedMixin
from neuroattn.seeding import set_seed
from neuroattn.training.distributed import rank_share
from neuroattn.training.loop import TrainConfig, Trainer
from neuroattn.training.objective import ModelObjective, objective_loss

__all__ = ["RGB_PALETTE", "CaptionBatches", "ChannelEnergyEncoder", "TinyCLIP", "fit_tiny_clip"]

RGB_PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (1, 0, 0), "green": (0, 1, 0), "blue": (0, 0, 1),
    "yellow": (1, 1, 0), "cyan": (0, 1, 1), "magenta": (1, 0, 1),
}
"""The analytic encoder's words: each colour name and the RGB channels it lights up."""

class ChannelEnergyEncoder:
    """The analytic encoder of the module docstring.

    Parameters
    ----------
    floor : float
        The constant component, in units of mean squared Laplacian; a
        natural scale is the mean channel energy of the unfoveated images
        (:meth:`calibrated`).
    """

    def __init__(self, floor: float) -> None:
        if not floor > 0:
            raise ParameterError(f"floor must be > 0, got {floor}.")
        self.floor = float(floor)

    @classmethod
    def calibrated(cls, images: torch.Tensor) -> ChannelEnergyEncoder:
        """An encoder whose floor is the mean channel energy of ``images`` (sharp)."""
        return cls(float(cls.channel_energy(images).mean()))

    @staticmethod
    def channel_energy(images: torch.Tensor) -> torch.Tensor:
        """Mean squared Laplacian of each channel of ``(N, 3, H, W)`` images, ``(N, 3)``."""
        centre = images[..., 1:-1, 1:-1]
        laplacian = (images[..., :-2, 1:-1] + images[..., 2:, 1:-1] + images[..., 1:-1, :-2]
                     + images[..., 1:-1, 2:] - 4 * centre)  # the 5-point stencil, 'valid'
        return laplacian.pow(2).mean((2, 3))

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` → ``(N, 4)``: the three channel energies and the floor."""
        energy = self.channel_energy(images)
        return torch.cat([energy, energy.new_full((len(energy), 1), self.floor)], 1)

    def encode_text(self, captions: Sequence[str]) -> torch.Tensor:
        """Captions → ``(M, 4)``: the channels of the colour each caption names."""
        rows = []
        for caption in captions:
            named = [word for word in caption.lower().split() if word in RGB_PALETTE]
            if len(named) != 1:
                raise ParameterError(f"caption {caption!r} must name exactly one colour of "
                                     f"{list(RGB_PALETTE)}.")
            rows.append([*RGB_PALETTE[named[0]], 0])
        return torch.tensor(rows, dtype=torch.float32)


class TinyCLIP(nn.Module, PretrainedMixin):
    """A small CLIP-style dual encoder for synthetic captioned scenes.

    Parameters
    ----------
    vocabulary : sequence of str
        Caption words; unknown words are an error.
    embed_dim : int
        Joint embedding size.
    width : int
        Channels of the first convolution (then 2x and 4x).

    Examples
    --------
    >>> import torch
    >>> model = TinyCLIP(["a", "red", "disc"])
    >>> model.encode_image(torch.rand(2, 3, 64, 64)).shape, model.encode_text(["a red disc"]).shape
    (torch.Size([2, 64]), torch.Size([1, 64]))

    ``save_pretrained(directory)`` writes the vocabulary and sizes to
    ``config.json`` and the weights to ``model.safetensors``;
    ``TinyCLIP.from_pretrained(directory)`` reads them back:

    >>> import tempfile
    >>> again = TinyCLIP.from_pretrained(model.save_pretrained(tempfile.mkdtemp() + "/clip"))
    >>> again.vocabulary, torch.equal(again.words.weight, model.words.weight)
    (['a', 'red', 'disc'], True)
    """

    model_name = "tiny_clip"
    presets = {"small": {"embed_dim": 64, "width": 16}}
    """Named sizes (pass ``vocabulary=``): ``"small"`` as in the NeVA notebook, learning test
    and analysis."""
    mean = (0.5, 0.5, 0.5)
    std = (0.25, 0.25, 0.25)

    def __init__(self, vocabulary: Sequence[str], embed_dim: int = 64, width: int = 32) -> None:
        super().__init__()
        self.embed_dim, self.width = int(embed_dim), int(width)
        self.vocabulary = list(dict.fromkeys(vocabulary))
        self.index = {word: i + 1 for i, word in enumerate(self.vocabulary)}  # 0 = padding
        w = width
        self.image_tower = nn.Sequential(
            nn.Conv2d(3, w, 3, padding=1), nn.GELU(),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(2 * w, 2 * w, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(2 * w, 4 * w, 3, stride=2, padding=1), nn.GELU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * w, embed_dim),
        )
        self.words = nn.EmbeddingBag(len(self.vocabulary) + 1, embed_dim, mode="mean",
                                     padding_idx=0)
        self.text_head = nn.Sequential(nn.GELU(), nn.Linear(embed_dim, embed_dim))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def pretrained_config(self) -> dict[str, Any]:
        """Vocabulary and sizes (for ``save_pretrained``)."""
        return {"vocabulary": list(self.vocabulary), "embed_dim": self.embed_dim,
                "width": self.width}

    @classmethod
    def from_pretrained_config(cls, config: dict[str, Any]) -> TinyCLIP:
        """An untrained TinyCLIP of a :meth:`pretrained_config` dict."""
        if "vocabulary" not in config:
            raise ParameterError("TinyCLIP needs vocabulary=[...] (the caption words), e.g. "
                                 "TinyCLIP.preset('small', vocabulary=['a', 'red', 'disc']).")
        return cls(**config)

    def tokenize(self, captions: Sequence[str]) -> torch.Tensor:
        """Captions → ``(M, T)`` word indices, 0-padded."""
        rows = []
        for caption in captions:
            words = caption.lower().split()
            unknown = [w for w in words if w not in self.index]
            if unknown:
                raise ParameterError(f"caption {caption!r} has words {unknown} outside the "
                                     f"vocabulary {self.vocabulary}.")
            rows.append([self.index[w] for w in words])
        longest = max(map(len, rows), default=1)
        return torch.tensor([r + [0] * (longest - len(r)) for r in rows], dtype=torch.long)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` normalised images (``(x - mean) / std``) → ``(N, D)``."""
        return self.image_tower(images)

    def encode_text(self, captions: Sequence[str]) -> torch.Tensor:
        """Captions → ``(M, D)``."""
        tokens = self.tokenize(captions).to(self.logit_scale.device)
        return self.text_head(self.words(tokens))

    def contrastive_loss(self, images: torch.Tensor, captions: Sequence[str]) -> torch.Tensor:
        """Symmetric InfoNCE of matched (image, caption) pairs; identical captions are positives."""
        image = F.normalize(self.encode_image(images), dim=-1)
        text = F.normalize(self.encode_text(captions), dim=-1)
        logits = self.logit_scale.exp().clamp(max=100) * image @ text.T
        codes = {c: i for i, c in enumerate(dict.fromkeys(captions))}
        labels = torch.tensor([codes[c] for c in captions], device=logits.device)
        same = (labels[:, None] == labels[None]).float()
        targets = same / same.sum(1, keepdim=True)
        return 0.5 * (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets))


class CaptionBatches:
    """``steps`` seeded batches of ``(images, captions)``, one epoch of :func:`fit_tiny_clip`.

    Each batch draws ``batch_size`` different scenes; the whole plan is drawn up front from
    ``seed``, so every rank of a ``torchrun`` job knows it and iterates over its own share
    (:func:`~neuroattn.training.distributed.rank_share`).
    """

    def __init__(self, images: torch.Tensor, captions: Sequence[str], batch_size: int,
                 steps: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        size = min(batch_size, len(captions))
        self.images, self.captions = images, list(captions)
        self.plan = [rng.choice(len(captions), size=size, replace=False) for _ in range(steps)]

    def __len__(self) -> int:
        return len(rank_share(len(self.plan)))

    def __iter__(self) -> Iterator[tuple[torch.Tensor, list[str]]]:
        for i in rank_share(len(self.plan)):
            pick = self.plan[i]
            yield self.images[pick], [self.captions[k] for k in pick]


class _Contrastive(ModelObjective):
    """The symmetric contrastive loss of a :class:`TinyCLIP` as a module's ``forward``."""

    def forward(self, batch: tuple[torch.Tensor, list[str]]) -> tuple[torch.Tensor, dict]:
        images, captions = batch
        return self.model.contrastive_loss(images, captions), {}


def fit_tiny_clip(scenes: Any, out_dir: str | os.PathLike | None = None, *, steps: int = 600,
                  batch_size: int = 128, lr: float = 3e-3, embed_dim: int = 64, width: int = 32,
                  seed: int = 0, device: str | torch.device = "auto",
                  progress: bool | None = None) -> TinyCLIP:
    """Train a :class:`TinyCLIP` on scenes and their captions, on the package's training loop.

    AdamW (weight decay 1e-4) under a one-cycle schedule (warm-up over 10 % of the steps),
    one epoch of ``steps`` batches (:class:`CaptionBatches`), on
    :class:`~neuroattn.training.loop.Trainer`: checkpoints, progress, and a contrastive loss
    that goes through ``forward`` so ``torchrun`` syncs it.

    Parameters
    ----------
    scenes : CaptionedScenes
        Training scenes (:func:`~neuroattn.datasets.synthetic.make_captioned_scenes`,
        or any object with ``images``, ``captions``, ``colour_names`` and
        ``shape_names``); each image is paired with its caption.
    out_dir : path-like, optional
        Run directory (``last.pt``, ``metrics.csv``, ``config.yaml``); default: a
        temporary directory, deleted with its checkpoint on return.
    steps, batch_size, lr : int, int, float
        Optimisation budget.
    embed_dim, width : int
        Model size (see :class:`TinyCLIP`).
    seed : int
    device : str or torch.device
    progress : bool, optional

    Returns
    -------
    TinyCLIP
        In eval mode, on ``device``.

    Examples
    --------
    >>> from neuroattn.datasets.synthetic import make_captioned_scenes
    >>> scenes = make_captioned_scenes(16, size=32, seed=0)
    >>> model = fit_tiny_clip(scenes, steps=2, batch_size=8, width=4, device="cpu")
    >>> model.training
    False
    """
    if int(steps) != steps or steps < 2:
        raise ParameterError(f"steps={steps!r} must be an integer >= 2; pass a longer budget.")
    set_seed(seed)
    dev = resolve_device(device)
    vocabulary = ["a", *scenes.colour_names, *scenes.shape_names]
    model = TinyCLIP(vocabulary, embed_dim=embed_dim, width=width).to(dev)
    mean = torch.tensor(model.mean, device=dev).view(1, 3, 1, 1)
    std = torch.tensor(model.std, device=dev).view(1, 3, 1, 1)
    images = (torch.from_numpy(scenes.images).to(dev) - mean) / std
    batches = CaptionBatches(images, scenes.captions, batch_size, int(steps), seed)
    config = TrainConfig(epochs=1, lr=lr, weight_decay=1e-4, grad_clip=None, warmup_steps=0,
                         precision="fp32", device=str(dev), seed=seed, log_every=100)

    def one_cycle(optimizer: torch.optim.Optimizer, total: int
                  ) -> torch.optim.lr_scheduler.LRScheduler:
        # Warm up over 10 % of the steps, and over at least 1.5 so the warm-up is not empty.
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total,
                                                   pct_start=max(0.1, 1.5 / total))

    with contextlib.ExitStack() as stack:
        run_dir = out_dir if out_dir is not None else \
            stack.enter_context(tempfile.TemporaryDirectory(prefix="tiny_clip_"))
        trainer = Trainer(_Contrastive(model), objective_loss, config, run_dir,
                          model_name="tiny_clip", progress=progress, scheduler_factory=one_cycle,
                          run_config={"train": config, "schedule": "one_cycle",
                                      "model": model.pretrained_config()})
        trainer.fit(batches)
    logger.debug("TinyCLIP: %d steps, last loss %.3f", trainer.step,
                 trainer.history[-1]["loss"] if trainer.history else float("nan"))
    return model.eval().requires_grad_(False)
