"""Feature maps ``("stimulus", "y", "x", "feature")`` from frozen image models.

:class:`FeatureExtractor` runs images through a frozen network (eval mode,
inference mode, autocast) and records the outputs of named submodules with
forward hooks. Every output becomes a channels-last map:

* conv outputs ``(B, C, H, W)`` → ``(B, H, W, C)``;
* token outputs ``(B, T, D)`` (batch-first; sequence-first ``(T, B, D)``
  is recognised when ``T != B``) → the CLS/register prefix tokens are
  dropped and the patch tokens reshaped row by row to their grid
  ``(B, h, w, D)`` (square for square images);
* vectors ``(B, D)`` → ``(B, 1, 1, D)``.

Layers are named as in ``model.named_modules()``, with options after a colon:

``"blocks.11.attn.qkv:q"`` (also ``:k``, ``:v``)
    The query (key, value) projection. On a module whose output packs
    ``[q; k; v]`` in its last dimension (a fused ``qkv`` Linear, as in
    DINOv2 and timm) this is the first (second, third) third of it, i.e.
    ``x @ W_q.T + b_q`` on the block's normed input, ``heads x head_dim``
    features. On an :class:`torch.nn.MultiheadAttention` (torchvision and
    open_clip ViTs) it is computed from the module's ``query`` input and its
    ``in_proj`` weights. This is the **query-projection trick** of the
    transformer brain encoder (``dinov2_q``): the queries of the last block
    of DINOv2 ViT-B/14 predict fMRI responses better than its block outputs.
``"encoder.layers.encoder_layer_11:cls"``
    Only the CLS token (the first token), as a ``(B, 1, 1, D)`` map. It
    combines with the projections (``"blocks.11.attn.qkv:q:cls"``).

Images are NumPy ``(B, H, W, 3)`` or torch ``(B, 3, H, W)`` batches (uint8,
or floats in [0, 1]), or a sequence of single images or image files. The
backbone's transform (normalisation, resizing, padding) is applied on the
device.

Examples
--------
>>> import numpy as np, torch
>>> from neuroattn.encoding.features import FeatureExtractor
>>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, stride=2), torch.nn.ReLU())
>>> fx = FeatureExtractor(net, "0", device="cpu")
>>> fx(np.zeros((2, 17, 17, 3), np.uint8))["0"].shape
(2, 8, 8, 4)
"""

from __future__ import annotations

import difflib
import math
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from neuroattn._docs import fill_doc
from neuroattn._logging import Verbose, logger
from neuroattn.device import autocast, resolve_device
from neuroattn.encoding.backbones import Backbone
from neuroattn.errors import ParameterError

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["FeatureExtractor"]

_PARTS = {"q": 0, "k": 1, "v": 2}
_PRECISIONS = {"auto", "32", "fp32", "float32", "bf16", "bf16-mixed", "16", "16-mixed", "fp16"}
ModelSource = nn.Module | Backbone | Callable[[], "nn.Module | Backbone"]


@dataclass(frozen=True)
class _Spec:
    """One requested output: a module and what to take from it."""

    key: str
    module: str
    part: int | None = None  # 0, 1, 2: the q, k or v projection
    cls: bool = False

    @classmethod
    def parse(cls, text: str) -> _Spec:
        if not isinstance(text, str) or not text.split(":")[0]:
            raise ParameterError(f"Layer {text!r} is not a module name such as 'layer4' or "
                                 "'blocks.11.attn.qkv:q'.")
        name, *ops = text.split(":")
        part, want_cls = None, False
        for op in ops:
            if op in _PARTS and part is None:
                part = _PARTS[op]
            elif op == "cls" and not want_cls:
                want_cls = True
            else:
                raise ParameterError(f"Layer option {op!r} in {text!r} is not understood; use one "
                                     "of ':q', ':k', ':v' (attention projections) and/or ':cls'.")
        return cls(text, name, part, want_cls)


class _StopForward(Exception):
    """Raised by the last hook: the rest of the network is not needed."""


