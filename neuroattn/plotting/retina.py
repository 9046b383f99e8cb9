"""Figures of the foveated-retinotopy family: rotation and zoom sweeps, scan maps, the retina.

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

from neuroattn._docs import fill_doc
from neuroattn.plotting.figure import figure_and_axes, figure_and_grid, finish_figure
from neuroattn.retina.logpolar import LogPolar
from neuroattn.retina.scan import FixationScan
from neuroattn.retina.training import RotationSweep

__all__ = ["plot_fixation_scan", "plot_fixation_scans", "plot_log_polar_view",
           "plot_rotation_sweep", "plot_zoom_sweep"]


def _accuracy_curves(ax: Any, curves: Mapping[str, tuple[Any, Any]],
                     colours: Mapping[str, str] | None, chance: float | None,
                     title: str | None, xlabel: str) -> None:
    """One ``o-`` line per model (underscores shown as spaces), chance, labels and legend."""
    for name, (xs, ys) in curves.items():
        ax.plot(xs, ys, "o-", ms=3, label=name.replace("_", " "),
                color=None if colours is None else colours.get(name))
    if chance is not None:
        ax.axhline(chance, color="grey", lw=0.8, ls=":", label="chance")
    ax.set(xlabel=xlabel, ylabel="test accuracy", ylim=(0, 1.02))
    if title is not None:
        ax.set_title(title)
    ax.legend(fontsize=8, loc="lower left")


@fill_doc
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
    %(axes)s
    %(output_file)s

    %(returns_figure)s
    """
    fig, ax = figure_and_axes(axes, figsize=(6.2, 3.8))
    first = next(iter(sweeps.values()))
    for x in np.arange(0.0, float(np.max(first.degrees)) + 1e-9, first.grid_step):
        ax.axvline(x, color="grey", lw=0.6, alpha=0.4)
    _accuracy_curves(ax, {name: (sweep.degrees, sweep.accuracy) for name, sweep in sweeps.items()},
                     colours, chance, title,
                     f"rotation about the fixation (degrees; lines: the {first.grid_step:g}° grid)")
    return finish_figure(fig, output_file)


@fill_doc
def plot_zoom_sweep(zooms: Any, accuracy: Mapping[str, Any], *, chance: float | None = 0.1,
                    colours: Mapping[str, str] | None = None, title: str | None = None,
                    axes: Any = None, output_file: str | os.PathLike | None = None) -> Any:
    """Accuracy against zoom about the fixation, one line per model, on a log2 axis.

    Parameters
    ----------
    zooms : sequence of float
        The zoom factors (1: as trained).
    accuracy : mapping of str to sequence of float
        Model name -> accuracy at each zoom.
    chance, colours, title, axes, output_file
        As for :func:`plot_rotation_sweep`.

    %(returns_figure)s

    Examples
    --------
    >>> fig = plot_zoom_sweep([0.5, 1.0, 2.0], {"foveated": [0.6, 0.9, 0.7]})
    >>> [tick.get_text() for tick in fig.axes[0].get_xticklabels()]
    ['0.5', '1', '2']
    """
    fig, ax = figure_and_axes(axes, figsize=(6.2, 3.8))
    _accuracy_curves(ax, {name: (zooms, ys) for name, ys in accuracy.items()}, colours, chance,
                     title, "zoom about the fixation")
    ax.set_xscale("log", base=2)
    ax.set_xticks(zooms, [f"{z:g}" for z in zooms])
    ax.minorticks_off()
    return finish_figure(fig, output_file)


@fill_doc
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

    %(returns_figure)s

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
    return finish_figure(fig, output_file)


