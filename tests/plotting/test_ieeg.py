"""plot_ieeg: draws the right channels and window, shades seizures, saves atomically."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from neuroattn.plotting import plot_ieeg


def test_defaults_center_on_first_seizure(ieeg_ds, tmp_path):
    fig = plot_ieeg(ieeg_ds, duration_s=8.0, output_file=tmp_path / "f.png")
    ax = fig.axes[0]
    assert len(ax.lines) == 7
    assert ax.get_xlim()[0] == pytest.approx(10.0, abs=0.02)  # 12 s seizure - 8/4
    assert len(ax.patches) == 1  # the seizure span
    assert (tmp_path / "f.png").stat().st_size > 1000
    assert [p.name for p in tmp_path.iterdir()] == ["f.png"]


def test_axes_and_channel_subset(ieeg_ds):
    fig, ax = plt.subplots()
    out = plot_ieeg(ieeg_ds, channels=["LA3", "LA1"], start_s=0.0, duration_s=5.0, axes=ax)
    assert out is fig and len(ax.lines) == 2
    assert [t.get_text() for t in ax.get_yticklabels()] == ["LA3", "LA1"]
    with pytest.raises(ValueError, match=r"\['LA9'\] are not in the dataset"):
        plot_ieeg(ieeg_ds, channels=["LA9"])
    with pytest.raises(ValueError, match="past the end"):
        plot_ieeg(ieeg_ds, start_s=100.0)
