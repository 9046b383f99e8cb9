"""Foveated vs Cartesian ResNet18 on cluttered digits: accuracy, rotation robustness, localization.

One module-scoped training of each model (about five minutes together on one core),
then claims of the foveated-retinotopy paper on real handwritten digits
(scikit-learn's bundled set) at random positions, sizes and clutter, both models
trained upright (no rotation in training):

* fixating the digit's centre, the foveated ResNet18 classifies >= 90 % of
  held-out digits;
* **architectural invariance**: its retina has 16 angles, so rotations about the
  fixation by multiples of 22.5 degrees are column rolls, to which the
  rotation-invariant head (stride 1 along the angle) is invariant by
  construction: its accuracy there stays at the upright one (interpolation only);
* **robustness between grid angles**: rotations every 5.625 degrees that are not
  multiples of 22.5 (including the odd multiples of 11.25, half-way between two
  columns) are not column rolls; there the model keeps only what it learned.
  It is measured, not built in, and compared with the Cartesian control, which
  sees the same field of view through the same circular aperture;
* the class probability over an 11 x 11 scan of fixations peaks inside the
  digit's box in >= 80 % of test images.
"""

import numpy as np
import pytest
import torch

from neuroattn.datasets.cluttered_digits import make_cluttered_digits
from neuroattn.retina import CartesianResNet, FoveatedResNet, LogPolar
from neuroattn.retina.sampling import FixationCrop
from neuroattn.retina.scan import scan_fixations
from neuroattn.retina.training import (
    RotationSweep,
    accuracy,
    fit_fixation_classifier,
    fixation_batches,
    rotation_sweep,
)

ANGLES = np.arange(0.0, 180.1, 5.625)   # 33 angles: 9 on the 22.5-degree grid, 24 between
GRID_STEP = 22.5                        # the invariant retina's 16 angles

# Thresholds, from this module's recipe at seeds 0, 1, 2 (seed s: torch.manual_seed(s), training
# canvases seed s, test canvases seed s + 1, batch order seed s, trainer seed 1998 + s; the test
# runs seed 0; the study built each model just before training it) on 200 test canvases, 1 CPU
# thread. Foveated upright accuracy 0.935, 0.930, 0.930.
ON_GRID_DROP = 0.04
"""Upright minus the worst grid angle, foveated: measured 0.005, 0.005, 0.015."""
OFF_GRID_WORST = 0.85
"""Worst angle between grid angles, foveated: measured 0.905, 0.920, 0.915."""
OFF_GRID_DROP = 0.05
"""Upright minus the mean between grid angles, foveated: measured 0.016, 0.001, 0.007."""
MARGIN_OVER_CARTESIAN = 0.4
"""Cartesian control's drop between grid angles minus the foveated one: measured 0.60, 0.62,
0.61 (Cartesian upright 0.965, 0.965, 0.955; mean between grid angles 0.346, 0.341, 0.337)."""


def small_foveated(rotation_invariant=False):
    return FoveatedResNet("resnet18", num_classes=10, in_channels=1,
                          log_polar=LogPolar(32, 16, log2_r_max=-1, log2_r_min=-5, supersample=2),
                          rotation_invariant=rotation_invariant)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    torch.manual_seed(0)
    train = make_cluttered_digits(2000, seed=0, split="train")
    models = {"foveated": small_foveated(rotation_invariant=True),
              "cartesian": CartesianResNet("resnet18", num_classes=10, in_channels=1,
                                           crop=FixationCrop(32, log2_radius=-1))}
    for name, model in models.items():
        fit_fixation_classifier(
            model, fixation_batches(train.images, train.labels, train.centres, batch_size=32),
            tmp_path_factory.mktemp(name), epochs=2, lr=2e-3, jitter=2.0, warmup_steps=20,
            off_object=0.25, off_object_distance=20.0,
            progress=False)
    return models, make_cluttered_digits(400, seed=1, split="test")


@pytest.fixture(scope="module")
def sweeps(trained):
    """Accuracy of both models on 200 test canvases at every angle of ANGLES."""
    models, test = trained
    n = 200
    found = {name: rotation_sweep(model, test.images[:n], test.labels[:n], test.centres[:n],
                                  ANGLES, grid_step=GRID_STEP)
             for name, model in models.items()}
    for name, sweep in found.items():
        print(f"{name}: " + ", ".join(f"{k} {v:.3f}" for k, v in sweep.summary().items()))
        print("  by angle: " + " ".join(f"{a:g}:{v:.2f}" for a, v in
                                        zip(sweep.degrees, sweep.accuracy, strict=True)))
    return found


