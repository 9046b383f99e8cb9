"""notebooks/ieeg_mvpformer.ipynb: stored clean, and runs top to bottom in the test's Python."""

from __future__ import annotations

import re

import pytest

from .conftest import assert_stored_clean

NAME = "ieeg_mvpformer.ipynb"


def test_notebook_is_valid_and_stored_without_outputs():
    assert_stored_clean(NAME)


@pytest.mark.slow
def test_notebook_runs_and_detects_seizures(run_notebook, tmp_path):
    run = run_notebook(NAME)
    text = run.stdout
    assert re.search(r"^\S+\s+pooled\s+\d+\s+\d\.\d{3}", text, re.MULTILINE)  # format_table
    auroc = re.search(r"pooled AUROC: (\d\.\d+)", text)
    assert auroc and float(auroc.group(1)) >= 0.8
    assert re.search(r"attention maps: \(2, 2(, \d+){5}\)", text)  # (layers, 2 windows, ...)
    assert sum("image/png" in o.data for o in run.shown) >= 3  # trace, detections, attention
    assert any("signal" in o.data.get("text/plain", "") for o in run.shown)  # the store's repr
    assert not list(run.run_dir.iterdir())  # nothing written next to the notebook
    assert not list(tmp_path.glob("ieeg_mvpformer_*"))  # the last cell cleaned up
