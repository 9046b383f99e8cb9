"""Figures of the scanpath analyses: numbered scanpaths, grids of them, photos, metric bars.

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
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from neuroattn._docs import fill_doc
from neuroattn.errors import ParameterError
from neuroattn.plotting.figure import figure_and_axes, figure_and_grid, finish_figure

__all__ = ["plot_metric_bars", "plot_photo_scanpaths", "plot_scanpath", "plot_scanpath_grid"]

Box = tuple[float, float, float, float]


@fill_doc
def plot_scanpath(fixations: Any, *, image: Any = None,
                  target_box: Box | None = None,
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
    %(axes)s
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
    %(output_file)s

    %(returns_figure)s
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
    return finish_figure(fig, output_file)


@fill_doc
def plot_scanpath_grid(images: Sequence[Any], paths: Mapping[str, Sequence[Any]],
                       target_boxes: Sequence[Box] | None = None, *,
                       row_labels: Sequence[str] | None = None,
                       cell_titles: Sequence[Sequence[str]] | None = None,
                       colours: Mapping[str, str] | None = None, merge_within: float = 2.0,
                       fontsize: float = 9, panel_size: tuple[float, float] = (3.3, 2.5),
                       title: str | None = None, dpi: int = 120, axes: Any = None,
                       output_file: str | os.PathLike | None = None) -> Any:
    """Scanpaths of several models over the same images: one row per image, one column per model.

    Each panel is :func:`plot_scanpath` of that model's path over that image.

    Parameters
    ----------
    images : sequence of array-like
        One image per row, in any form :func:`plot_scanpath` draws.
    paths : mapping of str to sequence of array-like
        Column name -> one ``(n, 2)`` pixel path per image.
    target_boxes : sequence of (x0, y0, x1, y1), optional
        A pixel box per image, drawn in green in every panel of its row.
    row_labels : sequence of str, optional
        The y label of each row's first panel.
    cell_titles : sequence of sequence of str, optional
        A title per panel, ``cell_titles[row][column]``; default: the column names over
        the first row.
    colours : mapping of str to str, optional
        Path colour per column name (default ``"tab:red"``).
    merge_within : float
        As for :func:`plot_scanpath`.
    fontsize : float
        Of the titles and row labels.
    panel_size : (float, float)
        Width and height of one panel of a new figure, in inches.
    title : str, optional
        Title over the whole figure.
    %(dpi)s
    axes : sequence of matplotlib.axes.Axes, optional
        ``len(images) * len(paths)`` axes of one figure, in row order.
    %(output_file)s

    %(returns_figure)s

    Examples
    --------
    >>> images = [np.zeros((20, 30)), np.ones((20, 30))]
    >>> paths = {"human": [[[2, 2], [10, 5]], [[3, 3]]], "model": [[[5, 5]], [[8, 2], [9, 9]]]}
    >>> fig = plot_scanpath_grid(images, paths, row_labels=["trial 0", "trial 1"])
    >>> [ax.get_title() for ax in fig.axes], fig.axes[2].get_ylabel()
    (['human', 'model', '', ''], 'trial 1')
    """
    names = list(paths)
    for name, column in paths.items():
        if len(column) != len(images):
            raise ParameterError(f"paths[{name!r}] holds {len(column)} paths for {len(images)} "
                                 "images; pass one path per image (row).")
    width, height = panel_size
    fig, grid = figure_and_grid(axes, len(images), len(names),
                                figsize=(width * len(names), height * len(images)))
    for r, image in enumerate(images):
        for c, name in enumerate(names):
            ax = grid[r, c]
            plot_scanpath(paths[name][r], image=image, axes=ax,
                          target_box=None if target_boxes is None else target_boxes[r],
                          colour="tab:red" if colours is None else colours.get(name, "tab:red"),
                          merge_within=merge_within)
            if cell_titles is not None:
                ax.set_title(cell_titles[r][c], fontsize=fontsize)
            elif r == 0:
                ax.set_title(name, fontsize=fontsize)
        if row_labels is not None:
            grid[r, 0].set_ylabel(row_labels[r], fontsize=fontsize)
    return finish_figure(fig, output_file, dpi=dpi, suptitle=title, tight_layout=axes is None)


@fill_doc
def plot_photo_scanpaths(photos: Mapping[str, Any], free_viewing: Mapping[str, Mapping[str, Any]],
                         captioned: Mapping[str, Mapping[str, Any]],
                         saliency: Mapping[str, Any], *,
                         nss: Mapping[str, Mapping[str, float]] | None = None,
                         caption_colours: Sequence[str] = ("tab:red", "tab:blue", "tab:green"),
                         saliency_title: str = "saliency\n(circles: the first free-viewing path)",
                         merge_within: float = 6.0, title: str | None = None, dpi: int = 120,
                         axes: Any = None, output_file: str | os.PathLike | None = None) -> Any:
    """Scanpaths over photos, one row per photo: free viewing, captioned, the saliency map.

    A row holds one panel per free-viewing path (in blue), one panel with every
    captioned path over the photo (a colour and a legend entry per caption) and the
    photo's saliency map with the first free-viewing path's fixations circled.

    Parameters
    ----------
    photos : mapping of str to array-like
        Photo name -> ``(H, W, 3)`` image.
    free_viewing : mapping of str to mapping of str to array-like
        Photo name -> label -> ``(n, 2)`` pixel path; one column per label.
    captioned : mapping of str to mapping of str to array-like
        Photo name -> caption -> ``(n, 2)`` pixel path, drawn together.
    saliency : mapping of str to array-like
        Photo name -> ``(H, W)`` saliency map.
    nss : mapping of str to mapping of str to float, optional
        Photo name -> free-viewing label -> NSS of the path on the map, shown in the
        titles.
    caption_colours : sequence of str
        The captioned paths' colours, in order (more captions than colours: the rest
        are not drawn).
    saliency_title : str
        Title of the saliency panels.
    merge_within : float
        As for :func:`plot_scanpath`.
    title, dpi
        As for :func:`plot_scanpath_grid`.
    axes : sequence of matplotlib.axes.Axes, optional
        ``len(photos) * (free-viewing labels + 2)`` axes of one figure, in row order.
    %(output_file)s

    %(returns_figure)s

    Examples
    --------
    >>> photo = {"grey": np.full((24, 32, 3), 128, np.uint8)}
    >>> fig = plot_photo_scanpaths(photo, {"grey": {"free": [[4, 4], [20, 10]]}},
    ...                            {"grey": {"'red'": [[8, 8]], "'blue'": [[16, 16]]}},
    ...                            {"grey": np.zeros((24, 32))}, nss={"grey": {"free": 0.5}})
    >>> [ax.get_title() for ax in fig.axes][:2]
    ['grey: free\\nNSS on saliency 0.50', 'grey: captioned']
    """
    n_free = max(len(labels) for labels in free_viewing.values())
    fig, grid = figure_and_grid(axes, len(photos), n_free + 2,
                                figsize=(3.75 * (n_free + 2), 3.1 * len(photos)))
    for row, (name, image) in zip(grid, photos.items(), strict=True):
        for ax, (label, path) in zip(row[:n_free], free_viewing[name].items(),
                                     strict=False):
            plot_scanpath(path, image=image, axes=ax, colour="tab:blue",
                          merge_within=merge_within)
            score = "" if nss is None else f"\nNSS on saliency {nss[name][label]:.2f}"
            ax.set_title(f"{name}: {label}{score}", fontsize=8)
        ax = row[n_free]
        ax.imshow(image)
        for k, (colour, (caption, path)) in enumerate(zip(caption_colours,
                                                          captioned[name].items(),
                                                          strict=False)):
            plot_scanpath(path, axes=ax, colour=colour, merge_within=merge_within,
                          label_offset=(3, 3 - 11 * k))
            ax.plot([], [], "-o", color=colour, label=caption)
        ax.legend(fontsize=7, loc="lower right")
        ax.set_title(f"{name}: captioned", fontsize=8)
        ax = row[n_free + 1]
        ax.imshow(saliency[name], cmap="magma")
        first = np.asarray(next(iter(free_viewing[name].values())), dtype=float)
        ax.plot(*first.T, "o", mfc="none", mec="cyan", ms=6)
        ax.set_title(saliency_title, fontsize=8)
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
    return finish_figure(fig, output_file, dpi=dpi, suptitle=title, tight_layout=axes is None)


@fill_doc
def plot_metric_bars(table: Mapping[str, Mapping[str, float]], panels: Mapping[str, str], *,
                     colours: Mapping[str, str] | None = None,
                     default_colour: str = "tab:orange", xlim_scale: float = 1.25,
                     panel_size: tuple[float, float] = (3.4, 3.6), title: str | None = None,
                     dpi: int = 120, axes: Any = None,
                     output_file: str | os.PathLike | None = None) -> Any:
    """A table of scores as horizontal bars: one panel per metric, one bar per model, labelled.

    Parameters
    ----------
    table : mapping of str to mapping of str to float
        Model name -> metric -> value; the bars are in the table's order, top down.
    panels : mapping of str to str
        Metric -> panel title, one panel each, left to right.
    colours : mapping of str to str, optional
        Name prefix -> bar colour: a model's bars take the colour of the first prefix its
        name starts with (a whole name is a prefix of itself).
    default_colour : str
        Colour of the models no prefix matches.
    xlim_scale : float
        Each panel's x axis runs to its largest value times this (room for the labels).
    panel_size, title, dpi
        As for :func:`plot_scanpath_grid`.
    axes : sequence of matplotlib.axes.Axes, optional
        ``len(panels)`` axes of one figure.
    %(output_file)s

    %(returns_figure)s

    Examples
    --------
    >>> table = {"model": {"score": 0.5}, "baseline": {"score": 0.2}, "humans": {"score": 0.8}}
    >>> fig = plot_metric_bars(table, {"score": "score (↑)"}, colours={"model": "tab:blue"})
    >>> [float(bar.get_width()) for bar in fig.axes[0].patches]
    [0.5, 0.2, 0.8]
    """
    names = list(table)
    prefixes = {} if colours is None else colours
    bar_colours = [next((c for prefix, c in prefixes.items() if name.startswith(prefix)),
                        default_colour) for name in names]
    width, height = panel_size
    fig, grid = figure_and_grid(axes, 1, len(panels), figsize=(width * len(panels), height))
    for ax, (key, panel_title) in zip(grid[0], panels.items(), strict=True):
        values = [table[name][key] for name in names]
        ax.barh(names, values, color=bar_colours)
        for y, v in enumerate(values):
            ax.text(v, y, f" {v:.2f}", va="center", fontsize=8)
        ax.set_title(panel_title, fontsize=10)
        ax.invert_yaxis()
        ax.set_xlim(0, max(values) * xlim_scale + 1e-9)
        if ax is not grid[0, 0]:
            ax.set_yticklabels([])
    return finish_figure(fig, output_file, dpi=dpi, suptitle=title, tight_layout=axes is None)
