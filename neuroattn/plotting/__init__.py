"""Figures. Every function takes ``axes=``/``output_file=`` and returns the Figure."""

from neuroattn.plotting.detections import plot_detections, plot_sensitivity_fa
from neuroattn.plotting.ieeg import plot_ieeg

__all__ = ["plot_detections", "plot_ieeg", "plot_sensitivity_fa"]
