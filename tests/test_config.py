"""Config dataclasses: YAML round trip, typed overrides, helpful errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from neuroattn.config import (
    ConfigError,
    apply_overrides,
    config_changes,
    in_range,
    load_config,
    save_config,
    to_dict,
)


@dataclass
class Optim:
    lr: float = 1e-3
    warmup: int = 100
    schedule: Literal["cosine", "constant"] = "cosine"


@dataclass
class Run:
    seed: int = 0
    name: str | None = None
    channels: list[int] = field(default_factory=lambda: [1, 2])
    amp: bool = True
    out: Path = Path("runs")
    optim: Optim = field(default_factory=Optim)


def test_yaml_round_trip(tmp_path):
    cfg = apply_overrides(Run(), ["optim.lr=3e-4", "name=demo", "channels=[4, 5, 6]",
                                  "amp=false", "out=/tmp/x"])
    save_config(cfg, tmp_path / "cfg.yaml")
    assert load_config(Run, tmp_path / "cfg.yaml") == cfg
    assert to_dict(cfg)["optim"] == {"lr": 3e-4, "warmup": 100, "schedule": "cosine"}


def test_overrides_after_file(tmp_path):
    (tmp_path / "c.yaml").write_text("seed: 3\noptim:\n  warmup: 7\n")
    cfg = load_config(Run, tmp_path / "c.yaml", ["optim.warmup=9"])
    assert (cfg.seed, cfg.optim.warmup, cfg.optim.lr) == (3, 9, 1e-3)


@pytest.mark.parametrize("override, message", [
    ("optim.lrr=1", r"unknown key 'optim.lrr'.*'optim.lr'"),
    ("seed=abc", "seed: expected int"),
    ("seed=1.5", "expected an int"),
    ("optim.schedule=linear", r"not one of \['cosine', 'constant'\]"),
    ("amp=maybe", "expected true/false"),
    ("seed.x=1", "'seed' is not a config section"),
    ("seed", "must look like key.sub=value"),
])
def test_bad_overrides_are_explained(override, message):
    with pytest.raises(ConfigError, match=message):
        apply_overrides(Run(), [override])


def test_unknown_key_in_file(tmp_path):
    (tmp_path / "c.yaml").write_text("sede: 3\n")
    with pytest.raises(ConfigError, match=r"Unknown config key\(s\) \['sede'\]"):
        load_config(Run, tmp_path / "c.yaml")


def test_yaml_is_loaded_safely(tmp_path):
    (tmp_path / "c.yaml").write_text("name: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(ConfigError, match=r"c\.yaml holds a YAML tag that is not allowed "
                                          r"\(could not determine a constructor.*remove the tag"):
        load_config(Run, tmp_path / "c.yaml")


@pytest.mark.parametrize("text, message", [
    ("seed: [1,\n", r"c\.yaml is not valid YAML: .* at line 2, column 1; fix the syntax"),
    ("seed: 1\n\tname: x\n", r"c\.yaml is not valid YAML: .*line 2"),
])
def test_malformed_yaml_names_the_file_and_line(tmp_path, text, message):
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(Run, tmp_path / "c.yaml")


def test_malformed_override_value():
    with pytest.raises(ConfigError, match=r"Override 'channels=\[1,' is not valid YAML"):
        apply_overrides(Run(), ["channels=[1,"])


@dataclass
class Bounded:
    epochs: int = in_range(10, low=1)
    rate: float = in_range(0.1, low=0, high=1, high_open=True)
    sizes: list[int] = in_range(low=1, default_factory=lambda: [1, 2])
    free: float = 1.0
    optim: Optim = field(default_factory=Optim)


@pytest.mark.parametrize("override, message", [
    ("epochs=0", r"epochs=0 is out of range: it must be >= 1; pass a value >= 1\."),
    ("rate=1", r"rate=1\.0 is out of range: it must be in \[0, 1\)"),
    ("sizes=[3, 0]", r"sizes=\[3, 0\] is out of range: it must be >= 1"),
    ("free=.inf", r"free=inf is not a finite number"),
    ("optim.lr=nan", r"optim\.lr=nan is not a finite number"),
])
def test_numbers_are_checked_against_their_range(override, message):
    with pytest.raises(ConfigError, match=message):
        apply_overrides(Bounded(), [override])
    assert apply_overrides(Bounded(), ["epochs=1", "rate=0", "sizes=[5]"]).sizes == [5]


@dataclass
class SelfChecked:
    k: int = 1

    def __post_init__(self):
        if self.k > 3:
            raise ValueError(f"k={self.k} must be <= 3.")


@dataclass
class Outer:
    inner: SelfChecked = field(default_factory=SelfChecked)


def test_a_dataclass_check_becomes_a_config_error_naming_the_section():
    with pytest.raises(ConfigError, match=r"^inner: k=5 must be <= 3\.$"):
        apply_overrides(Outer(), ["inner.k=5"])


def test_config_changes_lists_dotted_keys():
    old, new = to_dict(Run()), to_dict(apply_overrides(Run(), ["optim.lr=0.5", "seed=2"]))
    assert config_changes(old, new) == {"seed": (0, 2), "optim.lr": (1e-3, 0.5)}
    assert config_changes(old, old) == {}
