"""Fault cases of checkpoints, model directories, configs, gaze readers, foveated weights
and the resample cache.

Pickle payloads here only create a marker directory when unpickled, so a
case can tell whether a pickle ran (it must never run).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from neuroattn.testing.faults import (
    PROMISES_PREVIOUS,
    CaseContext,
    Expected,
    FaultCase,
    Silent,
    Unhelpful,
)
from neuroattn.testing.faults_convert import cases as convert_cases
from neuroattn.testing.faults_fixtures import garble, pickle_file, truncate


def _no_marker(ctx: CaseContext) -> None:
    if (ctx.tmp / "PICKLE_RAN").exists():
        raise Silent("the pickle ran: it created PICKLE_RAN")


def _checkpoint(ctx: CaseContext) -> Path:
    """A real neuroattn checkpoint (model 'demo') in the case's directory."""
    import torch

    from neuroattn.training import save_checkpoint

    path = ctx.tmp / "last.pt"
    save_checkpoint(path, {"model": {"w": torch.arange(4.0)}, "step": 3}, model_name="demo")
    return path


def _load(make: Callable[[CaseContext], Path]) -> Callable[[CaseContext], Any]:
    def run(ctx: CaseContext) -> None:
        from neuroattn.training import load_checkpoint

        path = make(ctx)
        try:
            load_checkpoint(path, model_name="demo")
        except Exception as err:
            _no_marker(ctx)
            if PROMISES_PREVIOUS.search(str(err)) and not [
                    p for p in ctx.tmp.iterdir() if p != path]:
                raise Unhelpful(f"it points to a previous checkpoint that does not exist: "
                                f"{err}") from err
            raise
        _no_marker(ctx)
    return run


def _checkpoint_cases() -> list[FaultCase]:
    from neuroattn.training import CheckpointError

    def damaged(damage: Callable[[Path], Any]) -> Callable[[CaseContext], Path]:
        def make(ctx: CaseContext) -> Path:
            path = _checkpoint(ctx)
            damage(path)
            return path
        return make

    def other_model(ctx: CaseContext) -> Path:
        from neuroattn.training import save_checkpoint

        path = ctx.tmp / "last.pt"
        save_checkpoint(path, {"model": {}}, model_name="mvpformer-pretrain")
        return path

    def plain(ctx: CaseContext) -> Path:
        import torch

        torch.save({"w": torch.ones(2)}, ctx.tmp / "last.pt")
        return ctx.tmp / "last.pt"

    def payload(ctx: CaseContext) -> Path:
        return pickle_file(ctx.tmp / "last.pt", ctx.tmp / "PICKLE_RAN",
                           wrap=lambda obj: {"model": obj, "__neuroattn__": {}})

    def folder(ctx: CaseContext) -> Path:
        (ctx.tmp / "last.pt").mkdir()
        return ctx.tmp / "last.pt"

    spec = [
        ("garbage", "random bytes", ("last.pt",), damaged(garble)),
        ("truncated", "a checkpoint cut in half", ("last.pt",),
         damaged(lambda p: truncate(p, 0.5))),
        ("empty", "a 0-byte file", ("last.pt",), damaged(lambda p: p.write_bytes(b""))),
        ("text", "a text file", ("last.pt",), damaged(lambda p: p.write_text("step: 3\n"))),
        ("pickle-object", "a pickle that would run code", ("last.pt",), payload),
        ("other-model", "another model's checkpoint", ("mvpformer-pretrain",), other_model),
        ("plain-state-dict", "a plain torch state dict", ("last.pt",), plain),
        ("directory", "a directory named last.pt", ("last.pt",), folder),
        ("missing", "no file at all", ("last.pt",), lambda ctx: ctx.tmp / "last.pt"),
    ]
    return [FaultCase(f"checkpoint.{cid}", "checkpoint", f"load_checkpoint of {what}",
                      Expected.error(*frags, error_class=CheckpointError), _load(make))
            for cid, what, frags, make in spec]


def _model_dir(damage: Callable[[Path], Any]) -> Callable[[CaseContext], Any]:
    def run(ctx: CaseContext) -> None:
        from neuroattn.ieeg import MVPFormer, preset

        path = MVPFormer(preset("tiny")).save_pretrained(ctx.tmp / "model")
        damage(path)
        MVPFormer.from_pretrained(path)
        _no_marker(ctx)
    return run


