"""Learning test: OAT on the synthetic visual search lies between every baseline and the oracle.

The oracle is the policy that generated the simulated subjects
(:class:`~neuroattn.gaze.oat.PolicyOracle`): the ceiling a model of that
policy can reach.
"""

from __future__ import annotations

import os
import time

import pytest
import torch

from neuroattn.datasets.synthetic import make_visual_search
from neuroattn.gaze.oat import (
    BASELINES,
    OAT,
    PolicyOracle,
    fit_oat,
    gap_closed,
    human_agreement,
    make_baseline,
    scanpath_report,
)

SS_MARGIN = 0.1
"""OAT's greedy sequence score must exceed every baseline's best by this much."""
DELTA_GAP = 0.3
"""Share of the delta gap from the best baseline to the oracle's samples that sampled OAT must
close (measured 0.58, 0.44 and 0.49 with training seeds 0, 1 and 2)."""
EOS_GREEDY = 0.85
"""Share of greedy test paths that must end right after the target (measured 0.95, 0.92 and
0.91 with training seeds 0, 1 and 2 here; seed 0 gave 0.87 on another machine of this kind)."""
EOS_SAMPLED = 0.9
"""The same for the sampled paths (measured 0.97, 0.98 and 0.98 with training seeds 0, 1, 2)."""
ORACLE = {"greedy": (0.5126, 0.4569), "most_likely": (0.5049, 0.5464), "sample": (0.4627, 0.0251)}
"""The oracle's (sequence score, delta) on these test trials, as the card reports them; the data
and the sampling seed fix them, so they are checked to 1e-3."""


def run_benchmark(run_dir: str | os.PathLike, seed: int = 0) -> dict:
    """Train a small OAT (d 64, 2 + 2 layers) and score it and the baselines on held-out trials.

    Benchmark: 1000 training, 60 validation and 100 test trials of 4 x 6 grids,
    3 subjects each; the test trials have new layouts and held-out target
    conjunctions. Sequence scores are against every human path of a trial
    (no self-comparison for the human-human oracle); the baselines get the
    better of their greedy and sampled (10 paths) scores, OAT's sequence
    score is greedy and its delta from 10 sampled paths per trial. The
    oracle gives its most likely path, its step-wise arg-max path and 10
    samples per trial.
    """
    torch.manual_seed(0)
    data = make_visual_search(n_train=1000, n_subjects=3, seed=0)
    model = OAT.preset("small", seed=0)
    t0 = time.perf_counter()
    result = fit_oat(model, data.train, data.val, run_dir, epochs=20, batch_size=24, lr=2e-3,
                     patience=6, val_method="sample", val_samples=3, seed=seed, progress=False)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    greedy, ended = model.generate(data.test, return_ended=True)
    greedy_s = time.perf_counter() - t0
    sampled = model.generate(data.test, method="sample", n_samples=10, seed=1)
    out = {"oat_greedy": scanpath_report(greedy, data.test, ended=ended),
           "oat_sample": scanpath_report(sampled, data.test),
           "human_human_ss": human_agreement(data.test), "train_s": train_s,
           "epochs": len(result["history"]), "best_epoch": result["best_epoch"],
           "greedy_paths_per_s": len(data.test) / greedy_s, "baselines": {}}
    for name in BASELINES:
        base = make_baseline(name).fit(data.train)
        reports = [scanpath_report(base.generate(data.test, method="greedy"), data.test),
                   scanpath_report(base.generate(data.test, method="sample", n_samples=10,
                                                 seed=1), data.test)]
        out["baselines"][name] = {"sequence_score": max(r["sequence_score"] for r in reports),
                                  "delta": min(r["delta"] for r in reports)}
    oracle = PolicyOracle()
    out["oracle"] = {method: scanpath_report(oracle.generate(data.test, method=method,
                                                             n_samples=n, seed=1), data.test)
                     for method, n in (("most_likely", 1), ("greedy", 1), ("sample", 10))}
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
def test_oat_lies_between_the_baselines_and_the_oracle(one_thread, tmp_path):
    """OAT beats every baseline on held-out trials (reference §6.1) and stays below the oracle.

    Measured here (1 CPU thread, seed 0; 517 s in all on a loaded 2-core
    machine, 488 s of training: 20 epochs, best validation delta at epoch 19):

    ==========================  ==============  =================
    model                       sequence score  behavioural delta
    ==========================  ==============  =================
    oracle step-wise arg-max    0.513           0.457
    oracle most likely path     0.505           0.546
    oracle sampled              0.463           0.025
    OAT greedy                  0.486           0.558
    OAT sampled                 0.435           0.222
    human-human                 0.446           -
    random                      0.137           0.493
    centre bias                 0.199           0.617
    nearest first               0.231           0.592
    target sim.                 0.307           0.573
    ==========================  ==============  =================

    (baselines: the better of greedy and sampled.) Greedy OAT closes 0.87 of
    the sequence-score gap from the best baseline to the oracle's step-wise
    arg-max (0.90 to its most likely path), sampled OAT 0.82 of the gap to
    the oracle's samples and 0.58 of the delta gap. Greedy OAT's delta is
    worse than random's: it refixates too often (0.17 against the subjects'
    0.06) and almost never revisits; one deterministic path per trial does
    not reproduce the subjects' refixations and revisits (the oracle's own
    greedy path has a delta of 0.46). OAT ends the path right after the
    target in 95 % of the test trials greedily (97 % of the sampled paths).
    Training seeds 1 and 2 (``fit_oat(seed=...)``; same data and initial
    weights): greedy 0.451 and 0.466 (gaps 0.70 and 0.77), sampled delta
    0.288 and 0.263 (gaps 0.44 and 0.49), EOS 92 % / 98 % and 91 % / 98 %.
    Seed 0 gives the same numbers on :func:`~neuroattn.gaze.oat.fit_oat`
    (the package's Trainer) as on the loop it replaced.
    (When OAT landed, the same code and seed 0 stopped early at epoch 18 and
    gave 0.456 and 0.33; the cause of the change was not traced.)
    Thresholds: greedy sequence score >= best baseline + 0.1 and <= the
    oracle's step-wise arg-max, EOS right after the target >= 0.85
    greedily and >= 0.9 sampled (the greedy rate varies most across seeds
    and machines), sampled delta between the oracle's and the best
    baseline's, closing at least 0.3 of that gap.
    """
    res = run_benchmark(tmp_path)
    best_ss = max(b["sequence_score"] for b in res["baselines"].values())
    best_delta = min(b["delta"] for b in res["baselines"].values())
    oracle = res["oracle"]
    for method, (ss, delta) in ORACLE.items():
        assert oracle[method]["sequence_score"] == pytest.approx(ss, abs=1e-3), method
        assert oracle[method]["delta"] == pytest.approx(delta, abs=1e-3), method
    greedy_ss = res["oat_greedy"]["sequence_score"]
    assert best_ss + SS_MARGIN <= greedy_ss <= oracle["greedy"]["sequence_score"], res
    assert res["oat_greedy"]["eos_after_target"] >= EOS_GREEDY, res
    assert res["oat_sample"]["eos_after_target"] >= EOS_SAMPLED, res
    delta = res["oat_sample"]["delta"]
    assert oracle["sample"]["delta"] < delta < best_delta, res
    assert gap_closed(delta, best_delta, oracle["sample"]["delta"]) >= DELTA_GAP, res
