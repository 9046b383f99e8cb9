"""Tests of the tensor brain as a KG scorer (:mod:`neuroattn.semantic.kg_decoder`)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from neuroattn.datasets.knowledge_graphs import KnowledgeGraph, load_knowledge_graph
from neuroattn.errors import ParameterError
from neuroattn.semantic.kg import (
    PopularityBaseline,
    fit_kg,
    link_prediction_metrics,
    relation_prediction_metrics,
)
from neuroattn.semantic.kg_decoder import TensorBrainKG

N_ENT, N_REL, DIM = 7, 3, 9


@pytest.fixture
def tb() -> TensorBrainKG:
    return TensorBrainKG(N_ENT, N_REL, dim=DIM, seed=0)


def test_three_queries_are_the_decoders_joint_log_probability(tb: TensorBrainKG) -> None:
    """tails[t] = relations[r] = teacher log P(h, r, t); heads[h] = teacher log P(t, r⁻¹, h)."""
    h, r, t = torch.tensor([0, 3, 6]), torch.tensor([2, 0, 1]), torch.tensor([5, 3, 1])
    with torch.no_grad():
        forward = tb.decode(h, r, t).log_likelihood
        backward = tb.decode(t, r + N_REL, h).log_likelihood
        tails, heads, rels = tb.score_tails(h, r), tb.score_heads(r, t), tb.score_relations(h, t)
    rows = torch.arange(3)
    torch.testing.assert_close(tails[rows, t], forward)
    torch.testing.assert_close(rels[rows, r], forward)
    torch.testing.assert_close(heads[rows, h], backward)
    # a tail query's scores are the log of a sub-probability: exp sums to P(h) P(r | h) <= 1
    assert bool((tails.exp().sum(1) <= 1 + 1e-6).all())


def test_scoring_reads_the_banks_single_matrix(tb: TensorBrainKG) -> None:
    params = dict(tb.named_parameters())
    assert [k for k, v in params.items() if v.ndim == 2 and v.shape[0] == N_ENT + 2 * N_REL] \
        == ["bank.A"]
    before = tb.score_tails([1], [1]).detach()
    with torch.no_grad():
        tb.bank.A[tb.bank.slices["entity"].start + 4] += 1.0
    after = tb.score_tails([1], [1]).detach()
    assert not torch.allclose(before, after)
    tb.score_tails([2], [0]).sum().backward()
    assert tb.bank.A.grad is not None and tb.bank.A.grad.abs().sum() > 0


def test_shapes_and_bad_inputs(tb: TensorBrainKG) -> None:
    assert tb.score_tails([0, 1, 2, 3], [0, 1, 2, 0]).shape == (4, N_ENT)
    assert tb.score_heads(np.array([0, 2]), np.array([6, 0])).shape == (2, N_ENT)
    assert tb.score_relations([0], [1]).shape == (1, N_REL)
    with pytest.raises(ValueError, match="relation ids must lie"):
        tb.score_tails([0], [N_REL])  # reciprocal ids are internal
    with pytest.raises(ValueError, match="head ids must lie"):
        tb.score_tails([N_ENT], [0])
    with pytest.raises(ValueError, match="integers"):
        tb.score_heads(torch.tensor([0.5]), torch.tensor([1]))
    with pytest.raises(ValueError, match="same length"):
        tb.score_relations([0, 1], [2])
    with pytest.raises(ValueError, match="at least one"):
        TensorBrainKG(0, 1)
    with pytest.raises(ParameterError, match="Linear, which fit_kg cannot train"):
        fit_kg(torch.nn.Linear(2, 2), [[0, 0, 1]])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="relation ids"):
        fit_kg(tb, [[0, N_REL, 1]], epochs=1)
    with pytest.raises(ParameterError, match="epochs=0 must be >= 1"):
        fit_kg(tb, [[0, 0, 1]], epochs=0)
    with pytest.raises(ParameterError, match="label_smoothing=0.1 is not supported"):
        fit_kg(tb, [[0, 0, 1]], epochs=1, label_smoothing=0.1, progress=False)


def test_training_is_seeded() -> None:
    triples = [[0, 0, 1], [1, 1, 2], [2, 2, 3], [3, 0, 4]]
    runs = []
    for _ in range(2):
        model = TensorBrainKG(5, 3, dim=6, seed=1)
        fit_kg(model, triples, epochs=3, batch_size=3, seed=2, progress=False)
        runs.append(model.bank.A.detach().clone())
    torch.testing.assert_close(runs[0], runs[1])


def test_training_rows_are_the_triples_and_their_reciprocals_shuffled_together() -> None:
    """8 rows from 4 triples; 3 epochs of 3 batches (3, 3, 2 rows) are 9 steps."""
    triples = [[0, 0, 1], [1, 1, 2], [2, 2, 3], [3, 0, 4]]
    fit = fit_kg(TensorBrainKG(5, 3, dim=6, seed=1), triples, epochs=3, batch_size=3,
                 progress=False)
    assert fit["step"] == 9
    rows = TensorBrainKG(5, 3, dim=6).training_rows(torch.tensor(triples))
    assert rows[4:].tolist() == [[1, 3, 0], [2, 4, 1], [3, 5, 2], [4, 3, 3]]


def test_a_killed_fit_resumes_exactly(tmp_path) -> None:
    """Killed in epoch 2 of 3 (epoch 1 checkpointed), resumed: the straight run's weights."""
    kg = _synthetic_kg()
    settings = {"epochs": 3, "batch_size": 16, "lr": 0.01, "weight": 0.01, "seed": 3,
                "eval_every": 2}

    def make() -> TensorBrainKG:
        return TensorBrainKG(kg.n_entities, kg.n_relations, dim=8, seed=0)

    straight = make()
    fit_kg(straight, kg, tmp_path / "straight", progress=False, **settings)
    broken, calls = make(), {"n": 0}
    kg_loss = broken.kg_loss

    def dying(batch: torch.Tensor, **kwargs) -> torch.Tensor:
        calls["n"] += 1
        if calls["n"] == 6:  # 68 rows: 5 batches per epoch; the first batch of epoch 2
            raise KeyboardInterrupt("killed")
        return kg_loss(batch, **kwargs)

    broken.kg_loss = dying
    with pytest.raises(KeyboardInterrupt):
        fit_kg(broken, kg, tmp_path / "broken", progress=False, **settings)
    resumed = make()
    summary = fit_kg(resumed, kg, tmp_path / "broken", progress=False, resume=True, **settings)
    assert summary["step"] == 15 and [h["epoch"] for h in summary["history"]] == [0, 1, 2]
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values(),
                            strict=True):
        assert torch.equal(a, b), name


