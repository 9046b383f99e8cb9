"""``python -m neuroattn <command>``: workbench utilities.

Commands
--------
sys-info     print versions, CUDA and the device that would be used
synth ieeg   write a synthetic iEEG recording with seizure ground truth
convert      convert a recording (SWEC HDF5, EDF/BDF, BIDS iEEG) into an iEEG store, or an
             Algonauts 2023 / NSD subject into an fMRI store

Examples
--------
>>> from neuroattn.__main__ import build_parser
>>> build_parser().parse_args(["synth", "ieeg", "--channels", "8"]).channels
8
>>> build_parser().parse_args(["convert", "edf", "a.edf", "a.zarr", "--sfreq", "512"]).sfreq
512.0

An expected failure (a neuroattn error, a bad path or value, a missing
optional package) prints one line ``error: ...`` on stderr and exits with
status 2; ``-v`` shows its traceback instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from neuroattn.errors import DestinationExistsError, NeuroattnError, ParameterError

#: The failures the commands report on one line, with exit status 2 (OSError:
#: missing or existing paths; ImportError: a missing optional package).
ERRORS = (NeuroattnError, ValueError, OSError, ImportError)

EPILOG = """examples:
  python -m neuroattn sys-info
  python -m neuroattn synth ieeg                       # synthetic_ieeg.zarr + .png, 16 ch, 4 min
  python -m neuroattn synth ieeg --out rec.edf --channels 64 --duration 1200 --sfreq 512
  python -m neuroattn synth ieeg --amplitude 2.5 --seed 3   # a harder recording
  python -m neuroattn convert swec ID07/ID07_total.h5 ID07.zarr --sfreq 512
  python -m neuroattn convert bids /data/bids_root sub-01.zarr --subject 01 --run 1
  python -m neuroattn convert algonauts /data/algonauts_2023_challenge_data subj01.zarr --subject 1
"""

CONVERT_EPILOG = """examples:
  python -m neuroattn convert swec ID07/ID07_total.h5 ID07.zarr            # needs hdf5plugin
  python -m neuroattn convert swec ID07/ID07_total.h5 ID07.zarr --sfreq 512 --max-channels 128
  python -m neuroattn convert edf rec.edf rec.zarr --sfreq 256 --ch-type ecog
  python -m neuroattn convert edf rec.bdf rec.zarr --channels LA1,LA2,LA3 --subject P01
  python -m neuroattn convert edf cut.edf cut.zarr --allow-truncated  # keep what a cut file holds
  python -m neuroattn convert bids /data/bids_root sub-01.zarr --subject 01 --task ictal --run 1
  python -m neuroattn convert algonauts /data/algonauts_2023_challenge_data subj01.zarr --subject 1
  python -m neuroattn convert algonauts /data/algonauts_2023_challenge_data subj01_test.zarr \
      --subject 1 --split test                            # needs the post-challenge test_fmri
  python -m neuroattn convert cocosearch18 /data/coco_search18_fixations/ cocosearch18.zarr
  python -m neuroattn convert eyelink sub01.edf sub01_fixations.zarr --subject sub01

