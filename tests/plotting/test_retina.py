"""Rotation-sweep curves and fixation-scan maps (neuroattn.plotting.retina)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from neuroattn.plotting.retina import plot_fixation_scan, plot_rotation_sweep  # noqa: E402
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


def test_fixation_scan_map_sits_on_the_scanned_grid():
    ys, xs = torch.meshgrid(torch.tensor([4.0, 12.0, 20.0]), torch.tensor([4.0, 12.0, 20.0]),
                            indexing="ij")
    probabilities = torch.zeros(2, 3, 3)
    probabilities[1, 2, 0] = 1.0                   # image 1 peaks at fixation (x 4, y 20)
    scan = FixationScan(probabilities, torch.stack([xs, ys], -1), torch.tensor([0, 1]))
    fig, ax = plt.subplots()
    assert plot_fixation_scan(np.zeros((24, 24)), scan, 1, box=(0, 16, 8, 24), axes=ax) is fig
    image, heat = ax.images
    assert heat.get_extent() == [0.0, 24.0, 24.0, 0.0]   # cells of 8 px around the fixations
    (peak,) = [line for line in ax.lines if line.get_marker() == "+"]
    assert (peak.get_xdata()[0], peak.get_ydata()[0]) == (4.0, 20.0)
    assert len(ax.patches) == 1
    plt.close(fig)
