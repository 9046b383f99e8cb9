"""One validation-selected hyper-parameter search for every KG scorer, with one budget.

A comparison of knowledge-graph models is only fair if every model gets the same tuning.
:func:`search_kg_model` trains one model kind (the tensor-brain decoder
:class:`~neuroattn.semantic.kg_decoder.TensorBrainKG`, or :class:`~neuroattn.semantic.kg.ComplEx`,
:class:`~neuroattn.semantic.kg.RESCAL`, :class:`~neuroattn.semantic.kg.DistMult`) once per
configuration of a :class:`KGSearchSpace` (embedding size, learning rate, regularisation
weight), each up to ``max_epochs`` with early stopping on the **validation** filtered MRR, and
keeps the configuration and epoch with the best validation MRR. For a comparison, give every
model kind the same space (the same number of configurations, learning rates, weights, epoch
cap, evaluation cadence and patience) and let only the embedding sizes be the model's own
(``dataclasses.replace(space, dims=...)``), because one ``dim`` means different things:
ComplEx counts complex numbers, RESCAL has a ``dim × dim`` matrix per relation.

Validation MRR is the standard filtered MRR (every other true triple of train, valid and test
leaves the candidate list; no test triple is ever ranked or trained on), pooled over tail
and head queries, ties "realistic" (see :func:`~neuroattn.semantic.kg.link_prediction_metrics`).

Examples
--------
>>> import numpy as np
>>> from neuroattn.datasets.knowledge_graphs import KnowledgeGraph
>>> rows = np.array([[e, 0, (e + 1) % 6] for e in range(6)] + [[e, 1, (e + 2) % 6]
...                                                           for e in range(6)])
>>> kg = KnowledgeGraph(tuple("abcdef"), ("next", "skip"), rows[:10], rows[10:11], rows[11:])
>>> space = KGSearchSpace(dims=(4, 8), lrs=(0.01,), weights=(0.0,), max_epochs=4, eval_every=2)
>>> result = search_kg_model("distmult", kg, space)
>>> len(result.trials), sorted(result.config)
(2, ['dim', 'epochs', 'lr', 'weight'])
"""

from __future__ import annotations

import itertools
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from torch import nn

from neuroattn._logging import Verbose, logger, use_log_level
from neuroattn.datasets.knowledge_graphs import KnowledgeGraph
from neuroattn.errors import NeuroattnError
from neuroattn.semantic.kg import RESCAL, ComplEx, DistMult, fit_kg
from neuroattn.semantic.kg_decoder import TensorBrainKG

__all__ = ["KG_MODEL_KINDS", "REGULARIZERS", "KGSearchResult", "KGSearchSpace",
           "SearchSpaceError", "search_kg_model"]

ModelKind = Literal["tb", "complex", "rescal", "distmult"]
#: The model kinds :func:`search_kg_model` trains.
KG_MODEL_KINDS: tuple[str, ...] = ("tb", "complex", "rescal", "distmult")
#: The regulariser each kind is trained with (its weight is searched): N3 (Lacroix et al.
#: 2018) for the factorisations and the tensor-brain decoder's bank, L2 for RESCAL's matrices.
REGULARIZERS: dict[str, str] = {"tb": "n3", "complex": "n3", "rescal": "l2", "distmult": "n3"}
_MODELS = {"tb": TensorBrainKG, "complex": ComplEx, "rescal": RESCAL, "distmult": DistMult}


class SearchSpaceError(NeuroattnError, ValueError):
    """A search space or search request that cannot run (the message says what to change)."""