@pytest.mark.slow
@pytest.mark.timeout(900)  # the module's training: about 3 min on one busy core
def test_foveated_resnet_classifies_fixated_digits(trained):
    models, test = trained
    fov = accuracy(models["foveated"], test.images, test.labels, test.centres)
    print(f"accuracy at the digit's centre: foveated {fov:.3f}")
    assert fov >= 0.90


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_invariant_head_is_architecturally_invariant_at_grid_angles(sweeps):
    # Multiples of 22.5 degrees are column rolls of the 16-angle retina: only interpolation
    # changes the view, so this holds by construction, with or without training.
    fov = sweeps["foveated"].summary()
    assert fov["upright"] - fov["on_grid_worst"] < ON_GRID_DROP


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_invariant_head_is_robust_between_grid_angles(sweeps):
    # Between grid angles the view is not a roll of the upright one: what holds here is
    # learned (fixation jitter and the 2x anti-aliasing help), not built in.
    fov, cart = sweeps["foveated"].summary(), sweeps["cartesian"].summary()
    fov_drop = fov["upright"] - fov["off_grid_mean"]
    cart_drop = cart["upright"] - cart["off_grid_mean"]
    assert fov["off_grid_worst"] >= OFF_GRID_WORST
    assert fov_drop < OFF_GRID_DROP
    assert cart_drop > fov_drop + MARGIN_OVER_CARTESIAN


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_fixation_scan_peaks_inside_the_digit(trained):
    models, test = trained
    images = torch.from_numpy(test.images[:25])
    scan = scan_fixations(models["foveated"], images, torch.from_numpy(test.labels[:25]),
                          resolution=(11, 11), border=0.8)
    hits = scan.peak_in_box(torch.from_numpy(test.boxes[:25])).float().mean().item()
    print(f"peak inside the digit's box: {hits:.3f} of 25 test images")
    assert hits >= 0.80


def test_backbone_and_head_learn_at_their_own_rates(tmp_path):
    torch.manual_seed(0)
    net = small_foveated()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    data = make_cluttered_digits(16, size=64, digit_size=(16, 20), seed=2)
    fit_fixation_classifier(net, fixation_batches(data.images, data.labels, data.centres,
                                                  batch_size=8),
                            tmp_path, epochs=1, backbone_lr=0.0, progress=False)
    changed = {k for k, v in net.state_dict().items()
               if v.is_floating_point() and not torch.equal(v, before[k])}
    assert {"backbone.fc.weight", "backbone.fc.bias"} <= changed
    assert not any(k.endswith("weight") and "conv" in k for k in changed)  # frozen by lr 0
    assert (tmp_path / "last.pt").exists()


def test_rotation_sweep_splits_angles_on_and_off_the_grid():
    class Constant(torch.nn.Module):      # always class 0, whatever it sees
        def forward(self, images, fixations):
            return torch.nn.functional.one_hot(torch.zeros(len(images), dtype=torch.long), 3)

    labels = np.array([0, 0, 1, 2])
    sweep = rotation_sweep(Constant(), np.zeros((4, 1, 8, 8)), labels, np.full((4, 2), 3.5),
                           [0.0, 11.25, 22.5, 33.75, 45.0], grid_step=22.5, device="cpu")
    assert isinstance(sweep, RotationSweep)
    assert sweep.on_grid.tolist() == [True, False, True, False, True]
    assert sweep.summary() == {"upright": 0.5, "on_grid_mean": 0.5, "on_grid_worst": 0.5,
                               "off_grid_mean": 0.5, "off_grid_worst": 0.5, "mean": 0.5,
                               "worst": 0.5}
    with pytest.raises(ValueError, match="includes 0"):
        rotation_sweep(Constant(), np.zeros((1, 1, 8, 8)), [0], [[3.5, 3.5]], [45.0],
                       grid_step=22.5)


def test_rotation_augmentation_turns_the_training_images(tmp_path):
    seen = []

    class Recorder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(2))

        def forward(self, images, fixations):
            seen.append(images.detach().clone())
            return self.w.expand(len(images), 2)

    images = torch.zeros(4, 1, 9, 9)
    images[:, 0, 4, 7] = 1.0                            # a dot right of the centre (4, 4)
    fit_fixation_classifier(Recorder(), fixation_batches(images, [0, 1, 0, 1], batch_size=4),
                            tmp_path, epochs=1, rotation=180.0, progress=False)
    brightest = seen[0][:, 0].flatten(1).argmax(1)
    assert (brightest != 4 * 9 + 7).any()               # some dots were turned elsewhere


def test_bad_training_inputs_are_named():
    with pytest.raises(ValueError, match="NaN"):
        fixation_batches(np.full((2, 1, 8, 8), np.nan), [0, 1])
    with pytest.raises(ValueError, match="labels"):
        fixation_batches(np.zeros((2, 1, 8, 8)), [0, 1, 2])
    with pytest.raises(ValueError, match="jitter"):
        fit_fixation_classifier(small_foveated(), [], "unused", jitter=-1.0)
    with pytest.raises(ValueError, match="rotation <= 180"):
        fit_fixation_classifier(small_foveated(), [], "unused", rotation=270.0)
