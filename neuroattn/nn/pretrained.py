"""One save/load contract for every trainable model: ``config.json`` plus ``model.safetensors``.

A model class that mixes in :class:`PretrainedMixin` names its family in the
class attribute ``model_name`` and implements two hooks:

* ``pretrained_config(self) -> dict``: JSON-safe constructor arguments;
* ``from_pretrained_config(cls, config) -> model``: an untrained instance
  built from such a dict.

``model.save_pretrained(directory)`` then writes, atomically:

* ``config.json``: ``{"model": model_name, "format": 1, "neuroattn_version":
  ..., "config": {...}}``;
* ``model.safetensors``: the tensors (a state dict by default), which never
  hold code: loading never unpickles anything.

``Model.from_pretrained(directory, **overrides)`` reads them back, refusing
with a :class:`PretrainedFormatError` (a
:class:`~neuroattn.errors.FormatError`) that names the file: a missing or
unparsable ``config.json``, a missing, truncated or corrupt weights file, a
directory of another model family (load those with
:func:`neuroattn.models.load_model`), and missing, unexpected or wrongly
shaped tensors. A missing directory is an
:class:`~neuroattn.errors.InputNotFoundError`.

The functions below (:func:`read_config`, :func:`read_weights`,
:func:`write_pretrained`, ...) are the same steps for code that reads or
writes these directories itself (the model registry, MVPFormer's reader of
older formats).

Examples
--------
>>> import tempfile, torch
>>> from torch import nn
>>> class Line(PretrainedMixin, nn.Module):
...     model_name = "line"
...     def __init__(self, n: int = 3) -> None:
...         super().__init__()
...         self.n, self.fc = n, nn.Linear(n, 1)
...     def pretrained_config(self) -> dict:
...         return {"n": self.n}
...     @classmethod
...     def from_pretrained_config(cls, config: dict) -> "Line":
...         return cls(**config)
>>> model = Line(4)
>>> path = model.save_pretrained(tempfile.mkdtemp() + "/line")
>>> sorted(p.name for p in path.iterdir())
['config.json', 'model.safetensors']
>>> again = Line.from_pretrained(path)
>>> again.n, torch.equal(again.fc.weight, model.fc.weight)
(4, True)
>>> read_config(path)["model"]
'line'
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import torch

from neuroattn._atomic import atomic_path
from neuroattn._validation import to_jsonable
from neuroattn.errors import FormatError, InputNotFoundError, ParameterError

__all__ = ["CONFIG_FILE", "FORMAT", "WEIGHTS_FILE", "PretrainedFormatError", "PretrainedMixin",
           "check_jsonable", "check_model_name", "init_arguments", "load_state_strict",
           "preset_config", "read_config", "read_model_name", "read_weights", "state_mismatch",
           "state_tensors",
           "write_pretrained"]

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT = 1
"""Version of the directory layout; a newer one is refused with a request to upgrade."""

T = TypeVar("T", bound="PretrainedMixin")


class PretrainedFormatError(FormatError):
    """A model directory that is not a complete, readable ``save_pretrained`` directory of it."""


def _json_path(path: str, key: Any) -> str:
    return f"{path}[{key!r}]"


def check_jsonable(value: Any, name: str = "config") -> Any:
    """``value`` as plain JSON values (via ``to_jsonable``), or a ParameterError naming the part.

    Dicts need string keys; the leaves may be str, int, float, bool or None.

    Examples
    --------
    >>> check_jsonable({"size": (2, 3), "name": "x"})
    {'size': [2, 3], 'name': 'x'}
    >>> check_jsonable({"device": object()})
    Traceback (most recent call last):
    ...
    neuroattn.errors.ParameterError: config['device'] is of type object, which JSON cannot ...
    """
    value = to_jsonable(value)

    def walk(item: Any, where: str) -> None:
        if isinstance(item, dict):
            for key, sub in item.items():
                walk(sub, _json_path(where, key))
        elif isinstance(item, list):
            for i, sub in enumerate(item):
                walk(sub, f"{where}[{i}]")
        elif not (item is None or isinstance(item, str | bool | int | float)):
            raise ParameterError(
                f"{where} is of type {type(item).__name__}, which JSON cannot hold; pass a number, "
                "string, boolean, None, or a list or dict of those (e.g. a path as a string).")

    walk(value, name)
    return value


def init_arguments(obj: Any) -> dict[str, Any]:
    """The constructor arguments of ``obj``, read back from its same-named attributes.

    For small configurable modules (a ``LogPolar``, a ``FixationCrop``) whose
    ``__init__`` stores every argument under its own name.

    Raises
    ------
    ParameterError
        An argument of ``__init__`` has no attribute of that name.

    Examples
    --------
    >>> class Crop:
    ...     def __init__(self, size: int = 4, *, mode: str = "bilinear") -> None:
    ...         self.size, self.mode = size, mode
    >>> init_arguments(Crop(8))
    {'size': 8, 'mode': 'bilinear'}
    """
    out = {}
    for name, param in inspect.signature(type(obj).__init__).parameters.items():
        if name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if not hasattr(obj, name):
            raise ParameterError(
                f"{type(obj).__name__} does not keep its argument {name!r} as an attribute, so "
                f"it cannot be saved; store it in __init__ (self.{name} = {name}).")
        out[name] = getattr(obj, name)
    return out


def state_tensors(state: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """A state dict made ready for safetensors: detached, on the CPU, contiguous, unshared.

    Tensors that share memory with an earlier one (tied weights, a module
    registered twice) are cloned, since safetensors refuses shared storage.

    Examples
    --------
    >>> import torch
    >>> w = torch.ones(2, 3)
    >>> out = state_tensors({"a": w, "b": w, "c": w.T})
    >>> out["a"].data_ptr() != out["b"].data_ptr(), out["c"].is_contiguous()
    (True, True)
    """
    out: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise ParameterError(
                f"state entry {key!r} is of type {type(value).__name__}, not a tensor; safetensors "
                "holds tensors only: keep extra state in the config instead.")
        tensor = value.detach().cpu().contiguous()
        ptr = tensor.untyped_storage().data_ptr() if tensor.numel() else 0
        if ptr and ptr in seen:
            tensor = tensor.clone()
        seen.add(ptr)
        out[key] = tensor
    return out


def write_pretrained(directory: str | os.PathLike, model_name: str, config: Mapping[str, Any],
                     tensors: Mapping[str, torch.Tensor], *, overwrite: bool = False) -> Path:
    """Write ``config.json`` and ``model.safetensors`` into ``directory`` atomically.

    Parameters
    ----------
    directory : path
        Created with its parents; nothing appears there until both files are
        complete.
    model_name : str
        The family, written as the ``model`` field.
    config : mapping
        JSON-safe constructor arguments (see :func:`check_jsonable`).
    tensors : mapping of str to torch.Tensor
        Passed through :func:`state_tensors`.
    overwrite : bool
        Replace an existing ``directory`` (default: refuse it).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    DestinationExistsError
        ``directory`` exists and ``overwrite`` is False.
    ParameterError
        ``config`` holds a value that JSON cannot hold, or a state entry is not a tensor.
    """
    from safetensors.torch import save_file

    from neuroattn import __version__

    meta = {"model": model_name, "format": FORMAT, "neuroattn_version": __version__,
            "config": check_jsonable(dict(config))}
    tensors = state_tensors(tensors)
    directory = Path(directory)
    with atomic_path(directory, overwrite=overwrite) as tmp:
        tmp.mkdir()
        (tmp / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        save_file(tensors, str(tmp / WEIGHTS_FILE), metadata={"format": "pt"})
    return directory


def _load_json(directory: str | os.PathLike) -> tuple[Path, dict[str, Any]]:
    directory = Path(directory)
    if not directory.exists():
        raise InputNotFoundError(f"No model directory at {directory}; pass a directory written "
                                 "by save_pretrained.")
    if not directory.is_dir():
        raise PretrainedFormatError(f"{directory} is a file, not a model directory; pass the "
                                    "directory that save_pretrained wrote.")
    file = directory / CONFIG_FILE
    if not file.is_file():
        raise PretrainedFormatError(f"{file} is missing: {directory} is not a save_pretrained "
                                    "directory (or was copied incompletely); save the model "
                                    "again.")
    try:
        meta = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise PretrainedFormatError(f"{file} is not valid JSON ({err}); save the model again "
                                    "with save_pretrained.") from None
    if not isinstance(meta, dict):
        raise PretrainedFormatError(f"{file} holds a {type(meta).__name__}, not a JSON object; "
                                    "save the model again with save_pretrained.")
    return file, meta


def read_model_name(directory: str | os.PathLike) -> str:
    """The ``model`` field of a model directory's ``config.json`` (which family saved it).

    Works for older layouts too (MVPFormer's flat ``config.json``).

    Raises
    ------
    InputNotFoundError
        ``directory`` does not exist.
    PretrainedFormatError
        No readable ``config.json``, or no string ``model`` field in it.
    """
    file, meta = _load_json(directory)
    name = meta.get("model")
    if not isinstance(name, str) or not name:
        raise PretrainedFormatError(f"{file} has no 'model' field naming the model family; "
                                    "it was not written by save_pretrained: save the model "
                                    "again.")
    return name


def read_config(directory: str | os.PathLike) -> dict[str, Any]:
    """The parsed ``config.json`` of a ``save_pretrained`` directory, checked.

    Returns the whole object: ``model``, ``format``, ``neuroattn_version`` and
    ``config`` (a dict).

    Raises
    ------
    InputNotFoundError
        ``directory`` does not exist.
    PretrainedFormatError
        No readable ``config.json``, a field missing or of the wrong type, or
        a newer ``format`` than this neuroattn reads.
    """
    file, meta = _load_json(directory)
    read_model_name(directory)
    version = meta.get("format")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise PretrainedFormatError(f"{file} has format={version!r}, not a layout version "
                                    "(an integer >= 1); save the model again with "
                                    "save_pretrained.")
    if version > FORMAT:
        raise PretrainedFormatError(
            f"{file} has format={version}, written by a newer neuroattn "
            f"({meta.get('neuroattn_version', 'unknown version')}); this one reads format "
            f"{FORMAT}: upgrade neuroattn.")
    if not isinstance(meta.get("config"), dict):
        raise PretrainedFormatError(f"{file} has no 'config' object; save the model again "
                                    "with save_pretrained.")
    return meta


def check_model_name(meta: Mapping[str, Any], expected: str, directory: str | os.PathLike,
                     cls_name: str) -> None:
    """Refuse a directory whose ``model`` field names another family than ``expected``."""
    found = meta.get("model")
    if found != expected:
        raise PretrainedFormatError(
            f"{Path(directory) / CONFIG_FILE} says the directory holds a {found!r} model, not "
            f"a {expected!r} ({cls_name}); load it with neuroattn.models.load_model, or with "
            "the class of that family.")


def read_weights(directory: str | os.PathLike, file: str = WEIGHTS_FILE
                 ) -> dict[str, torch.Tensor]:
    """The tensors of ``directory/model.safetensors``, on the CPU.

    Raises
    ------
    PretrainedFormatError
        The file is missing, truncated, or not a safetensors file.
    """
    from safetensors.torch import load_file

    path = Path(directory) / file
    if not path.is_file():
        raise PretrainedFormatError(f"{path} is missing: the weights of {directory} are gone "
                                    "(or were never copied); save the model again.")
    try:
        return load_file(str(path), device="cpu")
    except Exception as err:  # SafetensorError, OSError, ... : one message for them all
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise PretrainedFormatError(
            f"{path} cannot be read as safetensors ({reason}): it is truncated or corrupt; "
            "copy it again or save the model again.") from None


def state_mismatch(module: torch.nn.Module, state: Mapping[str, torch.Tensor], *,
                   optional: Collection[str] = ()) -> str:
    """What keeps ``state`` from loading into ``module`` exactly, in words ("" if nothing).

    Missing tensors (except ``optional`` ones), unexpected ones and shape mismatches, each
    listed (at most six per kind).

    Examples
    --------
    >>> from torch import nn
    >>> state_mismatch(nn.Linear(2, 1), {"weight": torch.ones(1, 3)})
    "missing (1): ['bias']; shape mismatch (1): ['weight: file (1, 3) vs model (1, 2)']"
    """
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state) - set(optional))
    unexpected = sorted(set(state) - set(expected))
    mismatched = sorted(f"{k}: file {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
                        for k in set(state) & set(expected)
                        if tuple(state[k].shape) != tuple(expected[k].shape))
    return "; ".join(f"{what} ({len(keys)}): {keys[:6]}{' ...' if len(keys) > 6 else ''}"
                     for what, keys in (("missing", missing), ("unexpected", unexpected),
                                        ("shape mismatch", mismatched)) if keys)


def load_state_strict(module: torch.nn.Module, state: Mapping[str, torch.Tensor],
                      source: str | os.PathLike) -> None:
    """Load ``state`` into ``module``, naming the missing, unexpected or misshapen tensors.

    Raises
    ------
    PretrainedFormatError
        The tensors do not match the module's state dict exactly.

    Examples
    --------
    >>> from torch import nn
    >>> load_state_strict(nn.Linear(2, 1), {"weight": torch.ones(1, 2)}, "w.safetensors")
    Traceback (most recent call last):
    ...
    neuroattn.nn.pretrained.PretrainedFormatError: w.safetensors does not fit this Linear: ...
    """
    problems = state_mismatch(module, state)
    if problems:
        raise PretrainedFormatError(
            f"{source} does not fit this {type(module).__name__}: " + problems +
            ". Are the weights of another model or size, or was config.json edited? Save the "
            "model again.")
    try:
        module.load_state_dict(dict(state), strict=True)
    except RuntimeError as err:  # e.g. a dtype torch cannot copy
        raise PretrainedFormatError(f"{source} does not fit this {type(module).__name__}: "
                                    f"{str(err).splitlines()[0]}") from None


class PretrainedMixin:
    """``save_pretrained`` / ``from_pretrained`` for a model class (see the module docstring).

    A class sets ``model_name`` and implements :meth:`pretrained_config` and
    :meth:`from_pretrained_config`. Models that are not a plain
    ``torch.nn.Module`` (the scikit-learn encoders) also override
    :meth:`pretrained_state` and :meth:`load_pretrained_state`. ``presets``
    maps size names to configs for :meth:`preset`.
    """

    model_name: ClassVar[str]
    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {}

    def pretrained_config(self) -> dict[str, Any]:
        """JSON-safe constructor arguments that :meth:`from_pretrained_config` takes back."""
        raise NotImplementedError(f"{type(self).__name__} does not define pretrained_config.")

    @classmethod
    def from_pretrained_config(cls: type[T], config: dict[str, Any]) -> T:
        """An untrained model built from a :meth:`pretrained_config` dict."""
        raise NotImplementedError(f"{cls.__name__} does not define from_pretrained_config.")

    @classmethod
    def build_for_weights(cls: type[T], config: dict[str, Any]) -> T:
        """A model whose every saved tensor is about to be overwritten.

        Defaults to :meth:`from_pretrained_config`; a class overrides it to
        skip costly initialisation that the weights replace anyway.
        """
        return cls.from_pretrained_config(config)

    @classmethod
    def apply_overrides(cls, config: dict[str, Any], overrides: Mapping[str, Any]
                        ) -> dict[str, Any]:
        """``config`` with ``overrides`` (``from_pretrained``'s keywords) applied.

        Default: each override replaces a top-level field of the config.
        """
        unknown = sorted(set(overrides) - set(config))
        if unknown:
            raise ParameterError(f"overrides {unknown} are not fields of this {cls.__name__}'s "
                                 f"config; pass some of {sorted(config)}.")
        return {**config, **check_jsonable(dict(overrides), "overrides")}

    def pretrained_state(self) -> Mapping[str, torch.Tensor]:
        """The tensors to save (default: the module's state dict)."""
        return self.state_dict()  # type: ignore[attr-defined]

    def load_pretrained_state(self, state: Mapping[str, torch.Tensor],
                              source: str | os.PathLike) -> None:
        """Load tensors read from ``source`` (default: strictly into the module)."""
        load_state_strict(self, state, source)  # type: ignore[arg-type]

    def save_pretrained(self, directory: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into ``directory`` (atomically).

        Parameters
        ----------
        directory : path
            Must not exist, unless ``overwrite``.
        overwrite : bool
            Replace an existing directory.

        Returns
        -------
        pathlib.Path
            ``directory``.

        Raises
        ------
        DestinationExistsError
            ``directory`` exists and ``overwrite`` is False.
        """
        return write_pretrained(directory, self.model_name, self.pretrained_config(),
                                self.pretrained_state(), overwrite=overwrite)

    @classmethod
    def from_pretrained(cls: type[T], directory: str | os.PathLike, **overrides: Any) -> T:
        """Load a model that :meth:`save_pretrained` wrote.

        Parameters
        ----------
        directory : path
        **overrides
            Config fields to replace (e.g. ``dropout=0.0``); each must be a
            field of the saved config.

        Raises
        ------
        InputNotFoundError
            ``directory`` does not exist.
        PretrainedFormatError
            A file is missing or damaged, the directory holds another model
            family, or the tensors do not fit.
        ParameterError
            An override that is not a config field.
        """
        meta = read_config(directory)
        check_model_name(meta, cls.model_name, directory, cls.__name__)
        config = cls.apply_overrides(dict(meta["config"]), overrides)
        file = Path(directory) / CONFIG_FILE
        try:
            model = cls.build_for_weights(config)
        except (TypeError, ValueError, KeyError) as err:
            if isinstance(err, ParameterError) and overrides:
                raise
            raise PretrainedFormatError(f"{file} does not describe a valid {cls.__name__} "
                                        f"({type(err).__name__}: {err}); fix that field or save "
                                        "the model again.") from None
        model.load_pretrained_state(read_weights(directory), Path(directory) / WEIGHTS_FILE)
        return model

    @classmethod
    def preset(cls: type[T], size: str = "small", **overrides: Any) -> T:
        """An untrained model of a named size (see the class's ``presets``).

        Raises
        ------
        ParameterError
            ``size`` is not one of this family's presets.
        """
        return cls.from_pretrained_config(preset_config(cls, size, overrides))


def preset_config(cls: type, size: str, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``cls.presets[size]`` updated with ``overrides``, or a ParameterError listing the sizes.

    Examples
    --------
    >>> class Net:
    ...     presets = {"small": {"width": 8}}
    >>> preset_config(Net, "small", {"depth": 2})
    {'width': 8, 'depth': 2}
    >>> preset_config(Net, "huge", {})
    Traceback (most recent call last):
    ...
    neuroattn.errors.ParameterError: size='huge' is not a preset of Net; pass one of 'small'.
    """
    presets = getattr(cls, "presets", {})
    if size not in presets:
        known = ", ".join(repr(s) for s in presets) or "none (this family has no presets)"
        raise ParameterError(f"size={size!r} is not a preset of {cls.__name__}; pass one of "
                             f"{known}.")
    return {**presets[size], **overrides}
