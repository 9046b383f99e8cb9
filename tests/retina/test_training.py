"""Foveated vs Cartesian ResNet18 on cluttered digits: accuracy, rotation robustness, localization.

One module-scoped training of each model (about five minutes together on one core),
then three claims of the foveated-retinotopy paper on real handwritten digits
(scikit-learn's bundled set) at random positions, sizes and clutter:

* fixating the digit's centre, the foveated ResNet18 classifies >= 90 % of
  held-out digits;
* rotating the image about the fixation (0-180 degrees, no rotation in
  training) costs it less accuracy than the Cartesian control, which sees the
  same field of view through the same circular aperture;
* the class probability over an 11 x 11 scan of fixations peaks inside the
  digit's box in >= 80 % of test images.

The foveated model is the rotation-invariant head (stride 1 along the angle):
with 16 angles, rotations by multiples of 22.5 degrees are column rolls, so
its logits change only by interpolation.
"""

import numpy as np
import pytest
import torch

from neuroattn.datasets.cluttered_digits import make_cluttered_digits
from neuroattn.retina import CartesianResNet, FoveatedResNet, LogPolar
from neuroattn.retina.sampling import FixationCrop, rotate_zoom_about
from neuroattn.retina.scan import scan_fixations
from neuroattn.retina.training import accuracy, fit_fixation_classifier, fixation_batches

ANGLES = (0.0, 45.0, 90.0, 135.0, 180.0)


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


def rotation_accuracies(model, test, n=200):
    images, centres = torch.from_numpy(test.images[:n]), torch.from_numpy(test.centres[:n])
    return [accuracy(model, rotate_zoom_about(images, centres, degrees=a), test.labels[:n],
                     centres) for a in ANGLES]


@pytest.mark.slow
@pytest.mark.timeout(900)  # the module's training: about 3 min on one busy core
def test_foveated_resnet_classifies_fixated_digits(trained):
    models, test = trained
    fov = accuracy(models["foveated"], test.images, test.labels, test.centres)
    print(f"accuracy at the digit's centre: foveated {fov:.3f}")
    assert fov >= 0.90


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_rotation_costs_the_foveated_model_less_than_the_cartesian_one(trained):
    models, test = trained
    drops = {}
    for name, model in models.items():
        accs = rotation_accuracies(model, test)
        drops[name] = accs[0] - float(np.mean(accs))
        print(f"{name}: accuracy at {ANGLES} deg = {np.round(accs, 3).tolist()}, "
              f"mean drop {drops[name]:.3f}")
    assert drops["foveated"] < 0.05 and drops["cartesian"] > drops["foveated"] + 0.2


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


def test_bad_training_inputs_are_named():
    with pytest.raises(ValueError, match="NaN"):
        fixation_batches(np.full((2, 1, 8, 8), np.nan), [0, 1])
    with pytest.raises(ValueError, match="labels"):
        fixation_batches(np.zeros((2, 1, 8, 8)), [0, 1, 2])
    with pytest.raises(ValueError, match="jitter"):
        fit_fixation_classifier(small_foveated(), [], "unused", jitter=-1.0)
