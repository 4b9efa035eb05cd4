"""Is any text a student sees in a translated notebook still English? The rule, precisely.

Text a student sees, in a translated notebook (its release, and what its cells print or draw):

- every markdown cell, except what is code (`spans`, fenced blocks), math (``$…$``), a link
  target, an HTML tag, a quotation from the article (「…」 or “…”, verbatim: the quotation
  test checks it) or a reference list (the lines under a heading that says 参考文献: a cited
  work keeps its own title);
- every comment and every *student-text* string literal of a code cell
  (:mod:`course.i18n.units`: visible positions such as ``title=`` / ``hint=`` / ``print``, and
  prose anywhere), except strings whose catalogue entry says ``keep`` (a name the code uses);
- what the notebook prints and the text of its charts (titles, axis titles, legend names,
  annotations), when executed.

It is still English when it holds a Latin-letter word (two or more letters) that is

- not code: not in `backticks` or a ``{placeholder}``, not a call ``name(`` or attribute
  ``.name``, not a word with ``_`` or digits, not a name of the notebook's code written with a
  capital (``SEED``, ``DataFrame``); a lowercase name the code uses (``units``) must be in
  backticks, because in running text it reads as English;
- and not on the language's allowed list (``course/i18n/<language>/allowed.toml``: units,
  abbreviations such as DC or SKU, proper names such as Eppen or Wal-Mart, software names).

>>> found("用 `demand` 计算每家门店的 CV", identifiers={"demand"}, allowed={"CV"})
[]
>>> found("Compute the CV per store", identifiers=set(), allowed={"CV"})
['Compute', 'the', 'per', 'store']
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from nbformat import NotebookNode

from course import cells as cellmod
from course.i18n import units as unitmod

_REFERENCES = re.compile(r"^#+\s.*参考文献.*$", re.M)
_HEADING = re.compile(r"^#+\s", re.M)


def without_references(markdown: str) -> str:
    """A markdown cell without its reference list (from a 参考文献 heading to the next heading)."""
    match = _REFERENCES.search(markdown)
    if not match:
        return markdown
    rest = markdown[match.end():]
    following = _HEADING.search(rest)
    return markdown[: match.start()] + (rest[following.start():] if following else "")


def found(text: str, *, identifiers: set[str], allowed: set[str]) -> list[str]:
    """The English words of one piece of running text (markdown prose or a string's text)."""
    return unitmod.english_words(text, identifiers, allowed)


_QUOTATION = re.compile(r"「[^」]*」|“[^”]*”")


def in_markdown(source: str, *, identifiers: set[str], allowed: set[str]) -> list[str]:
    """English words of a markdown cell; quotations (「…」, “…”) are the article's own words,
    verbatim (``tests/test_quotations.py`` checks them), so they are not read."""
    prose = _QUOTATION.sub(" ", unitmod.markdown_prose(without_references(source)))
    return found(prose, identifiers=identifiers, allowed=allowed)


def in_notebook(nb: NotebookNode, *, identifiers: set[str], allowed: set[str], kept: Iterable[str] = (),
                markers: cellmod.Markers = cellmod.DEFAULT_MARKERS) -> list[str]:
    """Every English text of a translated notebook's cells, as ``cell <id>: <words>: <text>``."""
    keep = set(kept)
    problems = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            words = in_markdown(cell.source, identifiers=identifiers, allowed=allowed)
            if words:
                problems.append(f"cell {cell.id} (markdown): {sorted(set(words))[:8]}")
        elif cell.cell_type == "code":
            for unit in unitmod.code_units(cell.source, identifiers=identifiers, allowed=allowed, cell=cell.id,
                                           markers=markers):
                if unit.en in keep:
                    continue
                words = found(unit.en, identifiers=identifiers, allowed=allowed)
                problems.append(f"cell {cell.id} ({unit.kind}): {sorted(set(words))[:8]}: {unit.en[:80]!r}")
    return problems


PLOTLY_MIME = "application/vnd.plotly.v1+json"


def chart_texts(figure: dict) -> list[str]:
    """The text a chart's own layout shows: title, axis and legend titles, annotations. (Trace
    names and category labels come from the data: the data's own values, like a printed table.)"""
    layout = figure.get("layout", {}) or {}
    texts: list[str] = []

    def title(part: object) -> None:
        if isinstance(part, dict):
            part = part.get("text")
        if isinstance(part, str) and part:
            texts.append(part)

    title(layout.get("title"))
    for key, value in layout.items():
        if (key.startswith("xaxis") or key.startswith("yaxis")) and isinstance(value, dict):
            title(value.get("title"))
    if isinstance(layout.get("legend"), dict):
        title(layout["legend"].get("title"))
    for note in layout.get("annotations", []) or []:
        if isinstance(note, dict) and isinstance(note.get("text"), str):
            texts.append(note["text"])
    return texts


_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def data_modules(nb: NotebookNode) -> list[str]:
    """The ``course.data`` modules a notebook imports (``from course.data import logistics``)."""
    import ast

    found: list[str] = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "course.data":
                found += [a.name for a in node.names if a.name not in found]
    return found


def data_values(module: str) -> set[str]:
    """Words of the string constants a ``course.data`` module defines at module level (its
    categories: province, supplier, division names): the data's own values."""
    import ast
    from importlib import util

    spec = util.find_spec(f"course.data.{module}")
    if spec is None or spec.origin is None:
        return set()
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    words: set[str] = set()
    for statement in tree.body:
        if isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None:
            for node in ast.walk(statement.value):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    words |= set(unitmod.WORD.findall(node.value))
    return words


def code_names(nb: NotebookNode) -> set[str]:
    """Every name and every word of every string literal in the notebook's code, and the data
    modules' own category values (:func:`data_values`): what a printed table or label may show
    as it is."""
    import io
    import tokenize

    names: set[str] = set()
    for module in data_modules(nb):
        names |= data_values(module)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tokens = list(tokenize.generate_tokens(io.StringIO(cell.source).readline))
        except (tokenize.TokenError, IndentationError, SyntaxError):
            continue
        for tok in tokens:
            if tok.type == tokenize.NAME:
                names.add(tok.string)
            elif tok.type == tokenize.STRING:
                names |= set(unitmod.WORD.findall(tok.string))
    return names


def in_outputs(nb: NotebookNode, *, names: set[str], allowed: set[str]) -> list[str]:
    """English in what an executed translated notebook printed as text and in its charts' titles.

    Read: every printed line that carries Chinese (a label the notebook prints; a line without
    any is a table of data, shown in the data's own values) and every chart's title, axis
    titles, legend title and annotations. ``names`` (:func:`code_names`) may appear as they are.
    Errors are Python's (the stubs' ``NotImplementedError``, the ``NameError`` of unanswered
    tests) and are not read.
    """
    problems = []
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            texts: list[str] = []
            if output.get("output_type") == "stream" and output.get("name") == "stdout":
                texts = [line for line in str(output.get("text", "")).splitlines() if _CJK.search(line)]
            elif PLOTLY_MIME in output.get("data", {}):
                texts = chart_texts(output["data"][PLOTLY_MIME])
            for text in texts:
                words = found(text, identifiers=names, allowed=allowed | names)
                if words:
                    problems.append(f"cell {cell.id} (output): {sorted(set(words))[:8]}: {text[:80]!r}")
    return problems
