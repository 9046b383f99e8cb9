"""Every trainable model family of neuroattn, by name: list, build by size, load from disk.

Each family's class saves itself with ``save_pretrained(directory)``
(``config.json`` + ``model.safetensors``, see :mod:`neuroattn.nn.pretrained`)
and names its family in the ``model`` field of ``config.json``, so
:func:`load_model` can load any saved model without being told its class.
The registry is lazy: ``import neuroattn.models`` imports neither torch nor
any family; a family is imported when it is asked for.

==============================  ==========================================================
name                            class
==============================  ==========================================================
``mvpformer``                   :class:`neuroattn.ieeg.MVPFormer`
``transformer_brain_encoder``   :class:`neuroattn.encoding.TransformerBrainEncoder`
``spatial_feature_encoder``     :class:`neuroattn.encoding.SpatialFeatureEncoder`
``oat``                         :class:`neuroattn.gaze.oat.OAT`
``tiny_clip``                   :class:`neuroattn.gaze.neva.toy_encoders.TinyCLIP`
``foveated_resnet``             :class:`neuroattn.retina.FoveatedResNet`
``cartesian_resnet``            :class:`neuroattn.retina.CartesianResNet`
``tensor_brain_perception``     :class:`neuroattn.semantic.perception.TensorBrainPerception`
``tensor_brain_kg``             :class:`neuroattn.semantic.kg_decoder.TensorBrainKG`
``distmult``                    :class:`neuroattn.semantic.kg.DistMult`
``complex``                     :class:`neuroattn.semantic.kg.ComplEx`
``rescal``                      :class:`neuroattn.semantic.kg.RESCAL`
==============================  ==========================================================

Examples
--------
>>> import tempfile
>>> from neuroattn.models import list_models, load_model, preset, sizes
>>> "oat" in list_models()
True
>>> model = preset("oat", "tiny")
>>> path = model.save_pretrained(tempfile.mkdtemp() + "/oat")
>>> type(load_model(path)).__name__
'OAT'
>>> sizes("oat")
['tiny', 'small', 'reference']
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from neuroattn.errors import ParameterError

__all__ = ["list_models", "load_model", "model_class", "preset", "sizes"]

_REGISTRY: dict[str, tuple[str, str]] = {
    "mvpformer": ("neuroattn.ieeg.mvpformer", "MVPFormer"),
    "transformer_brain_encoder": ("neuroattn.encoding.transformer", "TransformerBrainEncoder"),
    "spatial_feature_encoder": ("neuroattn.encoding.transformer", "SpatialFeatureEncoder"),
    "oat": ("neuroattn.gaze.oat.model", "OAT"),
    "tiny_clip": ("neuroattn.gaze.neva.toy_encoders", "TinyCLIP"),
    "foveated_resnet": ("neuroattn.retina.foveated_cnn", "FoveatedResNet"),
    "cartesian_resnet": ("neuroattn.retina.foveated_cnn", "CartesianResNet"),
    "tensor_brain_perception": ("neuroattn.semantic.perception", "TensorBrainPerception"),
    "tensor_brain_kg": ("neuroattn.semantic.kg_decoder", "TensorBrainKG"),
    "distmult": ("neuroattn.semantic.kg", "DistMult"),
    "complex": ("neuroattn.semantic.kg", "ComplEx"),
    "rescal": ("neuroattn.semantic.kg", "RESCAL"),
}


def list_models() -> list[str]:
    """The registered model families' names (the ``model`` field of their ``config.json``).

    Examples
    --------
    >>> list_models()[:3]
    ['mvpformer', 'transformer_brain_encoder', 'spatial_feature_encoder']
    """
    return list(_REGISTRY)


def model_class(name: str) -> type:
    """The class of family ``name`` (imports that family).

    Raises
    ------
    ParameterError
        ``name`` is not a registered family.

    Examples
    --------
    >>> model_class("tensor_brain_kg").__name__
    'TensorBrainKG'
    >>> model_class("gpt")
    Traceback (most recent call last):
    ...
    neuroattn.errors.ParameterError: model='gpt' is not a neuroattn model family; pass one of ...
    """
    if name not in _REGISTRY:
        raise ParameterError(f"model={name!r} is not a neuroattn model family; pass one of "
                             f"{', '.join(_REGISTRY)}.")
    module, attr = _REGISTRY[name]
    return getattr(importlib.import_module(module), attr)


def load_model(directory: str | os.PathLike, **overrides: Any) -> Any:
    """Load any model that ``save_pretrained`` wrote, by the ``model`` field of its config.

    Parameters
    ----------
    directory : path
        A ``save_pretrained`` directory (MVPFormer's older ``weights.pt``
        directories too).
    **overrides
        Passed to the family's ``from_pretrained`` (config fields to replace).

    Raises
    ------
    InputNotFoundError
        ``directory`` does not exist.
    FormatError
        ``config.json`` is missing or unreadable, names an unknown family, or
        the weights are missing, damaged or do not fit.
    """
    from neuroattn.nn.pretrained import CONFIG_FILE, PretrainedFormatError, read_model_name

    name = read_model_name(directory)
    if name not in _REGISTRY:
        raise PretrainedFormatError(
            f"{os.fspath(directory)}/{CONFIG_FILE} names the model family {name!r}, which this "
            f"neuroattn does not know (it knows {', '.join(_REGISTRY)}); upgrade neuroattn, "
            "or fix the 'model' field.")
    return model_class(name).from_pretrained(directory, **overrides)


def sizes(family: str) -> list[str]:
    """The preset size names of ``family`` (empty when its sizes depend on the data).

    Examples
    --------
    >>> sizes("mvpformer")
    ['mvpformer-s', 'mvpformer-m', 'tiny']
    >>> sizes("tensor_brain_kg")
    []
    """
    return list(getattr(model_class(family), "presets", {}))


def preset(family: str, size: str = "small", **overrides: Any) -> Any:
    """A new (untrained) model of a named size of ``family``.

    ``"small"`` is the configuration that the family's tests, notebook and
    analysis share; see :func:`sizes` for the others. Families whose sizes
    follow the data (the tensor brain, the KG scorers) have none: build them
    with their class; the tiny CLIP needs its ``vocabulary=``.

    Parameters
    ----------
    family : str
        One of :func:`list_models`.
    size : str
    **overrides
        Fields of the preset to replace (e.g. ``seed=1``).

    Examples
    --------
    >>> preset("oat", seed=3).config.seed
    3
    >>> preset("mvpformer", "tiny").config.d_model
    32
    """
    return model_class(family).preset(size, **overrides)