@dataclass(frozen=True)
class KGSearchSpace:
    """The configurations a search tries, and its early-stopping rule.

    Parameters
    ----------
    dims, lrs, weights : tuple
        Embedding sizes (in the model's own ``dim``), Adam learning rates (``> 0``) and
        regularisation weights (``>= 0``).
    max_epochs : int
        Epoch cap of every configuration.
    eval_every : int
        Validation MRR is measured every ``eval_every`` epochs and after the last one.
    patience : int
        Stop a configuration after this many evaluations without a better validation MRR.
    design : {"full", "half"}
        ``"full"``: every combination. ``"half"``: the combinations whose level positions
        (0-based, in the order given) sum to an even number; with two levels per factor this
        is the half-fraction 2³⁻¹ design, in which each level of each factor occurs equally
        often and every pair of levels of two factors once.

    Examples
    --------
    >>> space = KGSearchSpace(dims=(128, 256), lrs=(0.003, 0.01), weights=(0.01, 0.03),
    ...                       max_epochs=60, design="half")
    >>> [(c["dim"], c["lr"], c["weight"]) for c in space.configs()]
    [(128, 0.003, 0.01), (128, 0.01, 0.03), (256, 0.003, 0.03), (256, 0.01, 0.01)]
    >>> space.n_configs, KGSearchSpace((8,), (0.1,), (0.0,), max_epochs=3).n_configs
    (4, 1)
    """

    dims: tuple[int, ...]
    lrs: tuple[float, ...]
    weights: tuple[float, ...]
    max_epochs: int
    eval_every: int = 5
    patience: int = 3
    design: Literal["full", "half"] = "full"

    def __post_init__(self) -> None:
        for name in ("dims", "lrs", "weights"):
            values = tuple(getattr(self, name))
            if not values:
                raise SearchSpaceError(f"{name} is empty; give at least one value.")
            if len(set(values)) != len(values):
                raise SearchSpaceError(f"{name} repeats a value: {values}.")
            object.__setattr__(self, name, values)
        if any(int(d) != d or d < 1 for d in self.dims):
            raise SearchSpaceError(f"dims must be positive integers, got {self.dims}.")
        if any(v <= 0 for v in self.lrs):
            raise SearchSpaceError(f"learning rates must be > 0, got lrs {self.lrs}; for an "
                                   "untrained control, use a tiny rate such as 1e-9.")
        if any(v < 0 for v in self.weights):
            raise SearchSpaceError(f"weights must be >= 0, got weights {self.weights}.")
        for name in ("max_epochs", "eval_every", "patience"):
            if int(getattr(self, name)) < 1:
                raise SearchSpaceError(f"{name} must be a positive integer, got "
                                       f"{getattr(self, name)}.")
        if self.design not in ("full", "half"):
            raise SearchSpaceError(f"design must be 'full' or 'half', got {self.design!r}.")
        if self.design == "half" and not self.configs():
            raise SearchSpaceError("the half design of this space is empty; use 'full'.")

    def configs(self) -> list[dict[str, float]]:
        """The configurations ``{"dim", "lr", "weight"}``, in a fixed order."""
        levels = itertools.product(enumerate(self.dims), enumerate(self.lrs),
                                   enumerate(self.weights))
        return [{"dim": int(d), "lr": float(lr), "weight": float(w)}
                for (i, d), (j, lr), (k, w) in levels
                if self.design == "full" or (i + j + k) % 2 == 0]

    @property
    def n_configs(self) -> int:
        """Number of configurations (the search's budget, with ``max_epochs``)."""
        return len(self.configs())

    def to_dict(self) -> dict[str, Any]:
        """The space as JSON-ready values."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass
class KGSearchResult:
    """What :func:`search_kg_model` found.

    Attributes
    ----------
    kind : str
        The model kind.
    model : torch.nn.Module
        The selected configuration's model, with the weights of its best validation epoch,
        in eval mode.
    config : dict
        ``dim``, ``lr``, ``weight`` and ``epochs`` (the best validation epoch).
    valid_mrr : float
        Its validation filtered MRR.
    trials : list of dict
        One per configuration, in order: the configuration, ``best_epoch``, ``valid_mrr``,
        ``epochs_run``, ``curve`` (``[epoch, validation MRR]`` pairs) and ``train_s``.
    space : KGSearchSpace
    """

    kind: str
    model: nn.Module = field(repr=False)
    config: dict[str, float]
    valid_mrr: float
    trials: list[dict[str, Any]] = field(repr=False)
    space: KGSearchSpace = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Everything but the model, as JSON-ready values."""
        return {"kind": self.kind, "regularizer": REGULARIZERS[self.kind],
                "config": dict(self.config), "valid_mrr": self.valid_mrr,
                "trials": [dict(t) for t in self.trials], "space": self.space.to_dict(),
                "epochs_run_total": int(sum(t["epochs_run"] for t in self.trials)),
                "train_s_total": float(sum(t["train_s"] for t in self.trials))}


def _build(kind: str, kg: KnowledgeGraph, dim: int, seed: int) -> nn.Module:
    return _MODELS[kind](kg.n_entities, kg.n_relations, dim=dim, seed=seed)


