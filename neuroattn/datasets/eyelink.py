"""EyeLink ``.edf`` recordings: fixations and saccades from the tracker's own parser.

SR Research EyeLink trackers write binary ``.edf`` files (not to be confused
with the European Data Format of :mod:`neuroattn.datasets.edf`) holding the
samples and the events the on-line parser detected: fixations, saccades,
blinks and the experiment's messages. They are read with ``eyelinkio``
(``pip install neuroattn[gaze]``), which bundles SR Research's EDF API; the
import happens on first use.

What is taken, and how:

* **Times** are seconds on eyelinkio's recording clock: sample index /
  sampling rate, counted from the first sample. Gaps between recording
  blocks are *not* on this clock (consecutive blocks abut), so differences
  are exact within a block only.
* **Durations** follow SR Research's definition: an event's end time is its
  last sample, so ``duration = end - start + 1 / sfreq``. (eyelinkio's and
  MNE's annotations use ``end - start``, one sample shorter.)
* **Positions** are the parser's averages (fixations) and start/end points
  (saccades) in screen pixels. EyeLink's missing value (1e8) becomes NaN;
  fixations without a position are dropped, with a warning. Off-screen
  fixations are kept; ``on_screen`` flags them when the file's
  ``GAZE_COORDS`` message gives the screen.
* **Eyes**: a monocular file gives its eye. In a binocular file the parser
  reports each eye separately; ``eye="auto"`` keeps the eye with the smaller
  mean error in the last validation (the left eye when there is none),
  ``"left"``/``"right"`` pick one and ``"both"`` keeps both (an ``eye``
  column tells them apart; fixations are numbered per trial and eye).
* **Trials** run from each ``TRIALID`` message to the next ``TRIAL_RESULT``
  (or the next ``TRIALID``, or the end of the recording); events starting
  outside every trial are dropped. Without ``TRIALID`` messages the whole
  recording is one trial. With ``onset_message`` (e.g. ``"SYNCTIME"``,
  ``"STIM_ONSET"``), a trial starts at that message instead, so fixations on
  the pre-trial fixation target are dropped.
* **Saccades** are a second table (:attr:`EyeLinkRecording.saccades`); each
  fixation also carries its incoming saccade (the saccade of the same eye
  that ends one sample before the fixation starts): ``saccade_amplitude``
  (px), ``saccade_duration`` (s), ``saccade_peak_velocity`` (deg/s, as the
  tracker reports it) and ``saccade_blink`` (a blink happened during it, so
  its positions and velocity are not valid, as SR Research warns). The
  saccade may have begun in the previous trial's window. They are NaN when
  there is no such saccade (the first fixation of the recording, or after a
  gap in the parser's events).

The data set card is ``datasets/eyelink.md``.

Examples
--------
>>> from neuroattn.datasets.eyelink import eyelinkio_test_files, read_eyelink
>>> rec = read_eyelink(eyelinkio_test_files()["test_raw.edf"], subject="S1")
>>> rec.sfreq, rec.recorded_eye, rec.n_trials
(1000.0, 'left', 20)
>>> rec.fixations.trial_id.values[:4].tolist()  # trials 2, 4, 5, ... hold no fixation start
['1', '3', '6', '10']
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr

from neuroattn._docs import fill_doc
from neuroattn._logging import Verbose, logger, use_log_level
from neuroattn.datasets.prepare import check_destination
from neuroattn.errors import FormatError, InputNotFoundError, ParameterError
from neuroattn.store import fixations_from_table, write_store

EyeChoice = Literal["auto", "left", "right", "both"]
_INSTALL = "pip install neuroattn[gaze]"
_MISSING = 1e8 - 1  # EyeLink's MISSING_DATA in float event fields
_EYES = ("left", "right")


def _eyelinkio() -> Any:
    try:
        return importlib.import_module("eyelinkio")
    except ImportError as err:
        raise ImportError(
            f"Reading EyeLink .edf files needs eyelinkio: `{_INSTALL}` (or `pip install "
            f"eyelinkio`). ({err})") from err


def eyelinkio_test_files() -> dict[str, Path]:
    """The real EyeLink recordings shipped in the eyelinkio wheel, by file name.

    ``test_raw.edf`` and ``test_2_raw.edf`` (monocular, left eye, 1000 Hz)
    and ``test_raw_binocular.edf`` (both eyes, 500 Hz).

    Examples
    --------
    >>> sorted(eyelinkio_test_files())
    ['test_2_raw.edf', 'test_raw.edf', 'test_raw_binocular.edf']
    """
    from importlib.resources import files

    _eyelinkio()
    folder = files("eyelinkio") / "tests" / "data"
    return {p.name: Path(str(p)) for p in folder.iterdir() if p.name.endswith(".edf")}


class EyeLinkFormatError(FormatError):
    """An EyeLink ``.edf`` file that cannot be read, or whose header is not as documented."""


@dataclass(frozen=True, eq=False)
class EyeLinkRecording:
    """Fixations, saccades and messages of one EyeLink recording.

    Attributes
    ----------
    fixations : xarray.Dataset
        A ``fixations`` table (:mod:`neuroattn.store.schema`): ``subject``,
        ``image``, ``trial`` (0-based order), ``fixation`` (index within the
        trial and eye), ``x``, ``y`` (px), ``duration`` (s), plus ``eye``,
        ``trial_id`` (the text after ``TRIALID``), ``start``, ``end`` (s),
        ``trial_onset`` (s), ``on_screen`` (when the screen is known) and the
        incoming saccade's ``saccade_amplitude``, ``saccade_duration``,
        ``saccade_peak_velocity``, ``saccade_blink``.
    saccades : xarray.Dataset
        One row per saccade (dim ``row``): ``subject``, ``trial``,
        ``trial_id``, ``eye``, ``start``, ``end``, ``duration`` (s), ``x0``,
        ``y0``, ``x1``, ``y1`` (px, NaN if missing), ``amplitude`` (px),
        ``peak_velocity`` (deg/s), ``blink``.
    messages : list of (float, str)
        Every message, time in s on the recording clock.
    sfreq : float
        Sampling rate (Hz).
    recorded_eye : {"left", "right", "binocular"}
        What the file holds.
    eyes : tuple of str
        The eye(s) kept.
    screen : tuple of int or None
        Screen (width, height) in px from ``GAZE_COORDS``, if present.
    n_trials : int
        Trials found (some may hold no fixation).
    """

    fixations: xr.Dataset
    saccades: xr.Dataset
    messages: list[tuple[float, str]]
    sfreq: float
    recorded_eye: str
    eyes: tuple[str, ...]
    screen: tuple[int, int] | None
    n_trials: int


def _open(source: str | os.PathLike | Any) -> tuple[Any, Path]:
    """The eyelinkio ``EDF`` object and the file's path (its name for an ``EDF`` object)."""
    eyelinkio = _eyelinkio()
    if isinstance(source, eyelinkio.EDF):
        return source, Path(str(source["info"].get("filename", "recording.edf")))
    path = Path(source)
    if not path.is_file():
        raise InputNotFoundError(f"{path} does not exist; check the path to the .edf file.")
    try:
        return eyelinkio.read_edf(path), path
    except OSError as err:
        if "EDF api" in str(err):
            raise ImportError(f"eyelinkio cannot load SR Research's EDF API ({err}); "
                              f"reinstall it: `{_INSTALL}`.") from err
        raise EyeLinkFormatError(f"{path} cannot be read as an EyeLink .edf file ({err}). Is it a "
                                 "complete EyeLink recording (European Data Format files are read "
                                 "by `convert edf`)?") from err


