"""Packaging promises: environment.yml matches pyproject.toml; the CLI entry works."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]
# pip name -> conda-forge name, where they differ
CONDA_NAMES = {"torch": "pytorch", "mne": "mne-base"}


def _split(requirement: str) -> tuple[str, str]:
    match = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", requirement)
    return match.group(1).lower(), match.group(2).replace(" ", "")


def test_environment_yml_lists_the_core_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"][0] == "conda-forge" and "defaults" not in env["channels"]
    conda = dict(_split(d) for d in env["dependencies"] if isinstance(d, str))
    conda.pop("python"), conda.pop("pip")
    expected = {CONDA_NAMES.get(n, n): spec for n, spec in map(_split, project["dependencies"])}
    assert conda == expected
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert any(line.replace('"', "").startswith("-e .") for line in pip_section)


def test_extras_exist():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert {"test", "notebooks", "distributed", "dev", "all"} <= set(extras)


def test_top_level_folders_have_readmes():
    for folder in ("datasets", "models", "analyses", "notebooks", "benchmarks"):
        assert (ROOT / folder / "README.md").stat().st_size > 100, folder


def test_cli_help_and_sys_info():
    run = [sys.executable, "-m", "neuroattn"]
    out = subprocess.run([*run, "--help"], capture_output=True, text=True, check=True).stdout
    assert "sys-info" in out and "examples:" in out
    info = subprocess.run([*run, "sys-info"], capture_output=True, text=True, check=True).stdout
    assert "torch" in info and "device='auto' uses" in info and "CUDA" in info


def test_cli_synth_ieeg_writes_a_valid_store(tmp_path):
    from neuroattn.store import open_store, seizure_intervals

    out = tmp_path / "s.zarr"
    cmd = [sys.executable, "-m", "neuroattn", "synth", "ieeg", "--out", str(out),
           "--channels", "5", "--duration", "60", "--sfreq", "128", "--seizures", "1"]
    subprocess.run(cmd, check=True, capture_output=True)
    ds = open_store(out, kind="ieeg")
    assert (tmp_path / "s.png").stat().st_size > 1000  # the figure of the first seizure
    assert ds.sizes["channel"] == 5 and ds.attrs["sfreq"] == 128.0
    assert seizure_intervals(ds.attrs["annotations"]).shape == (1, 2)
    again = subprocess.run(cmd, capture_output=True, text=True)
    assert again.returncode != 0 and "--overwrite" in again.stderr
    bad = subprocess.run([*cmd[:-6], "--channels", "0", "--out", str(tmp_path / "b.zarr")],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "error:" in bad.stderr


def test_type_hints_ship_with_the_package():
    """PEP 561: ``py.typed`` is in the package and declared as package data."""
    assert (ROOT / "neuroattn" / "py.typed").is_file()
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "py.typed" in setuptools["package-data"]["neuroattn"]


def test_every_model_family_is_reachable_from_the_top_level():
    import neuroattn

    for family in ("ieeg", "encoding", "gaze", "retina", "semantic"):
        assert getattr(neuroattn, family).__name__ == f"neuroattn.{family}"