def search_kg_model(kind: ModelKind, kg: KnowledgeGraph, space: KGSearchSpace, *,
                    batch_size: int = 256, seed: int = 0, verbose: Verbose = None
                    ) -> KGSearchResult:
    """Train ``kind`` for every configuration of ``space``; keep the best on validation MRR.

    Each configuration starts from the same seeded initialisation and shuffling
    (``seed``), trains with Adam (:func:`~neuroattn.semantic.kg.fit_kg`, in a temporary
    run directory whose checkpoints are discarded; regulariser :data:`REGULARIZERS`), and
    is evaluated on ``kg.valid`` every ``space.eval_every`` epochs and after its last
    epoch. It stops at ``space.max_epochs``, or once ``space.patience`` evaluations in a
    row did not beat its best validation MRR; its weights at the best evaluation are kept.
    The configuration with the highest validation MRR wins (the first one on a tie).

    Parameters
    ----------
    kind : {"tb", "complex", "rescal", "distmult"}
    kg : KnowledgeGraph
        Trained on ``kg.train``, selected on ``kg.valid``; ``kg.test`` only filters.
    space : KGSearchSpace
    batch_size : int
        Training triples per step.
    seed : int
        Seed of the initialisation and of the shuffling, the same for every configuration.
    verbose : bool, int, str or None
        Log level; each configuration's result is logged at INFO.

    Returns
    -------
    KGSearchResult

    Raises
    ------
    SearchSpaceError
        An unknown ``kind``, or a graph without validation triples.

    Examples
    --------
    >>> import numpy as np
    >>> from neuroattn.datasets.knowledge_graphs import KnowledgeGraph
    >>> rows = np.array([[e, 0, (e + 1) % 5] for e in range(5)])
    >>> kg = KnowledgeGraph(tuple("abcde"), ("next",), rows[:3], rows[3:4], rows[4:])
    >>> space = KGSearchSpace(dims=(4,), lrs=(1e-9, 0.05), weights=(0.0,), max_epochs=6,
    ...                       eval_every=2, patience=1)
    >>> result = search_kg_model("complex", kg, space)
    >>> result.trials[0]["epochs_run"]  # lr 1e-9 never improves: stopped after 1 + patience
    4
    >>> result.config["lr"], result.valid_mrr > result.trials[0]["valid_mrr"]
    (0.05, True)
    """
    if kind not in _MODELS:
        raise SearchSpaceError(f"kind must be one of {KG_MODEL_KINDS}, got {kind!r}.")
    if not isinstance(kg, KnowledgeGraph):
        raise SearchSpaceError(f"kg must be a KnowledgeGraph (train, valid and test splits), "
                               f"got {type(kg).__name__}.")
    if len(kg.valid) == 0:
        raise SearchSpaceError("kg has no validation triples to select on; split some off "
                               "the training triples.")
    trials: list[dict[str, Any]] = []
    best: tuple[float, int, dict, nn.Module] | None = None
    with use_log_level(verbose):
        for config in space.configs():
            model = _build(kind, kg, config["dim"], seed)
            start = time.perf_counter()
            fit = fit_kg(model, kg, epochs=space.max_epochs, batch_size=batch_size,
                         lr=config["lr"], regularizer=REGULARIZERS[kind],
                         weight=config["weight"], seed=seed, eval_every=space.eval_every,
                         patience=space.patience, progress=False, verbose=False)
            seconds = time.perf_counter() - start
            curve = [[row["epoch"] + 1, row["val_mrr"]] for row in fit["history"]
                     if "val_mrr" in row]
            trial = {**config, "best_epoch": fit["best_epoch"] + 1, "valid_mrr": fit["best"],
                     "epochs_run": fit["epoch"], "curve": curve, "train_s": seconds}
            trials.append(trial)
            logger.info("%s %s: valid MRR %.4f at epoch %d of %d (%.0f s)", kind, config,
                        trial["valid_mrr"], trial["best_epoch"], trial["epochs_run"], seconds)
            if best is None or trial["valid_mrr"] > best[0]:
                best = (trial["valid_mrr"], len(trials) - 1, config, model)
    mrr, index, config, model = best
    return KGSearchResult(kind=kind, model=model,
                          config={**config, "epochs": trials[index]["best_epoch"]},
                          valid_mrr=mrr, trials=trials, space=space)
