"""Image folders for the foveated CNNs: transforms, and errors that say what the folder needs."""

import pytest
import torch
from PIL import Image

from neuroattn.datasets.imagefolder import image_folder


def test_reads_classes_and_normalises(tmp_path):
    for name, colour in (("a", (0, 0, 0)), ("b", (255, 255, 255))):
        (tmp_path / name).mkdir()
        Image.new("RGB", (50, 40), colour).save(tmp_path / name / "x.png")
    data = image_folder(tmp_path, train=False, size=24)
    (black, label_a), (white, label_b) = data[0], data[1]
    assert black.shape == (3, 24, 24) and (label_a, label_b) == (0, 1)
    torch.testing.assert_close(black[:, 0, 0], -torch.tensor([0.485, 0.456, 0.406])
                               / torch.tensor([0.229, 0.224, 0.225]))
    assert (white > black).all()


def test_missing_or_empty_folders_are_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        image_folder(tmp_path / "imagenet", train=True)
    with pytest.raises(ValueError, match="no class folders"):
        image_folder(tmp_path, train=True)
