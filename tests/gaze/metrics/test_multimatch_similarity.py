"""MultiMatch: agreement with multimatch-gaze on random scanpaths (with and without grouping),
the properties that hold exactly, the documented < 3-fixation convention and bad input."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

import neuroattn.gaze.metrics.multimatch_similarity as multimatch_module
from neuroattn.gaze.metrics.multimatch_similarity import (
    MULTIMATCH_DIMENSIONS,
    multimatch,
    multimatch_scores,
)

SCREEN = (1280, 720)
DIAGONAL = float(np.hypot(*SCREEN))
GROUPING = dict(grouping=True, amplitude_threshold=150.0, direction_threshold=45.0,
                duration_threshold=0.3)


def random_path(rng: np.random.Generator, n: int) -> np.ndarray:
    """n fixations uniform on the screen, durations uniform in [50, 600) ms."""
    return np.column_stack([rng.uniform(0, SCREEN[0], n), rng.uniform(0, SCREEN[1], n),
                            rng.uniform(0.05, 0.6, n)])


def random_pairs(seed: int, n_pairs: int, lengths) -> tuple[list, list]:
    rng = np.random.default_rng(seed)
    a = [random_path(rng, int(rng.choice(lengths))) for _ in range(n_pairs)]
    b = [random_path(rng, int(rng.choice(lengths))) for _ in range(n_pairs)]
    return a, b


def as_record(path: np.ndarray) -> np.recarray:
    """The peer's input format."""
    return np.rec.fromarrays(path.T, names="start_x,start_y,duration")


def peer(a: np.ndarray, b: np.ndarray, **kw) -> np.ndarray:
    mm = pytest.importorskip("multimatch_gaze")
    return np.asarray(mm.docomparison(
        as_record(a), as_record(b), list(SCREEN), grouping=kw.get("grouping", False),
        TDir=kw.get("direction_threshold", 0.0), TDur=kw.get("duration_threshold", 0.0),
        TAmp=kw.get("amplitude_threshold", 0.0)), dtype=float)


# --------------------------------------------------------------------------- agreement


@pytest.mark.parametrize("kw", [{}, GROUPING], ids=["plain", "grouping"])
def test_agrees_with_multimatch_gaze(kw):
    pytest.importorskip("multimatch_gaze")
    lengths = [3, 3, 4, 5, *range(6, 25), 40]
    a, b = random_pairs(7, 300, lengths)
    rng = np.random.default_rng(8)  # a few long scanpaths, and the shortest against them
    a += [random_path(rng, 90), random_path(rng, 3), random_path(rng, 60)]
    b += [random_path(rng, 75), random_path(rng, 70), random_path(rng, 3)]
    ours = multimatch_scores(a, b, SCREEN, **kw)
    compared, diffs = 0, []
    for k, (pa, pb) in enumerate(zip(a, b, strict=True)):
        try:
            theirs = peer(pa, pb, **kw)
        except IndexError:  # the peer's lone-short-saccade crash under grouping (tested below)
            continue
        compared += 1
        diffs.append(np.abs(theirs - ours[k]).max())
    assert compared >= 0.97 * len(a)
    assert max(diffs) < 1e-12, f"worst pair differs by {max(diffs):.3g}"
    if kw:  # grouping really simplified the scanpaths: the scores moved
        plain = multimatch_scores(a, b, SCREEN)
        assert np.mean(np.abs(plain - ours).max(axis=1) > 1e-3) > 0.8


def test_grouping_keeps_a_lone_short_saccade_where_the_peer_raises():
    mm = pytest.importorskip("multimatch_gaze")
    # Two collinear short saccades with a short middle fixation: the direction pass merges
    # them into one saccade shorter than the amplitude threshold, which the peer cannot handle.
    a = np.array([[100.0, 100.0, 0.1], [150.0, 110.0, 0.1], [200.0, 121.0, 0.1]])
    b = np.array([[300.0, 300.0, 0.2], [500.0, 200.0, 0.2], [800.0, 500.0, 0.2]])
    with pytest.raises(IndexError):
        mm.docomparison(as_record(a), as_record(b), list(SCREEN), grouping=True, TDir=45.0,
                        TDur=0.3, TAmp=150.0)
    grouped = multimatch(a, b, SCREEN, **GROUPING)
    # The lone merged saccade (from fixation 0 to fixation 2) against both saccades of b.
    merged = a[2, :2] - a[0, :2]
    vec = np.median([np.linalg.norm(merged - (b[k + 1, :2] - b[k, :2])) for k in range(2)])
    assert grouped[0] == pytest.approx(1 - vec / (2 * DIAGONAL), abs=1e-12)
    assert np.isfinite(grouped).all()


def test_zero_durations_compare_as_equal_where_the_peer_gives_nan():
    path = random_path(np.random.default_rng(3), 6)
    path[:, 2] = 0.0
    other = random_path(np.random.default_rng(4), 6)
    other[:, 2] = 0.0
    with np.errstate(all="ignore"):
        assert np.isnan(peer(path, other)[4])
    assert multimatch(path, other, SCREEN)[4] == 1.0


