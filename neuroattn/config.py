"""Dataclass configs with YAML load/save and ``--set a.b=c`` overrides.

Configs are plain (nested) dataclasses. YAML is read with ``yaml.safe_load``
only, and every override is type-checked against the field it sets, so a typo
fails loudly with the list of valid keys. A numeric field declared with
:func:`in_range` is also checked against its allowed range when the config is
loaded (:func:`check_ranges`), and every float must be finite.

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
import math
import numbers
import os
import types
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from neuroattn._atomic import atomic_path
from neuroattn._validation import to_jsonable
from neuroattn.errors import NeuroattnError

C = TypeVar("C")


class ConfigError(NeuroattnError, ValueError):
    """A config file or override that does not fit the config dataclass."""


@dataclasses.dataclass(frozen=True)
class Range:
    """The allowed values of a numeric config field (``None``: no bound on that side).

    Examples
    --------
    >>> str(Range(low=1)), str(Range(low=0, high=1, high_open=True)), 0.5 in Range(low=0)
    ('>= 1', 'in [0, 1)', True)
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def __str__(self) -> str:
        if self.low is not None and self.high is not None:
            return (f"in {'(' if self.low_open else '['}{self.low:g}, "
                    f"{self.high:g}{')' if self.high_open else ']'}")
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        if self.high is not None:
            return f"{'<' if self.high_open else '<='} {self.high:g}"
        return "any finite number"


def in_range(default: Any = dataclasses.MISSING, *, low: float | None = None,
             high: float | None = None, low_open: bool = False, high_open: bool = False,
             default_factory: Callable[[], Any] | Any = dataclasses.MISSING) -> Any:
    """A dataclass field whose numeric value (or each value of a list) must lie in a range.

    :func:`from_dict` (so :func:`load_config` and :func:`apply_overrides`)
    checks it with :func:`check_ranges`; ``None`` always passes.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Train:
    ...     epochs: int = in_range(10, low=1)
    >>> apply_overrides(Train(), ["epochs=-1"])
    Traceback (most recent call last):
    ...
    neuroattn.config.ConfigError: epochs=-1 is out of range: it must be >= 1; pass a value >= 1.
    """
    rng = Range(low, high, low_open, high_open)
    return dataclasses.field(default=default, default_factory=default_factory,
                             metadata={"range": rng})


def check_value(key: str, value: Any, rng: Range | None = None) -> None:
    """Check a number (or each number of a list): finite, and in ``rng`` if given.

    Raises :class:`ConfigError` naming ``key``, the value and the allowed range;
    ``None``, booleans and non-numbers pass (their types are checked elsewhere).

    Examples
    --------
    >>> check_value("dropout", 1.5, Range(0, 1, high_open=True))
    Traceback (most recent call last):
    ...
    neuroattn.config.ConfigError: dropout=1.5 is out of range: it must be in [0, 1); pass a \
value in [0, 1).
    """
    for item in value if isinstance(value, list | tuple) else [value]:
        if item is None or isinstance(item, bool) or not isinstance(item, numbers.Real):
            continue
        if not math.isfinite(item):
            allowed = "a finite number" if rng is None else f"a finite number {rng}"
            raise ConfigError(f"{key}={value!r} is not a finite number: NaN and infinity mean "
                              f"nothing here; pass {allowed}.")
        if rng is not None and item not in rng:
            raise ConfigError(f"{key}={value!r} is out of range: it must be {rng}; pass a "
                              f"value {rng}.")


def check_ranges(cfg: Any, prefix: str = "") -> None:
    """Check every numeric field of a (nested) dataclass config.

    Floats must be finite; fields made with :func:`in_range` must lie in their
    range. Raises :class:`ConfigError` naming the field (``prefix`` + name),
    the value and the allowed range.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Optim:
    ...     lr: float = in_range(1e-3, low=0, low_open=True)
    >>> check_ranges(Optim(lr=0.0), prefix="optim.")
    Traceback (most recent call last):
    ...
    neuroattn.config.ConfigError: optim.lr=0.0 is out of range: it must be > 0; pass a value > 0.
    """
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            check_ranges(value, f"{prefix}{f.name}.")
        else:
            check_value(prefix + f.name, value, f.metadata.get("range"))


