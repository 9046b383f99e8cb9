"""The converter registry: one name per input format, one call to convert.

Every converter takes ``(src, dst, **options)``, writes a store and returns
its path. The iEEG converters (``swec``, ``edf``, ``bids``) share the options
``sfreq`` (resample to this rate), ``max_channels``, ``channels`` and
``overwrite``; others are per format (``subject``, ``session``, ``task``,
``run``, ``acquisition`` for BIDS). ``algonauts`` writes an fMRI store and
takes ``subject``, ``split``, ``hemi``, ``trust_mapping`` and ``overwrite``.
``cocosearch18`` (COCO-Search18 fixation JSON) and ``eyelink`` (EyeLink
``.edf`` recordings) write fixations stores; ``eyelink`` takes ``subject``,
``image``, ``eye``, ``trial_start``, ``trial_end`` and ``onset_message``.
``python -m neuroattn convert <name> SRC DST`` calls :func:`convert`.

Examples
--------
>>> from neuroattn.datasets.convert import CONVERTERS, converter_options
>>> sorted(CONVERTERS)
['algonauts', 'bids', 'cocosearch18', 'edf', 'eyelink', 'swec']
>>> "session" in converter_options("bids"), "session" in converter_options("swec")
(True, False)
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from neuroattn._docs import fill_doc
from neuroattn.datasets.bids import convert_bids_ieeg
from neuroattn.datasets.cocosearch18 import convert_cocosearch18
from neuroattn.datasets.edf import convert_edf
from neuroattn.datasets.eyelink import convert_eyelink
from neuroattn.datasets.nsd import convert_algonauts
from neuroattn.datasets.swec import convert_swec
from neuroattn.errors import ParameterError

#: Converter per input format: ``swec`` (SWEC iEEG HDF5), ``edf`` (EDF/BDF and
#: anything MNE reads), ``bids`` (a BIDS iEEG data set root), ``algonauts``
#: (one subject of the Algonauts 2023 / NSD challenge data, into an fMRI store),
#: ``cocosearch18`` and ``eyelink`` (fixations stores).
CONVERTERS: dict[str, Callable[..., Path]] = {
    "swec": convert_swec,
    "edf": convert_edf,
    "bids": convert_bids_ieeg,
    "algonauts": convert_algonauts,
    "cocosearch18": convert_cocosearch18,
    "eyelink": convert_eyelink,
}


def _get(name: str) -> Callable[..., Path]:
    try:
        return CONVERTERS[name]
    except KeyError:
        raise ParameterError(f"Unknown converter {name!r}; use one of "
                             f"{sorted(CONVERTERS)}.") from None


def converter_options(name: str) -> list[str]:
    """The keyword options the converter ``name`` accepts."""
    params = inspect.signature(_get(name)).parameters.values()
    return [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]


@fill_doc
def convert(name: str, src: str | os.PathLike, dst: str | os.PathLike, **options: Any) -> Path:
    """Convert ``src`` into the store ``dst`` with the converter ``name``.

    Parameters
    ----------
    name : {"swec", "edf", "bids", "algonauts", "cocosearch18", "eyelink"}
        The input format (see :data:`CONVERTERS`).
    src : path-like
        The input file (``swec``, ``edf``, ``eyelink``), BIDS root (``bids``),
        the folder holding ``subjXX/`` (``algonauts``), or a COCO-Search18
        JSON file or folder of them (``cocosearch18``).
    dst : path-like
        The store to write.
    **options
        Passed to the converter; unknown ones raise an error that lists the
        accepted ones.

    %(returns_dst)s

    Examples
    --------
    >>> convert("swec", "ID01_total.h5", "out.zarr", session="1")
    Traceback (most recent call last):
    ...
    neuroattn.errors.ParameterError: The 'swec' converter has no option 'session'; it accepts ...
    """
    func = _get(name)
    accepted = converter_options(name)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ParameterError(
            f"The {name!r} converter has no option {', '.join(map(repr, unknown))}; it "
            f"accepts {', '.join(accepted)}.")
    return func(src, dst, **options)