class _Recorder:
    """Forward hooks that keep the first output (and attention inputs) of each module."""

    def __init__(self, names: Sequence[str], keep_inputs: set[str], stop_early: bool) -> None:
        self.names = list(dict.fromkeys(names))
        self.keep_inputs = keep_inputs
        self.stop_early = stop_early
        self.out: dict[str, tuple[Any, Any, Any]] = {}

    def hook(self, name: str) -> Callable:
        def fn(module: nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
            if name in self.out:
                raise RuntimeError(
                    f"Module {name!r} ran more than once in one forward pass (weights shared "
                    "or recurrent); hook a module that runs once per image.")
            keep = name in self.keep_inputs
            self.out[name] = (args if keep else (), kwargs if keep else {}, output)
            if self.stop_early and len(self.out) == len(self.names):
                raise _StopForward

        return fn


def _close_matches(name: str, names: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
    if close:
        return f"did you mean {close}?"
    top = [n for n in names if n and "." not in n]
    return f"top-level modules are {top[:20]}."


def _infer_prefix(model: nn.Module) -> int | None:
    """CLS + register tokens of a ViT, from the attributes ViT implementations use."""
    n = getattr(model, "num_prefix_tokens", None)
    if isinstance(n, int):
        return n
    if not any(getattr(model, a, None) is not None
               for a in ("class_token", "cls_token", "class_embedding")):
        return None
    reg = getattr(model, "register_tokens", None)
    return 1 + (int(reg.shape[-2]) if isinstance(reg, torch.Tensor) and reg.ndim >= 2 else 0)


def _grid(n: int, hw: tuple[int, int]) -> tuple[int, int] | None:
    """The ``(h, w)`` patch grid of ``n`` tokens for an image of size ``hw``, if any."""
    if n < 1:
        return None
    stride = math.sqrt(hw[0] * hw[1] / n)
    h, w = max(1, round(hw[0] / stride)), max(1, round(hw[1] / stride))
    return (h, w) if h * w == n else None


def _writable(a: np.ndarray) -> np.ndarray:
    """A contiguous array torch can wrap without warning (copies read-only views)."""
    a = np.ascontiguousarray(a)
    return a if a.flags.writeable else a.copy()


def _read_image(item: Any) -> torch.Tensor:
    """One image as a ``(3, H, W)`` tensor (uint8 or float)."""
    if isinstance(item, str | os.PathLike):
        from PIL import Image

        path = Path(item)
        if not path.is_file():
            raise FileNotFoundError(f"Image file {path} does not exist.")
        with Image.open(path) as img:
            item = np.array(img.convert("RGB"))
    if isinstance(item, torch.Tensor):
        t = item
        if t.ndim == 3 and t.shape[0] != 3 and t.shape[-1] == 3:
            raise ParameterError(f"A torch image must be (3, H, W); got {tuple(t.shape)}: pass "
                                 "img.permute(2, 0, 1).")
    else:
        a = np.asarray(item)
        if a.ndim == 3 and a.shape[-1] != 3 and a.shape[0] == 3:
            raise ParameterError(f"A NumPy image must be (H, W, 3); got {a.shape}: pass "
                                 "img.transpose(1, 2, 0).")
        t = torch.from_numpy(_writable(a)).permute(2, 0, 1) if a.ndim == 3 else None
    if t is None or t.ndim != 3 or t.shape[0] != 3:
        raise ParameterError("Each image must be RGB: (H, W, 3) for NumPy/PIL, (3, H, W) for "
                             "torch; convert grayscale with np.repeat(img[..., None], 3, -1).")
    return t


def _to_float(t: torch.Tensor, what: str) -> torch.Tensor:
    if t.dtype == torch.uint8:
        return t.float() / 255.0
    if not t.is_floating_point():
        raise ParameterError(f"{what} have dtype {t.dtype}; use uint8 (0-255) or floats in [0, 1].")
    return t.float()


def _as_batch(images: Any) -> torch.Tensor | list[torch.Tensor]:
    """A float batch ``(B, 3, H, W)`` in [0, 1], or a list of ``(1, 3, H, W)`` of unequal sizes."""
    if isinstance(images, list | tuple):
        if not images:
            raise ParameterError("No images were given.")
        items = [_to_float(_read_image(x), "images")[None] for x in images]
        if len({tuple(x.shape) for x in items}) == 1:
            return torch.cat(items)
        return items
    if isinstance(images, torch.Tensor):
        t = images
        if t.ndim == 4 and t.shape[1] != 3 and t.shape[-1] == 3:
            raise ParameterError(f"Torch images must be (B, 3, H, W); got {tuple(t.shape)}: pass "
                                 "images.permute(0, 3, 1, 2).")
    else:
        a = np.asarray(images)
        if a.ndim == 4 and a.shape[-1] != 3 and a.shape[1] == 3:
            raise ParameterError("NumPy images must be (B, H, W, 3) (channels last); got "
                                 f"{a.shape}: "
                                 "pass images.transpose(0, 2, 3, 1), or a torch tensor.")
        if a.ndim == 3 and a.shape[-1] == 3:
            raise ParameterError(f"Got one image of shape {a.shape}; pass a batch, images[None].")
        t = torch.from_numpy(_writable(a)).permute(0, 3, 1, 2) if a.ndim == 4 else None
    if t is None or t.ndim != 4 or t.shape[1] != 3:
        shape = tuple(getattr(images, "shape", ()))
        raise ParameterError(f"Images must be a batch of RGB images, NumPy (B, H, W, 3) or torch "
                             f"(B, 3, H, W); got shape {shape}.")
    if t.shape[0] == 0:
        raise ParameterError("No images were given (batch of size 0).")
    return _to_float(t, "images")


def _check_images(batch: torch.Tensor | list[torch.Tensor], offset: int = 0) -> None:
    items = batch if isinstance(batch, list) else [batch]
    start = offset
    for x in items:
        bad = ~torch.isfinite(x.flatten(1)).all(dim=1)
        if bad.any():
            raise ParameterError(f"Image {start + int(bad.nonzero()[0])} holds NaN or Inf pixel "
                                 "values; fix or drop it.")
        if float(x.max()) > 1.5:
            logger.warning("float images with values up to %.3g: FeatureExtractor expects "
                           "floats in [0, 1] (or uint8 0-255); divide by 255.", float(x.max()))
        start += x.shape[0]


class FeatureExtractor:
    """Feature maps of named layers of a frozen image model.

    Parameters
    ----------
    model : nn.Module, Backbone or callable
        The network; a :class:`~neuroattn.encoding.backbones.Backbone` from
        :func:`~neuroattn.encoding.backbones.torchvision_backbone`,
        :func:`~neuroattn.encoding.backbones.open_clip_backbone` or
        :func:`~neuroattn.encoding.backbones.dinov2_backbone` (brings default
        layers, transform and prefix tokens); or a picklable zero-argument
        callable returning either. The model is set to eval mode without
        gradients, and moved to ``device`` on first use.
    layers : str or sequence of str, optional
        Layers to record (syntax in the module docstring); default: the
        backbone's.
    transform : callable, None or "auto"
        Applied to the float batch ``(B, 3, H, W)`` in [0, 1] on the device.
        ``"auto"``: the backbone's transform, or none for a bare module.
    device : str or torch.device
        ``"auto"`` picks CUDA, then MPS, then CPU (resolved on first use, in
        the process that runs the model).
    batch_size : int
        Images per forward pass, and per task with a dask client.
    precision : str
        ``"auto"`` (bf16 autocast on CUDA, fp32 elsewhere), ``"32"``,
        ``"bf16"`` or ``"16"``. Features are returned as float32.
    prefix_tokens : int, optional
        Tokens before the patch grid in token outputs (CLS + registers);
        default: the backbone's, else read off the model (``num_prefix_tokens``,
        ``class_token``/``cls_token``/``class_embedding``, ``register_tokens``),
        else guessed from the token count (0 or 1).
    stop_early : bool
        Stop the forward pass once every layer is recorded (saves the rest).

    Raises
    ------
    ValueError
        A layer that does not exist (with close matches) or bad options.

    Notes
    -----
    Pickling (e.g. sending the extractor to dask workers) sends the backbone's
    recipe when it has one (the weights are re-read from the same path on
    the worker), a callable as is, and a bare module with its weights. Each
    worker builds its model once and reuses it.

    Examples
    --------
    >>> import numpy as np
    >>> from torchvision.models import VisionTransformer
    >>> vit = VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2,
    ...                         hidden_dim=16, mlp_dim=32)
    >>> fx = FeatureExtractor(vit, ["encoder.layers.encoder_layer_1",
    ...                             "encoder.layers.encoder_layer_1.self_attention:q"])
    >>> [v.shape for v in fx(np.zeros((3, 32, 32, 3), np.uint8)).values()]  # block, query
    [(3, 4, 4, 16), (3, 4, 4, 16)]
    """

    def __init__(
        self,
        model: ModelSource,
        layers: str | Sequence[str] | None = None,
        *,
        transform: Callable[[torch.Tensor], torch.Tensor] | None | Literal["auto"] = "auto",
        device: str | torch.device = "auto",
        batch_size: int = 32,
        precision: str = "auto",
        prefix_tokens: int | None = None,
        stop_early: bool = True,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ParameterError(f"batch_size={batch_size!r} must be a positive integer.")
        if prefix_tokens is not None and (not isinstance(prefix_tokens, int) or prefix_tokens < 0):
            raise ParameterError(f"prefix_tokens={prefix_tokens!r} must be a non-negative integer.")
        if precision not in _PRECISIONS:
            raise ParameterError(f"precision={precision!r} is unknown; use 'auto', '32', 'bf16' or "
                                 "'16'.")
        self._source = model
        self._layers_arg = layers
        self._transform_arg = transform
        self._device_arg = device
        self.batch_size = batch_size
        self.precision = precision
        self._prefix_arg = prefix_tokens
        self.stop_early = stop_early
        self._build()

    # ------------------------------------------------------------------ setup

    def _build(self) -> None:
        source = self._source
        if not isinstance(source, nn.Module | Backbone):
            if not callable(source):
                raise TypeError(f"model must be an nn.Module, a Backbone or a callable returning "
                                f"one; got {type(source).__name__}.")
            source = source()
            if not isinstance(source, nn.Module | Backbone):
                raise TypeError(f"The model factory returned a {type(source).__name__}, not an "
                                "nn.Module or Backbone.")
        backbone = source if isinstance(source, Backbone) else None
        self.model: nn.Module = backbone.model if backbone else source
        self.model.eval().requires_grad_(False)
        layers = self._layers_arg
        if layers is None:
            layers = backbone.layers if backbone else ()
        layers = (layers,) if isinstance(layers, str) else tuple(layers)
        if not layers:
            raise ParameterError("No layers given; pass layers=['name', ...] (names from "
                                 "model.named_modules()).")
        if len(set(layers)) != len(layers):
            raise ParameterError(f"Layers {list(layers)} contain duplicates.")
        self.specs = [_Spec.parse(name) for name in layers]
        modules = dict(self.model.named_modules())
        for spec in self.specs:
            if spec.module not in modules:
                raise ParameterError(f"{type(self.model).__name__} has no submodule "
                                     f"{spec.module!r}; "
                                     f"{_close_matches(spec.module, list(modules))}")
        self._modules = {s.module: modules[s.module] for s in self.specs}
        tf = self._transform_arg
        if isinstance(tf, str):
            if tf != "auto":
                raise ParameterError(f"transform={tf!r}; pass a callable, None or 'auto'.")
            tf = backbone.transform if backbone else None
        elif tf is not None and not callable(tf):
            raise TypeError(f"transform must be callable; got {type(tf).__name__}.")
        self.transform = tf
        if self._prefix_arg is not None:
            self.prefix_tokens = self._prefix_arg
        elif backbone is not None and backbone.prefix_tokens is not None:
            self.prefix_tokens = backbone.prefix_tokens
        else:
            self.prefix_tokens = _infer_prefix(self.model)
        self.name = backbone.name if backbone else type(self.model).__name__
        self._device: torch.device | None = None
        self._lock = threading.Lock()

    @property
    def layers(self) -> list[str]:
        """The recorded layers, in the order given."""
        return [s.key for s in self.specs]

    @property
    def device(self) -> torch.device:
        """The device the model runs on (resolved on first use)."""
        if self._device is None:
            self._device = resolve_device(self._device_arg)
            self.model.to(self._device)
            logger.debug("feature extractor %s on %s", self.name, self._device)
        return self._device

    def __getstate__(self) -> dict[str, Any]:
        keep = ("_source", "_layers_arg", "_transform_arg", "_device_arg", "batch_size",
                "precision", "_prefix_arg", "stop_early")
        return {k: self.__dict__[k] for k in keep}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._build()

    def __repr__(self) -> str:
        return f"FeatureExtractor({self.name}, layers={self.layers})"

    # ------------------------------------------------------------------ extraction

    def __call__(self, images: Any) -> dict[str, np.ndarray]:
        """Same as :meth:`extract`."""
        return self.extract(images)

    def extract(self, images: Any, layers: Sequence[str] | None = None
                ) -> dict[str, np.ndarray]:
        """Feature maps of every layer (or of ``layers``) for a batch of images.

        Parameters
        ----------
        images : array-like, tensor or sequence
            NumPy ``(B, H, W, 3)``, torch ``(B, 3, H, W)`` (uint8, or floats
            in [0, 1]), or a list of images / image file paths (of any sizes
            if the transform makes them equal). Processed ``batch_size`` at a
            time.
        layers : sequence of str, optional
            A subset of :attr:`layers` to return (default: all of them).

        Returns
        -------
        dict of str to numpy.ndarray
            ``layer -> (B, y, x, feature)`` float32 arrays.

        Raises
        ------
        ValueError
            Images with NaN/Inf or the wrong layout; token outputs that do
            not form a patch grid.

        Examples
        --------
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 5))
        >>> FeatureExtractor(net, "1").extract(torch.zeros(2, 3, 2, 2))["1"].shape
        (2, 1, 1, 5)
        """
        if layers is None:
            return self._extract(images, self.layers)
        unknown = [k for k in layers if k not in self.layers]
        if unknown:
            raise ParameterError(f"layers {unknown} are not recorded by this extractor (it "
                                 f"records {self.layers}); pass a subset of those.")
        return self._extract(images, list(layers))

    def _extract(self, images: Any, keys: Sequence[str]) -> dict[str, np.ndarray]:
        batch = _as_batch(images)
        _check_images(batch)
        n = len(batch) if isinstance(batch, list) else batch.shape[0]
        parts: dict[str, list[np.ndarray]] = {k: [] for k in keys}
        for start in range(0, n, self.batch_size):
            out = self._forward(batch[start:start + self.batch_size], keys)
            for k in keys:
                parts[k].append(out[k])
        return {k: v[0] if len(v) == 1 else np.concatenate(v) for k, v in parts.items()}

    def _prepare(self, batch: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
        dev = self.device
        items = batch if isinstance(batch, list) else [batch]
        tf = self.transform
        out = [tf(x.to(dev)) if tf is not None else x.to(dev) for x in items]
        shapes = {tuple(x.shape[1:]) for x in out}
        if len(shapes) > 1:
            raise ParameterError(f"The images have different sizes after the transform "
                                 f"{sorted(shapes)}; use a transform that resizes them "
                                 "(e.g. ImageTransform(size=224)).")
        return out[0] if len(out) == 1 else torch.cat(out)

    def _forward(self, batch: torch.Tensor | list[torch.Tensor],
                 keys: Sequence[str]) -> dict[str, np.ndarray]:
        specs = [s for s in self.specs if s.key in keys]
        x = self._prepare(batch)
        names = [s.module for s in specs]
        keep = {s.module for s in specs
                if s.part is not None and isinstance(self._modules[s.module],
                                                     nn.MultiheadAttention)}
        recorder = _Recorder(names, keep, self.stop_early)
        with self._lock:
            handles = [self._modules[name].register_forward_hook(recorder.hook(name),
                                                                 with_kwargs=True)
                       for name in recorder.names]
            try:
                with torch.inference_mode(), autocast(self.device, self.precision):
                    try:
                        self.model(x)
                    except _StopForward:
                        pass
            finally:
                for h in handles:
                    h.remove()
        missing = [n for n in recorder.names if n not in recorder.out]
        if missing:
            raise RuntimeError(f"Layer(s) {missing} did not run in the forward pass of "
                               f"{type(self.model).__name__}; pick modules on the forward path.")
        with torch.inference_mode():
            return {s.key: self._postprocess(s, recorder.out[s.module], x)
                    for s in specs}

    def _postprocess(self, spec: _Spec, record: tuple, x: torch.Tensor) -> np.ndarray:
        args, kwargs, out = record
        module = self._modules[spec.module]
        if isinstance(out, tuple | list):  # e.g. MultiheadAttention: (output, weights)
            out = out[0]
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"Layer {spec.key!r} returned a {type(out).__name__}, not a tensor.")
        b = x.shape[0]
        if spec.part is not None:
            if isinstance(module, nn.MultiheadAttention):
                out = _mha_projection(module, args, kwargs, spec.part)
            else:
                if out.shape[-1] % 3:
                    raise ParameterError(
                        f"Layer {spec.key!r}: ':q/:k/:v' needs an output whose last dimension "
                        f"packs [q; k; v] (a multiple of 3), or an nn.MultiheadAttention; got "
                        f"shape {tuple(out.shape)}. Hook the attention's qkv projection.")
                out = out.chunk(3, dim=-1)[spec.part]
        out = out.float()
        if out.ndim == 4:
            if spec.cls:
                raise ParameterError(f"Layer {spec.key!r}: ':cls' applies to token outputs "
                                     f"(B, T, D), not to a conv map {tuple(out.shape)}.")
            grid = out.permute(0, 2, 3, 1)
        elif out.ndim == 3:
            grid = self._tokens_to_grid(spec, out, b, tuple(x.shape[-2:]))
        elif out.ndim == 2:
            grid = out[:, None, None, :]
        else:
            raise ParameterError(f"Layer {spec.key!r} gives shape {tuple(out.shape)}; expected "
                                 "(B, C, H, W), (B, T, D) or (B, D).")
        if grid.shape[0] != b:
            raise ParameterError(f"Layer {spec.key!r} gives {grid.shape[0]} rows for {b} images.")
        return grid.contiguous().cpu().numpy()

    def _tokens_to_grid(self, spec: _Spec, tokens: torch.Tensor, b: int,
                        hw: tuple[int, int]) -> torch.Tensor:
        if tokens.shape[0] != b and tokens.shape[1] == b:  # sequence-first (T, B, D)
            tokens = tokens.transpose(0, 1)
        total = tokens.shape[1]
        if spec.cls:
            if self.prefix_tokens == 0:
                raise ParameterError(f"Layer {spec.key!r}: ':cls' but the model has no CLS token "
                                     "(prefix_tokens=0).")
            return tokens[:, :1, None, :]
        candidates = [self.prefix_tokens] if self.prefix_tokens is not None else [0, 1]
        for prefix in candidates:
            grid = _grid(total - prefix, hw)
            if grid is not None:
                return tokens[:, prefix:].reshape(b, *grid, tokens.shape[-1])
        prefix_txt = (f"after dropping {self.prefix_tokens} CLS/register token(s)"
                      if self.prefix_tokens is not None else "with 0 or 1 prefix tokens")
        raise ParameterError(
            f"Layer {spec.key!r} gives {total} tokens, which {prefix_txt} do not form a patch "
            f"grid for a {hw[0]}x{hw[1]} input (a square image needs a square number of patch "
            "tokens). Pass prefix_tokens= if the model has register or distillation tokens.")

    # ------------------------------------------------------------------ stores

    @fill_doc
    def to_store(
        self,
        images: Any,
        path: str | os.PathLike | Mapping[str, str | os.PathLike],
        *,
        layer: str | None = None,
        stimulus: Sequence | np.ndarray | None = None,
        overwrite: bool = False,
        client: Client | None = None,
        dtype: str = "float32",
        chunk_mb: float = 8.0,
        verbose: Verbose = None,
    ) -> Path | dict[str, Path]:
        """Extract features of a whole stimulus set into ``features`` store(s), batch by batch.

        Never holds more than one batch of images and features in memory:
        each batch is extracted, checked for NaN/Inf and written into its
        region of a zarr v3 store with the ``("stimulus", "y", "x",
        "feature")`` schema of :mod:`neuroattn.store`. Stores are written
        under a hidden temporary name and renamed into place when complete.

        Parameters
        ----------
        images : array-like or sequence
            Anything with ``len()`` whose slices ``images[i:j]`` are image
            batches (see :meth:`extract`): a NumPy/zarr/HDF5 array
            ``(N, H, W, 3)``, a torch tensor ``(N, 3, H, W)``, or a list of
            image files (read in the batch that needs them).
        path : path-like or mapping
            The store; or ``{layer: path}`` to write several layers in one pass.
        layer : str, optional
            The layer to store when the extractor records several and ``path``
            is a single path.
        stimulus : sequence, optional
            Unique stimulus ids (default ``0 .. N-1``).
        overwrite : bool
            Replace existing stores (only once the new ones are complete).
        client : distributed.Client, optional
            Extract the batches in parallel on a dask cluster (see
            :func:`neuroattn.store.distributed.client`). The extractor is sent to
            each worker once and builds its own model there (a backbone from a
            checkpoint re-reads it: the file must be readable on the workers);
            workers write their batches into the store themselves, so ``path``
            must be on a file system they share. ``images`` are sent once;
            prefer file paths or a zarr array for large sets. Use one worker
            per GPU.
        dtype : str
            Stored float dtype (``"float32"``, or ``"float16"`` to halve disk).
        chunk_mb : float
            Target chunk size; a chunk holds whole stimuli, and a whole number
            of chunks fits in one batch (so parallel writes never share a chunk).
        %(verbose)s

        Returns
        -------
        pathlib.Path or dict of str to pathlib.Path
            The store, or ``{layer: store}`` when ``path`` is a mapping.

        Raises
        ------
        FileExistsError
            A store exists and ``overwrite`` is False.
        neuroattn.store.NonFiniteError
            A layer gives NaN/Inf features (naming the stimulus).

        Examples
        --------
        >>> import tempfile, numpy as np, torch
        >>> from neuroattn.store import open_store
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 5, stride=4))
        >>> fx = FeatureExtractor(net, "0", batch_size=2)
        >>> images = np.random.default_rng(0).integers(0, 256, (5, 16, 16, 3), dtype=np.uint8)
        >>> path = fx.to_store(images, tempfile.mkdtemp() + "/feats.zarr")
        >>> ds = open_store(path, kind="features")
        >>> ds.features.shape, ds.attrs["source"]
        ((5, 3, 3, 4), 'Sequential:0')
        """
        from neuroattn.encoding._feature_store import extract_to_store

        return extract_to_store(self, images, path, layer=layer, stimulus=stimulus,
                                overwrite=overwrite, client=client, dtype=dtype,
                                chunk_mb=chunk_mb, verbose=verbose)


def _mha_projection(m: nn.MultiheadAttention, args: tuple, kwargs: dict,
                    part: int) -> torch.Tensor:
    """``x @ W.T + b`` for the q (0), k (1) or v (2) input of a MultiheadAttention, batch-first."""
    name = ("query", "key", "value")[part]
    x = args[part] if len(args) > part else kwargs.get(name)
    if x is None:
        raise RuntimeError(f"Could not find the {name!r} input of the MultiheadAttention.")
    if not m.batch_first and x.ndim == 3:
        x = x.transpose(0, 1)
    if m.in_proj_weight is not None:
        weight = m.in_proj_weight.chunk(3)[part]
    else:
        weight = (m.q_proj_weight, m.k_proj_weight, m.v_proj_weight)[part]
    bias = None if m.in_proj_bias is None else m.in_proj_bias.chunk(3)[part]
    return F.linear(x.float(), weight.float(), None if bias is None else bias.float())
