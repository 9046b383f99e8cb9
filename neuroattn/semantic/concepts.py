"""The index layer of the tensor brain: concept groups with one shared embedding matrix.

Options (paper = Tresp et al. 2023 Algorithm 1 / theory; code = the authors' reference code;
the sources are those recorded in ``shared/reference/tensor-brain.md`` §1.3, §1.4 and §5).
``nonlinearity`` before scoring: ``"sigmoid"`` (default; paper, ``n_k = a_kᵀ sig(q)``),
``"leaky_relu"`` (code, slope 0.02) or ``"identity"`` (no nonlinearity, for the
marginalisation identity). ``bias``: ``"none"`` (default; paper Alg. 1 and code agree),
``"qtb_softplus"`` (QTB 2025: ``a_{0,k} = -Σ_l softplus(a_{l,k})``, derived from ``A``) or
``"learned"`` (a free per-concept bias). What gets fed back (:meth:`ConceptBank.top_down`):
the chosen index's embedding ``a_k`` (default for sampling, argmax and teacher forcing; paper)
or the expected embedding ``Σ_k p_k a_k`` (P-SA, the differentiable mode the code trains
with), over the decoded group only (paper §5.3, entity columns) or over a union of groups
(code: the whole concept bank) by passing several group names; the gains ``q ← αq + βa``
default to ``α = β = 1`` (the TB update; QTB's ``(0, 1)`` and ``(1, 0)`` are the projective
and no-feedback variants). Predicates share the one matrix ``A`` (paper generality; the code
keeps a separate bottom-up-only ``A_P``); that predicates are not fed back is a property of
the decoding program (:mod:`neuroattn.semantic.decoder`), not of the bank.

Every concept ``k`` (entity, class, attribute value, predicate, time index) has a row ``a_k``
of one matrix ``A`` of shape ``(K, d)``. Bottom-up, the representation ``q`` is scored against
the rows of one group and a softmax restricted to that group gives ``P(k | q)``; top-down, the
chosen row is written back into ``q``. Scoring and feedback read the same parameter.

Examples
--------
>>> import torch
>>> bank = ConceptBank({"entity": 3, "predicate": 2}, dim=4, seed=0)
>>> q = torch.zeros(2, 4)
>>> p = bank.bottom_up(q, "entity")
>>> p.shape, bool(torch.allclose(p.sum(1), torch.ones(2)))
(torch.Size([2, 3]), True)
>>> bank.top_down(q, bank.argmax(p), "entity").shape
torch.Size([2, 4])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from neuroattn.errors import ParameterError

__all__ = ["ConceptBank", "Nonlinearity", "BiasMode"]

Nonlinearity = Literal["sigmoid", "leaky_relu", "identity"]
BiasMode = Literal["none", "qtb_softplus", "learned"]
Groups = str | Sequence[str]


class ConceptBank(nn.Module):
    """Named concept groups indexing the rows of one embedding matrix ``A``.

    Parameters
    ----------
    groups : mapping of str to int
        Group name to number of concepts, in the order their rows appear in ``A``
        (for example ``{"time": 10, "entity": 8, "color": 3, "predicate": 4}``).
    dim : int
        Dimension ``d`` of the representation layer ``q``.
    nonlinearity : {"sigmoid", "leaky_relu", "identity"}
        Applied to ``q`` before scoring. Default ``"sigmoid"`` (paper).
    bias : {"none", "qtb_softplus", "learned"}
        Per-concept bias ``a_{0,k}``. Default ``"none"`` (paper and code).
    leaky_slope : float
        Negative slope when ``nonlinearity="leaky_relu"`` (0.02 in the code).
    init_std : float
        Standard deviation of the normal initialisation of ``A``.
    seed : int or None
        Seed of the initialisation (``None``: the global generator).

    Attributes
    ----------
    A : torch.nn.Parameter
        The ``(K, d)`` embedding matrix; row ``k`` is ``a_k``.
    slices : dict of str to slice
        Row range of each group in ``A``.

    Examples
    --------
    >>> bank = ConceptBank({"entity": 3, "time": 2}, dim=5, seed=0)
    >>> bank.A.shape, bank.slices["time"], bank.group_size("entity")
    (torch.Size([5, 5]), slice(3, 5, None), 3)
    """

    def __init__(self, groups: Mapping[str, int], dim: int, *,
                 nonlinearity: Nonlinearity = "sigmoid", bias: BiasMode = "none",
                 leaky_slope: float = 0.02, init_std: float = 0.1,
                 seed: int | None = None) -> None:
        super().__init__()
        if not groups:
            raise ParameterError("ConceptBank needs at least one group, e.g. {'entity': 8}")
        if dim < 1:
            raise ParameterError(f"dim must be a positive int, got {dim}")
        if nonlinearity not in ("sigmoid", "leaky_relu", "identity"):
            raise ParameterError(f"nonlinearity must be 'sigmoid', 'leaky_relu' or 'identity', "
                                 f"got {nonlinearity!r}")
        if bias not in ("none", "qtb_softplus", "learned"):
            raise ParameterError(f"bias must be 'none', 'qtb_softplus' or 'learned', got {bias!r}")
        self.slices: dict[str, slice] = {}
        start = 0
        for name, size in groups.items():
            if int(size) < 1:
                raise ParameterError(f"group {name!r} must have at least one concept, got {size}")
            self.slices[name] = slice(start, start + int(size))
            start += int(size)
        self.dim = int(dim)
        self.nonlinearity = nonlinearity
        self.bias_mode = bias
        self.leaky_slope = float(leaky_slope)
        gen = None if seed is None else torch.Generator().manual_seed(seed)
        self.A = nn.Parameter(torch.randn(start, self.dim, generator=gen) * init_std)
        self.bias = nn.Parameter(torch.zeros(start)) if bias == "learned" else None

    @property
    def n_concepts(self) -> int:
        """Total number of concepts ``K`` (rows of ``A``).

        Examples
        --------
        >>> ConceptBank({"a": 2, "b": 3}, dim=2).n_concepts
        5
        """
        return self.A.shape[0]

    def group_size(self, group: Groups) -> int:
        """Number of concepts in a group (or in a union of groups).

        Examples
        --------
        >>> ConceptBank({"a": 2, "b": 3}, dim=2).group_size(("a", "b"))
        5
        """
        return int(self._rows(group).numel())

    def _rows(self, group: Groups) -> torch.Tensor:
        names = (group,) if isinstance(group, str) else tuple(group)
        if not names:
            raise ParameterError("empty group list")
        for name in names:
            if name not in self.slices:
                raise ParameterError(f"unknown concept group {name!r}; known groups: "
                                     f"{sorted(self.slices)}")
        return torch.cat([torch.arange(self.slices[n].start, self.slices[n].stop)
                          for n in names]).to(self.A.device)

    def global_index(self, group: Groups, k: torch.Tensor) -> torch.Tensor:
        """Rows of ``A`` of the in-group indices ``k`` (checked to lie in the group).

        Examples
        --------
        >>> import torch
        >>> ConceptBank({"a": 2, "b": 3}, dim=2).global_index("b", torch.tensor([0, 2]))
        tensor([2, 4])
        """
        rows = self._rows(group)
        k = torch.as_tensor(k, device=rows.device)
        if k.dtype.is_floating_point or k.dtype == torch.bool:
            raise ParameterError(f"indices must be integers, got dtype {k.dtype}")
        if k.numel() and (int(k.min()) < 0 or int(k.max()) >= rows.numel()):
            raise ParameterError(f"index out of group {group!r}: got values in "
                                 f"[{int(k.min())}, {int(k.max())}], group has {rows.numel()} "
                                 f"concepts (in-group indices 0..{rows.numel() - 1})")
        return rows[k.long()]

    def local_index(self, group: Groups, rows: torch.Tensor) -> torch.Tensor:
        """In-group indices of global rows of ``A``; a row outside the group is an error.

        Examples
        --------
        >>> import torch
        >>> ConceptBank({"a": 2, "b": 3}, dim=2).local_index("b", torch.tensor([4, 2]))
        tensor([2, 0])
        """
        members = self._rows(group)
        rows = torch.as_tensor(rows, device=members.device).long()
        match = rows.reshape(-1, 1) == members.reshape(1, -1)
        if not bool(match.any(1).all()):
            bad = rows.reshape(-1)[~match.any(1)].tolist()
            raise ParameterError(f"rows {bad} of A are not in group {group!r}")
        return match.float().argmax(1).reshape(rows.shape)

    def embeddings(self, group: Groups) -> torch.Tensor:
        """The ``(n_group, d)`` embeddings of a group: a view of ``A`` for a single group.

        Examples
        --------
        >>> bank = ConceptBank({"a": 2, "b": 3}, dim=2)
        >>> bank.embeddings("b").data_ptr() == bank.A[2].data_ptr()
        True
        """
        if isinstance(group, str):
            self._rows(group)
            return self.A[self.slices[group]]
        return self.A[self._rows(group)]

    def concept_bias(self, group: Groups) -> torch.Tensor | None:
        """The bias ``a_{0,k}`` of a group's concepts, or ``None`` when ``bias="none"``.

        Examples
        --------
        >>> import torch
        >>> bank = ConceptBank({"a": 2}, dim=3, bias="qtb_softplus", seed=0)
        >>> bool(torch.allclose(bank.concept_bias("a"),
        ...                     -torch.nn.functional.softplus(bank.A).sum(1)))
        True
        """
        if self.bias_mode == "none":
            return None
        if self.bias_mode == "qtb_softplus":
            return -F.softplus(self.embeddings(group)).sum(1)
        return self.bias[self._rows(group)]

    def activation(self, q: torch.Tensor) -> torch.Tensor:
        """The pre-scoring nonlinearity applied to ``q`` (``sig(q)`` by default).

        Examples
        --------
        >>> import torch
        >>> ConceptBank({"a": 1}, dim=2).activation(torch.zeros(1, 2))
        tensor([[0.5000, 0.5000]])
        """
        if self.nonlinearity == "sigmoid":
            return torch.sigmoid(q)
        if self.nonlinearity == "leaky_relu":
            return F.leaky_relu(q, self.leaky_slope)
        return q

    def _check_q(self, q: torch.Tensor) -> None:
        if not isinstance(q, torch.Tensor) or q.ndim != 2 or q.shape[1] != self.dim:
            shape = tuple(q.shape) if isinstance(q, torch.Tensor) else type(q).__name__
            raise ParameterError(f"q must be a (batch, {self.dim}) tensor, got {shape}")
        if torch.isnan(q).any():
            raise ParameterError("q contains NaN")

    def logits(self, q: torch.Tensor, group: Groups) -> torch.Tensor:
        """Index activations ``n_k = a_{0,k} + a_kᵀ act(q)`` for ``k`` in the group.

        Parameters
        ----------
        q : torch.Tensor
            ``(B, d)`` representation layer.
        group : str or sequence of str
            A group name, or several (their union, in the given order).

        Returns
        -------
        torch.Tensor
            ``(B, n_group)`` scores.

        Examples
        --------
        >>> import torch
        >>> bank = ConceptBank({"a": 2}, dim=2, nonlinearity="identity")
        >>> with torch.no_grad():
        ...     _ = bank.A.copy_(torch.eye(2))
        >>> bank.logits(torch.tensor([[3.0, -1.0]]), "a")
        tensor([[ 3., -1.]], grad_fn=<MmBackward0>)
        """
        self._check_q(q)
        scores = self.activation(q) @ self.embeddings(group).T
        bias = self.concept_bias(group)
        return scores if bias is None else scores + bias

    def bottom_up(self, q: torch.Tensor, group: Groups, temperature: float = 1.0
                  ) -> torch.Tensor:
        """``P(k | q)``: the softmax of :meth:`logits` over the group only.

        ``P(k | q) = exp(n_k / τ) / Σ_{j ∈ group} exp(n_j / τ)`` with temperature ``τ``
        (``τ = 1/β`` of the papers' ``softmax_β``; ``τ → 0`` is winner-take-all).

        Examples
        --------
        >>> import torch
        >>> bank = ConceptBank({"a": 3, "b": 2}, dim=4, seed=0)
        >>> p = bank.bottom_up(torch.randn(2, 4), "b")
        >>> p.shape, bool(torch.allclose(p.sum(1), torch.ones(2)))
        (torch.Size([2, 2]), True)
        """
        if not temperature > 0:
            raise ParameterError(f"temperature must be > 0, got {temperature}")
        return torch.softmax(self.logits(q, group) / temperature, dim=1)

    @staticmethod
    def _check_probs(probs: torch.Tensor) -> None:
        if not isinstance(probs, torch.Tensor) or probs.ndim != 2:
            raise ParameterError("probs must be a (batch, n_group) tensor, got "
                                 f"{getattr(probs, 'shape', type(probs).__name__)}")
        if torch.isnan(probs).any():
            raise ParameterError("probs contains NaN")

    def sample(self, probs: torch.Tensor, generator: torch.Generator | None = None
               ) -> torch.Tensor:
        """Draw one in-group index per row of ``probs`` (P-Samp). Not differentiable.

        Examples
        --------
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> ConceptBank({"a": 3}, dim=2).sample(torch.tensor([[0.0, 1.0, 0.0]]), g)
        tensor([1])
        """
        self._check_probs(probs)
        return torch.multinomial(probs.detach(), 1, generator=generator).squeeze(1)

    def argmax(self, probs: torch.Tensor) -> torch.Tensor:
        """The most probable in-group index per row (the ``τ → 0`` limit of sampling).

        Examples
        --------
        >>> import torch
        >>> ConceptBank({"a": 3}, dim=2).argmax(torch.tensor([[0.2, 0.5, 0.3]]))
        tensor([1])
        """
        self._check_probs(probs)
        return probs.argmax(1)

    def top_down(self, q: torch.Tensor, k_or_probs: torch.Tensor, group: Groups,
                 alpha: float | torch.Tensor = 1.0, beta: float | torch.Tensor = 1.0,
                 feedback: Literal["index", "expected"] | None = None) -> torch.Tensor:
        """Write a concept back into the representation: ``q ← αq + β a``.

        Parameters
        ----------
        q : torch.Tensor
            ``(B, d)`` representation.
        k_or_probs : torch.Tensor
            ``(B,)`` integer in-group indices (``a = a_k``, index feedback) or
            ``(B, n_group)`` probabilities (``a = Σ_k p_k a_k``, expected-embedding feedback).
        group : str or sequence of str
            The group (or union of groups) the indices or probabilities refer to.
        alpha, beta : float or torch.Tensor
            Retention of ``q`` and gain of the feedback (TB update: 1 and 1).
        feedback : {"index", "expected"} or None
            Checked against ``k_or_probs`` when given; inferred from its dtype otherwise.

        Examples
        --------
        >>> import torch
        >>> bank = ConceptBank({"a": 2}, dim=2)
        >>> with torch.no_grad():
        ...     _ = bank.A.copy_(torch.eye(2))
        >>> bank.top_down(torch.ones(1, 2), torch.tensor([1]), "a", alpha=0.5, beta=2.0)
        tensor([[0.5000, 2.5000]], grad_fn=<AddBackward0>)
        >>> bank.top_down(torch.zeros(1, 2), torch.tensor([[0.25, 0.75]]), "a")
        tensor([[0.2500, 0.7500]], grad_fn=<AddBackward0>)
        """
        self._check_q(q)
        if not isinstance(k_or_probs, torch.Tensor):
            raise ParameterError("k_or_probs must be a tensor of indices or probabilities")
        kind = "expected" if k_or_probs.dtype.is_floating_point else "index"
        if feedback is not None and feedback != kind:
            raise ParameterError(f"feedback={feedback!r} but k_or_probs has dtype "
                                 f"{k_or_probs.dtype} (integers: 'index', floats: 'expected')")
        n = self.group_size(group)
        if kind == "index":
            if k_or_probs.shape != (q.shape[0],):
                raise ParameterError(f"indices must have shape ({q.shape[0]},), "
                                     f"got {tuple(k_or_probs.shape)}")
            written = self.A[self.global_index(group, k_or_probs)]
        else:
            self._check_probs(k_or_probs)
            if k_or_probs.shape != (q.shape[0], n):
                raise ParameterError(f"probs must have shape ({q.shape[0]}, {n}) for group "
                                     f"{group!r}, got {tuple(k_or_probs.shape)}")
            written = k_or_probs @ self.embeddings(group)
        return alpha * q + beta * written
