"""One recording of a BIDS iEEG data set into an iEEG store, via ``mne_bids``.

The recording is found by its BIDS entities (subject, and session, task, run,
acquisition where more than one recording matches), read with
:func:`mne_bids.read_raw_bids` (which applies ``channels.tsv``,
``electrodes.tsv`` and ``events.tsv``), and streamed into a store with
:func:`neuroattn.datasets.edf.raw_to_store`. Kept: channel types from
``channels.tsv`` (non-data channels such as ECG, EMG, TRIG and MISC are
dropped), bad status, electrode positions where ``electrodes.tsv`` has them,
and events as annotations; the BIDS entities go to the attrs.

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

from neuroattn._logging import Verbose, logger, use_log_level
from neuroattn.datasets.edf import SEIZURE_PREFIXES, raw_to_store
from neuroattn.datasets.prepare import _check_destination

#: Extensions of iEEG data files allowed by BIDS.
IEEG_EXTENSIONS = (".edf", ".vhdr", ".set", ".nwb", ".mefd")


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
    ValueError: ... has no subject folders (sub-*): it is not a BIDS data set...
    """
    from mne_bids import find_matching_paths

    root = Path(bids_root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a directory; pass the root of a BIDS data set.")
    subjects = sorted(p.name[4:] for p in root.glob("sub-*") if p.is_dir())
    if not subjects:
        raise ValueError(f"{root} has no subject folders (sub-*): it is not a BIDS data set "
                         "root. Pass the folder that holds dataset_description.json.")
    entities = {"subject": _entity(subject, "sub-"), "session": _entity(session, "ses-"),
                "task": _entity(task, "task-"), "run": _entity(run, "run-"),
                "acquisition": _entity(acquisition, "acq-")}
    if entities["subject"] not in subjects:
        raise ValueError(f"Subject {entities['subject']!r} is not in {root}; it has "
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
        raise ValueError(f"No iEEG recording in {root} matches {given}. The subject's iEEG "
                         f"recordings: {listing or 'none'}.")
    if len(found) > 1:
        raise ValueError(
            f"{len(found)} iEEG recordings match {given}: {[p.basename for p in found][:8]}. "
            "Pass session=, task=, run= or acquisition= (CLI: --session, --task, --run, "
            "--acquisition) to pick one.")
    return found[0]


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
    overwrite : bool
        Replace an existing store.
    verbose : bool, str, int or None
        Log level for this call.

    Returns
    -------
    pathlib.Path
        ``dst``.

    Examples
    --------
    >>> import tempfile
    >>> convert_bids_ieeg(tempfile.mkdtemp(), "x.zarr", subject="01")
    Traceback (most recent call last):
    ...
    ValueError: ... is not a BIDS data set root...
    """
    from mne_bids import read_raw_bids

    with use_log_level(verbose):
        _check_destination(dst, overwrite, bids_root)
        bids_path = find_bids_ieeg(bids_root, subject=subject, session=session, task=task,
                                   run=run, acquisition=acquisition)
        logger.info("reading %s", bids_path.fpath)
        try:
            raw = read_raw_bids(bids_path, verbose="error")
        except (ValueError, RuntimeError, OSError, KeyError) as err:
            raise ValueError(f"mne_bids cannot read {bids_path.fpath} ({type(err).__name__}: "
                             f"{err}). Check it with the BIDS validator.") from err
        entities = {"subject": bids_path.subject, "session": bids_path.session,
                    "task": bids_path.task, "run": bids_path.run,
                    "acquisition": bids_path.acquisition}
        return raw_to_store(raw, dst, ch_type=None, sfreq=sfreq, max_channels=max_channels,
                            channels=channels, seizure_prefix=seizure_prefix,
                            overwrite=overwrite, bids_basename=bids_path.basename, **entities)
