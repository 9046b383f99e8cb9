"""Knowledge-graph embeddings: RESCAL, DistMult, ComplEx, a popularity baseline, and ranking.

Every scorer is a ``torch.nn.Module`` with the same three queries, each a
``(B, n)`` score matrix (higher means more plausible):

- ``score_tails(h, r)``: all tails of ``(h, r, ?)``;
- ``score_heads(r, t)``: all heads of ``(?, r, t)``;
- ``score_relations(h, t)``: all (forward) relations of ``(h, ?, t)``.

With ``reciprocal=True`` a model learns one extra relation per relation, and
``score_heads(r, t)`` is ``score_tails(t, r⁻¹)`` (Lacroix et al. 2018).
:func:`fit_kg` trains any KG scorer on the package's training loop (these 1-vs-all:
softmax cross-entropy over every entity, both directions, with N3 or L2
regularisation; the tensor brain of :mod:`neuroattn.semantic.kg_decoder` by
teacher forcing); :func:`link_prediction_metrics` and
:func:`relation_prediction_metrics` give filtered MRR and Hits@k.

Examples
--------
>>> import numpy as np
>>> from neuroattn.datasets.knowledge_graphs import KnowledgeGraph
>>> rng = np.random.default_rng(0)
>>> triples = np.stack([rng.integers(0, 7, 40), rng.integers(0, 2, 40),
...                     rng.integers(0, 7, 40)], axis=1)
>>> kg = KnowledgeGraph(tuple("abcdefg"), ("r", "s"), triples[:30], triples[30:35], triples[35:])
>>> model = ComplEx(kg.n_entities, kg.n_relations, dim=8, seed=0)
>>> fit = fit_kg(model, kg, epochs=3, batch_size=16, seed=0, progress=False,
...              verbose="WARNING")
>>> len(fit["history"])
3
>>> metrics = link_prediction_metrics(model.score_tails, model.score_heads, kg.test,
...                                   kg.known_triples())
>>> sorted(metrics), sorted(metrics["both"])
(['both', 'head', 'tail'], ['hits@1', 'hits@10', 'hits@3', 'mrr'])
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from neuroattn._logging import Verbose, use_log_level
from neuroattn._validation import check_int, check_number, check_option
from neuroattn.datasets.knowledge_graphs import KnowledgeGraph
from neuroattn.errors import ParameterError
from neuroattn.nn.pretrained import PretrainedMixin, init_arguments
from neuroattn.training.distributed import rank_share
from neuroattn.training.loop import (
    RESUME_MAY_CHANGE,
    Callback,
    EarlyStopping,
    TrainConfig,
    Trainer,
    TrainSummary,
)
from neuroattn.training.objective import ModelObjective, objective_loss

__all__ = ["RESCAL", "ComplEx", "DistMult", "KGModel", "KGTrainable", "PopularityBaseline",
           "TripleBatches", "as_ids", "as_triples", "filtered_ranks", "fit_kg",
           "link_prediction_metrics", "rank_metrics", "regularizer_power",
           "relation_prediction_metrics"]

Ties = Literal["realistic", "optimistic", "pessimistic"]
Regularizer = Literal["n3", "l2"]
Optimizer = Literal["adam", "adagrad"]
_OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer] | None] = {
    "adam": None, "adagrad": torch.optim.Adagrad}
"""The trainer's optimiser of each ``optimizer`` name (``None``: its AdamW, here without
weight decay, which is Adam)."""
ScoreFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def as_ids(ids: torch.Tensor | np.ndarray | Sequence[int], size: int, name: str
           ) -> torch.Tensor:
    """``ids`` as a 1-D int64 tensor, checked to lie in ``[0, size)``.

    Raises ``ValueError`` naming ``name`` (e.g. ``"head"``) for a wrong shape, dtype or range.

    Examples
    --------
    >>> as_ids([2, 0], 3, "head")
    tensor([2, 0])
    >>> as_ids([3], 3, "tail")
    Traceback (most recent call last):
    ...
    neuroattn.errors.ParameterError: tail ids must lie in [0, 3), got [3, 3].
    """
    ids = torch.as_tensor(ids)
    if ids.ndim != 1:
        raise ParameterError(f"{name} ids must be 1-D, got shape {tuple(ids.shape)}.")
    if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
        raise ParameterError(f"{name} ids must be integers, got dtype {ids.dtype}.")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= size):
        raise ParameterError(f"{name} ids must lie in [0, {size}), got [{int(ids.min())}, "
                             f"{int(ids.max())}].")
    return ids.long()


def as_triples(triples: np.ndarray | torch.Tensor | Sequence[Sequence[int]]) -> np.ndarray:
    """``triples`` as an int64 ``(n, 3)`` array of non-negative ids.

    Examples
    --------
    >>> as_triples([[0, 1, 2]]).dtype, as_triples(torch.tensor([[0, 1, 2]])).shape
    (dtype('int64'), (1, 3))
    """
    array = np.asarray(triples)
    if array.ndim != 2 or array.shape[1] != 3:
        raise ParameterError(f"triples must have shape (n, 3) = (head, relation, tail), "
                             f"got {array.shape}.")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ParameterError(f"triples must hold integer ids, got dtype {array.dtype}.")
    if array.size and array.min() < 0:
        raise ParameterError("triples hold a negative id.")
    return array.astype(np.int64).reshape(-1, 3)


class KGModel(nn.Module, PretrainedMixin):
    """Base class: id checks and the reciprocal-relation bookkeeping of the scorers.

    Subclasses implement ``_tails(h, r)``, ``_heads(r, t)`` (used only without
    reciprocal relations), ``_relations(h, t)`` and ``factors(h, r, t)``, the
    embeddings that the regulariser of :meth:`kg_loss` (so :func:`fit_kg`) penalises, and
    keep every constructor argument as an attribute of the same name, so that
    ``save_pretrained`` / ``from_pretrained`` work (``config.json`` +
    ``model.safetensors``).

    Examples
    --------
    >>> import tempfile
    >>> model = ComplEx(5, 2, dim=4)
    >>> again = ComplEx.from_pretrained(model.save_pretrained(tempfile.mkdtemp() + "/kg"))
    >>> bool(torch.equal(again.score_tails([0], [1]), model.score_tails([0], [1])))
    True
    """

    def pretrained_config(self) -> dict[str, Any]:
        """The constructor arguments (for ``save_pretrained``)."""
        return init_arguments(self)

    @classmethod
    def from_pretrained_config(cls, config: dict[str, Any]) -> KGModel:
        """An untrained model of a :meth:`pretrained_config` dict."""
        return cls(**config)

    def __init__(self, n_entities: int, n_relations: int, *, reciprocal: bool) -> None:
        super().__init__()
        if n_entities < 1 or n_relations < 1:
            raise ParameterError(f"Need at least one entity and one relation, got {n_entities} "
                                 f"and {n_relations}.")
        self.n_entities = int(n_entities)
        self.n_relations = int(n_relations)
        self.reciprocal = bool(reciprocal)

    @property
    def n_relation_params(self) -> int:
        """Relations with their own parameters: twice ``n_relations`` with reciprocals."""
        return self.n_relations * (2 if self.reciprocal else 1)

    def score_tails(self, h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        """Scores ``(B, n_entities)`` of every tail for the queries ``(h, r, ?)``."""
        h = as_ids(h, self.n_entities, "head")
        r = as_ids(r, self.n_relations, "relation")
        return self._tails(h, r)

    def score_heads(self, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Scores ``(B, n_entities)`` of every head for the queries ``(?, r, t)``."""
        r = as_ids(r, self.n_relations, "relation")
        t = as_ids(t, self.n_entities, "tail")
        if self.reciprocal:
            return self._tails(t, r + self.n_relations)
        return self._heads(r, t)

    def score_relations(self, h: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Scores ``(B, n_relations)`` of every forward relation for ``(h, ?, t)``."""
        h = as_ids(h, self.n_entities, "head")
        t = as_ids(t, self.n_entities, "tail")
        return self._relations(h, t)

    def training_rows(self, triples: torch.Tensor) -> torch.Tensor:
        """The rows :func:`fit_kg` shuffles: the triples themselves (each trains both ways)."""
        return triples

    def kg_loss(self, batch: torch.Tensor, *, regularizer: Regularizer = "n3",
                weight: float = 0.0, label_smoothing: float = 0.0) -> torch.Tensor:
        """1-vs-all loss of a batch of ``(h, r, t)`` rows, as :func:`fit_kg` minimises it.

        The softmax cross-entropy of ``t`` among every entity for ``(h, r, ?)`` plus that
        of ``h`` for ``(?, r, t)`` (each averaged over the batch), plus ``weight`` times
        the regulariser (:func:`regularizer_power`) of ``factors(h, r, t)`` (and, with
        reciprocal relations, of ``factors(t, r⁻¹, h)``), summed and divided by the batch
        size.

        Examples
        --------
        >>> model = DistMult(4, 1, dim=3)
        >>> loss = model.kg_loss(torch.tensor([[0, 0, 1], [2, 0, 3]]), weight=0.01)
        >>> loss.ndim, bool(loss > 0)
        (0, True)
        """
        power = regularizer_power(regularizer)
        h, r, t = batch.unbind(1)
        ce = nn.functional.cross_entropy(self.score_tails(h, r), t,
                                         label_smoothing=label_smoothing) \
            + nn.functional.cross_entropy(self.score_heads(r, t), h,
                                          label_smoothing=label_smoothing)
        factors = self.factors(h, r, t)
        if self.reciprocal:
            factors += self.factors(t, r + self.n_relations, h)
        reg = sum(f.abs().pow(power).sum() for f in factors)
        return ce + weight * reg / len(batch)

    def factors(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor
                ) -> list[torch.Tensor]:
        """The embeddings of a batch that the regulariser penalises (each subclass's own)."""
        raise NotImplementedError

    def _init(self, shape: tuple[int, ...], scale: float, generator: torch.Generator
              ) -> nn.Parameter:
        return nn.Parameter(scale * torch.randn(shape, generator=generator))


class DistMult(KGModel):
    """DistMult (Yang et al. 2015): ``<e_h, w_r, e_t>``, symmetric in head and tail.

    Parameters
    ----------
    n_entities, n_relations : int
        Vocabulary sizes (forward relations).
    dim : int
        Embedding size.
    reciprocal : bool
        Learn an inverse relation per relation for head queries.
    init_scale : float
        Standard deviation of the normal initialisation.
    seed : int
        Seed of the initialisation.

    Examples
    --------
    >>> model = DistMult(5, 2, dim=4, reciprocal=False)
    >>> model.score_tails([0, 1], [1, 1]).shape
    torch.Size([2, 5])
    """

    model_name = "distmult"

    def __init__(self, n_entities: int, n_relations: int, dim: int = 200, *,
                 reciprocal: bool = True, init_scale: float = 1e-1, seed: int = 0) -> None:
        super().__init__(n_entities, n_relations, reciprocal=reciprocal)
        self.dim, self.init_scale, self.seed = int(dim), float(init_scale), int(seed)
        gen = torch.Generator().manual_seed(seed)
        self.entity = self._init((n_entities, dim), init_scale, gen)
        self.relation = self._init((self.n_relation_params, dim), init_scale, gen)

    def _tails(self, h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        return (self.entity[h] * self.relation[r]) @ self.entity.T

    def _heads(self, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (self.entity[t] * self.relation[r]) @ self.entity.T

    def _relations(self, h: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (self.entity[h] * self.entity[t]) @ self.relation[: self.n_relations].T

    def factors(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor
                ) -> list[torch.Tensor]:
        """The embeddings of a batch that the regulariser penalises."""
        return [self.entity[h], self.relation[r], self.entity[t]]


class ComplEx(KGModel):
    """ComplEx (Trouillon et al. 2016): ``Re <e_h, w_r, conj(e_t)>`` with complex embeddings.

    Parameters are as for :class:`DistMult`; ``dim`` counts complex numbers
    (``2 * dim`` real parameters per embedding). With all imaginary parts zero
    it is DistMult.

    Examples
    --------
    >>> model = ComplEx(5, 2, dim=4)
    >>> model.score_heads([0], [3]).shape, model.score_relations([0], [3]).shape
    (torch.Size([1, 5]), torch.Size([1, 2]))
    """

    model_name = "complex"

    def __init__(self, n_entities: int, n_relations: int, dim: int = 100, *,
                 reciprocal: bool = True, init_scale: float = 1e-1, seed: int = 0) -> None:
        super().__init__(n_entities, n_relations, reciprocal=reciprocal)
        self.dim, self.init_scale, self.seed = int(dim), float(init_scale), int(seed)
        gen = torch.Generator().manual_seed(seed)
        self.entity_re = self._init((n_entities, dim), init_scale, gen)
        self.entity_im = self._init((n_entities, dim), init_scale, gen)
        self.relation_re = self._init((self.n_relation_params, dim), init_scale, gen)
        self.relation_im = self._init((self.n_relation_params, dim), init_scale, gen)

    def _tails(self, h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        hr, hi, rr, ri = self.entity_re[h], self.entity_im[h], self.relation_re[r], \
            self.relation_im[r]
        # Re(q conj(e_t)) with q = e_h w_r
        return (hr * rr - hi * ri) @ self.entity_re.T + (hr * ri + hi * rr) @ self.entity_im.T

    def _heads(self, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        tr, ti, rr, ri = self.entity_re[t], self.entity_im[t], self.relation_re[r], \
            self.relation_im[r]
        # Re(e_h p) with p = w_r conj(e_t)
        return (rr * tr + ri * ti) @ self.entity_re.T - (ri * tr - rr * ti) @ self.entity_im.T

    def _relations(self, h: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        hr, hi, tr, ti = self.entity_re[h], self.entity_im[h], self.entity_re[t], \
            self.entity_im[t]
        n = self.n_relations
        # Re(w_r p) with p = e_h conj(e_t)
        return (hr * tr + hi * ti) @ self.relation_re[:n].T \
            - (hi * tr - hr * ti) @ self.relation_im[:n].T

    def factors(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor
                ) -> list[torch.Tensor]:
        """Moduli of the complex embeddings of a batch (what N3 penalises)."""
        return [torch.sqrt(self.entity_re[h] ** 2 + self.entity_im[h] ** 2 + 1e-12),
                torch.sqrt(self.relation_re[r] ** 2 + self.relation_im[r] ** 2 + 1e-12),
                torch.sqrt(self.entity_re[t] ** 2 + self.entity_im[t] ** 2 + 1e-12)]


class RESCAL(KGModel):
    """RESCAL (Nickel et al. 2011): ``e_hᵀ W_r e_t`` with a full matrix per relation.

    Parameters are as for :class:`DistMult`; each relation has ``dim × dim``
    parameters. With diagonal ``W_r`` it is DistMult.

    Examples
    --------
    >>> model = RESCAL(5, 2, dim=3)
    >>> model.relation.shape
    torch.Size([4, 3, 3])
    """

    model_name = "rescal"

    def __init__(self, n_entities: int, n_relations: int, dim: int = 64, *,
                 reciprocal: bool = True, init_scale: float = 1e-1, seed: int = 0) -> None:
        super().__init__(n_entities, n_relations, reciprocal=reciprocal)
        self.dim, self.init_scale, self.seed = int(dim), float(init_scale), int(seed)
        gen = torch.Generator().manual_seed(seed)
        self.entity = self._init((n_entities, dim), init_scale, gen)
        self.relation = self._init((self.n_relation_params, dim, dim), init_scale, gen)

    def _tails(self, h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bi,bij->bj", self.entity[h], self.relation[r]) @ self.entity.T

    def _heads(self, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bij,bj->bi", self.relation[r], self.entity[t]) @ self.entity.T

    def _relations(self, h: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bi,rij,bj->br", self.entity[h],
                            self.relation[: self.n_relations], self.entity[t])

    def factors(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor
                ) -> list[torch.Tensor]:
        """The embeddings and relation matrices of a batch that the regulariser penalises."""
        return [self.entity[h], self.relation[r].flatten(1), self.entity[t]]


class PopularityBaseline(nn.Module):
    """Relation-conditional frequencies of the training triples, as a scorer.

    ``score_tails(h, r)`` is the number of training triples ``(·, r, t)`` for
    every ``t``, ``score_heads(r, t)`` the number of ``(h, r, ·)`` for every
    ``h``, and ``score_relations(h, t)`` the frequency of each relation (the
    predicate prior); none depends on the given entity.

    Parameters
    ----------
    triples : array of shape (n, 3)
        Training ``(head, relation, tail)`` ids.
    n_entities, n_relations : int
        Vocabulary sizes.

    Examples
    --------
    >>> base = PopularityBaseline([[0, 0, 2], [1, 0, 2], [1, 0, 1]], n_entities=3, n_relations=1)
    >>> base.score_tails([0], [0]).tolist(), base.score_heads([0], [2]).tolist()
    ([[0.0, 1.0, 2.0]], [[1.0, 2.0, 0.0]])
    """

    def __init__(self, triples: np.ndarray | Sequence[Sequence[int]], n_entities: int,
                 n_relations: int) -> None:
        super().__init__()
        rows = torch.as_tensor(as_triples(triples))
        as_ids(rows[:, 0], n_entities, "head")
        as_ids(rows[:, 1], n_relations, "relation")
        as_ids(rows[:, 2], n_entities, "tail")
        self.n_entities, self.n_relations = int(n_entities), int(n_relations)
        tails = torch.zeros(n_relations, n_entities)
        heads = torch.zeros(n_relations, n_entities)
        ones = torch.ones(len(rows))
        tails.index_put_((rows[:, 1], rows[:, 2]), ones, accumulate=True)
        heads.index_put_((rows[:, 1], rows[:, 0]), ones, accumulate=True)
        self.register_buffer("tail_counts", tails)
        self.register_buffer("head_counts", heads)
        self.register_buffer("relation_counts", tails.sum(1))

    def score_tails(self, h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        """Tail frequencies ``(B, n_entities)`` of relation ``r`` (``h`` is only checked)."""
        as_ids(h, self.n_entities, "head")
        return self.tail_counts[as_ids(r, self.n_relations, "relation")]

    def score_heads(self, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Head frequencies ``(B, n_entities)`` of relation ``r`` (``t`` is only checked)."""
        as_ids(t, self.n_entities, "tail")
        return self.head_counts[as_ids(r, self.n_relations, "relation")]

    def score_relations(self, h: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Relation frequencies ``(B, n_relations)``, the same for every pair."""
        h = as_ids(h, self.n_entities, "head")
        as_ids(t, self.n_entities, "tail")
        return self.relation_counts.expand(len(h), -1)


@runtime_checkable
class KGTrainable(Protocol):
    """What :func:`fit_kg` needs of a scorer: its vocabulary, its training rows and its loss.

    :class:`KGModel` (RESCAL, DistMult, ComplEx) and
    :class:`~neuroattn.semantic.kg_decoder.TensorBrainKG` implement it; the model-specific
    part of training lives here, the loop is :func:`fit_kg`'s.
    """

    model_name: str
    n_entities: int
    n_relations: int

    def pretrained_config(self) -> dict[str, Any]:
        """The constructor arguments (recorded in the run's ``config.yaml``)."""

    def training_rows(self, triples: torch.Tensor) -> torch.Tensor:
        """The rows that :func:`fit_kg` shuffles and batches, from ``(n, 3)`` training triples."""

    def kg_loss(self, batch: torch.Tensor, *, regularizer: Regularizer = "n3",
                weight: float = 0.0, label_smoothing: float = 0.0) -> torch.Tensor:
        """The loss of one batch of training rows (a 0-d tensor)."""


def regularizer_power(regularizer: Regularizer) -> int:
    """The exponent of a regulariser: 3 for N3 (``Σ|x|³``), 2 for L2 (``Σx²``).

    Examples
    --------
    >>> regularizer_power("n3"), regularizer_power("l2")
    (3, 2)
    """
    return {"n3": 3, "l2": 2}[check_option("regularizer", regularizer, ("n3", "l2"))]


class TripleBatches:
    """Batches of training rows, in a fresh random order each epoch, as :func:`fit_kg` uses them.

    The order of epoch ``e`` is the ``(e + 1)``-th ``torch.randperm`` of one generator
    seeded with ``seed``, so every epoch's batches follow from the seed alone (a resumed
    run replays them). Under ``torchrun`` each rank iterates over its own share of the
    epoch's batches (:func:`~neuroattn.training.distributed.rank_share`).

    Parameters
    ----------
    rows : torch.Tensor of shape (n, 3)
    batch_size : int
        Rows per batch; the last batch of an epoch holds the rest.
    seed : int

    Examples
    --------
    >>> batches = TripleBatches(torch.arange(15).reshape(5, 3), batch_size=2, seed=0)
    >>> batches.set_epoch(1)
    >>> len(batches), [len(b) for b in batches]
    (3, [2, 2, 1])
    """

    def __init__(self, rows: torch.Tensor, batch_size: int, seed: int) -> None:
        self.rows, self.batch_size, self.seed = rows, int(batch_size), int(seed)
        self.epoch = 0
        self._generator = torch.Generator().manual_seed(self.seed)
        self._drawn = 0
        self._order: tuple[int, torch.Tensor] | None = None

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order to iterate (called by the trainer, also on resume)."""
        self.epoch = int(epoch)

    def order(self, epoch: int) -> torch.Tensor:
        """The permutation of the rows in ``epoch`` (0-based)."""
        if self._order is not None and self._order[0] == epoch:
            return self._order[1]
        if epoch < self._drawn:
            self._generator.manual_seed(self.seed)
            self._drawn = 0
        while self._drawn <= epoch:
            perm = torch.randperm(len(self.rows), generator=self._generator)
            self._drawn += 1
        self._order = (epoch, perm)
        return perm

    def __len__(self) -> int:
        return len(rank_share(-(-len(self.rows) // self.batch_size)))

    def __iter__(self) -> Iterator[torch.Tensor]:
        batches = self.rows[self.order(self.epoch)].split(self.batch_size)
        for i in rank_share(len(batches)):
            yield batches[i]


class _KGObjective(ModelObjective):
    """The model's ``kg_loss`` as this module's ``forward``, so DDP syncs its gradients.

    Its state dict is the model's, so checkpoints hold the scorer's weights.
    """

    def __init__(self, model: nn.Module, regularizer: Regularizer, weight: float,
                 label_smoothing: float) -> None:
        super().__init__(model)
        self.settings = {"regularizer": regularizer, "weight": weight,
                         "label_smoothing": label_smoothing}

    def forward(self, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, Any]]:
        return self.model.kg_loss(batch, **self.settings), {}



class _RestoreBest(Callback):
    """Load the best validation epoch's weights when training ends (no early stopping)."""

    def on_fit_end(self, trainer: Trainer) -> None:
        """Restore this run's ``best.pt`` weights."""
        trainer.restore_best()



_ONE_ROW_PER_EPOCH = 2**31 - 1
"""``log_every`` of KG runs: the metrics hold one row per epoch, its mean training loss."""


def fit_kg(model: KGTrainable, kg: KnowledgeGraph | np.ndarray,
           out_dir: str | os.PathLike | None = None, *, epochs: int = 100,
           batch_size: int = 256, lr: float = 0.01, optimizer: Optimizer = "adam",
           regularizer: Regularizer = "n3", weight: float = 0.01,
           label_smoothing: float = 0.0, seed: int = 0, eval_every: int | None = None,
           patience: int | None = None, callbacks: Sequence[Callback] = (),
           device: str = "cpu", precision: str = "auto", progress: bool | None = None,
           verbose: Verbose = None, resume: bool = False) -> TrainSummary:
    """Train a knowledge-graph scorer on the package's training loop.

    One fitter for every scorer: :class:`RESCAL`, :class:`DistMult`, :class:`ComplEx`
    and :class:`~neuroattn.semantic.kg_decoder.TensorBrainKG`. What a batch costs is the
    model's own (:class:`KGTrainable`):

    - the factorisations train 1-vs-all: a training triple ``(h, r, t)`` gives the query
      ``(h, r, ?)`` with answer ``t`` (``score_tails``) and ``(?, r, t)`` with answer
      ``h`` (``score_heads``, i.e. ``(t, r⁻¹, ?)`` for a reciprocal model), each a softmax
      cross-entropy over every entity;
    - the tensor brain is teacher-forced on the triples and their reciprocals
      ``(t, r + m, h)``, shuffled together: the cross-entropy of the true subject,
      predicate and object, one softmax per window.

    The loss of a batch is that mean cross-entropy plus ``weight`` times the regulariser
    of the batch's embeddings (``KGModel.factors``, or the tensor brain's rows of ``A``),
    summed over embeddings and divided by the batch size: N3 is ``Σ|x|³`` (Lacroix et al.
    2018), L2 ``Σx²``.

    Training runs on :class:`~neuroattn.training.loop.Trainer` (a constant learning rate,
    no warmup, no weight decay, no gradient clipping): an atomic ``last.pt`` after every
    epoch, ``resume``, progress bars, callbacks, and DDP under ``torchrun`` (each rank
    trains on its share of every epoch's batches, :class:`TripleBatches`). Each epoch
    shuffles the rows with a generator seeded by ``seed``, so the batches and the steps
    are those of a plain loop with one ``torch.randperm`` per epoch.

    Parameters
    ----------
    model : KGTrainable
        :class:`RESCAL`, :class:`DistMult`, :class:`ComplEx` or
        :class:`~neuroattn.semantic.kg_decoder.TensorBrainKG`; trained in place, in eval
        mode on return.
    kg : KnowledgeGraph or array of shape (n, 3)
        Its ``train`` split, or the training triples themselves (forward relations).
    out_dir : path-like, optional
        Run directory: ``last.pt`` after every epoch, ``best.pt`` at each better
        validation MRR, ``config.yaml``, ``metrics.jsonl``/``.csv`` (one row per epoch).
        ``None``: a temporary directory, deleted on return with its checkpoints (for the
        many small runs of :func:`~neuroattn.semantic.kg_search.search_kg_model`); the
        summary's ``out_dir`` then names a directory that no longer exists.
    epochs, batch_size : int
        Passes over the shuffled rows, and rows per step.
    lr : float
        Learning rate (``> 0``), constant.
    optimizer : {"adam", "adagrad"}
        Adam (the trainer's AdamW without weight decay, which is Adam) or Adagrad.
    regularizer : {"n3", "l2"}
    weight : float
        Regularisation weight (0 for none).
    label_smoothing : float
        Of the factorisations' cross-entropy (:func:`torch.nn.functional.cross_entropy`);
        the tensor brain accepts only 0.
    seed : int
        Seed of the shuffling (and of the trainer's global seeding: Python, NumPy and
        torch are seeded with it); the initialisation is seeded by the model.
    eval_every : int, optional
        Measure the filtered MRR (both directions, realistic ties, the filter of
        ``kg.known_triples()``, see :func:`link_prediction_metrics`) on ``kg.valid`` every
        ``eval_every`` epochs and after the last one; the model then ends with the weights
        of the best evaluation. Needs a :class:`KnowledgeGraph` with validation triples.
    patience : int, optional
        With ``eval_every``: stop once ``patience`` evaluations in a row did not beat the
        best validation MRR (:class:`~neuroattn.training.loop.EarlyStopping`).
    callbacks : sequence of Callback
        More :class:`~neuroattn.training.loop.Callback` objects for the trainer.
    device, precision : str
        Where and how to train (default: the CPU in float32; ``"auto"`` picks CUDA when
        there is one, where ``precision="auto"`` means bf16 autocast).
    progress : bool or None
        Force the progress bar over each epoch's batches on or off (``None``:
        :mod:`neuroattn.progress` decides).
    verbose : bool, int, str or None
        Log level while training; the trainer logs each epoch's losses at INFO.
    resume : bool
        Continue the run in ``out_dir`` from its last checkpoint (exactly as the
        uninterrupted run would); settings other than ``epochs``, ``device`` and the
        logging must be the run's.

    Returns
    -------
    TrainSummary
        The trainer's summary: ``history`` has one row per epoch (``epoch`` from 0,
        ``step``, ``lr``, ``loss``, the mean of the epoch's batch losses, ``seconds``, and
        with ``eval_every`` on evaluated epochs ``val_mrr`` and ``val_hits@1``/``3``/``10``);
        ``best`` is the best validation MRR and ``best_epoch`` its epoch (from 0; -1
        without validation), ``stopped_early`` whether patience ran out.

    Raises
    ------
    ParameterError
        A setting out of range, a model that is not a :class:`KGTrainable`, ids outside
        the model's vocabulary, or no training triples.
    neuroattn.config.ConfigError
        ``resume=True`` with settings that differ from the run's.

    Examples
    --------
    >>> model = DistMult(4, 1, dim=4, seed=0)
    >>> fit = fit_kg(model, [[0, 0, 1], [1, 0, 2], [2, 0, 3]], epochs=20, batch_size=2,
    ...              lr=0.05, progress=False, verbose="WARNING")
    >>> fit["epoch"], fit["history"][-1]["loss"] < fit["history"][0]["loss"]
    (20, True)
    """
    if not isinstance(model, nn.Module) or not isinstance(model, KGTrainable):
        raise ParameterError(
            f"model is a {type(model).__name__}, which fit_kg cannot train; pass a KG scorer "
            "with training_rows and kg_loss (RESCAL, DistMult, ComplEx or TensorBrainKG).")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        check_int(name, value, 1)
    check_number("lr", lr, lo=0.0, strict=True)
    check_number("weight", weight, lo=0.0)
    check_number("label_smoothing", label_smoothing, lo=0.0, hi=1.0)
    check_int("seed", seed, 0, 2**31 - 1)
    check_option("optimizer", optimizer, tuple(_OPTIMIZERS))
    regularizer_power(regularizer)
    if patience is not None and eval_every is None:
        raise ParameterError(f"patience={patience!r} needs validation; pass eval_every too "
                             "(or drop patience).")
    for name, value in (("eval_every", eval_every), ("patience", patience)):
        if value is not None:
            check_int(name, value, 1)
    if resume and out_dir is None:
        raise ParameterError("resume=True needs the run's out_dir; pass the directory of the "
                             "run to continue.")
    if isinstance(kg, KnowledgeGraph) and (kg.n_entities, kg.n_relations) != \
            (model.n_entities, model.n_relations):
        raise ParameterError(
            f"The model has {model.n_entities} entities and {model.n_relations} relations, "
            f"the graph {kg.n_entities} and {kg.n_relations}; build the model with the "
            "graph's sizes.")
    if eval_every is not None and (not isinstance(kg, KnowledgeGraph) or len(kg.valid) == 0):
        raise ParameterError("eval_every needs a KnowledgeGraph with validation triples; "
                             "pass one, or drop eval_every.")
    triples = as_triples(kg.train if isinstance(kg, KnowledgeGraph) else kg)
    if len(triples) == 0:
        raise ParameterError("kg has no training triples; pass at least one.")
    rows = torch.as_tensor(triples)
    for column, name, size in ((0, "head", model.n_entities), (1, "relation", model.n_relations),
                               (2, "tail", model.n_entities)):
        as_ids(rows[:, column], size, name)
    config = TrainConfig(epochs=int(epochs), lr=float(lr), weight_decay=0.0, warmup_steps=0,
                         grad_clip=None, schedule="constant", precision=precision,
                         device=str(device), seed=int(seed), log_every=_ONE_ROW_PER_EPOCH)
    run_config = {"train": config,
                  "model": {"name": model.model_name, **model.pretrained_config()},
                  "batch_size": int(batch_size), "optimizer": optimizer,
                  "regularizer": regularizer, "weight": float(weight),
                  "label_smoothing": float(label_smoothing), "eval_every": eval_every,
                  "patience": patience, "n_train": len(triples)}
    val_fn = None
    if eval_every is not None:
        known = kg.known_triples()

        def val_fn(_: nn.Module) -> dict[str, float]:
            if trainer.epoch % eval_every and trainer.epoch != trainer.config.epochs:
                return {}
            return link_prediction_metrics(model.score_tails, model.score_heads, kg.valid,
                                           known)["both"]

    stoppers: list[Callback] = []
    if eval_every is not None:
        stoppers.append(_RestoreBest() if patience is None else
                        EarlyStopping(patience * eval_every))
    with contextlib.ExitStack() as stack:
        stack.enter_context(use_log_level(verbose))
        if out_dir is None:
            out_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="neuroattn-kg-"))
        trainer = Trainer(_KGObjective(model, regularizer, float(weight), float(label_smoothing)),
                          objective_loss, config, out_dir, val_fn=val_fn, monitor="mrr",
                          mode="max", model_name=model.model_name, progress=progress,
                          run_config=run_config,
                          resume_may_change=[f"train.{key}" for key in RESUME_MAY_CHANGE],
                          callbacks=[*stoppers, *callbacks],
                          optimizer_factory=_OPTIMIZERS[optimizer])
        summary = trainer.fit(TripleBatches(model.training_rows(rows), batch_size, int(seed)),
                              resume=resume)
    model.eval()
    return summary


def filtered_ranks(scores: np.ndarray | torch.Tensor, targets: np.ndarray | Sequence[int],
                   filters: Iterable[Iterable[int]] | None = None,
                   ties: Ties = "realistic") -> np.ndarray:
    """Rank of each target among its row's scores, after removing the filtered candidates.

    Parameters
    ----------
    scores : array of shape (B, n)
        Higher means more plausible.
    targets : array of shape (B,)
        The column of the true answer in each row.
    filters : sequence of B collections of ints, optional
        Other true answers per row; they are removed before ranking (the
        target itself is never removed).
    ties : {"realistic", "optimistic", "pessimistic"}
        With ``g`` candidates scoring higher and ``e`` others scoring equal to
        the target: optimistic ``1 + g``, pessimistic ``1 + g + e``, realistic
        their mean ``1 + g + e / 2`` (the default).

    Returns
    -------
    numpy.ndarray
        ``float64`` ranks, 1 for the best.

    Examples
    --------
    >>> scores = [[0.9, 0.5, 0.5, 0.1]]
    >>> [float(filtered_ranks(scores, [1], ties=t)[0])
    ...  for t in ("optimistic", "realistic", "pessimistic")]
    [2.0, 2.5, 3.0]
    >>> float(filtered_ranks(scores, [1], filters=[{0}])[0])
    1.5
    """
    scores = torch.as_tensor(scores).detach().to("cpu", torch.float64).numpy().copy()
    if scores.ndim != 2:
        raise ParameterError(f"scores must have shape (B, n), got {scores.shape}.")
    targets = np.asarray(targets, dtype=np.int64)
    if targets.shape != (len(scores),):
        raise ParameterError(f"targets must have shape ({len(scores)},), got {targets.shape}.")
    if targets.size and (targets.min() < 0 or targets.max() >= scores.shape[1]):
        raise ParameterError(f"targets must lie in [0, {scores.shape[1]}).")
    if np.isnan(scores).any():
        raise ParameterError("scores contain NaN.")
    if ties not in ("realistic", "optimistic", "pessimistic"):
        raise ParameterError("ties must be 'realistic', 'optimistic' or 'pessimistic', got "
                             f"{ties!r}.")
    rows = np.arange(len(scores))
    target_scores = scores[rows, targets]
    keep = np.ones_like(scores, dtype=bool)
    if filters is not None:
        filters = list(filters)
        if len(filters) != len(scores):
            raise ParameterError(f"filters must have one entry per row ({len(scores)}), got "
                                 f"{len(filters)}.")
        for row, others in enumerate(filters):
            keep[row, list(others)] = False
    keep[rows, targets] = False
    greater = ((scores > target_scores[:, None]) & keep).sum(1)
    equal = ((scores == target_scores[:, None]) & keep).sum(1)
    tie_share = {"optimistic": 0.0, "realistic": 0.5, "pessimistic": 1.0}[ties]
    return 1.0 + greater + tie_share * equal


def rank_metrics(ranks: np.ndarray, ks: Sequence[int] = (1, 3, 10)) -> dict[str, float]:
    """MRR (mean of ``1 / rank``) and Hits@k (share of ``rank ≤ k``) of some ranks.

    Examples
    --------
    >>> rank_metrics([1, 2, 4], ks=(1, 3))
    {'mrr': 0.5833..., 'hits@1': 0.3333..., 'hits@3': 0.6666...}
    """
    ranks = np.asarray(ranks, dtype=np.float64)
    if ranks.size == 0:
        raise ParameterError("No ranks to summarise.")
    metrics = {"mrr": float(np.mean(1.0 / ranks))}
    metrics.update({f"hits@{k}": float(np.mean(ranks <= k)) for k in ks})
    return metrics


def _known_set(known: Iterable[tuple[int, int, int]] | np.ndarray) -> np.ndarray:
    if isinstance(known, set | frozenset):
        known = list(known)
    return as_triples(np.asarray(known, dtype=np.int64).reshape(-1, 3))


@torch.no_grad()
def _ranks(score_fn: ScoreFn, queries: tuple[np.ndarray, np.ndarray], targets: np.ndarray,
           filters: list[list[int]], ties: Ties, batch_size: int) -> np.ndarray:
    ranks = []
    for start in range(0, len(targets), batch_size):
        part = slice(start, start + batch_size)
        scores = score_fn(torch.as_tensor(queries[0][part]), torch.as_tensor(queries[1][part]))
        if scores.ndim != 2 or len(scores) != len(targets[part]):
            raise ParameterError(f"A score function must return shape (B, n), got "
                                 f"{tuple(scores.shape)} for B = {len(targets[part])}.")
        ranks.append(filtered_ranks(scores, targets[part], filters[part], ties))
    return np.concatenate(ranks)


def link_prediction_metrics(score_fn_tails: ScoreFn, score_fn_heads: ScoreFn,
                            triples: np.ndarray, known: Iterable[tuple[int, int, int]],
                            ks: Sequence[int] = (1, 3, 10), ties: Ties = "realistic",
                            batch_size: int = 1024) -> dict[str, dict[str, float]]:
    """Filtered MRR and Hits@k for tail queries ``(h, r, ?)``, head queries ``(?, r, t)`` and both.

    For each triple, the true tail is ranked among all entities for
    ``(h, r, ?)`` after removing every *other* entity ``t'`` with
    ``(h, r, t')`` in ``known`` (the filtered setting); likewise for heads.
    Ties are broken "realistically" by default: the mean of the optimistic and
    the pessimistic rank (see :func:`filtered_ranks`).

    Parameters
    ----------
    score_fn_tails : callable
        ``(h, r) -> (B, n_entities)`` scores, e.g. ``model.score_tails``.
    score_fn_heads : callable
        ``(r, t) -> (B, n_entities)`` scores, e.g. ``model.score_heads``.
    triples : array of shape (n, 3)
        The triples to rank (e.g. ``kg.test``).
    known : set of (h, r, t) or array of shape (m, 3)
        All true triples (e.g. ``kg.known_triples()``); ``triples`` need not be in it.
    ks : sequence of int
        The cut-offs of Hits@k.
    ties : {"realistic", "optimistic", "pessimistic"}
    batch_size : int
        Queries scored at once.

    Returns
    -------
    dict
        ``{"tail": m, "head": m, "both": m}`` where each ``m`` maps ``"mrr"``
        and ``"hits@k"`` to floats; ``"both"`` pools the ranks of both directions.

    Examples
    --------
    >>> base = PopularityBaseline([[0, 0, 1], [2, 0, 1], [2, 0, 0]], 3, 1)
    >>> m = link_prediction_metrics(base.score_tails, base.score_heads, [[1, 0, 0]],
    ...                             known=[[0, 0, 1], [2, 0, 1], [2, 0, 0]], ks=(1,))
    >>> m["tail"], m["head"]
    ({'mrr': 0.5, 'hits@1': 0.0}, {'mrr': 0.5, 'hits@1': 0.0})
    """
    triples = as_triples(triples)
    if len(triples) == 0:
        raise ParameterError("No triples to rank.")
    tails_of, heads_of = defaultdict(list), defaultdict(list)
    for h, r, t in _known_set(known).tolist():
        tails_of[h, r].append(t)
        heads_of[r, t].append(h)
    h, r, t = triples.T
    tail_filters = [tails_of[key] for key in zip(h.tolist(), r.tolist(), strict=True)]
    head_filters = [heads_of[key] for key in zip(r.tolist(), t.tolist(), strict=True)]
    tail_ranks = _ranks(score_fn_tails, (h, r), t, tail_filters, ties, batch_size)
    head_ranks = _ranks(score_fn_heads, (r, t), h, head_filters, ties, batch_size)
    return {"tail": rank_metrics(tail_ranks, ks), "head": rank_metrics(head_ranks, ks),
            "both": rank_metrics(np.concatenate([tail_ranks, head_ranks]), ks)}


def relation_prediction_metrics(score_fn_relations: ScoreFn, triples: np.ndarray,
                                known: Iterable[tuple[int, int, int]],
                                ks: Sequence[int] = (1, 3, 10), ties: Ties = "realistic",
                                batch_size: int = 1024) -> dict[str, float]:
    """Filtered MRR and Hits@k of the true relation of ``(h, ?, t)`` among all relations.

    Other relations ``r'`` with ``(h, r', t)`` in ``known`` are removed before
    ranking; ties as in :func:`link_prediction_metrics` (realistic by default).

    Parameters
    ----------
    score_fn_relations : callable
        ``(h, t) -> (B, n_relations)`` scores, e.g. ``model.score_relations``.
    triples, known, ks, ties, batch_size
        As for :func:`link_prediction_metrics`.

    Returns
    -------
    dict
        ``"mrr"`` and ``"hits@k"`` as floats.

    Examples
    --------
    >>> base = PopularityBaseline([[0, 0, 1], [0, 0, 2], [1, 1, 2]], 3, 2)
    >>> relation_prediction_metrics(base.score_relations, [[0, 1, 1]], known=[], ks=(1,))
    {'mrr': 0.5, 'hits@1': 0.0}
    """
    triples = as_triples(triples)
    if len(triples) == 0:
        raise ParameterError("No triples to rank.")
    relations_of = defaultdict(list)
    for h, r, t in _known_set(known).tolist():
        relations_of[h, t].append(r)
    h, r, t = triples.T
    filters = [relations_of[key] for key in zip(h.tolist(), t.tolist(), strict=True)]
    return rank_metrics(_ranks(score_fn_relations, (h, t), r, filters, ties, batch_size), ks)
