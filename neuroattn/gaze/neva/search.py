"""NeVA: scanpaths as a foveated gradient search over any differentiable objective.

NeVA (Schwinn et al. 2022; Zanca et al. for NevaClip) predicts the next
fixation as the one whose foveated view of the image best serves a task. For
each fixation ``t = 1..L``:

1. ``pos`` starts at the image centre ``(0, 0)`` (normalised ``(row, col)``,
   see :mod:`neuroattn.retina.coordinates`);
2. ``steps`` times: evaluate ``loss = objective(render(memory + a(pos)))``,
   step ``pos ← pos - lr · sign(∂loss/∂pos)`` (the reference's signed
   gradient) or an Adam step, and keep the best ``(loss, position)`` so far; a
   candidate whose loss did not improve on its best is **restarted** uniformly
   in ``[-1, 1]²`` (``restarts="random"``, NevaClip's default), jittered by
   ``U(-lr/2, lr/2)`` (``"jitter"``, SchwinnL/NeVA's) or left alone
   (``"none"``);
3. the fixation is the best position; the inhibition-of-return memory becomes
   ``forgetting · memory + a(fixation)`` (:func:`~neuroattn.retina.update_memory`).

**Which position is kept** (``record``). The reference steps first and then
keeps the *stepped* position next to the loss of the position *before* the
step (``record="after_step"``, reference-exact): its fixation is one step
(``lr`` per coordinate, about 11 px at 224 px) away from the position whose
loss it reports, and that position was never evaluated. The default
``record="evaluated"`` keeps the position the loss was evaluated at, so a
fixation and its loss belong together. This is a **deviation** from the
reference: it moves each fixation by that one step, and through the memory the
later fixations of a path further.

The reference loops over images; here **every image, caption and parallel
start is one row of a batch**, so one forward/backward pass moves them all.
Each item draws its random numbers from its own generator, seeded
``seed + i`` for item ``i`` (or from ``seed[i]``), so a batched search gives
the same scanpaths as searching the items one at a time with those seeds.

Deviations from the reference, all switchable: the evaluated position is
kept (``record="evaluated"``, above); positions are clamped to the image
(``bounded=True``; the reference lets them leave ``[-1, 1]`` and so can report
fixations outside the image); the per-candidate loss is summed, not averaged,
before the gradient (sign steps are unchanged; Adam steps then do not depend on
the batch size); and ``n_starts > 1`` runs extra chains from random starts
next to the centre one. With ``record="after_step", bounded=False,
n_starts=1`` the search is the reference's loop: given the same random
numbers, it gives the same fixations (the tests transcribe the reference loop
and compare). The number of fixations is fixed (``n_fixations``) or decided by
the search: with ``stop_below`` an item's scanpath ends at the first fixation
whose loss is at most that value.

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
from neuroattn.errors import ParameterError
from neuroattn.progress import progress as progress_bar
from neuroattn.retina.coordinates import fovea_to_pixels, pixels_to_fovea
from neuroattn.retina.foveation import Foveation, GaussianFoveation, update_memory

__all__ = ["CPU_CHUNK_BYTES", "NeVAResult", "Objective", "Record", "neva_search",
           "search_chunk_size"]

Objective = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``objective(foveated (N, C, H, W), item (N,)) -> loss (N,)``; ``item`` indexes the batch."""

CPU_CHUNK_BYTES = 2 * 2**20
"""On the CPU, ``neva_search`` searches at most this many bytes of image rows at once.

A step allocates a dozen image-sized tensors (the rendered view, the mask
products, the encoder's activations and their gradients). At 224 px a float32
RGB row is 0.6 MB, so a whole batch of 32 (19 MB per tensor) streams every
tensor through main memory, while a few rows stay in the cache. On a 2-core
EPYC (1 MB L2 per core, 32 MB L3), with one torch thread, a step of the
analytic encoder costs 3-4 ms per image at 1-4 rows and 12 ms at 32 rows; the
2 MiB default (3 rows at 224 px) makes ``benchmarks/bench_neva.py`` 1.3x faster
than the per-image loop, where the whole batch at once is 0.74x. Chunks give
the same fixations (per-item generators).

With several torch threads on a machine busier than its cores, each small
operation waits for a descheduled thread, and many small chunks then cost more
than one big batch (6x on 2 cores at load 12): there, use one torch thread
(``torch.set_num_threads(1)``), or ``chunk_bytes=None``.
"""
Optimizer = Literal["sign", "adam"]
Restarts = Literal["random", "jitter", "none"]
Record = Literal["evaluated", "after_step"]
ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8


