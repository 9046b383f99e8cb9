"""Every shipped models/mvpformer-*.yaml is a valid run config."""

from __future__ import annotations

from pathlib import Path

import pytest

from neuroattn.config import load_config
from neuroattn.ieeg import PRESETS
from neuroattn.train_ieeg import RunConfig

CONFIGS = sorted((Path(__file__).parents[2] / "models").glob("mvpformer-*.yaml"))


def test_configs_ship():
    assert len(CONFIGS) >= 3


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_loads(path):
    cfg = load_config(RunConfig, path)
    assert cfg.mode in ("pretrain", "finetune", "evaluate")
    if cfg.mode == "pretrain":
        assert cfg.model.name in PRESETS
