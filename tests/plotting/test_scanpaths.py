"""Scanpath figures and the shared figure helpers (neuroattn.plotting.scanpaths, .figure)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from neuroattn.errors import ParameterError  # noqa: E402
from neuroattn.plotting import figure_and_axes, plot_scanpath, save_figure  # noqa: E402
from neuroattn.plotting.scanpaths import (  # noqa: E402
    plot_metric_bars,
    plot_photo_scanpaths,
    plot_scanpath_grid,
)


def test_scanpath_is_drawn_in_order_with_shared_labels_for_refixations():
    path = np.array([[10.0, 10.0], [30.0, 20.0], [11.0, 10.5], [50.0, 5.0]])
    fig = plot_scanpath(path, image=np.zeros((3, 40, 60)), target_box=(25, 15, 35, 25),
                        merge_within=2.0)
    ax = fig.axes[0]
    line = ax.lines[-1]
    np.testing.assert_array_equal(np.column_stack(line.get_data()), path)
    assert [t.get_text() for t in ax.texts] == ["1,3", "2", "4"]
    assert ax.images[0].get_array().shape == (40, 60, 3)     # channels-first image turned
    (box,) = ax.patches
    assert (box.get_x(), box.get_y(), box.get_width(), box.get_height()) == (25, 15, 10, 10)
    plt.close(fig)


def test_scanpath_draws_on_given_axes_and_saves(tmp_path):
    fig, axes = plt.subplots(1, 2)
    out = plot_scanpath([[1, 1], [2, 2]], axes=axes[1], merge_within=0.0,
                        output_file=tmp_path / "p.png")
    assert out is fig and len(axes[1].texts) == 2 and not axes[0].lines
    assert (tmp_path / "p.png").stat().st_size > 0
    plt.close(fig)


def test_long_labels_are_cut():
    fig = plot_scanpath([[5, 5]] * 12, merge_within=0.0, max_label=9)
    (text,) = fig.axes[0].texts
    assert text.get_text() == "1,2,3,4,…" and len(text.get_text()) == 9
    plt.close(fig)


@pytest.mark.parametrize("bad", [[], [1, 2, 3], np.zeros((3, 3))])
def test_bad_fixations_are_named(bad):
    with pytest.raises(ParameterError, match="fixations must be a non-empty"):
        plot_scanpath(bad)


def test_save_figure_is_atomic_and_closes(tmp_path):
    fig, ax = figure_and_axes(figsize=(2, 2))
    assert figure_and_axes(ax) == (fig, ax)
    path = save_figure(fig, tmp_path / "f.svg", close=True)
    assert path.read_text().lstrip().startswith("<?xml")
    assert not plt.fignum_exists(fig.number)
    assert [p.name for p in tmp_path.iterdir()] == ["f.svg"]     # no temporary left behind


TABLE = {"OAT (greedy)": {"score": 0.5, "delta": 0.2}, "random": {"score": 0.25, "delta": 0.8},
         "humans": {"score": 1.0, "delta": 0.0}}


def test_metric_bars_draw_one_labelled_bar_per_model_per_panel(tmp_path):
    fig = plot_metric_bars(TABLE, {"score": "score (↑)", "delta": "delta (↓)"},
                           colours={"OAT": "tab:blue", "humans": "0.35"}, xlim_scale=1.5,
                           title="three models", output_file=tmp_path / "m.png")
    left, right = fig.axes
    assert [ax.get_title() for ax in fig.axes] == ["score (↑)", "delta (↓)"]
    assert [bar.get_width() for bar in left.patches] == [0.5, 0.25, 1.0]
    assert [bar.get_width() for bar in right.patches] == [0.2, 0.8, 0.0]
    assert [t.get_text() for t in left.texts] == [" 0.50", " 0.25", " 1.00"]
    assert left.get_xlim() == pytest.approx((0, 1.5))
    assert left.yaxis_inverted()                                  # the table's first model on top
    assert [t.get_text() for t in left.get_yticklabels()] == list(TABLE)
    assert not any(t.get_text() for t in right.get_yticklabels())
    colours = [matplotlib.colors.to_hex(bar.get_facecolor()) for bar in left.patches]
    assert colours == [matplotlib.colors.to_hex(c) for c in ("tab:blue", "tab:orange", "0.35")]
    assert fig.get_suptitle() == "three models"
    assert (tmp_path / "m.png").stat().st_size > 0
    plt.close(fig)


def test_metric_bars_take_the_first_matching_prefix_and_given_axes():
    fig, axes = plt.subplots(1, 3)
    table = {"NevaClip (wrong caption)": {"s": 0.1}, "NevaClip (caption)": {"s": 0.2}}
    out = plot_metric_bars(table, {"s": "s"}, axes=axes[1:2], default_colour="k",
                           colours={"NevaClip (wrong": "lightsteelblue", "NevaClip": "tab:blue"})
    assert out is fig and len(axes[1].patches) == 2 and not axes[0].patches
    colours = [matplotlib.colors.to_hex(bar.get_facecolor()) for bar in axes[1].patches]
    assert colours == [matplotlib.colors.to_hex(c) for c in ("lightsteelblue", "tab:blue")]
    with pytest.raises(ParameterError, match="2 axes"):
        plot_metric_bars(table, {"s": "s", "t": "t"}, axes=axes[:1])
    plt.close(fig)


def test_scanpath_grid_draws_each_models_path_over_each_image(tmp_path):
    images = [np.zeros((20, 30)), np.ones((20, 30))]
    paths = {"human": [[[2, 2], [10, 5]], [[3, 3], [4, 4], [5, 5]]],
             "model": [[[5, 5]], [[8, 2], [9, 9]]]}
    fig = plot_scanpath_grid(images, paths, [(1, 1, 5, 5), (2, 2, 6, 6)],
                             row_labels=["trial 0", "trial 1"], colours={"model": "tab:blue"},
                             merge_within=0.0, title="grid", output_file=tmp_path / "g.png")
    axes = np.array(fig.axes).reshape(2, 2)
    assert [ax.get_title() for ax in fig.axes] == ["human", "model", "", ""]
    assert [axes[r, 0].get_ylabel() for r in range(2)] == ["trial 0", "trial 1"]
    assert axes[1, 1].get_ylabel() == ""
    np.testing.assert_array_equal(np.column_stack(axes[1, 0].lines[-1].get_data()),
                                  paths["human"][1])
    assert axes[1, 1].lines[-1].get_color() == "tab:blue"
    assert axes[0, 0].lines[-1].get_color() == "tab:red"
    assert axes[1, 0].images[0].get_array().max() == 1            # each row its own image
    (box,) = axes[1, 1].patches
    assert (box.get_x(), box.get_y(), box.get_width(), box.get_height()) == (2, 2, 4, 4)
    assert fig.get_suptitle() == "grid"
    assert (tmp_path / "g.png").stat().st_size > 0
    plt.close(fig)


def test_scanpath_grid_titles_every_cell_and_checks_its_inputs():
    images = [np.zeros((10, 10))]
    fig, axes = plt.subplots(1, 2)
    out = plot_scanpath_grid(images, {"a": [[[1, 1]]], "b": [[[2, 2]]]}, axes=axes,
                             cell_titles=[["a: 'red disc'", "b"]], fontsize=8)
    assert out is fig and [ax.get_title() for ax in axes] == ["a: 'red disc'", "b"]
    assert axes[0].title.get_fontsize() == 8
    with pytest.raises(ParameterError, match="one path per image"):
        plot_scanpath_grid(images, {"a": [[[1, 1]], [[2, 2]]]})
    with pytest.raises(ParameterError, match="2 panels"):
        plot_scanpath_grid(images, {"a": [[[1, 1]]], "b": [[[2, 2]]]}, axes=axes[:1])
    plt.close(fig)


def photo_inputs():
    photos = {"grey": np.full((24, 32, 3), 128, np.uint8), "dark": np.zeros((24, 32, 3), np.uint8)}
    free = {name: {"free, fovea": [[4, 4], [20, 10]], "free, blur": [[8, 8]]} for name in photos}
    captioned = {name: {"'red'": [[8, 8], [9, 9]], "'blue'": [[16, 16]]} for name in photos}
    saliency = {name: np.arange(24 * 32.0).reshape(24, 32) for name in photos}
    return photos, free, captioned, saliency


def test_photo_scanpaths_row_free_viewing_captioned_and_saliency(tmp_path):
    photos, free, captioned, saliency = photo_inputs()
    nss = {name: {"free, fovea": 1.234, "free, blur": -0.5} for name in photos}
    fig = plot_photo_scanpaths(photos, free, captioned, saliency, nss=nss,
                               saliency_title="saliency map", title="photos",
                               output_file=tmp_path / "p.png")
    axes = np.array(fig.axes).reshape(2, 4)
    assert [ax.get_title() for ax in axes[1]] == [
        "dark: free, fovea\nNSS on saliency 1.23", "dark: free, blur\nNSS on saliency -0.50",
        "dark: captioned", "saliency map"]
    np.testing.assert_array_equal(np.column_stack(axes[0, 0].lines[-1].get_data()),
                                  free["grey"]["free, fovea"])
    captions = axes[0, 2]
    assert [t.get_text() for t in captions.get_legend().get_texts()] == ["'red'", "'blue'"]
    path_colours = [line.get_color() for line in captions.lines if len(line.get_xdata())
                    and line.get_color() != "white"]
    assert path_colours == ["tab:red", "tab:blue"]
    (circles,) = axes[0, 3].lines                      # the first free-viewing path, circled
    np.testing.assert_array_equal(np.column_stack(circles.get_data()), [[4, 4], [20, 10]])
    assert axes[0, 3].images[0].get_cmap().name == "magma"
    assert all(not ax.get_xticks().size and not ax.get_yticks().size for ax in fig.axes)
    assert fig.get_suptitle() == "photos"
    assert (tmp_path / "p.png").stat().st_size > 0
    plt.close(fig)


def test_photo_scanpaths_without_nss_on_given_axes():
    photos, free, captioned, saliency = photo_inputs()
    photos.pop("dark")
    fig, axes = plt.subplots(1, 4)
    assert plot_photo_scanpaths(photos, free, captioned, saliency, axes=axes) is fig
    assert axes[0].get_title() == "grey: free, fovea"
    with pytest.raises(ParameterError, match="4 panels"):
        plot_photo_scanpaths(photos, free, captioned, saliency, axes=axes[:3])
    plt.close(fig)