def _config_edit(**fields: Any) -> Callable[[Path], Any]:
    def edit(path: Path) -> None:
        meta = json.loads((path / "config.json").read_text())
        meta["config"].update(fields)  # the MVPFormerConfig fields sit under "config"
        (path / "config.json").write_text(json.dumps(meta))
    return edit


def _model_cases() -> list[FaultCase]:
    def evil_weights(path: Path) -> None:  # the layout before safetensors: weights.pt
        (path / "model.safetensors").unlink()
        pickle_file(path / "weights.pt", path.parent / "PICKLE_RAN")

    spec = [
        ("config-garbage", "config.json is not JSON", ("config.json",),
         lambda p: (p / "config.json").write_text("{model: mvpformer")),
        ("config-missing", "config.json deleted", ("config.json",),
         lambda p: (p / "config.json").unlink()),
        ("config-bad-value", "config.json with d_model 'big'", ("d_model",),
         _config_edit(d_model="big")),
        ("config-negative", "config.json with n_layers -1", ("n_layers",),
         _config_edit(n_layers=-1)),
        ("config-unknown-field", "config.json with an unknown field 'colour'", ("colour",),
         _config_edit(colour="red")),
        ("config-other-size", "config.json saying d_model 64 for 32-wide weights",
         ("d_model", "shape", "fit"), _config_edit(d_model=64)),
        ("weights-garbage", "model.safetensors of random bytes", ("model.safetensors",),
         lambda p: garble(p / "model.safetensors")),
        ("weights-truncated", "model.safetensors cut in half", ("model.safetensors",),
         lambda p: truncate(p / "model.safetensors", 0.5)),
        ("weights-missing", "model.safetensors deleted", ("model.safetensors",),
         lambda p: (p / "model.safetensors").unlink()),
        ("weights-pickle", "an old-layout weights.pt a pickle that would run code",
         ("weights.pt",), evil_weights),
        ("other-family", "config.json naming another model family", ("'oat'", "load_model"),
         lambda p: (p / "config.json").write_text(json.dumps(
             {**json.loads((p / "config.json").read_text()), "model": "oat"}))),
    ]
    return [FaultCase(f"checkpoint.model-{cid}", "checkpoint",
                      f"MVPFormer.from_pretrained of a model directory whose {what}",
                      Expected.error(*frags), _model_dir(damage))
            for cid, what, frags, damage in spec]


def _load_config(text: str | bytes | None) -> Callable[[CaseContext], Any]:
    def run(ctx: CaseContext) -> None:
        from neuroattn.config import load_config
        from neuroattn.train_ieeg import RunConfig

        path = ctx.tmp / "run.yaml"
        if isinstance(text, bytes):
            path.write_bytes(text)
        elif text is not None:
            path.write_text(text.replace("MARKER", str(ctx.tmp / "PICKLE_RAN")))
        try:
            load_config(RunConfig, path)
        finally:
            _no_marker(ctx)
    return run


#: A YAML document that runs os.makedirs(MARKER) under an unsafe loader.
PYTHON_TAG = "mode: finetune\ntrain: !!python/object/apply:os.makedirs ['MARKER']\n"


def _config_cases() -> list[FaultCase]:
    from neuroattn.config import ConfigError

    spec = [
        ("malformed", "a YAML file with an unclosed bracket", ("run.yaml",),
         "train: {lr: 0.1\nmode: finetune\n"),
        ("python-tag", "a YAML file with a !!python/object tag", ("run.yaml",), PYTHON_TAG),
        ("binary", "random bytes as the config", ("run.yaml",),
         bytes(np.random.default_rng(0).integers(0, 256, 200, dtype=np.uint8))),
        ("list", "a YAML list at the top level", ("run.yaml", "mapping"), "- finetune\n"),
        ("unknown-key", "an unknown key train.learning_rate", ("learning_rate",),
         "train: {learning_rate: 0.1}\n"),
        ("wrong-type", "train.lr: fast", ("lr",), "train: {lr: fast}\n"),
        ("missing", "a config path that does not exist", ("run.yaml",), None),
    ]
    return [FaultCase(f"config.{cid}", "config", f"load_config of {what}",
                      Expected.error(*frags, error_class=ConfigError), _load_config(text))
            for cid, what, frags, text in spec]


