"""Fault cases of the ``*_from_*`` builders: shapes, dtypes, rates, names and flags.

The builders are the first gate: what they accept, :func:`write_store`
writes. Each case hands one bad argument to ``ieeg_from_array``,
``fixations_from_table``, ``fmri_from_array`` or ``features_from_array``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from neuroattn.testing.faults import CaseContext, Expected, FaultCase


def _build_ieeg(data: Callable[[], Any], write: bool = False, **kwargs: Any
                ) -> Callable[[CaseContext], Any]:
    def run(ctx: CaseContext) -> None:
        from neuroattn.store import ieeg_from_array, write_store

        ds = ieeg_from_array(data(), **{"sfreq": 100.0, **kwargs})
        if write:
            write_store(ds, ctx.tmp / "rec.zarr")
    return run


def cases() -> list[FaultCase]:
    """The builder cases."""
    from neuroattn.store.errors import NonFiniteError

    def zeros(*shape: int, dtype: Any = "float32") -> Callable[[], np.ndarray]:
        return lambda: np.zeros(shape, dtype)

    def with_value(value: float) -> Callable[[], np.ndarray]:
        def data() -> np.ndarray:
            out = np.zeros((100, 3), "float32")
            out[10, 2] = value
            return out
        return data

    names = {"ch_names": ["A1", "A2", "B1"]}
    ieeg = [
        ("ambiguous-3x100", "np.zeros((3, 100)) with no channel names: 3 samples x 100 "
         "channels or the transpose?", ("transpos", "channels_last", "ambiguous", "n_times"),
         _build_ieeg(zeros(3, 100))),
        ("transposed-named", "(3, 500) data with 3 channel names", ("transpos", ".T"),
         _build_ieeg(zeros(3, 500), **names)),
        ("1d", "1-D data", ("2-D", "1-D", "shape"), _build_ieeg(zeros(100))),
        ("3d", "3-D data", ("2-D", "3-D", "shape"), _build_ieeg(zeros(10, 3, 2))),
        ("empty-samples", "0 samples x 3 channels, written", ("empty", "no sample", "0 sample"),
         _build_ieeg(zeros(0, 3), write=True)),
        ("no-channels", "100 samples x 0 channels", ("channel",), _build_ieeg(zeros(100, 0))),
        ("object", "an object array", ("dtype", "float", "object"),
         _build_ieeg(lambda: np.array([[object()] * 3] * 10, dtype=object))),
        ("strings", "an array of strings", ("dtype", "float", "str"),
         _build_ieeg(lambda: np.full((10, 3), "1.0"))),
        ("complex", "complex samples", ("complex", "dtype", "real"),
         _build_ieeg(zeros(100, 3, dtype=complex))),
        ("int16", "int16 ADC counts", ("dtype", "float"), _build_ieeg(zeros(100, 3, dtype="i2"))),
        ("sfreq-0", "sfreq=0", ("sfreq",), _build_ieeg(zeros(100, 3), sfreq=0.0)),
        ("sfreq-negative", "sfreq=-1", ("sfreq",), _build_ieeg(zeros(100, 3), sfreq=-1.0)),
        ("sfreq-nan", "sfreq=nan", ("sfreq",), _build_ieeg(zeros(100, 3), sfreq=float("nan"))),
        ("sfreq-inf", "sfreq=inf", ("sfreq",), _build_ieeg(zeros(100, 3), sfreq=float("inf"))),
        ("sfreq-none", "sfreq=None", ("sfreq",), _build_ieeg(zeros(100, 3), sfreq=None)),
        ("sfreq-string", "sfreq='256'", ("sfreq",), _build_ieeg(zeros(100, 3), sfreq="256")),
        ("duplicate-names", "two channels named A1", ("duplicate",),
         _build_ieeg(zeros(100, 3), ch_names=["A1", "A1", "B1"])),
        ("names-count", "2 channel names for 3 channels", ("name",),
         _build_ieeg(zeros(100, 3), ch_names=["A1", "A2"])),
        ("types-count", "2 channel types for 3 channels", ("type",),
         _build_ieeg(zeros(100, 3), ch_types=["seeg", "seeg"])),
        ("positions-shape", "positions of shape (3, 2)", ("position",),
         _build_ieeg(zeros(100, 3), positions=np.zeros((3, 2)))),
        ("bad-length", "2 bad flags for 3 channels", ("bad",),
         _build_ieeg(zeros(100, 3), bad=[True, False])),
        ("bad-strings", "bad flags given as the strings 'no'/'yes'", ("bad",),
         _build_ieeg(zeros(100, 3), bad=["no", "yes", "no"])),
        ("annotations-ragged", "annotations with 2 onsets and 1 duration",
         ("annotation", "onset"), _build_ieeg(zeros(100, 3), annotations={
             "onset": [1.0, 2.0], "duration": [1.0], "description": ["seizure", "x"]})),
    ]
    cases = [FaultCase(f"builders.ieeg-{cid}", "builders", f"ieeg_from_array: {what}",
                       Expected.error(*frags), run) for cid, what, frags, run in ieeg]
    cases += [
        FaultCase("builders.ieeg-nan-written", "builders", "write_store of ieeg_from_array data "
                  "with a NaN in channel ch2", Expected.error("ch2", error_class=NonFiniteError),
                  _build_ieeg(with_value(np.nan), write=True)),
        FaultCase("builders.ieeg-inf-written", "builders", "write_store of ieeg_from_array data "
                  "with an Inf in channel ch2", Expected.error("ch2", error_class=NonFiniteError),
                  _build_ieeg(with_value(np.inf), write=True)),
    ]
    return cases + _table_cases()


def _fixations(change: dict[str, Any], write: bool = False) -> Callable[[CaseContext], Any]:
    def run(ctx: CaseContext) -> None:
        from neuroattn.store import fixations_from_table, write_store

        table = {"subject": ["s1", "s1"], "image": ["a.jpg", "a.jpg"], "trial": [0, 0],
                 "fixation": [0, 1], "x": [10.0, 20.0], "y": [5.0, 6.0],
                 "duration": [0.2, 0.3]}
        table.update(change)
        table = {k: v for k, v in table.items() if v is not None}
        ds = fixations_from_table(table)
        if write:
            write_store(ds, ctx.tmp / "fix.zarr")
    return run


def _table_cases() -> list[FaultCase]:
    from neuroattn.store import features_from_array, fmri_from_array

    spec = [
        ("fixations-missing-column", "a fixation table without 'duration'", ("duration",),
         _fixations({"duration": None})),
        ("fixations-ragged", "fixation columns of different lengths", ("length",),
         _fixations({"x": [10.0]})),
        ("fixations-x-strings", "fixation x given as words", ("'x'", '"x"', "column x"),
         _fixations({"x": ["left", "right"]})),
        ("fixations-nan-written", "a fixation table with a NaN y, written", ("'y'", "y "),
         _fixations({"y": [5.0, float("nan")]}, write=True)),
        ("fmri-1d", "fmri_from_array of 1-D responses", ("2-D", "shape"),
         lambda ctx: fmri_from_array(np.zeros(10))),
        ("fmri-duplicate-stimuli", "fmri_from_array with stimulus ids [1, 1]", ("duplicate",),
         lambda ctx: fmri_from_array(np.zeros((2, 3)), stimulus=[1, 1])),
        ("fmri-noise-ceiling", "a noise ceiling of the wrong length", ("noise_ceiling",),
         lambda ctx: fmri_from_array(np.zeros((2, 3)), noise_ceiling=np.zeros(2))),
        ("features-3d", "features_from_array of 3-D maps", ("4-D", "shape"),
         lambda ctx: features_from_array(np.zeros((2, 3, 4)))),
    ]
    return [FaultCase(f"builders.{cid}", "builders", what, Expected.error(*frags), run)
            for cid, what, frags, run in spec]
