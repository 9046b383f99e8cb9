"""Routing-map grids, surface accuracy and per-kind bars (neuroattn.plotting.encoding)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib import colormaps  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

# nilearn.plotting takes seconds to import: at collection, not in the first surface test
from nilearn import datasets, plotting  # noqa: E402, F401

from neuroattn.errors import ParameterError  # noqa: E402
from neuroattn.plotting.encoding import (  # noqa: E402
    plot_roi_kind_accuracy,
    plot_routing_maps,
    plot_surface_accuracy,
)

OBJECTS = {"image": np.array([2, 2, 0]), "category": np.array([0, 1, 1]),
           "y": np.array([1.0, 3.0, 2.0]), "x": np.array([2.0, 1.0, 0.5]),
           "size": np.array([0.8, 1.2, 1.0])}


def routing_maps():
    rng = np.random.default_rng(0)
    return {"truth": rng.random((3, 2, 4, 5)), "model": rng.random((3, 2, 4, 5)),
            "unused": np.zeros((3, 2, 4, 5))}


def test_routing_maps_grid_draws_each_map_and_circles_each_object(tmp_path):
    maps = routing_maps()
    fig = plot_routing_maps(maps, [2, 0], ["ret0", "cat0"], objects=OBJECTS,
                            roi_kinds=["retinotopic", "category"], roi_categories=[-1, 1],
                            n_categories=3, columns={"truth": "ground truth", "model": "model"},
                            title="where", output_file=tmp_path / "maps.png")
    grid = np.array(fig.axes).reshape(2, 5)          # per image 2 maps, 1 spacer between
    assert [ax.axison for ax in grid[0]] == [True, True, False, True, True]
    panels = np.delete(grid, 2, axis=1)
    colour = colormaps["tab10"](np.arange(3) + 2)
    for r in range(2):
        for col, (key, image) in enumerate([("truth", 2), ("model", 2), ("truth", 0),
                                            ("model", 0)]):
            ax = panels[r, col]
            (drawn,) = ax.images
            m = maps[key][image, r]
            np.testing.assert_allclose(drawn.get_array(), m / m.max())
            here = OBJECTS["image"] == image
            circles = [(p.center, p.radius, p.get_edgecolor()) for p in ax.patches]
            assert circles == [((x, y), s, tuple(colour[c])) for x, y, s, c in zip(
                OBJECTS["x"][here], OBJECTS["y"][here], OBJECTS["size"][here],
                OBJECTS["category"][here], strict=True)]
            assert len(ax.lines) == here.sum()        # a + at each centre
    assert [ax.get_title() for ax in panels[0]] == ["\nground truth", "image 2\nmodel",
                                                    "\nground truth", "image 0\nmodel"]
    assert panels[0, 0].get_ylabel() == "ret0\nretinotopic"
    assert panels[1, 0].get_ylabel() == "cat0\ncategory\n(prefers cat 1)"
    assert to_rgba(panels[1, 0].yaxis.label.get_color()) == tuple(colour[1])
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == [f"category {i} object"
                                                          for i in range(3)]
    assert fig.get_suptitle() == "where"
    assert (tmp_path / "maps.png").stat().st_size > 0
    plt.close(fig)


def test_routing_maps_default_columns_and_categories_and_no_objects():
    maps = routing_maps()
    del maps["unused"]
    fig = plot_routing_maps(maps, [1], ["a", "b"], roi_categories=[-1, 2])
    assert [ax.get_title() for ax in fig.axes[:2]] == ["\ntruth", "image 1\nmodel"]
    assert not fig.legends and fig.get_suptitle() == ""
    assert all(not ax.patches for ax in fig.axes)
    plt.close(fig)
    fig = plot_routing_maps(maps, [0], ["a", "b"], objects=OBJECTS)
    assert len(fig.legends[0].get_texts()) == 2        # categories 0 and 1 in the objects
    plt.close(fig)


def test_routing_maps_on_callers_axes_and_refusals():
    maps = routing_maps()
    fig, axes = plt.subplots(2, 2)
    assert plot_routing_maps(maps, [0], ["a", "b"], columns={"model": "m", "truth": "t"},
                             axes=axes) is fig
    assert axes[0, 0].get_title() == "\nm" and len(axes[1, 1].images) == 1
    with pytest.raises(ParameterError, match="pass 4 axes"):
        plot_routing_maps(maps, [0], ["a", "b"], columns={"model": "m", "truth": "t"},
                          axes=axes[0])
    with pytest.raises(ParameterError, match=r"\['spatial'\]"):
        plot_routing_maps(maps, [0], ["a", "b"], columns={"spatial": "static map"})
    with pytest.raises(ParameterError, match=r"\(n_images, 3, H, W\)"):
        plot_routing_maps(maps, [0], ["a", "b", "c"], columns={"truth": "t"})
    with pytest.raises(ParameterError, match=r"lacks \['size'\]"):
        plot_routing_maps(maps, [0], ["a", "b"], columns={"truth": "t"},
                          objects={k: v for k, v in OBJECTS.items() if k != "size"})
    plt.close(fig)


def surface_patch():
    """The vertices of a few faces of fsaverage5's left hemisphere."""
    faces = datasets.load_fsaverage("fsaverage5")["inflated"].parts["left"].faces
    return np.unique(faces[:40])


def face_colours(ax):
    (mesh,) = ax.collections
    return mesh.get_facecolor()


