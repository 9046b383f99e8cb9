"""Learning test: the tiny MVPFormer detects synthetic seizures, a shuffled-label control
does not, and the model beats the line-length baseline (:mod:`neuroattn.ieeg.baselines`)
fitted on the same training recordings. Trained on 6 and 16 channels, it must also work on
unseen channel counts.

Data: the foundation's synthetic iEEG (128 Hz, amplitude 5, spikes and artefacts as decoys),
8-s windows of eight 1-s segments every 1 s; a window is positive when its last segment
overlaps a seizure (MVPFormer's online-detection label). Held-out recordings use other seeds.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuroattn.datasets.synthetic import make_synthetic_ieeg
from neuroattn.ieeg import LineLengthDetector, MVPFormer, preset

SFREQ, SEGMENT, N_SEGMENTS = 128, 128, 8


def _windows(n_channels: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    rec = make_synthetic_ieeg(n_channels=n_channels, duration_s=480.0, sfreq=SFREQ,
                              n_seizures=6, amplitude=5.0, seed=seed)
    data, labels = torch.from_numpy(rec.data), rec.sample_labels()
    width = N_SEGMENTS * SEGMENT
    starts = range(0, data.shape[1] - width + 1, SEGMENT)
    x = torch.stack([data[:, s:s + width] for s in starts])
    y = torch.tensor([int(labels[s + width - SEGMENT:s + width].any()) for s in starts])
    return x, y


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve by the rank-sum formula."""
    ranks = np.empty(len(scores))
    ranks[np.argsort(scores)] = np.arange(1, len(scores) + 1)
    pos = labels == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _train(train_sets, *, shuffle_labels: bool, seed: int = 0, steps: int = 300) -> MVPFormer:
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    if shuffle_labels:
        train_sets = [(x, y[torch.randperm(len(y), generator=g)]) for x, y in train_sets]
    model = MVPFormer(preset("tiny", dropout=0.1))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    for step in range(steps):
        x, y = train_sets[step % len(train_sets)]  # one channel count per batch
        pos, neg = torch.nonzero(y).flatten(), torch.nonzero(y == 0).flatten()
        idx = torch.cat([pos[torch.randint(len(pos), (16,), generator=g)],
                         neg[torch.randint(len(neg), (16,), generator=g)]])  # balanced
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def _probabilities(model: MVPFormer, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return torch.cat([model(x[i:i + 128]).softmax(-1)[:, 1]
                          for i in range(0, len(x), 128)]).numpy()


def _score(model: MVPFormer, x: torch.Tensor, y: torch.Tensor) -> float:
    return auroc(_probabilities(model, x), y.numpy())


@pytest.mark.slow
@pytest.mark.timeout(900)  # about 2 min on 2 idle cores; more on a loaded machine
def test_tiny_mvpformer_detects_synthetic_seizures_across_montages():
    train = [_windows(c, seed) for c, seed in [(6, 1), (6, 2), (6, 3), (16, 4), (16, 5), (16, 6)]]
    held_out = {c: _windows(c, seed) for c, seed in [(6, 11), (16, 12), (4, 13), (9, 14),
                                                      (12, 15)]}
    model = _train(train, shuffle_labels=False)
    scores = {c: _score(model, *xy) for c, xy in held_out.items()}
    assert min(scores[6], scores[16]) >= 0.75, scores  # seen channel counts
    assert min(scores[4], scores[9], scores[12]) >= 0.70, scores  # unseen channel counts
    # A label-blind model still latches onto whatever separates windows most (seizures do),
    # in a random direction: across 12 seeds one shuffled-label run scored 0.34-0.73 pooled
    # (mean 0.52), and ensembles of three 0.35-0.53, while trained models scored 0.90-0.91
    # (3 seeds). So the control is an ensemble of three shuffled-label runs with the same
    # budget, scored on all held-out windows pooled (30 seizures), and the trained model must
    # beat it by a margin as well as the control staying near chance.
    x_all = [x for x, _ in held_out.values()]
    y_all = np.concatenate([y.numpy() for _, y in held_out.values()])
    trained = auroc(np.concatenate([_probabilities(model, x) for x in x_all]), y_all)
    controls = [_train(train, shuffle_labels=True, seed=seed) for seed in (0, 1, 2)]
    control = auroc(np.mean([np.concatenate([_probabilities(m, x) for x in x_all])
                             for m in controls], axis=0), y_all)
    assert control <= 0.70, (control, trained)
    assert trained - control >= 0.15, (control, trained)
    # The classic baseline, fitted on the same training recordings and scored on the same
    # held-out windows: line length of the last second (each channel divided by its causal
    # reference, the median of the last 300 windows; mean over channels; a 2-number logistic
    # map). Pooled AUROC: line length 0.837; trained models 0.905, 0.908, 0.899 (seeds 0-2):
    # margins 0.062-0.071, so the 0.03 holds with 0.03 to spare. With the offline
    # reference (the median over the whole recording, future included) line length scores
    # 0.868 and the margins shrink to 0.031-0.040. Band power scored 0.927 offline: above the
    # tiny model. At the event level (SzCORE, alarm rule chosen on two 1-h validation
    # recordings, 1 FA/h, two 1-h test recordings) the tiny model does NOT beat line length
    # (sensitivity 0.89-1.00 at 1.5-2.5 FA/h against 1.00 at 0 FA/h), so that margin is not
    # asserted; see models/mvpformer.md.
    linelength = LineLengthDetector().fit_windows(train, SFREQ)
    baseline = auroc(np.concatenate([linelength.score_windows(x, SFREQ) for x in x_all]), y_all)
    assert trained - baseline >= 0.03, (baseline, trained)
