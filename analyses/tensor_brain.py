"""The tensor brain on TB-Shapes: feedback, episodic capacity, semantic vs episodic recall, KGs.

The tensor brain (Tresp et al.) as built in :mod:`neuroattn.semantic`: one index layer whose
embeddings are both scored bottom-up and written back top-down, a context recurrence between
the concept windows time → subject (+labels) → object (+labels) → predicate, and episodic
and semantic memory as decoding from a time index ``a_t`` or from ``ā`` with no sensory
input. Four parts, all on one CPU thread:

* **(a) Perception with and without top-down feedback.** Three models, trained alike on
  the CI world (perception, episodic and semantic tasks, 40 epochs): the default
  (``feedback=True``, ``context="code"``), the same with ``feedback=False`` (context without
  feedback) and P-Direct (``context="none"``, ``feedback=False``). The feedback model is
  evaluated from one checkpoint in ``mode="argmax"`` (P-Samp, β → ∞) and
  ``mode="expected"`` (P-SA). Per-label accuracy of the decoded subject on ``test_known``
  and ``test_novel``, entity accuracy of non-twins and twins, predicate Hits@1. The
  paper's prediction: feedback and memory help only the memory-dependent labels (age) of
  known entities.
* **(b) Episodic capacity.** Recall from the time index alone against the number of stored
  episodes ``T`` at ``d = 128`` and ``d = 32``, trained on the memory tasks only
  (``tasks={"episodic": 1, "semantic": 1}``: no images are encoded, so the time indices,
  entity and label embeddings and the context weights are learned from the episodes'
  triples). 40 epochs, so that each episode is seen 40 times whatever ``T``, and at least
  500 optimiser steps, so that the shared weights of a small ``T`` are not under-trained (an
  epoch is ``ceil(T / 16)`` steps: ``T = 50`` and ``100`` get 125 and 72 epochs); larger
  ``T`` still get more steps, so a loss of recall with ``T`` is not a training artefact.
* **(c) Semantic vs episodic recall.** From the feedback model of (a): the persistent facts
  (every label, including the hidden ``dangerous`` and the memory-only ``age``, and
  ``friend_of``) from semantic memory (the learned ``ā``, and the theory's mixture
  ``(1/T) Σ_t P(· | t)``), against the same facts recalled episodically (mean over the
  episodes that contain the individual); and the transient relations (the direction of
  each pair in each episode) from episodic against semantic memory and their base rates.
* **(d) Knowledge graphs.** The results of ``benchmarks/bench_tensor_brain.py``: the TB
  decoder in KG mode, ComplEx, RESCAL and DistMult, each selected by the same validation
  search (:func:`~neuroattn.semantic.kg_search.search_kg_model`: four configurations of
  embedding size, learning rate and regularisation weight, up to 60 epochs with early
  stopping on validation filtered MRR), and the popularity baseline; filtered test MRR and
  Hits@1/3/10 (tail, head, both; realistic ties) and the predicate ranking ``(h, ?, t)``, on
  Kinships, UMLS and Nations (nearly uninformative). By default its stored full run
  (``benchmarks/results/tensor_brain_cpu.json``); ``--kg run`` runs the benchmark here
  (about 20 minutes more on 2 cores), and ``--quick`` runs it with ``--quick``. Its
  settings and seeds are the benchmark's own.

    python analyses/tensor_brain.py            # analyses/results/tensor_brain, about 10 min
    python analyses/tensor_brain.py --kg run   # the same, re-running the KG benchmark: 30 min
    python analyses/tensor_brain.py --quick    # about 3 min, to a temporary folder

Writes ``perception.png``, ``capacity.png``, ``semantic_vs_episodic.png``, ``decoded.png``
(test scenes with the decoded labels), ``knowledge_graphs.png``, ``tensor_brain.json``
(every number, with seeds, configs, machine and timings) and ``tensor_brain.md`` (the tables),
and prints the tables.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from neuroattn import sys_info  # noqa: E402
from neuroattn.datasets.synthetic.tb_shapes import (  # noqa: E402
    LABELS,
    TBShapesConfig,
    make_tb_shapes,
)
from neuroattn.plotting.semantic import (  # noqa: E402
    plot_decoded_scenes,
    plot_episodic_capacity,
    plot_link_prediction,
    plot_memory_recall,
    plot_perception_accuracy,
)
from neuroattn.reports import write_report  # noqa: E402
from neuroattn.semantic import (  # noqa: E402
    TensorBrainPerception,
    evaluate_episodic,
    evaluate_perception,
    evaluate_semantic,
    fit_tensor_brain,
)
from neuroattn.semantic.memory_eval import (  # noqa: E402
    decode_scene_objects,
    majority_rates,
    persistent_facts,
    subject_recall_at_n,
    transient_relations,
    twin_stats,
)

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks" / "bench_tensor_brain.py"
STORED_BENCH = ROOT / "benchmarks" / "results" / "tensor_brain_cpu.json"
FULL = {"epochs": 40, "capacity_T": (50, 100, 200, 400, 800), "capacity_dims": (128, 32),
        "capacity_min_steps": 500}
QUICK = {"epochs": 10, "capacity_T": (50, 200), "capacity_dims": (128,),
         "capacity_min_steps": 100}
SCENES_PER_BATCH = 16
"""fit_tensor_brain's default: an epoch is ceil(T / 16) steps."""
MODELS = {"feedback": {"feedback": True, "context": "code"},
          "no_feedback": {"feedback": False, "context": "code"},
          "p_direct": {"feedback": False, "context": "none"}}
