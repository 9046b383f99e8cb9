"""The model registry (neuroattn.models): every family saves, loads, refuses, and has a shape test.

``EXAMPLES`` holds, for every registered family, a tiny random model and a
function that runs it on fixed inputs; ``test_every_registered_model_has_an_example``
fails when a family is registered without one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from neuroattn.errors import FormatError, InputNotFoundError, ParameterError
from neuroattn.models import list_models, load_model, model_class, preset, sizes


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _mvpformer() -> tuple[Any, Callable]:
    from neuroattn.ieeg import MVPFormer

    x = torch.randn(2, 3, 2 * 128, generator=_gen())
    return MVPFormer.preset("tiny"), lambda m: m(x)


def _encoder(cls_name: str) -> Callable[[], tuple[Any, Callable]]:
    def make() -> tuple[Any, Callable]:
        from neuroattn import encoding

        rng = np.random.default_rng(0)
        X, Y = rng.normal(size=(16, 3, 3, 4)), rng.normal(size=(16, 4))
        kwargs = dict(d_model=8, n_heads=2, dim_feedforward=8) if "Transformer" in cls_name \
            else {}
        model = getattr(encoding, cls_name)(max_epochs=1, batch_size=8, device="cpu",
                                            progress=False, **kwargs)
        return model.fit(X, Y, rois=[0, 0, 1, 1]), lambda m: m.predict(X[:5])
    return make


def _oat() -> tuple[Any, Callable]:
    from neuroattn.datasets.synthetic import make_visual_search
    from neuroattn.gaze.oat import OAT, as_search_trials, scanpath_tokens

    model = OAT.preset("tiny")
    data = make_visual_search(n_rows=3, n_cols=5, patch_size=(12, 10), min_objects=6,
                              n_train=2, n_val=1, n_test=1, n_subjects=1, seed=3)
    trials = as_search_trials(data.train)
    inputs = trials.inputs([0, 1], n_slots=model.n_slots)
    tokens = scanpath_tokens([trials.scanpaths[0][0], trials.scanpaths[1][0]], model.n_slots)
    return model, lambda m: m(inputs, tokens[:, :3])


def _tiny_clip() -> tuple[Any, Callable]:
    from neuroattn.gaze.neva.toy_encoders import TinyCLIP

    images = torch.rand(2, 3, 16, 16, generator=_gen())
    return (TinyCLIP(["a", "red", "blue", "disc"], embed_dim=8, width=4),
            lambda m: torch.cat([m.encode_image(images), m.encode_text(["a red disc", "blue"])]))


def _foveated() -> tuple[Any, Callable]:
    from neuroattn.retina import FoveatedResNet, LogPolar

    images = torch.rand(2, 1, 32, 32, generator=_gen())
    fixations = torch.rand(2, 3, 2, generator=_gen(1)) * 31
    return (FoveatedResNet(num_classes=3, in_channels=1, log_polar=LogPolar(16, 8)),
            lambda m: m(images, fixations))


def _cartesian() -> tuple[Any, Callable]:
    from neuroattn.retina import CartesianResNet, FixationCrop

    images = torch.rand(2, 1, 32, 32, generator=_gen())
    fixations = torch.rand(2, 3, 2, generator=_gen(1)) * 31
    return (CartesianResNet(num_classes=3, in_channels=1, crop=FixationCrop(16, log2_radius=-1)),
            lambda m: m(images, fixations))


def _perception() -> tuple[Any, Callable]:
    from neuroattn.semantic.perception import TensorBrainPerception

    model = TensorBrainPerception({"time": 3, "entity": 4, "colour": 2, "predicate": 3},
                                  labels=("colour",), dim=8, encoder_kwargs={"hidden": 16})
    images = torch.rand(2, 3, 32, 32, generator=_gen())
    boxes = torch.tensor([[[2., 2., 10., 10.], [20., 20., 30., 30.]]]).repeat(3, 1, 1)
    index = torch.tensor([0, 1, 1])
    return model, lambda m: m.perceive(images, boxes, image_index=index).probs["subject.colour"]


def _kg(cls_name: str) -> Callable[[], tuple[Any, Callable]]:
    def make() -> tuple[Any, Callable]:
        from neuroattn.semantic import kg, kg_decoder

        cls = getattr(kg, cls_name, None) or getattr(kg_decoder, cls_name)
        return cls(5, 2, dim=8), lambda m: m.score_tails([0, 1, 4], [1, 0, 1])
    return make


#: family -> (factory of a tiny random model and its runner, expected output shape)
EXAMPLES: dict[str, tuple[Callable[[], tuple[Any, Callable]], tuple[int, ...]]] = {
    "mvpformer": (_mvpformer, (2, 2)),
    "transformer_brain_encoder": (_encoder("TransformerBrainEncoder"), (5, 4)),
    "spatial_feature_encoder": (_encoder("SpatialFeatureEncoder"), (5, 4)),
    "oat": (_oat, (2, 3, 17)),
    "tiny_clip": (_tiny_clip, (4, 8)),
    "foveated_resnet": (_foveated, (2, 3, 3)),
    "cartesian_resnet": (_cartesian, (2, 3, 3)),
    "tensor_brain_perception": (_perception, (3, 2)),
    "tensor_brain_kg": (_kg("TensorBrainKG"), (3, 5)),
    "distmult": (_kg("DistMult"), (3, 5)),
    "complex": (_kg("ComplEx"), (3, 5)),
    "rescal": (_kg("RESCAL"), (3, 5)),
}
FAMILIES = list_models()


def _build(name: str) -> tuple[Any, Callable]:
    torch.manual_seed(0)
    model, run = EXAMPLES[name][0]()
    if isinstance(model, torch.nn.Module):
        model.eval()
    return model, run


@torch.no_grad()
def _output(model: Any, run: Callable) -> np.ndarray:
    if isinstance(model, torch.nn.Module):
        model.eval()
    out = run(model)
    return out.detach().numpy() if isinstance(out, torch.Tensor) else np.asarray(out)


def test_every_registered_model_has_an_example_and_names_itself():
    assert sorted(EXAMPLES) == sorted(FAMILIES)
    assert len(set(FAMILIES)) == len(FAMILIES)
    for name in FAMILIES:
        assert model_class(name).model_name == name


@pytest.mark.parametrize("name", FAMILIES)
def test_shape(name):
    model, run = _build(name)
    out = _output(model, run)
    assert out.shape == EXAMPLES[name][1]
    assert np.isfinite(out).any()


@pytest.mark.parametrize("name", FAMILIES)
def test_round_trip_gives_equal_outputs(name, tmp_path):
    model, run = _build(name)
    path = model.save_pretrained(tmp_path / name)
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "model.safetensors"]
    assert json.loads((path / "config.json").read_text())["model"] == name
    torch.manual_seed(123)  # loading must not depend on the global seed
    for again in (load_model(path), type(model).from_pretrained(path)):
        assert type(again) is type(model)
        np.testing.assert_array_equal(_output(again, run), _output(model, run))


@pytest.mark.parametrize("name", FAMILIES)
def test_a_directory_of_another_family_is_refused_by_name(name, tmp_path):
    model, _ = _build(name)
    path = model.save_pretrained(tmp_path / name)
    other = FAMILIES[(FAMILIES.index(name) + 1) % len(FAMILIES)]
    with pytest.raises(FormatError, match=rf"{name}'? model.*load_model"):
        model_class(other).from_pretrained(path)


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("damage, fragment", [
    (lambda p: (p / "model.safetensors").write_bytes(
        (p / "model.safetensors").read_bytes()[:200]), r"model\.safetensors"),
    (lambda p: (p / "model.safetensors").unlink(), r"model\.safetensors"),
    (lambda p: (p / "config.json").write_text("{not json"), r"config\.json"),
], ids=["truncated-weights", "no-weights", "garbled-config"])
def test_a_corrupt_directory_is_a_format_error_naming_the_file(name, damage, fragment, tmp_path):
    model, _ = _build(name)
    path = model.save_pretrained(tmp_path / name)
    damage(path)
    with pytest.raises(FormatError, match=fragment):
        load_model(path)


def test_load_model_refuses_missing_directories_and_unknown_families(tmp_path):
    with pytest.raises(InputNotFoundError):
        load_model(tmp_path / "nowhere")
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "config.json").write_text(json.dumps({"model": "gpt", "format": 1}))
    with pytest.raises(FormatError, match="'gpt', which this neuroattn does not know .*oat"):
        load_model(tmp_path / "x")
    with pytest.raises(ParameterError, match="model='gpt' is not a neuroattn model family"):
        model_class("gpt")


def test_mvpformer_still_reads_the_directories_written_before_safetensors(tmp_path):
    from neuroattn.ieeg import MVPFormer

    model, run = _build("mvpformer")
    old = tmp_path / "old"
    old.mkdir()
    (old / "config.json").write_text(json.dumps({"model": "mvpformer",
                                                 **model.config.to_dict()}))
    torch.save(model.state_dict(), old / "weights.pt")
    for again in (MVPFormer.from_pretrained(old), load_model(old)):
        np.testing.assert_array_equal(_output(again, run), _output(model, run))


def test_encoders_refuse_to_save_unfitted_or_non_json_parameters(tmp_path):
    from neuroattn.encoding import SpatialFeatureEncoder

    with pytest.raises(NotFittedError):
        SpatialFeatureEncoder().save_pretrained(tmp_path / "a")
    model, _ = _build("spatial_feature_encoder")
    model.set_params(device=torch.device("cpu"))
    with pytest.raises(ParameterError, match=r"params\['device'\] is of type device"):
        model.save_pretrained(tmp_path / "b")
    assert not (tmp_path / "b").exists()


def test_encoder_overrides_are_parameters(tmp_path):
    model, run = _build("transformer_brain_encoder")
    path = model.save_pretrained(tmp_path / "enc")
    again = load_model(path, patience=2)
    assert again.patience == 2 and again.d_model == model.d_model
    np.testing.assert_array_equal(_output(again, run), _output(model, run))


def test_presets_build_the_small_configurations():
    assert preset("oat", "tiny").config.d_model == 16
    assert preset("mvpformer", "tiny", dropout=0.0).config.dropout == 0.0
    assert preset("foveated_resnet").log_polar.n_angles == 16
    assert preset("cartesian_resnet").crop.size == 32
    assert preset("transformer_brain_encoder").get_params()["d_model"] == 32
    assert preset("spatial_feature_encoder").max_epochs == 20
    assert preset("tiny_clip", vocabulary=["a", "disc"]).width == 16
    with pytest.raises(ParameterError, match=r"TinyCLIP needs vocabulary=\[...\]"):
        preset("tiny_clip")
    assert sizes("oat") == ["tiny", "small", "reference"]
    assert sizes("tensor_brain_kg") == []
    with pytest.raises(ParameterError, match="size='small' is not a preset of MVPFormer; pass "
                                             "one of 'mvpformer-s', 'mvpformer-m', 'tiny'"):
        preset("mvpformer")


def test_small_oat_is_the_one_the_learning_test_notebook_and_analysis_train():
    from neuroattn.gaze.oat import OATConfig, model

    small = OATConfig(**model.OAT.presets["small"])
    assert (small.d_model, small.n_encoder_layers, small.cnn_pool, small.pe_iterations,
            small.max_len, small.dropout) == (64, 2, (4, 2), 2000, 24, 0.0)


def test_importing_the_registry_imports_no_family_and_no_torch():
    code = ("import sys, neuroattn.models as m; m.list_models(); "
            "print(sorted(k for k in sys.modules if k == 'torch' or k.startswith("
            "('neuroattn.ieeg', 'neuroattn.gaze', 'neuroattn.semantic', 'neuroattn.retina', "
            "'neuroattn.encoding'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
