"""Figures of the tensor brain (:mod:`neuroattn.semantic`): perception, memory and KG scores.

Each draws the results of the package's own evaluations, as the tensor-brain analysis
(``analyses/tensor_brain.py``) and its README figures show them:

* :func:`plot_perception_accuracy` — accuracy per label of the decoded subject, one bar per
  model, one panel per split (:func:`~neuroattn.semantic.evaluate_perception`);
* :func:`plot_episodic_capacity` — recall from the time index against the number of stored
  episodes;
* :func:`plot_memory_recall` — persistent facts and transient relations from semantic and
  episodic memory (:func:`~neuroattn.semantic.memory_eval.persistent_facts`,
  :func:`~neuroattn.semantic.memory_eval.transient_relations`);
* :func:`plot_decoded_scenes` — scenes with what perception decoded of each object
  (:func:`~neuroattn.semantic.memory_eval.decode_scene_objects`);
* :func:`plot_link_prediction` — link prediction and predicate ranking MRR of KG models.

The world's vocabulary (shape and predicate names) comes in as arguments.

Examples
--------
>>> curves = {"128": [{"T": 50, "subject_hits5": 0.9, "subject_recall_at_n": 0.8,
...                    "predicate_hits1": 0.7},
...                   {"T": 100, "subject_hits5": 0.6, "subject_recall_at_n": 0.5,
...                    "predicate_hits1": 0.4}]}
>>> fig = plot_episodic_capacity(curves)
>>> [line.get_label() for line in fig.axes[1].lines][:1]
['predicate Hits@1, d=128']
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from neuroattn._docs import fill_doc
from neuroattn.errors import ParameterError
from neuroattn.plotting.figure import figure_and_grid, finish_figure
from neuroattn.semantic.memory_eval import SceneDecoding

__all__ = ["KG_MODEL_NAMES", "plot_decoded_scenes", "plot_episodic_capacity",
           "plot_link_prediction", "plot_memory_recall", "plot_perception_accuracy"]

PERCEPTION_TICKS = {"entity_acc_non_twins": "entity\nnon-twins",
                    "entity_acc_twins": "entity\ntwins", "predicate_hits1": "predicate\nHits@1"}
"""Tick labels of :func:`plot_perception_accuracy` for scores that are not ``<label>_acc``."""
SUBSET_TICKS = {"pairs whose direction varies across episodes": "direction varies",
                "pairs seen in >= 2 episodes": "seen >= 2 times"}
"""Short tick labels of :func:`~neuroattn.semantic.memory_eval.transient_relations`' subsets."""
KG_MODEL_NAMES = {"tb": "TB decoder", "complex": "ComplEx", "rescal": "RESCAL",
                  "distmult": "DistMult", "popularity": "popularity"}
"""Display names of the knowledge-graph models of :func:`plot_link_prediction`."""


