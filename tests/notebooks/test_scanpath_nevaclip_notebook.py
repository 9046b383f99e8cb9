"""notebooks/scanpath_nevaclip.ipynb: stored clean, and runs top to bottom in the test's Python."""

from __future__ import annotations

import re

import pytest

from .conftest import assert_stored_clean

NAME = "scanpath_nevaclip.ipynb"


def test_notebook_is_valid_and_stored_without_outputs():
    assert_stored_clean(NAME)


@pytest.mark.slow
@pytest.mark.timeout(600)  # about 45 s on 2 busy cores
def test_notebook_runs_and_the_caption_guides_the_first_fixation(run_notebook, tmp_path):
    pytest.importorskip("skimage")
    run = run_notebook(NAME)
    text = run.stdout
    # the foveation demo: sharp at the fixation under both acuity models
    assert text.count("the view equals the image at the fixation: True") == 2, text
    # the analytic encoder: each caption's first fixation on its own object, most layouts hit
    for k in range(3):
        assert re.search(rf"first fixation at .* on object {k}, '", text), text
    hits, layouts = map(int, re.search(r"first fixation on the captioned object in (\d+)/(\d+) "
                                       r"layouts", text).groups())
    assert layouts == 12 and hits >= 9, text  # measured 12/12
    # the tiny CLIP: the right caption finds the target, a wrong one does not
    rate = {name: float(value) for name, value in
            re.findall(r"^(.+) first fixation on target: (\d\.\d+)", text, re.MULTILINE)}
    assert {"NevaClip (caption)", "NevaClip (wrong caption)", "random", "saliency",
            "observer 0"} <= set(rate), rate
    # measured: caption 0.87, wrong caption 0.20, saliency 0.53, random 0.07, observer 1.00
    assert rate["NevaClip (caption)"] >= 0.7, rate
    assert rate["NevaClip (caption)"] > rate["NevaClip (wrong caption)"] + 0.3, rate
    assert rate["NevaClip (caption)"] > max(rate["random"], rate["saliency"]) + 0.1, rate
    assert re.search(r"NSS on the saliency map: free viewing -?\d\.\d+, random", text), text
    assert "nevaclip_metrics.json" in text
    assert sum("image/png" in o.data for o in run.shown) >= 4  # fovea, captions, paths, photo
    assert not list(run.run_dir.iterdir())  # nothing written next to the notebook
    assert not list(tmp_path.glob("scanpath_nevaclip_*"))  # the last cell cleaned up
