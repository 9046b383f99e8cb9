"""Fixation-scan localization: class probability as a function of where the model looks.

A foveated classifier sees an object well only when it fixates it, so the
probability of the object's class over a grid of fixation points is a map of
where the object is (Jérémie, Daucé & Perrinet 2024; the reference scans an
11 x 11 grid over ``linspace(-border, border)`` in normalised units).
:func:`scan_fixations` computes that map for a batch of images with batched
forward passes (``model(images, fixations)`` with ``(B, K, 2)`` fixations):
``max_views=None`` makes it **one** pass over every fixation of every image;
the default, 256 views per pass, is faster on a CPU, where one huge batch
spills the caches (see ``benchmarks/bench_logpolar.py``). :class:`FixationScan`
reads out the peak and compares it with an object box.

Examples
--------
>>> import torch
>>> from neuroattn.retina import FoveatedResNet, LogPolar
>>> net = FoveatedResNet(num_classes=10, log_polar=LogPolar(32, 32, log2_r_max=-1))
>>> scan = scan_fixations(net, torch.rand(2, 3, 64, 64), torch.tensor([3, 7]),
...                       resolution=(5, 5))
>>> scan.probabilities.shape, scan.peaks().shape
(torch.Size([2, 5, 5]), torch.Size([2, 2]))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neuroattn.errors import ParameterError

__all__ = ["FixationScan", "fixation_grid", "scan_fixations"]


def fixation_grid(height: int, width: int, resolution: tuple[int, int] = (11, 11),
                  border: float = 0.9) -> torch.Tensor:
    """Pixel ``(x, y)`` fixations on a regular grid, ``(rows, cols, 2)``.

    Points sit at ``linspace(-border, border, n)`` in normalised units along
    each axis (``±1`` are the image edges; the reference's ``'full'`` scan is
    ``border = 0.9``, its ``'valid'`` one ``1 - size_ratio``).

    Examples
    --------
    >>> fixation_grid(64, 64, (3, 3), border=0.5)[0].tolist()   # top row
    [[15.5, 15.5], [31.5, 15.5], [47.5, 15.5]]
    """
    rows, cols = resolution
    if rows < 1 or cols < 1 or not 0 <= border <= 1:
        raise ParameterError(f"need a resolution of positive ints and 0 <= border <= 1, got "
                             f"{resolution} and {border}.")
    ys = (torch.linspace(-border, border, rows) + 1) * height / 2 - 0.5
    xs = (torch.linspace(-border, border, cols) + 1) * width / 2 - 0.5
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([grid_x, grid_y], -1)


@dataclass(frozen=True)
class FixationScan:
    """Class-probability maps over a fixation grid.

    Attributes
    ----------
    probabilities : torch.Tensor, shape (B, rows, cols)
        Softmax probability of each image's scored class at each fixation.
    fixations : torch.Tensor, shape (rows, cols, 2)
        Pixel ``(x, y)`` of the grid points.
    classes : torch.Tensor, shape (B,)
        The scored class of each image.
    """

    probabilities: torch.Tensor
    fixations: torch.Tensor
    classes: torch.Tensor

    def peaks(self, refine: bool = True) -> torch.Tensor:
        """Pixel ``(x, y)`` of each map's peak, ``(B, 2)``.

        The grid point of the maximum (the first one on ties); with ``refine``,
        the probability-weighted centroid of the grid points in its 3 x 3
        neighbourhood, a sub-grid estimate for objects narrower than the grid
        step.

        Examples
        --------
        >>> import torch
        >>> points = fixation_grid(30, 30, (3, 3), border=2 / 3)      # 5, 15, 25 px
        >>> probs = torch.zeros(1, 3, 3); probs[0, 1, 1], probs[0, 1, 2] = 0.6, 0.2
        >>> scan = FixationScan(probs, points, torch.tensor([0]))
        >>> scan.peaks(refine=False).tolist(), scan.peaks().round(decimals=3).tolist()
        ([[14.5, 14.5]], [[17.0, 14.5]])
        """
        batch, rows, cols = self.probabilities.shape
        flat = self.probabilities.flatten(1).argmax(1)
        if not refine:
            return self.fixations.flatten(0, 1)[flat]
        row, col = flat // cols, flat % cols
        offsets = torch.arange(-1, 2)
        near_r = (row[:, None] + offsets).clamp(0, rows - 1)              # (B, 3)
        near_c = (col[:, None] + offsets).clamp(0, cols - 1)
        valid = ((row[:, None] + offsets >= 0) & (row[:, None] + offsets < rows))[:, :, None] \
            & ((col[:, None] + offsets >= 0) & (col[:, None] + offsets < cols))[:, None, :]
        index = torch.arange(batch)[:, None, None]
        weights = self.probabilities[index, near_r[:, :, None], near_c[:, None, :]] * valid
        points = self.fixations[near_r[:, :, None], near_c[:, None, :]]    # (B, 3, 3, 2)
        return (weights[..., None] * points).sum((1, 2)) / weights.sum((1, 2))[:, None]

    def peak_in_box(self, boxes: torch.Tensor, refine: bool = True) -> torch.Tensor:
        """Whether each peak lies in its image's ``(x0, y0, x1, y1)`` box, ``(B,)`` bool."""
        boxes = torch.as_tensor(boxes, dtype=self.fixations.dtype)
        if boxes.shape != (len(self.classes), 4):
            raise ParameterError(f"boxes must be ({len(self.classes)}, 4) pixel (x0, y0, x1, y1), "
                                 f"got {tuple(boxes.shape)}.")
        x, y = self.peaks(refine).unbind(-1)
        return (x >= boxes[:, 0]) & (x <= boxes[:, 2]) & (y >= boxes[:, 1]) & (y <= boxes[:, 3])