# --------------------------------------------------------------------------- properties


@pytest.mark.parametrize("kw", [{}, GROUPING], ids=["plain", "grouping"])
def test_identical_scanpaths_score_one(kw):
    rng = np.random.default_rng(11)
    paths = [random_path(rng, n) for n in (1, 2, 3, 4, 9, 20, 57)]
    np.testing.assert_array_equal(multimatch_scores(paths, paths, SCREEN, **kw), 1.0)


def test_symmetric_in_the_two_scanpaths():
    a, b = random_pairs(12, 120, [1, 2, 3, 5, 8, 13, 21])
    np.testing.assert_allclose(multimatch_scores(a, b, SCREEN),
                               multimatch_scores(b, a, SCREEN), rtol=0, atol=1e-12)


def test_invariant_to_shared_translation_point_reflection_and_time_scale():
    a, b = random_pairs(13, 80, [2, 3, 6, 11, 17])
    base = multimatch_scores(a, b, SCREEN)
    shift = np.array([37.25, -21.5, 0.0])
    moved = multimatch_scores([p + shift for p in a], [p + shift for p in b], SCREEN)
    flip = np.array([SCREEN[0], SCREEN[1], 0.0])
    sign = np.array([-1.0, -1.0, 1.0])
    reflected = multimatch_scores([flip + sign * p for p in a], [flip + sign * p for p in b],
                                 SCREEN)
    slow = np.array([1.0, 1.0, 3.0])
    slowed = multimatch_scores([p * slow for p in a], [p * slow for p in b], SCREEN)
    for other in (moved, reflected, slowed):
        np.testing.assert_allclose(other, base, rtol=0, atol=1e-9)


def test_on_screen_scores_lie_in_the_unit_interval():
    a, b = random_pairs(14, 200, [1, 2, 3, 4, 7, 15])
    scores = multimatch_scores(a, b, SCREEN)
    assert np.isfinite(scores).all()
    assert (scores >= 0).all() and (scores <= 1).all()


def test_batch_equals_per_pair_whatever_the_grouping_of_pairs(monkeypatch):
    a, b = random_pairs(15, 40, [1, 2, 3, 6, 10, 30])
    whole = multimatch_scores(a, b, SCREEN)
    single = np.stack([multimatch(pa, pb, SCREEN) for pa, pb in zip(a, b, strict=True)])
    np.testing.assert_array_equal(whole, single)
    for batch_size in (1, 7):
        np.testing.assert_array_equal(multimatch_scores(a, b, SCREEN, batch_size=batch_size),
                                      whole)
    # A small cell budget splits the pairs into many groups of similar length.
    monkeypatch.setattr(multimatch_module, "_CELL_BUDGET", 900)
    assert len(multimatch_module._chunks(np.array([1, 29, 5, 2, 29, 3]), None)) > 2
    np.testing.assert_array_equal(multimatch_scores(a, b, SCREEN), whole)
    grouped = multimatch_scores(a, b, SCREEN, **GROUPING)
    np.testing.assert_array_equal(
        grouped,
        np.stack([multimatch(pa, pb, SCREEN, **GROUPING) for pa, pb in zip(a, b, strict=True)]))


def test_grouping_with_zero_thresholds_changes_nothing():
    a, b = random_pairs(16, 30, [3, 8, 14])
    np.testing.assert_array_equal(multimatch_scores(a, b, SCREEN, grouping=True),
                                  multimatch_scores(a, b, SCREEN))


def test_input_formats_agree():
    a, b = random_pairs(17, 5, [4, 9])
    expected = multimatch_scores(a, b, SCREEN)
    records = multimatch_scores([as_record(p) for p in a], [as_record(p) for p in b], SCREEN)
    tensors = multimatch_scores([torch.from_numpy(p) for p in a], [torch.from_numpy(p) for p in b],
                               SCREEN)
    np.testing.assert_array_equal(records, expected)
    np.testing.assert_array_equal(tensors, expected)
    rng = np.random.default_rng(18)
    stacked_a, stacked_b = rng.uniform(0, 700, (4, 6, 3)), rng.uniform(0, 700, (4, 6, 3))
    np.testing.assert_array_equal(multimatch_scores(stacked_a, stacked_b, SCREEN),
                                  multimatch_scores(list(stacked_a), list(stacked_b), SCREEN))
    assert multimatch_scores([], [], SCREEN).shape == (0, len(MULTIMATCH_DIMENSIONS))


# --------------------------------------------------------------------------- < 3 fixations


def saccades(path: np.ndarray) -> np.ndarray:
    return np.diff(path[:, :2], axis=0)


