"""Figures. Every function takes ``axes=``/``output_file=`` and returns the Figure."""

from neuroattn.plotting.detections import plot_detections, plot_sensitivity_fa
from neuroattn.plotting.figure import figure_and_axes, figure_and_grid, save_figure
from neuroattn.plotting.ieeg import plot_ieeg
from neuroattn.plotting.scanpaths import plot_scanpath

__all__ = ["figure_and_axes", "figure_and_grid", "plot_detections", "plot_ieeg", "plot_scanpath",
           "plot_sensitivity_fa", "save_figure"]
