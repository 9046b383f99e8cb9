"""Voxelwise ridge with per-target alpha: our RidgeEncoder vs himalaya's RidgeCV.

The workload of himalaya's own ``benchmarks/benchmark_backends.py``:
3000 samples x 1000 features x 30,000 targets, 20 alphas, cv = 3,
float32 (``--quick``: 3000 targets). Synthetic data with a known linear
signal (a different signal-to-noise ratio per target) and a held-out test
set of 500 samples.

Both estimators get the same alphas, the same explicit folds (``KFold(3)``
as a list of index pairs), ``fit_intercept=True`` (each fold centred on its
training samples), the same CV score (R², passed to himalaya as
``solver_params=dict(score_func=himalaya.scoring.r2_score)``; its default is
the negative squared error), and ``n_targets_batch=5000``. himalaya runs on
its ``torch`` backend (``torch_cuda`` on a GPU). Timed: ``fit`` (cross-validation
plus the refit), after a small warm-up fit of each; the two alternate over
``--repeats`` fits (median), so both see the same load on a shared machine.

Reported: ``ours_s``, ``himalaya_s``, ``time_ratio`` (ours / himalaya),
``max_abs_pred_diff`` on the test set, and ``score_diff`` (ours minus
himalaya, mean test-set Pearson r over targets).

Usage::

    python benchmarks/bench_encoding.py --quick --out bench_encoding.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import KFold

from neuroattn.encoding.metrics import pearson_r
from neuroattn.encoding.ridge import RidgeEncoder
from neuroattn.reports import write_json


def make_data(n_samples: int, n_features: int, n_targets: int, n_test: int, seed: int = 0):
    """Features (n, p) and responses (n, t) = X W + noise, with per-target SNR."""
    g = torch.Generator().manual_seed(seed)
    n = n_samples + n_test
    X = torch.randn(n, n_features, generator=g)
    W = torch.randn(n_features, n_targets, generator=g) / n_features ** 0.5
    W *= torch.rand(n_targets, generator=g) * 2  # signal sd in [0, 2], noise sd 1
    Y = X @ W
    Y += torch.randn(n, n_targets, generator=g)
    X, Y = X.numpy(), Y.numpy()
    return X[:n_samples], Y[:n_samples], X[n_samples:], Y[n_samples:]


def himalaya_model(alphas, folds, batch, cuda: bool):
    from himalaya.backend import set_backend
    from himalaya.ridge import RidgeCV
    from himalaya.scoring import r2_score

    set_backend("torch_cuda" if cuda else "torch", on_error="raise")
    return RidgeCV(alphas=alphas, cv=folds, fit_intercept=True,
                   solver_params=dict(score_func=r2_score, n_targets_batch=batch))


def to_numpy(a) -> np.ndarray:
    return a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)


def fit_seconds(model, X, Y, cuda: bool) -> float:
    if cuda:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    model.fit(X, Y)
    if cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def transformer_images_per_s(device: torch.device, *, n_train: int, epochs: int) -> dict:
    """Training throughput of TransformerBrainEncoder on the synthetic routing benchmark.

    The paper's sizes for the decoder (d 768, 16 heads, feed-forward 1024) on a 16 x 16 grid of
    768 features, one query per ROI; images per second over whole epochs (validation included).
    """
    from neuroattn.datasets.synthetic import make_synthetic_encoding
    from neuroattn.encoding import TransformerBrainEncoder

    data = make_synthetic_encoding(n_train=n_train, n_test=16, height=16, width=16,
                                   n_features=768, seed=0)
    enc = TransformerBrainEncoder(d_model=768, n_heads=16, dim_feedforward=1024, batch_size=32,
                                  max_epochs=epochs, patience=epochs, device=str(device),
                                  progress=False)
    start = time.perf_counter()
    enc.fit(data.X_train, data.Y_train, rois=data.roi_membership)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    return {"transformer_train_images_per_s": n_train * epochs / seconds,
            "transformer_config": {"n_train": n_train, "epochs": epochs, "grid": [16, 16],
                                   "n_features": 768, "d_model": 768, "n_heads": 16,
                                   "n_rois": data.n_rois, "n_voxels": data.n_voxels}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1/10 of the targets (3000)")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed fits per estimator (median; default 3 quick, 1 full)")
    args = parser.parse_args()
    from neuroattn.device import resolve_device

    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    n_samples, n_features, n_alphas, n_splits, batch, n_test = 3000, 1000, 20, 3, 5000, 500
    n_targets = 3000 if args.quick else 30000
    repeats = args.repeats or (3 if args.quick else 1)
    alphas = np.logspace(-2, 6, n_alphas)
    X, Y, X_test, Y_test = make_data(n_samples, n_features, n_targets, n_test)
    folds = list(KFold(n_splits).split(X))

    def ours(cv=folds):
        return RidgeEncoder(alphas=alphas, cv=cv, fit_intercept=True, device=device,
                            n_targets_batch=batch, dtype="float32")

    def theirs(cv=folds):
        return himalaya_model(alphas.astype("float32"), cv, batch, cuda)

    small = list(KFold(n_splits).split(X[:300]))
    for make in (ours, theirs):  # warm-up: load lazily imported code and kernels
        make(small).fit(X[:300, :50], Y[:300, :20])

    # Alternate the two, so that both see the same load on a shared machine.
    ours_times, him_times = [], []
    for r in range(repeats):
        m_ours = ours()
        ours_times.append(fit_seconds(m_ours, X, Y, cuda))
        m_him = theirs()
        him_times.append(fit_seconds(m_him, X, Y, cuda))
        print(f"repeat {r + 1}: ours {ours_times[-1]:.2f} s, himalaya {him_times[-1]:.2f} s",
              flush=True)
    ours_s, him_s = statistics.median(ours_times), statistics.median(him_times)

    pred_ours = m_ours.predict(X_test)
    pred_him = to_numpy(m_him.predict(X_test))
    r_ours, r_him = pearson_r(pred_ours, Y_test), pearson_r(pred_him, Y_test)
    alphas_him = to_numpy(m_him.best_alphas_)
    report = {
        "benchmark": "encoding",
        "config": {"n_samples": n_samples, "n_features": n_features, "n_targets": n_targets,
                   "n_alphas": n_alphas, "alphas": "logspace(-2, 6, 20)", "cv": n_splits,
                   "folds": "KFold(3), explicit, same for both", "fit_intercept": True,
                   "cv_score": "R2 (both)", "n_targets_batch": batch, "dtype": "float32",
                   "n_test": n_test, "repeats": repeats, "quick": args.quick},
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                    "himalaya": __import__("himalaya").__version__,
                    "device": str(device),
                    "gpu": torch.cuda.get_device_name(device) if cuda else None},
        "ours_s": ours_s,
        "himalaya_s": him_s,
        "ours_times_s": ours_times,
        "himalaya_times_s": him_times,
        "time_ratio": ours_s / him_s,
        "max_abs_pred_diff": float(np.abs(pred_ours - pred_him).max()),
        "pred_scale": float(np.abs(pred_him).max()),
        "ours_test_r": float(r_ours.mean()),
        "himalaya_test_r": float(r_him.mean()),
        "score_diff": float(r_ours.mean() - r_him.mean()),
        "same_alpha_fraction": float(np.mean(np.isclose(m_ours.best_alphas_, alphas_him,
                                                        rtol=1e-4))),
        **transformer_images_per_s(device, n_train=256 if args.quick else 1024,
                                   epochs=1 if args.quick else 2),
    }
    print(json.dumps({k: v for k, v in report.items() if not isinstance(v, (dict, list))},
                     indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_json(args.out, report)


if __name__ == "__main__":
    main()
