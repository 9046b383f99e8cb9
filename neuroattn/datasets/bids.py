"""One recording of a BIDS iEEG data set into an iEEG store, via ``mne_bids``.

The recording is found by its BIDS entities (subject, and session, task, run,
acquisition where more than one recording matches), read with
:func:`mne_bids.read_raw_bids` (which applies ``channels.tsv``,
``electrodes.tsv`` and ``events.tsv``), and streamed into a store with
:func:`neuroattn.datasets.edf.raw_to_store`. Kept: channel types from
``channels.tsv`` (non-data channels such as ECG, EMG, TRIG and MISC are
dropped), bad status, electrode positions where ``electrodes.tsv`` has them,
and events as annotations; the BIDS entities go to the attrs.

mne_bids reads a recording whose ``channels.tsv`` is missing or garbled
without it, so every EDF channel becomes ``eeg`` and no channel is bad. The
converter therefore checks the sidecars first (:func:`check_sidecars`) and
warns, naming the file, with a
:class:`~neuroattn.datasets.prepare.ConversionWarning`; mne_bids' own
warnings are passed on the same way, and a truncated EDF is refused as in
:func:`~neuroattn.datasets.edf.convert_edf`.

The data set card is ``datasets/bids-ieeg.md``.

Examples
--------
>>> import tempfile, mne, mne_bids
>>> from neuroattn.datasets import make_synthetic_ieeg
>>> from neuroattn.datasets.bids import convert_bids_ieeg
>>> tmp = tempfile.mkdtemp()
>>> rec = make_synthetic_ieeg(n_channels=4, duration_s=60.0, sfreq=128.0, n_seizures=1)
>>> raw = mne.io.read_raw_edf(rec.to_edf(tmp + "/r.edf"), verbose=False)
>>> raw.set_channel_types(dict.fromkeys(raw.ch_names, "seeg"))  # doctest: +ELLIPSIS
<RawEDF ...>
>>> bids_path = mne_bids.BIDSPath(subject="01", task="rest", root=tmp + "/bids")
>>> _ = mne_bids.write_raw_bids(raw, bids_path, verbose=False)
>>> from neuroattn.store import open_store
>>> ds = open_store(convert_bids_ieeg(tmp + "/bids", tmp + "/sub-01.zarr", subject="01"))
>>> ds.signal.shape, ds.attrs["subject"], ds.attrs["task"]
((7680, 4), '01', 'rest')
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from neuroattn._docs import fill_doc
from neuroattn._logging import Verbose, logger, use_log_level
from neuroattn.datasets.edf import (
    MNE_SIZE_MISMATCH,
    SEIZURE_PREFIXES,
    check_complete,
    collect_mne_warnings,
    raw_to_store,
    surface_mne_warnings,
)
from neuroattn.datasets.prepare import check_destination, warn_conversion
from neuroattn.errors import FormatError, InputNotFoundError, ParameterError

#: Extensions of iEEG data files allowed by BIDS.
IEEG_EXTENSIONS = (".edf", ".vhdr", ".set", ".nwb", ".mefd")
#: The tabular sidecars read with a recording: the columns each needs, those of
#: them that hold numbers (or ``n/a``), and what the store loses without it.
SIDECARS: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "channels": (("name", "type"), (), "channel types (EDF channels are read as 'eeg', not "
                 "'seeg' or 'ecog') and bad flags"),
    "electrodes": (("name", "x", "y", "z"), ("x", "y", "z"), "electrode positions"),
    "events": (("onset", "duration"), ("onset", "duration"),
               "events (seizure annotations among them)"),
}


class BIDSFormatError(FormatError):
    """A BIDS recording or sidecar that mne_bids cannot read."""


def _entity(value: Any, prefix: str) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text[len(prefix):] if text.startswith(prefix) else text


def find_bids_ieeg(
    bids_root: str | os.PathLike,
    *,
    subject: str,
    session: str | None = None,
    task: str | None = None,
    run: str | int | None = None,
    acquisition: str | None = None,
) -> Any:
    """The one iEEG recording of a BIDS data set that matches the given entities.

    Parameters
    ----------
    bids_root : path-like
        The folder with ``dataset_description.json`` and ``sub-*`` folders.
    subject, session, task, run, acquisition
        BIDS entities, with or without their ``sub-``/``ses-``... prefix;
        ``None`` matches any value.

    Returns
    -------
    mne_bids.BIDSPath
        The path of the data file.

    Raises
    ------
    ValueError
        No recording, or more than one, matches (the message lists them).

    Examples
    --------
    >>> import tempfile
    >>> find_bids_ieeg(tempfile.mkdtemp(), subject="01")
    Traceback (most recent call last):
    ...
    neuroattn.datasets.bids.BIDSFormatError: ... has no subject folders (sub-*): it is not a ...
    """
    from mne_bids import find_matching_paths

    root = Path(bids_root)
    if not root.is_dir():
        raise InputNotFoundError(f"{root} is not a directory; pass the root of a BIDS data set.")
    subjects = sorted(p.name[4:] for p in root.glob("sub-*") if p.is_dir())
    if not subjects:
        raise BIDSFormatError(f"{root} has no subject folders (sub-*): it is not a BIDS data set "
                              "root. Pass the folder that holds dataset_description.json.")
    entities = {"subject": _entity(subject, "sub-"), "session": _entity(session, "ses-"),
                "task": _entity(task, "task-"), "run": _entity(run, "run-"),
                "acquisition": _entity(acquisition, "acq-")}
    if entities["subject"] not in subjects:
        raise ParameterError(f"Subject {entities['subject']!r} is not in {root}; it has "
                             f"{subjects[:12]}{' ...' if len(subjects) > 12 else ''}.")
    found = find_matching_paths(
        root, subjects=entities["subject"], sessions=entities["session"],
        tasks=entities["task"], runs=entities["run"], acquisitions=entities["acquisition"],
        datatypes="ieeg", suffixes="ieeg", extensions=list(IEEG_EXTENSIONS))
    given = ", ".join(f"{k}={v!r}" for k, v in entities.items() if v is not None)
    if not found:
        everything = find_matching_paths(root, subjects=entities["subject"], datatypes="ieeg",
                                         suffixes="ieeg", extensions=list(IEEG_EXTENSIONS))
        listing = [p.basename for p in everything][:8]
        raise ParameterError(f"No iEEG recording in {root} matches {given}. The subject's iEEG "
                             f"recordings: {listing or 'none'}.")
    if len(found) > 1:
        raise ParameterError(
            f"{len(found)} iEEG recordings match {given}: {[p.basename for p in found][:8]}. "
            "Pass session=, task=, run= or acquisition= (CLI: --session, --task, --run, "
            "--acquisition) to pick one.")
    return found[0]


def tsv_problem(path: str | os.PathLike, columns: Sequence[str],
                numeric: Sequence[str] = ()) -> str | None:
    """What makes a BIDS ``.tsv`` sidecar unreadable, or None when it reads.

    Parameters
    ----------
    path : path-like
        The sidecar.
    columns : sequence of str
        Columns its header must have.
    numeric : sequence of str
        Columns whose values must be numbers or ``n/a``.

    Returns
    -------
    str or None
        The problem, worded to follow "the file ...".

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> tsv = Path(tempfile.mkdtemp()) / "sub-01_channels.tsv"
    >>> _ = tsv.write_text("name\\ttype\\nLA1\\tSEEG\\nLA2\\n")
    >>> tsv_problem(tsv, ["name", "type"])
    'has 1 field(s) on line 3 for 2 columns'
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        return f"cannot be read as UTF-8 text ({type(err).__name__}: {err})"
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return "is empty"
    header = lines[0].split("\t")
    missing = [c for c in columns if c not in header]
    if missing:
        return f"has no column(s) {missing} in its header {lines[0][:60]!r}"
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != len(header):
            return f"has {len(fields)} field(s) on line {number} for {len(header)} columns"
        for column in numeric:
            value = fields[header.index(column)]
            if value != "n/a" and not _is_number(value):
                return f"has {column}={value!r} on line {number}, not a number or n/a"
    return None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_sidecars(bids_path: Any) -> dict[str, str]:
    """Check the tabular sidecars of a recording; warn for a missing or unreadable one.

    A missing or unreadable ``channels.tsv``, and an unreadable
    ``electrodes.tsv`` or ``events.tsv``, give a
    :class:`~neuroattn.datasets.prepare.ConversionWarning` that names the file
    and what the store loses. A missing ``electrodes.tsv`` or ``events.tsv``
    (many recordings have none) is only logged.

    Parameters
    ----------
    bids_path : mne_bids.BIDSPath
        The recording (from :func:`find_bids_ieeg`).

    Returns
    -------
    dict
        Sidecar suffix -> the problem, for each one reported.
    """
    problems: dict[str, str] = {}
    for suffix, (columns, numeric, lost) in SIDECARS.items():
        sidecar = bids_path.find_matching_sidecar(suffix=suffix, extension=".tsv",
                                                  on_error="ignore")
        if sidecar is None:
            if suffix == "channels":
                problems[suffix] = "no channels.tsv"
                warn_conversion(
                    f"{bids_path.fpath}: no *_channels.tsv sidecar belongs to it, so the store "
                    f"lacks its {lost}; add "
                    f"{bids_path.copy().update(suffix='channels', extension='.tsv').basename} "
                    "(columns name, type, units, status) next to it.", stacklevel=4)
            else:
                logger.info("%s: no *_%s.tsv sidecar; the store has no %s.", bids_path.fpath,
                            suffix, lost)
            continue
        problem = tsv_problem(sidecar, columns, numeric)
        if problem is not None:
            problems[suffix] = f"{sidecar} {problem}"
            warn_conversion(
                f"{sidecar} {problem}: it is not a readable BIDS {suffix} table, so mne_bids "
                f"skips or rejects it and the store lacks its {lost}; repair it (tab-separated, "
                f"a header with the columns {list(columns)}, one field per column).",
                stacklevel=4)
    return problems