"""The three perception models of part (a); everything else at the defaults (d = 128)."""
ROWS = (("feedback", "argmax", "feedback, argmax (P-Samp)"),
        ("feedback", "expected", "feedback, expected (P-SA)"),
        ("no_feedback", "argmax", "context, no feedback"),
        ("p_direct", "argmax", "P-Direct (no context, no feedback)"))
"""Table rows of part (a): (model, decoding mode, label)."""
COLOURS = {"feedback, argmax (P-Samp)": "tab:red", "feedback, expected (P-SA)": "tab:orange",
           "context, no feedback": "tab:blue", "P-Direct (no context, no feedback)": "tab:grey"}


# --------------------------------------------------------------------------------------------
# (a) perception with and without feedback
# --------------------------------------------------------------------------------------------
def perception_part(world, budget: dict, runs: Path, seed: int, timings: dict):
    models, table, memory = {}, {}, {}
    for name, kwargs in MODELS.items():
        model = TensorBrainPerception.for_world(world, seed=seed, **kwargs)
        t = time.perf_counter()
        fit_tensor_brain(model, world, runs / name, epochs=budget["epochs"], seed=seed,
                         progress=False)
        timings[f"train_{name}"] = time.perf_counter() - t
        models[name] = model
        memory[name] = {"episodic": evaluate_episodic(model, world),
                        "semantic": evaluate_semantic(model, world)}
        print(f"{name}: trained in {timings[f'train_{name}']:.0f} s", flush=True)
    t = time.perf_counter()
    for name, mode, label in ROWS:
        table[label] = {split: evaluate_perception(models[name], world, split, mode=mode)
                        for split in ("test_known", "test_novel")}
        table[label]["twins"] = twin_stats(models[name], world, mode=mode)
    table["majority value (in-split)"] = {split: majority_rates(world, split)
                                          for split in ("test_known", "test_novel")}
    timings["evaluate_perception"] = time.perf_counter() - t
    return models, table, memory


