"""ConceptBank: shared matrix, group-restricted softmax, top-down arithmetic, sampling, errors."""

from __future__ import annotations

import pytest
import torch
from scipy.stats import chisquare

from neuroattn.semantic import ConceptBank

GROUPS = {"time": 2, "entity": 5, "color": 3, "predicate": 4}


@pytest.fixture
def bank() -> ConceptBank:
    return ConceptBank(GROUPS, dim=7, seed=0, init_std=1.0)


def test_one_matrix_shared_by_scoring_and_feedback(bank):
    emb = bank.embeddings("entity")
    assert emb.untyped_storage().data_ptr() == bank.A.untyped_storage().data_ptr()
    q = torch.randn(3, 7)
    k = torch.tensor([0, 4, 2])
    before_scores, before_fb = bank.logits(q, "entity"), bank.top_down(q, k, "entity")
    with torch.no_grad():
        bank.A[bank.slices["entity"].start + 2] += 1.0  # perturb entity 2 only
    after_scores, after_fb = bank.logits(q, "entity"), bank.top_down(q, k, "entity")
    assert not torch.allclose(before_scores[:, 2], after_scores[:, 2])
    assert torch.allclose(before_scores[:, [0, 1, 3, 4]], after_scores[:, [0, 1, 3, 4]])
    assert not torch.allclose(before_fb[2], after_fb[2])
    assert torch.equal(before_fb[:2], after_fb[:2])
    # a gradient through scoring alone and through feedback alone both reach A
    for loss in (bank.logits(q, "entity").sum(), bank.top_down(q, k, "entity").sum()):
        bank.A.grad = None
        loss.backward()
        rows = bank.A.grad.abs().sum(1)
        assert rows[bank.slices["entity"]].sum() > 0
        assert rows[bank.slices["predicate"]].sum() == 0
    assert list(dict(bank.named_parameters())) == ["A"]


@pytest.mark.parametrize("nonlinearity", ["sigmoid", "leaky_relu", "identity"])
def test_group_softmax_is_restricted_to_the_group(nonlinearity):
    bank = ConceptBank(GROUPS, dim=7, seed=1, init_std=1.0, nonlinearity=nonlinearity)
    q = torch.randn(4, 7)
    probs = bank.bottom_up(q, "color")
    assert probs.shape == (4, 3)
    assert torch.allclose(probs.sum(1), torch.ones(4))
    act = {"sigmoid": torch.sigmoid(q), "identity": q,
           "leaky_relu": torch.nn.functional.leaky_relu(q, 0.02)}[nonlinearity]
    manual = torch.softmax(act @ bank.A[7:10].T, dim=1)
    assert torch.allclose(probs, manual, atol=1e-6)
    with torch.no_grad():  # zero leakage: rows outside the group do not matter
        bank.A[:7] += 5.0
        bank.A[10:] -= 5.0
    assert torch.allclose(bank.bottom_up(q, "color"), probs, atol=1e-6)
    union = bank.bottom_up(q, ("entity", "color"))
    assert union.shape == (4, 8) and torch.allclose(union.sum(1), torch.ones(4))


def test_temperature_and_argmax(bank):
    q = torch.randn(6, 7)
    sharp = bank.bottom_up(q, "entity", temperature=1e-6)
    k = bank.argmax(bank.bottom_up(q, "entity"))
    assert torch.equal(sharp.argmax(1), k)
    assert torch.allclose(sharp.max(1).values, torch.ones(6))


def test_top_down_arithmetic_index_and_expected(bank):
    q = torch.randn(3, 7)
    k = torch.tensor([1, 0, 4])
    out = bank.top_down(q, k, "entity", alpha=0.3, beta=-1.7)
    expected = 0.3 * q + (-1.7) * bank.A.detach()[torch.tensor([3, 2, 6])]
    assert torch.equal(out.detach(), expected)
    probs = bank.bottom_up(q, "entity")
    out = bank.top_down(q, probs, "entity")
    manual = q + sum(probs[:, [j]] * bank.A[2 + j] for j in range(5))
    assert torch.allclose(out, manual, atol=1e-6)
    assert torch.equal(bank.top_down(q, k, "entity", alpha=1.0, beta=0.0), q)


def test_sampling_frequencies_match_the_softmax(bank):
    probs = bank.bottom_up(torch.randn(1, 7) * 2, "entity").detach()
    n = 20_000
    gen = torch.Generator().manual_seed(123)
    draws = bank.sample(probs.expand(n, -1), gen)
    assert int(draws.min()) >= 0 and int(draws.max()) < 5
    counts = torch.bincount(draws, minlength=5).numpy()
    expected = probs[0].double().numpy() * n
    assert chisquare(counts, expected * counts.sum() / expected.sum()).pvalue > 0.01


def test_qtb_and_learned_bias():
    qtb = ConceptBank(GROUPS, dim=7, seed=0, bias="qtb_softplus")
    q = torch.randn(2, 7)
    a = qtb.embeddings("predicate")
    manual = torch.sigmoid(q) @ a.T - torch.nn.functional.softplus(a).sum(1)
    assert torch.allclose(qtb.logits(q, "predicate"), manual, atol=1e-6)
    learned = ConceptBank(GROUPS, dim=7, seed=0, bias="learned")
    with torch.no_grad():
        learned.bias[learned.slices["predicate"]] = torch.tensor([0.0, 1.0, 2.0, 3.0])
    diff = learned.logits(q, "predicate") - torch.sigmoid(q) @ learned.embeddings("predicate").T
    assert torch.allclose(diff, torch.tensor([[0.0, 1.0, 2.0, 3.0]]).expand(2, -1), atol=1e-6)


def test_bad_inputs_give_clear_messages(bank):
    q = torch.randn(2, 7)
    with pytest.raises(ValueError, match="unknown concept group 'colour'.*known groups"):
        bank.bottom_up(q, "colour")
    with pytest.raises(ValueError, match="index out of group 'color'"):
        bank.top_down(q, torch.tensor([0, 3]), "color")
    with pytest.raises(ValueError, match="not in group 'entity'"):
        bank.local_index("entity", torch.tensor([0]))  # row 0 is a time index
    with pytest.raises(ValueError, match=r"q must be a \(batch, 7\) tensor, got \(2, 6\)"):
        bank.logits(torch.randn(2, 6), "entity")
    with pytest.raises(ValueError, match=r"q must be a \(batch, 7\) tensor, got \(7,\)"):
        bank.logits(torch.randn(7), "entity")
    with pytest.raises(ValueError, match="q contains NaN"):
        bank.logits(torch.full((1, 7), float("nan")), "entity")
    with pytest.raises(ValueError, match=r"probs must have shape \(2, 3\)"):
        bank.top_down(q, torch.full((2, 5), 0.2), "color")
    with pytest.raises(ValueError, match="feedback='index' but k_or_probs has dtype"):
        bank.top_down(q, torch.full((2, 3), 1 / 3), "color", feedback="index")
    with pytest.raises(ValueError, match="probs contains NaN"):
        bank.sample(torch.full((1, 3), float("nan")))
    with pytest.raises(ValueError, match="temperature must be > 0"):
        bank.bottom_up(q, "entity", temperature=0.0)
    with pytest.raises(ValueError, match="nonlinearity must be"):
        ConceptBank(GROUPS, dim=7, nonlinearity="tanh")
    with pytest.raises(ValueError, match="group 'x' must have at least one concept"):
        ConceptBank({"x": 0}, dim=3)