@dataclass(frozen=True)
class NeVAResult:
    """Scanpaths of a search.

    Attributes
    ----------
    fixations : numpy.ndarray, shape (B, L, 2)
        Pixel ``(x, y)`` of each fixation; NaN after an item stopped early.
    losses : numpy.ndarray, shape (B, L)
        Objective at each fixation (with the memory of the previous ones); with
        ``record="after_step"`` the objective at the position one step before it.
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
        raise ParameterError(f"seed has {len(seeds)} entries for {n_items} images; give one "
                             "per image or a single int.")
    return seeds


def _check_args(images: torch.Tensor, n_fixations: int, steps: int, lr: float, optimizer: str,
                restarts: str, record: str, n_starts: int, stop_below: float | None) -> None:
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        shape = tuple(getattr(images, "shape", ()))
        raise ParameterError(f"images must be a (batch, channels, height, width) tensor, got "
                             f"{shape}.")
    if not torch.isfinite(images).all():
        raise ParameterError("images contain NaN or infinite values; clean or mask them first.")
    for name, value in (("n_fixations", n_fixations), ("steps", steps), ("n_starts", n_starts)):
        if int(value) != value or value < 1:
            raise ParameterError(f"{name} must be a positive integer, got {value!r}.")
    if not lr > 0:
        raise ParameterError(f"lr must be > 0, got {lr}.")
    if optimizer not in ("sign", "adam"):
        raise ParameterError(f"optimizer must be 'sign' or 'adam', got {optimizer!r}.")
    if restarts not in ("random", "jitter", "none"):
        raise ParameterError(f"restarts must be 'random', 'jitter' or 'none', got {restarts!r}.")
    if record not in ("evaluated", "after_step"):
        raise ParameterError(f"record must be 'evaluated' (the position whose loss is kept) "
                             f"or 'after_step' (the reference's stepped position), got "
                             f"{record!r}.")
    if stop_below is not None and not np.isfinite(stop_below):
        raise ParameterError(f"stop_below must be a finite loss or None, got {stop_below}.")


def search_chunk_size(images: torch.Tensor, *, n_starts: int = 1, batch_size: int | None = None,
                      chunk_bytes: int | None = CPU_CHUNK_BYTES) -> int:
    """How many images :func:`neva_search` searches at once.

    ``batch_size`` (all images if None), and on the CPU at most as many as keep
    ``images × n_starts`` rows within ``chunk_bytes`` (at least one image).

    Parameters
    ----------
    images : torch.Tensor, shape (B, C, H, W)
        The batch, on the device the search runs on.
    n_starts : int
        Chains per image (rows per image).
    batch_size : int, optional
        The most images at once.
    chunk_bytes : int, optional
        The CPU's cache-sized budget (:data:`CPU_CHUNK_BYTES`); None: no limit.

    Returns
    -------
    int

    Examples
    --------
    >>> import torch
    >>> search_chunk_size(torch.zeros(32, 3, 224, 224))          # 0.6 MB per image
    3
    >>> search_chunk_size(torch.zeros(32, 3, 224, 224), chunk_bytes=None)
    32
    >>> search_chunk_size(torch.zeros(32, 3, 48, 48), batch_size=16)
    16
    """
    if batch_size is not None and (int(batch_size) != batch_size or batch_size < 1):
        raise ParameterError(f"batch_size must be a positive integer or None (all images), "
                             f"got {batch_size!r}.")
    n_items = len(images)
    chunk = n_items if batch_size is None else int(batch_size)
    if chunk_bytes is not None:
        if int(chunk_bytes) != chunk_bytes or chunk_bytes < 1:
            raise ParameterError(f"chunk_bytes must be a positive number of bytes or None "
                                 f"(no limit), got {chunk_bytes!r}.")
        if images.device.type == "cpu":
            row = int(n_starts) * images[0].numel() * images.element_size()
            chunk = min(chunk, max(1, int(chunk_bytes) // max(row, 1)))
    return max(1, min(chunk, n_items))


class _Chains:
    """The candidate positions of the active items at one fixation, with their optimiser state."""

    def __init__(self, pos: torch.Tensor, optimizer: Optimizer, lr: float) -> None:
        self.pos, self.optimizer, self.lr = pos, optimizer, lr
        self.best_loss = torch.full(pos.shape[:1], torch.inf, device=pos.device)
        self.best_pos = pos.clone()
        self.moment = torch.zeros_like(pos)
        self.second = torch.zeros_like(pos)
        self.count = torch.zeros(pos.shape[:1], device=pos.device)

    def keep(self, improved: torch.Tensor, loss: torch.Tensor) -> None:
        """Make ``loss`` and the current position the best of the chains that ``improved``."""
        self.best_loss = torch.where(improved, loss, self.best_loss)
        self.best_pos = torch.where(improved[:, None], self.pos, self.best_pos)

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
                  lr: float, optimizer: Optimizer, restarts: Restarts, record: Record,
                  n_starts: int, forgetting: float, stop_below: float | None, bounded: bool,
                  precision: str,
                  progress: bool | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
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
    for t in progress_bar(range(n_fixations), desc="NeVA fixations", enabled=progress):
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
                raise ParameterError(f"the objective must return one loss per foveated image, "
                                     f"shape ({owner.numel()},); it returned "
                                     f"{tuple(loss.shape)}.")
            (grad,) = torch.autograd.grad(loss.sum(), pos)
            chains.pos = pos.detach()
            loss = loss.detach().float()
            improved = loss < chains.best_loss
            if record == "evaluated":
                chains.keep(improved, loss)
            chains.step(grad.to(chains.pos.dtype))
            draw = moves[live, t, s].reshape(-1, 2)
            if restarts == "random":
                chains.restart(~improved, draw * 2 - 1)
            elif restarts == "jitter":
                chains.pos = torch.where(improved[:, None], chains.pos,
                                         chains.pos + draw * lr - lr / 2)
            if bounded:
                chains.pos = chains.pos.clamp(-1.0, 1.0)
            if record == "after_step":  # improved chains were neither restarted nor jittered
                chains.keep(improved, loss)
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
    record: Record = "evaluated",
    n_starts: int = 1,
    forgetting: float = 0.0,
    stop_below: float | None = None,
    bounded: bool = True,
    seed: int | Sequence[int] = 0,
    batch_size: int | None = None,
    chunk_bytes: int | None = CPU_CHUNK_BYTES,
    device: str | torch.device = "auto",
    precision: str = "auto",
    progress: bool | None = None,
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
    record : {"evaluated", "after_step"}
        Keep the position whose loss was evaluated (default, a deviation) or,
        as the reference does, the position one step after it (see the module
        docstring).
    n_starts : int
        Parallel chains per item: one from the centre, the rest from random positions.
    forgetting : float
        Memory factor in ``[0, 1]`` (NevaClip: 0, so only the last fixation is remembered).
    stop_below : float, optional
        End an item's scanpath once its loss is at most this.
    bounded : bool
        Keep positions inside the image.
    seed : int or sequence of int
        Item ``i`` uses ``seed + i`` (or ``seed[i]``). Its generator draws, in
        this order, ``U[0, 1)`` numbers of shape ``(n_fixations, n_starts, 2)``
        for the random starts (start 0 is the centre) and of shape
        ``(n_fixations, steps, n_starts, 2)`` for the restart or jitter of
        each step (used only by a candidate that did not improve).
    batch_size : int, optional
        The most images searched at once (default: all).
    chunk_bytes : int, optional
        On the CPU, fewer images at once where needed to keep their rows within
        this many bytes (:data:`CPU_CHUNK_BYTES`, cache-sized: faster, same
        fixations); None searches ``batch_size`` images at once. Ignored on GPUs.
    device : str or torch.device
        ``"auto"`` picks CUDA, then MPS, then CPU.
    precision : str
        Autocast precision of the objective (``"auto"``: bf16 on CUDA).
    progress : bool, optional
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
    _check_args(images, n_fixations, steps, lr, optimizer, restarts, record, n_starts,
                stop_below)
    dev = resolve_device(device)
    images = images.to(dev).float() if not images.is_floating_point() else images.to(dev)
    n_items, _, height, width = images.shape
    foveation = foveation if foveation is not None else GaussianFoveation.for_image_size(
        min(height, width))
    seeds = _item_seeds(seed, n_items)
    chunk = search_chunk_size(images, n_starts=int(n_starts), batch_size=batch_size,
                              chunk_bytes=chunk_bytes)
    starts = range(0, n_items, chunk)
    several = len(starts) > 1  # then the progress bar counts chunks, not fixations
    parts = []
    for start in progress_bar(starts, desc="NeVA image chunks",
                              enabled=progress if several else False):
        stop = min(start + chunk, n_items)
        items = torch.arange(start, stop, device=dev)
        parts.append(_search_chunk(
            objective, images[start:stop], items, seeds[start:stop], foveation,
            n_fixations=int(n_fixations), steps=int(steps), lr=float(lr), optimizer=optimizer,
            restarts=restarts, record=record, n_starts=int(n_starts),
            forgetting=float(forgetting), stop_below=stop_below, bounded=bounded,
            precision=precision, progress=False if several else progress))
    fovea, losses, lengths = (torch.cat(p).cpu() for p in zip(*parts, strict=False))
    pixels = fovea_to_pixels(fovea.double(), (height, width)).numpy()
    return NeVAResult(fixations=pixels, losses=losses.double().numpy(),
                      lengths=lengths.numpy().astype(np.int64),
                      image_sizes=np.tile([height, width], (n_items, 1)))