def test_surface_accuracy_paints_the_voxels_vertices_in_their_hemisphere():
    patch = surface_patch()
    vertices = np.append(patch, 0)                      # and one lone vertex on rh
    hemispheres = np.append(np.full(patch.size, "lh"), "rh")
    fig = plot_surface_accuracy(np.ones(vertices.size), vertices, hemispheres,
                                roi_names=["v1", "ffa"], roi_hemispheres=["lh", "rh"],
                                views=["lateral"], title="r²/NC")
    lh, rh = (ax for ax in fig.axes if ax.get_label() != "<colorbar>")
    assert (lh.get_title(), rh.get_title()) == ("lh lateral (v1)", "rh lateral (ffa)")
    assert len(fig.axes) == 4                           # one colour bar per row
    yellow = np.asarray(colormaps["viridis"](1.0))
    assert (np.abs(face_colours(lh) - yellow).max(1) < 1e-3).sum() >= 40   # vmax: yellow
    assert not (np.abs(face_colours(rh) - yellow).max(1) < 1e-3).any()     # no rh face
    assert tuple(fig.get_size_inches()) == (9.0, 6.5) and fig.get_suptitle() == "r²/NC"
    plt.close(fig)


def test_surface_accuracy_on_callers_axes_saves_the_figure(tmp_path):
    fig, axes = plt.subplots(1, 2, subplot_kw={"projection": "3d"})
    assert plot_surface_accuracy([0.5], [3], ["rh"], hemispheres=["rh"],
                                 views=["ventral", "posterior"], axes=axes,
                                 output_file=tmp_path / "surface.png") is fig
    assert [ax.get_title() for ax in axes] == ["rh ventral", "rh posterior"]
    assert len(fig.axes) == 3                           # the colour bar of the last view
    assert (tmp_path / "surface.png").stat().st_size > 0
    plt.close(fig)


def test_surface_accuracy_refuses_wrong_axes_mesh_hemisphere_or_rois():
    fig, axes = plt.subplots(1, 2, subplot_kw={"projection": "3d"})
    with pytest.raises(ParameterError, match="pass 2 axes"):
        plot_surface_accuracy([0.5], [3], ["rh"], hemispheres=["rh"],
                              views=["ventral", "posterior"], axes=axes[:1])
    with pytest.raises(ParameterError, match="10242 vertices"):
        plot_surface_accuracy([0.5], [20000], ["lh"])
    with pytest.raises(ParameterError, match="'left'"):
        plot_surface_accuracy([0.5], [3], ["lh"], hemispheres=["left"])
    with pytest.raises(ParameterError, match="roi_hemispheres"):
        plot_surface_accuracy([0.5], [3], ["lh"], roi_names=["v1"])
    assert plt.get_fignums() == [fig.number]            # a refusal leaves no figure behind
    plt.close(fig)


PER_ROI = {"transformer": {"r0": 0.9, "r1": 0.8, "c0": 0.95, "c1": 0.85, "m0": 0.7},
           "ridge": {"r0": 0.3, "r1": 0.5, "c0": 0.4, "c1": 0.2, "m0": 0.1}}
NAMES = ["r0", "c0", "r1", "m0", "c1"]
KINDS = ["ret", "cat", "ret", "mix", "cat"]


def test_roi_kind_bars_show_the_mean_per_kind_and_each_roi(tmp_path):
    fig = plot_roi_kind_accuracy(PER_ROI, NAMES, KINDS, kinds=["ret", "cat"],
                                 labels={"transformer": "transformer (routing)"},
                                 colours={"transformer": "tab:blue", "ridge": "tab:gray"},
                                 output_file=tmp_path / "bars.png")
    ax = fig.axes[0]
    bars = ax.patches
    np.testing.assert_allclose([b.get_height() for b in bars], [0.85, 0.9, 0.4, 0.3])
    np.testing.assert_allclose([b.get_x() + b.get_width() / 2 for b in bars],
                               [-0.195, 0.805, 0.195, 1.195])
    assert [b.get_facecolor() for b in bars] == [to_rgba("tab:blue")] * 2 + [
        to_rgba("tab:gray")] * 2
    dots = [np.sort(c.get_offsets()[:, 1]) for c in ax.collections]
    np.testing.assert_allclose(dots, [[0.8, 0.9], [0.85, 0.95], [0.3, 0.5], [0.2, 0.4]])
    assert [t.get_text() for t in ax.texts] == ["0.85", "0.90", "0.40", "0.30"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["transformer (routing)",
                                                                   "ridge"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["ret ROIs", "cat ROIs"]
    assert ax.get_ylabel() == "mean r²/NC (test)" and ax.get_ylim() == (0, 1.12)
    assert ax.get_title().startswith("Encoding accuracy per ROI kind")
    assert [line.get_ydata()[0] for line in ax.lines] == [1.0]      # the noise ceiling
    assert type(fig.get_layout_engine()).__name__ == "ConstrainedLayoutEngine"
    assert (tmp_path / "bars.png").stat().st_size > 0
    plt.close(fig)


def test_roi_kind_bars_default_kinds_on_callers_axes():
    fig, (left, right) = plt.subplots(1, 2)
    assert plot_roi_kind_accuracy({"ridge": PER_ROI["ridge"]}, NAMES, KINDS, title=None,
                                  axes=right) is fig
    assert [t.get_text() for t in right.get_xticklabels()] == ["ret ROIs", "cat ROIs",
                                                               "mix ROIs"]
    np.testing.assert_allclose([b.get_height() for b in right.patches], [0.4, 0.3, 0.1])
    np.testing.assert_allclose([b.get_x() + b.get_width() / 2 for b in right.patches],
                               [0, 1, 2])
    assert right.get_title() == "" and not left.patches
    assert fig.get_layout_engine() is None              # the caller's figure keeps its layout
    plt.close(fig)