def test_two_fixations_pair_the_saccade_with_every_saccade_of_the_other():
    rng = np.random.default_rng(21)
    a, b = random_path(rng, 2), random_path(rng, 7)
    v, others = saccades(a)[0], saccades(b)
    angle = np.abs(np.arctan2(v[1], v[0]) - np.arctan2(others[:, 1], others[:, 0]))
    angle = np.minimum(angle, 2 * np.pi - angle)
    durations = b[:-1, 2]
    expected = [
        1 - np.median(np.linalg.norm(others - v, axis=1)) / (2 * DIAGONAL),
        1 - np.median(angle) / np.pi,
        1 - np.median(np.abs(np.linalg.norm(others, axis=1) - np.linalg.norm(v))) / DIAGONAL,
        1 - np.median(np.linalg.norm(b[:-1, :2] - a[0, :2], axis=1)) / DIAGONAL,
        1 - np.median(np.abs(durations - a[0, 2]) / np.maximum(durations, a[0, 2])),
    ]
    np.testing.assert_allclose(multimatch(a, b, SCREEN), expected, rtol=0, atol=1e-12)


def test_single_fixation_compares_no_movement_with_the_other_scanpath():
    rng = np.random.default_rng(22)
    a, b = random_path(rng, 1), random_path(rng, 6)
    amplitudes = np.linalg.norm(saccades(b), axis=1)
    durations = b[:-1, 2]
    expected = [
        1 - np.median(amplitudes) / (2 * DIAGONAL),
        0.5,  # a direction against no direction: chance level
        1 - np.median(amplitudes) / DIAGONAL,
        1 - np.median(np.linalg.norm(b[:-1, :2] - a[0, :2], axis=1)) / DIAGONAL,
        1 - np.median(np.abs(durations - a[0, 2]) / np.maximum(durations, a[0, 2])),
    ]
    np.testing.assert_allclose(multimatch(a, b, SCREEN), expected, rtol=0, atol=1e-12)
    single = random_path(rng, 1)
    both = multimatch(a, single, SCREEN)
    np.testing.assert_array_equal(both[:3], 1.0)
    assert both[3] == pytest.approx(1 - np.linalg.norm(a[0, :2] - single[0, :2]) / DIAGONAL)
    assert both[4] == pytest.approx(1 - abs(a[0, 2] - single[0, 2]) / max(a[0, 2], single[0, 2]))


def test_short_scanpaths_are_never_nan_where_the_peer_is():
    rng = np.random.default_rng(23)
    for n_a, n_b in [(1, 1), (1, 2), (2, 2), (2, 3), (1, 8)]:
        a, b = random_path(rng, n_a), random_path(rng, n_b)
        assert np.isnan(peer(a, b)).all()
        for kw in ({}, GROUPING):
            score = multimatch(a, b, SCREEN, **kw)
            assert np.isfinite(score).all() and (score >= 0).all() and (score <= 1).all()


# --------------------------------------------------------------------------- bad input


GOOD = np.array([[10.0, 20.0, 0.2], [30.0, 40.0, 0.3], [50.0, 10.0, 0.1]])


@pytest.mark.parametrize("bad, message", [
    (np.empty((0, 3)), "empty"),
    (np.array([10.0, 20.0, 0.2]), r"reshape it to \(1, 3\)"),
    (np.ones((4, 2)), r"\(n_fixations, 3\)"),
    (np.ones((2, 4, 3)), r"\(n_fixations, 3\)"),
    (np.where(np.arange(9).reshape(3, 3) == 4, np.nan, GOOD), "NaN or Inf"),
    (np.where(np.arange(9).reshape(3, 3) == 0, np.inf, GOOD), "NaN or Inf"),
    (GOOD * np.array([1.0, 1.0, -1.0]), "negative fixation durations"),
    (np.rec.fromarrays(GOOD.T, names="x,y,duration"), "start_x"),
])
def test_bad_scanpaths_raise(bad, message):
    with pytest.raises(ValueError, match=message):
        multimatch(bad, GOOD, SCREEN)
    with pytest.raises(ValueError, match=r"scanpaths_b\[1\]"):
        multimatch_scores([GOOD, GOOD], [GOOD, bad], SCREEN)


def test_bad_arguments_raise():
    with pytest.raises(TypeError, match="numeric"):
        multimatch([["a", "b", "c"]], GOOD, SCREEN)
    with pytest.raises(TypeError, match="sequences"):
        multimatch_scores("abc", "abc", SCREEN)
    with pytest.raises(ValueError, match="scanpaths_b has 1"):
        multimatch_scores([GOOD, GOOD], [GOOD], SCREEN)
    for screen in [(0, 720), (1280, -1), (1280,), (1280, np.nan), (1280, 720, 3)]:
        with pytest.raises(ValueError, match="screen_size"):
            multimatch(GOOD, GOOD, screen)
    with pytest.raises(ValueError, match="direction_threshold must be >= 0"):
        multimatch(GOOD, GOOD, SCREEN, grouping=True, direction_threshold=-1.0)
    with pytest.raises(ValueError, match="batch_size"):
        multimatch_scores([GOOD], [GOOD], SCREEN, batch_size=0)


def test_thresholds_without_grouping_are_ignored_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="neuroattn"):
        score = multimatch(GOOD, GOOD[::-1], SCREEN, amplitude_threshold=100.0)
    assert "ignored unless grouping=True" in caplog.text
    np.testing.assert_array_equal(score, multimatch(GOOD, GOOD[::-1], SCREEN))
