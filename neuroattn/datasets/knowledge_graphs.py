"""Small knowledge graphs as integer triples: TSV reading and pykeen's bundled splits.

A knowledge graph here is three splits of ``(head, relation, tail)`` triples,
read from ``head<TAB>relation<TAB>tail`` text files. Entity and relation ids
are positions in the sorted names over all splits, so the same files always
give the same ids. Nations, Kinships and UMLS ship as plain TSVs inside the
``pykeen`` wheel; :func:`load_knowledge_graph` finds them without importing
pykeen (whose import is slow and pulls in optuna and friends).

Examples
--------
>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> for split, rows in {"train": ["ann\\tparent_of\\tbob", "bob\\tparent_of\\tcid"],
...                     "valid": ["ann\\tgrandparent_of\\tcid"], "test": ["cid\\tchild_of\\tbob"]
...                     }.items():
...     _ = (root / f"{split}.txt").write_text("\\n".join(rows) + "\\n")
>>> kg = load_knowledge_graph(root)
>>> kg
KnowledgeGraph(3 entities, 3 relations, train/valid/test = 2/1/1)
>>> kg.entities, kg.relations
(('ann', 'bob', 'cid'), ('child_of', 'grandparent_of', 'parent_of'))
>>> kg.test.tolist()
[[2, 0, 1]]
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neuroattn.errors import FormatError, ParameterError

__all__ = ["BUNDLED_KNOWLEDGE_GRAPHS", "SPLITS", "KnowledgeGraph", "KnowledgeGraphFormatError",
           "load_knowledge_graph", "read_triples"]



class KnowledgeGraphFormatError(FormatError):
    """A triples file that is not one tab-separated (head, relation, tail) line per triple."""


#: The data sets that pykeen ships as plain TSVs inside its wheel.
BUNDLED_KNOWLEDGE_GRAPHS = ("nations", "kinships", "umls")
#: Split names, and the file ``<split>.txt`` each is read from.
SPLITS = ("train", "valid", "test")

Triple = tuple[str, str, str]


def read_triples(path: str | os.PathLike) -> list[Triple]:
    """Read a ``head<TAB>relation<TAB>tail`` file into string triples.

    Blank lines are skipped; surrounding whitespace of each field is kept out.

    Parameters
    ----------
    path : path
        A UTF-8 text file with one triple per line.

    Returns
    -------
    list of (str, str, str)
        The triples in file order.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        For a row without exactly three tab-separated fields, or with an empty
        field; the message names the file and the line.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "kg.tsv"
    >>> _ = path.write_text("a\\tr\\tb\\n\\nb\\tr\\tc\\n")
    >>> read_triples(path)
    [('a', 'r', 'b'), ('b', 'r', 'c')]
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No triples file at {path}.")
    triples = []
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = [f.strip() for f in line.split("\t")]
            if len(fields) != 3:
                raise KnowledgeGraphFormatError(
                    f"{path}, line {line_no}: expected 3 tab-separated fields (head, relation, "
                    f"tail), got {len(fields)}: {line!r}.")
            if not all(fields):
                raise KnowledgeGraphFormatError(f"{path}, line {line_no}: empty field in {line!r}.")
            triples.append((fields[0], fields[1], fields[2]))
    return triples


