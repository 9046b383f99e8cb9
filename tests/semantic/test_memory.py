"""Episodic memory (one-shot and learned writes, recall) and semantic memory (three marginals)."""

from __future__ import annotations

import pytest
import torch

from neuroattn.semantic import (
    ConceptBank,
    EpisodicMemory,
    SemanticMemory,
    TensorBrainDecoder,
)

N_E, N_P, C = 3, 2, 5.0
# coordinates of q: entity codes E | predicate codes P | subject slot | object slot | pred. slot
E, P, SS, OS, PS = (slice(0, 3), slice(3, 5), slice(5, 8), slice(8, 11), slice(11, 13))
D = 13


def _hand_built() -> tuple[TensorBrainDecoder, EpisodicMemory]:
    """A bank with one-hot codes and a shift-register context (code form, h = 4 blocks of q).

    ``V`` copies ``q`` into block 1, ``B`` shifts every block down by one, and ``W`` reads the
    subject slot of block 2, the object slot of block 3 and the predicate slot of block 4.
    So after the time window the subject window sees the scene's subject slot, the object
    window its object slot and the predicate window its predicate slot.
    """
    bank = ConceptBank({"time": 2, "entity": N_E, "predicate": N_P}, dim=D)
    dec = TensorBrainDecoder(bank, context="code", context_dim=4 * D)
    with torch.no_grad():
        bank.A.zero_()
        bank.embeddings("entity")[:, E] = C * torch.eye(N_E)
        bank.embeddings("predicate")[:, P] = C * torch.eye(N_P)
        ctx = dec.context
        ctx.V.weight.zero_()
        ctx.V.weight[:D] = torch.eye(D)
        ctx.B.weight.zero_()
        for blk in range(3):
            ctx.B.weight[(blk + 1) * D:(blk + 2) * D, blk * D:(blk + 1) * D] = torch.eye(D)
        ctx.W.weight.zero_()
        for blk, (src, dst) in enumerate(((SS, E), (OS, E), (PS, P)), start=1):
            rows = torch.arange(dst.start, dst.stop)
            cols = torch.arange(src.start, src.stop) + blk * D
            ctx.W.weight[rows, cols] = C
    return dec, EpisodicMemory(dec)


def _scene(s: int, o: int, p: int) -> torch.Tensor:
    f = torch.zeros(1, D)
    f[0, SS.start + s] = f[0, OS.start + o] = f[0, PS.start + p] = 1.0
    return f


def test_one_shot_write_then_recall_returns_the_written_triple():
    dec, memory = _hand_built()
    episodes = {0: (2, 0, 1), 1: (1, 2, 0)}
    for t, (s, o, p) in episodes.items():
        seen = dec({"time": _scene(s, o, p)}, force={"time": torch.tensor([t])})
        assert [seen.indices[k].item() for k in ("subject", "object", "predicate")] == [s, o, p]
        memory.write(torch.tensor([t]), seen.states["time"])  # a_t ← q_T
        assert torch.equal(memory.time_embeddings()[t], seen.states["time"][0])
    recalled = memory.recall(torch.tensor([0, 1]))  # q_T = a_t, no sensory input
    for t, (s, o, p) in episodes.items():
        got = [recalled.indices[k][t].item() for k in ("subject", "object", "predicate")]
        assert got == [s, o, p]
        assert recalled.probs["subject"][t, s] > 0.5
    # the recalled time state is the written trace itself
    assert torch.equal(recalled.states["time"], memory.time_embeddings())


def test_sigmoid_write_rule_makes_the_index_win_the_time_window():
    bank = ConceptBank({"time": 4, "entity": 3, "predicate": 2}, dim=6, seed=0)
    memory = EpisodicMemory(TensorBrainDecoder(bank, seed=0), rule="sigmoid")
    q = 4 * torch.randn(1, 6)
    memory.write(torch.tensor([2]), q)
    assert torch.allclose(memory.time_embeddings()[2], torch.sigmoid(q[0]))
    assert bank.argmax(bank.bottom_up(q, "time")).item() == 2


def test_learned_episodic_writes_by_gradient():
    torch.manual_seed(0)
    bank = ConceptBank({"time": 4, "entity": 5, "predicate": 3}, dim=16, seed=0, init_std=0.5)
    dec = TensorBrainDecoder(bank, seed=0)
    memory = EpisodicMemory(dec, write="learned")
    t = torch.arange(4)
    targets = {"subject": torch.tensor([0, 1, 2, 3]), "object": torch.tensor([4, 0, 1, 2]),
               "predicate": torch.tensor([0, 1, 2, 0])}
    opt = torch.optim.Adam(dec.parameters(), lr=0.05)
    for _ in range(150):
        opt.zero_grad()
        memory.recall_nll(t, targets).backward()
        opt.step()
    out = memory.recall(t)
    for key, true in targets.items():
        assert torch.equal(out.indices[key], true)
    with pytest.raises(ValueError, match="write='learned'"):
        memory.write(t[:1], torch.zeros(1, 16))


