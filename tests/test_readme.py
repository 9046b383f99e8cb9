"""The README's Python examples run, in order, as written, and print the figures they state.

Every ``print(...)`` call in a README block whose source lines carry a comment with
numbers (``print(acc)   # 0.94, 0.41``) is checked: the numbers of the comment must
appear, in order, among the numbers that call printed (all its calls, if it sits in a
loop), each within ``FIGURE_TOLERANCE`` (0.01, absolute). The figures are read from the
README text each run, so pasting new figures into the README is all it takes to have
them checked. A comment that is not on a ``print`` line states no printed figure and is
not checked here.
"""

from __future__ import annotations

import ast
import builtins
import io
import re
import sys
import tokenize
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
FIGURE_TOLERANCE = 0.01
# a number that is not part of a word or a longer number: "0.94", "-3", "1e-5", not "r2"
NUMBER = re.compile(r"(?<![\w.])[-−]?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?![\w.]*\w)")


def numbers(text: str) -> list[float]:
    """The numbers in ``text``, in order.

    >>> numbers("r2/NC: transformer 0.94, ridge 0.41 (torch.Size([4, 10]))")
    [0.94, 0.41, 4.0, 10.0]
    """
    return [float(m.replace("−", "-")) for m in NUMBER.findall(text)]


def readme_blocks() -> list[tuple[int, str]]:
    """Every ```` ```python ```` block of the README with the README line its code starts on."""
    text = README.read_text()
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1))
            for m in re.finditer(r"```python\n(.*?)```", text, flags=re.S)]


def stated_figures(source: str, first_line: int) -> dict[tuple[int, int], list[float]]:
    """``{(first, last README line of a print call): numbers its comments state}``."""
    comments: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string
    figures = {}
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "print"):
            stated = [x for line in range(node.lineno, node.end_lineno + 1)
                      for x in numbers(comments.get(line, ""))]
            if stated:
                span = (node.lineno + first_line - 1, node.end_lineno + first_line - 1)
                figures[span] = stated
    return figures


def matches(stated: list[float], printed: list[float], tol: float = FIGURE_TOLERANCE) -> bool:
    """Whether ``stated`` occurs, in order and within ``tol``, in ``printed``.

    >>> matches([0.94, 0.41], [0.93, 0.41]), matches([0.94], [0.9]), matches([2, 3], [3, 2])
    (True, False, False)
    """
    it = iter(printed)
    return all(any(abs(s - p) <= tol + 1e-12 for p in it) for s in stated)


@pytest.mark.slow
def test_readme_examples_run_and_print_their_figures(tmp_path, monkeypatch):
    blocks = readme_blocks()
    assert len(blocks) >= 4
    monkeypatch.chdir(tmp_path)
    printed: dict[int, list[str]] = {}

    def recording_print(*args, sep=" ", end="\n", file=None, flush=False):
        if file is None or file is sys.stdout:
            text = sep.join(str(a) for a in args)
            printed.setdefault(sys._getframe(1).f_lineno, []).append(text)
        builtins.print(*args, sep=sep, end=end, file=file, flush=flush)

    namespace: dict = {"print": recording_print}
    stated: dict[tuple[int, int], list[float]] = {}
    for first_line, block in blocks:
        stated |= stated_figures(block, first_line)
        code = compile("\n" * (first_line - 1) + block, str(README), "exec")
        exec(code, namespace)  # noqa: S102 (our own README)
    assert (tmp_path / "rec_clean.zarr").is_dir()

    assert len(stated) >= 5, "the README's print lines state fewer figures than expected"
    wrong = []
    for (first, last), figures in sorted(stated.items()):
        out = [text for line, texts in printed.items() if first <= line <= last
               for text in texts]
        if not matches(figures, [x for text in out for x in numbers(text)]):
            wrong.append(f"README.md:{first}: states {figures}, prints {out}")
    assert not wrong, ("README figures that their block does not print (within "
                       f"{FIGURE_TOLERANCE}); paste what it prints:\n" + "\n".join(wrong))
