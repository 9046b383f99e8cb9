"""NeVA: scanpaths as a foveated gradient search over any differentiable objective.

NeVA (Schwinn et al. 2022; Zanca et al. for NevaClip) predicts the next
fixation as the one whose foveated view of the image best serves a task. For
each fixation ``t = 1..L``:

1. ``pos`` starts at the image centre ``(0, 0)`` (normalised ``(row, col)``,
   see :mod:`neuroattn.retina.coordinates`);
2. ``steps`` times: evaluate ``loss = objective(render(memory + a(pos)))``,
   keep the best ``(loss, pos)`` so far, then step
   ``pos ← pos - lr · sign(∂loss/∂pos)`` (the reference's signed gradient) or
   an Adam step; a candidate whose loss did not improve on its best is
   **restarted** uniformly in ``[-1, 1]²`` (``restarts="random"``, NevaClip's
   default), jittered by ``U(-lr/2, lr/2)`` (``"jitter"``, SchwinnL/NeVA's) or
   left alone (``"none"``);
3. the fixation is the best position; the inhibition-of-return memory becomes
   ``forgetting · memory + a(fixation)`` (:func:`~neuroattn.retina.update_memory`).

The reference loops over images; here **every image, caption and parallel
start is one row of a batch**, so one forward/backward pass moves them all.
Each item draws its random numbers from its own generator, seeded
``seed + i`` for item ``i`` (or from ``seed[i]``), so a batched search gives
the same scanpaths as searching the items one at a time with those seeds.

Deviations from the reference, all switchable: positions are clamped to the
image (``bounded=True``; the reference lets them leave ``[-1, 1]`` and so can
report fixations outside the image), the per-candidate loss is summed, not
averaged, before the gradient (sign steps are unchanged; Adam steps then do not
depend on the batch size), and ``n_starts > 1`` runs extra chains from random
starts next to the centre one. The number of fixations is fixed
(``n_fixations``) or decided by the search: with ``stop_below`` an item's
scanpath ends at the first fixation whose loss is at most that value.

Examples
--------
>>> import torch
>>> from neuroattn.gaze.neva.search import neva_search
>>> images = torch.zeros(2, 1, 32, 32)
>>> images[0, 0, 4:12, 20:28] = torch.rand(8, 8)        # texture top right
>>> images[1, 0, 20:28, 4:12] = torch.rand(8, 8)        # texture bottom left
>>> def sharpness(fov, item):   # reward high-frequency energy: look at the texture
...     return -(fov[:, :, 1:] - fov[:, :, :-1]).pow(2).sum((1, 2, 3))
>>> result = neva_search(sharpness, images, n_fixations=2, seed=0)
>>> result.fixations.shape
(2, 2, 2)
>>> x, y = result.fixations[0, 0]; bool(x > 16 and y < 16)
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from neuroattn.device import autocast, resolve_device
from neuroattn.progress import progress
from neuroattn.retina.coordinates import fovea_to_pixels, pixels_to_fovea
from neuroattn.retina.foveation import Foveation, GaussianFoveation, update_memory

__all__ = ["NeVAResult", "Objective", "neva_search"]

Objective = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``objective(foveated (N, C, H, W), item (N,)) -> loss (N,)``; ``item`` indexes the batch."""

Optimizer = Literal["sign", "adam"]
Restarts = Literal["random", "jitter", "none"]
ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8


