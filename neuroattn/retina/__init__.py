"""Foveation: acuity models, the log-polar retinotopic transform, and fixation coordinates.

* :mod:`~neuroattn.retina.coordinates` — pixel ``(x, y)`` at the API,
  normalised ``(row, col)`` on the reference's ``[-1, 1]²`` grid inside;
* :mod:`~neuroattn.retina.blur` — separable Gaussian blur and blur pyramids;
* :mod:`~neuroattn.retina.foveation` — the NeVA Gaussian fovea and an
  eccentricity-dependent multi-level blur, batched over images and fixations,
  with the inhibition-of-return memory recursion;
* :mod:`~neuroattn.retina.logpolar` — the log-polar retinotopic sampling of
  foveated CNNs (rotation about the fixation = column roll, zoom = row shift),
  isotropic in pixels on any image, batched over fixations, with its inverse
  for visualisation;
* :mod:`~neuroattn.retina.sampling` — the batched sampling around fixations
  that the retinas share, the Cartesian control's :class:`FixationCrop`, and
  rotation/zoom of images about their own centres;
* :mod:`~neuroattn.retina.foveated_cnn` — torchvision ResNets behind it, padded
  circularly along the angle only (optionally stride 1 along the angle: exact
  rotation invariance), and the Cartesian control behind a circular aperture;
* :mod:`~neuroattn.retina.scan` — class-probability maps over a grid of
  fixations (localization by scanning), with peak read-out and box comparison;
* :mod:`~neuroattn.retina.training` — the reference's training recipe for
  fixation classifiers on the package trainer (checkpoints, resume, optional
  rotation augmentation) and rotation sweeps split on and off a retina's
  angle grid.

Examples
--------
>>> import torch
>>> from neuroattn.retina import EccentricityFoveation
>>> EccentricityFoveation()(torch.rand(1, 3, 48, 64), torch.tensor([[5.0, 40.0]])).shape
torch.Size([1, 3, 48, 64])
"""

from neuroattn.retina.blur import blur_pyramid, gaussian_blur, gaussian_kernel1d, kernel_size_for
from neuroattn.retina.coordinates import fovea_to_pixels, pixels_to_fovea
from neuroattn.retina.foveated_cnn import (
    CartesianResNet,
    FoveatedResNet,
    angle_periodic,
    circular_aperture,
)
from neuroattn.retina.foveation import (
    EccentricityFoveation,
    Foveation,
    GaussianFoveation,
    fovea_grid,
    gaussian_fovea,
    update_memory,
)
from neuroattn.retina.logpolar import LogPolar
from neuroattn.retina.sampling import FixationCrop, rotate_zoom_about
from neuroattn.retina.scan import FixationScan, fixation_grid, scan_fixations
from neuroattn.retina.training import (
    accuracy,
    fit_fixation_classifier,
    fixation_batches,
    rotation_sweep,
)

__all__ = [
    "CartesianResNet", "EccentricityFoveation", "FixationCrop", "FixationScan", "FoveatedResNet",
    "Foveation", "GaussianFoveation", "LogPolar", "accuracy", "angle_periodic",
    "blur_pyramid", "circular_aperture", "fit_fixation_classifier", "fixation_batches",
    "fixation_grid", "fovea_grid", "fovea_to_pixels", "gaussian_blur", "gaussian_fovea",
    "gaussian_kernel1d", "kernel_size_for", "pixels_to_fovea", "rotate_zoom_about",
    "rotation_sweep", "scan_fixations", "update_memory",
]
