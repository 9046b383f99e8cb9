"""Dataclass configs with YAML load/save and ``--set a.b=c`` overrides.

Configs are plain (nested) dataclasses. YAML is read with ``yaml.safe_load``
only, and every override is type-checked against the field it sets, so a typo
fails loudly with the list of valid keys.

Examples
--------
>>> from dataclasses import dataclass, field
>>> from neuroattn.config import apply_overrides, to_dict
>>> @dataclass
... class Optim:
...     lr: float = 1e-3
...     betas: tuple[float, float] = (0.9, 0.999)
>>> @dataclass
... class Run:
...     seed: int = 0
...     optim: Optim = field(default_factory=Optim)
>>> cfg = apply_overrides(Run(), ["optim.lr=3e-4", "seed=7"])
>>> to_dict(cfg)
{'seed': 7, 'optim': {'lr': 0.0003, 'betas': [0.9, 0.999]}}
"""


import dataclasses
import os
import types
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from neuroattn._atomic import atomic_path
from neuroattn.errors import NeuroattnError

C = TypeVar("C")


class ConfigError(NeuroattnError, ValueError):
    """A config file or override that does not fit the config dataclass."""


def to_dict(cfg: Any) -> dict[str, Any]:
    """Convert a dataclass config into plain YAML-safe Python values."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, Path):
            return str(value)
        return value

    return plain(cfg)


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Convert ``value`` (from YAML or a string override) to the annotated type."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arg, key)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(f"{key}: {value!r} fits none of {tp}.")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{key}: {value!r} is not one of {list(args)}.")
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping for {tp.__name__}, got {value!r}.")
        return from_dict(tp, value, prefix=f"{key}.")
    if origin in (list, tuple):
        if isinstance(value, str):
            value = yaml.safe_load(value)
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{key}: expected a list, got {value!r}.")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"{key}: expected {len(args)} values, got {len(value)}.")
            return tuple(_coerce(v, a, key) for v, a in zip(value, args, strict=True))
        inner = args[0] if args else Any
        items = [_coerce(v, inner, key) for v in value]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}.")
        return dict(value)
    if tp is bool:
        if isinstance(value, str):
            low = value.lower()
            if low in {"true", "yes", "1", "on"}:
                return True
            if low in {"false", "no", "0", "off"}:
                return False
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true/false, got {value!r}.")
    if tp in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected {tp.__name__}, got a bool.")
        try:
            out = tp(value)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"{key}: expected {tp.__name__}, got {value!r}.") from err
        if tp is int and isinstance(value, float) and not value.is_integer():
            raise ConfigError(f"{key}: expected an int, got {value!r}.")
        return out
    if tp is str:
        return str(value)
    if tp is Path:
        return Path(value)
    if tp is type(None):
        if value is None or (isinstance(value, str) and value.lower() in {"none", "null"}):
            return None
        raise ConfigError(f"{key}: expected null, got {value!r}.")
    return value


def _field_types(cls: type) -> dict[str, Any]:
    fields = dataclasses.fields(cls)
    if any(isinstance(f.type, str) for f in fields):  # postponed annotations
        hints = typing.get_type_hints(cls)
        return {f.name: hints[f.name] for f in fields}
    return {f.name: f.type for f in fields}


def from_dict(cls: type[C], data: dict[str, Any], *, prefix: str = "") -> C:
    """Build ``cls`` from a mapping, checking keys and types."""
    types_ = _field_types(cls)
    unknown = set(data) - set(types_)
    if unknown:
        raise ConfigError(
            f"Unknown config key(s) {sorted(prefix + k for k in unknown)}; "
            f"valid keys here are {sorted(prefix + k for k in types_)}."
        )
    kwargs = {k: _coerce(v, types_[k], prefix + k) for k, v in data.items()}
    return cls(**kwargs)


def apply_overrides(cfg: C, overrides: Iterable[str]) -> C:
    """Return a copy of ``cfg`` with ``"a.b=c"`` overrides applied (values parsed as YAML)."""
    data = to_dict(cfg)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"Override {item!r} must look like key.sub=value.")
        key, raw = item.split("=", 1)
        parts = key.strip().split(".")
        node = data
        for depth, part in enumerate(parts[:-1]):
            if not isinstance(node.get(part), dict):
                where = ".".join(parts[: depth + 1])
                raise ConfigError(f"Override {item!r}: {where!r} is not a config section.")
            node = node[part]
        if parts[-1] not in node:
            raise ConfigError(
                f"Override {item!r}: unknown key {key!r}; valid keys here are "
                f"{sorted('.'.join([*parts[:-1], k]) for k in node)}."
            )
        node[parts[-1]] = yaml.safe_load(raw) if raw.strip() else ""
    return from_dict(type(cfg), data)


def load_config(cls: type[C], path: str | os.PathLike, overrides: Iterable[str] = ()) -> C:
    """Read a YAML file with ``safe_load`` into ``cls``, then apply overrides."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Config file {path} does not exist.")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a YAML mapping at the top level.")
    return apply_overrides(from_dict(cls, data), overrides)


def save_config(cfg: Any, path: str | os.PathLike) -> None:
    """Write ``cfg`` as YAML, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
