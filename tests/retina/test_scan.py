"""Fixation scans: one batched pass equals the per-fixation loop; a fovea detector finds objects."""

import pytest
import torch
from torch import nn

from neuroattn.retina.logpolar import LogPolar
from neuroattn.retina.scan import FixationScan, fixation_grid, scan_fixations


class FoveaDetector(nn.Module):
    """Class 1 if the innermost log-polar rings are bright (the fixated spot), else class 0."""

    def __init__(self):
        super().__init__()
        self.log_polar = LogPolar(16, 8, log2_r_max=-2, log2_r_min=-5)

    def forward(self, images, fixations):
        energy = self.log_polar(images, fixations)[..., -6:, :].mean((-3, -2, -1))
        return torch.stack([torch.zeros_like(energy), 30 * energy], -1)


def bright_discs(n, size=96, radius=6, seed=0):
    gen = torch.Generator().manual_seed(seed)
    centres = radius + 4 + torch.rand(n, 2, generator=gen) * (size - 2 * radius - 8)
    ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    inside = (xs - centres[:, :1, None]) ** 2 + (ys - centres[:, 1:, None]) ** 2 <= radius**2
    boxes = torch.cat([centres - radius, centres + radius], 1)
    return inside[:, None].float(), boxes


def test_grid_spans_the_border_in_pixels():
    grid = fixation_grid(50, 100, (2, 3), border=1.0)
    assert grid.shape == (2, 3, 2)
    assert grid[0, 0].tolist() == [-0.5, -0.5] and grid[-1, -1].tolist() == [99.5, 49.5]
    with pytest.raises(ValueError, match="border"):
        fixation_grid(10, 10, (3, 3), border=1.5)


def test_a_fovea_detector_peaks_on_the_object():
    images, boxes = bright_discs(12)
    scan = scan_fixations(FoveaDetector(), images, torch.ones(12, dtype=torch.long),
                          resolution=(15, 15), border=0.95)
    assert scan.peak_in_box(boxes).all()
    # the centroid read-out is nearer the object's centre than the grid point
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    refined = (scan.peaks() - centres).norm(dim=1).mean()
    assert refined < (scan.peaks(refine=False) - centres).norm(dim=1).mean()


def test_batched_scan_equals_the_loop_and_picks_the_best_class():
    images, _ = bright_discs(3, size=48, radius=8, seed=1)
    model = FoveaDetector()
    batched = scan_fixations(model, images, resolution=(5, 4), max_views=None)   # one pass
    chunked = scan_fixations(model, images, resolution=(5, 4), max_views=3)      # 1 per pass
    torch.testing.assert_close(batched.probabilities, chunked.probabilities)
    grid = fixation_grid(48, 48, (5, 4))
    loop = torch.stack([model(images, grid[r, c].expand(3, 2)).softmax(-1)[:, 1]
                        for r in range(5) for c in range(4)], 1).view(3, 5, 4)
    torch.testing.assert_close(batched.probabilities, loop)
    assert batched.classes.tolist() == [1, 1, 1]       # class 1 peaks somewhere in each image


def test_bad_inputs_are_named():
    scan = FixationScan(torch.rand(2, 3, 3), fixation_grid(9, 9, (3, 3)), torch.zeros(2))
    with pytest.raises(ValueError, match="boxes must be"):
        scan.peak_in_box(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="max_views"):
        scan_fixations(FoveaDetector(), torch.rand(1, 1, 16, 16), max_views=0)
    with pytest.raises(ValueError, match="classes must be"):
        scan_fixations(FoveaDetector(), torch.rand(2, 1, 16, 16), torch.zeros(3))