@fill_doc
def plot_fixation_scans(images: Any, scans: Mapping[str, FixationScan], boxes: Any, *,
                        titles: Any = None, n_examples: int = 4, axes: Any = None,
                        output_file: str | os.PathLike | None = None) -> Any:
    """A grid of scan maps: the first images (columns), as shown, then one row per model.

    Parameters
    ----------
    images : array-like, shape (N, H, W)
        The grey images that were scanned (the first ``n_examples`` are drawn).
    scans : mapping of str to FixationScan
        Model name -> its scan of those images.
    boxes : array-like, shape (N, 4)
        Each object's pixel box ``(x0, y0, x1, y1)``, drawn in green.
    titles : sequence of str, optional
        A title per column (such as the true class).
    n_examples : int
        How many images (columns) to draw.
    axes : sequence of matplotlib.axes.Axes, optional
        ``(len(scans) + 1) * n_examples`` axes of one figure, in row order.
    output_file : path-like, optional

    %(returns_figure)s

    Examples
    --------
    >>> import torch
    >>> xy = torch.stack(torch.meshgrid(torch.tensor([4.0, 12.0]), torch.tensor([4.0, 12.0]),
    ...                                 indexing="xy"), -1)
    >>> scan = FixationScan(torch.rand(2, 2, 2), xy, torch.tensor([0, 1]))
    >>> fig = plot_fixation_scans(np.zeros((2, 16, 16)), {"foveated": scan},
    ...                           [(0, 0, 8, 8), (8, 8, 16, 16)], n_examples=2)
    >>> len(fig.axes), fig.axes[2].get_ylabel()
    (4, 'foveated')
    """
    import matplotlib.patches as patches

    rows = [("canvas", None), *scans.items()]
    fig, grid = figure_and_grid(axes, len(rows), n_examples,
                                figsize=(2.6 * n_examples, 2.6 * len(rows)))
    pictures, boxes = np.asarray(images), np.asarray(boxes)
    height, width = pictures.shape[-2:]
    for col in range(n_examples):
        x0, y0, x1, y1 = boxes[col]
        for row, (name, scan) in enumerate(rows):
            ax = grid[row, col]
            if scan is None:
                ax.imshow(pictures[col], cmap="gray", vmin=0, vmax=1)
                ax.add_patch(patches.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False,
                                               ec="lime"))
                ax.set(xlim=(-0.5, width - 0.5), ylim=(height - 0.5, -0.5), xticks=[],
                       yticks=[])
            else:
                plot_fixation_scan(pictures[col], scan, col, box=(x0, y0, x1, y1), axes=ax)
            if col == 0:
                ax.set_ylabel(name.replace("_", " "), fontsize=9)
        if titles is not None:
            grid[0, col].set_title(titles[col], fontsize=9)
    return finish_figure(fig, output_file)


@fill_doc
def plot_log_polar_view(retina: LogPolar, image: Any, fixation: Any, *,
                        image_title: str = "image (+: fixation)", axes: Any = None,
                        output_file: str | os.PathLike | None = None) -> Any:
    """An image with its fixation, the retina's log-polar view of it, and the view mapped back.

    Parameters
    ----------
    retina : LogPolar
    image : tensor, shape (C, H, W)
        One image (the first channel is drawn, in grey).
    fixation : tensor, shape (2,)
        Pixel ``(x, y)`` of the fixation.
    image_title : str
        The first panel's title.
    axes : sequence of three matplotlib.axes.Axes, optional
    output_file : path-like, optional

    %(returns_figure)s

    Examples
    --------
    >>> import torch
    >>> fig = plot_log_polar_view(LogPolar(16, 16), torch.rand(1, 32, 32), torch.tensor([16., 16.]))
    >>> [ax.get_title() for ax in fig.axes]
    ['image (+: fixation)', 'log-polar view (16 x 16)', 'view mapped back']
    """
    import torch

    images = torch.as_tensor(image)[None]
    centre = torch.as_tensor(fixation, dtype=torch.float32, device=images.device)[None]
    view = retina(images, centre)
    back = retina.inverse(view, images.shape[-2:], centre)
    fig, grid = figure_and_grid(axes, 1, 3, figsize=(9, 3.2))
    titles = (image_title, f"log-polar view ({view.shape[-2]} x {view.shape[-1]})",
              "view mapped back")
    for ax, picture, title in zip(grid[0], (images, view, back), titles, strict=True):
        ax.imshow(picture[0, 0].detach().cpu().numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set(title=title, xticks=[], yticks=[])
    grid[0, 0].plot(*centre[0].tolist(), "c+", ms=10, mew=2)
    grid[0, 1].set(xlabel="angle →", ylabel="← fovea   radius   periphery →")
    return finish_figure(fig, output_file)
