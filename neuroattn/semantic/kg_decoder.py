"""The tensor brain in semantic-memory mode as a knowledge-graph scorer (reference §1.9, §4.3).

In the theory semantic memory is episodic memory marginalised over time (reference §1.9); a
KG has no episodes, so a fact ``(h, r, t)`` is decoded with **no time window**: the first
window, the subject, starts from a single learned vector ``ā`` (as the code's
``forward_skg``; ``"learned"`` in :class:`~neuroattn.semantic.memory.SemanticMemory`),
entering as the subject window's input ``f_S = ā``. That ``ā`` is a trained parameter, not a
marginal of anything. Entities and predicates are indices of one
:class:`~neuroattn.semantic.concepts.ConceptBank` with the groups ``"entity"`` (``n``
entities) and ``"predicate"`` (``2m``: each relation and its reciprocal ``r⁻¹ = r + m``).

Decoding order (a documented choice, reference §1.7 and §4.3 query 2): the 2023 order puts
the predicate last, which makes ``(h, r, ?)`` a product ``P(o | s) P(r | s, o)`` over every
candidate object with no normalisation across objects. Here the program is the 2020 order
**subject → predicate → object**, with the predicate fed back (``q_P ← q̃_P + a_r``), so the
object window sees both the subject and the predicate:

- ``score_tails(h, r)``: force subject ``h`` and predicate ``r``, score the object window;
- ``score_heads(r, t)``: the same with subject ``t`` and the reciprocal predicate ``r⁻¹``;
- ``score_relations(h, t)``: teacher-force ``(h, r, t)`` for every forward ``r``.

Every score is the decoder's joint log-probability ``log P(s) + log P(p | s) + log P(o | s,
p)`` of the decoded triple (``(h, r, t)``, or ``(t, r⁻¹, h)`` for head queries), so within a
query it ranks as the posterior of the missing index. Training
(:func:`~neuroattn.semantic.kg.fit_kg`, the fitter of every KG scorer, with
:meth:`TensorBrainKG.kg_loss`) is teacher forcing on the train triples and their
reciprocals: the cross-entropy of the true index in each of the three windows, Adam, an N3
penalty on the rows of ``A`` in the batch.

Measured on Kinships, validation filtered MRR (both directions, realistic ties), one CPU
thread, batch 256, lr 0.003, N3 0.01, 20 epochs unless said: d = 256 0.767; 40 epochs 0.787;
N3 0.03: 0.784 (30 epochs), **0.806** (60 epochs), 0.797 (100 epochs); N3 0.1, 60 epochs:
0.802; d = 512, N3 0.03, 60 epochs: 0.807; feedback dropout 0.3: 0.752; d = 128, lr 0.005:
0.725 (20 epochs), 0.754 (40 epochs); d = 128, lr 0.01: 0.65; d = 128, lr 0.005 without N3:
0.716. ``benchmarks/bench_tensor_brain.py`` now selects the TB's settings, and every
baseline's, with one search (:func:`~neuroattn.semantic.kg_search.search_kg_model`).

Examples
--------
>>> import torch
>>> tb = TensorBrainKG(n_entities=5, n_relations=2, dim=8, seed=0)
>>> tb.score_tails(torch.tensor([0, 1]), torch.tensor([1, 0])).shape
torch.Size([2, 5])
>>> tb.score_relations(torch.tensor([0]), torch.tensor([4])).shape
torch.Size([1, 2])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from neuroattn.errors import ParameterError
from neuroattn.nn.pretrained import PretrainedMixin
from neuroattn.semantic.concepts import ConceptBank, Nonlinearity
from neuroattn.semantic.decoder import (
    ContextForm,
    Decoding,
    DecodingProgram,
    TensorBrainDecoder,
    Window,
)
from neuroattn.semantic.kg import Regularizer, as_ids, regularizer_power

__all__ = ["TensorBrainKG"]

IdLike = torch.Tensor | np.ndarray | Sequence[int]


class TensorBrainKG(nn.Module, PretrainedMixin):
    """A :class:`TensorBrainDecoder` (subject → predicate → object) scoring KG queries.

    Parameters
    ----------
    n_entities, n_relations : int
        Vocabulary sizes (forward relations; the bank holds ``2 * n_relations`` predicates).
    dim : int
        Size of the representation ``q`` (and of the context ``h``).
    context : {"paper", "code", "none"}
        Context recurrence of the decoder (default ``"code"``, ``ReLU(B(ReLU(V q) + h))``).
    nonlinearity : {"sigmoid", "leaky_relu", "identity"}
        The bank's pre-scoring nonlinearity (default ``"identity"``: on Kinships, 8 epochs,
        d = 64, validation MRR 0.58 against 0.49 for ``"leaky_relu"`` and 0.05 for
        ``"sigmoid"``, which barely trains).
    init_std : float
        Initialisation scale of ``A``.
    seed : int
        Seed of ``A``, the context weights and ``ā``.

    Attributes
    ----------
    bank : ConceptBank
        Groups ``"entity"`` and ``"predicate"``; its ``A`` is the only concept embedding.
    decoder : TensorBrainDecoder
        Windows ``subject``, ``predicate``, ``object``, all fed back.
    abar : torch.nn.Parameter
        The learned semantic-memory vector ``ā``, the subject window's input.

    Examples
    --------
    >>> tb = TensorBrainKG(4, 3, dim=6, seed=0)
    >>> tb.bank.group_size("predicate"), [w.name for w in tb.decoder.program.windows]
    (6, ['subject', 'predicate', 'object'])

    Saving and loading (``config.json`` + ``model.safetensors``):

    >>> import tempfile
    >>> again = TensorBrainKG.from_pretrained(tb.save_pretrained(tempfile.mkdtemp() + "/kg"))
    >>> bool(torch.equal(again.score_tails([0], [1]), tb.score_tails([0], [1])))
    True
    """

    model_name = "tensor_brain_kg"

    def __init__(self, n_entities: int, n_relations: int, dim: int = 256, *,
                 context: ContextForm = "code", nonlinearity: Nonlinearity = "identity",
                 init_std: float = 0.1, seed: int = 0) -> None:
        super().__init__()
        if n_entities < 1 or n_relations < 1:
            raise ParameterError(f"Need at least one entity and one relation, got {n_entities} "
                                 f"and {n_relations}.")
        self.n_entities, self.n_relations = int(n_entities), int(n_relations)
        self._init_kwargs = dict(n_entities=self.n_entities, n_relations=self.n_relations,
                                 dim=int(dim), context=context, nonlinearity=nonlinearity,
                                 init_std=float(init_std), seed=int(seed))
        self.bank = ConceptBank({"entity": self.n_entities, "predicate": 2 * self.n_relations},
                                dim, nonlinearity=nonlinearity, init_std=init_std, seed=seed)
        program = DecodingProgram((Window("subject", "entity"), Window("predicate", "predicate"),
                                   Window("object", "entity")))
        self.decoder = TensorBrainDecoder(self.bank, program, context=context, seed=seed)
        gen = torch.Generator().manual_seed(seed + 1)
        self.abar = nn.Parameter(torch.randn(dim, generator=gen) * init_std)

    def pretrained_config(self) -> dict[str, Any]:
        """The constructor arguments (for ``save_pretrained``)."""
        return dict(self._init_kwargs)

    @classmethod
    def from_pretrained_config(cls, config: dict[str, Any]) -> TensorBrainKG:
        """An untrained model of a :meth:`pretrained_config` dict."""
        return cls(**config)

    def decode(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor | None = None
               ) -> Decoding:
        """Run the decoder with subject ``h`` and predicate ``r`` forced (``r`` may be reciprocal).

        With ``t`` the object is teacher-forced too (its log-probability is then in
        ``log_probs["object"]``); without it the object window chooses by argmax.

        Examples
        --------
        >>> import torch
        >>> tb = TensorBrainKG(4, 1, dim=6, seed=0)
        >>> out = tb.decode(torch.tensor([0, 3]), torch.tensor([1, 0]))
        >>> out.probs["object"].shape, out.indices["object"].shape
        (torch.Size([2, 4]), torch.Size([2]))
        """
        device = self.bank.A.device
        h, r = h.to(device), r.to(device)
        inputs = {"subject": self.abar.expand(len(h), -1)}
        targets = {"subject": h, "predicate": r}
        if t is None:
            return self.decoder(inputs, mode="argmax", force=targets, targets=targets)
        return self.decoder(inputs, mode="teacher", targets=targets | {"object": t.to(device)})

    def _object_scores(self, h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        out = self.decode(h, r)
        prefix = out.log_probs["subject"] + out.log_probs["predicate"]
        return (prefix[:, None] + torch.log(out.probs["object"])).cpu()

    def score_tails(self, h: IdLike, r: IdLike) -> torch.Tensor:
        """Joint log-probabilities ``(B, n_entities)`` of ``(h, r, o)`` for every object ``o``.

        Examples
        --------
        >>> tb = TensorBrainKG(5, 2, dim=4, seed=0)
        >>> bool(tb.score_tails([1], [0]).exp().sum() <= 1)
        True
        """
        h = as_ids(h, self.n_entities, "head")
        r = as_ids(r, self.n_relations, "relation")
        return self._object_scores(h, r)

    def score_heads(self, r: IdLike, t: IdLike) -> torch.Tensor:
        """Joint log-probabilities ``(B, n_entities)`` of ``(t, r⁻¹, s)`` for every head ``s``.

        Examples
        --------
        >>> tb = TensorBrainKG(5, 2, dim=4, seed=0)
        >>> tb.score_heads([1, 0], [4, 2]).shape
        torch.Size([2, 5])
        """
        r = as_ids(r, self.n_relations, "relation")
        t = as_ids(t, self.n_entities, "tail")
        return self._object_scores(t, r + self.n_relations)

    def score_relations(self, h: IdLike, t: IdLike) -> torch.Tensor:
        """Joint log-probabilities ``(B, n_relations)`` of ``(h, r, t)`` for every forward ``r``.

        Examples
        --------
        >>> tb = TensorBrainKG(5, 3, dim=4, seed=0)
        >>> tb.score_relations([0, 1], [2, 3]).shape
        torch.Size([2, 3])
        """
        h = as_ids(h, self.n_entities, "head")
        t = as_ids(t, self.n_entities, "tail")
        if len(h) != len(t):
            raise ParameterError(f"h and t must have the same length, got {len(h)} and {len(t)}.")
        m = self.n_relations
        rel = torch.arange(m).repeat(len(h))
        out = self.decode(h.repeat_interleave(m), rel, t.repeat_interleave(m))
        return out.log_likelihood.reshape(len(h), m).cpu()

    def training_rows(self, triples: torch.Tensor) -> torch.Tensor:
        """The rows :func:`~neuroattn.semantic.kg.fit_kg` shuffles: the triples and reciprocals.

        Each ``(h, r, t)`` and its reciprocal ``(t, r + m, h)``.

        Examples
        --------
        >>> import torch
        >>> TensorBrainKG(3, 2, dim=4).training_rows(torch.tensor([[0, 1, 2]])).tolist()
        [[0, 1, 2], [2, 3, 0]]
        """
        return torch.cat([triples, torch.stack([triples[:, 2], triples[:, 1] + self.n_relations,
                                                triples[:, 0]], 1)])

    def kg_loss(self, batch: torch.Tensor, *, regularizer: Regularizer = "n3",
                weight: float = 0.0, label_smoothing: float = 0.0) -> torch.Tensor:
        """Teacher-forced loss of a batch of rows ``(h, r, t)`` (``r`` in ``[0, 2m)``).

        :meth:`nll` (the mean cross-entropy of the true subject, predicate and object, one
        softmax per window over its group) plus ``weight`` times the regulariser
        (:func:`~neuroattn.semantic.kg.regularizer_power`; N3 is ``Σ |a|³``) of the
        batch's rows of ``A``, divided by the batch size. The decoder's windows are
        trained with their own softmax, so ``label_smoothing`` must be 0.

        Examples
        --------
        >>> import torch
        >>> tb = TensorBrainKG(3, 1, dim=4, seed=0)
        >>> bool(tb.kg_loss(torch.tensor([[0, 1, 2]]), weight=0.01) > 0)
        True
        """
        power = regularizer_power(regularizer)
        if label_smoothing:
            raise ParameterError(
                f"label_smoothing={label_smoothing!r} is not supported by TensorBrainKG (its "
                "windows are teacher-forced log-likelihoods); pass label_smoothing=0.")
        loss = self.nll(batch)
        if weight:
            used = torch.cat([self.bank.global_index("entity", batch[:, [0, 2]]),
                              self.bank.global_index("predicate", batch[:, 1])[:, None]], 1)
            loss = loss + weight * self.bank.A[used].abs().pow(power).sum() / len(batch)
        return loss

    def nll(self, triples: torch.Tensor) -> torch.Tensor:
        """Mean teacher-forced NLL of ``(h, r, t)`` rows (``r`` in ``[0, 2m)``): all 3 windows.

        Examples
        --------
        >>> import torch
        >>> tb = TensorBrainKG(3, 1, dim=4, seed=0)
        >>> float(tb.nll(torch.tensor([[0, 1, 2]])).detach()) > 0
        True
        """
        h, r, t = triples.unbind(1)
        return -self.decode(h, r, t).log_likelihood.mean()