def test_marginalisation_identity_holds_only_for_the_linear_bank():
    """mean_t logits(a_t) == logits(mean_t a_t) when the scores are linear in q.

    With no nonlinearity and no bias the logits ``A_g q`` are linear, so averaging logits
    over episodes equals scoring the mean embedding. The paper's ``sig(q)`` breaks it, so
    there the mean embedding only approximates the mixture of logits; and even in the linear
    case the probability mixture differs from the softmax of the mean (softmax is nonlinear).
    """
    a_t = torch.randn(6, 5) * 2
    for nonlinearity, holds in (("identity", True), ("sigmoid", False)):
        bank = ConceptBank({"entity": 4}, dim=5, seed=0, init_std=1.0,
                           nonlinearity=nonlinearity)
        mean_of_logits = bank.logits(a_t, "entity").mean(0)
        logits_of_mean = bank.logits(a_t.mean(0, keepdim=True), "entity")[0]
        gap = (mean_of_logits - logits_of_mean).abs().max().item()
        assert (gap < 1e-5) if holds else (gap > 1e-2), (nonlinearity, gap)
    linear = ConceptBank({"entity": 4}, dim=5, seed=0, init_std=1.0, nonlinearity="identity")
    mixture = linear.bottom_up(a_t, "entity").mean(0)
    of_mean = linear.bottom_up(a_t.mean(0, keepdim=True), "entity")[0]
    assert not torch.allclose(mixture, of_mean, atol=1e-3)


def _semantic(marginal: str) -> SemanticMemory:
    bank = ConceptBank({"time": 5, "entity": 4, "predicate": 3}, dim=8, seed=0, init_std=1.0)
    return SemanticMemory(EpisodicMemory(TensorBrainDecoder(bank, seed=0)), marginal=marginal)


def test_semantic_mixture_averages_the_episodic_distributions():
    sem = _semantic("mixture")
    s = torch.tensor([1, 3])
    out = sem.query(force={"subject": s})
    for b in range(2):
        per_t = sem.episodic.recall(torch.arange(5), force={"subject": s[b].repeat(5)})
        for key in ("subject", "object", "predicate"):
            assert torch.allclose(out.probs[key][b], per_t.probs[key].mean(0), atol=1e-6)
            assert torch.allclose(out.probs[key][b].sum(), torch.tensor(1.0))
    assert torch.equal(out.indices["subject"], s)
    tgt = {"object": torch.tensor([0, 2])}
    ll = sem.query(force={"subject": s}, targets=tgt).log_probs["object"]
    assert torch.allclose(ll, out.probs["object"][torch.arange(2), tgt["object"]].log())


def test_semantic_mean_and_learned_abar():
    sem = _semantic("mean")
    abar = sem.episodic.time_embeddings().mean(0)
    out = sem.query(batch_size=2)
    assert torch.allclose(out.states["time"], abar.expand(2, -1))
    direct = sem.episodic.decoder(given={"time": abar.expand(2, -1)})
    assert torch.allclose(out.probs["object"], direct.probs["object"])
    learned = _semantic("learned")
    assert isinstance(learned.abar, torch.nn.Parameter)
    tgt = {"subject": torch.tensor([1]), "object": torch.tensor([2]),
           "predicate": torch.tensor([0])}
    (-learned.query(mode="teacher", targets=tgt).log_likelihood.sum()).backward()
    assert learned.abar.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="give batch_size"):
        sem.query()


def test_memory_bad_inputs():
    dec, memory = _hand_built()
    with pytest.raises(ValueError, match="no window 'episode'"):
        EpisodicMemory(dec, window="episode")
    with pytest.raises(ValueError, match="index out of group 'time'"):
        memory.recall(torch.tensor([2]))
    with pytest.raises(ValueError, match="must not repeat"):
        memory.write(torch.tensor([0, 0]), torch.zeros(2, D))
    with pytest.raises(ValueError, match="q contains NaN"):
        memory.write(torch.tensor([0]), torch.full((1, D), float("nan")))
    with pytest.raises(ValueError, match="marginal must be"):
        SemanticMemory(memory, marginal="max")