def _events(edf: Any, kind: str, fields: Sequence[str]) -> dict[str, np.ndarray]:
    table = edf["discrete"].get(kind)
    if table is None:
        return {f: np.zeros(0) for f in fields}
    out = {}
    for f in fields:
        col = np.asarray(table[f], dtype=float).copy()
        col[col >= _MISSING] = np.nan
        out[f] = col
    return out


def _messages(edf: Any) -> list[tuple[float, str]]:
    table = edf["discrete"].get("messages")
    if table is None:
        return []
    return [(float(t), m.decode("ascii", "replace").strip())
            for t, m in zip(table["stime"], table["msg"], strict=True)]


def _starts_with(text: str, key: str) -> bool:
    return text == key or text.startswith(key + " ")


def _trials(messages: list[tuple[float, str]], t_end: float, trial_start: str,
            trial_end: str | None, onset_message: str | None
            ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Trial windows ``[begin, end)`` and ids from the messages."""
    starts = [(t, m[len(trial_start):].strip()) for t, m in messages
              if _starts_with(m, trial_start)]
    if not starts:
        logger.info("no %r messages: the whole recording is one trial", trial_start)
        starts = [(0.0, "")]
    begins = np.array([t for t, _ in starts])
    ids = [i for _, i in starts]
    limits = np.r_[begins[1:], t_end]
    ends = limits.copy()
    if trial_end:
        for t, m in messages:
            if _starts_with(m, trial_end):
                k = int(np.searchsorted(begins, t, side="right")) - 1
                if k >= 0 and t < ends[k]:
                    ends[k] = t
    if onset_message:
        onsets = np.full(len(begins), np.nan)
        for t, m in messages:
            if _starts_with(m, onset_message):
                k = int(np.searchsorted(begins, t, side="right")) - 1
                if k >= 0 and t < ends[k] and np.isnan(onsets[k]):
                    onsets[k] = t
        missing = np.isnan(onsets)
        if missing.any():
            logger.warning("%d trial(s) have no %r message; their events are dropped",
                           int(missing.sum()), onset_message)
            ends[missing] = begins[missing]  # empty window
            onsets[missing] = begins[missing]
        begins = onsets
    return begins, ends, ids


def _assign(start: np.ndarray, begins: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Trial index of each event by its start time; -1 outside every trial."""
    k = np.searchsorted(begins, start, side="right") - 1
    ok = (k >= 0) & (start < ends[np.clip(k, 0, None)])
    return np.where(ok, k, -1)


def _pick_eyes(edf: Any, eye: EyeChoice) -> tuple[str, tuple[str, ...]]:
    recorded = str(edf["info"].get("eye", "")).upper()
    if recorded.startswith("LEFT"):
        have: tuple[str, ...] = ("left",)
    elif recorded.startswith("RIGHT"):
        have = ("right",)
    elif recorded == "BINOCULAR":
        have = _EYES
    else:
        raise EyeLinkFormatError(f"Unknown eye {recorded!r} in the recording's info.")
    label = have[0] if len(have) == 1 else "binocular"
    if eye not in ("auto", "left", "right", "both"):
        raise ParameterError(f"eye={eye!r}; use 'auto', 'left', 'right' or 'both'.")
    if eye == "auto":
        if len(have) == 1:
            return label, have
        best = _best_validated_eye(edf["info"].get("calibrations") or [])
        logger.info("binocular recording: keeping the %s eye (%s)", best or "left",
                    "smaller validation error" if best else "no validation in the file")
        return label, (best or "left",)
    if eye == "both":
        return label, have
    if eye not in have:
        raise ParameterError(f"eye={eye!r}, but the recording holds only the {label} eye.")
    return label, (eye,)


def _best_validated_eye(calibrations: list[dict]) -> str | None:
    last: dict[str, float] = {}
    for cal in calibrations:  # in time order: later validations overwrite earlier ones
        offsets = np.asarray(cal["validation"]["offset"], dtype=float)
        if cal.get("eye") in _EYES and offsets.size:
            last[cal["eye"]] = float(np.nanmean(offsets))
    return min(last, key=last.__getitem__) if last else None


def _screen(messages: list[tuple[float, str]]) -> tuple[int, int] | None:
    for _, m in messages:
        if m.startswith("GAZE_COORDS"):
            try:
                left, top, right, bottom = (float(v) for v in m.split()[1:5])
            except ValueError:
                return None
            return round(right - left + 1), round(bottom - top + 1)
    return None


def _contains_blink(start: np.ndarray, end: np.ndarray, eyes: np.ndarray,
                    blinks: dict[str, np.ndarray]) -> np.ndarray:
    """Whether a blink of the same eye lies within each ``[start, end]``."""
    out = np.zeros(start.shape, bool)
    for code in (0, 1):
        sel = eyes == code
        b_sel = blinks["eye"] == code
        b_start, b_end = blinks["stime"][b_sel], blinks["etime"][b_sel]
        if not sel.any() or not b_start.size:
            continue
        order = np.argsort(b_start)
        b_start, b_end = b_start[order], b_end[order]
        k = np.searchsorted(b_start, start[sel], side="left")
        ok = k < b_start.size
        k = np.clip(k, 0, b_start.size - 1)
        out[sel] = ok & (b_end[k] <= end[sel])
    return out


@fill_doc
def read_eyelink(
    source: str | os.PathLike | Any,
    *,
    subject: str | None = None,
    image: str = "",
    eye: EyeChoice = "auto",
    trial_start: str = "TRIALID",
    trial_end: str | None = "TRIAL_RESULT",
    onset_message: str | None = None,
    verbose: Verbose = None,
) -> EyeLinkRecording:
    """Read the parser's fixations and saccades from an EyeLink ``.edf`` file.

    Parameters
    ----------
    source : path-like or eyelinkio.EDF
        An EyeLink recording (``.edf``), or the object ``eyelinkio.read_edf``
        returned for it (reading is the slow part: about 1 s per 100 s of
        1000 Hz samples, so reuse it to try several options).
    subject : str, optional
        Stored in the ``subject`` column; default the file name without suffix.
    image : str
        Stored in the ``image`` column (EyeLink files do not say which image
        a trial showed); default ``""`` (unknown).
    eye : {"auto", "left", "right", "both"}
        Which eye to keep from a binocular recording (see the module notes).
    trial_start, trial_end : str
        Messages that open and close a trial (EyeLink Data Viewer's
        ``TRIALID`` and ``TRIAL_RESULT``); ``trial_end=None`` makes trials run
        to the next ``trial_start``.
    onset_message : str, optional
        Time-lock each trial to the first such message in it (e.g.
        ``"SYNCTIME"``): earlier events are dropped, and so are trials without it.
    %(verbose)s

    Returns
    -------
    EyeLinkRecording

    Examples
    --------
    >>> from neuroattn.datasets.eyelink import eyelinkio_test_files
    >>> rec = read_eyelink(eyelinkio_test_files()["test_raw_binocular.edf"], eye="both")
    >>> rec.recorded_eye, rec.eyes, sorted(set(rec.fixations.eye.values))
    ('binocular', ('left', 'right'), ['left', 'right'])
    """
    with use_log_level(verbose):
        edf, path = _open(source)
        sfreq = float(edf["info"]["sfreq"])
        times = np.asarray(edf["times"], dtype=float)
        t_end = float(times[-1]) + 1.0 / sfreq if times.size else 0.0
        messages = _messages(edf)
        recorded, eyes = _pick_eyes(edf, eye)
        codes = [_EYES.index(e) for e in eyes]
        begins, ends, ids = _trials(messages, t_end, trial_start, trial_end, onset_message)
        screen = _screen(messages)
        subject = path.stem if subject is None else str(subject)
        fix = _events(edf, "fixations", ("eye", "stime", "etime", "axp", "ayp"))
        sac = _events(edf, "saccades", ("eye", "stime", "etime", "sxp", "syp", "exp", "eyp",
                                        "pv"))
        blinks = _events(edf, "blinks", ("eye", "stime", "etime"))

        sac.update(duration=sac["etime"] - sac["stime"] + 1.0 / sfreq,
                   amplitude=np.hypot(sac["exp"] - sac["sxp"], sac["eyp"] - sac["syp"]),
                   blink=_contains_blink(sac["stime"], sac["etime"], sac["eye"], blinks))
        saccades = _saccade_table(sac, codes, begins, ends, ids, subject, sfreq)
        fixations = _fixation_table(fix, sac, codes, begins, ends, ids, subject, image,
                                    sfreq, screen, path)
        logger.info("%s: %d fixations, %d saccades in %d trial(s), %s eye(s) at %g Hz",
                    path.name, fixations.sizes["row"], saccades.sizes["row"], len(ids),
                    "+".join(eyes), sfreq)
    return EyeLinkRecording(fixations, saccades, messages, sfreq, recorded, eyes, screen,
                            len(ids))


def _keep(events: dict[str, np.ndarray], codes: list[int], begins: np.ndarray,
          ends: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    trial = _assign(events["stime"], begins, ends)
    keep = np.isin(events["eye"], codes) & (trial >= 0)
    order = np.lexsort((events["stime"][keep], events["eye"][keep], trial[keep]))
    return {k: v[keep][order] for k, v in events.items()}, trial[keep][order]


def _saccade_table(sac: dict[str, np.ndarray], codes: list[int], begins: np.ndarray,
                   ends: np.ndarray, ids: list[str], subject: str, sfreq: float) -> xr.Dataset:
    s, trial = _keep(sac, codes, begins, ends)
    columns = {
        "subject": np.full(trial.size, subject, dtype=object),
        "trial": trial.astype(np.int64),
        "trial_id": np.array([ids[k] for k in trial], dtype=object),
        "eye": np.array([_EYES[int(e)] for e in s["eye"]], dtype=object),
        "start": s["stime"], "end": s["etime"], "duration": s["duration"],
        "x0": s["sxp"], "y0": s["syp"], "x1": s["exp"], "y1": s["eyp"],
        "amplitude": s["amplitude"], "peak_velocity": s["pv"], "blink": s["blink"],
    }
    return xr.Dataset({k: ("row", v) for k, v in columns.items()},
                      attrs={"units": "px", "sfreq": sfreq, "time_units": "s",
                             "velocity_units": "deg/s"})


def _incoming(fix_start: np.ndarray, fix_eye: np.ndarray, sac: dict[str, np.ndarray],
              sfreq: float) -> np.ndarray:
    """Index of the saccade (same eye) ending one sample before each fixation; -1 if none."""
    out = np.full(fix_start.shape, -1, dtype=np.int64)
    for code in (0, 1):
        sel = np.flatnonzero(fix_eye == code)
        rows = np.flatnonzero(sac["eye"] == code)
        if not sel.size or not rows.size:
            continue
        rows = rows[np.argsort(sac["etime"][rows])]
        ends = sac["etime"][rows]
        want = fix_start[sel] - 1.0 / sfreq
        k = np.clip(np.searchsorted(ends, want - 0.5 / sfreq), 0, rows.size - 1)
        hit = np.abs(ends[k] - want) <= 0.5 / sfreq
        out[sel[hit]] = rows[k[hit]]
    return out


def _fixation_table(fix: dict[str, np.ndarray], sac: dict[str, np.ndarray], codes: list[int],
                    begins: np.ndarray, ends: np.ndarray, ids: list[str], subject: str,
                    image: str, sfreq: float, screen: tuple[int, int] | None,
                    path: Path) -> xr.Dataset:
    f, trial = _keep(fix, codes, begins, ends)
    lost = ~(np.isfinite(f["axp"]) & np.isfinite(f["ayp"]))
    if lost.any():
        logger.warning("%s: dropping %d fixation(s) without a position", path.name,
                       int(lost.sum()))
        f, trial = {k: v[~lost] for k, v in f.items()}, trial[~lost]
    if not trial.size:
        raise ParameterError(f"{path}: no fixation of the {'/'.join(_EYES[c] for c in codes)} "
                             "eye falls inside a trial; check trial_start/trial_end/onset_message "
                             f"(messages are matched by their first word, e.g. 'TRIALID').")
    group = trial * 2 + f["eye"].astype(np.int64)
    first = np.r_[True, group[1:] != group[:-1]]
    run_start = np.flatnonzero(first)
    fixation = np.arange(trial.size) - np.repeat(run_start, np.diff(np.r_[run_start,
                                                                          trial.size]))
    row = _incoming(f["stime"], f["eye"], sac, sfreq)
    has = row >= 0

    def from_saccade(name: str, fill: Any) -> np.ndarray:
        values = sac[name]
        out = np.full(trial.size, fill, dtype=values.dtype)
        out[has] = values[row[has]]
        return out

    table: dict[str, Any] = {
        "subject": np.full(trial.size, subject, dtype=object),
        "image": np.full(trial.size, image, dtype=object),
        "trial": trial, "fixation": fixation, "x": f["axp"], "y": f["ayp"],
        "duration": f["etime"] - f["stime"] + 1 / sfreq,
        "eye": np.array([_EYES[int(e)] for e in f["eye"]], dtype=object),
        "trial_id": np.array([ids[k] for k in trial], dtype=object),
        "start": f["stime"], "end": f["etime"], "trial_onset": begins[trial],
        "saccade_amplitude": from_saccade("amplitude", np.nan),
        "saccade_duration": from_saccade("duration", np.nan),
        "saccade_peak_velocity": from_saccade("pv", np.nan),
        "saccade_blink": from_saccade("blink", False),
    }
    attrs: dict[str, Any] = {"sfreq": sfreq, "source_file": path.name, "dataset": "EyeLink",
                             "eyes": list(sorted({_EYES[c] for c in codes}))}
    if screen is not None:
        table["on_screen"] = ((f["axp"] >= 0) & (f["axp"] < screen[0])
                              & (f["ayp"] >= 0) & (f["ayp"] < screen[1]))
        attrs.update(screen_width=screen[0], screen_height=screen[1])
    return fixations_from_table(table, units="px", **attrs)


def convert_eyelink(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    subject: str | None = None,
    image: str = "",
    eye: EyeChoice = "auto",
    trial_start: str = "TRIALID",
    trial_end: str | None = "TRIAL_RESULT",
    onset_message: str | None = None,
    overwrite: bool = False,
    verbose: Verbose = None,
) -> Path:
    """Convert an EyeLink ``.edf`` recording into a fixations store.

    The store holds the fixation table of :func:`read_eyelink`, each row with
    its incoming saccade's amplitude, duration, peak velocity and blink flag;
    the full saccade table stays available from :func:`read_eyelink`.
    ``python -m neuroattn convert eyelink SRC DST`` calls this.

    Examples
    --------
    >>> import tempfile
    >>> from neuroattn.store import open_store
    >>> from neuroattn.datasets.eyelink import eyelinkio_test_files
    >>> src = eyelinkio_test_files()["test_raw.edf"]
    >>> ds = open_store(convert_eyelink(src, tempfile.mkdtemp() + "/s.zarr", subject="P7"))
    >>> str(ds.subject.values[0]), ds.attrs["sfreq"]
    ('P7', 1000.0)
    """
    with use_log_level(verbose):
        dst = check_destination(dst, overwrite, src)
        rec = read_eyelink(src, subject=subject, image=image, eye=eye, trial_start=trial_start,
                           trial_end=trial_end, onset_message=onset_message)
        return write_store(rec.fixations, dst, kind="fixations", overwrite=overwrite)