@fill_doc
def plot_perception_accuracy(table: Mapping[str, Mapping[str, Mapping[str, float]]],
                             panels: Mapping[str, Sequence[str]], *,
                             colours: Mapping[str, str | None] | None = None,
                             baseline: str | None = "majority value (in-split)",
                             baseline_label: str = "majority value",
                             ticks: Mapping[str, str] = PERCEPTION_TICKS,
                             chance: float | None = 0.5, axes: Any = None,
                             output_file: str | os.PathLike | None = None, dpi: int = 110
                             ) -> Any:
    """Accuracy of each score per model, one bar group per score and one panel per split.

    Parameters
    ----------
    table : mapping
        Row name -> split -> score name -> value (an
        :func:`~neuroattn.semantic.evaluate_perception` result per split); a score a row
        lacks is left out of its bar.
    panels : mapping of str to sequence of str
        Split -> the scores to show; one panel each, as wide as its number of scores.
    colours : mapping of str to str, optional
        Row name -> bar colour: the rows drawn, in order. Default: every row of ``table`` but
        ``baseline``, in the colour cycle.
    baseline : str, optional
        Row drawn as black ticks (the majority-value base rate); ``None``: none.
    baseline_label : str
        Its legend entry.
    ticks : mapping of str to str
        Tick label of a score; others are the score name without ``_acc``.
    chance : float, optional
        A dotted line on the first panel (the entity twins' coin flip); ``None``: none.
    axes : sequence of matplotlib.axes.Axes, optional
        One axes per panel, of one figure (default: a new figure).
    %(output_file)s
    %(dpi)s

    %(returns_figure)s

    Examples
    --------
    >>> table = {"model": {"test": {"shape_acc": 0.9, "predicate_hits1": 0.5}},
    ...          "majority value (in-split)": {"test": {"shape_acc": 0.3}}}
    >>> fig = plot_perception_accuracy(table, {"test": ("shape_acc", "predicate_hits1")})
    >>> [float(bar.get_height()) for bar in fig.axes[0].patches]
    [0.9, 0.5]
    """
    if colours is None:
        colours = {name: None for name in table if name != baseline}
    fig, grid = figure_and_grid(axes, 1, len(panels), figsize=(12, 4.3),
                                gridspec_kw={"width_ratios": [len(k) for k in panels.values()]},
                                layout="constrained")
    width = 0.8 / len(colours)
    for ax, (split, keys) in zip(grid[0], panels.items(), strict=True):
        x = np.arange(len(keys))
        for i, (name, colour) in enumerate(colours.items()):
            ax.bar(x + (i - (len(colours) - 1) / 2) * width,
                   [table[name][split].get(k, np.nan) for k in keys], width, color=colour,
                   label=name)
        if baseline is not None:
            base = table[baseline][split]
            ax.scatter(x, [base.get(k, np.nan) for k in keys], marker="_", s=400, color="k",
                       zorder=3, label=baseline_label)
        ax.set_xticks(x, [ticks.get(k, k.replace("_acc", "")) for k in keys], fontsize=8)
        ax.set(ylim=(0, 1.05), title=split.replace("_", " "), ylabel="accuracy")
    if chance is not None:
        grid[0, 0].axhline(chance, color="grey", lw=0.6, ls=":")
    handles, labels = grid[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=8)
    return finish_figure(fig, output_file, dpi=dpi)


@fill_doc
def plot_episodic_capacity(curves: Mapping[str, Sequence[Mapping[str, float]]], *,
                           styles: Sequence[str] = ("o-", "s--"),
                           chance: float | None = 5 / 32, title: str | None = None,
                           axes: Any = None, output_file: str | os.PathLike | None = None,
                           dpi: int = 110) -> Any:
    """Episodic recall against the number of stored episodes ``T``, per embedding size.

    Left: who was in the episode (subject Hits@5 and recall@n); right: the predicate of a
    forced pair (Hits@1). One line style per embedding size.

    Parameters
    ----------
    curves : mapping of str to sequence of mapping
        Embedding size ``d`` -> one point per ``T``, each with ``"T"``, ``"subject_hits5"``,
        ``"subject_recall_at_n"`` and ``"predicate_hits1"``; the ticks are the first
        curve's ``T``.
    styles : sequence of str
        Line style of each embedding size, in order (at least one per curve).
    chance : float, optional
        Subject Hits@5 of guessing (5 of the individuals), dotted on the left; ``None``: none.
    title : str, optional
        The figure's title.
    axes : sequence of two matplotlib.axes.Axes, optional
        Of one figure (default: a new figure, laid out tightly).
    output_file, dpi
        As for :func:`plot_perception_accuracy`.

    %(returns_figure)s
    """
    if len(curves) > len(styles):
        raise ParameterError(f"{len(curves)} embedding sizes but {len(styles)} line styles; "
                             "pass styles= with one per embedding size.")
    fig, grid = figure_and_grid(axes, 1, 2, figsize=(10, 3.6))
    left, right = grid[0]
    for dim, points, style in zip(curves, curves.values(), styles, strict=False):
        ts = [p["T"] for p in points]
        left.plot(ts, [p["subject_hits5"] for p in points], style, color="tab:red",
                  label=f"subject Hits@5, d={dim}")
        left.plot(ts, [p["subject_recall_at_n"] for p in points], style, color="tab:purple",
                  label=f"subject recall@n, d={dim}")
        right.plot(ts, [p["predicate_hits1"] for p in points], style, color="tab:blue",
                   label=f"predicate Hits@1, d={dim}")
    ts = [p["T"] for p in next(iter(curves.values()))]
    for ax, ylabel in zip(grid[0], ("who was in episode t", "relation of a forced pair"),
                          strict=True):
        ax.set_xscale("log", base=2)
        ax.set_xticks(ts, [str(t) for t in ts])
        ax.minorticks_off()
        ax.set(xlabel="stored episodes T", ylabel=ylabel, ylim=(0, 1.02))
        ax.legend(fontsize=7, loc="lower left")
    if chance is not None:
        left.axhline(chance, color="grey", lw=0.8, ls=":")
    return finish_figure(fig, output_file, dpi=dpi, suptitle=title, tight_layout=axes is None)


