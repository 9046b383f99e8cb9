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

from neuroattn._atomic import atomic_path

__all__ = ["figure_and_axes", "save_figure"]


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