# --------------------------------------------------------------------------------------------
# (b) episodic capacity
# --------------------------------------------------------------------------------------------
def capacity_part(budget: dict, runs: Path, seed: int, timings: dict) -> dict:
    curves: dict[str, list[dict]] = {}
    for dim in budget["capacity_dims"]:
        curves[str(dim)] = []
        for n_train in budget["capacity_T"]:
            world = make_tb_shapes(TBShapesConfig.ci(seed=seed, n_train=n_train,
                                                     n_test_known=0, n_test_novel=0))
            model = TensorBrainPerception.for_world(world, dim=dim, seed=seed)
            steps_per_epoch = -(-n_train // SCENES_PER_BATCH)
            epochs = max(budget["epochs"], -(-budget["capacity_min_steps"] // steps_per_epoch))
            t = time.perf_counter()
            fit_tensor_brain(model, world, runs / f"capacity_d{dim}_T{n_train}",
                             epochs=epochs, scenes_per_batch=SCENES_PER_BATCH, seed=seed,
                             tasks={"episodic": 1, "semantic": 1}, progress=False)
            seconds = time.perf_counter() - t
            timings[f"capacity_d{dim}_T{n_train}"] = seconds
            episodic = evaluate_episodic(model, world)
            point = {"T": n_train, "n_triples": int(len(world.train.relations)),
                     "epochs": epochs, "steps": epochs * steps_per_epoch,
                     "subject_recall_at_n": subject_recall_at_n(model, world), **episodic,
                     "persistent_hits1": evaluate_semantic(model, world)["persistent_hits1"],
                     "train_s": seconds}
            curves[str(dim)].append(point)
            print(f"capacity d={dim} T={n_train}: subject Hits@5 "
                  f"{point['subject_hits5']:.3f}, recall@n {point['subject_recall_at_n']:.3f}, "
                  f"predicate Hits@1 {point['predicate_hits1']:.3f} ({seconds:.0f} s)",
                  flush=True)
    return curves


# --------------------------------------------------------------------------------------------
# (c) semantic vs episodic recall
# --------------------------------------------------------------------------------------------
# --------------------------------------------------------------------------------------------
# (d) knowledge graphs
# --------------------------------------------------------------------------------------------
def kg_part(mode: str, tmp: Path, timings: dict) -> dict:
    """The benchmark's results: its stored full run, or ``bench_tensor_brain.py`` run here."""
    t = time.perf_counter()
    if mode == "stored":
        if not STORED_BENCH.is_file():
            raise FileNotFoundError(f"no stored benchmark results at {STORED_BENCH}; run "
                                    f"{BENCH.name} first, or pass --kg run")
        if "datasets" not in json.loads(STORED_BENCH.read_text()):
            raise ValueError(f"{STORED_BENCH} predates the equal search of every model; "
                             f"re-run {BENCH.name} --out {STORED_BENCH}, or pass --kg run")
        bench = json.loads(STORED_BENCH.read_text())
        bench["source"] = (f"stored full run of {BENCH.relative_to(ROOT)}: "
                           f"{STORED_BENCH.relative_to(ROOT)} (its own machine and timings)")
    else:
        out = tmp / "bench_tensor_brain.json"
        command = [sys.executable, str(BENCH), "--out", str(out),
                   "--threads", str(torch.get_num_threads())] + (["--quick"] if mode == "quick"
                                                                 else [])
        run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        if run.returncode:
            raise RuntimeError(f"{BENCH.name} failed:\n{run.stderr}")
        bench = json.loads(out.read_text())
        bench["source"] = f"{BENCH.relative_to(ROOT)}{' --quick' if mode == 'quick' else ''}, " \
                          f"run by this analysis"
    timings["knowledge_graphs"] = time.perf_counter() - t
    print(f"knowledge graphs ({bench['source']}): Kinships TB MRR {bench['kinships_mrr']:.3f}, "
          f"ComplEx {bench['complex_mrr']:.3f}", flush=True)
    return bench


# --------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------
PERCEPTION_KEYS = {"test_known": ("shape_acc", "colour_acc", "size_acc", "age_acc",
                                  "dangerous_acc", "entity_acc_non_twins", "entity_acc_twins",
                                  "predicate_hits1"),
                   "test_novel": ("shape_acc", "colour_acc", "size_acc", "age_acc",
                                  "dangerous_acc", "predicate_hits1")}
"""The scores of part (a)'s figure, per split."""
KG_MODELS = ("tb", "complex", "rescal", "distmult", "popularity")


# --------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------
def _f(v) -> str:
    return "–" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.3f}"


def markdown(result: dict) -> str:
    a = result["perception"]
    cols = ("shape_acc", "parent_acc", "colour_acc", "size_acc", "age_acc", "dangerous_acc")
    lines = ["## (a) Perception with and without top-down feedback", ""]
    for split in ("test_known", "test_novel"):
        extra = (("entity_acc_non_twins", "entity_acc_twins", "twin_pair_mass")
                 if split == "test_known" else ())
        keys = cols + extra + ("predicate_hits1", "predicate_hits3")
        lines += [f"`{split}` ({int(a[ROWS[0][2]][split]['n_pairs'])} ordered pairs, decoded "
                  f"subject):", "",
                  "| model | " + " | ".join(k.replace("_acc", "").replace("_", " ")
                                            for k in keys) + " |",
                  "|---|" + "---|" * len(keys)]
        for label, row in a.items():
            lines.append(f"| {label} | " + " | ".join(_f(row[split].get(k)) for k in keys)
                         + " |")
        lines.append("")
    twins = {label: row["twins"] for label, row in a.items() if "twins" in row}
    first = next(iter(twins.values()))
    lines += [f"Twins on `test_known`, per appearance ({first['n_appearances']} appearances of "
              f"the 8 twins; always answering the more frequent twin of each pair scores "
              f"{first['constant_guess_acc']:.3f}):", "",
              "| model | accuracy | P on the pair | max(P(a), P(b)) / P(pair) (0.5 = calibrated) |",
              "|---|---|---|---|"]
    for label, row in twins.items():
        lines.append(f"| {label} | {_f(row['acc'])} | {_f(row['pair_mass'])} | "
                     f"{_f(row['within_pair_confidence'])} |")
    lines.append("")
    m = result["memory_of_perception_models"]
    lines += ["Memory recall of the same three models:", "",
              "| model | episodic subject Hits@5 | episodic predicate Hits@1 | "
              "semantic persistent Hits@1 | semantic dangerous | semantic friend_of |",
              "|---|---|---|---|---|---|"]
    for name, row in m.items():
        lines.append(f"| {name} | {_f(row['episodic']['subject_hits5'])} | "
                     f"{_f(row['episodic']['predicate_hits1'])} | "
                     f"{_f(row['semantic']['persistent_hits1'])} | "
                     f"{_f(row['semantic']['dangerous_hits1'])} | "
                     f"{_f(row['semantic']['friend_of_hits1'])} |")
    lines += ["", "## (b) Episodic capacity (memory tasks only)", "",
              "| d | T | triples | epochs (steps) | subject Hits@5 | subject recall@n | "
              "predicate Hits@1 | label acc (shape/colour/size/age) | semantic persistent | "
              "train s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for dim, points in result["capacity"].items():
        for p in points:
            labels = "/".join(f"{p[f'{k}_acc']:.2f}" for k in ("shape", "colour", "size", "age"))
            lines.append(f"| {dim} | {p['T']} | {p['n_triples']} | {p['epochs']} ({p['steps']}) "
                         f"| {_f(p['subject_hits5'])} | "
                         f"{_f(p['subject_recall_at_n'])} | {_f(p['predicate_hits1'])} | "
                         f"{labels} | {_f(p['persistent_hits1'])} | {p['train_s']:.0f} |")
    facts = result["semantic_vs_episodic"]["persistent"]
    keys = list(LABELS) + ["friend_of", "friends_recall"]
    lines += ["", "## (c) Semantic vs episodic recall", "",
              "Persistent facts. Labels: Hits@1 over the 32 individuals (subject forced). "
              "friend_of: argmax of P(p | s, o) is friend_of, over the "
              f"{len(result['world']['friends'])} true friend pairs only (a memory that "
              "answers friend_of for every pair scores 1). friends_recall: share of each "
              "individual's friends among the top-2 of P(o | s) (chance 2/31 = 0.065).", "",
              "| memory | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    for name, row in facts.items():
        lines.append(f"| {name} | " + " | ".join(_f(row[k]) for k in keys) + " |")
    tr = result["semantic_vs_episodic"]["transient"]
    subsets = list(tr["n_pairs"])
    lines += ["", "Transient relations: the direction (left_of / right_of / above / below) of "
              "each ordered pair of each training episode, argmax over the four directions "
              f"({tr['n_distinct_pairs']} distinct ordered pairs):", "",
              "| recall | " + " | ".join(f"{s} (n={tr['n_pairs'][s]})" for s in subsets)
              + " | visual-predicate Hits@1 | unrestricted Hits@1 | argmax = friend_of |",
              "|---|" + "---|" * (len(subsets) + 3)]
    for name, row in tr["rows"].items():
        lines.append(f"| {name} | " + " | ".join(_f(row["direction_acc"][s]) for s in subsets)
                     + f" | {_f(row.get('visual_hits1'))} | {_f(row.get('raw_hits1'))} | "
                     f"{_f(row.get('raw_friend_of_share'))} |")
    k = result["knowledge_graphs"]
    lines += ["", "## (d) Knowledge graphs (filtered test, realistic ties; every model "
              "selected by the same validation search)", "",
              f"Source: {k.get('source', BENCH.name)}. Search: "
              f"{k['config']['n_configs_per_model']} configurations per model, "
              f"{k['config']['search']['max_epochs']} epochs at most, early stopping on "
              "validation filtered MRR.", ""]
    for name, run in k["datasets"].items():
        lines += [f"{name}:", "", "| model | selected (dim, lr, weight, epochs) | valid MRR | "
                  "MRR | H@1 | H@3 | H@10 | tail MRR | head MRR | predicate MRR | "
                  "predicate H@1 | search s |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for model in KG_MODELS:
            if model not in run["link_prediction"]:
                continue
            lp, pr = run["link_prediction"][model], run["predicate_ranking"][model]
            search = run["search"].get(model)
            chosen = ("–" if search is None else
                      "{dim}, {lr}, {weight}, {epochs}".format(**search["config"]))
            valid = "–" if search is None else f"{search['valid_mrr']:.3f}"
            seconds = 0.0 if search is None else search["train_s_total"]
            b = lp["both"]
            lines.append(f"| {model} | {chosen} | {valid} | {b['mrr']:.3f} | "
                         f"{b['hits@1']:.3f} | {b['hits@3']:.3f} | {b['hits@10']:.3f} | "
                         f"{lp['tail']['mrr']:.3f} | {lp['head']['mrr']:.3f} | "
                         f"{pr['mrr']:.3f} | {pr['hits@1']:.3f} | {seconds:.0f} |")
        lines += ["", f"TB / best baseline: {run['mrr_ratio_vs_best_baseline']:.3f}; "
                  f"TB / popularity: {run['mrr_ratio_vs_popularity']:.1f}.", ""]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0, help="world and model seed")
    parser.add_argument("--quick", action="store_true",
                        help="smaller budget; writes to a temporary folder unless --out")
    parser.add_argument("--out", "--out-dir", dest="out", default=None,
                        help="output folder (default analyses/results/tensor_brain)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--kg", choices=("stored", "run", "quick"), default=None,
                        help="part (d): read the benchmark's stored full run (default), run "
                             "bench_tensor_brain.py here (about 4 more minutes) or run it "
                             "with --quick (the default with --quick)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    default_out = (Path(tempfile.gettempdir()) / "tensor_brain_quick" if args.quick
                   else ROOT / "analyses" / "results" / "tensor_brain")
    out = Path(args.out) if args.out else default_out
    out.mkdir(parents=True, exist_ok=True)
    budget = QUICK if args.quick else FULL
    start = time.perf_counter()
    timings: dict[str, float] = {}
    config = TBShapesConfig.ci(seed=args.seed)
    world = make_tb_shapes(config)
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp)
        models, perception, memory = perception_part(world, budget, runs, args.seed, timings)
        t = time.perf_counter()
        facts = persistent_facts(models["feedback"], world)
        transient = transient_relations(models["feedback"], world)
        timings["semantic_vs_episodic"] = time.perf_counter() - t
        decoded = [decode_scene_objects(models["feedback"], world, n) for n in range(4)]
        capacity = capacity_part(budget, runs, args.seed, timings)
        graphs = kg_part(args.kg or ("quick" if args.quick else "stored"), runs, timings)
    scenes = world.test_known
    plt.close(plot_decoded_scenes(
        scenes.images[:4], scenes.boxes[:4], scenes.individuals[:4], decoded,
        shape_names=world.label_names("shape"), predicate_names=world.predicate_names,
        titles=[f"test scene {d.scene}" for d in decoded],
        title="Decoded subject, its shape label, predicate and object (box: green = right "
              "individual)", output_file=out / "decoded.png"))
    plt.close(plot_perception_accuracy(perception, PERCEPTION_KEYS, colours=COLOURS,
                                       output_file=out / "perception.png"))
    plt.close(plot_episodic_capacity(
        capacity, title="Episodic recall from the time index alone (memory tasks only; "
                        "≥ 40 epochs, ≥ 500 steps)", output_file=out / "capacity.png"))
    plt.close(plot_memory_recall(facts, transient, output_file=out / "semantic_vs_episodic.png"))
    search = graphs["config"]
    plt.close(plot_link_prediction(
        graphs["datasets"], models=KG_MODELS, panel_title="{name} (pykeen split)",
        title=f"Every model selected by the same validation search\n"
              f"({search['n_configs_per_model']} configurations, <= "
              f"{search['search']['max_epochs']} epochs, early stopping)",
        output_file=out / "knowledge_graphs.png"))
    timings["total"] = time.perf_counter() - start
    result = {
        "what": __doc__.split("\n\n")[0], "seed": args.seed, "quick": args.quick,
        "machine": sys_info.collect() | {"torch_threads": torch.get_num_threads()},
        "world": {"config": {k: (list(v) if isinstance(v, tuple) else v)
                             for k, v in vars(config).items()},
                  "twins": world.twins.tolist(), "friends": world.friends.tolist(),
                  "n_train_triples": int(len(world.train.relations))},
        "models": {name: {**kwargs, "dim": 128, "nonlinearity": "sigmoid", "bias": "none",
                          "order": ["subject", "object", "predicate"], "dropout": 0.0,
                          "seed": args.seed} for name, kwargs in MODELS.items()},
        "training": {"epochs": budget["epochs"], "scenes_per_batch": 16, "facts_per_batch": 64,
                     "lr": 3e-3, "memory_lr": 0.1, "warmup_steps": 20,
                     "tasks (a), (c)": {"perception": 1, "episodic": 1, "semantic": 1},
                     "tasks (b)": {"episodic": 1, "semantic": 1},
                     "optimizer": "AdamW, cosine after warm-up, grad clip 5 (fit_tensor_brain)"},
        "capacity_config": {"T": list(budget["capacity_T"]), "dims": list(budget["capacity_dims"]),
                            "epochs": f"max({budget['epochs']}, enough for "
                                      f"{budget['capacity_min_steps']} steps)",
                            "world": "TBShapesConfig.ci(n_train=T, n_test_known=0, "
                                     "n_test_novel=0): the same 32 individuals"},
        "perception": perception, "memory_of_perception_models": memory,
        "capacity": capacity,
        "semantic_vs_episodic": {"persistent": facts, "transient": transient},
        "knowledge_graphs": graphs, "seconds": timings,
    }
    text = markdown(result)
    write_report(out, "tensor_brain", result, text)
    print("\n" + text)
    print(f"wrote {out}/ in {timings['total']:.0f} s")


if __name__ == "__main__":
    main()
