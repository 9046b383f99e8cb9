"""SceneEncoder and TensorBrainPerception: shapes, locality of the RoI windows, bad input."""

from __future__ import annotations

import pytest
import torch

from neuroattn.semantic import SceneEncoder, TensorBrainPerception

SUBJECT, OBJECT = [2.0, 2.0, 10.0, 10.0], [28.0, 28.0, 38.0, 38.0]


def _encoder(**kw) -> SceneEncoder:
    torch.manual_seed(0)
    return SceneEncoder(16, channels=(8, 8, 8), hidden=32, **kw).eval()


def test_window_features_have_the_representation_size():
    enc = _encoder()
    boxes = torch.tensor([[SUBJECT, OBJECT]] * 5)
    out = enc(torch.rand(2, 3, 40, 40), boxes, torch.tensor([0, 1, 1, 0, 1]))
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "time": (5, 16), "subject": (5, 16), "object": (5, 16), "predicate": (5, 16)}


def test_a_window_sees_only_pixels_near_its_box():
    """Pixels beyond the CNN's receptive field (11 px) plus the bilinear margin of the
    RoI grid leave the subject's features exactly unchanged; the object, union and scene
    windows, which cover them, change."""
    enc = _encoder()
    image = torch.rand(1, 3, 40, 40)
    changed = image.clone()
    changed[..., 24:, :] = torch.rand(1, 3, 16, 40)
    changed[..., :, 24:] = torch.rand(1, 3, 40, 16)
    boxes = torch.tensor([[SUBJECT, OBJECT]])
    with torch.no_grad():
        a, b = enc(image, boxes), enc(changed, boxes)
    torch.testing.assert_close(a["subject"], b["subject"], rtol=0, atol=0)
    for window in ("object", "predicate", "time"):
        assert not torch.allclose(a[window], b[window]), window


def test_shared_projection_makes_subject_and_object_windows_symmetric():
    enc = _encoder(shared_projection=True)
    image = torch.rand(1, 3, 40, 40)
    with torch.no_grad():
        ab = enc(image, torch.tensor([[SUBJECT, OBJECT]]))
        ba = enc(image, torch.tensor([[OBJECT, SUBJECT]]))
    torch.testing.assert_close(ab["subject"], ba["object"])
    torch.testing.assert_close(ab["object"], ba["subject"])
    assert not torch.allclose(ab["predicate"], ba["predicate"])  # the geometry says who is who


def test_geometry_off_makes_the_union_window_order_blind():
    enc = _encoder(shared_projection=True, geometry=False)
    image = torch.rand(1, 3, 40, 40)
    with torch.no_grad():
        ab = enc(image, torch.tensor([[SUBJECT, OBJECT]]))
        ba = enc(image, torch.tensor([[OBJECT, SUBJECT]]))
    torch.testing.assert_close(ab["predicate"], ba["predicate"])


@pytest.mark.parametrize(("images", "boxes", "index", "match"), [
    (torch.rand(1, 1, 40, 40), [[SUBJECT, OBJECT]], None, "images must be"),
    (torch.full((1, 3, 40, 40), float("nan")), [[SUBJECT, OBJECT]], None, "NaN"),
    (torch.rand(1, 3, 40, 40), [SUBJECT, OBJECT], None, "boxes must be"),
    (torch.rand(1, 3, 40, 40), [[SUBJECT, [5.0, 5.0, 4.0, 9.0]]], None, "x1 < x2"),
    (torch.rand(2, 3, 40, 40), [[SUBJECT, OBJECT]], None, "pass image_index"),
    (torch.rand(2, 3, 40, 40), [[SUBJECT, OBJECT]], [2], "indices into the 2 images"),
])
def test_bad_input_names_the_problem(images, boxes, index, match):
    enc = _encoder()
    with pytest.raises(ValueError, match=match):
        enc(images, torch.tensor(boxes), None if index is None else torch.tensor(index))


def test_perception_model_decodes_every_head():
    groups = {"time": 4, "entity": 5, "shape": 3, "colour": 2, "predicate": 3}
    model = TensorBrainPerception(groups, labels=("shape", "colour"), dim=16, seed=0).eval()
    assert model.heads == ("time", "subject", "subject.shape", "subject.colour", "object",
                           "object.shape", "object.colour", "predicate")
    boxes = torch.tensor([[SUBJECT, OBJECT]] * 3)
    out = model.perceive(torch.rand(2, 3, 40, 40), boxes, torch.tensor([0, 0, 1]))
    assert set(out.probs) == set(model.heads)
    assert out.probs["subject.shape"].shape == (3, 3)
    torch.testing.assert_close(out.probs["predicate"].sum(1), torch.ones(3))
    episode = model.recall_episode(torch.tensor([0, 3]))
    assert "time" not in episode.probs and episode.indices["subject"].shape == (2,)
    semantic = model.recall_semantic(torch.tensor([4]))
    assert semantic.indices["subject"].tolist() == [4]


def test_same_seed_same_model_and_missing_groups_are_refused():
    groups = {"time": 2, "entity": 3, "predicate": 2}
    a = TensorBrainPerception(groups, dim=8, seed=1)
    b = TensorBrainPerception(groups, dim=8, seed=1)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        torch.testing.assert_close(p, q, msg=name)
    with pytest.raises(ValueError, match=r"groups lacks \['colour'\]"):
        TensorBrainPerception(groups, labels=("colour",), dim=8)


def test_no_feedback_means_beta_zero():
    groups = {"time": 2, "entity": 3, "predicate": 2}
    assert TensorBrainPerception(groups, dim=8, feedback=False).decoder.beta == 0.0