@fill_doc
def plot_memory_recall(facts: Mapping[str, Mapping[str, float]], transient: Mapping[str, Any],
                       *, colours: Sequence[str] = ("tab:green", "tab:olive", "tab:red"),
                       palette: Sequence[str] = ("tab:red", "tab:green", "tab:olive", "0.8",
                                                 "0.6", "0.35"),
                       chance: float | None = 2 / 31,
                       subset_ticks: Mapping[str, str] = SUBSET_TICKS, axes: Any = None,
                       output_file: str | os.PathLike | None = None, dpi: int = 110) -> Any:
    """Semantic against episodic memory: persistent facts (left), transient relations (right).

    Parameters
    ----------
    facts : mapping of str to mapping of str to float
        Memory -> fact -> Hits@1, as from
        :func:`~neuroattn.semantic.memory_eval.persistent_facts`; the facts are the first
        row's keys. Values under 0.1 are written above their bar.
    transient : mapping
        As from :func:`~neuroattn.semantic.memory_eval.transient_relations`: its ``"rows"``,
        each with a ``"direction_acc"`` per subset of pairs.
    colours : sequence of str
        Bar colour of each memory of ``facts``, in order (at least one per memory).
    palette : sequence of str
        Bar colour of each row of ``transient``, in order (at least one per row).
    chance : float, optional
        ``friends_recall`` of guessing, dotted on the left; ``None``: none.
    subset_ticks : mapping of str to str
        Short tick labels of the subsets; others are written out.
    axes : sequence of two matplotlib.axes.Axes, optional
        Of one figure (default: a new figure).
    output_file, dpi
        As for :func:`plot_perception_accuracy`.

    %(returns_figure)s

    Examples
    --------
    >>> facts = {"semantic": {"shape": 1.0, "friend_of": 0.05},
    ...          "episodic": {"shape": 0.9, "friend_of": 0.0}}
    >>> transient = {"rows": {"episodic": {"direction_acc": {"all pairs": 0.5}},
    ...                       "uniform": {"direction_acc": {"all pairs": 0.25}}}}
    >>> fig = plot_memory_recall(facts, transient)
    >>> [t.get_text() for t in fig.axes[0].texts], len(fig.axes[1].patches)
    (['0.05', '0.00'], 2)
    """
    rows = transient["rows"]
    if len(colours) < len(facts) or len(palette) < len(rows):
        raise ParameterError(f"{len(facts)} memories and {len(rows)} transient rows, but "
                             f"{len(colours)} colours and {len(palette)} palette colours; "
                             "pass at least one colour per bar series.")
    fig, grid = figure_and_grid(axes, 1, 2, figsize=(12, 4.6),
                                gridspec_kw={"width_ratios": [7, 5]}, layout="constrained")
    left, right = grid[0]
    keys = list(next(iter(facts.values())))
    x = np.arange(len(keys))
    width = 0.81 / len(facts)
    for i, ((name, row), colour) in enumerate(zip(facts.items(), colours, strict=False)):
        offset = x + (i - (len(facts) - 1) / 2) * width
        values = [row[k] for k in keys]
        left.bar(offset, values, width, color=colour, label=name)
        for xi, v in zip(offset, values, strict=True):
            if v < 0.1:
                left.text(xi, v + 0.01, f"{v:.2f}", ha="center", fontsize=6, rotation=90)
    left.set_xticks(x, keys, fontsize=8)
    if chance is not None:
        left.axhline(chance, color="grey", lw=0.6, ls=":")
    left.set(ylim=(0, 1.05), ylabel="Hits@1 (friends_recall: recall@2)",
             title="persistent facts")
    left.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3)
    subsets = list(next(iter(rows.values()))["direction_acc"])
    x = np.arange(len(subsets))
    width = 0.8 / len(rows)
    for i, (name, colour) in enumerate(zip(rows, palette, strict=False)):
        right.bar(x + (i - (len(rows) - 1) / 2) * width,
                  [rows[name]["direction_acc"][s] for s in subsets], width, color=colour,
                  label=name)
    right.set_xticks(x, [subset_ticks.get(s, s) for s in subsets], fontsize=8)
    right.set(ylim=(0, 1.05), ylabel="direction accuracy (4-way)",
              title="transient relations of the training episodes")
    right.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2)
    return finish_figure(fig, output_file, dpi=dpi)


