"""notebooks/tensor_brain.ipynb: stored clean, runs top to bottom in the test's Python."""

from __future__ import annotations

import re

import pytest

from .conftest import assert_stored_clean

NAME = "tensor_brain.ipynb"


def test_notebook_is_valid_and_stored_without_outputs():
    assert_stored_clean(NAME)


def _number(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    assert found, (pattern, text)
    return float(found.group(1))


@pytest.mark.slow
@pytest.mark.timeout(600)  # about 90 s on one busy core
def test_notebook_runs_and_memory_recalls_the_facts(run_notebook, tmp_path):
    run = run_notebook(NAME)
    text = run.stdout
    # perception of known individuals (30 epochs: shape 0.99, identity of non-twins 0.97)
    shape = _number(r"test_known: shape accuracy (\d\.\d+)", text)
    assert shape >= 0.9, text
    assert _number(r"identity: non-twins (\d\.\d+)", text) >= 0.85, text
    # twins: the mass stays on the pair, whichever of the two is chosen
    assert _number(r"probability on the twin pair (\d\.\d+)\)", text) >= 0.9, text
    assert "hand decoding matches model.perceive: True" in text, text
    # episodic recall from a_t alone (0.90 measured; chance about 0.16)
    assert _number(r"episodic recall over all 200 episodes: subject Hits@5 (\d\.\d+)",
                   text) >= 0.8, text
    # semantic recall, including the label that no scene carries
    assert _number(r"semantic recall: persistent facts Hits@1 (\d\.\d+)", text) >= 0.9, text
    assert _number(r"semantic recall: .*\(dangerous (\d\.\d+)", text) >= 0.9, text
    # Kinships in KG mode, a few epochs: far above popularity (0.11)
    mrr = _number(r"Kinships TB MRR (\d\.\d+)", text)
    popularity = _number(r"\(popularity MRR (\d\.\d+)\)", text)
    assert mrr > 3 * popularity, text
    assert "same episodic recall: True" in text, text
    assert sum("image/png" in o.data for o in run.shown) >= 3  # world, decoded scenes, recall
    assert not list(run.run_dir.iterdir())  # nothing written next to the notebook
    assert not list(tmp_path.glob("tensor_brain_*"))  # the last cell cleaned up
