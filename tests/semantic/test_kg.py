"""KG scorers and filtered ranking: exact toy cases, model identities, learning, Kinships."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from neuroattn.datasets.knowledge_graphs import KnowledgeGraph, load_knowledge_graph
from neuroattn.errors import ParameterError
from neuroattn.semantic import (
    RESCAL,
    ComplEx,
    DistMult,
    PopularityBaseline,
    filtered_ranks,
    fit_kg,
    link_prediction_metrics,
    relation_prediction_metrics,
)

N_ENT, N_REL, DIM = 7, 3, 5  # unequal on purpose


def _table_scorer(table):
    """A scorer that looks scores up by its first query argument."""
    table = torch.as_tensor(table, dtype=torch.float64)
    return lambda a, b: table[torch.as_tensor(a)]


# Toy: 4 entities, 1 relation. Tail scores of (0, r, ?) are [0.1, 0.5, 0.9, 0.5].
# Known: (0,0,1) is the test triple, (0,0,2) is another true tail, (3,0,2) is unrelated to it.
TAIL_TABLE = [[0.1, 0.5, 0.9, 0.5]] + [[0.0] * 4] * 3
HEAD_TABLE = [[0.0] * 4, [0.8, 0.2, 0.2, 0.8]] + [[0.0] * 4] * 2  # scores of (?, r, 1)
KNOWN = {(0, 0, 1), (0, 0, 2), (3, 0, 2)}


@pytest.mark.parametrize(("ties", "tail_rank", "head_rank"), [
    ("optimistic", 1.0, 1.0), ("realistic", 1.5, 1.5), ("pessimistic", 2.0, 2.0)])
def test_filtered_ranking_on_a_toy_example(ties, tail_rank, head_rank):
    # Tail: t=2 (0.9) is filtered, t=3 ties with the target (0.5), t=0 is lower.
    # Head: only (0, 0, 1) itself is known for (?, 0, 1); h=3 ties with the target h=0 (0.8).
    metrics = link_prediction_metrics(_table_scorer(TAIL_TABLE),
                                      lambda r, t: _table_scorer(HEAD_TABLE)(t, r),
                                      [[0, 0, 1]], KNOWN, ks=(1, 2), ties=ties)
    assert metrics["tail"]["mrr"] == pytest.approx(1 / tail_rank)
    assert metrics["head"]["mrr"] == pytest.approx(1 / head_rank)
    assert metrics["both"]["mrr"] == pytest.approx((1 / tail_rank + 1 / head_rank) / 2)
    assert metrics["tail"]["hits@1"] == float(tail_rank <= 1)
    assert metrics["tail"]["hits@2"] == 1.0


def test_unfiltered_toy_ranks_count_the_other_true_tail():
    ranks = {t: float(filtered_ranks([TAIL_TABLE[0]], [1], ties=t)[0])
             for t in ("optimistic", "realistic", "pessimistic")}
    assert ranks == {"optimistic": 2.0, "realistic": 2.5, "pessimistic": 3.0}


def test_filter_removes_exactly_the_other_true_triples():
    rng = np.random.default_rng(0)
    n, n_rel = 9, 2
    known = {tuple(int(x) for x in row) for row in
             np.stack([rng.integers(0, n, 30), rng.integers(0, n_rel, 30),
                       rng.integers(0, n, 30)], 1)}
    table = rng.standard_normal((n, n))  # distinct scores, tail scores depend on h only
    test = np.array(sorted(known)[:10])
    metrics = link_prediction_metrics(_table_scorer(table), _table_scorer(table), test, known,
                                      ks=(1,))
    expected = []
    for h, r, t in test:
        others = {tt for (hh, rr, tt) in known if (hh, rr) == (h, r) and tt != t}
        expected.append(1 + sum(table[h, c] > table[h, t] for c in range(n) if c not in others))
    assert metrics["tail"]["mrr"] == pytest.approx(np.mean(1 / np.array(expected)))
    # True triples of other queries, (h', r, ·) and (h, r', ·), never filter (h, r, ?).
    others = {(h, 0, c) for h in range(1, n) for c in range(n)} | {(0, 1, c) for c in range(n)}
    unfiltered = link_prediction_metrics(_table_scorer(table), _table_scorer(table),
                                         [[0, 0, 4]], others | {(0, 0, 4)}, ks=(1,))
    assert unfiltered["tail"]["mrr"] == 1 / (1 + (table[0] > table[0, 4]).sum())


def test_relation_prediction_filters_other_true_relations():
    table = torch.tensor([[0.9, 0.1, 0.5]] * 2)  # relation scores, the same for every pair
    score = lambda h, t: table[torch.as_tensor(h)]  # noqa: E731
    triples = [[0, 2, 1]]
    assert relation_prediction_metrics(score, triples, [], ks=(1,)) == {"mrr": 0.5, "hits@1": 0.0}
    filtered = relation_prediction_metrics(score, triples, {(0, 0, 1), (1, 0, 1)}, ks=(1,))
    assert filtered == {"mrr": 1.0, "hits@1": 1.0}


def _models(reciprocal):
    return [cls(N_ENT, N_REL, DIM, reciprocal=reciprocal, seed=1)
            for cls in (DistMult, ComplEx, RESCAL)]


@pytest.mark.parametrize("model", _models(reciprocal=False), ids=lambda m: type(m).__name__)
def test_the_three_queries_score_the_same_triples(model):
    h, r, t = torch.tensor([0, 6, 3]), torch.tensor([2, 0, 1]), torch.tensor([5, 6, 0])
    rows = torch.arange(3)
    tails, heads, rels = model.score_tails(h, r), model.score_heads(r, t), \
        model.score_relations(h, t)
    assert tails.shape == (3, N_ENT) and heads.shape == (3, N_ENT) and rels.shape == (3, N_REL)
    torch.testing.assert_close(tails[rows, t], heads[rows, h])
    torch.testing.assert_close(tails[rows, t], rels[rows, r])


@pytest.mark.parametrize("model", _models(reciprocal=True), ids=lambda m: type(m).__name__)
def test_reciprocal_heads_are_tails_of_the_inverse_relation(model):
    r, t = torch.tensor([0, 2]), torch.tensor([4, 1])
    torch.testing.assert_close(model.score_heads(r, t), model._tails(t, r + N_REL))
    assert model.score_relations(t, t).shape == (2, N_REL)  # forward relations only


def test_distmult_is_symmetric_in_head_and_tail():
    model = DistMult(N_ENT, N_REL, DIM, reciprocal=False, seed=2)
    h, r = torch.arange(N_ENT).repeat(N_REL), torch.arange(N_REL).repeat_interleave(N_ENT)
    scores = model.score_tails(h, r).reshape(N_REL, N_ENT, N_ENT)  # [r, h, t]
    torch.testing.assert_close(scores, scores.transpose(1, 2))
    torch.testing.assert_close(model.score_heads(r, h), model.score_tails(h, r))


def _queries():
    return torch.tensor([0, 3, 6, 2]), torch.tensor([1, 0, 2, 1]), torch.tensor([5, 5, 0, 2])


@pytest.mark.parametrize("reciprocal", [False, True])
def test_complex_with_zero_imaginary_parts_is_distmult(reciprocal):
    dm = DistMult(N_ENT, N_REL, DIM, reciprocal=reciprocal, seed=3)
    cx = ComplEx(N_ENT, N_REL, DIM, reciprocal=reciprocal, seed=4)
    with torch.no_grad():
        cx.entity_re.copy_(dm.entity)
        cx.relation_re.copy_(dm.relation)
        cx.entity_im.zero_()
        cx.relation_im.zero_()
    h, r, t = _queries()
    for query, args in (("score_tails", (h, r)), ("score_heads", (r, t)),
                        ("score_relations", (h, t))):
        torch.testing.assert_close(getattr(cx, query)(*args), getattr(dm, query)(*args))


def test_complex_is_not_symmetric():
    cx = ComplEx(N_ENT, N_REL, DIM, reciprocal=False, seed=5)
    h, r, _ = _queries()
    assert not torch.allclose(cx.score_tails(h, r), cx.score_heads(r, h))


@pytest.mark.parametrize("reciprocal", [False, True])
def test_rescal_with_diagonal_matrices_is_distmult(reciprocal):
    dm = DistMult(N_ENT, N_REL, DIM, reciprocal=reciprocal, seed=6)
    rescal = RESCAL(N_ENT, N_REL, DIM, reciprocal=reciprocal, seed=7)
    with torch.no_grad():
        rescal.entity.copy_(dm.entity)
        rescal.relation.copy_(torch.diag_embed(dm.relation))
    h, r, t = _queries()
    for query, args in (("score_tails", (h, r)), ("score_heads", (r, t)),
                        ("score_relations", (h, t))):
        torch.testing.assert_close(getattr(rescal, query)(*args), getattr(dm, query)(*args))


def test_popularity_baseline_ranks_by_frequency():
    # relation 0: tail 2 three times, tail 1 twice, tail 0 once; heads 3 (x4), 0 (x2)
    train = [[3, 0, 2]] * 3 + [[3, 0, 1], [0, 0, 1], [0, 0, 0], [1, 1, 3]]
    base = PopularityBaseline(np.array(train), n_entities=4, n_relations=2)
    assert base.score_tails([1, 2], [0, 0]).tolist() == [[1, 2, 3, 0]] * 2
    assert base.score_heads([0], [3]).tolist() == [[2, 0, 0, 4]]
    assert base.score_relations([0], [1]).tolist() == [[6, 1]]
    # tails 2, 1, 0 get ranks 1, 2, 3 (nothing filtered but the triple itself)
    triples = [[1, 0, 2], [1, 0, 1], [1, 0, 0]]
    ranks = [link_prediction_metrics(base.score_tails, base.score_heads, [tr], [tr])["tail"]
             ["mrr"] for tr in triples]
    assert ranks == pytest.approx([1, 1 / 2, 1 / 3])


def test_scorers_validate_ids_and_shapes():
    model = ComplEx(N_ENT, N_REL, DIM)
    with pytest.raises(ValueError, match=r"head ids must lie in \[0, 7\), got \[0, 7\]"):
        model.score_tails([0, 7], [0, 0])
    with pytest.raises(ValueError, match=r"relation ids must lie in \[0, 3\)"):
        model.score_heads([3], [0])
    with pytest.raises(ValueError, match="must be 1-D"):
        model.score_tails([[0]], [[0]])
    with pytest.raises(ValueError, match="must be integers"):
        model.score_relations([0.5], [1.0])
    with pytest.raises(ValueError, match=r"triples must have shape \(n, 3\)"):
        link_prediction_metrics(model.score_tails, model.score_heads, [[0, 1]], [])
    with pytest.raises(ValueError, match="ties must be"):
        link_prediction_metrics(model.score_tails, model.score_heads, [[0, 1, 2]], [],
                                ties="random")
    with pytest.raises(ValueError, match="tail ids must lie"):
        PopularityBaseline([[0, 0, 9]], N_ENT, N_REL)


def test_fit_validates_inputs():
    model = DistMult(N_ENT, N_REL, DIM)
    kg = KnowledgeGraph(tuple("ab"), ("r",), np.array([[0, 0, 1]]), np.zeros((0, 3), int),
                        np.zeros((0, 3), int))
    with pytest.raises(ParameterError, match="The model has 7 entities and 3 relations"):
        fit_kg(model, kg, epochs=1)
    with pytest.raises(ParameterError, match="regularizer='l1' is not one of 'n3', 'l2'"):
        fit_kg(model, [[0, 0, 1]], epochs=1, regularizer="l1")
    with pytest.raises(ParameterError, match="optimizer='sgd' is not one of"):
        fit_kg(model, [[0, 0, 1]], epochs=1, optimizer="sgd")
    with pytest.raises(ParameterError, match="lr=0.0 must be > 0"):
        fit_kg(model, [[0, 0, 1]], epochs=1, lr=0.0)
    with pytest.raises(ValueError, match=r"tail ids must lie in \[0, 7\)"):
        fit_kg(model, [[0, 0, 7]], epochs=1)
    with pytest.raises(ParameterError, match="no training triples"):
        fit_kg(model, np.zeros((0, 3), int), epochs=1)
    with pytest.raises(ParameterError, match="PopularityBaseline, which fit_kg cannot train"):
        fit_kg(PopularityBaseline([[0, 0, 1]], N_ENT, N_REL), [[0, 0, 1]], epochs=1)
    with pytest.raises(ParameterError, match="eval_every needs a KnowledgeGraph"):
        fit_kg(model, [[0, 0, 1]], epochs=1, eval_every=1)
    with pytest.raises(ParameterError, match="patience=2 needs validation"):
        fit_kg(model, [[0, 0, 1]], epochs=1, patience=2)
    with pytest.raises(ParameterError, match="resume=True needs the run's out_dir"):
        fit_kg(model, [[0, 0, 1]], epochs=1, resume=True)


@pytest.mark.parametrize("optimizer", ["adam", "adagrad"])
def test_fit_is_deterministic_given_seeds(optimizer):
    triples = [[0, 0, 1], [1, 1, 2], [2, 2, 3], [4, 0, 6], [5, 1, 0]]
    runs = []
    for _ in range(2):
        model = ComplEx(N_ENT, N_REL, DIM, seed=8)
        fit = fit_kg(model, triples, epochs=5, batch_size=2, optimizer=optimizer,
                     regularizer="l2", seed=9, progress=False)
        runs.append(([row["loss"] for row in fit["history"]], model.entity_re.detach().clone()))
    assert runs[0][0] == runs[1][0]
    torch.testing.assert_close(runs[0][1], runs[1][1], rtol=0, atol=0)


def test_fit_takes_the_steps_of_a_plain_loop():
    """One randperm per epoch from a generator seeded by ``seed``, Adam at a constant rate."""
    triples = torch.tensor([[0, 0, 1], [1, 1, 2], [2, 2, 3], [4, 0, 6], [5, 1, 0]])
    model, plain = ComplEx(N_ENT, N_REL, DIM, seed=3), ComplEx(N_ENT, N_REL, DIM, seed=3)
    fit_kg(model, triples, epochs=3, batch_size=2, lr=0.05, weight=0.01, seed=4, progress=False)
    opt, gen = torch.optim.Adam(plain.parameters(), lr=0.05), torch.Generator().manual_seed(4)
    for _ in range(3):
        for batch in triples[torch.randperm(5, generator=gen)].split(2):
            opt.zero_grad()
            plain.kg_loss(batch, weight=0.01).backward()
            opt.step()
    for (name, a), b in zip(model.state_dict().items(), plain.state_dict().values(),
                            strict=True):
        assert torch.equal(a, b), name


def test_fit_writes_a_run_directory_or_discards_a_temporary_one(tmp_path):
    model = DistMult(N_ENT, N_REL, DIM)
    fit = fit_kg(model, [[0, 0, 1], [1, 1, 2]], tmp_path / "run", epochs=2, progress=False)
    assert {"last.pt", "config.yaml", "metrics.csv"} <= {p.name for p in (tmp_path / "run")
                                                         .iterdir()}
    assert "optimizer: adam" in (tmp_path / "run" / "config.yaml").read_text()
    assert not model.training
    fit = fit_kg(model, [[0, 0, 1], [1, 1, 2]], epochs=2, progress=False)
    assert fit["epoch"] == 2 and not os.path.exists(fit["out_dir"])


def _killed_then_resumed(make, kg, tmp_path, kill_at_step, **settings):
    """Weights of a straight run, and of a run killed mid-way (after a checkpoint) and resumed."""
    straight = make()
    fit_kg(straight, kg, tmp_path / "straight", progress=False, **settings)
    broken = make()
    calls = {"n": 0}
    kg_loss = broken.kg_loss

    def dying(batch, **kwargs):
        calls["n"] += 1
        if calls["n"] == kill_at_step:
            raise KeyboardInterrupt("killed")
        return kg_loss(batch, **kwargs)

    broken.kg_loss = dying
    with pytest.raises(KeyboardInterrupt):
        fit_kg(broken, kg, tmp_path / "broken", progress=False, **settings)
    del broken.kg_loss
    resumed = make()  # a fresh process would start from a new model
    summary = fit_kg(resumed, kg, tmp_path / "broken", progress=False, resume=True, **settings)
    return straight, resumed, summary


def test_a_killed_fit_resumes_exactly(tmp_path):
    """Killed in epoch 2 of 3 (epoch 1 checkpointed), resumed: the straight run's weights."""
    kg = _cycle_world()
    settings = {"epochs": 3, "batch_size": 16, "lr": 0.05, "seed": 5, "eval_every": 1,
                "patience": 2}
    straight, resumed, summary = _killed_then_resumed(
        lambda: ComplEx(24, 3, 4, seed=1), kg, tmp_path, kill_at_step=4, **settings)
    assert summary["epoch"] == 3 and len(summary["history"]) == 3
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values(),
                            strict=True):
        assert torch.equal(a, b), name


