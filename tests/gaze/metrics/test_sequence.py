"""Edit distance, sequence score and ScanMatch: hand-computed cases, a loop-based reference
aligner on random pairs, the metric properties, the pinned SS protocol and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuroattn.gaze.metrics import (
    cluster_centres,
    cluster_symbols,
    edit_distance,
    edit_distances,
    grid_symbols,
    scanmatch,
    scanmatch_scores,
    scanmatch_substitution_matrix,
    sequence_score,
    sequence_score_vs_humans,
    sequence_scores,
)
from neuroattn.gaze.metrics import sequence as sequence_module


def reference_alignment(a, b, score, gap):
    """Textbook Needleman–Wunsch with a full table and plain loops (the reference answer)."""
    f = np.zeros((len(a) + 1, len(b) + 1))
    f[:, 0] = gap * np.arange(len(a) + 1)
    f[0, :] = gap * np.arange(len(b) + 1)
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            f[i, j] = max(f[i - 1, j - 1] + score(a[i - 1], b[j - 1]),
                          f[i - 1, j] + gap, f[i, j - 1] + gap)
    return f[-1, -1]


def reference_levenshtein(a, b):
    d = np.zeros((len(a) + 1, len(b) + 1))
    d[:, 0] = np.arange(len(a) + 1)
    d[0, :] = np.arange(len(b) + 1)
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1,
                          d[i - 1, j - 1] + (a[i - 1] != b[j - 1]))
    return d[-1, -1]


def random_pairs(rng, n, max_len=15, alphabet=5):
    a = [rng.integers(0, alphabet, size=rng.integers(1, max_len + 1)) for _ in range(n)]
    b = [rng.integers(0, alphabet, size=rng.integers(1, max_len + 1)) for _ in range(n)]
    return a, b


# ---------------------------------------------------------------- edit distance
def test_edit_distance_hand_computed():
    kitten, sitting = [10, 8, 19, 19, 4, 13], [18, 8, 19, 19, 8, 13, 6]  # kitten, sitting
    assert edit_distance(kitten, sitting) == 3.0
    assert edit_distance(kitten, sitting, normalize=True) == pytest.approx(3 / 7)
    assert edit_distance([1, 2, 3], [4, 5]) == 3.0                # 2 substitutions + 1 deletion
    assert edit_distance([7], [7, 7, 7, 7]) == 3.0
    assert edit_distance([7], [7, 7, 7, 7], normalize=True) == 0.75


def test_edit_distances_match_reference_on_random_pairs(rng):
    a, b = random_pairs(rng, 300)
    expected = np.array([reference_levenshtein(x, y) for x, y in zip(a, b, strict=False)])
    np.testing.assert_array_equal(edit_distances(a, b), expected)
    longer = np.array([max(len(x), len(y)) for x, y in zip(a, b, strict=False)])
    np.testing.assert_allclose(edit_distances(a, b, normalize=True), expected / longer,
                               rtol=1e-15)


def test_edit_distance_properties(rng):
    a, b = random_pairs(rng, 100)
    np.testing.assert_array_equal(edit_distances(a, a), 0.0)
    np.testing.assert_array_equal(edit_distances(a, b), edit_distances(b, a))
    norm = edit_distances(a, b, normalize=True)
    assert ((norm >= 0) & (norm <= 1)).all()


# ---------------------------------------------------------------- sequence score
def test_sequence_score_hand_computed():
    # the longest common subsequence of 1 2 3 4 5 and 2 4 5 9 is 2 4 5: 3 / 5
    assert sequence_score([1, 2, 3, 4, 5], [2, 4, 5, 9]) == 0.6
    assert sequence_score([1, 2, 3], [3, 2, 1]) == pytest.approx(1 / 3)
    assert sequence_score([0, 0], [1, 1, 1]) == 0.0
    assert sequence_score([5], [5, 5, 5, 5]) == 0.25


def test_sequence_scores_match_reference_on_random_pairs(rng):
    a, b = random_pairs(rng, 300)
    expected = np.array([
        reference_alignment(x, y, lambda p, q: float(p == q), 0.0) / max(len(x), len(y))
        for x, y in zip(a, b, strict=False)])
    np.testing.assert_allclose(sequence_scores(a, b), expected, rtol=1e-15)
    single = [sequence_score(x, y) for x, y in zip(a[:20], b[:20], strict=False)]
    np.testing.assert_array_equal(single, sequence_scores(a[:20], b[:20]))


@pytest.mark.parametrize("block_cells", [1, 2000])
def test_blocked_alignment_gives_the_same_scores(rng, monkeypatch, block_cells):
    a, b = random_pairs(rng, 120, max_len=40)
    a.append(rng.integers(0, 5, size=90))          # one pair larger than any block
    b.append(rng.integers(0, 5, size=70))
    expected = (sequence_scores(a, b), edit_distances(a, b))
    monkeypatch.setattr(sequence_module, "_BLOCK_CELLS", block_cells)
    np.testing.assert_array_equal(sequence_scores(a, b), expected[0])
    np.testing.assert_array_equal(edit_distances(a, b), expected[1])


def test_sequence_score_properties(rng):
    a, b = random_pairs(rng, 200, max_len=20, alphabet=4)
    np.testing.assert_array_equal(sequence_scores(a, a), 1.0)
    np.testing.assert_array_equal(sequence_scores(a, b), sequence_scores(b, a))
    ss = sequence_scores(a, b)
    assert ((ss >= 0) & (ss <= 1)).all()
    different = np.array([not np.array_equal(x, y) for x, y in zip(a, b, strict=False)])
    assert (ss[different] < 1).all()


def test_sequences_accept_arrays_tensors_and_integral_floats():
    expected = sequence_score([1, 2, 3], [1, 3])
    assert sequence_score(np.array([1, 2, 3]), torch.tensor([1, 3])) == expected
    assert sequence_score([1.0, 2.0, 3.0], (1, 3)) == expected
    assert edit_distances(np.array([[1, 2], [3, 4]]), [[1, 2], [4]]).tolist() == [0.0, 1.0]
    assert sequence_scores([], []).shape == (0,)


@pytest.mark.parametrize("bad, match", [
    ([], "empty scanpath"),
    ([1.0, np.nan], "NaN"),
    ([1.5, 2.0], "non-integer"),
    ([[1, 2], [3, 4]], "1-D"),
    (["a", "b"], "integers"),
])
def test_sequence_functions_reject_bad_scanpaths(bad, match):
    for fn in (sequence_score, edit_distance):
        with pytest.raises((ValueError, TypeError), match=match):
            fn(bad, [1, 2])
    with pytest.raises((ValueError, TypeError), match=match):
        sequence_scores([[1], bad], [[1], [2]])


def test_batched_functions_reject_mismatched_or_non_list_batches():
    with pytest.raises(ValueError, match="same number of scanpaths"):
        sequence_scores([[1, 2], [3]], [[1, 2]])
    with pytest.raises(ValueError, match="same number of scanpaths"):
        edit_distances([[1, 2]], [[1], [2]])
    with pytest.raises(ValueError, match=r"a_list\[0\] must be a 1-D"):  # a flat scanpath
        sequence_scores([1, 2, 3], [1, 2, 3])
    with pytest.raises(TypeError, match="list of scanpaths"):
        sequence_scores("abc", "abd")


# ---------------------------------------------------------------- symbols
def test_grid_symbols_edges_and_errors():
    cells = grid_symbols([[0, 0], [49.9, 0], [50, 0], [99.9, 59.9], [100, 60], [0, 30]],
                         image_shape=(60, 100), grid=(2, 2))
    np.testing.assert_array_equal(cells, [0, 0, 1, 3, 3, 2])
    with pytest.raises(ValueError, match="outside the 60 x 100"):
        grid_symbols([[101, 10]], image_shape=(60, 100), grid=(2, 2))
    with pytest.raises(ValueError, match="NaN"):
        grid_symbols([[np.nan, 10]], image_shape=(60, 100), grid=(2, 2))
    with pytest.raises(ValueError, match=r"\(n_fixations, 2\)"):
        grid_symbols([1, 2], image_shape=(60, 100), grid=(2, 2))
    with pytest.raises(ValueError, match="positive integers"):
        grid_symbols([[1, 2]], image_shape=(60, 100), grid=(0, 2))


def test_cluster_centers_find_two_blobs_and_symbols_follow(rng):
    blob_a = rng.normal([40, 30], 2.0, size=(30, 2))
    blob_b = rng.normal([160, 90], 2.0, size=(20, 2))
    centres = cluster_centres(np.vstack([blob_a, blob_b]))  # estimated bandwidth
    assert centres.shape == (2, 2)
    order = np.argsort(centres[:, 0])
    np.testing.assert_allclose(centres[order], [[40, 30], [160, 90]], atol=2.0)
    labels = cluster_symbols(np.vstack([blob_a[:3], blob_b[:3]]), centres)
    assert len(set(labels[:3])) == 1 and len(set(labels[3:])) == 1 and labels[0] != labels[3]
    np.testing.assert_array_equal(cluster_centres([[5, 5], [5, 5]]), [[5, 5]])
    with pytest.raises(ValueError, match="bandwidth"):
        cluster_centres(blob_a, bandwidth=-1.0)


# ---------------------------------------------------------------- the pinned protocol
HUMANS = [[0, 1, 2], [0, 2], [1, 2]]


def test_vs_humans_is_the_mean_over_pairs():
    got = sequence_score_vs_humans([[0, 1, 2], [2]], HUMANS)
    pairs = [sequence_score(p, h) for p in ([0, 1, 2], [2]) for h in HUMANS]
    assert got == pytest.approx(np.mean(pairs))


def test_include_self_changes_the_human_oracle():
    off_diagonal = (2 / 3 + 2 / 3 + 1 / 2) / 3
    assert sequence_score_vs_humans(None, HUMANS) == pytest.approx(off_diagonal)
    assert sequence_score_vs_humans(None, HUMANS, include_self=True) == pytest.approx(
        (6 * off_diagonal + 3) / 9)
    with pytest.raises(ValueError, match="no self"):
        sequence_score_vs_humans([[0, 1]], HUMANS, include_self=True)
    with pytest.raises(ValueError, match="at least 2"):
        sequence_score_vs_humans(None, [[0, 1]])
    assert sequence_score_vs_humans(None, [[0, 1]], include_self=True) == 1.0


def test_truncation_changes_the_score():
    predicted = [[0, 1, 2, 1, 0, 3]]
    full = sequence_score_vs_humans(predicted, HUMANS)
    cut = sequence_score_vs_humans(predicted, HUMANS, stop_at_target=True, target=2)
    assert cut == pytest.approx(sequence_score_vs_humans([[0, 1, 2]], HUMANS))
    assert cut > full
    short = sequence_score_vs_humans(predicted, HUMANS, max_length=2)
    assert short == pytest.approx(np.mean([sequence_score([0, 1], h[:2]) for h in HUMANS]))
    never = sequence_score_vs_humans(predicted, HUMANS, stop_at_target=True, target=9)
    assert never == full  # a scanpath that never reaches the target is kept whole


def test_coordinate_symbols_and_target_box():
    # two humans and a model on a 100 x 200 image; the target box is the right half's top
    humans = [np.array([[20, 20], [120, 20], [180, 80]], float),
              np.array([[25, 70], [130, 25], [30, 30]], float)]
    predicted = [np.array([[22, 18], [125, 22], [190, 90]], float)]
    grid = sequence_score_vs_humans(predicted, humans, symbols="grid", image_shape=(100, 200),
                                    grid=(2, 2))
    expected = np.mean([sequence_score([0, 1, 3], [0, 1, 3]), sequence_score([0, 1, 3], [2, 1, 0])])
    assert grid == pytest.approx(expected)
    fine = sequence_score_vs_humans(predicted, humans, symbols="grid", image_shape=(100, 200),
                                    grid=(10, 20))
    assert fine < grid  # finer cells separate fixations that coarse ones merge
    clusters = sequence_score_vs_humans(predicted, humans, symbols="clusters", bandwidth=30.0)
    assert 0 <= clusters <= 1
    centres = np.array([[25.0, 25.0], [125.0, 25.0], [185.0, 85.0], [25.0, 70.0]])
    fixed = sequence_score_vs_humans(predicted, humans, symbols="clusters", centres=centres)
    assert fixed == pytest.approx(np.mean([1.0, sequence_score([0, 1, 2], [3, 1, 0])]))
    boxed = sequence_score_vs_humans(predicted, humans, symbols="grid", image_shape=(100, 200),
                                     grid=(2, 2), stop_at_target=True, target=(100, 0, 200, 50))
    assert boxed == pytest.approx(np.mean([1.0, sequence_score([0, 1], [2, 1])]))


def test_vs_humans_rejects_inconsistent_protocols():
    with pytest.raises(ValueError, match="needs target"):
        sequence_score_vs_humans([[0]], HUMANS, stop_at_target=True)
    with pytest.raises(ValueError, match="stop_at_target=True"):
        sequence_score_vs_humans([[0]], HUMANS, target=2)
    with pytest.raises(ValueError, match="symbols"):
        sequence_score_vs_humans([[0]], HUMANS, symbols="pixels")
    with pytest.raises(ValueError, match="only with symbols='grid'"):
        sequence_score_vs_humans([[0]], HUMANS, grid=(2, 2))
    with pytest.raises(ValueError, match="needs image_shape"):
        sequence_score_vs_humans([np.zeros((2, 2))], [np.zeros((2, 2))], symbols="grid")
    with pytest.raises(ValueError, match="max_length"):
        sequence_score_vs_humans([[0]], HUMANS, max_length=0)
    with pytest.raises(ValueError, match="humans is empty"):
        sequence_score_vs_humans([[0]], [])
    with pytest.raises(ValueError, match="predicted is empty"):
        sequence_score_vs_humans([], HUMANS)
    with pytest.raises(ValueError, match=r"humans\[1\] is an empty scanpath"):
        sequence_score_vs_humans([[0]], [[0], []])
    with pytest.raises(ValueError, match="box"):
        sequence_score_vs_humans([np.zeros((2, 2))], [np.zeros((2, 2))], symbols="clusters",
                                 stop_at_target=True, target=(1, 2))


# ---------------------------------------------------------------- ScanMatch
def test_scanmatch_substitution_matrix_is_threshold_minus_distance():
    sub = scanmatch_substitution_matrix((3, 4), threshold=2.0)
    assert sub.shape == (12, 12)
    np.testing.assert_array_equal(np.diag(sub), 2.0)
    assert sub[0, 1] == 1.0 and sub[0, 4] == 1.0       # one cell right, one cell down
    assert sub[0, 5] == pytest.approx(2 - np.sqrt(2))
    assert sub[0, 2] == 0.0 and sub[0, 11] == pytest.approx(2 - np.hypot(2, 3))
    np.testing.assert_array_equal(sub, sub.T)
    with pytest.raises(ValueError, match="threshold"):
        scanmatch_substitution_matrix((3, 4), threshold=0.0)


def test_scanmatch_hand_computed():
    # a 1 x 3 grid over a 10 x 30 image, threshold 2: S = [[2,1,0],[1,2,1],[0,1,2]]
    kw = dict(image_shape=(10, 30), grid=(1, 3), threshold=2.0)
    a, b = [[5, 5], [25, 5]], [[5, 5], [15, 5]]                  # cells 0 2 and 0 1
    assert scanmatch(a, b, temporal_bin=None, **kw) == pytest.approx(3 / 4)  # (2 + 1) / (2 * 2)
    # 50 ms bins: durations 0.10 0.05 -> 0 0 2 and 0.05 0.10 -> 0 1 1; best: 2 + 1 + 1
    a3, b3 = [[5, 5, 0.10], [25, 5, 0.05]], [[5, 5, 0.05], [15, 5, 0.10]]
    assert scanmatch(a3, b3, **kw) == pytest.approx(4 / 6)
    # a fixation shorter than half a bin still counts once; 0.125 s rounds up to 3 bins
    assert scanmatch([[5, 5, 0.01]], [[5, 5, 0.125]], **kw) == pytest.approx(2 / 6)
    # a gap penalty: 0 against 0 2 aligns 0-0 (2) and pays one gap (-1): 1 / (2 * 2)
    assert scanmatch([[5, 5]], [[5, 5], [25, 5]], gap=-1.0, temporal_bin=None,
                     **kw) == pytest.approx(0.25)
    # far cells score negatively: the best alignment is then all gaps (0 with gap 0)
    assert scanmatch([[5, 5]], [[25, 5]], temporal_bin=None, image_shape=(10, 30),
                     grid=(1, 3), threshold=1.0) == 0.0


def test_scanmatch_batch_matches_reference_aligner(rng):
    grid, shape, threshold = (4, 5), (60, 100), 2.5
    sub = scanmatch_substitution_matrix(grid, threshold)
    a, b, expected = [], [], []
    for _ in range(60):
        x = np.column_stack([rng.uniform(0, 100, n := rng.integers(1, 9)),
                             rng.uniform(0, 60, n), rng.uniform(0.02, 0.4, n)])
        y = np.column_stack([rng.uniform(0, 100, m := rng.integers(1, 9)),
                             rng.uniform(0, 60, m), rng.uniform(0.02, 0.4, m)])
        a.append(x)
        b.append(y)
        sx = np.repeat(grid_symbols(x, image_shape=shape, grid=grid),
                       np.maximum(1, np.floor(x[:, 2] / 0.05 + 0.5)).astype(int))
        sy = np.repeat(grid_symbols(y, image_shape=shape, grid=grid),
                       np.maximum(1, np.floor(y[:, 2] / 0.05 + 0.5)).astype(int))
        raw = reference_alignment(sx, sy, lambda p, q: sub[p, q], -0.5)
        expected.append(raw / (threshold * max(len(sx), len(sy))))
    got = scanmatch_scores(a, b, image_shape=shape, grid=grid, threshold=threshold, gap=-0.5)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    same = scanmatch_scores(a, a, image_shape=shape, grid=grid, threshold=threshold)
    np.testing.assert_allclose(same, 1.0, rtol=1e-12)
    np.testing.assert_allclose(scanmatch_scores(b, a, image_shape=shape, grid=grid,
                                               threshold=threshold, gap=-0.5), got, rtol=1e-12)


def test_scanmatch_defaults_and_errors():
    a = [[100, 100, 0.2], [700, 300, 0.3]]
    assert scanmatch(a, a, image_shape=(1024, 1280)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"\(x, y, duration\)"):
        scanmatch([[1, 2]], [[1, 2]], image_shape=(10, 10))          # durations needed
    with pytest.raises(ValueError, match="negative fixation durations"):
        scanmatch([[1, 2, -0.1]], [[1, 2, 0.1]], image_shape=(10, 10))
    with pytest.raises(ValueError, match=r"b: .*outside"):
        scanmatch([[1, 2, 0.1]], [[11, 2, 0.1]], image_shape=(10, 10))
    with pytest.raises(ValueError, match="empty scanpath"):
        scanmatch(np.zeros((0, 3)), [[1, 2, 0.1]], image_shape=(10, 10))
    with pytest.raises(ValueError, match="temporal_bin"):
        scanmatch(a, a, image_shape=(1024, 1280), temporal_bin=0.0)
    with pytest.raises(ValueError, match="same number"):
        scanmatch_scores([a], [a, a], image_shape=(1024, 1280))
