"""Greedy and sampled scanpath generation with OAT, batched over trials and samples.

Each trial is encoded once; the decoder then runs step by step on
``[BOS, f_1, ..., f_t]`` for all (trial, sample) rows of a batch together.
At every step:

* padded objects and PAD are never produced (their logits are ``-inf``);
* at the **first** step EOS is masked too, so no scanpath is empty;
* ``"greedy"`` takes the arg-max, ``"sample"`` draws from
  ``softmax(logits / temperature)`` (``n_samples`` independent paths per trial);
* a row stops at its first EOS (EOS = pointing at the target token) or after
  ``max_len`` fixations; the path is the fixations before EOS.

The reference (``generate_one_scanpath``) keeps decoding past the first EOS
until the step index reaches the human path's length, then truncates at the
first EOS. Its outputs therefore equal stopping at the first EOS; it only
spends extra steps and needs the ground-truth length at test time. This
module stops at the first EOS and never looks at human scanpaths.

Examples
--------
>>> from neuroattn.datasets.synthetic.visual_search import make_visual_search
>>> from neuroattn.gaze.oat import OAT, generate_scanpaths
>>> data = make_visual_search(n_train=2, n_val=1, n_test=3)
>>> model = OAT(d_model=16, n_heads=2, n_encoder_layers=1, n_decoder_layers=1,
...             dim_feedforward=16, pe_iterations=100, max_len=8)
>>> paths = generate_scanpaths(model, data.test, method="sample", n_samples=2, seed=0)
>>> len(paths), len(paths[0]), all(1 <= len(p) <= 8 for ps in paths for p in ps)
(3, 2, True)
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from neuroattn.device import autocast, resolve_device
from neuroattn.errors import ParameterError
from neuroattn.gaze.oat.data import as_search_trials

__all__ = ["generate_scanpaths"]

Method = Literal["greedy", "sample"]


def check_generation_args(method: str, n_samples: int, max_len: int | None,
                          temperature: float = 1.0) -> None:
    """Validate the arguments every scanpath generator shares (OAT and the baselines)."""
    if method not in ("greedy", "sample"):
        raise ParameterError(f"method={method!r} is unknown; use 'greedy' or 'sample'.")
    if not isinstance(n_samples, int | np.integer) or n_samples < 1:
        raise ParameterError(f"n_samples={n_samples!r} must be a positive integer.")
    if method == "greedy" and n_samples != 1:
        raise ParameterError(f"greedy decoding is deterministic: n_samples={n_samples} would "
                             "repeat one path; use method='sample' for several paths per trial.")
    if max_len is not None and (not isinstance(max_len, int | np.integer) or max_len < 1):
        raise ParameterError(f"max_len={max_len!r} must be a positive integer or None.")
    if not np.isfinite(temperature) or temperature <= 0:
        raise ParameterError(f"temperature={temperature!r} must be a positive number.")


@torch.no_grad()
def generate_scanpaths(
    model: nn.Module,
    trials: Any,
    *,
    method: Method = "greedy",
    n_samples: int = 1,
    max_len: int | None = None,
    temperature: float = 1.0,
    batch_size: int = 256,
    seed: int = 0,
    device: str | torch.device | None = None,
    precision: str = "auto",
    return_ended: bool = False,
) -> list[list[list[int]]] | tuple[list[list[list[int]]], np.ndarray]:
    """Predict scanpaths for every trial with an :class:`~neuroattn.gaze.oat.OAT` model.

    Parameters
    ----------
    model : OAT
        The model (put in ``eval()`` mode while generating, then restored).
    trials : SearchTrials or compatible
        Trials to predict (see :func:`~neuroattn.gaze.oat.data.as_search_trials`);
        human scanpaths are not used.
    method : {"greedy", "sample"}
        Arg-max decoding (one path per trial) or sampling.
    n_samples : int
        Paths per trial (``"sample"`` only).
    max_len : int or None
        Longest path; default ``model.config.max_len`` (and at most that).
    temperature : float
        Softmax temperature of ``"sample"``.
    batch_size : int
        Trial-sample rows decoded together.
    seed : int
        Seed of the sampler (a ``torch.Generator`` on the model's device);
        results are reproducible for a given seed, batch size and device.
    device : str, torch.device or None
        ``None`` keeps the model where it is; otherwise
        :func:`~neuroattn.device.resolve_device` and the model is moved there.
    precision : str
        :func:`~neuroattn.device.autocast` precision (``"auto"``: bf16 on CUDA).
    return_ended : bool
        Also return whether each path ended with EOS (rather than at ``max_len``).

    Returns
    -------
    list of list of list of int
        ``paths[i][s]``: sample ``s`` of trial ``i`` (object indices, no EOS).
    numpy.ndarray, optional
        ``(n_trials, n_samples)`` bool, with ``return_ended=True``.

    Examples
    --------
    >>> from neuroattn.datasets.synthetic.visual_search import make_visual_search
    >>> from neuroattn.gaze.oat import OAT
    >>> test = make_visual_search(n_train=2, n_val=1, n_test=4).test
    >>> model = OAT(d_model=16, n_heads=2, n_encoder_layers=1, n_decoder_layers=1,
    ...             dim_feedforward=16, pe_iterations=100, max_len=6)
    >>> paths, ended = model.generate(test, return_ended=True)
    >>> len(paths), ended.shape, all(len(p[0]) >= 1 for p in paths)
    (4, (4, 1), True)
    """
    check_generation_args(method, n_samples, max_len, temperature)
    trials = as_search_trials(trials)
    cfg = model.config
    limit = cfg.max_len if max_len is None else int(max_len)
    if limit > cfg.max_len:
        raise ParameterError(f"max_len={limit} exceeds the model's max_len={cfg.max_len}; the "
                             "decoder has no position for longer paths.")
    if not isinstance(batch_size, int | np.integer) or batch_size < 1:
        raise ParameterError(f"batch_size={batch_size!r} must be a positive integer.")
    if device is not None:
        model.to(resolve_device(device))
    dev = next(model.parameters()).device
    gen = torch.Generator(device=dev).manual_seed(int(seed))
    per_batch = max(1, int(batch_size) // n_samples)
    paths: list[list[list[int]]] = []
    ended = np.zeros((len(trials), n_samples), dtype=bool)
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(trials), per_batch):
            idx = np.arange(start, min(start + per_batch, len(trials)))
            inputs = trials.inputs(idx, n_slots=model.n_slots, device=dev)
            with autocast(dev, precision):
                encoded = model.encode(inputs)  # once per trial, shared by its samples
                if n_samples > 1:
                    rows = torch.arange(len(idx), device=dev).repeat_interleave(n_samples)
                    encoded = encoded.select(rows)
                tokens, done = _decode(model, encoded, method, limit, temperature, gen)
            tokens, done = tokens.cpu().numpy(), done.cpu().numpy()
            for k, i in enumerate(idx):
                rows = tokens[k * n_samples:(k + 1) * n_samples]
                paths.append([_until_eos(row, model.n_slots) for row in rows])
                ended[i] = done[k * n_samples:(k + 1) * n_samples]
    finally:
        model.train(was_training)
    return (paths, ended) if return_ended else paths


def _decode(model: nn.Module, encoded: Any, method: str, limit: int, temperature: float,
            gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``(rows, limit)`` predicted ids (PAD after EOS) and the rows that emitted EOS."""
    rows = encoded.inputs.batch_size
    dev = encoded.memory.device
    tokens = torch.full((rows, 1), model.bos_index, dtype=torch.long, device=dev)
    done = torch.zeros(rows, dtype=torch.bool, device=dev)
    out = torch.full((rows, limit), model.pad_index, dtype=torch.long, device=dev)
    # padded objects and PAD are never produced, whatever the model's logits say
    blocked = torch.cat([~encoded.inputs.object_mask, torch.zeros_like(done[:, None]),
                         torch.ones_like(done[:, None])], dim=1)
    first = blocked.clone()
    first[:, model.eos_index] = True  # no empty scanpath
    for step in range(limit):
        logits = model.decode(encoded, tokens)[:, -1].float()
        logits = logits.masked_fill(first if step == 0 else blocked, float("-inf"))
        if method == "greedy":
            choice = logits.argmax(dim=-1)
        else:
            probs = torch.softmax(logits / temperature, dim=-1)
            choice = torch.multinomial(probs, 1, generator=gen).squeeze(1)
        choice = torch.where(done, torch.full_like(choice, model.pad_index), choice)
        out[:, step] = choice
        done = done | (choice == model.eos_index)
        if bool(done.all()):
            break
        tokens = torch.cat([tokens, choice[:, None]], dim=1)
    return out, done


def _until_eos(row: np.ndarray, n_slots: int) -> list[int]:
    """The object ids before the first EOS (= ``n_slots``) or PAD."""
    stop = np.flatnonzero(row >= n_slots)
    return [int(v) for v in (row if stop.size == 0 else row[: stop[0]])]
