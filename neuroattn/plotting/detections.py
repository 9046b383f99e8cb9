"""A seizure detector's output: probabilities, seizures and alarms over one recording
(:func:`plot_detections`), and sensitivity against false alarms (:func:`plot_sensitivity_fa`).

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
(1, 'time (min)', '1/1 seizures detected, 1 false alarm (SzCORE)')
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from neuroattn._docs import fill_doc
from neuroattn.errors import ParameterError
from neuroattn.ieeg.evaluation import (
    DetectionRule,
    detection_trace,
    event_metrics,
    hypothesis_events,
)
from neuroattn.plotting.figure import figure_and_axes, finish_figure


@fill_doc
def plot_detections(
    times: np.ndarray | Sequence[float],
    probabilities: np.ndarray | Sequence[float],
    seizures: np.ndarray | Sequence[Sequence[float]],
    *,
    rule: DetectionRule | None = None,
    labels: np.ndarray | Sequence[int] | None = None,
    title: str | None = None,
    duration_s: float | None = None,
    axes: Any = None,
    output_file: str | os.PathLike | None = None,
) -> Any:
    """Plot window probabilities, annotated seizures (shaded red) and the rule's detections.

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
        threshold, and the detections: with SzCORE scoring (the default) the
        hypothesis events as purple bars, titled with SzCORE's counts; with
        onset scoring the alarms as triangles, green when inside a seizure
        (tolerance included), orange for false alarms.
    labels : array-like of shape (n_windows,), optional
        Window labels, drawn as a dotted step trace.
    title : str, optional
        Axes title; by default a summary of the detections.
    duration_s : float, optional
        Recording length for SzCORE scoring (default: the end of the last
        window or seizure).
    %(axes)s
    %(output_file)s

    %(returns_figure)s
    """
    trace = detection_trace(times, probabilities, seizures, rule, labels)
    t, p, sz, y = trace.times, trace.probabilities, trace.seizures, trace.labels
    scale, unit = (60.0, "min") if t[-1] - t[0] > 600.0 else (1.0, "s")
    x = t / scale

    new = axes is None
    fig, axes = figure_and_axes(axes, figsize=(11, 3.2))
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
            axes.plot(x, trace.smoothed, color="navy", lw=1.2,
                      label=f"smoothed (last {rule.smooth_windows})")
        axes.axhline(rule.threshold, color="k", ls="--", lw=0.8,
                     label=f"threshold {rule.threshold:g}")
        if rule.scoring == "szcore":
            summary = _draw_events(axes, t, p, sz, rule, scale, duration_s)
            title = summary if title is None else title
        else:
            found, inside, first = trace.alarm_times, trace.alarm_in_seizure, trace.first_alarm
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
    return finish_figure(fig, output_file, tight_layout=new)


def _draw_events(axes: Any, t: np.ndarray, p: np.ndarray, seizures: np.ndarray,
                 rule: DetectionRule, scale: float, duration_s: float | None) -> str:
    """Draw the SzCORE hypothesis events as bars above the trace; return a summary title."""
    events = hypothesis_events(t, p, rule)
    for i, (onset, offset) in enumerate(events):
        axes.plot([onset / scale, offset / scale], [1.06, 1.06], color="tab:purple", lw=4,
                  solid_capstyle="butt", label=f"detection ({len(events)})" if i == 0 else None)
    if duration_s is None:
        duration_s = float(max(t[-1], seizures[:, 1].max() if len(seizures) else 0.0))
    ev = event_metrics(t, p, seizures, rule, duration_s=duration_s)
    n_false = ev["false_alarms"]
    return (f"{ev['n_detected']}/{ev['n_seizures']} seizures detected, {n_false} false "
            f"alarm{'' if n_false == 1 else 's'} (SzCORE)")


@fill_doc
def plot_sensitivity_fa(
    results: Mapping[str, dict[str, Any]],
    *,
    title: str | None = None,
    axes: Any = None,
    output_file: str | os.PathLike | None = None,
) -> Any:
    """Event sensitivity against false alarms per hour, with the operating points marked.

    One curve per detector (the ``curve`` of
    :func:`neuroattn.ieeg.evaluation.evaluate_at_operating_points`, drawn in
    threshold order, highest first), and at each false-alarm budget the
    sensitivity and false-alarm rate these recordings reach with the
    threshold chosen on validation for it: a star for the main budget
    (``operating_point``, also a dotted vertical line), circles for the
    others.

    Parameters
    ----------
    results : mapping of str to dict
        Detector name to its results (``curve``, and ``operating_point`` and
        ``budgets`` when points were chosen).
    title : str, optional
        Axes title (default: the recordings' hours and seizures).
    %(axes)s
    %(output_file)s

    %(returns_figure)s

    Examples
    --------
    >>> import numpy as np
    >>> from neuroattn.ieeg.evaluation import (DetectionRule, OperatingPoint,
    ...                                        RecordingPrediction, evaluate_at_operating_points)
    >>> t = np.arange(4.0, 3604.0, 4.0)
    >>> p = np.where((t > 1000) & (t <= 1040), 0.9, 0.1)
    >>> rec = RecordingPrediction("r1", "P1", t, p, (p > .5).astype(int), [[1000., 1040.]], 3600.)
    >>> res = evaluate_at_operating_points([rec], DetectionRule(),
    ...                                    [OperatingPoint(0.5, 3, 1.0, 1.0, 0.0, True)])
    >>> fig = plot_sensitivity_fa({"model": res})
    >>> ax = fig.axes[0]
    >>> ax.get_xlabel(), [t.get_text() for t in ax.get_legend().get_texts()]
    ('false alarms per hour', ['model', 'model at 1 FA/h (chosen on validation)'])
    """
    if not results:
        raise ParameterError("No results to plot; pass {detector name: results}.")
    new = axes is None
    fig, axes = figure_and_axes(axes, figsize=(6.4, 4.2))
    right = 1.0
    first = next(iter(results.values()))
    for i, (name, res) in enumerate(results.items()):
        if "curve" not in res:
            raise ParameterError(f"results[{name!r}] has no 'curve'; pass the results of "
                                 "evaluate_at_operating_points.")
        color = f"C{i}"
        curve = res["curve"]
        fa = np.asarray(curve["false_alarms_per_hour"], float)[::-1]
        sens = np.asarray(curve["sensitivity"], float)[::-1]
        axes.plot(fa, sens, color=color, lw=1.2, marker=".", ms=3, label=name)
        main = (res.get("operating_point") or {}).get("max_fa_per_hour")
        for key, at in res.get("budgets", {}).items():
            x, y = at["pooled"]["false_alarms_per_hour"], at["pooled"]["sensitivity"]
            is_main = main is not None and math.isclose(
                (at.get("operating_point") or {}).get("max_fa_per_hour", float(key)), main)
            axes.plot([x], [y], ls="none", color=color, mec="k", mew=0.6,
                      marker="*" if is_main else "o", ms=13 if is_main else 6,
                      label=f"{name} at {key} FA/h (chosen on validation)" if is_main else None)
            right = max(right, 1.15 * x, 2.5 * float(key))
        if main is not None and i == 0:
            axes.axvline(main, color="0.5", ls=":", lw=0.8)
    axes.set_xlim(0, right)
    axes.set_ylim(-0.03, 1.03)
    axes.set_xlabel("false alarms per hour")
    axes.set_ylabel("event sensitivity")
    axes.set_title(title or f"{first['curve']['hours']:.2f} h, "
                   f"{first['curve']['n_seizures']} seizures")
    axes.legend(loc="lower right", fontsize=8, frameon=False)
    return finish_figure(fig, output_file, tight_layout=new)
