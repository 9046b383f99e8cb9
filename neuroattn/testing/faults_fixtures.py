"""Inputs for the fault matrix: small stores, EDF/BDF/BIDS/SWEC files, a tiny trained run.

:class:`SharedFixtures` builds each input once, on first use, and hands
cases copies (a case may damage its copy). The writers here make real
files: EDF through MNE's exporter, BDF by hand (24-bit, as BioSemi writes
it), BIDS through ``mne_bids``, SWEC HDF5 through
:func:`neuroattn.testing.files.write_swec_h5`.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> from neuroattn.testing.faults_fixtures import truncate
>>> path = Path(tempfile.mkdtemp()) / "f.bin"
>>> _ = path.write_bytes(b"0123456789")
>>> truncate(path, 0.5).read_bytes()
b'01234'
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: The tiny-training flags of tests/train_ieeg (model, batch size, device, quiet).
TINY = ["--model", "tiny", "--batch-size", "16", "--device", "cpu", "--no-progress", "-q"]
#: Patients of the training stores: (name, channels, seed).
PATIENTS = (("A", 4, 1), ("B", 6, 2), ("C", 5, 3))
#: Channels of the template store, and the one marked bad.
CHANNELS = ("A1", "A2", "B1")
BAD_CHANNEL = "A2"


def truncate(path: Path, fraction: float) -> Path:
    """Cut a file to ``fraction`` of its bytes (an interrupted copy)."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def garble(path: Path, seed: int = 0) -> Path:
    """Replace a file's bytes with random ones of the same length (at least 64)."""
    n = max(64, path.stat().st_size if path.exists() else 0)
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes())
    return path


