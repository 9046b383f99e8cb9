"""figure_and_grid: new panels or the caller's (neuroattn.plotting.figure)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from neuroattn.errors import ParameterError  # noqa: E402
from neuroattn.plotting import figure_and_grid  # noqa: E402


def test_new_grid_has_the_requested_shape_and_passes_subplot_options():
    fig, grid = figure_and_grid(None, 2, 3, figsize=(3, 2), gridspec_kw={"wspace": 0.0})
    assert grid.shape == (2, 3) and len(fig.axes) == 6
    assert tuple(fig.get_size_inches()) == (3.0, 2.0)
    plt.close(fig)


def test_callers_axes_are_reshaped_in_row_order():
    fig, axes = plt.subplots(2, 2)
    got, grid = figure_and_grid(axes.ravel().tolist(), 1, 4)
    assert got is fig and list(grid[0]) == list(axes.ravel())
    plt.close(fig)


def test_wrong_count_or_two_figures_are_refused():
    fig, axes = plt.subplots(1, 3)
    other, ax = plt.subplots()
    with pytest.raises(ParameterError, match="pass 2 axes"):
        figure_and_grid(axes, 1, 2)
    with pytest.raises(ParameterError, match="2 figures"):
        figure_and_grid([axes[0], ax], 1, 2)
    plt.close(fig)
    plt.close(other)
