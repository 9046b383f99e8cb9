"""The save_pretrained / from_pretrained contract (neuroattn.nn.pretrained): files and errors."""

from __future__ import annotations

import json
import struct

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from neuroattn import __version__
from neuroattn.errors import DestinationExistsError, FormatError, InputNotFoundError, ParameterError
from neuroattn.nn.pretrained import (
    CONFIG_FILE,
    FORMAT,
    WEIGHTS_FILE,
    PretrainedFormatError,
    PretrainedMixin,
    check_jsonable,
    init_arguments,
    preset_config,
    read_config,
    read_model_name,
    read_weights,
    state_tensors,
)


class Toy(nn.Module, PretrainedMixin):
    """Two layers with a tied weight, a persistent and a non-persistent buffer."""

    model_name = "toy"
    presets = {"small": {"width": 3}}

    def __init__(self, width: int = 4, scale: float = 1.0) -> None:
        super().__init__()
        self.width, self.scale = width, scale
        self.first = nn.Linear(width, width)
        self.second = nn.Linear(width, width, bias=False)
        self.second.weight = self.first.weight  # tied
        self.register_buffer("offset", torch.randn(width))
        self.register_buffer("cache", torch.zeros(width), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.second(torch.relu(self.first(x))) * self.scale + self.offset

    def pretrained_config(self) -> dict:
        return {"width": self.width, "scale": self.scale}

    @classmethod
    def from_pretrained_config(cls, config: dict) -> Toy:
        return cls(**config)


class Other(Toy):
    model_name = "other"


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = Toy(4, scale=0.5)
    return model, model.save_pretrained(tmp_path / "toy")


def test_round_trip_gives_equal_outputs_and_documented_files(saved):
    model, path = saved
    assert sorted(p.name for p in path.iterdir()) == [CONFIG_FILE, WEIGHTS_FILE]
    meta = json.loads((path / CONFIG_FILE).read_text())
    assert meta == {"model": "toy", "format": FORMAT, "neuroattn_version": __version__,
                    "config": {"width": 4, "scale": 0.5}}
    tensors = load_file(path / WEIGHTS_FILE)
    assert set(tensors) == {"first.weight", "first.bias", "second.weight", "offset"}  # no cache
    again = Toy.from_pretrained(path)
    x = torch.randn(5, 4)
    torch.testing.assert_close(again(x), model(x), rtol=0, atol=0)
    assert again.second.weight is again.first.weight  # the tie survives (it is the module's)


def test_the_weights_are_safetensors_not_a_pickle(saved):
    _, path = saved
    data = (path / WEIGHTS_FILE).read_bytes()
    header = struct.unpack("<Q", data[:8])[0]
    assert json.loads(data[8:8 + header])["__metadata__"] == {"format": "pt"}


def test_overrides_replace_config_fields_and_unknown_ones_are_refused(saved):
    _, path = saved
    assert Toy.from_pretrained(path, scale=2.0).scale == 2.0
    with pytest.raises(ParameterError, match=r"\['colour'\] are not fields .*'scale', 'width'"):
        Toy.from_pretrained(path, colour="red")


def test_an_existing_directory_is_refused_unless_overwrite(saved):
    model, path = saved
    with pytest.raises(DestinationExistsError, match="overwrite=True"):
        model.save_pretrained(path)
    with torch.no_grad():
        model.offset += 1
    model.save_pretrained(path, overwrite=True)
    torch.testing.assert_close(Toy.from_pretrained(path).offset, model.offset)


def test_a_config_json_cannot_hold_refuses_the_save_and_writes_nothing(tmp_path):
    model = Toy(2, scale=torch.tensor(1.0))  # a tensor is not a JSON value
    with pytest.raises(ParameterError, match=r"config\['scale'\] is of type Tensor"):
        model.save_pretrained(tmp_path / "toy")
    assert not (tmp_path / "toy").exists()
    assert list(tmp_path.iterdir()) == []  # no temporary left either


def test_a_missing_directory_is_input_not_found(tmp_path):
    with pytest.raises(InputNotFoundError, match="No model directory at .*nowhere"):
        Toy.from_pretrained(tmp_path / "nowhere")


def test_a_file_is_not_a_model_directory(tmp_path):
    (tmp_path / "model.pt").write_bytes(b"x")
    with pytest.raises(PretrainedFormatError, match="is a file, not a model directory"):
        Toy.from_pretrained(tmp_path / "model.pt")


@pytest.mark.parametrize("damage, fragment", [
    (lambda p: (p / CONFIG_FILE).unlink(), r"config\.json is missing"),
    (lambda p: (p / CONFIG_FILE).write_text("{model: toy"), r"config\.json is not valid JSON"),
    (lambda p: (p / CONFIG_FILE).write_bytes(b"\xff\xfe\x00"), r"config\.json is not valid JSON"),
    (lambda p: (p / CONFIG_FILE).write_text("[1, 2]"), r"config\.json holds a list"),
    (lambda p: _edit(p, model=None), r"config\.json has no 'model' field"),
    (lambda p: _edit(p, format="one"), r"config\.json has format='one'"),
    (lambda p: _edit(p, format=FORMAT + 1), r"written by a newer neuroattn .*upgrade neuroattn"),
    (lambda p: _edit(p, config=[4]), r"config\.json has no 'config' object"),
    (lambda p: _edit(p, config={"width": "four", "scale": 1.0}),
     r"config\.json does not describe a valid Toy"),
])
def test_a_damaged_config_json_is_a_format_error_naming_the_file(saved, damage, fragment):
    _, path = saved
    damage(path)
    with pytest.raises(PretrainedFormatError, match=fragment):
        Toy.from_pretrained(path)


def _edit(path, **fields):
    meta = json.loads((path / CONFIG_FILE).read_text())
    meta.update(fields)
    (path / CONFIG_FILE).write_text(json.dumps(meta))


@pytest.mark.parametrize("damage, fragment", [
    (lambda f: f.unlink(), r"model\.safetensors is missing"),
    (lambda f: f.write_bytes(f.read_bytes()[: f.stat().st_size // 2]),
     r"model\.safetensors cannot be read as safetensors .*truncated or corrupt"),
    (lambda f: f.write_bytes(f.read_bytes()[:5]), r"model\.safetensors cannot be read"),
    (lambda f: f.write_bytes(bytes(range(256)) * 4), r"model\.safetensors cannot be read"),
    (lambda f: f.write_bytes(b""), r"model\.safetensors cannot be read"),
])
def test_a_missing_truncated_or_corrupt_weights_file_is_a_format_error(saved, damage, fragment):
    _, path = saved
    damage(path / WEIGHTS_FILE)
    with pytest.raises(PretrainedFormatError, match=fragment):
        Toy.from_pretrained(path)


def test_a_directory_of_another_family_says_which_and_how_to_load_it(saved, tmp_path):
    _, path = saved
    with pytest.raises(FormatError, match=r"holds a 'toy' model, not a 'other' \(Other\); "
                                          r"load it with neuroattn\.models\.load_model"):
        Other.from_pretrained(path)
    assert read_model_name(path) == "toy"


@pytest.mark.parametrize("edit, fragment", [
    (lambda t: t.pop("offset"), r"missing \(1\): \['offset'\]"),
    (lambda t: t.update(extra=torch.ones(1)), r"unexpected \(1\): \['extra'\]"),
    (lambda t: t.update(offset=torch.ones(7)), r"shape mismatch \(1\): \['offset: file \(7,\) vs "
                                               r"model \(4,\)'\]"),
])
def test_tensors_that_do_not_fit_are_named(saved, edit, fragment):
    _, path = saved
    tensors = load_file(path / WEIGHTS_FILE)
    edit(tensors)
    save_file(tensors, path / WEIGHTS_FILE)
    with pytest.raises(PretrainedFormatError, match=r"model\.safetensors does not fit this Toy: "
                                                    + fragment):
        Toy.from_pretrained(path)


def test_a_config_of_another_size_names_the_misshapen_tensors(saved):
    _, path = saved
    _edit(path, config={"width": 5, "scale": 0.5})
    with pytest.raises(PretrainedFormatError, match=r"first\.weight: file \(4, 4\) vs model "
                                                    r"\(5, 5\).*config\.json edited"):
        Toy.from_pretrained(path)


def test_read_helpers_return_the_parsed_files(saved):
    model, path = saved
    assert read_config(path)["config"] == {"width": 4, "scale": 0.5}
    assert torch.equal(read_weights(path)["offset"], model.offset)


def test_state_tensors_unshares_and_makes_contiguous():
    w = torch.arange(6.0).view(2, 3)
    out = state_tensors({"a": w, "b": w, "c": w.T, "empty": torch.empty(0), "e2": torch.empty(0)})
    assert out["b"].data_ptr() != out["a"].data_ptr() and torch.equal(out["b"], w)
    assert out["c"].is_contiguous() and torch.equal(out["c"], w.T)
    with pytest.raises(ParameterError, match="'step' is of type int, not a tensor"):
        state_tensors({"step": 3})


def test_check_jsonable_names_the_nested_value():
    assert check_jsonable({"a": (1, 2.5, None, "x", True)}) == {"a": [1, 2.5, None, "x", True]}
    with pytest.raises(ParameterError, match=r"params\['crop'\]\[1\] is of type set"):
        check_jsonable({"crop": [1, {2}]}, "params")


def test_init_arguments_needs_every_argument_as_an_attribute():
    assert init_arguments(Toy(3, scale=2.0)) == {"width": 3, "scale": 2.0}

    class Forgetful:
        def __init__(self, size: int) -> None:
            self.n = size

    with pytest.raises(ParameterError, match=r"does not keep its argument 'size'.*self\.size"):
        init_arguments(Forgetful(2))


def test_presets_build_named_sizes_and_list_them_when_unknown():
    assert Toy.preset("small").width == 3
    assert Toy.preset("small", scale=3.0).scale == 3.0
    with pytest.raises(ParameterError, match="size='huge' is not a preset of Toy; pass one of "
                                             "'small'"):
        Toy.preset("huge")
    with pytest.raises(ParameterError, match=r"pass one of none \(this family has no presets"):
        preset_config(object, "x", {})
