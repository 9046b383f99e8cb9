"""Stacked iEEG traces with seizure annotations shaded.

Examples
--------
>>> import numpy as np
>>> from neuroattn.store import ieeg_from_array
>>> from neuroattn.plotting import plot_ieeg
>>> ds = ieeg_from_array(np.random.default_rng(0).standard_normal((1000, 3)), sfreq=100.0,
...                      annotations={"onset": [4.0], "duration": [2.0],
...                                   "description": ["seizure"]})
>>> fig = plot_ieeg(ds)
>>> len(fig.axes[0].lines)
3
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from neuroattn._docs import fill_doc
from neuroattn.errors import ParameterError
from neuroattn.plotting.figure import figure_and_axes, finish_figure
from neuroattn.store.build import seizure_intervals


@fill_doc
def plot_ieeg(
    ds: xr.Dataset,
    *,
    start_s: float | None = None,
    duration_s: float = 30.0,
    channels: Sequence[str] | None = None,
    max_channels: int = 32,
    axes: Any = None,
    output_file: str | os.PathLike | None = None,
    title: str | None = None,
) -> Any:
    """Plot channels as stacked traces, seizures shaded red and other annotations grey.

    Parameters
    ----------
    ds : xarray.Dataset
        An iEEG dataset or opened store.
    start_s : float, optional
        Start of the view in seconds; by default a few seconds before the first
        seizure (or the start of the recording when there is none).
    duration_s : float
        Length of the view.
    channels : sequence of str, optional
        Channels to draw; by default the first ``max_channels``.
    %(axes)s
    %(output_file)s

    %(returns_figure)s
    """


    if "signal" not in ds:
        raise ParameterError("plot_ieeg needs an iEEG dataset (a 'signal' variable).")
    sfreq = float(ds.attrs["sfreq"])
    annotations = ds.attrs.get("annotations") or {}
    seizures = seizure_intervals(annotations)
    t0 = float(ds.time[0])
    if start_s is None:
        start_s = max(t0, seizures[0, 0] - duration_s / 4) if len(seizures) else t0
    names = [str(c) for c in ds.channel.values]
    picked = list(channels) if channels is not None else names[:max_channels]
    missing = sorted(set(picked) - set(names))
    if missing:
        raise ParameterError(f"Channels {missing} are not in the dataset.")
    i0 = int(round((start_s - t0) * sfreq))
    view = ds.signal.isel(time=slice(max(i0, 0), max(i0, 0) + int(duration_s * sfreq)))
    view = view.sel(channel=picked)
    data = np.asarray(view.values, dtype=float)
    if data.size == 0:
        raise ParameterError(f"start_s={start_s} is past the end of the recording.")
    times = np.asarray(view.time.values)
    scale = np.median(np.abs(data - np.median(data, axis=0))) * 12 or 1.0
    new = axes is None
    fig, axes = figure_and_axes(axes, figsize=(11, 0.3 * len(picked) + 1.5))
    for row in range(len(picked)):
        axes.plot(times, -data[:, row] / scale + row, lw=0.5, color="k")
    for onset, duration, desc in zip(annotations.get("onset", []),
                                     annotations.get("duration", []),
                                     annotations.get("description", []), strict=True):
        is_seizure = str(desc).lower().startswith("seizure")
        if onset + duration < times[0] or onset > times[-1]:
            continue
        if duration > 0:
            axes.axvspan(onset, onset + duration, color="tab:red" if is_seizure else "0.6",
                         alpha=0.15 if is_seizure else 0.25, lw=0)
        else:
            axes.axvline(onset, color="0.6", lw=0.8)
    axes.set_yticks(range(len(picked)), picked, fontsize=7)
    axes.set_ylim(len(picked) - 0.5, -1)
    axes.set_xlim(times[0], times[-1])
    axes.set_xlabel("time (s)")
    axes.set_title(title or f"{ds.attrs.get('subject', 'recording')}: seizures shaded red")
    return finish_figure(fig, output_file, tight_layout=new)
