"""Config dataclasses: YAML round trip, typed overrides, helpful errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from neuroattn.config import ConfigError, apply_overrides, load_config, save_config, to_dict


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
    with pytest.raises(Exception, match="could not determine a constructor"):
        load_config(Run, tmp_path / "c.yaml")
