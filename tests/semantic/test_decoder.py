"""TensorBrainDecoder: window order, feedback rules, teacher forcing, expected mode, learning."""

from __future__ import annotations

import pytest
import torch

from neuroattn.semantic import ConceptBank, DecodingProgram, TensorBrainDecoder, Window

GROUPS = {"time": 3, "entity": 5, "color": 3, "predicate": 4}


def _decoder(program: DecodingProgram | None = None, **kw) -> TensorBrainDecoder:
    bank = ConceptBank(GROUPS, dim=7, seed=0, init_std=1.0)
    program = program or DecodingProgram.default(labels=("color",))
    return TensorBrainDecoder(bank, program, context_dim=6, seed=0, **kw)


def _spy(monkeypatch, dec: TensorBrainDecoder) -> tuple[list[str], list[str]]:
    scored, fed_back = [], []
    logits, top_down = dec.bank.logits, dec.bank.top_down

    def spy_logits(q, group):
        scored.append(group)
        return logits(q, group)

    def spy_top_down(q, k, group, *args, **kw):
        fed_back.append(group)
        return top_down(q, k, group, *args, **kw)

    monkeypatch.setattr(dec.bank, "logits", spy_logits)
    monkeypatch.setattr(dec.bank, "top_down", spy_top_down)
    return scored, fed_back


@pytest.mark.parametrize("order", [("subject", "object", "predicate"),
                                   ("subject", "predicate", "object")])
def test_window_order_is_the_configured_one(monkeypatch, order):
    dec = _decoder(DecodingProgram.default(labels=("color",), order=order))
    scored, fed_back = _spy(monkeypatch, dec)
    out = dec({"time": torch.randn(2, 7)}, mode="argmax")
    groups = {"subject": ["entity", "color"], "object": ["entity", "color"],
              "predicate": ["predicate"]}
    assert scored == ["time"] + [g for role in order for g in groups[role]]
    assert list(out.states) == ["time", *order]
    # time and entities are fed back; labels and the predicate never are
    assert fed_back == ["time", "entity", "entity"]
    heads = [h for w in dec.program.windows for h in w.heads()]
    assert list(out.probs) == heads


def test_default_program_and_custom_windows():
    prog = DecodingProgram.default()
    assert [(w.name, w.group, w.feedback) for w in prog.windows] == [
        ("time", "time", True), ("subject", "entity", True), ("object", "entity", True),
        ("predicate", "predicate", False)]
    custom = DecodingProgram((Window("scene", "time"), Window("thing", "entity", False)))
    dec = _decoder(custom)
    out = dec({"scene": torch.randn(3, 7)})
    assert list(out.indices) == ["scene", "thing"]
    assert torch.equal(out.states["thing"], dec.context.read(
        dec.context.step(dec.context.initial(3), out.states["scene"])))


def test_teacher_forcing_log_likelihood_is_the_sum_of_true_log_probs():
    dec = _decoder()
    targets = {"time": torch.tensor([2, 0]), "subject": torch.tensor([1, 4]),
               "subject.color": torch.tensor([0, 2]), "object": torch.tensor([3, 3]),
               "object.color": torch.tensor([1, 1]), "predicate": torch.tensor([0, 2])}
    out = dec({"time": torch.randn(2, 7), "subject": torch.randn(2, 7)}, mode="teacher",
              targets=targets)
    manual = sum(out.probs[k][torch.arange(2), t].log() for k, t in targets.items())
    assert torch.allclose(out.log_likelihood, manual, atol=1e-5)
    for key in ("time", "subject", "object", "predicate"):
        assert torch.equal(out.indices[key], targets[key])
    # the true index (not the argmax) was fed back
    q_s = out.states["subject"]
    q_tilde = q_s - dec.bank.embeddings("entity")[targets["subject"]]
    assert torch.allclose(dec.bank.top_down(q_tilde, targets["subject"], "entity"), q_s)


@pytest.mark.parametrize("scope", ["group", "bank"])
def test_expected_mode_is_differentiable(scope):
    dec = _decoder(DecodingProgram.default(labels=("color",), feedback_scope=scope),
                   learn_beta=True)
    f = torch.randn(3, 7, requires_grad=True)
    targets = {"subject": torch.tensor([0, 1, 2]), "predicate": torch.tensor([3, 2, 1])}
    out = dec({"time": f}, mode="expected", targets=targets)
    (-out.log_likelihood.sum()).backward()
    assert f.grad is not None and f.grad.abs().sum() > 0
    grad = dec.bank.A.grad.abs().sum(1)
    for group in GROUPS:
        assert grad[dec.bank.slices[group]].sum() > 0
    assert dec.beta.grad is not None and dec.context.W.weight.grad.abs().sum() > 0


def test_sample_mode_is_seeded_and_gradient_free_through_the_index():
    dec = _decoder()
    f = torch.randn(4, 7)
    runs = [dec({"time": f}, mode="sample", generator=torch.Generator().manual_seed(5))
            for _ in range(2)]
    for key in runs[0].indices:
        assert torch.equal(runs[0].indices[key], runs[1].indices[key])
        assert not runs[0].indices[key].dtype.is_floating_point


