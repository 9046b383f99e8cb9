"""Conventions: progress switch, package logger, seeding."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from neuroattn import logger, set_log_level
from neuroattn._logging import use_log_level
from neuroattn.progress import progress, progress_enabled
from neuroattn.seeding import set_seed


def test_progress_env_switch(monkeypatch):
    monkeypatch.setenv("NEUROATTN_PROGRESS", "off")
    assert not progress_enabled()
    assert progress(range(3)).disable
    monkeypatch.setenv("NEUROATTN_PROGRESS", "on")
    assert progress_enabled()
    assert progress_enabled(False) is False


def test_progress_off_when_not_a_tty(monkeypatch):
    monkeypatch.delenv("NEUROATTN_PROGRESS", raising=False)
    monkeypatch.setattr("sys.stderr.isatty", lambda: False)
    assert not progress_enabled()


def test_log_levels(caplog):
    with use_log_level("WARNING"):
        assert logger.level == logging.WARNING
    with pytest.raises(ValueError, match="not a log level"):
        set_log_level("LOUD")
    with use_log_level(True):
        assert logger.level == logging.INFO


def test_set_seed_reproduces_numpy_and_torch():
    rng = set_seed(123)
    a = (rng.random(), np.random.rand(), torch.rand(1).item())
    rng = set_seed(123)
    assert a == (rng.random(), np.random.rand(), torch.rand(1).item())
    with pytest.raises(ValueError, match="non-negative int"):
        set_seed(-1)