@torch.no_grad()
def scan_fixations(model: nn.Module, images: torch.Tensor, classes: torch.Tensor | None = None,
                   *, resolution: tuple[int, int] = (11, 11), border: float = 0.9,
                   max_views: int | None = 256) -> FixationScan:
    """Probability of ``classes`` at every fixation of a grid, in one batched pass.

    Parameters
    ----------
    model : nn.Module
        ``model(images, fixations)`` with ``(B, K, 2)`` pixel fixations returns
        logits ``(B, K, classes)`` (:class:`~neuroattn.retina.FoveatedResNet`,
        or :class:`~neuroattn.retina.CartesianResNet` with a crop). Run in eval
        mode; its mode is restored afterwards.
    images : torch.Tensor, shape (B, C, H, W)
        On the model's device.
    classes : torch.Tensor, shape (B,), optional
        Class to map per image (e.g. the true label); default: the class with
        the highest probability anywhere on the grid.
    resolution, border
        The grid (see :func:`fixation_grid`).
    max_views : int or None
        At most this many views (images x fixations) per forward pass; every
        image's fixations are split evenly into passes of at least one
        fixation. ``None``: all of them in one pass.

    Returns
    -------
    FixationScan
    """
    if images.ndim != 4:
        raise ParameterError(f"images must be (B, C, H, W), got {tuple(images.shape)}.")
    batch, _, height, width = images.shape
    points = fixation_grid(height, width, resolution, border).to(images.device)
    flat = points.flatten(0, 1)
    if max_views is not None and max_views < 1:
        raise ParameterError(f"max_views={max_views!r} must be a positive number of views or None.")
    step = len(flat) if max_views is None else max(1, int(max_views) // batch)
    was_training = model.training
    model.eval()
    try:
        probs = torch.cat([
            model(images, flat[i:i + step].expand(batch, -1, -1)).float().softmax(-1)
            for i in range(0, len(flat), step)], 1)                     # (B, K, classes)
    finally:
        model.train(was_training)
    if classes is None:
        classes = probs.amax(1).argmax(-1)
    classes = torch.as_tensor(classes, device=probs.device).long()
    if classes.shape != (batch,):
        raise ParameterError(f"classes must be ({batch},), got {tuple(classes.shape)}.")
    scored = probs.gather(2, classes[:, None, None].expand(-1, len(flat), 1))[..., 0]
    return FixationScan(probabilities=scored.view(batch, *resolution).cpu(),
                        fixations=points.cpu(), classes=classes.cpu())