@pytest.mark.parametrize("context", ["paper", "code", "none"])
def test_context_forms_run(context):
    out = _decoder(context=context)({"time": torch.randn(2, 7)})
    assert out.log_likelihood.shape == (2,)
    if context == "none":  # P-Direct: no sensory input and no context leaves q̃ = 0
        assert torch.equal(out.states["predicate"], torch.zeros(2, 7))


def test_decoder_bad_inputs():
    dec = _decoder()
    f = torch.randn(2, 7)
    with pytest.raises(ValueError, match=r"needs targets for windows \['object', 'predicate'\]"):
        dec({"time": f}, mode="teacher", targets={"time": torch.tensor([0, 1]),
                                                   "subject": torch.tensor([0, 1])})
    with pytest.raises(ValueError, match=r"unknown targets keys \['verb'\]"):
        dec({"time": f}, targets={"verb": torch.tensor([0, 1])})
    with pytest.raises(ValueError, match=r"inputs\['time'\]: q must be a \(batch, 7\)"):
        dec({"time": torch.randn(2, 5)})
    with pytest.raises(ValueError, match="inconsistent batch sizes"):
        dec({"time": f}, force={"subject": torch.tensor([1])})
    with pytest.raises(ValueError, match="nothing to decode from"):
        dec()
    with pytest.raises(ValueError, match="mode must be"):
        dec({"time": f}, mode="beam")
    with pytest.raises(ValueError, match="index out of group 'entity'"):
        dec({"time": f}, force={"subject": torch.tensor([0, 9])})
    with pytest.raises(ValueError, match="unknown concept group 'shape'"):
        _decoder(DecodingProgram.default(labels=("shape",)))
    with pytest.raises(ValueError, match="window names must be unique"):
        DecodingProgram((Window("a", "entity"), Window("a", "entity")))
    with pytest.raises(ValueError, match="order must be a permutation"):
        DecodingProgram.default(order=("subject", "subject", "predicate"))


def test_learns_a_toy_world_by_teacher_forcing():
    """8 entities with a fixed colour (3), 3 predicates, 24 random scenes; d = 24."""
    torch.manual_seed(0)
    n_e, n_c, n_p, n_scenes, d = 8, 3, 3, 24, 24
    color = torch.randint(0, n_c, (n_e,))
    s = torch.randint(0, n_e, (n_scenes,))
    o = (s + torch.randint(1, n_e, (n_scenes,))) % n_e
    p = torch.randint(0, n_p, (n_scenes,))
    targets = {"subject": s, "subject.color": color[s], "object": o, "object.color": color[o],
               "predicate": p}
    bank = ConceptBank({"entity": n_e, "color": n_c, "predicate": n_p}, dim=d, seed=0,
                       init_std=0.5)
    dec = TensorBrainDecoder(bank, DecodingProgram.default(labels=("color",), time=False),
                             seed=0)
    encoder = torch.nn.Linear(n_scenes, d, bias=False)
    scenes = torch.eye(n_scenes)
    opt = torch.optim.Adam([*dec.parameters(), *encoder.parameters()], lr=0.03)
    for _ in range(300):
        opt.zero_grad()
        loss = -dec({"subject": encoder(scenes)}, mode="teacher",
                    targets=targets).log_likelihood.mean()
        loss.backward()
        opt.step()
    with torch.no_grad():
        out = dec({"subject": encoder(scenes)}, mode="argmax")
    acc = {k: (out.indices[k] == t).float().mean().item() for k, t in targets.items()}
    chance = {"subject": 1 / n_e, "object": 1 / n_e, "predicate": 1 / n_p,
              "subject.color": 1 / n_c, "object.color": 1 / n_c}
    assert min(acc.values()) >= 0.9, (acc, chance)


def test_feedback_dropout_acts_in_training_only():
    base, dropped = _decoder(), _decoder(dropout=0.5)
    dropped.load_state_dict(base.state_dict())
    x = {"time": torch.randn(6, 7)}
    tgt = {"time": torch.tensor([0, 1, 2, 0, 1, 2]), "subject": torch.zeros(6, dtype=torch.long),
           "object": torch.ones(6, dtype=torch.long), "predicate": torch.zeros(6, dtype=torch.long)}
    base.eval(), dropped.eval()
    a, b = base(x, mode="teacher", targets=tgt), dropped(x, mode="teacher", targets=tgt)
    torch.testing.assert_close(a.log_likelihood, b.log_likelihood)
    dropped.train()
    torch.manual_seed(0)
    c = dropped(x, mode="teacher", targets=tgt)
    assert not torch.allclose(a.log_likelihood, c.log_likelihood)
    with pytest.raises(ValueError, match="dropout must be in"):
        _decoder(dropout=1.0)
