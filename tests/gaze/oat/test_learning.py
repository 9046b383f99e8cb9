"""Learning test: OAT trained on the synthetic visual-search benchmark beats every baseline."""

from __future__ import annotations

import time

import pytest
import torch

from neuroattn.datasets.synthetic import make_visual_search
from neuroattn.gaze.oat import (
    BASELINES,
    OAT,
    human_agreement,
    make_baseline,
    scanpath_report,
    train_oat,
)

SS_MARGIN = 0.1
"""OAT's greedy sequence score must exceed every baseline's best by this much."""


def run_benchmark() -> dict:
    """Train a small OAT (d 64, 2 + 2 layers) and score it and the baselines on held-out trials.

    Benchmark: 1000 training, 60 validation and 100 test trials of 4 x 6 grids,
    3 subjects each; the test trials have new layouts and held-out target
    conjunctions. Sequence scores are against every human path of a trial
    (no self-comparison for the human-human oracle); the baselines get the
    better of their greedy and sampled (10 paths) scores, OAT's sequence
    score is greedy and its delta from 10 sampled paths per trial.
    """
    torch.manual_seed(0)
    data = make_visual_search(n_train=1000, n_subjects=3, seed=0)
    model = OAT(n_rows=4, n_cols=6, d_model=64, n_heads=4, n_encoder_layers=2,
                n_decoder_layers=2, dim_feedforward=128, dropout=0.0, cnn_pool=(4, 2),
                pe_iterations=2000, max_len=24, seed=0)
    t0 = time.perf_counter()
    result = train_oat(model, data.train, data.val, max_epochs=20, batch_size=24, lr=2e-3,
                       patience=6, val_method="sample", val_samples=3, seed=0, progress=False)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    greedy, ended = model.generate(data.test, return_ended=True)
    greedy_s = time.perf_counter() - t0
    sampled = model.generate(data.test, method="sample", n_samples=10, seed=1)
    out = {"oat_greedy": scanpath_report(greedy, data.test, ended=ended),
           "oat_sample": scanpath_report(sampled, data.test),
           "human_human_ss": human_agreement(data.test), "train_s": train_s,
           "epochs": len(result.history), "best_epoch": result.best_epoch,
           "greedy_paths_per_s": len(data.test) / greedy_s, "baselines": {}}
    for name in BASELINES:
        base = make_baseline(name).fit(data.train)
        reports = [scanpath_report(base.generate(data.test, method="greedy"), data.test),
                   scanpath_report(base.generate(data.test, method="sample", n_samples=10,
                                                 seed=1), data.test)]
        out["baselines"][name] = {"sequence_score": max(r["sequence_score"] for r in reports),
                                  "delta": min(r["delta"] for r in reports)}
    return out


@pytest.fixture
def one_thread():
    """One torch thread: the training trajectory (and the numbers below) then ignore the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_oat_beats_every_baseline_on_held_out_trials(one_thread):
    """OAT beats every baseline on held-out trials (pass criteria of reference §6.1).

    Measured here (1 CPU thread, seed 0; 151 s in all, 141 s of training:
    18 epochs, early-stopped, best validation delta at epoch 11):

    ===============  ==============  =====================
    model            sequence score  behavioural delta
    ===============  ==============  =====================
    OAT greedy       0.456           0.60
    OAT sampled      0.427           0.33
    human-human      0.446           -
    random           0.137           0.493
    centre bias      0.199           0.617
    nearest first    0.231           0.592
    target sim.      0.307           0.573
    ===============  ==============  =====================

    (baselines: the better of greedy and sampled.) OAT ends the path right
    after the target in 95 % of the test trials greedily (98 % of the sampled
    paths); the greedy failures are paths that loop on refixations until
    ``max_len`` and never reach the target. Thresholds: greedy sequence score
    >= best baseline + 0.1 (measured +0.149), EOS right after the target >= 0.9
    greedily and sampled, sampled delta below the best baseline's (0.33 < 0.493).
    A second training seed gave 0.443, 95 % / 97 %, 0.21.
    """
    res = run_benchmark()
    best_ss = max(b["sequence_score"] for b in res["baselines"].values())
    best_delta = min(b["delta"] for b in res["baselines"].values())
    assert res["oat_greedy"]["sequence_score"] >= best_ss + SS_MARGIN, res
    assert res["oat_greedy"]["eos_after_target"] >= 0.9, res
    assert res["oat_sample"]["eos_after_target"] >= 0.9, res
    assert res["oat_sample"]["delta"] < best_delta, res
