"""Tests of the converter registry and of ``python -m neuroattn convert``."""

from __future__ import annotations

import re

import h5py
import numpy as np
import pytest

from neuroattn.__main__ import main
from neuroattn.datasets import (
    CONVERTERS,
    convert_bids_ieeg,
    convert_cocosearch18,
    convert_edf,
    convert_eyelink,
    convert_swec,
)
from neuroattn.datasets.convert import convert, converter_options
from neuroattn.datasets.nsd import convert_algonauts
from neuroattn.store import open_store


def test_registry():
    assert CONVERTERS == {"swec": convert_swec, "edf": convert_edf, "bids": convert_bids_ieeg,
                          "algonauts": convert_algonauts, "cocosearch18": convert_cocosearch18,
                          "eyelink": convert_eyelink}
    for name in ("swec", "edf", "bids"):  # the iEEG converters
        assert {"sfreq", "max_channels", "channels", "overwrite"} <= set(converter_options(name))
    assert {"subject", "split", "hemi", "trust_mapping", "overwrite"} <= set(
        converter_options("algonauts"))
    assert {"subject", "session", "task", "run", "acquisition"} <= set(converter_options("bids"))


def test_convert_checks_names_and_options(edf_path, tmp_path):
    with pytest.raises(ValueError,
                       match=r"Unknown converter 'nwb'; use one of \['algonauts', 'bids'"):
        convert("nwb", edf_path, tmp_path / "x.zarr")
    with pytest.raises(ValueError, match="no option 'task'; it accepts sfreq, max_channels"):
        convert("edf", edf_path, tmp_path / "x.zarr", task="rest")
    out = convert("edf", edf_path, tmp_path / "x.zarr", channels=["LA2", "LA1"])
    assert open_store(out).channel.values.tolist() == ["LA1", "LA2"]


def test_cli_converts_edf(edf_path, tmp_path, capsys):
    dst = tmp_path / "cli.zarr"
    argv = ["convert", "edf", str(edf_path), str(dst), "--sfreq", "128", "--max-channels", "3",
            "--subject", "P02"]
    assert main(argv) == 0
    ds = open_store(dst)
    assert ds.attrs["sfreq"] == 128.0 and ds.sizes["channel"] == 3
    assert ds.attrs["subject"] == "P02"
    capsys.readouterr()
    assert main(argv) == 2
    assert re.match("error: .*exists; pass overwrite=True .*--overwrite",
                    capsys.readouterr().err)
    assert main([*argv[:4], "--overwrite", "--channels", "LA4,LA6", "--ch-type", "ecog"]) == 0
    ds = open_store(dst)
    assert ds.channel.values.tolist() == ["LA4", "LA6"] and set(ds.ch_type.values) == {"ecog"}


def test_cli_converts_swec(tmp_path):
    src = tmp_path / "ID11_total.h5"
    data = np.arange(3 * 1000, dtype="float32").reshape(3, 1000)
    with h5py.File(src, "w") as f:
        f.create_dataset("data/ieeg", data=data, chunks=(3, 400))
        f.attrs["sampling_rate"] = 100.0
    assert main(["-q", "convert", "swec", str(src), str(tmp_path / "s.zarr")]) == 0
    ds = open_store(tmp_path / "s.zarr")
    np.testing.assert_array_equal(ds.signal.values, data.T)
    assert ds.attrs["subject"] == "ID11"


@pytest.mark.parametrize(("argv", "match"), [
    (["convert", "swec", "{h5}", "{dst}", "--session", "1"], "no option 'session'"),
    (["convert", "bids", "{tmp}", "{dst}"], "needs --subject"),
    (["convert", "bids", "{tmp}", "{dst}", "--subject", "01", "--ch-type", "eeg"],
     "no option 'ch_type'"),
    (["convert", "edf", "{tmp}/missing.edf", "{dst}"], "missing.edf does not exist"),
    (["convert", "swec", "{edf}", "{dst}"], "not a readable HDF5 file"),
])
def test_cli_errors_are_one_line(tmp_path, edf_path, argv, match, capsys):
    h5 = tmp_path / "ID01_total.h5"
    with h5py.File(h5, "w") as f:
        f.create_dataset("data/ieeg", data=np.zeros((2, 10)))
        f.attrs["sampling_rate"] = 10.0
    fill = {"h5": h5, "dst": tmp_path / "o.zarr", "tmp": tmp_path, "edf": edf_path}
    assert main([a.format(**fill) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert re.match(f"^error: .*{match}", err) and "\n" not in err


def test_cli_help_lists_convert(capsys):
    with pytest.raises(SystemExit):
        main(["convert", "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and "convert swec" in out and "--max-channels" in out
