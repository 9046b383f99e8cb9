"""Episodic memory (decoding from a time index) and semantic memory (its marginal over time).

Episodic memory: each episode has a time index ``t`` in a group of the
:class:`~neuroattn.semantic.concepts.ConceptBank`; its embedding ``a_t`` is a row of the same
matrix ``A``. Recall is the perception program with no sensory input, started from
``q_T = a_t`` (the authors' ``forward_tkg``, reference §1.8). Forming a memory is, in the
theory (2023 §10.2), a one-shot copy of the episodic trace into a new index:
``a_t ← q_T`` (``rule="trace"``, default) or ``a_t ← sig(q_T)`` (``rule="sigmoid"``), where
``q_T`` is the representation perception wrote in the time window; the code instead learns
``A_T`` by gradient (``write="learned"``, trained through :meth:`EpisodicMemory.recall_nll`).

Semantic memory is episodic memory marginalised over a uniform time ``t`` (reference §1.9):
``marginal="mixture"`` (default; the theory's ``P_sem = (1/T) Σ_t P(· | t)``, each head's
distribution averaged over the episodes), ``"mean"`` (decode from ``ā = (1/T) Σ_t a_t``;
equal to the mixture of logits when the decoder is linear in ``a_t``) or ``"learned"`` (a
trained vector ``ā``, as in the code's ``forward_skg``). Only the first two are marginals of
episodic memory: a ``"learned"`` ``ā`` starts at ``mean_t a_t`` but is then a separate
parameter, trained (teacher-forced) on the semantic facts themselves, so its recall of those
facts measures memorisation, not what the episodes imply.

Examples
--------
>>> import torch
>>> from neuroattn.semantic.concepts import ConceptBank
>>> from neuroattn.semantic.decoder import TensorBrainDecoder
>>> bank = ConceptBank({"time": 3, "entity": 4, "predicate": 2}, dim=6, seed=0)
>>> memory = EpisodicMemory(TensorBrainDecoder(bank, seed=0))
>>> memory.recall(torch.tensor([0, 2])).indices["subject"].shape
torch.Size([2])
>>> round(SemanticMemory(memory).query(batch_size=1).probs["predicate"].sum().item(), 4)
1.0
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import torch
from torch import nn

from neuroattn.errors import ParameterError
from neuroattn.semantic.concepts import ConceptBank
from neuroattn.semantic.decoder import DecodeMode, Decoding, TensorBrainDecoder

__all__ = ["EpisodicMemory", "SemanticMemory"]


class EpisodicMemory(nn.Module):
    """Time-index embeddings written one-shot or learned, recalled without sensory input.

    Parameters
    ----------
    decoder : TensorBrainDecoder
        Its program must contain the time window ``window``.
    window : str
        Name of the time window in the program (default ``"time"``); its group holds the
        time indices.
    write : {"one_shot", "learned"}
        ``"one_shot"`` (default; theory): :meth:`write` copies the trace into ``a_t``.
        ``"learned"`` (code): ``a_t`` is trained by gradient and :meth:`write` is refused.
    rule : {"trace", "sigmoid"}
        One-shot rule ``a_t ← q_T`` (default) or ``a_t ← sig(q_T)``.

    Examples
    --------
    >>> import torch
    >>> from neuroattn.semantic.concepts import ConceptBank
    >>> bank = ConceptBank({"time": 2, "entity": 3, "predicate": 2}, dim=4, seed=0)
    >>> memory = EpisodicMemory(TensorBrainDecoder(bank, seed=0))
    >>> memory.write(torch.tensor([1]), torch.ones(1, 4))
    >>> bank.embeddings("time")[1]
    tensor([1., 1., 1., 1.], grad_fn=<SelectBackward0>)
    """

    def __init__(self, decoder: TensorBrainDecoder, window: str = "time", *,
                 write: Literal["one_shot", "learned"] = "one_shot",
                 rule: Literal["trace", "sigmoid"] = "trace") -> None:
        super().__init__()
        windows = {w.name: w for w in decoder.program.windows}
        if window not in windows:
            raise ParameterError(f"the decoding program has no window {window!r}; windows: "
                                 f"{list(windows)}")
        if write not in ("one_shot", "learned"):
            raise ParameterError(f"write must be 'one_shot' or 'learned', got {write!r}")
        if rule not in ("trace", "sigmoid"):
            raise ParameterError(f"rule must be 'trace' or 'sigmoid', got {rule!r}")
        self.decoder, self.window = decoder, window
        self.group = windows[window].group
        self.write_mode, self.rule = write, rule

    @property
    def bank(self) -> ConceptBank:
        """The decoder's :class:`~neuroattn.semantic.concepts.ConceptBank`.

        Examples
        --------
        >>> from neuroattn.semantic.concepts import ConceptBank
        >>> bank = ConceptBank({"time": 2, "entity": 2, "predicate": 2}, dim=3)
        >>> EpisodicMemory(TensorBrainDecoder(bank)).bank is bank
        True
        """
        return self.decoder.bank

    def time_embeddings(self) -> torch.Tensor:
        """The ``(T, d)`` time-index embeddings (a view of ``bank.A``).

        Examples
        --------
        >>> import torch
        >>> from neuroattn.semantic.concepts import ConceptBank
        >>> bank = ConceptBank({"time": 5, "entity": 2, "predicate": 2}, dim=3)
        >>> EpisodicMemory(TensorBrainDecoder(bank)).time_embeddings().shape
        torch.Size([5, 3])
        """
        return self.bank.embeddings(self.group)

    @torch.no_grad()
    def write(self, t: torch.Tensor, q: torch.Tensor) -> None:
        """One-shot write ``a_t ← q`` (``rule="trace"``) or ``a_t ← sig(q)`` in place.

        Parameters
        ----------
        t : torch.Tensor
            ``(B,)`` in-group time indices (distinct).
        q : torch.Tensor
            ``(B, d)`` traces, typically ``decoding.states["time"]`` from perception.

        Examples
        --------
        >>> import torch
        >>> from neuroattn.semantic.concepts import ConceptBank
        >>> bank = ConceptBank({"time": 2, "entity": 2, "predicate": 2}, dim=2)
        >>> EpisodicMemory(TensorBrainDecoder(bank), rule="sigmoid").write(
        ...     torch.tensor([0]), torch.zeros(1, 2))
        >>> bank.embeddings("time")[0].tolist()
        [0.5, 0.5]
        """
        if self.write_mode != "one_shot":
            raise ParameterError("write='learned': time embeddings are trained by gradient "
                                 "(minimise recall_nll), not written one-shot")
        self.bank._check_q(q)
        rows = self.bank.global_index(self.group, t)
        if rows.shape != (q.shape[0],):
            raise ParameterError(f"t must have shape ({q.shape[0]},), got {tuple(rows.shape)}")
        if rows.unique().numel() != rows.numel():
            raise ParameterError("t must not repeat a time index within one write")
        trace = torch.sigmoid(q) if self.rule == "sigmoid" else q
        self.bank.A[rows] = trace.to(self.bank.A)

    def recall(self, t: torch.Tensor, *, mode: DecodeMode = "argmax",
               targets: Mapping[str, torch.Tensor] | None = None,
               force: Mapping[str, torch.Tensor] | None = None,
               generator: torch.Generator | None = None) -> Decoding:
        """Decode episode ``t``: ``q_T = a_t``, no sensory input, then the later windows.

        Examples
        --------
        >>> import torch
        >>> from neuroattn.semantic.concepts import ConceptBank
        >>> bank = ConceptBank({"time": 2, "entity": 3, "predicate": 2}, dim=4, seed=0)
        >>> out = EpisodicMemory(TensorBrainDecoder(bank, seed=0)).recall(torch.tensor([1]))
        >>> "time" in out.probs, sorted(out.states)
        (False, ['object', 'predicate', 'subject', 'time'])
        """
        a_t = self.bank.A[self.bank.global_index(self.group, t)]
        if a_t.ndim != 2:
            raise ParameterError(f"t must be a 1-D tensor of time indices, got shape "
                                 f"{tuple(torch.as_tensor(t).shape)}")
        return self.decoder(mode=mode, targets=targets, force=force,
                            given={self.window: a_t}, generator=generator)

    def recall_nll(self, t: torch.Tensor, targets: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Mean teacher-forced negative log-likelihood of recalling ``targets`` from ``t``.

        Minimising it learns ``a_t`` (and the rest) by gradient (``write="learned"``).

        Examples
        --------
        >>> import torch
        >>> from neuroattn.semantic.concepts import ConceptBank
        >>> bank = ConceptBank({"time": 2, "entity": 3, "predicate": 2}, dim=4, seed=0)
        >>> memory = EpisodicMemory(TensorBrainDecoder(bank, seed=0), write="learned")
        >>> tgt = {k: torch.tensor([0]) for k in ("subject", "object", "predicate")}
        >>> memory.recall_nll(torch.tensor([1]), tgt).item() > 0
        True
        """
        return -self.recall(t, mode="teacher", targets=targets).log_likelihood.mean()


