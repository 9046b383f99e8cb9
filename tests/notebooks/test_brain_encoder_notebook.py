"""notebooks/brain_encoder.ipynb: stored clean, and runs top to bottom in the test's Python."""

from __future__ import annotations

import re

import pytest

from .conftest import assert_stored_clean

NAME = "brain_encoder.ipynb"


def test_notebook_is_valid_and_stored_without_outputs():
    assert_stored_clean(NAME)


@pytest.mark.slow
def test_notebook_runs_and_transformer_wins(run_notebook, tmp_path):
    pytest.importorskip("pandas")
    pytest.importorskip("torchvision")
    run = run_notebook(NAME)
    text = run.stdout
    score = {name: float(value) for name, value in
             re.findall(r"^(transformer|spatial|ridge) r²/NC: (\d\.\d+)$", text, re.MULTILINE)}
    assert set(score) == {"transformer", "spatial", "ridge"}
    assert score["transformer"] >= 0.85
    assert score["transformer"] > max(score["spatial"], score["ridge"])
    assert re.search(r"routing maps: \(200, 6, 8, 8\)", text)
    assert re.search(r"torchvision:resnet18 layer4: feature grid \(2, 4, 4, 512\)", text)
    assert "accuracy_per_roi.csv" in text
    assert sum("image/png" in o.data for o in run.shown) >= 2  # bar plot, routing maps
    assert sum("text/html" in o.data for o in run.shown) >= 3  # ROI, accuracy, routing tables
    assert not list(run.run_dir.iterdir())  # nothing written next to the notebook
    assert not list(tmp_path.glob("brain_encoder_*"))  # the last cell cleaned up