@dataclass(frozen=True, eq=False)
class KnowledgeGraph:
    """Three splits of integer ``(head, relation, tail)`` triples with their vocabularies.

    Attributes
    ----------
    entities, relations : tuple of str
        Names, sorted; an id is a position in these tuples.
    train, valid, test : numpy.ndarray
        ``int64`` arrays of shape ``(n, 3)``: head id, relation id, tail id.

    Examples
    --------
    >>> kg = KnowledgeGraph.from_triples([("a", "r", "b")], [("b", "r", "a")], [("a", "s", "a")])
    >>> kg.n_entities, kg.n_relations, kg.train.tolist()
    (2, 2, [[0, 0, 1]])
    >>> sorted(kg.known_triples())
    [(0, 0, 1), (0, 1, 0), (1, 0, 0)]
    """

    entities: tuple[str, ...]
    relations: tuple[str, ...]
    train: np.ndarray = field(repr=False)
    valid: np.ndarray = field(repr=False)
    test: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        for split in SPLITS:
            array = np.asarray(getattr(self, split))
            if array.ndim != 2 or array.shape[1] != 3:
                raise ParameterError(f"{split} must have shape (n, 3), got {array.shape}.")
            if not np.issubdtype(array.dtype, np.integer):
                raise ParameterError(f"{split} must hold integer ids, got dtype {array.dtype}.")
            for column, name, size in ((0, "head", self.n_entities),
                                       (1, "relation", self.n_relations),
                                       (2, "tail", self.n_entities)):
                ids = array[:, column]
                if ids.size and (ids.min() < 0 or ids.max() >= size):
                    raise ParameterError(f"{split}: {name} ids must lie in [0, {size}), got "
                                         f"[{ids.min()}, {ids.max()}].")
            object.__setattr__(self, split, array.astype(np.int64, copy=False))

    @classmethod
    def from_triples(cls, train: list[Triple], valid: list[Triple],
                     test: list[Triple]) -> KnowledgeGraph:
        """Build from string triples, with ids from the sorted names over all splits."""
        splits = (train, valid, test)
        entities = tuple(sorted({e for rows in splits for h, _, t in rows for e in (h, t)}))
        relations = tuple(sorted({r for rows in splits for _, r, _ in rows}))
        entity_id = {name: i for i, name in enumerate(entities)}
        relation_id = {name: i for i, name in enumerate(relations)}
        arrays = [np.array([(entity_id[h], relation_id[r], entity_id[t]) for h, r, t in rows],
                           dtype=np.int64).reshape(-1, 3) for rows in splits]
        return cls(entities, relations, *arrays)

    @property
    def n_entities(self) -> int:
        """Number of entities."""
        return len(self.entities)

    @property
    def n_relations(self) -> int:
        """Number of relations (forward only; no reciprocal relations here)."""
        return len(self.relations)

    def known_triples(self) -> set[tuple[int, int, int]]:
        """All true triples of train, valid and test, as id tuples (the filter of ranking)."""
        rows = np.concatenate([self.train, self.valid, self.test])
        return {(int(h), int(r), int(t)) for h, r, t in rows}

    def __repr__(self) -> str:
        sizes = "/".join(str(len(getattr(self, split))) for split in SPLITS)
        return (f"KnowledgeGraph({self.n_entities} entities, {self.n_relations} relations, "
                f"train/valid/test = {sizes})")


def _bundled_dir(name: str) -> Path:
    """The folder of pykeen's bundled data set ``name``, found without importing pykeen."""
    spec = importlib.util.find_spec("pykeen")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"The {name!r} knowledge graph is read from the files bundled with pykeen, which "
            "is not installed: `pip install pykeen` (or `pip install neuroattn[test]`), or pass "
            "a directory with train.txt, valid.txt and test.txt.")
    return Path(spec.submodule_search_locations[0]) / "datasets" / name


def load_knowledge_graph(name_or_dir: str | os.PathLike) -> KnowledgeGraph:
    """Load a bundled knowledge graph by name, or the three splits in a directory.

    Parameters
    ----------
    name_or_dir : str or path
        ``"nations"``, ``"kinships"`` or ``"umls"`` (the TSVs inside the pykeen
        wheel; pykeen must be installed but is not imported), or a directory
        holding ``train.txt``, ``valid.txt`` and ``test.txt``.

    Returns
    -------
    KnowledgeGraph

    Raises
    ------
    ModuleNotFoundError
        A bundled name was asked for and pykeen is not installed.
    ValueError
        An unknown name (neither bundled nor an existing directory).
    FileNotFoundError
        A split file is missing.

    Examples
    --------
    >>> load_knowledge_graph("freebase")
    Traceback (most recent call last):
    ...
    neuroattn.errors.ParameterError: Unknown knowledge graph 'freebase': expected one of \
('nations', 'kinships', 'umls') or a directory with train.txt, valid.txt and test.txt.
    """
    path = Path(name_or_dir)
    if isinstance(name_or_dir, str) and name_or_dir.lower() in BUNDLED_KNOWLEDGE_GRAPHS \
            and not path.is_dir():
        path = _bundled_dir(name_or_dir.lower())
    elif not path.is_dir():
        raise ParameterError(f"Unknown knowledge graph {str(name_or_dir)!r}: expected one of "
                             f"{BUNDLED_KNOWLEDGE_GRAPHS} or a directory with train.txt, valid.txt "
                             "and test.txt.")
    files = [path / f"{split}.txt" for split in SPLITS]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"{path} lacks the split file(s) {', '.join(missing)}; "
                                "expected train.txt, valid.txt and test.txt.")
    return KnowledgeGraph.from_triples(*(read_triples(f) for f in files))