class _Payload:
    """Unpickling this runs ``os.makedirs(marker)``: a harmless sign that a pickle ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str]]:
        return os.makedirs, (self.marker,)


def pickle_file(path: Path, marker: Path, *, wrap: Callable[[Any], Any] = lambda x: x) -> Path:
    """A torch file whose unpickling would create ``marker`` (``wrap`` nests the payload)."""
    import torch

    torch.save(wrap(_Payload(marker)), path)
    return path


def write_bdf(path: Path, data: np.ndarray, sfreq: int, ch_names: Sequence[str]) -> Path:
    """Write ``data`` (channels x samples, volts) as a BioSemi BDF file, 1-s records.

    Samples are 24-bit little-endian; the physical range is the data's, in µV.
    """
    n_ch, n_times = data.shape
    n_records = n_times // sfreq
    data = data[:, : n_records * sfreq] * 1e6
    lo, hi = np.floor(data.min()) - 1.0, np.ceil(data.max()) + 1.0  # whole µV: exact in text
    dmin, dmax = -(2**23), 2**23 - 1
    digital = np.round((data - lo) / (hi - lo) * (dmax - dmin) + dmin).astype(np.int32)

    def field(value: Any, width: int) -> bytes:
        return str(value).ljust(width)[:width].encode("ascii")

    header = b"\xffBIOSEMI" + field("X X X X", 80) + field("Startdate 01-JAN-2020 X X X", 80)
    header += field("01.01.20", 8) + field("00.00.00", 8) + field(256 * (n_ch + 1), 8)
    header += field("24BIT", 44) + field(n_records, 8) + field(1, 8) + field(n_ch, 4)
    for width, values in ((16, ch_names), (80, [""] * n_ch), (8, ["uV"] * n_ch),
                          (8, [f"{lo:.0f}"] * n_ch), (8, [f"{hi:.0f}"] * n_ch),
                          (8, [dmin] * n_ch), (8, [dmax] * n_ch), (80, [""] * n_ch),
                          (8, [sfreq] * n_ch), (32, [""] * n_ch)):
        header += b"".join(field(v, width) for v in values)
    records = digital.reshape(n_ch, n_records, sfreq).transpose(1, 0, 2).reshape(-1)
    raw = records.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3]
    path.write_bytes(header + raw.tobytes())
    return path


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """No warnings, log records or output from building a fixture (they belong to no case)."""
    sink = io.StringIO()
    logging.disable(logging.CRITICAL)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(sink), \
                contextlib.redirect_stderr(sink):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(logging.NOTSET)


class _Failed:
    def __init__(self, err: BaseException) -> None:
        self.err = err


class SharedFixtures:
    """Inputs built once per matrix run, on first use, under ``root``.

    A fixture that fails to build fails every case that uses it, with the
    same error, without being rebuilt each time.
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self._memo: dict[str, Any] = {}

    def get(self, name: str, build: Callable[[Path], Any]) -> Any:
        """The fixture ``name``, built on first use by ``build(folder)`` in an empty folder."""
        if name not in self._memo:
            folder = self.root / name
            shutil.rmtree(folder, ignore_errors=True)  # a leftover of an earlier process
            folder.mkdir(parents=True)
            try:
                with _quiet():
                    self._memo[name] = build(folder)
            except Exception as err:  # remembered, re-raised for every case that needs it
                self._memo[name] = _Failed(err)
        value = self._memo[name]
        if isinstance(value, _Failed):
            raise RuntimeError(f"shared fixture {name!r} failed to build: "
                               f"{type(value.err).__name__}: {value.err}") from value.err
        return value

    def copy(self, src: Path, dst: Path) -> Path:
        """Copy a shared file or directory into a case's directory."""
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
        return dst

    # --- stores -----------------------------------------------------------------------
    def ieeg_dataset(self, n_times: int = 400, seed: int = 0) -> Any:
        """3 channels (one bad) x ``n_times`` at 100 Hz, with positions and a seizure."""
        from neuroattn.store import ieeg_from_array

        rng = np.random.default_rng(seed)
        return ieeg_from_array(
            rng.standard_normal((n_times, len(CHANNELS))).astype("float32"), 100.0,
            ch_names=list(CHANNELS), positions=rng.standard_normal((len(CHANNELS), 3)) * 0.01,
            bad=[c == BAD_CHANNEL for c in CHANNELS], subject="P1",
            annotations={"onset": [1.0], "duration": [0.5], "description": ["seizure"]})

    def store(self, dst: Path) -> Path:
        """A copy of the template store: 8 arrays, the signal in 4 chunks of 100 samples."""
        def build(folder: Path) -> Path:
            from neuroattn.store import write_store

            return write_store(self.ieeg_dataset(), folder / "template.zarr",
                               chunks={"signal": (100, len(CHANNELS))})

        return self.copy(self.get("store", build), dst)

    def patient_stores(self) -> list[Path]:
        """Three 64-s training stores at the tiny model's 128 Hz (patients A, B, C)."""
        def build(folder: Path) -> list[Path]:
            from neuroattn.datasets.synthetic import make_synthetic_ieeg
            from neuroattn.store import from_mne_raw, write_store

            paths = []
            for name, n_ch, seed in PATIENTS:
                rec = make_synthetic_ieeg(n_channels=n_ch, duration_s=64.0, sfreq=128.0,
                                          n_seizures=1, amplitude=5.0, seed=seed)
                ds = from_mne_raw(rec.to_raw(), dtype="float32")
                ds.attrs["subject"] = name
                paths.append(write_store(ds, folder / f"{name}.zarr",
                                         kind="ieeg", chunk_mb=0.05))
            return paths

        return self.get("patient_stores", build)

    def train_args(self, out_dir: Path, *extra: str, mode: str = "finetune", val: bool = True,
                   data: Sequence[Path] | None = None) -> list[str]:
        """A tiny ``train_ieeg`` command on ``data`` (default: the patient stores).

        Patient B validates if ``val``; at most two steps are trained.
        """
        stores = self.patient_stores() if data is None else data
        return [mode, "--data", *map(str, stores), *(["--val-patients", "B"] if val else []), *TINY,
                "--epochs", "1", "--max-steps", "2", "--baseline", "none",
                "--out-dir", str(out_dir), *extra]

    def tiny_run(self, dst: Path) -> Path:
        """A copy of one finished tiny fine-tuning run (LoRA; ``best.pt`` from validation)."""
        def build(folder: Path) -> Path:
            from neuroattn.train_ieeg.cli import main

            out = folder / "run"
            if main(self.train_args(out)) != 0 or not (out / "best.pt").is_file():
                raise RuntimeError("the tiny training run failed")
            return out

        return self.copy(self.get("tiny_run", build), dst)

    # --- recordings -------------------------------------------------------------------
    def recording(self) -> Any:
        """A synthetic 60-s, 4-channel, 128-Hz recording with one seizure."""
        def build(folder: Path) -> Any:
            from neuroattn.datasets.synthetic import make_synthetic_ieeg

            return make_synthetic_ieeg(n_channels=4, duration_s=60.0, sfreq=128.0,
                                       n_seizures=1, seed=3)

        return self.get("recording", build)

    def edf(self, dst: Path) -> Path:
        """A copy of the recording as EDF+."""
        src = self.get("edf", lambda folder: self.recording().to_edf(folder / "rec.edf"))
        return self.copy(src, dst)

    def bdf(self, dst: Path) -> Path:
        """A copy of the recording as BDF (24 bit)."""
        def build(folder: Path) -> Path:
            rec = self.recording()
            return write_bdf(folder / "rec.bdf", rec.data, int(rec.sfreq), rec.ch_names)

        return self.copy(self.get("bdf", build), dst)

    def bids(self, dst: Path) -> Path:
        """A copy of a BIDS iEEG data set: sub-01, ses-01, task rest, run 1; LA2 bad."""
        def build(folder: Path) -> Path:
            import mne
            import mne_bids

            rec, bids_root = self.recording(), folder / "bids"
            raw = mne.io.read_raw_edf(self.edf(folder / "src.edf"), verbose="error")
            raw.set_channel_types(dict.fromkeys(raw.ch_names, "seeg"))
            raw.info["bads"] = ["LA2"]
            montage = mne.channels.make_dig_montage(
                ch_pos=dict(zip(rec.ch_names, rec.positions, strict=True)),
                coord_frame="mni_tal")
            path = mne_bids.BIDSPath(subject="01", session="01", task="rest", run=1,
                                     root=bids_root, datatype="ieeg")
            mne_bids.write_raw_bids(raw, path, montage=montage, verbose="error")
            return bids_root

        return self.copy(self.get("bids", build), dst)


def swec(path: Path, data: np.ndarray | None = None, *, sfreq: Any = 128.0,
         seizures: Sequence[tuple[float, float]] = ((5.0, 10.0),)) -> Path:
    """A SWEC-layout HDF5 file (default 3 channels x 20 s of noise); ``sfreq`` stored as is."""
    import h5py

    from neuroattn.testing.files import write_swec_h5

    if data is None:
        data = np.random.default_rng(0).standard_normal((3, 2560)).astype("float32")
    if isinstance(data, np.ndarray) and data.dtype.kind in "fiu" and data.size:
        write_swec_h5(path, data, 128.0, seizures=seizures)
    else:  # strings, empty data: what h5py stores but write_swec_h5 need not accept
        write_swec_h5(path, np.zeros((3, 2560), "float32"), 128.0, seizures=seizures)
        with h5py.File(path, "a") as f:
            del f["data/ieeg"]
            f.create_dataset("data/ieeg", data=data)
    with h5py.File(path, "a") as f:
        f.attrs["sampling_rate"] = sfreq
    return path