@fill_doc
def plot_decoded_scenes(images: Sequence[Any], boxes: Sequence[Any], individuals: Sequence[Any],
                        decodings: Sequence[SceneDecoding], *, shape_names: Sequence[str],
                        predicate_names: Sequence[str], titles: Sequence[str] | None = None,
                        title: str | None = None,
                        axes: Any = None, output_file: str | os.PathLike | None = None,
                        dpi: int = 110) -> Any:
    """Scenes with each object's decoded identity (green box: the right individual, else red).

    Under each scene, one line per object: its decoded individual ``e<i>``, shape, predicate
    and the individual decoded for the object it was paired with.

    Parameters
    ----------
    images : sequence of array-like, shape (3, H, W)
        One image per panel, values in [0, 1].
    boxes : sequence of array-like, shape (slots, 4)
        Pixel boxes ``(x0, y0, x1, y1)`` of each scene's object slots.
    individuals : sequence of array-like, shape (slots,)
        The true individual of each slot.
    decodings : sequence of SceneDecoding
        What was decoded in each scene
        (:func:`~neuroattn.semantic.memory_eval.decode_scene_objects`): heads ``"subject"``,
        ``"subject.shape"``, ``"predicate"`` and ``"object"``.
    shape_names, predicate_names : sequence of str
        The world's vocabulary: names of the shape values and of the predicates.
    titles : sequence of str, optional
        Panel titles (default ``"scene <i>"`` with each decoding's scene).
    title : str, optional
        The figure's title.
    axes : sequence of matplotlib.axes.Axes, optional
        One axes per scene, of one figure (default: a new figure).
    output_file, dpi
        As for :func:`plot_perception_accuracy`.

    %(returns_figure)s

    Examples
    --------
    >>> import numpy as np
    >>> from neuroattn.semantic.memory_eval import SceneDecoding
    >>> decoded = SceneDecoding(0, np.array([0]), np.array([1]), {
    ...     "subject": np.array([3]), "subject.shape": np.array([1]),
    ...     "predicate": np.array([0]), "object": np.array([5])})
    >>> fig = plot_decoded_scenes([np.zeros((3, 16, 16))], [[[2, 8, 6, 12], [9, 9, 14, 14]]],
    ...                           [[3, 5]], [decoded], shape_names=("disc", "square"),
    ...                           predicate_names=("left_of",))
    >>> fig.axes[0].get_xlabel(), fig.axes[0].patches[0].get_edgecolor()[:3]
    ('e3 square left_of e5', (0.0, 1.0, 0.0))
    """
    from matplotlib.patches import Rectangle

    n_scenes = len(decodings)
    fig, grid = figure_and_grid(axes, 1, n_scenes, figsize=(3.2 * n_scenes, 4.6),
                                layout="constrained")
    if titles is None:
        titles = [f"scene {decoded.scene}" for decoded in decodings]
    for ax, image, scene_boxes, truth, decoded, name in zip(
            grid[0], images, boxes, individuals, decodings, titles, strict=True):
        ax.imshow(np.asarray(image).transpose(1, 2, 0))
        index = decoded.indices
        lines = []
        for i, slot in enumerate(decoded.subject_slots.tolist()):
            x0, y0, x1, y1 = scene_boxes[slot]
            who = int(index["subject"][i])
            colour = "lime" if who == int(truth[slot]) else "red"
            ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False,
                                   ec=colour, lw=1.5))
            inside = y0 < 6  # at the top edge: write the label under the box
            ax.text(x0, y1 + 0.5 if inside else y0 - 1, f"e{who}", color=colour, fontsize=8,
                    va="top" if inside else "bottom")
            lines.append(f"e{who} {shape_names[int(index['subject.shape'][i])]} "
                         f"{predicate_names[int(index['predicate'][i])]} "
                         f"e{int(index['object'][i])}")
        ax.set(xticks=[], yticks=[], title=name)
        ax.set_xlabel("\n".join(lines), fontsize=7)
    return finish_figure(fig, output_file, dpi=dpi, suptitle=title, fontsize=9)


