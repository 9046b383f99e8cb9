"""Perception for the tensor brain: a CNN with RoI-aligned boxes feeds the decoding program.

:class:`SceneEncoder` is the sensory buffer (reference §1.5). A small CNN maps the image to a
feature map; :func:`torchvision.ops.roi_align` pools the whole image (the scene / time
window), the subject box, the object box and their union box (the predicate window) to
``r × r`` grids; one shared projection ``D`` (an MLP, as the code's ``Linear–ReLU–Linear``)
maps each pooled grid, concatenated with the normalised box geometry of its window, to the
sensory input ``f_X ∈ R^d``. The geometry channel stands in for the reference's crop
padding: the union crop alone does not say which of two objects is the subject.

:class:`TensorBrainPerception` joins the encoder, a
:class:`~neuroattn.semantic.concepts.ConceptBank`, the
:class:`~neuroattn.semantic.decoder.TensorBrainDecoder` (time → subject (+labels) → object
(+labels) → predicate by default) and learned episodic and semantic memories, so that
perception, episodic recall and semantic recall share one index layer and one context
recurrence, and train end to end (:func:`neuroattn.semantic.scene_training.fit_tensor_brain`).

Examples
--------
>>> import torch
>>> groups = {"time": 3, "entity": 4, "colour": 2, "predicate": 3}
>>> model = TensorBrainPerception(groups, labels=("colour",), dim=16, seed=0)
>>> images = torch.rand(2, 3, 32, 32)
>>> boxes = torch.tensor([[[2., 2., 10., 10.], [20., 20., 30., 30.]]]).repeat(3, 1, 1)
>>> out = model.perceive(images, boxes, image_index=torch.tensor([0, 1, 1]))
>>> out.probs["subject.colour"].shape, out.indices["predicate"].shape
(torch.Size([3, 2]), torch.Size([3]))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import nn
from torchvision.ops import roi_align

from neuroattn.errors import ParameterError
from neuroattn.nn.pretrained import PretrainedMixin
from neuroattn.semantic.concepts import BiasMode, ConceptBank, Nonlinearity
from neuroattn.semantic.decoder import (
    ContextForm,
    DecodeMode,
    Decoding,
    DecodingProgram,
    TensorBrainDecoder,
)
from neuroattn.semantic.memory import EpisodicMemory, SemanticMemory

if TYPE_CHECKING:
    from neuroattn.semantic.world import SceneWorld

__all__ = ["SceneEncoder", "TensorBrainPerception"]

_GEOMETRY = 8  # two normalised boxes per window
WINDOWS = ("time", "subject", "object", "predicate")


class SceneEncoder(nn.Module):
    """CNN feature map, RoI-aligned window features, shared projection ``D`` to ``R^d``.

    Parameters
    ----------
    dim : int
        Size ``d`` of the representation layer.
    channels : sequence of int
        Output channels of the conv layers (3 × 3, batch norm, ReLU); the first has stride
        2, so the map is at half the image resolution.
    roi_size : int
        Side ``r`` of each RoI-aligned grid.
    hidden : int
        Hidden width of ``D``.
    geometry : bool
        Concatenate the window's normalised boxes to its pooled features (default ``True``).
    shared_projection : bool
        One ``D`` for all four windows (the code's, on 25,088-d VGG features), or one per
        window (default ``False``: with a small ``D`` the entity and label heads, which
        dominate the loss, otherwise crowd out the predicate's geometry; measured on the CI
        world, predicate Hits@1 0.48 shared against 0.9+ per window).

    Examples
    --------
    >>> import torch
    >>> enc = SceneEncoder(dim=8)
    >>> f = enc(torch.rand(1, 3, 32, 32), torch.tensor([[[0., 0., 8., 8.], [16., 16., 30., 30.]]]))
    >>> sorted(f), f["predicate"].shape
    (['object', 'predicate', 'subject', 'time'], torch.Size([1, 8]))
    """

    stride = 2

    def __init__(self, dim: int, *, channels: Sequence[int] = (32, 32, 32),
                 roi_size: int = 4, hidden: int = 256, geometry: bool = True,
                 shared_projection: bool = False) -> None:
        super().__init__()
        if len(channels) < 2:
            raise ParameterError(f"channels needs at least two conv layers, got {tuple(channels)}")
        layers: list[nn.Module] = []
        c_in = 3
        for i, c_out in enumerate(channels):
            layers += [nn.Conv2d(c_in, c_out, 3, stride=2 if i == 0 else 1, padding=1,
                                 bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
            c_in = c_out
        self.cnn = nn.Sequential(*layers)
        self.roi_size, self.geometry = int(roi_size), bool(geometry)
        n_in = c_in * self.roi_size ** 2 + (_GEOMETRY if geometry else 0)
        def mlp() -> nn.Module:
            return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(inplace=True),
                                 nn.Linear(hidden, dim))

        shared = mlp() if shared_projection else None
        self.project = nn.ModuleDict({w: shared if shared is not None else mlp()
                                      for w in WINDOWS})

    def forward(self, images: torch.Tensor, boxes: torch.Tensor,
                image_index: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Sensory inputs ``f_X`` ``(P, d)`` of the time, subject, object and predicate windows.

        Parameters
        ----------
        images : torch.Tensor
            ``(N, 3, H, W)`` in [0, 1].
        boxes : torch.Tensor
            ``(P, 2, 4)`` pixel boxes ``(x1, y1, x2, y2)`` of each pair's subject and object.
        image_index : torch.Tensor, optional
            ``(P,)`` image of each pair (default: pair ``i`` is in image ``i``).
        """
        _check_images(images)
        n, _, height, width = images.shape
        boxes = boxes.to(images)
        if boxes.ndim != 3 or boxes.shape[1:] != (2, 4):
            raise ParameterError(f"boxes must be (pairs, 2, 4) subject/object boxes (x1, y1, x2, "
                                 f"y2), got {tuple(boxes.shape)}")
        if image_index is None:
            if len(boxes) != n:
                raise ParameterError(f"{len(boxes)} pairs for {n} images: pass image_index to say "
                                     f"which image each pair is in")
            image_index = torch.arange(n, device=images.device)
        image_index = image_index.to(images.device).long()
        if image_index.shape != (len(boxes),) or (
                len(image_index) and not (0 <= int(image_index.min()) and
                                          int(image_index.max()) < n)):
            raise ParameterError(f"image_index must be ({len(boxes)},) indices into the {n} images")
        if not torch.isfinite(boxes).all() or (boxes[..., 2:] <= boxes[..., :2]).any():
            raise ParameterError("every box needs finite x1 < x2 and y1 < y2 (pixel units)")
        fmap = self.cnn(images)
        subject, obj = boxes[:, 0], boxes[:, 1]
        union = torch.cat([torch.minimum(subject[:, :2], obj[:, :2]),
                           torch.maximum(subject[:, 2:], obj[:, 2:])], 1)
        whole = boxes.new_tensor([0.0, 0.0, width, height]).expand(len(boxes), 4)
        scale = boxes.new_tensor([width, height, width, height])
        windows = {"time": (whole, whole, whole), "subject": (subject, subject, subject),
                   "object": (obj, obj, obj), "predicate": (union, subject, obj)}
        # pool each distinct (image, region) once: pairs share their images and boxes
        rois = torch.cat([torch.cat([image_index[:, None].to(boxes), region], 1)
                          for region, _, _ in windows.values()])
        distinct, which = torch.unique(rois, dim=0, return_inverse=True)
        pooled_all = roi_align(fmap, distinct, self.roi_size, spatial_scale=1 / self.stride,
                               sampling_ratio=2, aligned=True).flatten(1)[which]
        out = {}
        for i, (name, (_, first, second)) in enumerate(windows.items()):
            pooled = pooled_all[i * len(boxes):(i + 1) * len(boxes)]
            if self.geometry:
                pooled = torch.cat([pooled, first / scale, second / scale], 1)
            out[name] = self.project[name](pooled)
        return out


def _check_images(images: torch.Tensor) -> None:
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] != 3:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images)
        raise ParameterError(f"images must be a (N, 3, H, W) tensor, got {shape}")
    if not torch.isfinite(images).all():
        raise ParameterError("images hold NaN or infinite values; clean them first")


