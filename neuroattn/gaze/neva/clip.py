"""NevaClip: scanpaths that align a foveated view of an image with its caption.

The objective of NevaClip (Zanca et al.) is ``1 - cos(f(x_fov), g(caption))``
with ``f``, ``g`` the image and text towers of a CLIP model and ``x_fov`` the
image seen from the candidate fixation; :func:`~neuroattn.gaze.neva.neva_search`
does the rest. :class:`NevaClip` takes any ``(encode_image, encode_text)``
pair; :meth:`NevaClip.from_open_clip` builds one from an open_clip
architecture and a **local** checkpoint file (nothing is downloaded). Without
a caption it runs in **free-viewing** mode: the target is the embedding of the
unfoveated image itself, so the scanpath collects what makes the image what
it is.

Images are resized to the model's input size (bilinear, antialiased) and
foveated in ``[0, 1]`` RGB, then normalised with the model's mean and std (the
reference blurs the normalised tensor; both are the same because blur and
normalisation are linear). Fixations come back in **each input image's own
pixel (x, y)**.

Examples
--------
>>> import torch
>>> from neuroattn.gaze.neva.clip import NevaClip
>>> torch.manual_seed(0)
<torch._C.Generator object at ...>
>>> encoder = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 5, stride=4), torch.nn.Flatten(),
...                               torch.nn.LazyLinear(16))
>>> words = {"cat": torch.randn(16), "dog": torch.randn(16)}
>>> clip = NevaClip(encoder, lambda caps: torch.stack([words[c] for c in caps]), image_size=32)
>>> result = clip.scanpaths(torch.rand(2, 3, 40, 60), ["cat", "dog"], n_fixations=3, steps=2)
>>> result.fixations.shape, result.image_sizes[0].tolist()
((2, 3, 2), [40, 60])
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from neuroattn._logging import logger
from neuroattn.device import autocast, resolve_device
from neuroattn.errors import FormatError, ParameterError
from neuroattn.gaze.neva.search import (
    CPU_CHUNK_BYTES,
    NeVAResult,
    Optimizer,
    Record,
    Restarts,
    neva_search,
)
from neuroattn.retina.foveation import Foveation, GaussianFoveation

__all__ = ["CLIP_MEAN", "CLIP_STD", "NevaClip", "as_image_batch", "image_list"]

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

ImageInput = torch.Tensor | np.ndarray | str | os.PathLike | Any


def _one_image(image: ImageInput) -> torch.Tensor:
    """One image → ``(3, H, W)`` float in [0, 1]."""
    if isinstance(image, (str, os.PathLike)):
        from PIL import Image

        path = Path(image)
        if not path.is_file():
            raise FileNotFoundError(f"image file {path} does not exist.")
        with Image.open(path) as handle:
            image = np.asarray(handle.convert("RGB"))
    elif not isinstance(image, (torch.Tensor, np.ndarray)):
        image = np.asarray(image.convert("RGB")) if hasattr(image, "convert") else image
    tensor = torch.as_tensor(np.asarray(image) if not isinstance(image, torch.Tensor) else image)
    if tensor.ndim == 3 and tensor.shape[-1] == 3 and tensor.shape[0] != 3:
        tensor = tensor.permute(2, 0, 1)  # H, W, 3 -> 3, H, W
    if tensor.ndim != 3 or tensor.shape[0] != 3:
        raise ParameterError(f"an image must be RGB, (3, H, W) or (H, W, 3); got shape "
                             f"{tuple(tensor.shape)}.")
    tensor = tensor.float() / 255.0 if tensor.dtype == torch.uint8 else tensor.float()
    if not torch.isfinite(tensor).all():
        raise ParameterError("an image contains NaN or infinite values.")
    if tensor.min() < 0 or tensor.max() > 1:
        raise ParameterError("float images must be in [0, 1]; got values in "
                             f"[{float(tensor.min()):.3g}"
                             f", {float(tensor.max()):.3g}] (pass uint8 for 0-255 images).")
    return tensor


def image_list(images: ImageInput | Sequence[ImageInput]) -> list[torch.Tensor]:
    """Images (a batch, one image, or a list of them) → list of ``(3, H, W)`` floats in [0, 1].

    Examples
    --------
    >>> import torch
    >>> [tuple(t.shape) for t in image_list(torch.zeros(2, 3, 5, 7, dtype=torch.uint8))]
    [(3, 5, 7), (3, 5, 7)]
    """
    if getattr(images, "ndim", 0) == 4:  # a numpy or torch batch
        items = list(images)
    elif isinstance(images, (list, tuple)):
        items = list(images)
    else:
        items = [images]
    if not items:
        raise ParameterError("no images were given.")
    return [_one_image(image) for image in items]


def as_image_batch(images: ImageInput | Sequence[ImageInput],
                   size: int) -> tuple[torch.Tensor, np.ndarray]:
    """Images (tensor, array, PIL image, path, or a list of them) → ``(B, 3, size, size)``.

    Returns the resized batch in ``[0, 1]`` and the original ``(height, width)``
    of each image.

    Examples
    --------
    >>> import numpy as np
    >>> batch, sizes = as_image_batch([np.zeros((30, 40, 3), np.uint8)], 16)
    >>> tuple(batch.shape), sizes.tolist()
    ((1, 3, 16, 16), [[30, 40]])
    """
    tensors = image_list(images)
    sizes = np.array([t.shape[1:] for t in tensors], dtype=np.int64)
    batch = torch.cat([
        F.interpolate(t[None], size=(size, size), mode="bilinear", antialias=True,
                      align_corners=False).clamp(0.0, 1.0)
        for t in tensors
    ])
    return batch, sizes


def _check_readable(path: Path, hint: str) -> None:
    """Fail early, with the fix, on a checkpoint torch cannot read as plain tensors."""
    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as handle:
                list(handle.keys())
        else:  # memory-mapped: cheap even for a 400 MB RN50 file
            torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as err:  # torch raises many kinds on a damaged or foreign file
        raise FormatError(
            f"{path} is not a readable state-dict checkpoint ({type(err).__name__}: {err}). "
            "It may be truncated or corrupt, or a TorchScript archive (OpenAI's original "
            f".pt files are; they cannot be loaded safely with weights_only). {hint}"
        ) from err


class NevaClip:
    """Caption-guided (or free-viewing) NeVA with any image–text embedding pair.

    Parameters
    ----------
    encode_image : callable
        ``(N, 3, S, S)`` normalised images → ``(N, D)`` embeddings; must be
        differentiable in its input.
    encode_text : callable, optional
        list of ``M`` captions → ``(M, D)`` embeddings. Needed unless every
        search is free viewing.
    image_size : int
        The model's input side ``S`` (224 for the CLIP models NevaClip uses).
    mean, std : tuple of float
        Normalisation of the model's inputs (default: CLIP's).
    foveation : Foveation, optional
        Default: the reference's Gaussian fovea, rescaled to ``image_size``.
    device : str or torch.device
        Where the search runs; the encoders must already live there.
    precision : str
        Autocast precision (``"auto"``: bf16 on CUDA, fp32 elsewhere).

    Examples
    --------
    See the module docstring; :meth:`from_open_clip` for CLIP checkpoints.
    """

    def __init__(self, encode_image: Callable[[torch.Tensor], torch.Tensor],
                 encode_text: Callable[[list[str]], torch.Tensor] | None = None, *,
                 image_size: int = 224, mean: Sequence[float] = CLIP_MEAN,
                 std: Sequence[float] = CLIP_STD, foveation: Foveation | None = None,
                 device: str | torch.device = "auto", precision: str = "auto") -> None:
        self.encode_image, self.encode_text = encode_image, encode_text
        self.image_size = int(image_size)
        self.device = resolve_device(device)
        self.precision = precision
        self.mean = torch.tensor(mean, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self.foveation = foveation or GaussianFoveation.for_image_size(self.image_size)

    @classmethod
    def from_open_clip(cls, model_name: str = "RN50", checkpoint: str | os.PathLike | None = None,
                       *, random_weights: bool = False, device: str | torch.device = "auto",
                       **kwargs: Any) -> NevaClip:
        """NevaClip on an open_clip architecture with weights from a local file.

        Parameters
        ----------
        model_name : str
            An open_clip architecture (``open_clip.list_models()``); NevaClip
            used ``"RN50"``.
        checkpoint : path, optional
            A local state-dict checkpoint (``.pt``, ``.bin`` or ``.safetensors``),
            e.g. ``open_clip_pytorch_model.bin`` of ``timm/resnet50_clip.openai``
            or a file saved with ``torch.save(model.state_dict(), path)``.
        random_weights : bool
            Allow running without a checkpoint, with random weights: for shape
            and speed tests only, the scanpaths mean nothing.
        **kwargs
            Passed to :class:`NevaClip`.

        Raises
        ------
        FileNotFoundError
            No checkpoint was given (and ``random_weights`` is False) or the file
            does not exist.
        ValueError
            The checkpoint is for another architecture.
        """
        try:
            import open_clip
        except ImportError as err:  # pragma: no cover - open_clip is in the test extra
            raise ImportError('NevaClip.from_open_clip needs open_clip: pip install '
                              '"neuroattn[clip]".') from err
        hint = (f"download the weights of {model_name!r} on a machine with internet (e.g. "
                f"open_clip.create_model({model_name!r}, pretrained='openai') and "
                "torch.save(model.state_dict(), 'clip.pt')), copy the file here and pass "
                "checkpoint='clip.pt'.")
        if checkpoint is None and not random_weights:
            raise FileNotFoundError(f"NevaClip needs CLIP weights and none were given: {hint} "
                                    "(random_weights=True builds the architecture for shape "
                                    "tests only.)")
        if checkpoint is not None and not Path(checkpoint).is_file():
            raise FileNotFoundError(f"CLIP checkpoint {checkpoint} does not exist: {hint}")
        if model_name not in open_clip.list_models():
            raise ParameterError(f"{model_name!r} is not an open_clip architecture; see "
                                 "open_clip.list_models().")
        dev = resolve_device(device)
        model = open_clip.create_model(model_name, pretrained=None)
        if checkpoint is None:
            logger.warning("NevaClip %s runs with RANDOM weights: shapes only, no semantics.",
                           model_name)
        else:
            _check_readable(Path(checkpoint), hint)
            try:
                open_clip.load_checkpoint(model, str(checkpoint), weights_only=True)
            except (RuntimeError, AssertionError, KeyError, ValueError) as err:
                # open_clip reports shape mismatches from load_state_dict (RuntimeError)
                # or from its state-dict converters (AssertionError, KeyError).
                first = (str(err).splitlines() or [type(err).__name__])[0]
                raise ParameterError(f"checkpoint {checkpoint} does not fit open_clip model "
                                     f"{model_name!r} ({first}); pass the model_name it was "
                                     "trained as.") from err
        model = model.to(dev).eval().requires_grad_(False)
        tokenizer = open_clip.get_tokenizer(model_name)
        cfg = getattr(model.visual, "preprocess_cfg", {}) or {}
        size = model.visual.image_size
        size = int(size[0] if isinstance(size, (tuple, list)) else size)

        def encode_text(captions: list[str]) -> torch.Tensor:
            return model.encode_text(tokenizer(captions).to(dev))

        return cls(model.encode_image, encode_text, image_size=size,
                   mean=cfg.get("mean", CLIP_MEAN), std=cfg.get("std", CLIP_STD), device=dev,
                   **kwargs)

    def _normalise(self, images: torch.Tensor) -> torch.Tensor:
        return (images - self.mean.to(images.dtype)) / self.std.to(images.dtype)

    def _targets(self, batch: torch.Tensor, captions: str | Sequence[str] | None) -> torch.Tensor:
        with torch.no_grad(), autocast(self.device, self.precision):
            if captions is None:
                targets = self.encode_image(self._normalise(batch))
            else:
                if self.encode_text is None:
                    raise ParameterError("captions were given but this NevaClip has no "
                                         "encode_text; pass one, or captions=None for free "
                                         "viewing.")
                texts = [captions] * len(batch) if isinstance(captions, str) else list(captions)
                if len(texts) != len(batch):
                    raise ParameterError(f"{len(texts)} captions for {len(batch)} images; give one "
                                         "caption per image, or one for all.")
                targets = self.encode_text(texts)
        return targets.float()

    def scanpaths(
        self,
        images: ImageInput | Sequence[ImageInput],
        captions: str | Sequence[str] | None = None,
        *,
        n_fixations: int = 10,
        steps: int = 20,
        lr: float = 0.1,
        forgetting: float = 0.0,
        restarts: Restarts = "random",
        record: Record = "evaluated",
        n_starts: int = 1,
        optimizer: Optimizer = "sign",
        stop_below: float | None = None,
        bounded: bool = True,
        seed: int | Sequence[int] = 0,
        batch_size: int | None = 32,
        chunk_bytes: int | None = CPU_CHUNK_BYTES,
        foveation: Foveation | None = None,
        progress: bool | None = None,
    ) -> NeVAResult:
        """Scanpaths of ``images`` described by ``captions`` (None: free viewing).

        The defaults are NevaClip's (10 fixations, 20 signed-gradient steps of
        0.1, random restarts, no memory of earlier fixations). One image with
        several captions is searched once per caption, in parallel.

        Parameters
        ----------
        images : tensor, array, PIL image, path, or a list of them
            RGB, ``uint8`` (0–255) or float in ``[0, 1]``; any size.
        captions : str or list of str, optional
            One caption per image or one for all; None for free viewing.
        n_fixations, steps, lr, forgetting, restarts, record, n_starts, optimizer, stop_below
            As in :func:`~neuroattn.gaze.neva.neva_search`.
        bounded, seed
            As in :func:`~neuroattn.gaze.neva.neva_search`; ``record="after_step",
            bounded=False`` is the reference's bookkeeping.
        batch_size : int, optional
            The most images searched at once.
        chunk_bytes : int, optional
            On the CPU, fewer at once where needed to stay cache-sized (as in
            :func:`~neuroattn.gaze.neva.neva_search`; None: ``batch_size``).
        foveation : Foveation, optional
            Acuity model for this search (default: the one given at construction).
        progress : bool, optional
            Progress bar over fixations.

        Returns
        -------
        NeVAResult
            Fixations in each input image's pixel ``(x, y)``.
        """
        batch, sizes = as_image_batch(images, self.image_size)
        if captions is not None and not isinstance(captions, str) and len(batch) == 1:
            batch = batch.expand(len(captions), -1, -1, -1)
            sizes = np.repeat(sizes, len(captions), axis=0)
        batch = batch.to(self.device)
        targets = self._targets(batch, captions)

        def objective(foveated: torch.Tensor, item: torch.Tensor) -> torch.Tensor:
            embedding = self.encode_image(self._normalise(foveated)).float()
            return 1.0 - F.cosine_similarity(embedding, targets[item], dim=-1)

        result = neva_search(objective, batch, foveation=foveation or self.foveation,
                             n_fixations=n_fixations, steps=steps, lr=lr, optimizer=optimizer,
                             restarts=restarts, record=record, n_starts=n_starts,
                             forgetting=forgetting, stop_below=stop_below, bounded=bounded,
                             seed=seed, batch_size=batch_size, chunk_bytes=chunk_bytes,
                             device=self.device,
                             precision=self.precision, progress=progress)
        scale = (sizes[:, None, ::-1] - 1) / (self.image_size - 1)   # (x, y) per image
        return NeVAResult(fixations=result.fixations * scale, losses=result.losses,
                          lengths=result.lengths, image_sizes=sizes)