def _synthetic_kg(seed: int = 0) -> KnowledgeGraph:
    """Two functional, asymmetric relations on 20 entities: r0 = successor, r1 = skip 3."""
    n = 20
    rows = [(e, 0, (e + 1) % n) for e in range(n)] + [(e, 1, (e + 3) % n) for e in range(n)]
    order = np.random.default_rng(seed).permutation(len(rows))
    triples = np.asarray(rows)[order]
    return KnowledgeGraph(tuple(f"e{i}" for i in range(n)), ("next", "skip"), triples[:34],
                          triples[34:37], triples[37:])


def test_learns_a_small_synthetic_kg_fast() -> None:
    """Fits the training facts (filtered MRR over both directions and predicate H@1 >= 0.9)."""
    kg = _synthetic_kg()
    start = time.perf_counter()
    model = TensorBrainKG(kg.n_entities, kg.n_relations, dim=32, seed=0)
    fit_kg(model, kg.train, epochs=150, batch_size=32, lr=0.005, weight=0.0, progress=False,
           verbose="WARNING")
    train_metrics = link_prediction_metrics(model.score_tails, model.score_heads, kg.train,
                                            kg.known_triples())
    pop = PopularityBaseline(kg.train, kg.n_entities, kg.n_relations)
    pop_metrics = link_prediction_metrics(pop.score_tails, pop.score_heads, kg.train,
                                          kg.known_triples())
    rel = relation_prediction_metrics(model.score_relations, kg.train, kg.known_triples())
    seconds = time.perf_counter() - start
    print(f"synthetic: TB train MRR {train_metrics['both']['mrr']:.3f}, popularity "
          f"{pop_metrics['both']['mrr']:.3f}, predicate MRR {rel['mrr']:.3f}, {seconds:.1f} s")
    assert train_metrics["both"]["mrr"] >= 0.9
    assert rel["hits@1"] >= 0.9
    assert pop_metrics["both"]["mrr"] < 0.5


@pytest.mark.slow
def test_kinships_mrr_beats_popularity() -> None:
    """Kinships test split, filtered, both directions, realistic ties: MRR >= 0.70, >= 5x pop."""
    torch.manual_seed(0)
    kg = load_knowledge_graph("kinships")
    start = time.perf_counter()
    model = TensorBrainKG(kg.n_entities, kg.n_relations, dim=256, seed=0)
    fit_kg(model, kg, epochs=20, batch_size=256, lr=0.003, weight=0.01, seed=0, progress=False,
           verbose="WARNING")
    seconds = time.perf_counter() - start
    known = kg.known_triples()
    tb = link_prediction_metrics(model.score_tails, model.score_heads, kg.test, known,
                                 ties="realistic")
    pop = PopularityBaseline(kg.train, kg.n_entities, kg.n_relations)
    base = link_prediction_metrics(pop.score_tails, pop.score_heads, kg.test, known,
                                   ties="realistic")
    rel = relation_prediction_metrics(model.score_relations, kg.test, known)
    print(f"kinships: TB {tb['both']} (tail {tb['tail']['mrr']:.3f}, head "
          f"{tb['head']['mrr']:.3f}), predicate {rel}, popularity MRR "
          f"{base['both']['mrr']:.3f}, train {seconds:.1f} s")
    assert tb["both"]["mrr"] >= 0.70
    assert tb["both"]["mrr"] >= 5 * base["both"]["mrr"]