@dataclass(frozen=True)
class NeVAResult:
    """Scanpaths of a search.

    Attributes
    ----------
    fixations : numpy.ndarray, shape (B, L, 2)
        Pixel ``(x, y)`` of each fixation; NaN after an item stopped early.
    losses : numpy.ndarray, shape (B, L)
        Objective at each fixation (with the memory of the previous ones).
    lengths : numpy.ndarray, shape (B,)
        Number of fixations of each item.
    image_sizes : numpy.ndarray, shape (B, 2)
        ``(height, width)`` of the image each item's coordinates refer to.
    """

    fixations: np.ndarray
    losses: np.ndarray
    lengths: np.ndarray
    image_sizes: np.ndarray

    @property
    def fovea(self) -> np.ndarray:
        """The fixations as normalised ``(row, col)`` in ``[-1, 1]``, shape (B, L, 2)."""
        return np.stack([pixels_to_fovea(path, tuple(size))
                         for path, size in zip(self.fixations, self.image_sizes, strict=False)])

    def scanpaths(self) -> list[np.ndarray]:
        """One ``(n_i, 2)`` pixel ``(x, y)`` array per item, without the NaN padding."""
        return [path[:n] for path, n in zip(self.fixations, self.lengths, strict=False)]


def _item_seeds(seed: int | Sequence[int], n_items: int) -> list[int]:
    if isinstance(seed, (int, np.integer)):
        return [int(seed) + i for i in range(n_items)]
    seeds = [int(s) for s in seed]
    if len(seeds) != n_items:
        raise ValueError(f"seed has {len(seeds)} entries for {n_items} images; give one per image "
                         "or a single int.")
    return seeds


def _check_args(images: torch.Tensor, n_fixations: int, steps: int, lr: float, optimizer: str,
                restarts: str, n_starts: int, stop_below: float | None) -> None:
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        shape = tuple(getattr(images, "shape", ()))
        raise ValueError(f"images must be a (batch, channels, height, width) tensor, got {shape}.")
    if not torch.isfinite(images).all():
        raise ValueError("images contain NaN or infinite values; clean or mask them first.")
    for name, value in (("n_fixations", n_fixations), ("steps", steps), ("n_starts", n_starts)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}.")
    if optimizer not in ("sign", "adam"):
        raise ValueError(f"optimizer must be 'sign' or 'adam', got {optimizer!r}.")
    if restarts not in ("random", "jitter", "none"):
        raise ValueError(f"restarts must be 'random', 'jitter' or 'none', got {restarts!r}.")
    if stop_below is not None and not np.isfinite(stop_below):
        raise ValueError(f"stop_below must be a finite loss or None, got {stop_below}.")


class _Chains:
    """The candidate positions of the active items at one fixation, with their optimiser state."""

    def __init__(self, pos: torch.Tensor, optimizer: Optimizer, lr: float) -> None:
        self.pos, self.optimizer, self.lr = pos, optimizer, lr
        self.best_loss = torch.full(pos.shape[:1], torch.inf, device=pos.device)
        self.best_pos = pos.clone()
        self.moment = torch.zeros_like(pos)
        self.second = torch.zeros_like(pos)
        self.count = torch.zeros(pos.shape[:1], device=pos.device)

    def record(self, loss: torch.Tensor) -> torch.Tensor:
        improved = loss < self.best_loss
        self.best_loss = torch.where(improved, loss, self.best_loss)
        self.best_pos = torch.where(improved[:, None], self.pos, self.best_pos)
        return improved

    def step(self, grad: torch.Tensor) -> None:
        if self.optimizer == "sign":
            self.pos = self.pos - self.lr * torch.sign(grad)
            return
        beta1, beta2 = ADAM_BETAS
        self.count = self.count + 1
        self.moment = beta1 * self.moment + (1 - beta1) * grad
        self.second = beta2 * self.second + (1 - beta2) * grad**2
        m_hat = self.moment / (1 - beta1 ** self.count[:, None])
        v_hat = self.second / (1 - beta2 ** self.count[:, None])
        self.pos = self.pos - self.lr * m_hat / (v_hat.sqrt() + ADAM_EPS)

    def restart(self, where: torch.Tensor, new_pos: torch.Tensor) -> None:
        self.pos = torch.where(where[:, None], new_pos, self.pos)
        self.moment = torch.where(where[:, None], 0.0, self.moment)
        self.second = torch.where(where[:, None], 0.0, self.second)
        self.count = torch.where(where, 0.0, self.count)


