"""Figures of the foveated-retinotopy family: rotation sweeps and fixation-scan maps.

Examples
--------
>>> import numpy as np
>>> from neuroattn.retina.training import RotationSweep
>>> sweep = RotationSweep(np.array([0.0, 11.25, 22.5]), np.array([0.9, 0.7, 0.85]), 22.5,
...                       np.array([True, False, True]))
>>> fig = plot_rotation_sweep({"foveated": sweep})
>>> [line.get_label() for line in fig.axes[0].lines][-2:]
['foveated', 'chance']
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from neuroattn.plotting.figure import figure_and_axes, save_figure
from neuroattn.retina.scan import FixationScan
from neuroattn.retina.training import RotationSweep

__all__ = ["plot_fixation_scan", "plot_rotation_sweep"]


def plot_rotation_sweep(sweeps: Mapping[str, RotationSweep], *, chance: float | None = 0.1,
                        colours: Mapping[str, str] | None = None, title: str | None = None,
                        axes: Any = None, output_file: str | os.PathLike | None = None) -> Any:
    """Accuracy against rotation about the fixation, one line per model, the angle grid drawn.

    Parameters
    ----------
    sweeps : mapping of str to RotationSweep
        Model name -> :func:`~neuroattn.retina.training.rotation_sweep` result; the grid
        lines are those of the first sweep.
    chance : float, optional
        Accuracy of guessing (a dotted line); ``None``: none.
    colours : mapping of str to str, optional
        Line colour per model name.
    title : str, optional
    axes : matplotlib.axes.Axes, optional
    output_file : path-like, optional
        Save the figure there (atomically).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = figure_and_axes(axes, figsize=(6.2, 3.8))
    first = next(iter(sweeps.values()))
    for x in np.arange(0.0, float(np.max(first.degrees)) + 1e-9, first.grid_step):
        ax.axvline(x, color="grey", lw=0.6, alpha=0.4)
    for name, sweep in sweeps.items():
        ax.plot(sweep.degrees, sweep.accuracy, "o-", ms=3, label=name.replace("_", " "),
                color=None if colours is None else colours.get(name))
    if chance is not None:
        ax.axhline(chance, color="grey", lw=0.8, ls=":", label="chance")
    ax.set(xlabel=f"rotation about the fixation (degrees; lines: the {first.grid_step:g}° grid)",
           ylabel="test accuracy", ylim=(0, 1.02))
    if title is not None:
        ax.set_title(title)
    ax.legend(fontsize=8, loc="lower left")
    if output_file is not None:
        save_figure(fig, output_file)
    return fig


def plot_fixation_scan(image: Any, scan: FixationScan, index: int = 0, *,
                       box: tuple[float, float, float, float] | None = None, axes: Any = None,
                       output_file: str | os.PathLike | None = None) -> Any:
    """One image with its class-probability map over the scanned fixations and the peak.

    Parameters
    ----------
    image : array-like, shape (H, W)
        The (grey) image that was scanned.
    scan : FixationScan
        From :func:`~neuroattn.retina.scan.scan_fixations`.
    index : int
        Which image of the scan.
    box : (x0, y0, x1, y1), optional
        The object's pixel box, drawn in green.
    axes, output_file
        As for :func:`plot_rotation_sweep`.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import torch
    >>> from neuroattn.retina import FoveatedResNet, LogPolar
    >>> from neuroattn.retina.scan import scan_fixations
    >>> net = FoveatedResNet(num_classes=3, in_channels=1, log_polar=LogPolar(8, 8))
    >>> images = torch.rand(1, 1, 24, 24)
    >>> scan = scan_fixations(net.eval(), images, torch.tensor([1]), resolution=(3, 3))
    >>> fig = plot_fixation_scan(images[0, 0], scan, box=(4, 4, 12, 12))
    >>> len(fig.axes[0].images), len(fig.axes[0].patches)
    (2, 1)
    """
    import matplotlib.patches as patches

    fig, ax = figure_and_axes(axes, figsize=(3.0, 3.0))
    picture = np.asarray(image)
    height, width = picture.shape[-2:]
    ax.imshow(picture, cmap="gray", vmin=0, vmax=1)
    points = scan.fixations.numpy()
    half = (points[0, 1, 0] - points[0, 0, 0]) / 2
    extent = (points[0, 0, 0] - half, points[0, -1, 0] + half,
              points[-1, 0, 1] + half, points[0, 0, 1] - half)
    ax.imshow(scan.probabilities[index].numpy(), cmap="magma", alpha=0.6, vmin=0, vmax=1,
              extent=extent, interpolation="nearest")
    px, py = scan.peaks()[index].tolist()
    ax.plot(px, py, "c+", ms=12, mew=2)
    if box is not None:
        x0, y0, x1, y1 = box
        ax.add_patch(patches.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="lime"))
    ax.set(xlim=(-0.5, width - 0.5), ylim=(height - 0.5, -0.5), xticks=[], yticks=[])
    if output_file is not None:
        save_figure(fig, output_file)
    return fig