class SemanticMemory(nn.Module):
    """Episodic memory marginalised over a uniform time index.

    Parameters
    ----------
    episodic : EpisodicMemory
    marginal : {"mixture", "mean", "learned"}
        ``"mixture"`` (default; theory): each head's distribution is the average over ``t``
        of the episodic recall distributions (with ``force``d upstream windows these are
        ``(1/T) Σ_t P(· | upstream, t)``; a free upstream window is chosen per episode).
        ``"mean"``: decode from ``ā = mean_t a_t``. ``"learned"``: decode from a separately
        trained vector ``ā`` (code), initialised at the current mean; not a marginal once
        trained (see the module docstring).

    Examples
    --------
    >>> import torch
    >>> from neuroattn.semantic.concepts import ConceptBank
    >>> bank = ConceptBank({"time": 3, "entity": 4, "predicate": 2}, dim=6, seed=0)
    >>> memory = EpisodicMemory(TensorBrainDecoder(bank, seed=0))
    >>> sem = SemanticMemory(memory, marginal="learned")
    >>> bool(torch.allclose(sem.abar, bank.embeddings("time").mean(0)))
    True
    """

    def __init__(self, episodic: EpisodicMemory,
                 marginal: Literal["mixture", "mean", "learned"] = "mixture") -> None:
        super().__init__()
        if marginal not in ("mixture", "mean", "learned"):
            raise ParameterError(f"marginal must be 'mixture', 'mean' or 'learned', "
                                 f"got {marginal!r}")
        self.episodic, self.marginal = episodic, marginal
        self.abar = (nn.Parameter(episodic.time_embeddings().detach().mean(0).clone())
                     if marginal == "learned" else None)

    def mean_embedding(self) -> torch.Tensor:
        """``ā``: the learned vector, or ``mean_t a_t`` for the other marginals.

        Examples
        --------
        >>> import torch
        >>> from neuroattn.semantic.concepts import ConceptBank
        >>> bank = ConceptBank({"time": 2, "entity": 2, "predicate": 2}, dim=3, seed=0)
        >>> sem = SemanticMemory(EpisodicMemory(TensorBrainDecoder(bank)), marginal="mean")
        >>> sem.mean_embedding().shape
        torch.Size([3])
        """
        if self.abar is not None:
            return self.abar
        return self.episodic.time_embeddings().mean(0)

    def query(self, *, batch_size: int | None = None, mode: DecodeMode = "argmax",
              targets: Mapping[str, torch.Tensor] | None = None,
              force: Mapping[str, torch.Tensor] | None = None,
              generator: torch.Generator | None = None) -> Decoding:
        """Decode from semantic memory (no time index, no sensory input).

        ``batch_size`` is needed only when neither ``force`` nor ``targets`` fixes it. In
        ``"mixture"`` mode the returned ``indices`` are the argmax of the mixed
        distributions, ``log_probs`` come from them and ``states`` is empty.

        Examples
        --------
        >>> import torch
        >>> from neuroattn.semantic.concepts import ConceptBank
        >>> bank = ConceptBank({"time": 3, "entity": 4, "predicate": 2}, dim=6, seed=0)
        >>> sem = SemanticMemory(EpisodicMemory(TensorBrainDecoder(bank, seed=0)))
        >>> out = sem.query(force={"subject": torch.tensor([2])})
        >>> out.probs["object"].shape, out.states
        (torch.Size([1, 4]), {})
        """
        fixed = [int(x.shape[0]) for m in (force, targets) if m for x in m.values()]
        batch = fixed[0] if fixed else batch_size
        if batch is None:
            raise ParameterError("give batch_size, or force/targets that fix the batch size")
        ep = self.episodic
        if self.marginal != "mixture":
            abar = self.mean_embedding().reshape(1, -1).expand(batch, -1)
            return ep.decoder(mode=mode, targets=targets, force=force,
                              given={ep.window: abar}, generator=generator)
        n_t = ep.time_embeddings().shape[0]
        rep_force = {k: v.repeat_interleave(n_t, 0) for k, v in (force or {}).items()}
        rep_targets = {k: v.repeat_interleave(n_t, 0) for k, v in (targets or {}).items()}
        t = torch.arange(n_t, device=ep.bank.A.device).repeat(batch)
        per_t = ep.recall(t, mode=mode, targets=rep_targets, force=rep_force,
                          generator=generator)
        out = Decoding()
        for key, p in per_t.probs.items():
            mixed = p.reshape(batch, n_t, -1).mean(1)
            out.probs[key] = mixed
            out.indices[key] = mixed.argmax(1) if key not in (force or {}) else force[key]
            scored = (targets or {}).get(key, out.indices[key])
            out.log_probs[key] = mixed.gather(1, scored.reshape(-1, 1)).squeeze(1).log()
        out.log_likelihood = torch.stack(list(out.log_probs.values())).sum(0)
        return out
