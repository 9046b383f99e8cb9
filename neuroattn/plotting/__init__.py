"""Figures. Every function takes ``axes=``/``output_file=`` and returns the Figure."""

from neuroattn.plotting.detections import plot_detections, plot_sensitivity_fa
from neuroattn.plotting.encoding import (
    plot_roi_kind_accuracy,
    plot_routing_maps,
    plot_surface_accuracy,
)
from neuroattn.plotting.figure import (
    figure_and_axes,
    figure_and_grid,
    finish_figure,
    save_figure,
)
from neuroattn.plotting.ieeg import plot_ieeg
from neuroattn.plotting.retina import (
    plot_fixation_scan,
    plot_fixation_scans,
    plot_log_polar_view,
    plot_rotation_sweep,
    plot_zoom_sweep,
)
from neuroattn.plotting.scanpaths import (
    plot_metric_bars,
    plot_photo_scanpaths,
    plot_scanpath,
    plot_scanpath_grid,
)
from neuroattn.plotting.semantic import (
    plot_decoded_scenes,
    plot_episodic_capacity,
    plot_link_prediction,
    plot_memory_recall,
    plot_perception_accuracy,
)

__all__ = ["figure_and_axes", "figure_and_grid", "finish_figure", "plot_decoded_scenes",
           "plot_detections", "plot_episodic_capacity", "plot_fixation_scan", "plot_fixation_scans",
           "plot_ieeg", "plot_link_prediction", "plot_log_polar_view", "plot_memory_recall",
           "plot_metric_bars", "plot_perception_accuracy", "plot_photo_scanpaths",
           "plot_roi_kind_accuracy", "plot_rotation_sweep", "plot_routing_maps", "plot_scanpath",
           "plot_scanpath_grid", "plot_sensitivity_fa", "plot_surface_accuracy", "plot_zoom_sweep",
           "save_figure"]