def _trial(**fields: Any) -> dict[str, Any]:
    """One COCO-Search18 record shaped like the released ones."""
    rec = {"name": "000000211326.jpg", "subject": 2, "task": "bottle", "condition": "present",
           "bbox": [377, 0, 288, 213], "X": [848.3, 738.5, 520.5], "Y": [530.0, 360.3, 45.6],
           "T": [168, 157, 643], "length": 3, "correct": 1, "RT": 920, "split": "valid"}
    rec.update(fields)
    return rec


def _coco(content: Any, *, cli: bool = False) -> Callable[[CaseContext], Any]:
    def run(ctx: CaseContext) -> None:
        from neuroattn.datasets.cocosearch18 import read_cocosearch18

        path = ctx.tmp / "coco_search18_fixations_TP_validation_split1.json"
        if isinstance(content, str):
            path.write_text(content)
        elif content is not None:
            path.write_text(json.dumps(content))
        if cli:
            from neuroattn.__main__ import main

            ctx.cli(main, ["-q", "convert", "cocosearch18", str(path), str(ctx.tmp / "f.zarr")])
        else:
            read_cocosearch18(path)
    return run


def _gaze_cases() -> list[FaultCase]:
    frame = ("frame", "1680", "outside", "out of")
    spec = [
        ("out-of-frame", "fixations at (-500, 99999) in the 1680 x 1050 frame",
         Expected.error(*frame, or_warning=True), _coco([_trial(X=[848.3, -500.0, 520.5],
                                                              Y=[530.0, 99999.0, 45.6])])),
        ("out-of-frame-cli", "convert cocosearch18 with a fixation at x = -500",
         Expected.error(*frame, or_warning=True), _coco([_trial(X=[848.3, -500.0, 520.5])],
                                                        cli=True)),
        ("subject-dict", "a dict as subject", Expected.error("subject"),
         _coco([_trial(subject={"id": 2})])),
        ("subject-list", "a list as subject", Expected.error("subject"),
         _coco([_trial(subject=[2, 3])])),
        ("subject-dict-cli", "convert cocosearch18 with a dict as subject",
         Expected.error("subject"), _coco([_trial(subject={"id": 2})], cli=True)),
        ("duration-negative", "a negative fixation duration",
         Expected.error("'T'", "duration", "negative"), _coco([_trial(T=[168, -157, 643])])),
        ("x-nan", "a NaN fixation position (written as NaN in the JSON)",
         Expected.error("'X'", "X[", "finite"), _coco('[{"name": "a.jpg", "subject": 2, '
                                                      '"task": "cup", "condition": "absent", '
                                                      '"X": [NaN], "Y": [1.0], "T": [100]}]')),
        ("condition-unknown", "condition 'maybe'", Expected.error("condition"),
         _coco([_trial(condition="maybe")])),
        ("bbox-short", "a bbox of 2 numbers", Expected.error("bbox"),
         _coco([_trial(bbox=[1, 2])])),
        ("empty-list", "a file holding no trial", Expected.error("coco_search18_fixations"),
         _coco([])),
        ("not-json", "a file that is not JSON", Expected.error("coco_search18_fixations"),
         _coco("X, Y, T\n1, 2, 3\n")),
        ("missing", "a file that does not exist", Expected.error("coco_search18_fixations"),
         _coco(None)),
    ]
    return [FaultCase(f"gaze.coco-{cid}", "gaze", f"read_cocosearch18: {what}", expected, run)
            for cid, what, expected, run in spec]


def _resnet(make: Callable[[CaseContext], Path], **kwargs: Any) -> Callable[[CaseContext], Any]:
    def run(ctx: CaseContext) -> None:
        from neuroattn.retina.foveated_cnn import FoveatedResNet

        path = make(ctx)
        try:
            FoveatedResNet(weights=path, **kwargs)
        finally:
            _no_marker(ctx)
    return run


def _resnet18_weights(ctx: CaseContext) -> Path:
    def build(folder: Path) -> Path:
        import torch
        import torchvision

        torch.save(torchvision.models.resnet18(weights=None).state_dict(), folder / "r18.pth")
        return folder / "r18.pth"

    return ctx.shared.get("resnet18", build)  # read only: no copy of its 45 MB


