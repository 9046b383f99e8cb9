"""Brain-encoder figures: where each ROI reads the image, accuracy on the cortex, per ROI kind.

Examples
--------
>>> from neuroattn.plotting.encoding import plot_roi_kind_accuracy
>>> per_roi = {"transformer": {"v1": 0.9, "ffa": 0.8, "loc": 0.7},
...            "ridge": {"v1": 0.5, "ffa": 0.3, "loc": 0.4}}
>>> fig = plot_roi_kind_accuracy(per_roi, ["v1", "ffa", "loc"],
...                              ["retinotopic", "category", "category"])
>>> [round(float(bar.get_height()), 2) for bar in fig.axes[0].patches]
[0.9, 0.75, 0.5, 0.35]
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from neuroattn._docs import fill_doc
from neuroattn.errors import ParameterError
from neuroattn.plotting.figure import figure_and_axes, figure_and_grid, finish_figure

__all__ = ["plot_roi_kind_accuracy", "plot_routing_maps", "plot_surface_accuracy"]

_SIDES = {"lh": "left", "rh": "right"}


@fill_doc
def plot_routing_maps(maps: Mapping[str, Any], images: Sequence[int], roi_names: Sequence[str],
                      *, objects: Mapping[str, Any] | None = None,
                      roi_kinds: Sequence[str] | None = None,
                      roi_categories: Sequence[int] | None = None,
                      n_categories: int | None = None,
                      columns: Mapping[str, str] | None = None,
                      title: str | None = None, axes: Any = None,
                      output_file: str | os.PathLike | None = None, dpi: int = 120) -> Any:
    """Routing maps side by side: one row per ROI, per image one column per map, objects circled.

    Each map is drawn scaled to its maximum (``magma``, 0 to 1); a narrow blank column
    separates the images. The objects of each image are circled in their category's colour
    with a ``+`` at the centre, and a ROI that prefers a category has its label in that colour.

    Parameters
    ----------
    maps : mapping of str to array-like, shape (n_images, R, H, W)
        Attention / routing maps per source (ground truth, each model), non-negative, for
        ``R = len(roi_names)`` ROIs.
    images : sequence of int
        Which images (first axis of the maps) to draw, in order.
    roi_names : sequence of str
        ``R`` ROI names, one row each.
    objects : mapping of str to array-like, optional
        The objects table, one entry per object: ``image`` (index into the maps), ``category``
        (int), ``y``, ``x`` (centre, in map pixels) and ``size`` (circle radius, map pixels).
        ``None``: no circles.
    roi_kinds : sequence of str, optional
        Kind of each ROI (``"retinotopic"``...), the second line of its label.
    roi_categories : sequence of int, optional
        Preferred category of each ROI, ``-1`` for none.
    n_categories : int, optional
        Number of object categories (one colour and legend entry each); by default one more
        than the largest category in ``objects`` and ``roi_categories``.
    columns : mapping of str to str, optional
        Key of ``maps`` -> column title, in column order (default: every map, titled by its
        key).
    title : str, optional
        The figure's title (``None``: none).
    axes : sequence of matplotlib.axes.Axes, optional
        ``R * (len(images) * (len(columns) + 1) - 1)`` axes of one figure, in row order; each
        row holds the spacer axes between images too (they are switched off).
    %(output_file)s
    %(dpi)s

    %(returns_figure)s

    Examples
    --------
    >>> import numpy as np
    >>> maps = {"truth": np.random.default_rng(0).random((2, 2, 4, 4))}
    >>> objects = {"image": np.array([1]), "category": np.array([0]), "y": np.array([1.0]),
    ...            "x": np.array([2.0]), "size": np.array([1.0])}
    >>> fig = plot_routing_maps(maps, [1], ["v1", "ffa"], objects=objects, roi_categories=[-1, 0])
    >>> len(fig.axes), [ax.get_ylabel() for ax in fig.axes]
    (2, ['v1', 'ffa\\n(prefers cat 0)'])
    """
    from matplotlib import colormaps
    from matplotlib.lines import Line2D
    from matplotlib.patches import Circle

    columns = {key: key for key in maps} if columns is None else dict(columns)
    missing = sorted(set(columns) - set(maps))
    if missing:
        raise ParameterError(f"columns name maps {missing} that maps lacks (it has "
                             f"{sorted(maps)}); pass columns= with keys of maps.")
    n_roi = len(roi_names)
    arrays = {key: np.asarray(maps[key]) for key in columns}
    for key, array in arrays.items():
        if array.ndim != 4 or array.shape[1] != n_roi:
            raise ParameterError(f"maps[{key!r}] has shape {array.shape}; it must be "
                                 f"(n_images, {n_roi}, H, W), one map per image and ROI.")
    fields = ("image", "y", "x", "size", "category")
    if objects is not None and set(fields) - set(objects):
        raise ParameterError(f"objects lacks {sorted(set(fields) - set(objects))}; it needs "
                             f"the arrays {list(fields)}, one entry per object.")
    obj = {f: np.zeros(0, int) if objects is None else np.asarray(objects[f]) for f in fields}
    prefs = np.full(n_roi, -1) if roi_categories is None else np.asarray(roi_categories, int)
    if n_categories is None:
        n_categories = int(max(obj["category"].max(initial=-1), prefs.max(initial=-1))) + 1
    cat_colors = colormaps["tab10"](np.arange(n_categories) + 2)
    n_col = len(columns)
    ratios = (([1] * n_col + [0.3]) * len(images))[:-1]  # a narrow spacer between images
    fig, grid = figure_and_grid(axes, n_roi, len(ratios),
                                figsize=(1.35 * sum(ratios) + 1.6, 1.35 * n_roi + 1.4),
                                gridspec_kw={"wspace": 0.06, "hspace": 0.1,
                                             "width_ratios": ratios})
    for ax in grid[:, n_col::n_col + 1].ravel():
        ax.axis("off")
    panels = np.delete(grid, np.s_[n_col::n_col + 1], axis=1)
    for k, image in enumerate(images):
        here = obj["image"] == image
        for c, (key, name) in enumerate(columns.items()):
            for r in range(n_roi):
                ax = panels[r, n_col * k + c]
                m = arrays[key][image, r]
                ax.imshow(m / m.max(), cmap="magma", vmin=0, vmax=1, interpolation="nearest")
                for y, x, s, cat in zip(obj["y"][here], obj["x"][here], obj["size"][here],
                                        obj["category"][here], strict=True):
                    ax.add_patch(Circle((x, y), s, fill=False, lw=1.6, color=cat_colors[cat]))
                    ax.plot(x, y, "+", ms=5, mew=1.5, color=cat_colors[cat])
                ax.set_xticks([])
                ax.set_yticks([])
                if r == 0:
                    ax.set_title(f"image {image}\n{name}" if c == n_col // 2 else f"\n{name}",
                                 fontsize=9)
                if k == 0 and c == 0:
                    pref = int(prefs[r])
                    label = [roi_names[r], *([] if roi_kinds is None else [roi_kinds[r]]),
                             *([f"(prefers cat {pref})"] if pref >= 0 else [])]
                    ax.set_ylabel("\n".join(label), fontsize=8, rotation=0, ha="right",
                                  va="center", color=cat_colors[pref] if pref >= 0 else "k")
    if objects is not None and n_categories:
        handles = [Line2D([], [], marker="o", ls="", mfc="none", mec=cat_colors[i], mew=1.6,
                          label=f"category {i} object") for i in range(n_categories)]
        fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8,
                   frameon=False, bbox_to_anchor=(0.5, 0.0))
    return finish_figure(fig, output_file, dpi=dpi, suptitle=title)


@fill_doc
def plot_surface_accuracy(accuracy: Any, voxel_vertex: Any, voxel_hemisphere: Any, *,
                          roi_names: Sequence[str] | None = None,
                          roi_hemispheres: Sequence[str] | None = None,
                          mesh: str = "fsaverage5", hemispheres: Sequence[str] = ("lh", "rh"),
                          views: Sequence[str] = ("ventral", "posterior"),
                          cmap: str = "viridis", vmin: float = 0.0, vmax: float = 1.0,
                          title: str | None = None, axes: Any = None,
                          output_file: str | os.PathLike | None = None, dpi: int = 120) -> Any:
    """A per-voxel score on nilearn's inflated fsaverage surface: hemispheres x views.

    Vertices without a voxel stay blank over the sulcal depth; the last view of each
    hemisphere carries the colour bar.

    Parameters
    ----------
    accuracy : array-like, shape (V,)
        The score of each voxel (r²/NC, r...).
    voxel_vertex : array-like of int, shape (V,)
        Each voxel's vertex index within its hemisphere of ``mesh``.
    voxel_hemisphere : array-like of str, shape (V,)
        ``"lh"`` or ``"rh"`` per voxel.
    roi_names, roi_hemispheres : sequence of str, optional
        The ROIs and their hemispheres, listed in the panel titles.
    mesh : str
        The fsaverage resolution the vertices index (:func:`nilearn.datasets.load_fsaverage`;
        nilearn ships ``"fsaverage5"``, the others are downloaded once).
    hemispheres : sequence of str
        ``"lh"`` and/or ``"rh"``, one row each.
    views : sequence of str
        nilearn views (``"lateral"``, ``"ventral"``, ``"posterior"``...), one column each.
    cmap : str
    vmin, vmax : float
        Range of the colour map.
    title : str, optional
        The figure's title.
    axes : sequence of matplotlib.axes.Axes, optional
        ``len(hemispheres) * len(views)`` 3-D axes (``projection="3d"``) of one figure, in
        row order.
    %(output_file)s
    %(dpi)s

    %(returns_figure)s

    Examples
    --------
    >>> fig = plot_surface_accuracy([0.2, 0.9], [0, 1], ["lh", "lh"], roi_names=["v1"],
    ...                             roi_hemispheres=["lh"], hemispheres=["lh"], views=["lateral"])
    >>> fig.axes[0].get_title()
    'lh lateral (v1)'
    """
    from nilearn import datasets, plotting

    unknown = sorted(set(hemispheres) - set(_SIDES))
    if unknown:
        raise ParameterError(f"hemispheres {unknown} are not 'lh' or 'rh'; pass "
                             "hemispheres= from ('lh', 'rh').")
    if roi_names is not None and (roi_hemispheres is None
                                  or len(roi_hemispheres) != len(roi_names)):
        raise ParameterError("roi_names needs roi_hemispheres, one per ROI, to list the ROIs "
                             "of each hemisphere; pass both or neither.")
    score = np.asarray(accuracy, dtype=float)
    vertex = np.asarray(voxel_vertex, dtype=int)
    hemisphere = np.asarray(voxel_hemisphere)
    surface = datasets.load_fsaverage(mesh)["inflated"]
    sulc = datasets.load_fsaverage_data(mesh=mesh, data_type="sulcal", mesh_type="inflated")
    textures = []
    for hemi in hemispheres:
        texture = np.full(surface.parts[_SIDES[hemi]].n_vertices, np.nan)
        mine = hemisphere == hemi
        if vertex[mine].size and vertex[mine].max() >= texture.size:
            raise ParameterError(f"voxel_vertex reaches {vertex[mine].max()} but {mesh} has "
                                 f"{texture.size} vertices per hemisphere; pass the mesh= the "
                                 "vertices index (fsaverage, fsaverage6...).")
        texture[vertex[mine]] = score[mine]
        textures.append(texture)
    fig, grid = figure_and_grid(axes, len(hemispheres), len(views), figsize=(9, 6.5),
                                subplot_kw={"projection": "3d"},
                                gridspec_kw={"hspace": 0.0, "wspace": 0.0})
    for row, (hemi, texture) in enumerate(zip(hemispheres, textures, strict=True)):
        side = _SIDES[hemi]
        rois = "" if roi_names is None else " ({})".format(", ".join(
            n for n, h in zip(roi_names, roi_hemispheres, strict=True) if h == hemi))
        for col, view in enumerate(views):
            plotting.plot_surf_stat_map(
                surface.parts[side], texture, hemi=side, view=view,
                bg_map=np.asarray(sulc.data.parts[side]), cmap=cmap,
                vmin=vmin, vmax=vmax, colorbar=(col == len(views) - 1), symmetric_cbar=False,
                axes=grid[row, col], figure=fig, title=f"{hemi} {view}{rois}")
    return finish_figure(fig, output_file, dpi=dpi, suptitle=title)


@fill_doc
def plot_roi_kind_accuracy(per_roi: Mapping[str, Mapping[str, float]], roi_names: Sequence[str],
                           roi_kinds: Sequence[str], *, kinds: Sequence[str] | None = None,
                           labels: Mapping[str, str] | None = None,
                           colours: Mapping[str, str] | None = None,
                           ylabel: str = "mean r²/NC (test)",
                           title: str | None = ("Encoding accuracy per ROI kind (dots: single "
                                                "ROIs; 1 = noise ceiling)"),
                           axes: Any = None, output_file: str | os.PathLike | None = None,
                           dpi: int = 120) -> Any:
    """Mean noise-normalised accuracy per ROI kind, one bar per model, single ROIs as dots.

    The mean is written inside each bar; a dashed line marks the noise ceiling (1).

    Parameters
    ----------
    per_roi : mapping of str to mapping of str to float
        Model -> ROI name -> accuracy (a fraction of the noise ceiling, such as r²/NC), the
        models in bar order.
    roi_names, roi_kinds : sequence of str
        The ROIs and the kind of each (``"retinotopic"``, ``"category"``...).
    kinds : sequence of str, optional
        The kinds to draw, in order (default: those of ``roi_kinds``, in order of appearance).
    labels : mapping of str to str, optional
        Legend label per model (default: its name).
    colours : mapping of str to str, optional
        Bar colour per model (default: matplotlib's cycle).
    ylabel : str
    title : str, optional
    %(axes)s
    %(output_file)s
    %(dpi)s

    %(returns_figure)s

    Examples
    --------
    >>> fig = plot_roi_kind_accuracy({"ridge": {"v1": 0.4, "v2": 0.6}}, ["v1", "v2"],
    ...                              ["early", "early"], colours={"ridge": "tab:gray"})
    >>> [t.get_text() for t in fig.axes[0].texts], len(fig.axes[0].collections)
    (['0.50'], 1)
    """
    fig, ax = figure_and_axes(axes, figsize=(7, 4.2))
    if axes is None:
        fig.set_layout_engine("constrained")
    roi_kind = np.asarray(roi_kinds)
    kinds = list(dict.fromkeys(roi_kinds)) if kinds is None else list(kinds)
    width = 0.78 / len(per_roi)
    for m, (model, accuracy) in enumerate(per_roi.items()):
        scores = np.array([accuracy[name] for name in roi_names])
        means = [scores[roi_kind == kind].mean() for kind in kinds]
        x = np.arange(len(kinds)) + (m - (len(per_roi) - 1) / 2) * width
        ax.bar(x, means, width=width * 0.95,
               label=model if labels is None else labels.get(model, model),
               color=None if colours is None else colours.get(model))
        for i, kind in enumerate(kinds):
            pts = scores[roi_kind == kind]
            ax.scatter(np.full(pts.size, x[i]) + np.linspace(-0.05, 0.05, pts.size), pts,
                       s=14, color="k", zorder=3)
            ax.text(x[i], 0.03, f"{means[i]:.2f}", ha="center", fontsize=8, color="white",
                    fontweight="bold")  # inside the bar, clear of the dots
    ax.axhline(1.0, color="k", lw=0.8, ls="--")
    ax.set(xticks=range(len(kinds)), xticklabels=[f"{k} ROIs" for k in kinds],
           ylabel=ylabel, ylim=(0, 1.12))
    if title is not None:
        ax.set_title(title)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=len(per_roi), fontsize=8,
              frameon=False)
    return finish_figure(fig, output_file, dpi=dpi)
