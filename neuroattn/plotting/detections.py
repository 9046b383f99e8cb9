"""A seizure detector's output over one recording: probabilities, seizures and alarms.

Examples
--------
>>> import numpy as np
>>> from neuroattn.ieeg import DetectionRule
>>> from neuroattn.plotting import plot_detections
>>> t = np.arange(1.0, 1201.0)                       # 20 min of 1-s windows
>>> p = np.where((t > 300) & (t < 340) | (t > 900) & (t < 905), 0.9, 0.05)
>>> fig = plot_detections(t, p, [[295.0, 345.0]], rule=DetectionRule(smooth_windows=3))
>>> ax = fig.axes[0]
>>> len(ax.patches), ax.get_xlabel(), ax.get_title()
(1, 'time (min)', '1/1 seizures detected, 1 false alarm')
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from neuroattn._atomic import atomic_path
from neuroattn.ieeg.evaluation import (
    DetectionRule,
    _alarms,
    _labels,
    _match,
    _probabilities,
    _same_length,
    _seizures,
    _smooth,
    _times,
)


def plot_detections(
    times: np.ndarray | Sequence[float],
    probabilities: np.ndarray | Sequence[float],
    seizures: np.ndarray | Sequence[Sequence[float]],
    *,
    rule: DetectionRule | None = None,
    labels: np.ndarray | Sequence[int] | None = None,
    title: str | None = None,
    axes: Any = None,
    output_file: str | os.PathLike | None = None,
) -> Any:
    """Plot window probabilities, annotated seizures (shaded red) and the rule's alarms.

    The time axis is in minutes for recordings longer than 10 minutes, else
    in seconds.

    Parameters
    ----------
    times : array-like of shape (n_windows,)
        Decision time (end) of each window, seconds from the recording start.
    probabilities : array-like of shape (n_windows,)
        Seizure probability of each window.
    seizures : array-like of shape (n_seizures, 2)
        Annotated onsets and offsets in seconds, one shaded span each.
    rule : DetectionRule, optional
        When given, also draw the smoothed probability (if it smooths), the
        threshold, and the alarms as triangles: green when inside a seizure
        (tolerance included), orange for false alarms.
    labels : array-like of shape (n_windows,), optional
        Window labels, drawn as a dotted step trace.
    title : str, optional
        Axes title; by default a summary of the detections.
    axes : matplotlib Axes, optional
        Draw here instead of a new figure.
    output_file : path-like, optional
        Save the figure there (written atomically).

    Returns
    -------
    matplotlib.figure.Figure
    """
    t = _times(times)
    p = _probabilities(probabilities)
    _same_length(times=t, probabilities=p)
    sz = _seizures(seizures)
    y = None
    if labels is not None:
        y = _labels(labels)
        _same_length(times=t, labels=y)
    scale, unit = (60.0, "min") if t[-1] - t[0] > 600.0 else (1.0, "s")
    x = t / scale

    if axes is None:
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(figsize=(11, 3.2))
    fig = axes.figure
    for i, (onset, offset) in enumerate(sz):
        axes.axvspan(onset / scale, offset / scale, color="tab:red", alpha=0.15, lw=0,
                     label="annotated seizure" if i == 0 else None)
    if y is not None:
        axes.step(x, y, where="pre", color="0.4", lw=0.8, ls=":", label="window label")
    smooths = rule is not None and rule.smooth_windows > 1
    axes.plot(x, p, color="tab:blue", lw=0.8, alpha=0.5 if smooths else 1.0,
              label="probability")
    if rule is not None:
        if smooths:
            axes.plot(x, _smooth(p, rule.smooth_windows), color="navy", lw=1.2,
                      label=f"smoothed (last {rule.smooth_windows})")
        axes.axhline(rule.threshold, color="k", ls="--", lw=0.8,
                     label=f"threshold {rule.threshold:g}")
        found = _alarms(t, p, rule)
        inside, first = _match(found, sz, rule.tolerance_s)
        for mask, color, name in ((inside, "tab:green", "alarm in seizure"),
                                  (~inside, "tab:orange", "false alarm")):
            if mask.any():
                axes.vlines(found[mask] / scale, 0, 1.04, colors=color, lw=0.8, alpha=0.6)
                axes.plot(found[mask] / scale, np.full(int(mask.sum()), 1.06), ls="none",
                          marker="v", ms=7, color=color, label=f"{name} ({int(mask.sum())})")
        if title is None:
            n_false = int((~inside).sum())
            title = (f"{int((~np.isnan(first)).sum())}/{len(sz)} seizures detected, "
                     f"{n_false} false alarm{'' if n_false == 1 else 's'}")
    axes.set_xlim(x[0], x[-1])
    axes.set_ylim(-0.03, 1.12)
    axes.set_xlabel(f"time ({unit})")
    axes.set_ylabel("seizure probability")
    axes.set_title(title or "seizure probability")
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    if output_file is not None:
        with atomic_path(output_file) as tmp:
            fig.savefig(tmp, dpi=120, format=os.path.splitext(str(output_file))[1][1:] or "png")
    return fig