def _retina_cases() -> list[FaultCase]:
    def evil(ctx: CaseContext) -> Path:
        return pickle_file(ctx.tmp / "evil.pth", ctx.tmp / "PICKLE_RAN")

    def junk(ctx: CaseContext) -> Path:
        return garble(ctx.tmp / "evil.pth")

    spec = [
        ("pickle", "a pickle that would run code", ("evil.pth",), _resnet(evil)),
        ("missing", "a file that does not exist", ("evil.pth",),
         _resnet(lambda ctx: ctx.tmp / "evil.pth")),
        ("garbage", "random bytes", ("evil.pth",), _resnet(junk)),
        ("other-arch", "resnet18 weights for a resnet50", ("resnet50", "resnet18"),
         _resnet(_resnet18_weights, arch="resnet50")),
        ("in-channels", "ImageNet weights with in_channels=2", ("in_channels", "channels"),
         _resnet(_resnet18_weights, in_channels=2)),
    ]
    return [FaultCase(f"retina.weights-{cid}", "retina", f"FoveatedResNet(weights=...) of {what}",
                      Expected.error(*frags), run) for cid, what, frags, run in spec]


def _site_store(path: Path, seed: int) -> Path:
    from neuroattn.datasets.synthetic import make_synthetic_ieeg

    rec = make_synthetic_ieeg(n_channels=4, duration_s=60.0, sfreq=256.0, n_seizures=1,
                              seed=seed)
    return rec.to_store(path, overwrite=True)


def _first_window(store: Path, cache: Path) -> np.ndarray:
    from neuroattn.ieeg import preset
    from neuroattn.train_ieeg.data import open_recordings

    [rec] = open_recordings([store], preset("tiny"), window_segments=8, cache_dir=cache)
    return rec.windows[len(rec.windows) // 2][0].numpy()


def _cache_case(prepare: Callable[[CaseContext, Path], Path]) -> Callable[[CaseContext], Any]:
    def run(ctx: CaseContext) -> None:
        cache = ctx.tmp / "cache"
        store = prepare(ctx, cache)
        got = _first_window(store, cache)
        want = _first_window(store, ctx.tmp / "fresh_cache")
        if got.shape != want.shape or not np.allclose(got, want, atol=1e-6):
            raise Silent(f"the windows of {store.relative_to(ctx.tmp)} come from a stale or "
                         "foreign cache entry")
    return run


def _two_sites(ctx: CaseContext, cache: Path) -> Path:
    site_a = _site_store(ctx.tmp / "siteA" / "P1.zarr", seed=1)
    _first_window(site_a, cache)
    return _site_store(ctx.tmp / "siteB" / "P1.zarr", seed=2)


def _rewritten(ctx: CaseContext, cache: Path) -> Path:
    store = _site_store(ctx.tmp / "P1.zarr", seed=1)
    _first_window(store, cache)
    return _site_store(store, seed=2)


def _damaged_entry(damage: Callable[[Path], Any]) -> Callable[[CaseContext, Path], Path]:
    def prepare(ctx: CaseContext, cache: Path) -> Path:
        store = _site_store(ctx.tmp / "P1.zarr", seed=1)
        _first_window(store, cache)
        [entry] = [p for p in cache.iterdir() if not p.name.startswith(".")]
        damage(entry)
        return store
    return prepare


def _status_writing(entry: Path) -> None:
    meta = json.loads((entry / "zarr.json").read_text())
    meta["attributes"]["neuroattn_status"] = "writing"
    (entry / "zarr.json").write_text(json.dumps(meta))


def _cache_cases() -> list[FaultCase]:
    rebuilt = Expected.error("cache", or_success=True)
    spec = [
        ("site-collision", "siteA/P1.zarr and siteB/P1.zarr (256 Hz) resampled into one cache",
         Expected.success(), _two_sites),
        ("stale-source", "P1.zarr re-written with other data after it was cached",
         Expected.success(), _rewritten),
        ("entry-chunk-deleted", "a signal chunk deleted from the cached copy", rebuilt,
         _damaged_entry(lambda e: next(p for p in (e / "signal" / "c").rglob("*")
                                        if p.is_file()).unlink())),
        ("entry-incomplete", "a cached copy marked 'writing' (its write was interrupted)",
         rebuilt, _damaged_entry(_status_writing)),
    ]
    return [FaultCase(f"cache.{cid}", "cache", what, expected, _cache_case(prepare))
            for cid, what, expected, prepare in spec]


def cases() -> list[FaultCase]:
    """The converter, checkpoint, config, gaze, retina and cache cases."""
    return [*convert_cases(), *_checkpoint_cases(), *_model_cases(), *_config_cases(),
            *_gaze_cases(), *_retina_cases(), *_cache_cases()]