def _search_chunk(objective: Objective, images: torch.Tensor, items: torch.Tensor,
                  seeds: list[int], foveation: Foveation, *, n_fixations: int, steps: int,
                  lr: float, optimizer: Optimizer, restarts: Restarts, n_starts: int,
                  forgetting: float, stop_below: float | None, bounded: bool, precision: str,
                  show_progress: bool | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    n_items, _, height, width = images.shape
    size, device = (height, width), images.device
    generators = [torch.Generator().manual_seed(s) for s in seeds]
    starts = torch.stack([torch.rand(n_fixations, n_starts, 2, generator=g) for g in generators])
    moves = torch.stack([torch.rand(n_fixations, steps, n_starts, 2, generator=g)
                         for g in generators])
    starts, moves = starts.to(device, images.dtype), moves.to(device, images.dtype)
    with torch.no_grad():
        levels = foveation.levels(images)
    memory = torch.zeros(n_items, height, width, device=device, dtype=images.dtype)
    fixations = torch.full((n_items, n_fixations, 2), torch.nan, device=device,
                           dtype=images.dtype)
    losses = torch.full((n_items, n_fixations), torch.nan, device=device)
    active = torch.ones(n_items, dtype=torch.bool, device=device)
    for t in progress(range(n_fixations), desc="NeVA fixations", enabled=show_progress):
        live = active.nonzero().flatten()
        if live.numel() == 0:
            break
        owner = live.repeat_interleave(n_starts)
        first = torch.zeros(live.numel(), n_starts, 2, device=device, dtype=images.dtype)
        first[:, 1:] = starts[live, t, 1:] * 2 - 1
        chains = _Chains(first.reshape(-1, 2), optimizer, lr)
        chain_levels, chain_memory = levels[:, owner], memory[owner]
        for s in range(steps):
            pos = chains.pos.requires_grad_(True)
            with autocast(device, precision):
                seen = foveation.render(chain_levels, chain_memory + foveation.acuity(pos, size))
                loss = objective(seen, items[owner])
            if loss.shape != (owner.numel(),):
                raise ValueError(f"the objective must return one loss per foveated image, shape "
                                 f"({owner.numel()},); it returned {tuple(loss.shape)}.")
            (grad,) = torch.autograd.grad(loss.sum(), pos)
            chains.pos = pos.detach()
            improved = chains.record(loss.detach().float())
            chains.step(grad.to(chains.pos.dtype))
            draw = moves[live, t, s].reshape(-1, 2)
            if restarts == "random":
                chains.restart(~improved, draw * 2 - 1)
            elif restarts == "jitter":
                chains.pos = torch.where(improved[:, None], chains.pos,
                                         chains.pos + (draw - 0.5) * lr)
            if bounded:
                chains.pos = chains.pos.clamp(-1.0, 1.0)
        best = chains.best_loss.view(-1, n_starts)
        pick = best.argmin(1)
        chosen = chains.best_pos.view(-1, n_starts, 2)[torch.arange(live.numel()), pick]
        fixations[live, t] = chosen
        losses[live, t] = best.min(1).values
        with torch.no_grad():
            memory[live] = update_memory(memory[live], foveation.acuity(chosen, size), forgetting)
        if stop_below is not None:
            active[live] = losses[live, t] > stop_below
    return fixations, losses, (~torch.isnan(losses)).sum(1)


def neva_search(
    objective: Objective,
    images: torch.Tensor,
    *,
    foveation: Foveation | None = None,
    n_fixations: int = 10,
    steps: int = 20,
    lr: float = 0.1,
    optimizer: Optimizer = "sign",
    restarts: Restarts = "random",
    n_starts: int = 1,
    forgetting: float = 0.0,
    stop_below: float | None = None,
    bounded: bool = True,
    seed: int | Sequence[int] = 0,
    batch_size: int | None = None,
    device: str | torch.device = "auto",
    precision: str = "auto",
    show_progress: bool | None = None,
) -> NeVAResult:
    """Search scanpaths for a batch of images (see the module docstring for the algorithm).

    Parameters
    ----------
    objective : callable
        ``objective(foveated, item) -> loss``: ``foveated`` is ``(N, C, H, W)``,
        ``item`` ``(N,)`` the index into ``images`` of each row; returns ``(N,)``
        losses to minimise. It must be differentiable in its input and live on
        ``device``.
    images : torch.Tensor, shape (B, C, H, W)
        The stimuli, in whatever value range ``objective`` expects.
    foveation : Foveation, optional
        Acuity model; default :class:`~neuroattn.retina.GaussianFoveation`
        rescaled to the image size (the reference's parameters at 224 px).
    n_fixations : int
        Maximum scanpath length ``L`` (NevaClip: 10).
    steps : int
        Optimisation steps per fixation (NevaClip: 20).
    lr : float
        Step size in normalised units (NevaClip: 0.1; a sign step moves each
        coordinate by exactly ``lr``).
    optimizer : {"sign", "adam"}
        Signed-gradient steps (the reference) or Adam.
    restarts : {"random", "jitter", "none"}
        What a candidate that did not improve does next.
    n_starts : int
        Parallel chains per item: one from the centre, the rest from random positions.
    forgetting : float
        Memory factor in ``[0, 1]`` (NevaClip: 0, so only the last fixation is remembered).
    stop_below : float, optional
        End an item's scanpath once its loss is at most this.
    bounded : bool
        Keep positions inside the image.
    seed : int or sequence of int
        Item ``i`` uses ``seed + i`` (or ``seed[i]``).
    batch_size : int, optional
        Images searched at once (default: all).
    device : str or torch.device
        ``"auto"`` picks CUDA, then MPS, then CPU.
    precision : str
        Autocast precision of the objective (``"auto"``: bf16 on CUDA).
    show_progress : bool, optional
        Progress bar over fixations (default: on in a terminal).

    Returns
    -------
    NeVAResult

    Examples
    --------
    >>> import torch
    >>> images = torch.rand(3, 3, 24, 24)
    >>> flat = lambda fov, item: fov.var((1, 2, 3))      # prefers blur: any objective works
    >>> r = neva_search(flat, images, n_fixations=4, steps=3, stop_below=1.0, seed=1)
    >>> r.lengths.tolist(), r.image_sizes[0].tolist()
    ([1, 1, 1], [24, 24])
    """
    _check_args(images, n_fixations, steps, lr, optimizer, restarts, n_starts, stop_below)
    dev = resolve_device(device)
    images = images.to(dev).float() if not images.is_floating_point() else images.to(dev)
    n_items, _, height, width = images.shape
    foveation = foveation if foveation is not None else GaussianFoveation.for_image_size(
        min(height, width))
    seeds = _item_seeds(seed, n_items)
    chunk = int(batch_size) if batch_size else n_items
    if chunk < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}.")
    parts = []
    for start in range(0, n_items, chunk):
        stop = min(start + chunk, n_items)
        items = torch.arange(start, stop, device=dev)
        parts.append(_search_chunk(
            objective, images[start:stop], items, seeds[start:stop], foveation,
            n_fixations=int(n_fixations), steps=int(steps), lr=float(lr), optimizer=optimizer,
            restarts=restarts, n_starts=int(n_starts), forgetting=float(forgetting),
            stop_below=stop_below, bounded=bounded, precision=precision,
            show_progress=show_progress))
    fovea, losses, lengths = (torch.cat(p).cpu() for p in zip(*parts, strict=False))
    pixels = fovea_to_pixels(fovea.double(), (height, width)).numpy()
    return NeVAResult(fixations=pixels, losses=losses.double().numpy(),
                      lengths=lengths.numpy().astype(np.int64),
                      image_sizes=np.tile([height, width], (n_items, 1)))
