"""Learning test: on the synthetic benchmark with known routing, the transformer encoder
predicts near the noise ceiling, recovers every ROI's routing, and beats both baselines; on a
generator outside its function class (per-voxel Gaussian pRFs) it keeps within 0.05 of the best
baseline, and no more is claimed.

The matched generator is the transformer's own class (one attention map per ROI, a linear read
per voxel), so the first test shows a correctly specified model beating misspecified ones.

The benchmark (`neuroattn.datasets.synthetic.encoding`) has retinotopic ROIs (static pRFs),
category ROIs (content routing) and mixed ROIs. A static spatial readout can only express the
first kind; ridge on the flattened grid has no routing at all.

Measured on seed 2 (2000 training images, 20 epochs, about 12 s on 2 cores): r²/NC 0.94
(spatial 0.69, ridge 0.42); routing r 0.99-1.00 on retinotopic ROIs and 0.98-0.99 on category
and mixed ROIs, against 0.01-0.11 for the static baseline. Seeds 0, 1 and 3 give r²/NC
0.95, margins of at least 0.27 over spatial and 0.50 over ridge, and routing r >= 0.96 on
every ROI. The thresholds are issue 5's.
"""

from __future__ import annotations

import numpy as np
import pytest

from neuroattn.datasets.synthetic.encoding import make_synthetic_encoding
from neuroattn.encoding import SpatialFeatureEncoder, TransformerBrainEncoder
from neuroattn.encoding.metrics import noise_normalized_accuracy
from neuroattn.encoding.ridge import RidgeEncoder


def _map_correlation(model_maps: np.ndarray, true_maps: np.ndarray) -> np.ndarray:
    """Mean over images of the Pearson r between model and true maps, per ROI."""
    a = model_maps.reshape(*model_maps.shape[:2], -1)
    b = true_maps.reshape(*true_maps.shape[:2], -1)
    a = a - a.mean(-1, keepdims=True)
    b = b - b.mean(-1, keepdims=True)
    r = (a * b).sum(-1) / np.sqrt((a * a).sum(-1) * (b * b).sum(-1) + 1e-12)
    return r.mean(0)


def _centre_of_mass(maps: np.ndarray) -> np.ndarray:
    H, W = maps.shape[-2:]
    ys, xs = np.mgrid[:H, :W]
    return np.stack([(maps * ys).sum((-2, -1)), (maps * xs).sum((-2, -1))], -1)


def _fit_three(data) -> tuple[dict, dict]:
    """The transformer and both baselines, at the benchmark's settings: models and r²/NC."""
    rois, nc = data.roi_membership, data.noise_ceiling

    def accuracy(pred: np.ndarray) -> float:
        return float(noise_normalized_accuracy(pred, data.Y_test, nc).mean())

    transformer = TransformerBrainEncoder.preset("small")
    transformer.fit(data.X_train, data.Y_train, rois=rois)
    spatial = SpatialFeatureEncoder.preset("small")
    spatial.fit(data.X_train, data.Y_train, rois=rois)
    ridge = RidgeEncoder(cv=3).fit(data.X_train.reshape(len(data.X_train), -1), data.Y_train)

    scores = {"transformer": accuracy(transformer.predict(data.X_test)),
              "spatial": accuracy(spatial.predict(data.X_test)),
              "ridge": accuracy(ridge.predict(data.X_test.reshape(len(data.X_test), -1))),
              "truth": accuracy(data.true_response(data.X_test))}
    return {"transformer": transformer, "spatial": spatial, "ridge": ridge}, scores


@pytest.mark.slow
@pytest.mark.timeout(900)  # about 20 s on 2 idle cores; more on a loaded machine
def test_transformer_encoder_recovers_routing_and_beats_the_baselines():
    data = make_synthetic_encoding(n_train=2000, n_test=200, seed=2)
    models, scores = _fit_three(data)
    transformer, spatial = models["transformer"], models["spatial"]
    assert scores["transformer"] >= 0.85, scores
    assert scores["transformer"] - scores["spatial"] >= 0.15, scores
    assert scores["transformer"] - scores["ridge"] >= 0.30, scores

    true_maps = data.routing(data.X_test)
    model_maps = transformer.attention_maps(data.X_test)
    routing_r = _map_correlation(model_maps, true_maps)
    kinds = np.asarray(data.roi_kinds)
    report = dict(zip(data.roi_names, routing_r.round(3), strict=True))
    assert routing_r.min() >= 0.9, report
    shift = np.linalg.norm(_centre_of_mass(model_maps) - _centre_of_mass(true_maps), axis=-1)
    within_one_token = (shift <= 1.0).mean(0)
    assert within_one_token.min() >= 0.9, dict(zip(data.roi_names, within_one_token.round(3),
                                                     strict=True))

    # The static baseline routes retinotopic ROIs well and content ROIs badly: the paper's
    # claim in miniature.
    static_r = _map_correlation(spatial.attention_maps(data.X_test), true_maps)
    assert static_r[kinds == "retinotopic"].min() >= 0.9
    assert static_r[kinds == "category"].max() <= 0.2
    assert (routing_r - static_r)[kinds != "retinotopic"].min() >= 0.5


@pytest.mark.slow
@pytest.mark.timeout(900)  # about 25 s on 2 idle cores; more on a loaded machine
def test_transformer_keeps_up_with_the_best_baseline_outside_its_function_class():
    """Per-voxel Gaussian pRFs on channel blocks: the data are linear in the grid (ridge's class)
    and no ROI-level map can give an ROI's voxels their own centres, so the transformer is
    misspecified here. The claim is only that it stays within 0.05 of the best baseline.

    Measured (``analyses/encoder_routing.py --table-seeds 0 1 2 3``, same settings), transformer
    minus the best baseline, which is the static spatial-feature model on every seed: -0.016,
    -0.023, -0.007, -0.029 on seeds 0-3 (transformer 0.832, 0.819, 0.793, 0.823; spatial 0.847,
    0.841, 0.799, 0.852; ridge 0.58, 0.57, 0.55, 0.56; ground truth 0.96-0.98). So the
    transformer is slightly *behind* here, by at most 0.03, and the margin to the 0.05 bound is
    0.021 on the worst seed and 0.043 on seed 2, which this test runs.
    """
    data = make_synthetic_encoding(n_train=2000, n_test=200, seed=2, readout="prf")
    _, scores = _fit_three(data)
    # control: the generator's own model reaches the ceiling, so a shortfall is the models'
    assert scores["truth"] >= 0.9, scores
    best_baseline = max(scores["spatial"], scores["ridge"])
    assert scores["transformer"] >= best_baseline - 0.05, scores