def config_changes(old: dict[str, Any], new: dict[str, Any], prefix: str = ""
                   ) -> dict[str, tuple[Any, Any]]:
    """The dotted keys whose values differ between two :func:`to_dict` configs.

    Examples
    --------
    >>> config_changes({"a": 1, "b": {"c": 2, "d": 3}}, {"a": 1, "b": {"c": 5, "d": 3}})
    {'b.c': (2, 5)}
    """
    changes: dict[str, tuple[Any, Any]] = {}
    for key in [*old, *(k for k in new if k not in old)]:
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            changes.update(config_changes(a, b, f"{prefix}{key}."))
        elif a != b:
            changes[prefix + key] = (a, b)
    return changes


def parse_yaml(text: str, source: str) -> Any:
    """``yaml.safe_load(text)``, with a parse error as a :class:`ConfigError` naming ``source``.

    Examples
    --------
    >>> parse_yaml("lr: [1, 2", "run.yaml")
    Traceback (most recent call last):
    ...
    neuroattn.config.ConfigError: run.yaml is not valid YAML: expected ',' or ']', but got ...
    ... at line 1, column 10; fix the syntax there (YAML mappings look like key: value).
    """
    try:
        return yaml.safe_load(text)
    except yaml.constructor.ConstructorError as err:
        raise ConfigError(
            f"{source} holds a YAML tag that is not allowed ({err.problem}{_where(err)}): "
            "configs hold plain values only (numbers, strings, lists, mappings), and no "
            "object is ever built from a config; remove the tag.") from None
    except yaml.YAMLError as err:
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{source} is not valid YAML: {problem}{_where(err)}; fix the syntax "
                          "there (YAML mappings look like key: value).") from None


def _where(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    return "" if mark is None else f" at line {mark.line + 1}, column {mark.column + 1}"


def to_dict(cfg: Any) -> dict[str, Any]:
    """Convert a dataclass config into plain YAML-safe Python values."""
    return to_jsonable(cfg)


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
            value = parse_yaml(value, f"the value of {key}")
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
    try:
        cfg = cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as err:  # the dataclass's own checks (__post_init__)
        raise ConfigError(f"{prefix.rstrip('.') or cls.__name__}: {err}") from None
    check_ranges(cfg, prefix)
    return cfg


def config_from(cls: type[C], config: C | None, overrides: dict[str, Any], caller: str) -> C:
    """``config`` (or the defaults of ``cls``) with keyword ``overrides`` applied, checked.

    The pattern of every generator ``make_x(config=None, **overrides)``: unknown
    names and a config of the wrong type raise :class:`ConfigError` naming
    ``caller`` and the valid names; the dataclass re-validates the result.

    Examples
    --------
    >>> @dataclasses.dataclass
    ... class Demo:
    ...     n: int = 1
    >>> config_from(Demo, None, {"n": 3}, "make_demo")
    Demo(n=3)
    >>> config_from(Demo, Demo(), {"m": 3}, "make_demo")
    Traceback (most recent call last):
    ...
    neuroattn.config.ConfigError: Unknown parameter(s) ['m'] for make_demo; valid names are ['n'].
    """
    valid = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise ConfigError(f"Unknown parameter(s) {unknown} for {caller}; valid names are "
                          f"{sorted(valid)}.")
    if config is None:
        return cls(**overrides)
    if not isinstance(config, cls):
        raise ConfigError(f"config must be a {cls.__name__} or None, got "
                          f"{type(config).__name__}; pass parameters as keyword overrides "
                          "instead.")
    return dataclasses.replace(config, **overrides)  # re-validates


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
        node[parts[-1]] = parse_yaml(raw, f"Override {item!r}") if raw.strip() else ""
    return from_dict(type(cfg), data)


def load_config(cls: type[C], path: str | os.PathLike, overrides: Iterable[str] = ()) -> C:
    """Read a YAML file with ``safe_load`` into ``cls``, then apply overrides."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Config file {path} does not exist.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"Config file {path} is not UTF-8 text ({err.reason} at byte "
                          f"{err.start}); pass a YAML file.") from None
    data = parse_yaml(text, str(path)) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a YAML mapping at the top level.")
    return apply_overrides(from_dict(cls, data), overrides)


def save_config(cfg: Any, path: str | os.PathLike) -> None:
    """Write ``cfg`` as YAML, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