class TensorBrainPerception(nn.Module, PretrainedMixin):
    """Scene encoder + concept bank + decoder + episodic and semantic memory, end to end.

    Parameters
    ----------
    groups : mapping of str to int
        Concept groups; needs ``"time"``, ``"entity"``, ``"predicate"`` and each label group.
    labels : sequence of str
        Unary label groups decoded after each entity (never fed back).
    dim : int
        Representation size ``d`` (default 128).
    context : {"paper", "code", "none"}
        Context recurrence between windows. Default ``"code"``, the authors' code's
        ``ReLU(B(ReLU(V q) + h))``, not the paper's: with the paper's double sigmoid the time
        index barely reaches the later windows, and on the CI world episodic recall stayed
        near chance (subject Hits@5 0.23 after 40 epochs, chance 0.16, against 0.98 with
        ``"code"``).
        ``"none"`` is P-Direct.
    feedback : bool
        Write chosen indices back into ``q`` (``β = 1``, default) or not (``β = 0``).
    nonlinearity, bias
        Scoring options of :class:`~neuroattn.semantic.concepts.ConceptBank`.
    order : tuple of str
        Order of the subject, object and predicate windows (default the 2023 code's).
    feedback_scope : {"group", "bank"}
        Expected-embedding feedback over the entity group (paper) or with the labels (code).
    dropout : float
        Feedback dropout of the decoder (training only; see
        :class:`~neuroattn.semantic.decoder.TensorBrainDecoder`).
    encoder_kwargs : mapping, optional
        Passed to :class:`SceneEncoder`.
    seed : int, optional
        Seed of the initialisation.

    Examples
    --------
    >>> import torch
    >>> model = TensorBrainPerception({"time": 2, "entity": 3, "shape": 2, "predicate": 2},
    ...                               labels=("shape",), dim=8, seed=0)
    >>> model.recall_semantic(torch.tensor([1])).probs["subject.shape"].shape
    torch.Size([1, 2])

    ``save_pretrained(directory)`` writes the constructor arguments to
    ``config.json`` and every weight (the concept bank, the decoder, the
    encoder and the memories) to ``model.safetensors``:

    >>> import tempfile
    >>> again = TensorBrainPerception.from_pretrained(
    ...     model.save_pretrained(tempfile.mkdtemp() + "/tb"))
    >>> torch.equal(again.bank.A, model.bank.A), again.labels
    (True, ('shape',))
    """

    model_name = "tensor_brain_perception"

    def __init__(self, groups: Mapping[str, int], labels: Sequence[str] = (), *,
                 dim: int = 128, context: ContextForm = "code", feedback: bool = True,
                 nonlinearity: Nonlinearity = "sigmoid", bias: BiasMode = "none",
                 order: tuple[str, ...] = ("subject", "object", "predicate"),
                 feedback_scope: Literal["group", "bank"] = "group", dropout: float = 0.0,
                 encoder_kwargs: Mapping[str, object] | None = None,
                 seed: int | None = 0) -> None:
        super().__init__()
        self._init_kwargs = dict(
            groups={str(g): int(n) for g, n in groups.items()}, labels=list(labels), dim=dim,
            context=context, feedback=feedback, nonlinearity=nonlinearity, bias=bias,
            order=list(order), feedback_scope=feedback_scope, dropout=dropout,
            encoder_kwargs=dict(encoder_kwargs or {}), seed=seed)
        missing = [g for g in ("time", "entity", "predicate", *labels) if g not in groups]
        if missing:
            raise ParameterError(f"groups lacks {missing}; perception needs time, entity, "
                                 f"predicate and every label group")
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            self.bank = ConceptBank(groups, dim, nonlinearity=nonlinearity, bias=bias)
            program = DecodingProgram.default(tuple(labels), order=order,
                                              feedback_scope=feedback_scope)
            self.decoder = TensorBrainDecoder(self.bank, program, context=context,
                                              beta=1.0 if feedback else 0.0, dropout=dropout)
            self.encoder = SceneEncoder(dim, **dict(encoder_kwargs or {}))
        self.labels = tuple(labels)
        self.episodic = EpisodicMemory(self.decoder, write="learned")
        self.semantic = SemanticMemory(self.episodic, marginal="learned")

    @classmethod
    def for_world(cls, world: SceneWorld, **kwargs: Any) -> TensorBrainPerception:
        """A model whose concept groups and label windows fit a TB-Shapes ``world``.

        Examples
        --------
        >>> from neuroattn.datasets.synthetic.tb_shapes import TBShapesConfig, make_tb_shapes
        >>> world = make_tb_shapes(TBShapesConfig.ci(n_train=4, n_test_known=0,
        ...                                          n_test_novel=0))
        >>> TensorBrainPerception.for_world(world, dim=8).bank.group_size("time")
        4
        """
        return cls(world.group_sizes(), labels=world.label_groups, **kwargs)

    def pretrained_config(self) -> dict[str, Any]:
        """The constructor arguments (for ``save_pretrained``)."""
        return dict(self._init_kwargs)

    @classmethod
    def from_pretrained_config(cls, config: dict[str, Any]) -> TensorBrainPerception:
        """An untrained model of a :meth:`pretrained_config` dict."""
        config = dict(config)
        if config.get("order") is not None:
            config["order"] = tuple(config["order"])
        return cls(**config)

    @property
    def heads(self) -> tuple[str, ...]:
        """Every output key of the program, in window order.

        Examples
        --------
        >>> TensorBrainPerception({"time": 1, "entity": 2, "predicate": 2}, dim=4).heads
        ('time', 'subject', 'object', 'predicate')
        """
        return tuple(h for w in self.decoder.program.windows for h in w.heads())

    def perceive(self, images: torch.Tensor, boxes: torch.Tensor,
                 image_index: torch.Tensor | None = None, *, mode: DecodeMode = "argmax",
                 targets: Mapping[str, torch.Tensor] | None = None,
                 force: Mapping[str, torch.Tensor] | None = None,
                 generator: torch.Generator | None = None) -> Decoding:
        """Decode a triple (and labels) for each subject/object box pair of the images.

        ``mode="expected"`` is P-SA (the differentiable training mode), ``"argmax"`` and
        ``"sample"`` are P-Samp with β → ∞ and β = 1; see
        :meth:`~neuroattn.semantic.decoder.TensorBrainDecoder.forward`.
        """
        inputs = self.encoder(images.to(self.bank.A.device), boxes, image_index)
        return self.decoder(inputs, mode=mode, targets=targets, force=force,
                            generator=generator)

    def recall_episode(self, t: torch.Tensor, *, mode: DecodeMode = "argmax",
                       targets: Mapping[str, torch.Tensor] | None = None,
                       force: Mapping[str, torch.Tensor] | None = None) -> Decoding:
        """Episodic recall of episode ``t`` (no sensory input), see
        :meth:`~neuroattn.semantic.memory.EpisodicMemory.recall`."""
        return self.episodic.recall(t.to(self.bank.A.device), mode=mode, targets=targets,
                                    force=force)

    def recall_semantic(self, subject: torch.Tensor, *, mode: DecodeMode = "argmax",
                        targets: Mapping[str, torch.Tensor] | None = None,
                        force: Mapping[str, torch.Tensor] | None = None) -> Decoding:
        """Semantic recall about ``subject`` from the learned ``ā`` (subject teacher-forced)."""
        forced = {"subject": subject.to(self.bank.A.device), **dict(force or {})}
        return self.semantic.query(mode=mode, targets=targets, force=forced)
