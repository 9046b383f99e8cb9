"""Perception as a program of concept windows: bottom-up, choose, top-down, evolve the context.

A :class:`DecodingProgram` lists the windows in order. The default is the 2023 order
(Algorithm 1 and the authors' code, reference §1.7): time/scene → subject (+ its labels) →
object (+ its labels) → predicate, with the time and entity indices fed back, the labels
never fed back and no feedback in the predicate window. The order is configurable (the
2020 order subject → predicate → object is one alternative).

For each window ``X`` the :class:`TensorBrainDecoder` forms the pre-feedback state
``q̃_X = f_X + read(h)`` (``f_X`` the sensory input, absent in memory recall), scores the
window's group bottom-up, chooses an index (sample, argmax, teacher, or the expected
embedding), writes it back ``q_X = α q̃_X + β a`` (when the window feeds back), decodes
the window's labels from ``q_X``, and evolves the context ``h`` from ``q_X`` (see
:class:`ContextRecurrence`).

Examples
--------
>>> import torch
>>> from neuroattn.semantic.concepts import ConceptBank
>>> bank = ConceptBank({"time": 2, "entity": 4, "predicate": 3}, dim=6, seed=0)
>>> dec = TensorBrainDecoder(bank, seed=0)
>>> out = dec({"time": torch.randn(5, 6)}, mode="argmax")
>>> list(out.indices), out.log_likelihood.shape
(['time', 'subject', 'object', 'predicate'], torch.Size([5]))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from neuroattn.errors import ParameterError
from neuroattn.semantic.concepts import ConceptBank

__all__ = ["ContextRecurrence", "Decoding", "DecodingProgram", "DecodeMode", "TensorBrainDecoder",
           "Window"]

DecodeMode = Literal["sample", "argmax", "teacher", "expected"]
ContextForm = Literal["paper", "code", "none"]


@dataclass(frozen=True)
class Window:
    """One concept window of a decoding program.

    Parameters
    ----------
    name : str
        Role of the window (``"time"``, ``"subject"``, ``"object"``, ``"predicate"``); the key
        of its sensory input, targets and outputs.
    group : str
        Concept group scored in this window.
    feedback : bool
        Whether the chosen index is written back into ``q`` (paper: time and entities only).
    labels : tuple of str
        Label groups (classes, attributes) decoded from the post-feedback state of this
        window and never fed back; their outputs are keyed ``"<name>.<label>"``.

    Examples
    --------
    >>> Window("subject", "entity", labels=("color",)).heads()
    ('subject', 'subject.color')
    """

    name: str
    group: str
    feedback: bool = True
    labels: tuple[str, ...] = ()

    def heads(self) -> tuple[str, ...]:
        """Output keys of the window: its own name, then one per label group.

        Examples
        --------
        >>> Window("object", "entity", labels=("color", "size")).heads()
        ('object', 'object.color', 'object.size')
        """
        return (self.name,) + tuple(f"{self.name}.{lab}" for lab in self.labels)


@dataclass(frozen=True)
class DecodingProgram:
    """The ordered windows plus the scope of expected-embedding feedback.

    Parameters
    ----------
    windows : tuple of Window
        Visited in this order.
    feedback_scope : {"group", "bank"}
        In ``"expected"`` mode, attend over the window's group only (default; paper §5.3,
        entity columns) or over the window's group and its label groups jointly (code: the
        whole concept bank).

    Examples
    --------
    >>> [w.name for w in DecodingProgram.default(order=("subject", "predicate", "object"),
    ...                                          time=False).windows]
    ['subject', 'predicate', 'object']
    """

    windows: tuple[Window, ...]
    feedback_scope: Literal["group", "bank"] = "group"

    def __post_init__(self) -> None:
        names = [w.name for w in self.windows]
        if not names:
            raise ParameterError("a DecodingProgram needs at least one window")
        if len(set(names)) != len(names):
            raise ParameterError(f"window names must be unique, got {names}")
        if self.feedback_scope not in ("group", "bank"):
            raise ParameterError(f"feedback_scope must be 'group' or 'bank', "
                                 f"got {self.feedback_scope!r}")

    @classmethod
    def default(cls, labels: tuple[str, ...] = (), *, time: bool = True,
                order: tuple[str, ...] = ("subject", "object", "predicate"),
                entity_group: str = "entity", predicate_group: str = "predicate",
                time_group: str = "time",
                feedback_scope: Literal["group", "bank"] = "group") -> DecodingProgram:
        """The 2023 program: time → subject (+labels) → object (+labels) → predicate.

        ``order`` permutes the subject, object and predicate windows; ``labels`` are the
        unary label groups decoded after each entity; ``time=False`` drops the time window.

        Examples
        --------
        >>> prog = DecodingProgram.default(labels=("color",))
        >>> [(w.name, w.feedback, w.labels) for w in prog.windows][1:]
        [('subject', True, ('color',)), ('object', True, ('color',)), ('predicate', False, ())]
        """
        if sorted(order) != ["object", "predicate", "subject"]:
            raise ParameterError(f"order must be a permutation of subject, object, predicate; "
                                 f"got {order}")
        roles = {"subject": Window("subject", entity_group, True, tuple(labels)),
                 "object": Window("object", entity_group, True, tuple(labels)),
                 "predicate": Window("predicate", predicate_group, False)}
        first = (Window("time", time_group, True),) if time else ()
        return cls(first + tuple(roles[r] for r in order), feedback_scope)


class ContextRecurrence(nn.Module):
    """Working memory ``h`` carried between windows.

    ``form="paper"`` (default; reference §1.6): ``h' = B sig(sig(h) + V sig(q))`` and the next
    window reads ``q̃ = f + W sig(h')``. ``form="code"``: ``h' = ReLU(B(ReLU(V q) + h))`` and
    ``q̃ = f + W h'``. ``form="none"``: no context (P-Direct), ``q̃ = f``. ``h`` starts at 0;
    ``V``, ``B`` and ``W`` are bias-free linear maps.

    Examples
    --------
    >>> import torch
    >>> ctx = ContextRecurrence(4, 3, form="code")
    >>> h = ctx.step(ctx.initial(2), torch.randn(2, 4))
    >>> ctx.read(h).shape
    torch.Size([2, 4])
    """

    def __init__(self, dim: int, context_dim: int, form: ContextForm = "paper") -> None:
        super().__init__()
        if form not in ("paper", "code", "none"):
            raise ParameterError(f"context form must be 'paper', 'code' or 'none', got {form!r}")
        self.form = form
        self.dim, self.context_dim = int(dim), int(context_dim)
        self.V = nn.Linear(dim, context_dim, bias=False)
        self.B = nn.Linear(context_dim, context_dim, bias=False)
        self.W = nn.Linear(context_dim, dim, bias=False)

    def initial(self, batch: int, device: torch.device | None = None) -> torch.Tensor:
        """The initial context ``h = 0`` of shape ``(batch, context_dim)``.

        Examples
        --------
        >>> ContextRecurrence(4, 3).initial(2).shape
        torch.Size([2, 3])
        """
        return torch.zeros(batch, self.context_dim, device=device)

    def step(self, h: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        """Evolve the context from the post-feedback state ``q`` of a window.

        Examples
        --------
        >>> import torch
        >>> ctx = ContextRecurrence(4, 3, form="none")
        >>> h = ctx.initial(1)
        >>> torch.equal(ctx.step(h, torch.ones(1, 4)), h)
        True
        """
        if self.form == "paper":
            return self.B(torch.sigmoid(torch.sigmoid(h) + self.V(torch.sigmoid(q))))
        if self.form == "code":
            return torch.relu(self.B(torch.relu(self.V(q)) + h))
        return h

    def read(self, h: torch.Tensor) -> torch.Tensor:
        """The context's contribution to the next window's pre-feedback state.

        Examples
        --------
        >>> ContextRecurrence(4, 3, form="none").read(ContextRecurrence(4, 3).initial(2))
        tensor([[0., 0., 0., 0.],
                [0., 0., 0., 0.]])
        """
        if self.form == "paper":
            return self.W(torch.sigmoid(h))
        if self.form == "code":
            return self.W(h)
        return h.new_zeros(h.shape[0], self.dim)


@dataclass
class Decoding:
    """What a decoding run returns; every dict is keyed by head (window name or label key).

    Attributes
    ----------
    indices : dict of str to torch.Tensor
        ``(B,)`` in-group index fed back or reported (argmax in ``"expected"`` mode).
    probs : dict of str to torch.Tensor
        ``(B, n_group)`` bottom-up distribution of each head.
    log_probs : dict of str to torch.Tensor
        ``(B,)`` log-probability of the target when one was given, else of the index.
    states : dict of str to torch.Tensor
        ``(B, d)`` post-feedback representation ``q_X`` of each window.
    log_likelihood : torch.Tensor
        ``(B,)`` sum of ``log_probs`` over all heads.

    Examples
    --------
    >>> import torch
    >>> Decoding(log_likelihood=torch.zeros(2)).indices
    {}
    """

    indices: dict[str, torch.Tensor] = field(default_factory=dict)
    probs: dict[str, torch.Tensor] = field(default_factory=dict)
    log_probs: dict[str, torch.Tensor] = field(default_factory=dict)
    states: dict[str, torch.Tensor] = field(default_factory=dict)
    log_likelihood: torch.Tensor | None = None


class TensorBrainDecoder(nn.Module):
    """Run a :class:`DecodingProgram` on a :class:`ConceptBank` with a context recurrence.

    Per window ``X`` (context ``h`` from :class:`ContextRecurrence`, ``h₀ = 0``)::

        q̃_X = f_X + read(h)                         (q̃ = f_X for the first window)
        P(k | q̃_X) = softmax over group(X) of a_kᵀ act(q̃_X) (+ a_{0,k})
        q_X = α q̃_X + β a_{k*}      or  α q̃_X + β Σ_k P(k|q̃_X) a_k     (if X feeds back)
        P(c | q_X) for each label group of X (not fed back)
        h ← step(h, q_X)

    Parameters
    ----------
    bank : ConceptBank
        The index layer (scoring and feedback both read ``bank.A``).
    program : DecodingProgram or None
        Defaults to :meth:`DecodingProgram.default` (no label groups).
    context : {"paper", "code", "none"}
        Form of the context recurrence (default ``"paper"``).
    context_dim : int or None
        Size of ``h`` (default: ``bank.dim``).
    alpha, beta : float
        Feedback gains ``q ← αq + βa`` (TB: 1 and 1).
    learn_beta : bool
        Make ``β`` a trained scalar (the code's learned feedback scale); default ``False``.
    temperature : float
        Softmax temperature of every window.
    dropout : float
        In training mode, dropout on the pre-feedback state and on the fed-back embedding,
        ``q = α·drop(q̃) + drop(β a)`` (the code's ``q_S = α·dropout(a_S) + dropout(q̃_S)``,
        rate 0.5 there; default 0, the paper's update). It makes the label heads read the
        sensory evidence as well as the entity's embedding; on the TB-Shapes CI world it did
        not improve the labels of novel individuals (shape 0.26 with rate 0.5, 0.26 without).
    seed : int or None
        Seed of the context weights' initialisation.

    Examples
    --------
    >>> import torch
    >>> bank = ConceptBank({"entity": 4, "predicate": 2}, dim=6, seed=0)
    >>> dec = TensorBrainDecoder(bank, DecodingProgram.default(time=False), seed=0)
    >>> tgt = {"subject": torch.tensor([0]), "object": torch.tensor([3]),
    ...        "predicate": torch.tensor([1])}
    >>> out = dec({"subject": torch.randn(1, 6)}, mode="teacher", targets=tgt)
    >>> out.indices["object"]
    tensor([3])
    """

    def __init__(self, bank: ConceptBank, program: DecodingProgram | None = None, *,
                 context: ContextForm = "paper", context_dim: int | None = None,
                 alpha: float = 1.0, beta: float = 1.0, learn_beta: bool = False,
                 temperature: float = 1.0, dropout: float = 0.0,
                 seed: int | None = None) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ParameterError(f"dropout must be in [0, 1), got {dropout}")
        self.dropout = nn.Dropout(dropout)
        self.bank = bank
        self.program = program if program is not None else DecodingProgram.default()
        for w in self.program.windows:
            for g in (w.group,) + w.labels:
                bank.group_size(g)  # raises a clear ValueError for an unknown group
        if seed is not None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                self.context = ContextRecurrence(bank.dim, context_dim or bank.dim, context)
        else:
            self.context = ContextRecurrence(bank.dim, context_dim or bank.dim, context)
        self.alpha = float(alpha)
        self.beta: float | nn.Parameter = (nn.Parameter(torch.tensor(float(beta)))
                                           if learn_beta else float(beta))
        if not temperature > 0:
            raise ParameterError(f"temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)

    def _batch(self, *maps: Mapping[str, torch.Tensor] | None) -> int:
        sizes = {int(t.shape[0]) for m in maps if m for t in m.values()}
        if not sizes:
            raise ParameterError("nothing to decode from: give sensory `inputs`, `given` states, "
                                 "`force`d indices or `targets`")
        if len(sizes) > 1:
            raise ParameterError(f"inconsistent batch sizes across inputs/targets: {sorted(sizes)}")
        return sizes.pop()

    def _head(self, out: Decoding, key: str, q: torch.Tensor, group: str, mode: DecodeMode,
              chosen: torch.Tensor | None, target: torch.Tensor | None,
              generator: torch.Generator | None) -> torch.Tensor:
        logp = torch.log_softmax(self.bank.logits(q, group) / self.temperature, dim=1)
        probs = logp.exp()
        if chosen is None:
            chosen = (self.bank.sample(probs, generator) if mode == "sample"
                      else self.bank.argmax(probs))
        else:
            self.bank.global_index(group, chosen)  # range check
            chosen = chosen.to(q.device)
        if target is not None:
            self.bank.global_index(group, target)
            target = target.to(q.device)
        scored = chosen if target is None else target
        out.indices[key], out.probs[key] = chosen, probs
        out.log_probs[key] = logp.gather(1, scored.long().reshape(-1, 1)).squeeze(1)
        return probs

    def forward(self, inputs: Mapping[str, torch.Tensor] | None = None, *,
                mode: DecodeMode = "argmax", targets: Mapping[str, torch.Tensor] | None = None,
                force: Mapping[str, torch.Tensor] | None = None,
                given: Mapping[str, torch.Tensor] | None = None,
                generator: torch.Generator | None = None) -> Decoding:
        """Decode one triple (plus labels) per batch row.

        Parameters
        ----------
        inputs : mapping of str to torch.Tensor, optional
            Sensory input ``f_X`` ``(B, d)`` per window name; missing windows get none.
        mode : {"sample", "argmax", "teacher", "expected"}
            How free windows choose: sample (P-Samp), argmax (winner-take-all), teacher
            (feed back ``targets``; every scored window needs one) or expected (feed back
            ``Σ_k P(k) a_k``, differentiable; P-SA).
        targets : mapping of str to torch.Tensor, optional
            True in-group indices ``(B,)`` per head; their log-probabilities are returned.
        force : mapping of str to torch.Tensor, optional
            Indices fed back in those windows whatever the mode (for example a
            teacher-forced subject in semantic recall).
        given : mapping of str to torch.Tensor, optional
            Post-feedback states ``q_X`` ``(B, d)`` that replace those windows entirely (no
            scoring), e.g. ``{"time": a_t}`` for episodic recall.
        generator : torch.Generator, optional
            Random generator of ``"sample"`` mode.

        Returns
        -------
        Decoding

        Examples
        --------
        >>> import torch
        >>> bank = ConceptBank({"time": 2, "entity": 3, "predicate": 2}, dim=4, seed=0)
        >>> dec = TensorBrainDecoder(bank, seed=0)
        >>> out = dec(given={"time": bank.embeddings("time")[[1]]}, mode="expected")
        >>> sorted(out.probs)
        ['object', 'predicate', 'subject']
        """
        if mode not in ("sample", "argmax", "teacher", "expected"):
            raise ParameterError(f"mode must be 'sample', 'argmax', 'teacher' or 'expected', "
                                 f"got {mode!r}")
        inputs, targets = dict(inputs or {}), dict(targets or {})
        force, given = dict(force or {}), dict(given or {})
        heads = {h for w in self.program.windows for h in w.heads()}
        names = {w.name for w in self.program.windows}
        for label, keys, allowed in (("inputs", inputs, names), ("given", given, names),
                                     ("force", force, names), ("targets", targets, heads)):
            unknown = sorted(set(keys) - allowed)
            if unknown:
                raise ParameterError(f"unknown {label} keys {unknown}; this program has "
                                     f"{sorted(allowed)}")
        for label, states in (("inputs", inputs), ("given", given)):
            for key, x in states.items():
                try:
                    self.bank._check_q(x)
                except ValueError as err:
                    raise ParameterError(f"{label}[{key!r}]: {err}") from None
        if mode == "teacher":
            missing = [w.name for w in self.program.windows
                       if w.name not in targets and w.name not in given and w.name not in force]
            if missing:
                raise ParameterError(f"mode='teacher' needs targets for windows {missing}")
        batch = self._batch(inputs, given, force, targets)
        device = self.bank.A.device
        h = self.context.initial(batch, device)
        out = Decoding()
        for i, w in enumerate(self.program.windows):
            q_tilde = self.context.read(h) if i else torch.zeros(batch, self.bank.dim,
                                                                 device=device)
            if w.name in inputs:
                q_tilde = q_tilde + inputs[w.name].to(device)
            if w.name in given:
                q = given[w.name].to(device)
            else:
                chosen = force.get(w.name, targets.get(w.name) if mode == "teacher" else None)
                probs = self._head(out, w.name, q_tilde, w.group, mode, chosen,
                                   targets.get(w.name), generator)
                q = q_tilde
                if w.feedback:
                    scope: str | tuple[str, ...] = w.group
                    fed: torch.Tensor = out.indices[w.name]
                    if mode == "expected" and chosen is None:
                        fed = probs
                        if self.program.feedback_scope == "bank":
                            scope = (w.group,) + w.labels
                            fed = self.bank.bottom_up(q_tilde, scope, self.temperature)
                    if self.dropout.p and self.training:
                        a = self.bank.top_down(torch.zeros_like(q_tilde), fed, scope, 1.0,
                                               self.beta)
                        q = self.alpha * self.dropout(q_tilde) + self.dropout(a)
                    else:
                        q = self.bank.top_down(q_tilde, fed, scope, self.alpha, self.beta)
                for lab in w.labels:
                    key = f"{w.name}.{lab}"
                    self._head(out, key, q, lab, mode, targets.get(key) if mode == "teacher"
                               else None, targets.get(key), generator)
            out.states[w.name] = q
            if i + 1 < len(self.program.windows):
                h = self.context.step(h, q)
        out.log_likelihood = (torch.stack(list(out.log_probs.values())).sum(0)
                              if out.log_probs else torch.zeros(batch, device=device))
        return out
