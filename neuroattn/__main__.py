"""``python -m neuroattn <command>``: workbench utilities.

Commands
--------
sys-info     print versions, CUDA and the device that would be used
synth ieeg   write a synthetic iEEG recording with seizure ground truth

Examples
--------
>>> from neuroattn.__main__ import build_parser
>>> build_parser().parse_args(["synth", "ieeg", "--channels", "8"]).channels
8
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

EPILOG = """examples:
  python -m neuroattn sys-info
  python -m neuroattn synth ieeg                       # synthetic_ieeg.zarr + .png, 16 ch, 4 min
  python -m neuroattn synth ieeg --out rec.edf --channels 64 --duration 1200 --sfreq 512
  python -m neuroattn synth ieeg --amplitude 2.5 --seed 3   # a harder recording
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
    return parser


def _synth_ieeg(args: argparse.Namespace) -> None:
    from pathlib import Path

    from neuroattn._logging import logger
    from neuroattn.datasets.synthetic import make_synthetic_ieeg

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise SystemExit(f"error: {out} exists; pass --overwrite to replace it.")
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
    """Entry point of ``python -m neuroattn`` and the ``neuroattn`` script."""
    from neuroattn._logging import set_log_level

    args = build_parser().parse_args(argv)
    set_log_level("DEBUG" if args.verbose else "WARNING" if args.quiet else "INFO")
    if args.command == "sys-info":
        from neuroattn.sys_info import show

        show()
    elif args.command == "synth":
        try:
            _synth_ieeg(args)
        except ValueError as err:
            raise SystemExit(f"error: {err}") from err
    return 0


if __name__ == "__main__":
    sys.exit(main())
