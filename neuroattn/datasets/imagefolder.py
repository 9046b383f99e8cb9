"""ImageNet-style image folders for the foveated CNNs, read from disk (nothing is downloaded).

``root/<class>/<image>`` as ``torchvision.datasets.ImageFolder`` reads it
(ImageNet's ``train``/``val`` after the usual ``valprep`` sorting, Animal10k,
or any folder of your own), with the transforms of the foveated-retinotopy
reference (Jérémie, Daucé & Perrinet 2024): resize and centre-crop to
``size``, in training a horizontal flip and ``TrivialAugmentWide``, then the
ImageNet normalisation that torchvision's ResNet weights expect.

Examples
--------
>>> import tempfile, pathlib
>>> from PIL import Image
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> for name in ("cat", "dog"):
...     (root / name).mkdir()
...     Image.new("RGB", (40, 30), "gray").save(root / name / "0.png")
>>> data = image_folder(root, train=True, size=32)
>>> image, label = data[1]
>>> tuple(image.shape), label, data.classes
((3, 32, 32), 1, ['cat', 'dog'])
"""

from __future__ import annotations

import os
from pathlib import Path

import torchvision
from torchvision import transforms

from neuroattn.errors import FormatError, InputNotFoundError

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "image_folder", "imagenet_transform"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def imagenet_transform(*, train: bool, size: int = 224) -> transforms.Compose:
    """The reference's preprocessing: resize, centre-crop, (flip + TrivialAugmentWide), normalise.

    Examples
    --------
    >>> len(imagenet_transform(train=False).transforms)
    4
    """
    augment = [transforms.RandomHorizontalFlip(), transforms.TrivialAugmentWide()] if train \
        else []
    return transforms.Compose([transforms.Resize(size), transforms.CenterCrop(size), *augment,
                               transforms.ToTensor(),
                               transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


def image_folder(root: str | os.PathLike, *, train: bool, size: int = 224
                 ) -> torchvision.datasets.ImageFolder:
    """An ``ImageFolder`` over ``root/<class>/<image>`` with :func:`imagenet_transform`.

    Parameters
    ----------
    root : path
        Folder with one sub-folder of images per class.
    train : bool
        Add the training augmentation.
    size : int
        Side of the square images, pixels (reference: 224).

    Returns
    -------
    torchvision.datasets.ImageFolder
        Items ``(image (3, size, size), label)``; batch them with a
        ``torch.utils.data.DataLoader`` and pass the loader to
        :func:`~neuroattn.retina.training.fit_fixation_classifier`
        (fixation at the image centre).
    """
    path = Path(root)
    if not path.is_dir():
        raise InputNotFoundError(
            f"image folder {path} does not exist. Point it at a folder with one sub-folder of "
            "images per class (e.g. ImageNet's train/ or val/, sorted into class folders); "
            "nothing is downloaded.")
    try:
        return torchvision.datasets.ImageFolder(str(path),
                                                transform=imagenet_transform(train=train,
                                                                             size=size))
    except FileNotFoundError as err:
        raise FormatError(f"{path} holds no class folders with images ({err}); it needs "
                          "root/<class>/<image>.jpg|png|... .") from err
