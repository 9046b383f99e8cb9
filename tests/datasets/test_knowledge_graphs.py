"""Reading knowledge graphs: TSV parsing, id assignment, errors, pykeen's bundled splits."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from neuroattn.datasets.knowledge_graphs import (
    KnowledgeGraph,
    load_knowledge_graph,
    read_triples,
)


def _write_splits(root, train, valid, test):
    for split, rows in {"train": train, "valid": valid, "test": test}.items():
        (root / f"{split}.txt").write_text("".join("\t".join(row) + "\n" for row in rows))
    return root


def test_read_triples_keeps_order_and_skips_blank_lines(tmp_path):
    path = tmp_path / "kg.tsv"
    path.write_text("b\tr\ta\r\n\n a \ts\tc\n")
    assert read_triples(path) == [("b", "r", "a"), ("a", "s", "c")]


@pytest.mark.parametrize(("row", "match"), [
    ("a\tr", "line 2: expected 3 tab-separated fields.*got 2"),
    ("a\tr\tb\tc", "line 2: expected 3 tab-separated fields.*got 4"),
    ("a\t\tb", "line 2: empty field"),
    ("a r b", "line 2: expected 3 tab-separated fields.*got 1"),
])
def test_read_triples_names_file_and_line_of_malformed_rows(tmp_path, row, match):
    path = tmp_path / "bad.tsv"
    path.write_text(f"x\ty\tz\n{row}\n")
    with pytest.raises(ValueError, match=match) as info:
        read_triples(path)
    assert "bad.tsv" in str(info.value)


def test_read_triples_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.tsv"):
        read_triples(tmp_path / "nope.tsv")


def test_ids_come_from_sorted_names_over_all_splits(tmp_path):
    _write_splits(tmp_path, [("zed", "r2", "amy"), ("bob", "r1", "zed")],
                  [("amy", "r2", "bob")], [("cat", "r3", "amy")])  # cat and r3 only in test
    kg = load_knowledge_graph(tmp_path)
    assert kg.entities == ("amy", "bob", "cat", "zed")
    assert kg.relations == ("r1", "r2", "r3")
    assert kg.train.dtype == np.int64 and kg.train.shape == (2, 3)
    assert kg.train.tolist() == [[3, 1, 0], [1, 0, 3]]
    assert kg.test.tolist() == [[2, 2, 0]]
    assert (kg.n_entities, kg.n_relations) == (4, 3)
    assert kg.known_triples() == {(3, 1, 0), (1, 0, 3), (0, 1, 1), (2, 2, 0)}


def test_knowledge_graph_validates_arrays():
    good = np.zeros((1, 3), dtype=np.int64)
    with pytest.raises(ValueError, match=r"train must have shape \(n, 3\)"):
        KnowledgeGraph(("a",), ("r",), np.zeros((2, 2), dtype=int), good, good)
    with pytest.raises(ValueError, match=r"valid: tail ids must lie in \[0, 1\)"):
        KnowledgeGraph(("a",), ("r",), good, np.array([[0, 0, 1]]), good)
    with pytest.raises(ValueError, match="integer ids"):
        KnowledgeGraph(("a",), ("r",), good, good, np.zeros((1, 3)))


def test_missing_split_file_is_named(tmp_path):
    _write_splits(tmp_path, [("a", "r", "b")], [("a", "r", "b")], [("a", "r", "b")])
    (tmp_path / "valid.txt").unlink()
    with pytest.raises(FileNotFoundError, match="valid.txt"):
        load_knowledge_graph(tmp_path)


def test_unknown_name():
    with pytest.raises(ValueError, match="Unknown knowledge graph 'wordnet'.*kinships"):
        load_knowledge_graph("wordnet")


def test_bundled_name_without_pykeen_says_how_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pykeen" else real(name, *a))
    with pytest.raises(ModuleNotFoundError, match="pip install pykeen.*or pass a directory"):
        load_knowledge_graph("kinships")


@pytest.mark.parametrize(("name", "sizes", "n_entities", "n_relations"), [
    ("kinships", (8544, 1068, 1074), 104, 25),
    ("nations", (1592, 199, 201), 14, 55),
    ("umls", (5216, 652, 661), 135, 46),
])
def test_bundled_splits_have_the_published_sizes(name, sizes, n_entities, n_relations):
    pytest.importorskip("pykeen", reason="the bundled TSVs come with pykeen")
    kg = load_knowledge_graph(name)
    assert (len(kg.train), len(kg.valid), len(kg.test)) == sizes
    assert (kg.n_entities, kg.n_relations) == (n_entities, n_relations)
    assert len(kg.known_triples()) == sum(sizes)  # no duplicate triples across splits
