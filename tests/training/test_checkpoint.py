"""Atomic checkpoints loaded with weights_only=True."""

from __future__ import annotations

import pytest
import torch

from neuroattn.training import CheckpointError, load_checkpoint, save_checkpoint


def test_round_trip_and_model_check(tmp_path):
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters())
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"model": model.state_dict(), "optimizer": opt.state_dict(),
                           "step": 5, "config": {"lr": 0.1}}, model_name="linear")
    state = load_checkpoint(path, model_name="linear")
    fresh = torch.nn.Linear(3, 2)
    fresh.load_state_dict(state["model"])
    assert torch.equal(fresh.weight, model.weight)
    assert state["step"] == 5 and state["config"] == {"lr": 0.1}
    with pytest.raises(CheckpointError, match="holds a 'linear' checkpoint, not 'mvpformer'"):
        load_checkpoint(path, model_name="mvpformer")


class Evil:
    """Any class outside torch's allow-list stands for a malicious pickle."""


def test_refuses_pickled_objects(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"obj": Evil(), "__neuroattn__": {"model_name": "x", "version": "0"}}, path)
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(path)


def test_missing_truncated_and_foreign(tmp_path):
    with pytest.raises(CheckpointError, match="No checkpoint at"):
        load_checkpoint(tmp_path / "none.pt")
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"w": torch.ones(100)}, model_name="m")
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(path)
    torch.save({"w": torch.ones(1)}, tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match="not written by neuroattn"):
        load_checkpoint(tmp_path / "plain.pt")


def test_failed_save_keeps_previous(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"step": 1}, model_name="m")

    def broken_save(obj, f):
        f.write_bytes(b"partial") if hasattr(f, "write_bytes") else None
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"step": 2}, model_name="m")
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]
