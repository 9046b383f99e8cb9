"""Perception, capacity, memory, decoded-scene and KG figures (neuroattn.plotting.semantic)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

from neuroattn.errors import ParameterError  # noqa: E402
from neuroattn.plotting.semantic import (  # noqa: E402
    plot_decoded_scenes,
    plot_episodic_capacity,
    plot_link_prediction,
    plot_memory_recall,
    plot_perception_accuracy,
)
from neuroattn.semantic.memory_eval import SceneDecoding  # noqa: E402


def bar_heights(ax):
    return [bar.get_height() for bar in ax.patches]


def test_perception_accuracy_draws_one_bar_per_model_and_score_and_the_base_rate(tmp_path):
    table = {"feedback": {"known": {"shape_acc": 0.9, "entity_acc_twins": 0.5},
                          "novel": {"shape_acc": 0.8}},
             "p_direct": {"known": {"shape_acc": 0.7, "entity_acc_twins": 0.4},
                          "novel": {"shape_acc": 0.6}},
             "majority value (in-split)": {"known": {"shape_acc": 0.3},
                                           "novel": {"shape_acc": 0.2}}}
    panels = {"known": ("shape_acc", "entity_acc_twins"), "novel": ("shape_acc",)}
    fig = plot_perception_accuracy(table, panels, colours={"feedback": "tab:red",
                                                           "p_direct": "tab:grey"},
                                   output_file=tmp_path / "p.png")
    known, novel = fig.axes
    assert bar_heights(known) == [0.9, 0.5, 0.7, 0.4]
    assert bar_heights(novel) == [0.8, 0.6]
    assert known.patches[0].get_facecolor() == to_rgba("tab:red")
    assert [t.get_text() for t in known.get_xticklabels()] == ["shape", "entity\ntwins"]
    assert (known.get_title(), novel.get_title()) == ("known", "novel")
    (base,) = known.collections                        # the majority value as black ticks
    np.testing.assert_array_equal(base.get_offsets()[:, 1].filled(np.nan), [0.3, np.nan])
    assert [line.get_ydata()[0] for line in known.lines] == [0.5]   # chance, first panel only
    assert not novel.lines
    (legend,) = fig.legends
    assert sorted(t.get_text() for t in legend.get_texts()) == ["feedback", "majority value",
                                                                "p_direct"]
    assert (tmp_path / "p.png").stat().st_size > 0
    plt.close(fig)


def test_perception_accuracy_default_rows_and_the_callers_axes():
    table = {"a": {"s": {"x_acc": 0.1}}, "b": {"s": {"x_acc": 0.2}}}
    fig, axes = plt.subplots(1, 2)
    assert plot_perception_accuracy(table, {"s": ("x_acc",)}, baseline=None, chance=None,
                                    axes=axes[:1]) is fig
    assert bar_heights(axes[0]) == [0.1, 0.2] and not axes[0].collections
    with pytest.raises(ParameterError):
        plot_perception_accuracy(table, {"s": ("x_acc",)}, baseline=None, axes=axes)
    plt.close(fig)


CURVES = {"128": [{"T": 50, "subject_hits5": 0.9, "subject_recall_at_n": 0.8,
                   "predicate_hits1": 0.7},
                  {"T": 200, "subject_hits5": 0.6, "subject_recall_at_n": 0.5,
                   "predicate_hits1": 0.4}],
          "32": [{"T": 50, "subject_hits5": 0.5, "subject_recall_at_n": 0.4,
                  "predicate_hits1": 0.3},
                 {"T": 200, "subject_hits5": 0.2, "subject_recall_at_n": 0.1,
                  "predicate_hits1": 0.1}]}


def test_episodic_capacity_one_line_per_measure_and_size(tmp_path):
    fig = plot_episodic_capacity(CURVES, title="capacity", output_file=tmp_path / "c.png")
    left, right = fig.axes
    curves = {line.get_label(): line for line in left.lines if not line.get_label().startswith("_")}
    assert set(curves) == {"subject Hits@5, d=128", "subject recall@n, d=128",
                           "subject Hits@5, d=32", "subject recall@n, d=32"}
    np.testing.assert_array_equal(curves["subject recall@n, d=32"].get_ydata(), [0.4, 0.1])
    assert curves["subject Hits@5, d=32"].get_linestyle() == "--"
    (chance,) = [line for line in left.lines if line.get_label().startswith("_")]
    assert chance.get_ydata()[0] == pytest.approx(5 / 32)
    assert [line.get_label() for line in right.lines] == ["predicate Hits@1, d=128",
                                                          "predicate Hits@1, d=32"]
    assert [t.get_text() for t in right.get_xticklabels()] == ["50", "200"]
    assert right.get_xscale() == "log"
    assert fig._suptitle.get_text() == "capacity"
    assert (tmp_path / "c.png").stat().st_size > 0
    plt.close(fig)


def test_episodic_capacity_checks_styles_and_axes():
    with pytest.raises(ParameterError):
        plot_episodic_capacity(CURVES, styles=("o-",))
    fig, axes = plt.subplots(1, 3)
    with pytest.raises(ParameterError):
        plot_episodic_capacity(CURVES, axes=axes)
    assert plot_episodic_capacity(CURVES, chance=None, axes=axes[1:]) is fig
    assert len(axes[1].lines) == 4 and not axes[0].lines
    plt.close(fig)


FACTS = {"semantic": {"shape": 1.0, "age": 0.95, "friend_of": 0.05},
         "mixture": {"shape": 1.0, "age": 0.9, "friend_of": 0.0},
         "episodic": {"shape": 0.8, "age": 0.7, "friend_of": 0.2}}
TRANSIENT = {"rows": {"episodic": {"direction_acc": {"all pairs": 0.5,
                                                     "pairs seen in >= 2 episodes": 0.4}},
                      "uniform": {"direction_acc": {"all pairs": 0.25,
                                                    "pairs seen in >= 2 episodes": 0.25}}}}


def test_memory_recall_facts_and_transient_bars(tmp_path):
    fig = plot_memory_recall(FACTS, TRANSIENT, output_file=tmp_path / "m.png")
    facts, transient = fig.axes
    assert bar_heights(facts) == [1.0, 0.95, 0.05, 1.0, 0.9, 0.0, 0.8, 0.7, 0.2]
    assert [p.get_facecolor() for p in facts.patches[::3]] == [
        to_rgba(c) for c in ("tab:green", "tab:olive", "tab:red")]
    assert [t.get_text() for t in facts.texts] == ["0.05", "0.00"]   # the bars under 0.1
    assert [t.get_text() for t in facts.get_xticklabels()] == ["shape", "age", "friend_of"]
    assert facts.lines[0].get_ydata()[0] == pytest.approx(2 / 31)
    assert bar_heights(transient) == [0.5, 0.4, 0.25, 0.25]
    assert [t.get_text() for t in transient.get_xticklabels()] == ["all pairs",
                                                                   "seen >= 2 times"]
    assert [t.get_text() for t in transient.get_legend().get_texts()] == ["episodic", "uniform"]
    assert (tmp_path / "m.png").stat().st_size > 0
    plt.close(fig)


def test_memory_recall_checks_colours_and_axes():
    with pytest.raises(ParameterError):
        plot_memory_recall(FACTS, TRANSIENT, colours=("red",))
    fig, axes = plt.subplots(2, 1)
    assert plot_memory_recall(FACTS, TRANSIENT, chance=None, axes=axes) is fig
    assert len(axes[0].patches) == 9 and not axes[0].lines
    with pytest.raises(ParameterError):
        plot_memory_recall(FACTS, TRANSIENT, axes=axes[:1])
    plt.close(fig)


def decoding(scene, slots, subject, shape, predicate, obj):
    return SceneDecoding(scene, np.asarray(slots), np.zeros(len(slots), int),
                         {"subject": np.asarray(subject), "subject.shape": np.asarray(shape),
                          "predicate": np.asarray(predicate), "object": np.asarray(obj)})


def test_decoded_scenes_box_colour_label_and_lines(tmp_path):
    images = np.zeros((2, 3, 32, 32))
    boxes = np.array([[[2, 2, 10, 10], [12, 12, 20, 20], [0, 0, 0, 0]],
                      [[4, 20, 12, 28], [20, 8, 28, 16], [0, 0, 0, 0]]], dtype=float)
    individuals = np.array([[3, 7, -1], [1, 2, -1]])
    decoded = [decoding(5, [0, 1], [3, 6], [0, 1], [1, 0], [7, 3]),
               decoding(9, [1], [2], [1], [2], [1])]
    fig = plot_decoded_scenes(images, boxes, individuals, decoded,
                              shape_names=("disc", "square"),
                              predicate_names=("left_of", "right_of", "above"), title="decoded",
                              output_file=tmp_path / "d.png")
    first, second = fig.axes
    assert [first.get_title(), second.get_title()] == ["scene 5", "scene 9"]
    assert [p.get_edgecolor() for p in first.patches] == [to_rgba("lime"), to_rgba("red")]
    assert first.patches[1].get_xy() == (11.5, 11.5)
    assert [t.get_text() for t in first.texts] == ["e3", "e6"]
    assert first.texts[0].get_position() == (2, 10.5)    # at the top edge: under the box
    assert first.texts[1].get_position() == (12, 11)      # else above it
    assert first.get_xlabel() == "e3 disc right_of e7\ne6 square left_of e3"
    assert second.get_xlabel() == "e2 square above e1" and len(second.patches) == 1
    assert len(first.images) == 1 and fig._suptitle.get_text() == "decoded"
    assert (tmp_path / "d.png").stat().st_size > 0
    plt.close(fig)


def test_decoded_scenes_on_the_callers_axes():
    decoded = [decoding(0, [0], [1], [0], [0], [1])]
    args = (np.zeros((1, 3, 8, 8)), np.array([[[1, 1, 4, 4]]]), np.array([[1]]), decoded)
    names = {"shape_names": ("disc",), "predicate_names": ("near",)}
    fig, axes = plt.subplots(1, 2)
    assert plot_decoded_scenes(*args, **names, titles=["mine"], axes=axes[1:]) is fig
    assert axes[1].get_title() == "mine" and not axes[0].patches
    with pytest.raises(ParameterError):
        plot_decoded_scenes(*args, **names, axes=axes)
    plt.close(fig)


def kg_run(scale):
    models = ("tb", "complex", "popularity")
    return {"link_prediction": {m: {"both": {"mrr": scale * (i + 1) / 4}}
                                for i, m in enumerate(models)},
            "predicate_ranking": {m: {"mrr": scale * (i + 1) / 5} for i, m in enumerate(models)}}


def test_link_prediction_two_bars_per_model_one_panel_per_graph(tmp_path):
    fig = plot_link_prediction({"kinships": kg_run(1.0), "umls": kg_run(0.5)},
                               models=("popularity", "rescal", "tb"),
                               panel_title="{name} (split)", title="search",
                               output_file=tmp_path / "k.png")
    kinships, umls = fig.axes
    assert bar_heights(kinships) == [0.75, 0.25, 0.6, 0.2]     # MRR bars, then predicate bars
    assert bar_heights(umls) == [0.375, 0.125, 0.3, 0.1]
    assert [t.get_text() for t in kinships.get_xticklabels()] == ["popularity", "TB decoder"]
    assert (kinships.get_title(), umls.get_title()) == ("kinships (split)", "umls (split)")
    assert kinships.get_legend() is not None and umls.get_legend() is None
    assert fig._suptitle.get_text() == "search"
    assert (tmp_path / "k.png").stat().st_size > 0
    plt.close(fig)


def test_link_prediction_default_models_and_the_callers_axes():
    fig, axes = plt.subplots(1, 2)
    assert plot_link_prediction({"nations": kg_run(1.0)}, axes=[axes[0]]) is fig
    assert [t.get_text() for t in axes[0].get_xticklabels()] == ["TB decoder", "ComplEx",
                                                                 "popularity"]
    with pytest.raises(ParameterError):
        plot_link_prediction({"nations": kg_run(1.0)}, axes=axes)
    plt.close(fig)
