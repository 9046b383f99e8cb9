"""Rotation and zoom curves, scan maps and the retina's view (neuroattn.plotting.retina)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from neuroattn.errors import ParameterError  # noqa: E402
from neuroattn.plotting.retina import (  # noqa: E402
    plot_fixation_scan,
    plot_fixation_scans,
    plot_log_polar_view,
    plot_rotation_sweep,
    plot_zoom_sweep,
)
from neuroattn.retina import LogPolar  # noqa: E402
from neuroattn.retina.scan import FixationScan  # noqa: E402
from neuroattn.retina.training import RotationSweep  # noqa: E402


def sweep(values):
    degrees = np.arange(len(values)) * 11.25
    return RotationSweep(degrees, np.asarray(values), 22.5, degrees % 22.5 == 0)


def test_rotation_sweep_draws_each_model_and_the_angle_grid(tmp_path):
    sweeps = {"foveated_invariant": sweep([0.9, 0.9, 0.8]), "cartesian": sweep([0.9, 0.5, 0.2])}
    fig = plot_rotation_sweep(sweeps, colours={"cartesian": "tab:blue"},
                              output_file=tmp_path / "r.png")
    ax = fig.axes[0]
    grid = [line for line in ax.lines if line.get_xdata()[0] == line.get_xdata()[-1]]
    assert sorted(float(line.get_xdata()[0]) for line in grid) == [0.0, 22.5]
    curves = {line.get_label(): line for line in ax.lines if line.get_label() != "chance"
              and line not in grid}
    assert set(curves) == {"foveated invariant", "cartesian"}
    np.testing.assert_array_equal(curves["cartesian"].get_ydata(), [0.9, 0.5, 0.2])
    assert curves["cartesian"].get_color() == "tab:blue"
    assert (tmp_path / "r.png").stat().st_size > 0
    plt.close(fig)


def scan_3x3() -> FixationScan:
    ys, xs = torch.meshgrid(torch.tensor([4.0, 12.0, 20.0]), torch.tensor([4.0, 12.0, 20.0]),
                            indexing="ij")
    probabilities = torch.zeros(2, 3, 3)
    probabilities[1, 2, 0] = 1.0                   # image 1 peaks at fixation (x 4, y 20)
    return FixationScan(probabilities, torch.stack([xs, ys], -1), torch.tensor([0, 1]))


def test_zoom_sweep_is_on_a_log_axis_labelled_with_the_zooms(tmp_path):
    fig = plot_zoom_sweep([0.5, 1.0, 1.5], {"foveated": [0.4, 0.9, 0.6], "cartesian": [0, 1, 0]},
                          colours={"foveated": "tab:red"}, title="Zoom",
                          output_file=tmp_path / "z.png")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_title() == "Zoom"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.5", "1", "1.5"]
    lines = {line.get_label(): line for line in ax.lines}
    assert set(lines) == {"foveated", "cartesian", "chance"}
    np.testing.assert_array_equal(lines["foveated"].get_ydata(), [0.4, 0.9, 0.6])
    assert lines["foveated"].get_color() == "tab:red"
    assert (tmp_path / "z.png").stat().st_size > 0
    plt.close(fig)


def test_fixation_scans_grid_has_a_canvas_row_and_a_row_per_model():
    scan = scan_3x3()
    fig, axes = plt.subplots(3, 2)
    out = plot_fixation_scans(np.zeros((2, 24, 24)), {"foveated": scan, "cartesian": scan},
                              [(0, 0, 8, 8), (0, 16, 8, 24)], titles=["digit 3", "digit 5"],
                              n_examples=2, axes=axes)
    assert out is fig
    assert [ax.get_ylabel() for ax in axes[:, 0]] == ["canvas", "foveated", "cartesian"]
    assert [ax.get_title() for ax in axes[0]] == ["digit 3", "digit 5"]
    assert all(len(ax.patches) == 1 for ax in axes.ravel())          # every panel boxes it
    assert len(axes[0, 0].images) == 1 and len(axes[1, 1].images) == 2  # canvas vs map
    with pytest.raises(ParameterError, match="pass 6 axes"):
        plot_fixation_scans(np.zeros((2, 24, 24)), {"a": scan, "b": scan}, [(0, 0, 1, 1)] * 2,
                            n_examples=2, axes=axes[:2])
    plt.close(fig)


def test_log_polar_view_shows_the_retinas_view_and_its_inverse():
    retina = LogPolar(8, 12)
    image, fixation = torch.rand(1, 20, 20), torch.tensor([10.0, 9.0])
    fig = plot_log_polar_view(retina, image, fixation)
    first, view, back = fig.axes
    np.testing.assert_array_equal(first.images[0].get_array(), image[0].numpy())
    expected = retina(image[None], fixation[None])
    np.testing.assert_allclose(view.images[0].get_array(), expected[0, 0].numpy())
    assert back.images[0].get_array().shape == (20, 20)
    (cross,) = first.lines
    assert (cross.get_xdata()[0], cross.get_ydata()[0]) == (10.0, 9.0)
    plt.close(fig)


def test_fixation_scan_map_sits_on_the_scanned_grid():
    scan = scan_3x3()
    fig, ax = plt.subplots()
    assert plot_fixation_scan(np.zeros((24, 24)), scan, 1, box=(0, 16, 8, 24), axes=ax) is fig
    image, heat = ax.images
    assert heat.get_extent() == [0.0, 24.0, 24.0, 0.0]   # cells of 8 px around the fixations
    (peak,) = [line for line in ax.lines if line.get_marker() == "+"]
    assert (peak.get_xdata()[0], peak.get_ydata()[0]) == (4.0, 20.0)
    assert len(ax.patches) == 1
    plt.close(fig)
