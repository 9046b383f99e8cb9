"""A numbered scanpath over its image, as the scanpath analyses and notebooks draw it.

Examples
--------
>>> import numpy as np
>>> from neuroattn.plotting import plot_scanpath
>>> image = np.zeros((40, 60, 3))
>>> fig = plot_scanpath([[10, 10], [30, 20], [10, 10]], image=image, target_box=(25, 15, 35, 25))
>>> [t.get_text() for t in fig.axes[0].texts]      # a refixation shares its place's label
['1,3', '2']
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from neuroattn.errors import ParameterError
from neuroattn.plotting.figure import figure_and_axes, save_figure

__all__ = ["plot_scanpath"]


def plot_scanpath(fixations: Any, *, image: Any = None,
                  target_box: tuple[float, float, float, float] | None = None,
                  axes: Any = None, colour: str = "tab:red", merge_within: float = 2.0,
                  label_offset: tuple[float, float] = (3, 3), max_label: int = 9,
                  title: str | None = None, output_file: str | os.PathLike | None = None,
                  ) -> Any:
    """Draw a scanpath: the fixations joined in order, each place labelled with its visits.

    Parameters
    ----------
    fixations : array-like, shape (n, 2)
        Pixel ``(x, y)`` of each fixation, in order.
    image : array-like, optional
        ``(H, W)``, ``(H, W, 3)`` or ``(3, H, W)`` image drawn underneath.
    target_box : (x0, y0, x1, y1), optional
        Pixel box drawn in green (the search target, the captioned object).
    axes : matplotlib.axes.Axes, optional
        Draw there (default: a new figure).
    colour : str
        Colour of the path and its labels.
    merge_within : float
        Fixations within this many pixels of an earlier labelled one share its label
        (``"1,3"``: the first and third fixation are there), so refixations stay readable.
    label_offset : (float, float)
        Offset of the labels from their fixation, in points.
    max_label : int
        Longer labels are cut, ending in ``…``.
    title : str, optional
    output_file : path-like, optional
        Save the figure there (atomically).

    Returns
    -------
    matplotlib.figure.Figure
    """
    path = np.asarray(fixations, dtype=float)
    if path.ndim != 2 or path.shape[1] != 2 or not len(path):
        raise ParameterError(f"fixations must be a non-empty (n, 2) array of pixel (x, y), got "
                             f"shape {path.shape}; pass one row per fixation.")
    fig, ax = figure_and_axes(axes, figsize=(4.0, 4.0))
    if image is not None:
        picture = np.asarray(image)
        if picture.ndim == 3 and picture.shape[0] in (1, 3) and picture.shape[-1] not in (1, 3):
            picture = picture.transpose(1, 2, 0)       # channels first -> last
        ax.imshow(picture.squeeze(), cmap="gray" if picture.squeeze().ndim == 2 else None)
    if target_box is not None:
        import matplotlib.patches as patches

        x0, y0, x1, y1 = target_box
        ax.add_patch(patches.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=1.8,
                                       ec="lime"))
    ax.plot(*path.T, "-", color="white", lw=3, alpha=0.8)
    ax.plot(*path.T, "-o", color=colour, lw=1.3, ms=4)
    places: list[tuple[np.ndarray, list[int]]] = []
    for k, xy in enumerate(path):
        for place, visits in places:
            if np.hypot(*(place - xy)) <= merge_within:
                visits.append(k + 1)
                break
        else:
            places.append((xy, [k + 1]))
    for xy, visits in places:
        text = ",".join(map(str, visits))
        ax.annotate(text if len(text) <= max_label else text[:max_label - 1] + "…", xy,
                    xytext=label_offset, textcoords="offset points", fontsize=7, color=colour,
                    bbox={"boxstyle": "round,pad=0.1", "fc": "white", "lw": 0})
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize=8)
    if output_file is not None:
        save_figure(fig, output_file)
    return fig
