"""Fault cases of the converters: cut, empty and foreign EDF/BDF files, damaged BIDS
sidecars, SWEC files holding strings or NaN, clashing destinations, and the
numeric flags of ``python -m neuroattn convert`` and ``synth``.

Every input is a real file written in the case's directory (EDF via MNE's
exporter, BDF by hand, BIDS via ``mne_bids``, SWEC via ``write_swec_h5``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from neuroattn.testing.faults import CaseContext, Expected, FaultCase, Silent
from neuroattn.testing.faults_fixtures import garble, swec, truncate


def _cli(ctx: CaseContext, *argv: Any) -> Any:
    from neuroattn.__main__ import main

    return ctx.cli(main, ["-q", *argv])


def _edf_header_bytes(path: Path) -> int:
    return int(path.read_bytes()[184:192].decode("ascii").strip())


def _recording(ctx: CaseContext, fmt: str, damage: Callable[[Path], Any] | None) -> Path:
    path = ctx.shared.bdf(ctx.tmp / "rec.bdf") if fmt == "bdf" else \
        ctx.shared.edf(ctx.tmp / "rec.edf")
    if damage is not None:
        damage(path)
    return path


def _convert_edf(fmt: str, damage: Callable[[Path], Any] | None, *, cli: bool = False,
                 check: Callable[[CaseContext, Path], None] | None = None,
                 **options: Any) -> Callable[[CaseContext], Any]:
    def run(ctx: CaseContext) -> None:
        from neuroattn.datasets.edf import convert_edf

        src, dst = _recording(ctx, fmt, damage), ctx.tmp / "rec.zarr"
        if cli:
            flags = [f"--{k.replace('_', '-')}" if v is True else f"--{k.replace('_', '-')}={v}"
                     for k, v in options.items()]
            if _cli(ctx, "convert", "edf", src, dst, *flags).rc != 0:
                return
        else:
            convert_edf(src, dst, **options)
        if check is not None:
            check(ctx, dst)
    return run


def _edf_cases() -> list[FaultCase]:
    def half(p: Path) -> Path:
        return truncate(p, 0.5)

    def header_only(p: Path) -> None:
        p.write_bytes(p.read_bytes()[: _edf_header_bytes(p)])

    cut = ("truncat", "shorter", "incomplete", "cut")
    spec = [
        ("edf-truncated", "an EDF cut in half", Expected.error(*cut),
         _convert_edf("edf", half)),
        ("edf-truncated-cli", "convert edf on an EDF cut in half", Expected.error(*cut),
         _convert_edf("edf", half, cli=True)),
        ("edf-truncated-90", "an EDF missing its last 10 % (a partial last record)",
         Expected.error(*cut), _convert_edf("edf", lambda p: truncate(p, 0.9))),
        ("edf-truncated-allowed", "an EDF cut in half with allow_truncated=True: converted, "
         "with a warning naming the file", Expected.warning(*cut, also=("rec.edf",)),
         _convert_edf("edf", half, allow_truncated=True)),
        ("edf-truncated-allowed-cli", "convert edf --allow-truncated on a cut EDF",
         Expected.warning(*cut, also=("rec.edf",)),
         _convert_edf("edf", half, cli=True, allow_truncated=True)),
        ("edf-header-only", "an EDF holding its header and no data record",
         Expected.error(*cut, "no data", "empty", "rec.edf"), _convert_edf("edf", header_only)),
        ("edf-empty-file", "a 0-byte .edf file", Expected.error("rec.edf"),
         _convert_edf("edf", lambda p: p.write_bytes(b""))),
        ("edf-text-file", "a text file named .edf", Expected.error("rec.edf"),
         _convert_edf("edf", lambda p: p.write_text("patient notes, not a recording\n"))),
        ("edf-garbage", "random bytes named .edf", Expected.error("rec.edf"),
         _convert_edf("edf", garble)),
        ("bdf-truncated", "a BDF cut in half", Expected.error(*cut),
         _convert_edf("bdf", half)),
        ("bdf-complete", "a complete BDF converts exactly, with the schema attrs",
         Expected.success(), _convert_edf("bdf", None, check=_bdf_values)),
        ("edf-complete", "a complete EDF converts, with the schema attrs", Expected.success(),
         _convert_edf("edf", None, check=_edf_attrs)),
        ("edf-unknown-channel", "channels=['NOPE'] that the EDF does not have",
         Expected.error("NOPE"), _convert_edf("edf", None, channels=["NOPE"])),
    ]
    spec += [(f"edf-cli-{flag}-{name}", f"convert edf --{flag} {value}",
              Expected.error(flag, flag.replace("-", "_")),
              _convert_edf("edf", None, cli=True, **{flag.replace("-", "_"): value}))
             for flag, values in (("sfreq", {"0": 0, "negative": -1, "nan": "nan",
                                             "inf": "inf", "word": "fast"}),
                                  ("max-channels", {"0": 0, "negative": -1, "word": "all"}))
             for name, value in values.items()]
    cases = [FaultCase(f"convert.{cid}", "convert", what, expected, run)
             for cid, what, expected, run in spec]
    return cases + _destination_cases()


def _bdf_values(ctx: CaseContext, dst: Path) -> None:
    from neuroattn.store import open_store

    rec = ctx.shared.recording()
    ds = open_store(dst)
    step = (rec.data.max() - rec.data.min() + 2e-6) / 2**24
    if not np.allclose(ds.signal.values.T, rec.data, atol=2 * step):
        raise Silent("the BDF's samples changed in conversion")
    _edf_attrs(ctx, dst)


def _edf_attrs(ctx: CaseContext, dst: Path) -> None:
    from neuroattn.store import open_store

    attrs = open_store(dst).attrs
    for key, want in (("neuroattn_kind", "ieeg"), ("neuroattn_schema", 1)):
        if attrs.get(key) != want:
            raise Silent(f"the converted store has {key}={attrs.get(key)!r}")


def _existing(cli: bool) -> Callable[[CaseContext], Any]:
    def run(ctx: CaseContext) -> None:
        from neuroattn.datasets.edf import convert_edf

        src = ctx.shared.edf(ctx.tmp / "rec.edf")
        dst = ctx.protect(ctx.shared.store(ctx.tmp / "rec.zarr"))
        if cli:
            _cli(ctx, "convert", "edf", src, dst)
        else:
            convert_edf(src, dst)
    return run


def _onto_source(ctx: CaseContext) -> None:
    src = ctx.protect(ctx.shared.edf(ctx.tmp / "rec.edf"))
    _cli(ctx, "convert", "edf", src, src, "--overwrite")


def _missing(cli: bool) -> Callable[[CaseContext], Any]:
    def run(ctx: CaseContext) -> None:
        from neuroattn.datasets.edf import convert_edf

        if cli:
            _cli(ctx, "convert", "edf", ctx.tmp / "rec.edf", ctx.tmp / "rec.zarr")
        else:
            convert_edf(ctx.tmp / "rec.edf", ctx.tmp / "rec.zarr")
    return run


def _under_a_file(ctx: CaseContext) -> None:
    src = ctx.shared.edf(ctx.tmp / "rec.edf")
    notes = ctx.tmp / "notes.txt"
    notes.write_text("my notes\n")
    ctx.protect(notes)
    _cli(ctx, "convert", "edf", src, notes / "rec.zarr")


def _destination_cases() -> list[FaultCase]:
    spec = [
        ("edf-missing", "convert_edf of a file that does not exist",
         Expected.error("rec.edf"), _missing(False)),
        ("edf-missing-cli", "convert edf of a file that does not exist",
         Expected.error("rec.edf"), _missing(True)),
        ("edf-existing-dst", "convert_edf onto an existing store without overwrite",
         Expected.error("exist", "overwrite"), _existing(False)),
        ("edf-existing-dst-cli", "convert edf onto an existing store without --overwrite",
         Expected.error("exist", "overwrite"), _existing(True)),
        ("edf-dst-is-src-cli", "convert edf rec.edf rec.edf --overwrite (the source itself)",
         Expected.error("source", "same"), _onto_source),
        ("edf-dst-under-file-cli", "convert edf into notes.txt/rec.zarr (a file as folder)",
         Expected.error("notes.txt"), _under_a_file),
    ]
    return [FaultCase(f"convert.{cid}", "convert", what, expected, run)
            for cid, what, expected, run in spec]


def _bids(damage: Callable[[Path], Any] | None, *, check: bool = False,
          **options: Any) -> Callable[[CaseContext], Any]:
    def run(ctx: CaseContext) -> None:
        from neuroattn.datasets.bids import convert_bids_ieeg
        from neuroattn.store import open_store

        root = ctx.shared.bids(ctx.tmp / "bids")
        if damage is not None:
            damage(next(root.rglob("sub-01_ses-01_task-rest_run-1_ieeg.edf")).parent)
        dst = convert_bids_ieeg(root, ctx.tmp / "rec.zarr", **{"subject": "01", **options})
        if check:
            ds = open_store(dst)
            types, bad = set(ds.ch_type.values.tolist()), ds.bad.values.tolist()
            if types != {"seeg"} or bad != [c == "LA2" for c in ds.channel.values]:
                raise Silent(f"types {types} and bad flags {bad} are not the data set's")
    return run


def _sidecar(pattern: str, action: Callable[[Path], Any]) -> Callable[[Path], Any]:
    return lambda folder: action(next(folder.glob(pattern)))


def _bids_cases() -> list[FaultCase]:
    def no_type_column(path: Path) -> None:
        lines = path.read_text().splitlines()
        header = lines[0].split("\t")
        keep = [i for i, h in enumerate(header) if h != "type"]
        path.write_text("\n".join("\t".join(line.split("\t")[i] for i in keep)
                                  for line in lines) + "\n")

    spec = [
        ("channels-missing", "a BIDS recording whose *_channels.tsv is missing",
         Expected.warning("channels.tsv", or_error=True),
         _bids(_sidecar("*_channels.tsv", Path.unlink))),
        ("channels-garbled", "a BIDS recording whose *_channels.tsv is random bytes",
         Expected.warning("channels.tsv", or_error=True),
         _bids(_sidecar("*_channels.tsv", garble))),
        ("channels-no-type", "a BIDS *_channels.tsv without its 'type' column",
         Expected.warning("channels.tsv", or_error=True),
         _bids(_sidecar("*_channels.tsv", no_type_column))),
        ("electrodes-garbled", "a BIDS *_electrodes.tsv that is random bytes",
         Expected.warning("electrodes.tsv", or_error=True),
         _bids(_sidecar("*_electrodes.tsv", garble))),
        ("events-garbled", "a BIDS *_events.tsv that is random bytes",
         Expected.warning("events.tsv", or_error=True),
         _bids(_sidecar("*_events.tsv", garble))),
        ("ieeg-truncated", "a BIDS recording whose EDF is cut in half",
         Expected.error("truncat", "shorter", "incomplete"),
         _bids(_sidecar("*_ieeg.edf", lambda p: truncate(p, 0.5)))),
        ("subject-missing", "a BIDS subject that is not in the data set",
         Expected.error("'02'", "sub-02"), _bids(None, subject="02")),
        ("complete", "a complete BIDS recording keeps its sEEG types and bad flag",
         Expected.success(), _bids(None, check=True)),
    ]
    cases = [FaultCase(f"convert.bids-{cid}", "convert", what, expected, run)
             for cid, what, expected, run in spec]
    cases.append(FaultCase(
        "convert.bids-root-missing", "convert", "convert bids of a folder that does not exist",
        Expected.error("nowhere"),
        lambda ctx: _cli(ctx, "convert", "bids", ctx.tmp / "nowhere", ctx.tmp / "r.zarr",
                         "--subject", "01")))
    return cases


def _swec(data: Any = None, *, cli: bool = False, check: Callable | None = None,
          exists: bool = False, **kwargs: Any) -> Callable[[CaseContext], Any]:
    def run(ctx: CaseContext) -> None:
        from neuroattn.datasets.swec import convert_swec

        src = swec(ctx.tmp / "ID01_total.h5", data() if callable(data) else data, **kwargs)
        dst = ctx.tmp / "ID01.zarr"
        if exists:
            ctx.protect(ctx.shared.store(dst))
        if cli:
            _cli(ctx, "convert", "swec", src, dst)
            return
        convert_swec(src, dst)
        if check is not None:
            check(ctx, dst)
    return run


def _noise(value: float | None = None, channel: int = 1) -> Callable[[], np.ndarray]:
    def data() -> np.ndarray:
        out = np.random.default_rng(0).standard_normal((3, 2560)).astype("float32")
        if value is not None:
            out[channel, 700] = value
        return out
    return data


def _swec_attrs(ctx: CaseContext, dst: Path) -> None:
    from neuroattn.store import open_store

    ds = open_store(dst)
    attrs = ds.attrs
    for key, want in (("neuroattn_kind", "ieeg"), ("neuroattn_schema", 1)):
        if attrs.get(key) != want:
            raise Silent(f"the converted SWEC store has {key}={attrs.get(key)!r}")
    if not np.array_equal(ds.signal.values.T, _noise()()):
        raise Silent("the SWEC samples changed in conversion")


def _swec_cases() -> list[FaultCase]:
    def strings() -> np.ndarray:
        return np.array([[b"1.5"] * 2560] * 3)

    file_ = ("ID01_total.h5",)
    spec = [
        ("strings", "a SWEC file whose data/ieeg holds strings",
         Expected.error(*file_), _swec(strings)),
        ("strings-cli", "convert swec of a file holding strings", Expected.error(*file_),
         _swec(strings, cli=True)),
        ("nan", "a SWEC file with a NaN in channel ch1",
         Expected.error(*file_, also=("ch1",)), _swec(_noise(np.nan))),
        ("inf", "a SWEC file with an Inf in channel ch2",
         Expected.error(*file_, also=("ch2",)), _swec(_noise(np.inf, 2))),
        ("empty", "a SWEC file with 0 samples", Expected.error(*file_),
         _swec(lambda: np.zeros((3, 0), "float32"))),
        ("rate-0", "sampling_rate 0", Expected.error("sampling", "rate", "sfreq"),
         _swec(sfreq=0.0)),
        ("rate-negative", "sampling_rate -256", Expected.error("sampling", "rate", "sfreq"),
         _swec(sfreq=-256.0)),
        ("rate-nan", "sampling_rate NaN", Expected.error("sampling", "rate", "sfreq"),
         _swec(sfreq=float("nan"))),
        ("rate-string", "sampling_rate 'fast'", Expected.error("sampling", "rate", "sfreq"),
         _swec(sfreq="fast")),
        ("seizure-reversed", "a seizure whose offset comes before its onset",
         Expected.error("seizure", or_warning=True), _swec(seizures=((10.0, 5.0),))),
        ("seizure-nan", "a seizure with a NaN onset", Expected.error("seizure", or_warning=True),
         _swec(seizures=((float("nan"), 5.0),))),
        ("existing-dst", "convert_swec onto an existing store without overwrite",
         Expected.error("exist", "overwrite"), _swec(exists=True)),
        ("complete", "a complete SWEC file converts exactly, with the schema attrs",
         Expected.success(), _swec(_noise(), check=_swec_attrs)),
    ]
    cases = [FaultCase(f"convert.swec-{cid}", "convert", what, expected, run)
             for cid, what, expected, run in spec]
    cases.append(FaultCase(
        "convert.swec-missing", "convert", "convert_swec of a file that does not exist",
        Expected.error("ID09_total.h5"), _swec_missing))
    return cases


def _swec_missing(ctx: CaseContext) -> None:
    from neuroattn.datasets.swec import convert_swec

    convert_swec(ctx.tmp / "ID09_total.h5", ctx.tmp / "ID09.zarr")


def _synth(flag: str, value: str) -> Callable[[CaseContext], Any]:
    def run(ctx: CaseContext) -> None:
        args = {"--channels": "4", "--duration": "60", "--sfreq": "128", "--seizures": "1",
                "--amplitude": "4"}
        args[flag] = value
        _cli(ctx, "synth", "ieeg", "--out", ctx.tmp / "syn.zarr", "--figure", "none",
             *[x for kv in args.items() for x in kv])
    return run


def _synth_cases() -> list[FaultCase]:
    spec = {"--channels": ("0", "-1", "many"), "--duration": ("0", "-5", "nan"),
            "--sfreq": ("0", "nan", "inf"), "--seizures": ("-1",),
            "--amplitude": ("nan", "-2")}
    names = {"0": "0", "-1": "negative", "-5": "negative", "-2": "negative", "nan": "nan",
             "inf": "inf", "many": "word"}
    return [FaultCase(f"cli.synth{flag[1:]}-{names[value]}", "cli",
                      f"python -m neuroattn synth ieeg {flag} {value}",
                      Expected.error(flag.strip("-"), flag.strip("-").rstrip("s")),
                      _synth(flag, value))
            for flag, values in spec.items() for value in values]


def cases() -> list[FaultCase]:
    """The converter and ``python -m neuroattn`` cases."""
    return [*_edf_cases(), *_bids_cases(), *_swec_cases(), *_synth_cases()]
