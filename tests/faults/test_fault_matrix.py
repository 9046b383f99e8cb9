"""The fault matrix (neuroattn.testing.faults): every case behaves well; the classifier is right.

One test per case: each must end ``"good"`` (the expected error, warning or
checked success), never silent, losing data or in a raw traceback. The
cases share one set of fixtures (stores, files, one tiny trained run),
built on first use.
"""

from __future__ import annotations

import json
import warnings

import pytest

from neuroattn.errors import NeuroattnError
from neuroattn.testing.fault_matrix import all_cases, quick_subset, run_matrix
from neuroattn.testing.faults import (
    OUTCOMES,
    CliResult,
    Expected,
    FaultCase,
    Lost,
    SharedFixtures,
    classify,
    run_case,
)

CASES = all_cases()


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    return SharedFixtures(tmp_path_factory.mktemp("fault_fixtures"))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_behaves_well(case, shared, tmp_path):
    result = run_case(case, tmp_path, shared=shared)
    assert result.observed == "good", (
        f"{case.id} ({case.description}): {result.observed}\n"
        f"  expected: {result.expected}\n  observed: {result.detail}")


def test_at_least_150_cases_with_unique_ids_in_every_area():
    ids = [c.id for c in CASES]
    assert len(ids) >= 150
    assert len(set(ids)) == len(ids), sorted({i for i in ids if ids.count(i) > 1})
    areas = {c.area for c in CASES}
    assert {"store", "builders", "convert", "checkpoint", "config", "gaze", "retina", "cache",
            "train_cli"} <= areas
    quick = quick_subset(CASES)
    assert {c.area for c in quick} == areas and len(quick) < len(CASES) / 3


def _case(run, expected=None):
    return FaultCase("fake.case", "fake", "a fake case", expected or Expected.error("widget"),
                     run)


def test_a_raw_exception_is_a_traceback(tmp_path):
    def run(ctx):
        raise ValueError("widget is broken")

    result = run_case(_case(run), tmp_path)
    assert (result.observed, result.detail) == ("traceback", "raw ValueError: widget is broken")


def test_a_neuroattn_error_with_the_fragment_is_good(tmp_path):
    def run(ctx):
        raise NeuroattnError("widget.zarr is damaged; re-create it.")

    assert run_case(_case(run), tmp_path).observed == "good"


def test_a_neuroattn_error_without_the_fragment_or_of_the_wrong_class_is_a_traceback(tmp_path):
    from neuroattn.store.errors import StoreError

    def run(ctx):
        raise NeuroattnError("something else went wrong")

    result = run_case(_case(run), tmp_path)
    assert result.observed == "traceback" and "lacks ['widget']" in result.detail
    strict = Expected.error("widget", error_class=StoreError)
    assert run_case(_case(lambda ctx: None, strict), tmp_path / "b").observed == "silent"

    def other_class(ctx):
        raise NeuroattnError("widget")

    result = run_case(_case(other_class, strict), tmp_path / "c")
    assert result.observed == "traceback" and "wrong class" in result.detail


def test_no_error_is_silent_and_a_warning_counts_only_where_expected(tmp_path):
    assert run_case(_case(lambda ctx: None), tmp_path / "a").observed == "silent"

    def warns(ctx):
        warnings.warn("widget looks odd", UserWarning, stacklevel=1)

    assert run_case(_case(warns), tmp_path / "b").observed == "silent"
    assert run_case(_case(warns, Expected.warning("widget")), tmp_path / "c").observed == "good"
    assert run_case(_case(warns, Expected.warning("gadget")), tmp_path / "d").observed == \
        "silent"
    assert run_case(_case(lambda ctx: None, Expected.success()), tmp_path / "e").observed == \
        "good"


def test_deleting_a_protected_file_is_data_loss(tmp_path):
    def run(ctx):
        store = ctx.tmp / "user.zarr"
        store.mkdir()
        (store / "zarr.json").write_text("{}")
        ctx.protect(store)
        (store / "zarr.json").unlink()
        raise NeuroattnError("widget failed")  # even with the right error

    result = run_case(_case(run), tmp_path)
    assert result.observed == "data_loss" and "user.zarr was altered" in result.detail

    def own_check(ctx):
        raise Lost("the other writer's samples were replaced")

    result = run_case(_case(own_check), tmp_path / "b")
    assert (result.observed, result.detail) == ("data_loss",
                                                "the other writer's samples were replaced")


@pytest.mark.parametrize(("cli", "observed"), [
    (CliResult(2, "", "error: widget.zarr does not exist.\n"), "good"),
    (CliResult(2, "", "usage: x\nx: error: argument --n: invalid int value: 'widget'\n"), "good"),
    (CliResult(2, "", "error: no such file\n"), "traceback"),
    (CliResult(1, "", "Traceback (most recent call last):\nValueError: widget\n"), "traceback"),
    (CliResult(2, "", "Traceback (most recent call last):\nerror: widget\n"), "traceback"),
    (CliResult(0, "done\n", ""), "silent"),
])
def test_command_line_outcomes(cli, observed):
    assert classify(Expected.error("widget"), exc=None, cli=cli, warned=[], lost=[])[0] == observed


def test_the_command_line_runner_catches_exits_and_tracebacks(tmp_path):
    def main(argv):
        if argv == ["boom"]:
            raise RuntimeError("widget exploded")
        if argv == ["exit"]:
            raise SystemExit("error: widget")
        print("error: widget", file=__import__("sys").stderr)
        return 2

    results = {}
    for argv in (["boom"], ["exit"], ["ok"]):
        result = run_case(_case(lambda ctx, a=argv: ctx.cli(main, a)), tmp_path / argv[0])
        results[argv[0]] = result.observed
    assert results == {"boom": "traceback", "exit": "traceback", "ok": "good"}


def test_run_matrix_counts_and_serialises(tmp_path):
    cases = [_case(lambda ctx: None, Expected.success()),
             FaultCase("fake.raw", "fake", "raw", Expected.error("x"),
                       lambda ctx: {}["missing"])]
    result = run_matrix(cases, tmp_root=tmp_path)
    assert {k: result[k] for k in ("cases", *OUTCOMES)} == {
        "cases": 2, "good": 1, "silent": 0, "data_loss": 0, "traceback": 1}
    assert [r["observed"] for r in json.loads(json.dumps(result))["results"]] == \
        ["good", "traceback"]
