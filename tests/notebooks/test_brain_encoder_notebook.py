"""notebooks/brain_encoder.ipynb: stored clean, and runs top to bottom in the test's Python."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "brain_encoder.ipynb"


def _outputs(nb, kind: str) -> list:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
            if o.output_type == kind]


def test_notebook_is_valid_and_stored_without_outputs():
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


@pytest.mark.slow
def test_notebook_runs_and_transformer_wins(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("pandas")
    pytest.importorskip("torchvision")
    # A "python3" kernelspec pointing at this interpreter (the venv's), found first.
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

    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, kernel_name="python3", timeout=300,
                            resources={"metadata": {"path": str(run_dir)}}).execute()

    assert not _outputs(nb, "error")
    text = "".join(o.text for o in _outputs(nb, "stream") if o.name == "stdout")
    assert f"Python: {sys.executable}\n" in text  # the kernel ran this interpreter
    score = {name: float(value) for name, value in
             re.findall(r"^(transformer|spatial|ridge) r²/NC: (\d\.\d+)$", text, re.MULTILINE)}
    assert set(score) == {"transformer", "spatial", "ridge"}
    assert score["transformer"] >= 0.85
    assert score["transformer"] > max(score["spatial"], score["ridge"])
    assert re.search(r"routing maps: \(200, 6, 8, 8\)", text)
    assert re.search(r"torchvision:resnet18 layer4: feature grid \(2, 4, 4, 512\)", text)
    assert "accuracy_per_roi.csv" in text
    shown = _outputs(nb, "display_data") + _outputs(nb, "execute_result")
    assert sum("image/png" in o.data for o in shown) >= 2  # bar plot, routing maps
    assert sum("text/html" in o.data for o in shown) >= 3  # ROI, accuracy, routing tables
    assert not list(run_dir.iterdir())  # nothing written next to the notebook
    assert not list(tmp_path.glob("brain_encoder_*"))  # the last cell cleaned up
