"""``neva_search(record="after_step", bounded=False)`` is the NevaClip reference loop.

``reference_scanpaths`` transcribes, step by step, ``NeVAWrapper.run_optimization``
of ``dario-zanca/NevaClip`` (``NeVA.py``) and the helpers it calls (the
reflection-padded 2-D Gaussian blur, the 'ij' grid, the Gaussian fovea without
a factor 2, the clipped mask), with the CLIP towers replaced by the analytic
channel-energy encoder and ``1 - cos`` as the criterion, on the CPU in
float64. The reference draws its restart and jitter numbers with
``torch.rand_like`` from the global generator; the transcription takes them
from the per-item generators that ``neva_search`` documents, so both see the
same numbers and must give the same fixations.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from neuroattn.datasets.synthetic import make_captioned_scenes
from neuroattn.gaze.neva import ChannelEnergyEncoder, neva_search
from neuroattn.retina import GaussianFoveation

SIZE, N_FIXATIONS, STEPS, LR, SEED = 48, 4, 10, 0.1, 5


def reference_scanpaths(encode, targets, x, *, scanpath_length, opt_iterations, learning_rate,
                        foveation_sigma, blur_filter_size, blur_sigma, forgetting,
                        random_restarts, uniform):
    """The reference loop, in float64 on the CPU.

    ``uniform[t, s]`` is a ``(B, 2)`` tensor of ``U[0, 1)`` numbers: where the
    reference draws ``torch.rand_like`` for the rows that did not improve at step
    ``s`` of fixation ``t``, the transcription takes those rows of it. Returns the
    scanpaths as ``(B, L, 2)`` normalised ``(row, col)``.
    """
    batch_size, channels, image_size, _ = x.shape
    dtype = x.dtype

    # calculate_blur: a normalised 1-D Gaussian, its outer product, depthwise conv after
    # reflection padding; the wrapper keeps the difference blurred - x.
    gauss = torch.tensor([math.exp(-(k - blur_filter_size // 2) ** 2 / float(2 * blur_sigma ** 2))
                          for k in range(blur_filter_size)], dtype=dtype)
    gauss = gauss / gauss.sum()
    window = (gauss[:, None] @ gauss[None, :])[None, None].expand(
        channels, 1, blur_filter_size, blur_filter_size).contiguous()
    padded = nn.ReflectionPad2d(padding=blur_filter_size // 2)(x)
    blur = F.conv2d(padded, window, groups=channels) - x

    # create_grid + calc_gaussian: meshgrid's default 'ij' order, exp(-d² / sigma).
    t = torch.linspace(-1, 1, image_size, dtype=dtype)
    xa, ya = torch.meshgrid([t, t], indexing="ij")
    xa = xa.view(1, image_size, image_size).repeat(batch_size, 1, 1)
    ya = ya.view(1, image_size, image_size).repeat(batch_size, 1, 1)

    def get_foveation(positions):
        distance = (xa - positions[:, 0]) ** 2 + (ya - positions[:, 1]) ** 2
        return (1 * torch.exp(-distance / foveation_sigma)).view(batch_size, 1, image_size,
                                                                 image_size)

    def wrapper(foveation_positions):  # NeVAWrapper.forward, then the criterion
        current = internal_representation + get_foveation(foveation_positions)
        blurring_mask = torch.clip(ones - current, 0, 1)
        output = encode(x + blur * blurring_mask)
        return 1 - F.cosine_similarity(output, targets, dim=-1)

    internal_representation = torch.zeros(batch_size, 1, image_size, image_size, dtype=dtype)
    ones = torch.ones(batch_size, 1, image_size, image_size, dtype=dtype)
    scanpath = []
    for step in range(scanpath_length):
        foveation_pos = torch.zeros((batch_size, 2, 1, 1), dtype=dtype, requires_grad=True)
        best_foveation_pos = torch.zeros((batch_size, 2, 1, 1), dtype=dtype)
        best_loss = torch.ones(batch_size, dtype=dtype) * float("inf")
        for iteration in range(opt_iterations):
            loss = wrapper(foveation_pos)
            total_loss = loss.mean()
            grad = torch.autograd.grad(total_loss, foveation_pos)[0]
            foveation_pos.data -= torch.sign(grad) * learning_rate   # step first ...
            idxs = loss < best_loss
            best_loss[idxs] = loss[idxs].detach()
            best_foveation_pos[idxs] = foveation_pos[idxs].detach()  # ... then keep the step
            if torch.sum(~idxs) > 0:
                draw = uniform[step, iteration][~idxs].view_as(best_foveation_pos.data[~idxs])
                if random_restarts:
                    foveation_pos.data[~idxs] = draw * 2 - 1
                else:
                    foveation_pos.data[~idxs] += draw * learning_rate - learning_rate / 2
        current_foveation_mask = get_foveation(best_foveation_pos)
        internal_representation = (internal_representation * forgetting
                                   + current_foveation_mask).detach()
        scanpath.append(best_foveation_pos.detach())
    return torch.stack(scanpath, 1).view(batch_size, scanpath_length, 2)


def documented_draws(seeds):
    """The restart and jitter numbers of neva_search (its ``seed`` documentation), (L, S, B, 2)."""
    moves = []
    for seed in seeds:
        generator = torch.Generator().manual_seed(seed)
        torch.rand(N_FIXATIONS, 1, 2, generator=generator)  # the random starts: one chain, unused
        moves.append(torch.rand(N_FIXATIONS, STEPS, 1, 2, generator=generator)[:, :, 0])
    return torch.stack(moves, 2).double()


@pytest.fixture(scope="module")
def scenes():
    scenes = make_captioned_scenes(3, size=SIZE, colours=("red", "green", "blue"), seed=2)
    images = torch.from_numpy(scenes.images).double()
    encoder = ChannelEnergyEncoder.calibrated(images)
    targets = encoder.encode_text(scenes.captions).double()
    return images, encoder, targets


@pytest.mark.parametrize(("random_restarts", "forgetting"), [(True, 0.0), (False, 0.7)])
def test_after_step_unbounded_equals_the_reference_loop(scenes, random_restarts, forgetting):
    images, encoder, targets = scenes
    fovea = GaussianFoveation.for_image_size(SIZE)
    reference = reference_scanpaths(
        encoder.encode_image, targets, images, scanpath_length=N_FIXATIONS,
        opt_iterations=STEPS, learning_rate=LR, foveation_sigma=fovea.sigma,
        blur_filter_size=fovea.blur_size, blur_sigma=fovea.blur_sigma, forgetting=forgetting,
        random_restarts=random_restarts,
        uniform=documented_draws([SEED + i for i in range(len(images))])).numpy()

    def objective(foveated, item):
        return 1 - F.cosine_similarity(encoder.encode_image(foveated), targets[item], dim=-1)

    kwargs = dict(foveation=fovea, n_fixations=N_FIXATIONS, steps=STEPS, lr=LR,
                  restarts="random" if random_restarts else "jitter", forgetting=forgetting,
                  bounded=False, seed=SEED, device="cpu")
    ours = neva_search(objective, images, record="after_step", **kwargs)
    np.testing.assert_allclose(ours.fovea, reference, rtol=0, atol=1e-9)
    # The control: the default keeps the evaluated position, one step of LR away.
    evaluated = neva_search(objective, images, record="evaluated", **kwargs)
    apart = np.abs(evaluated.fovea - reference).max(-1)
    assert (apart > LR / 2).mean() >= 0.5
