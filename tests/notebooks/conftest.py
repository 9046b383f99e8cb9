"""Shared by the notebook tests: the clean-storage check and a runner in this interpreter."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def outputs(nb, kind: str) -> list:
    """Every output of type ``kind`` (``"stream"``, ``"display_data"``, ...) in code cells."""
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
            if o.output_type == kind]


def assert_stored_clean(name: str) -> None:
    """Valid nbformat 4, kernel python3, no outputs or execution counts."""
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


@dataclass
class Executed:
    nb: object        # the executed notebook
    stdout: str       # everything the cells printed
    shown: list       # display_data and execute_result outputs
    run_dir: Path     # the notebook's working directory (must stay empty)


@pytest.fixture
def run_notebook(tmp_path, monkeypatch):
    """Execute a notebook with a ``python3`` kernel that is this interpreter (the venv's)."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebook's working folder lands here
    monkeypatch.setenv("NEUROATTN_PROGRESS", "off")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # CI's Agg would hide the inline figures
    run_dir = tmp_path / "cwd"
    run_dir.mkdir()

    def run(name: str) -> Executed:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbclient.NotebookClient(nb, kernel_name="python3", timeout=300,
                                resources={"metadata": {"path": str(run_dir)}}).execute()
        assert not outputs(nb, "error")
        stdout = "".join(o.text for o in outputs(nb, "stream") if o.name == "stdout")
        assert f"Python: {sys.executable}\n" in stdout  # the kernel ran this interpreter
        return Executed(nb, stdout, outputs(nb, "display_data") + outputs(nb, "execute_result"),
                        run_dir)

    return run