def _cycle_world(n=24, seed=0):
    """An asymmetric world: next (i → i+1, all in train), prev (its inverse) and next2 (i → i+2).

    A quarter of prev and next2 triples are held out for valid/test; popularity is useless
    (every entity is equally frequent), a model must infer inverses and compositions.
    """
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    nxt = np.stack([i, np.zeros(n, int), (i + 1) % n], 1)
    prv = np.stack([(i + 1) % n, np.ones(n, int), i], 1)
    nx2 = np.stack([i, np.full(n, 2), (i + 2) % n], 1)
    held = rng.permutation(n)
    return KnowledgeGraph(tuple(f"e{k:02d}" for k in i), ("next", "prev", "next2"),
                          np.concatenate([nxt, prv[held[18:]], nx2[held[18:]]]),
                          np.concatenate([prv[held[12:15]], nx2[held[15:18]]]),
                          np.concatenate([prv[held[:6]], nx2[held[6:12]]]))


def test_complex_and_rescal_learn_an_asymmetric_world_that_popularity_cannot():
    torch.set_num_threads(1)
    kg = _cycle_world()
    known = kg.known_triples()
    pop = PopularityBaseline(kg.train, kg.n_entities, kg.n_relations)
    mrr = {"popularity": link_prediction_metrics(pop.score_tails, pop.score_heads, kg.test,
                                                 known)["both"]["mrr"]}
    for name, model, epochs, reg in (("complex", ComplEx(24, 3, 16, seed=0), 120, 0.001),
                                     ("rescal", RESCAL(24, 3, 8, seed=0), 150, 0.01)):
        fit_kg(model, kg, epochs=epochs, batch_size=32, lr=0.02,
               regularizer="n3" if name == "complex" else "l2", weight=reg, seed=0,
               verbose="WARNING", progress=False)
        mrr[name] = link_prediction_metrics(model.score_tails, model.score_heads, kg.test,
                                            known)["both"]["mrr"]
    # measured: popularity 0.065, ComplEx 1.0, RESCAL 0.48
    assert mrr["popularity"] < 0.1
    assert mrr["complex"] > 0.9
    assert mrr["rescal"] > 0.3 and mrr["rescal"] > 4 * mrr["popularity"]


@pytest.mark.slow
def test_complex_on_kinships_reaches_the_reference_mrr():
    pytest.importorskip("pykeen", reason="Kinships comes with pykeen")
    torch.set_num_threads(1)
    kg = load_knowledge_graph("kinships")
    model = ComplEx(kg.n_entities, kg.n_relations, dim=100, seed=0)
    fit_kg(model, kg, epochs=20, batch_size=256, lr=0.01, regularizer="n3", weight=0.01,
           seed=0, verbose="WARNING", progress=False)
    known = kg.known_triples()
    metrics = link_prediction_metrics(model.score_tails, model.score_heads, kg.test, known)
    pop = PopularityBaseline(kg.train, kg.n_entities, kg.n_relations)
    baseline = link_prediction_metrics(pop.score_tails, pop.score_heads, kg.test, known)
    # measured (20 epochs, ~7 s on one thread): MRR 0.869, H@10 0.985; popularity 0.110
    assert metrics["both"]["mrr"] >= 0.75
    assert metrics["both"]["hits@10"] >= 0.95
    assert baseline["both"]["mrr"] == pytest.approx(0.11, abs=0.01)