Bad channels are kept with their flag unless --max-channels or --channels is given (then they
are dropped). Annotations keep their times in seconds. Cards: datasets/*.md.
"""


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    pass


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m neuroattn``."""
    parser = argparse.ArgumentParser(prog="python -m neuroattn", description=__doc__.split(
        "\n\n")[0], epilog=EPILOG, formatter_class=_Formatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("sys-info", help="print versions, CUDA and the device that would be used",
                   formatter_class=_Formatter)
    synth = sub.add_parser("synth", help="write synthetic data with ground truth",
                           formatter_class=_Formatter, epilog=EPILOG)
    synth_sub = synth.add_subparsers(dest="modality", required=True, metavar="MODALITY")
    ieeg = synth_sub.add_parser("ieeg", help="iEEG with seizure-like events and decoys",
                                formatter_class=_Formatter, epilog=EPILOG)
    ieeg.add_argument("--out", default="synthetic_ieeg.zarr",
                      help="output: a .zarr store, an .edf file or a .fif file")
    ieeg.add_argument("--channels", type=int, default=16, help="number of contacts")
    ieeg.add_argument("--duration", type=float, default=240.0, help="length in seconds")
    ieeg.add_argument("--sfreq", type=float, default=256.0, help="sampling rate in Hz")
    ieeg.add_argument("--seizures", type=int, default=2, help="number of seizure events")
    ieeg.add_argument("--amplitude", type=float, default=4.0,
                      help="seizure amplitude in units of background RMS (the difficulty)")
    ieeg.add_argument("--seed", type=int, default=0, help="random seed")
    ieeg.add_argument("--figure", default="auto",
                      help="PNG of the first seizure: 'auto' = next to --out, or a path, or 'none'")
    ieeg.add_argument("--overwrite", action="store_true", help="replace an existing output")
    _add_convert(sub)
    return parser


def _add_convert(sub: argparse._SubParsersAction) -> None:
    conv = sub.add_parser("convert", help="convert a recording or data set into a store",
                          description="Convert a recording into an iEEG store, an Algonauts "
                          "2023 / NSD subject into an fMRI store, or eye-tracking fixations "
                          "(COCO-Search18, EyeLink) into a fixations store (zarr).",
                          formatter_class=_Formatter, epilog=CONVERT_EPILOG)
    conv.add_argument("name", choices=["swec", "edf", "bids", "algonauts", "cocosearch18",
                                       "eyelink"],
                      help="input format: swec (SWEC iEEG .h5), edf (EDF/BDF or anything MNE "
                      "reads), bids (a BIDS data set root), algonauts (Algonauts 2023 / NSD "
                      "challenge data), cocosearch18 (COCO-Search18 fixation JSON, a file or a "
                      "folder), eyelink (an EyeLink .edf recording; needs eyelinkio)")
    conv.add_argument("src", metavar="SRC", help="input file, the BIDS root for bids, or the "
                      "folder holding subjXX/ for algonauts")
    conv.add_argument("dst", metavar="DST", help="the store to write (.zarr)")
    conv.add_argument("--sfreq", type=float, default=None, metavar="HZ",
                      help="resample to this rate (anti-aliased); None keeps the rate")
    conv.add_argument("--max-channels", type=int, default=None, metavar="N",
                      help="drop bad channels and keep the first N (contiguous); None keeps all")
    conv.add_argument("--channels", default=None, metavar="A,B,...",
                      help="keep only these channels (comma-separated names)")
    conv.add_argument("--ch-type", default=None, choices=["seeg", "ecog", "eeg", "keep"],
                      help="edf only: type given to channels MNE reads as EEG (unset: seeg; "
                      "'keep' keeps MNE's types)")
    conv.add_argument("--overwrite", action="store_true", help="replace an existing store")
    conv.add_argument("--allow-truncated", action="store_true",
                      help="edf, bids: convert an EDF/BDF that ends before the duration its "
                      "header declares (warns; the store records truncated_from_s); refused "
                      "by default")
    bids = conv.add_argument_group("BIDS entities (bids; --subject also names swec/edf and "
                                   "picks the algonauts subject)")
    bids.add_argument("--subject", default=None,
                      help="subject label (required for bids and algonauts: 1-8, 01 or subj01)")
    bids.add_argument("--session", default=None, help="session label")
    bids.add_argument("--task", default=None, help="task label")
    bids.add_argument("--run", default=None, help="run index")
    bids.add_argument("--acquisition", default=None, help="acquisition label")
    nsd = conv.add_argument_group("Algonauts 2023 / NSD (algonauts)")
    nsd.add_argument("--split", default=None, choices=["train", "test"],
                     help="which responses (unset: train; test needs the post-challenge files)")
    nsd.add_argument("--hemi", default=None, choices=["lh", "rh", "both"],
                     help="which hemispheres (unset: both)")
    nsd.add_argument("--trust-mapping", action="store_true",
                     help="fully unpickle roi_masks/mapping_*.npy (only for files you trust; "
                     "by default a restricted reader is used)")


def _convert(args: argparse.Namespace) -> None:
    from neuroattn.datasets.convert import convert

    options = {"sfreq": args.sfreq, "max_channels": args.max_channels,
               "subject": args.subject, "session": args.session, "task": args.task,
               "run": args.run, "acquisition": args.acquisition}
    if args.name == "algonauts":
        options.update(split=args.split, hemi=args.hemi)
        if args.trust_mapping:
            options["trust_mapping"] = True
    elif args.trust_mapping or args.split is not None or args.hemi is not None:
        raise ParameterError("--split, --hemi and --trust-mapping are for convert algonauts only.")
    options = {k: v for k, v in options.items() if v is not None}
    if args.ch_type is not None:
        options["ch_type"] = None if args.ch_type == "keep" else args.ch_type
    if args.allow_truncated:
        options["allow_truncated"] = True
    if args.channels:
        options["channels"] = [c.strip() for c in args.channels.split(",") if c.strip()]
    if args.name == "bids" and "subject" not in options:
        raise ParameterError("convert bids needs --subject (the BIDS subject label, e.g. 01).")
    if args.name == "algonauts" and "subject" not in options:
        raise ParameterError("convert algonauts needs --subject (the NSD subject: 1-8, 01 or "
                             "subj01).")
    convert(args.name, args.src, args.dst, overwrite=args.overwrite, **options)


def _synth_ieeg(args: argparse.Namespace) -> None:
    from pathlib import Path

    from neuroattn._logging import logger
    from neuroattn.datasets.synthetic import make_synthetic_ieeg

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise DestinationExistsError(f"{out} exists; pass --overwrite to replace it.")
    rec = make_synthetic_ieeg(n_channels=args.channels, duration_s=args.duration,
                              sfreq=args.sfreq, n_seizures=args.seizures,
                              amplitude=args.amplitude, seed=args.seed)
    suffix = out.suffix.lower()
    if suffix == ".edf":
        rec.to_edf(out)
    elif suffix == ".fif":
        rec.to_raw().save(out, overwrite=True, verbose=False)
    else:
        rec.to_store(out, overwrite=args.overwrite)
    if args.figure != "none":
        from neuroattn.plotting import plot_ieeg
        from neuroattn.store import from_mne_raw

        figure = out.with_suffix(".png") if args.figure == "auto" else Path(args.figure)
        plot_ieeg(from_mne_raw(rec.to_raw(), dtype="float32"), output_file=figure,
                  title=f"synthetic iEEG (amplitude {args.amplitude}, seed {args.seed})")
        logger.info("figure: %s", figure)
    intervals = rec.seizure_intervals()
    logger.info(
        "%s: %d channels x %.0f s at %g Hz; seizures at %s s", out, args.channels,
        args.duration, args.sfreq, ", ".join(f"{a:.1f}-{b:.1f}" for a, b in intervals) or "none")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m neuroattn`` and the ``neuroattn`` script.

    Returns
    -------
    int
        The exit status: 0, or 2 after an expected failure (printed as one
        ``error: ...`` line on stderr).
    """
    from neuroattn._logging import set_log_level

    args = build_parser().parse_args(argv)
    set_log_level("DEBUG" if args.verbose else "WARNING" if args.quiet else "INFO")
    try:
        _run(args)
    except ERRORS as err:
        if args.verbose:
            raise
        print("error: " + " ".join(str(err).split()), file=sys.stderr)
        return 2
    return 0


def _run(args: argparse.Namespace) -> None:
    if args.command == "sys-info":
        from neuroattn.sys_info import show

        show()
    elif args.command == "synth":
        _synth_ieeg(args)
    elif args.command == "convert":
        _convert(args)


if __name__ == "__main__":
    sys.exit(main())
