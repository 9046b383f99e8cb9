"""notebooks/foveated_retinotopy.ipynb: stored clean, runs top to bottom in the test's Python."""

from __future__ import annotations

import re

import pytest

from .conftest import assert_stored_clean

NAME = "foveated_retinotopy.ipynb"


def test_notebook_is_valid_and_stored_without_outputs():
    assert_stored_clean(NAME)


@pytest.mark.slow
@pytest.mark.timeout(600)  # about a minute on 2 cores
def test_notebook_runs_and_rotation_spares_the_foveated_model(run_notebook, tmp_path):
    pytest.importorskip("skimage")
    run = run_notebook(NAME)
    text = run.stdout
    # counter-clockwise by 8 columns' worth of angle = roll by -8 columns, not +8 or none
    diffs = {int(s): float(d) for s, d in re.findall(
        r"view rolled by ([+-]\d+) columns: median \|difference\| (\d\.\d+)", text)}
    assert set(diffs) == {-8, 0, 8}, text
    assert diffs[-8] < 0.01 < min(diffs[0], diffs[8]), diffs
    curves = {name: (float(up), float(grid), float(between)) for name, up, grid, between in
              re.findall(r"^(\w+): (\d\.\d+) upright, mean (\d\.\d+) on the 22.5-degree grid "
                         r"and (\d\.\d+) between grid angles", text, re.MULTILINE)}
    assert set(curves) == {"foveated", "cartesian"}, text
    up, grid, between = curves["foveated"]
    # on its angle grid the invariant head is flat by construction (interpolation only)
    assert up - grid < 0.06, curves
    # between grid angles it is not invariant by construction: it must still lose much less
    # than the control
    cart_up, _, cart_between = curves["cartesian"]
    assert cart_up - cart_between > up - between + 0.15, curves
    hits = float(re.search(r"peak inside the digit's box: (\d\.\d+)", text).group(1))
    assert hits > 0.3, text          # chance (a random grid point in the box) is about 0.06
    assert sum("image/png" in o.data for o in run.shown) >= 4  # retina, digits, curves, maps
    assert not list(run.run_dir.iterdir())  # nothing written next to the notebook
    assert not list(tmp_path.glob("foveated_retinotopy_*"))  # the last cell cleaned up
