"""Where every figure of neuroattn is made and saved: new axes or the caller's, atomic files.

Examples
--------
>>> import tempfile
>>> fig, ax = figure_and_axes(None, figsize=(2, 2))
>>> _ = ax.plot([0, 1], [1, 0])
>>> save_figure(fig, tempfile.mkdtemp() + "/line.png", close=True).suffix
'.png'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from neuroattn._atomic import atomic_path
from neuroattn.errors import ParameterError

__all__ = ["figure_and_axes", "figure_and_grid", "finish_figure", "save_figure"]


def figure_and_axes(axes: Any = None, *, figsize: tuple[float, float] = (6.0, 4.0)
                    ) -> tuple[Any, Any]:
    """``(figure, axes)``: the caller's axes and their figure, or a new figure with one axes.

    Examples
    --------
    >>> fig, ax = figure_and_axes(figsize=(3, 2))
    >>> figure_and_axes(ax)[0] is fig
    True
    """
    if axes is not None:
        return axes.figure, axes
    import matplotlib.pyplot as plt

    fig, new = plt.subplots(figsize=figsize)
    return fig, new


def figure_and_grid(axes: Any = None, nrows: int = 1, ncols: int = 1, *,
                    figsize: tuple[float, float] = (6.0, 4.0), **subplots: Any
                    ) -> tuple[Any, np.ndarray]:
    """``(figure, axes grid)`` for a figure of several panels: the caller's or new ones.

    Parameters
    ----------
    axes : sequence or array of matplotlib.axes.Axes, optional
        ``nrows * ncols`` axes of one figure, in row order; ``None``: a new figure.
    nrows, ncols : int
        The grid's shape.
    figsize : (float, float)
        Size of a new figure.
    **subplots
        Passed to :func:`matplotlib.pyplot.subplots` for a new figure (``gridspec_kw``,
        ``layout``, ``subplot_kw``...).

    Returns
    -------
    figure : matplotlib.figure.Figure
    grid : numpy.ndarray of Axes, shape (nrows, ncols)

    Examples
    --------
    >>> fig, grid = figure_and_grid(None, 1, 2, figsize=(4, 2))
    >>> grid.shape, figure_and_grid(list(grid.ravel()), 1, 2)[0] is fig
    ((1, 2), True)
    >>> figure_and_grid(grid[0, :1], 1, 2)
    Traceback (most recent call last):
    ...
    neuroattn.errors.ParameterError: axes holds 1 axes; this figure draws 1 x 2 = 2 panels, \
so pass 2 axes of one figure (row order) or axes=None.
    """
    if axes is None:
        import matplotlib.pyplot as plt

        fig, grid = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False, **subplots)
        return fig, grid
    grid = np.asarray(axes, dtype=object).ravel()
    if grid.size != nrows * ncols:
        raise ParameterError(
            f"axes holds {grid.size} axes; this figure draws {nrows} x {ncols} = "
            f"{nrows * ncols} panels, so pass {nrows * ncols} axes of one figure (row order) "
            "or axes=None.")
    figures = {id(ax.figure) for ax in grid}
    if len(figures) != 1:
        raise ParameterError(f"axes belong to {len(figures)} figures; pass axes of one figure.")
    return grid[0].figure, grid.reshape(nrows, ncols)


def save_figure(fig: Any, path: str | os.PathLike, *, dpi: int = 120,
                close: bool = False) -> Path:
    """Write ``fig`` to ``path`` atomically (format from the suffix, default PNG).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : path-like
    dpi : int
    close : bool
        Close the figure afterwards (scripts that draw many figures).

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=path.suffix[1:] or "png")
    if close:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return path


def finish_figure(fig: Any, output_file: str | os.PathLike | None = None, *, dpi: int = 120,
                  suptitle: str | None = None, fontsize: float = 10,
                  tight_layout: bool = False) -> Any:
    """The common end of every ``plot_*``: a figure title, the layout, the file; returns ``fig``.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    output_file : path-like, optional
        Save the figure there (atomically, :func:`save_figure`).
    dpi : int
        Resolution of ``output_file``.
    suptitle : str, optional
        The figure's title.
    fontsize : float
        Its size.
    tight_layout : bool
        Apply ``fig.tight_layout()`` (only for a figure the plot function made itself).

    Returns
    -------
    matplotlib.figure.Figure
        ``fig``.

    Examples
    --------
    >>> fig, ax = figure_and_axes(figsize=(2, 2))
    >>> finish_figure(fig, suptitle="two panels", tight_layout=True) is fig
    True
    >>> fig.get_suptitle()
    'two panels'
    """
    if suptitle is not None:
        fig.suptitle(suptitle, fontsize=fontsize)
    if tight_layout:
        fig.tight_layout()
    if output_file is not None:
        save_figure(fig, output_file, dpi=dpi)
    return fig
