"""Data-parallel training under ``torchrun``: process group, rank queries, reductions.

``torchrun --nproc_per_node=N -m neuroattn.train_ieeg ...`` starts N copies
with ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE`` set. :func:`init_distributed`
turns that environment into a process group (NCCL on CUDA, gloo on the CPU)
and picks each rank's GPU; without it, everything here is a no-op and
``rank() == 0``, so the same code runs on one process.

Examples
--------
>>> from neuroattn.training.distributed import rank, world_size, is_main
>>> rank(), world_size(), is_main()
(0, 1, True)
"""

from __future__ import annotations

import datetime
import os

import torch
import torch.distributed as dist

from neuroattn._logging import logger


def _active() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's rank (0 without a process group)."""
    return dist.get_rank() if _active() else 0


def world_size() -> int:
    """Number of processes (1 without a process group)."""
    return dist.get_world_size() if _active() else 1


def is_main() -> bool:
    """True on the process that logs and saves (rank 0)."""
    return rank() == 0


def launched_by_torchrun() -> bool:
    """Whether ``torchrun`` (or another launcher) set up more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_distributed(device: torch.device, *, timeout_s: float = 1800.0) -> torch.device:
    """Join the process group that ``torchrun`` describes; return this rank's device.

    On CUDA each rank takes GPU ``LOCAL_RANK`` (NCCL backend); on the CPU the
    gloo backend is used. Without a launcher this returns ``device`` unchanged.

    Parameters
    ----------
    device : torch.device
        The device the user asked for (``cuda`` means "this rank's GPU").
    timeout_s : float
        How long collectives wait for a slow rank before failing.
    """
    if not launched_by_torchrun():
        return device
    if _active():
        return torch.device("cuda", torch.cuda.current_device()) if device.type == "cuda" \
            else device
    if device.type == "cuda":
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if local_rank >= torch.cuda.device_count():
            raise RuntimeError(
                f"LOCAL_RANK={local_rank} but only {torch.cuda.device_count()} GPU(s) are "
                "visible; lower --nproc_per_node or set CUDA_VISIBLE_DEVICES.")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s))
    logger.info("rank %d of %d on %s (%s)", rank(), world_size(), device, backend)
    return device


def shutdown() -> None:
    """Leave the process group, if any."""
    if _active():
        dist.destroy_process_group()


def barrier() -> None:
    """Wait for every rank (no-op on one process)."""
    if _active():
        dist.barrier()


def sum_over_ranks(values: torch.Tensor) -> torch.Tensor:
    """Sum a tensor over ranks in one all-reduce (returned as is on one process).

    Stack the values to reduce into one tensor on this rank's device first: one
    collective per call, whatever the number of values.

    Examples
    --------
    >>> import torch
    >>> sum_over_ranks(torch.tensor([1.0, 2.0]))
    tensor([1., 2.])
    """
    if _active():
        values = values.clone()
        dist.all_reduce(values)
    return values


def rank_share(n_batches: int) -> list[int]:
    """Which of ``n_batches`` this rank trains on, when every rank lists them in one order.

    Rank ``r`` of ``W`` takes batches ``r, r + W, r + 2W, ...``: disjoint shards
    that together cover every batch. Every rank gets ``ceil(n_batches / W)``, so
    the collective calls of DistributedDataParallel stay matched; the ranks that
    run short wrap around to the first batches. On one process: every batch.

    Examples
    --------
    >>> rank_share(5)
    [0, 1, 2, 3, 4]
    """
    size, me = world_size(), rank()
    if n_batches < 1:
        return []
    count = -(-n_batches // size)
    return [(me + size * i) % n_batches for i in range(count)]


def broadcast_buffers(module: torch.nn.Module) -> None:
    """Give every rank rank 0's buffers (e.g. BatchNorm running statistics); no-op on one process.

    DistributedDataParallel syncs gradients, so the parameters agree, but each
    rank updates its running statistics from its own shard; it copies rank 0's
    only at the start of the next forward. Call this after the last step so
    that every rank ends with the model rank 0 saves.

    Examples
    --------
    >>> import torch
    >>> broadcast_buffers(torch.nn.BatchNorm1d(3))     # one process: nothing to do
    """
    if not _active():
        return
    for buffer in module.buffers():
        dist.broadcast(buffer.data, src=0)
