"""The layer graph of neuroattn, enforced: no import cycle, no upward import, no private import.

Layers, lowest first (a module may import its own layer and the ones below):

0. foundation: ``errors``, ``_validation``, ``_logging``, ``_atomic``, ``_docs``, ``config``,
   ``device``, ``progress``, ``seeding``, ``sys_info``, ``dispatch_audit``, ``reports``;
1. ``store``;
2. ``datasets`` (readers, converters and, in ``datasets.synthetic``, the simulated worlds);
3. ``nn`` and ``training``;
4. the model families: ``ieeg``, ``encoding``, ``gaze``, ``retina``, ``semantic``; a family
   never imports ``datasets.synthetic`` (vocabularies come in through the world object);
5. ``plotting``, and ``models`` (the registry of the families: it loads any of them, lazily);
6. the command lines and check suites: ``train_ieeg``, ``__main__``, ``testing``.

The top-level ``neuroattn`` package only holds the version, the logger and a lazy map, so
any module may import it. Imports inside functions count like top-level ones.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "neuroattn"
LAYERS = {
    **dict.fromkeys(("errors", "_validation", "_logging", "_atomic", "_docs", "config",
                     "device", "progress", "seeding", "sys_info", "dispatch_audit", "reports"), 0),
    "store": 1, "datasets": 2, "nn": 3, "training": 3,
    **dict.fromkeys(("ieeg", "encoding", "gaze", "retina", "semantic"), 4),
    "plotting": 5, "models": 5, "train_ieeg": 6, "__main__": 6, "testing": 6,
}
FAMILY = 4


def import_graph(root: Path) -> tuple[dict[str, set[str]], list[tuple[str, str]]]:
    """Module -> imported modules of the package at ``root``, and every private-name import."""
    package = root.name
    modules = {".".join(f.relative_to(root.parent).with_suffix("").parts)
               .removesuffix(".__init__"): f for f in root.rglob("*.py")}
    edges: dict[str, set[str]] = {m: set() for m in modules}
    private = []
    for name, path in modules.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                edges[name] |= {a.name for a in node.names if a.name.split(".")[0] == package}
            elif isinstance(node, ast.ImportFrom):
                base = here.split(".")[:len(here.split(".")) - node.level + 1] if node.level else []
                target = ".".join(base + [node.module or ""]).strip(".")
                if target.split(".")[0] != package:
                    continue
                for alias in node.names:
                    full = f"{target}.{alias.name}"
                    edges[name].add(full if full in modules else target)
                    if alias.name.startswith("_") and not alias.name.startswith("__") \
                            and target != name:
                        private.append((name, full))
    return {m: {t for t in ts if t in modules and t != m} for m, ts in edges.items()}, private


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def layer(module: str) -> tuple[str, int | None]:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else ""
    return top, LAYERS.get(top)


def violations(root: Path) -> set[tuple[str, str]]:
    """Every upward import, family -> synthetic import, private import and cycle under ``root``."""
    edges, private = import_graph(root)
    found = set(private)
    for a, targets in edges.items():
        for b in targets:
            (pa, la), (pb, lb) = layer(a), layer(b)
            if pa == pb or "" in (pa, pb):  # the top-level package: version, logger, lazy map
                continue
            synthetic = b.startswith(f"{root.name}.datasets.synthetic")
            if la is None or lb is None or lb > la or (la == FAMILY and synthetic):
                found.add((a, b))
    found |= {("cycle", " -> ".join(c)) for c in cycles(edges)}
    return found


def test_neuroattn_follows_its_layer_graph():
    assert violations(ROOT) == set(), "layer-graph violations (see the module docstring)"


@pytest.mark.parametrize("planted, expected", [
    ({"a.py": "from neuroattn import b\n", "b.py": "def f():\n    from neuroattn import a\n"},
     ("cycle", "neuroattn.a -> neuroattn.b")),
    ({"store/__init__.py": "", "errors.py": "from neuroattn.store import x\n"},
     ("neuroattn.errors", "neuroattn.store")),
    ({"x.py": "_hidden = 1\n", "y.py": "from neuroattn.x import _hidden\n"},
     ("neuroattn.y", "neuroattn.x._hidden")),
    ({"datasets/__init__.py": "", "datasets/synthetic/__init__.py": "",
      "datasets/synthetic/world.py": "",
      "gaze.py": "from neuroattn.datasets.synthetic import world\n"},
     ("neuroattn.gaze", "neuroattn.datasets.synthetic.world")),
])
def test_the_checker_catches_planted_violations(tmp_path, planted, expected):
    root = tmp_path / "neuroattn"
    for name, text in {"__init__.py": "", **planted}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    assert expected in violations(root)