@fill_doc
def plot_link_prediction(datasets: Mapping[str, Mapping[str, Any]], *,
                         models: Sequence[str] | None = None,
                         names: Mapping[str, str] = KG_MODEL_NAMES,
                         panel_title: str = "{name}", title: str | None = None,
                         axes: Any = None, output_file: str | os.PathLike | None = None,
                         dpi: int = 110) -> Any:
    """Filtered test MRR of link prediction and predicate ranking, one panel per graph.

    Parameters
    ----------
    datasets : mapping of str to mapping
        Graph name -> its results, as ``benchmarks/bench_tensor_brain.py`` writes them:
        ``"link_prediction"`` (model -> ``"both"`` -> ``"mrr"``) and ``"predicate_ranking"``
        (model -> ``"mrr"``).
    models : sequence of str, optional
        The models drawn, in order, where a graph has them (default: each graph's own).
    names : mapping of str to str
        Tick label of a model; others are the model's key.
    panel_title : str
        Each panel's title, ``{name}`` standing for the graph's.
    title : str, optional
        The figure's title.
    axes : sequence of matplotlib.axes.Axes, optional
        One axes per graph, of one figure (default: a new figure, laid out tightly).
    output_file, dpi
        As for :func:`plot_perception_accuracy`.

    %(returns_figure)s

    Examples
    --------
    >>> run = {"link_prediction": {"tb": {"both": {"mrr": 0.6}}},
    ...        "predicate_ranking": {"tb": {"mrr": 0.9}}}
    >>> fig = plot_link_prediction({"kinships": run})
    >>> [float(bar.get_height()) for bar in fig.axes[0].patches], fig.axes[0].get_title()
    ([0.6, 0.9], 'kinships')
    """
    fig, grid = figure_and_grid(axes, 1, len(datasets), figsize=(5 * len(datasets), 3.4))
    for ax, (name, run) in zip(grid[0], datasets.items(), strict=True):
        scored = run["link_prediction"]
        shown = [m for m in (scored if models is None else models) if m in scored]
        x = np.arange(len(shown))
        ax.bar(x - 0.2, [scored[m]["both"]["mrr"] for m in shown], 0.4,
               color="tab:blue", label="link prediction MRR (both directions)")
        ax.bar(x + 0.2, [run["predicate_ranking"][m]["mrr"] for m in shown], 0.4,
               color="tab:orange", label="predicate ranking MRR")
        ax.set_xticks(x, [names.get(m, m) for m in shown], fontsize=8)
        ax.set(ylim=(0, 1.05), ylabel="filtered test MRR", title=panel_title.format(name=name))
    grid[0, 0].legend(fontsize=7, loc="lower left")
    return finish_figure(fig, output_file, dpi=dpi, suptitle=title, fontsize=9,
                         tight_layout=axes is None)
