"""plot_scanpath and the shared figure helpers (neuroattn.plotting.scanpaths, .figure)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from neuroattn.errors import ParameterError  # noqa: E402
from neuroattn.plotting import figure_and_axes, plot_scanpath, save_figure  # noqa: E402


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
