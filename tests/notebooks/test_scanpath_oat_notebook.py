"""notebooks/scanpath_oat.ipynb: stored clean, and runs top to bottom in the test's Python."""

from __future__ import annotations

import re

import pytest

from .conftest import assert_stored_clean

NAME = "scanpath_oat.ipynb"


def test_notebook_is_valid_and_stored_without_outputs():
    assert_stored_clean(NAME)


@pytest.mark.slow
@pytest.mark.timeout(900)  # about 80 s on 2 idle cores
def test_notebook_runs_and_oat_beats_every_baseline(run_notebook, tmp_path):
    pytest.importorskip("pandas")
    pytest.importorskip("eyelinkio")
    run = run_notebook(NAME)
    text = run.stdout
    score = dict(re.findall(r"^(.+) sequence score: (\d\.\d+)$", text, re.MULTILINE))
    score = {name: float(value) for name, value in score.items()}
    baselines = {"random", "centre", "nearest", "similarity"}
    assert {"OAT (greedy)", "humans (vs each other)", *baselines} <= set(score), score
    # measured: OAT 0.42, best baseline (similarity) 0.31, humans 0.45
    assert score["OAT (greedy)"] > max(score[name] for name in baselines) + 0.05, score
    assert score["humans (vs each other)"] > score["random"], score
    assert re.search(r"MultiMatch \(vector, direction, length, position, duration\): \[", text)
    assert re.search(r"fixations: \d+ in 40 trials at 1000.0 Hz", text), text
    assert "scanpath_metrics.csv" in text
    assert sum("image/png" in o.data for o in run.shown) >= 2  # the display, scanpath figure
    assert sum("text/html" in o.data for o in run.shown) >= 3  # history, table, fixations
    assert not list(run.run_dir.iterdir())  # nothing written next to the notebook
    assert not list(tmp_path.glob("scanpath_oat_*"))  # the last cell cleaned up