@fill_doc
def convert_bids_ieeg(
    bids_root: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    subject: str,
    session: str | None = None,
    task: str | None = None,
    run: str | int | None = None,
    acquisition: str | None = None,
    sfreq: float | None = None,
    max_channels: int | None = None,
    channels: Sequence[str] | None = None,
    seizure_prefix: str | Sequence[str] = SEIZURE_PREFIXES,
    allow_truncated: bool = False,
    overwrite: bool = False,
    verbose: Verbose = None,
) -> Path:
    """Convert one recording of a BIDS iEEG data set into an iEEG store.

    Parameters
    ----------
    bids_root : path-like
        Root of the BIDS data set.
    dst : path-like
        The store to write (``.zarr``).
    subject : str
        BIDS subject label (``"01"`` or ``"sub-01"``).
    session, task, run, acquisition : str, optional
        Further entities, needed only when several recordings match.
    sfreq : float, optional
        Resample to this rate in Hz (anti-aliased, streamed).
    max_channels : int, optional
        Keep at most this many channels: bad ones are dropped, then the first
        ``max_channels`` kept.
    channels : sequence of str, optional
        Keep only these channels.
    seizure_prefix : str or sequence of str
        Event types (``trial_type``) starting with one of these mark seizures.
    allow_truncated : bool
        Convert an EDF that ends before the duration its header declares (with
        a warning; see :func:`~neuroattn.datasets.edf.convert_edf`).
    %(overwrite_store)s
    %(verbose)s

    %(returns_dst)s

    Raises
    ------
    BIDSFormatError
        mne_bids cannot read the recording or one of its sidecars.
    TruncatedRecordingError
        The EDF is shorter than its header declares (see ``allow_truncated``).

    Examples
    --------
    >>> import tempfile
    >>> convert_bids_ieeg(tempfile.mkdtemp(), "x.zarr", subject="01")
    Traceback (most recent call last):
    ...
    neuroattn.datasets.bids.BIDSFormatError: ... is not a BIDS data set root...
    """
    with use_log_level(verbose):
        check_destination(dst, overwrite, bids_root)
        bids_path = find_bids_ieeg(bids_root, subject=subject, session=session, task=task,
                                   run=run, acquisition=acquisition)
        logger.info("reading %s", bids_path.fpath)
        problems = check_sidecars(bids_path)
        raw, texts = _read_raw_bids(bids_path, problems)
        extra = check_complete(raw, bids_path.fpath, allow_truncated=allow_truncated)
        skip = [MNE_SIZE_MISMATCH] if extra else []
        if "channels" in problems:
            skip.append("channels.tsv")  # reported by check_sidecars, with the fix
        surface_mne_warnings(texts, bids_path.fpath, skip=skip)
        entities = {"subject": bids_path.subject, "session": bids_path.session,
                    "task": bids_path.task, "run": bids_path.run,
                    "acquisition": bids_path.acquisition}
        return raw_to_store(raw, dst, ch_type=None, sfreq=sfreq, max_channels=max_channels,
                            channels=channels, seizure_prefix=seizure_prefix,
                            overwrite=overwrite, bids_basename=bids_path.basename,
                            **entities, **extra)


def _read_raw_bids(bids_path: Any, problems: dict[str, str]) -> tuple[Any, list[str]]:
    """``mne_bids.read_raw_bids``, with the warnings MNE gave."""
    from mne_bids import read_raw_bids

    with collect_mne_warnings() as texts:
        try:
            raw = read_raw_bids(bids_path, verbose="warning")
        except (ValueError, RuntimeError, OSError, KeyError) as err:
            culprits = "; ".join(problems.values())
            raise BIDSFormatError(
                f"mne_bids cannot read {bids_path.fpath} ({type(err).__name__}: {err})"
                + (f"; its sidecars: {culprits}" if culprits else "")
                + "; repair the files named (check the data set with the BIDS validator)."
            ) from err
    return raw, texts
