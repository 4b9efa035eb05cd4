"""The translated notebook, generated from the English one and its catalogue.

Every cell of the English source notebook is copied with its id and nbgrader metadata (grade
id, points, locked, solution), so the translated assignment has the same cells, grade ids,
points, solutions and hidden tests. Only text changes:

- a markdown cell becomes its catalogue translation;
- in a code cell, each string or comment unit (:mod:`course.i18n.units`) is replaced by its
  translation: a string keeps its prefix and quotes, an f-string exactly its placeholders, and
  a string written as several implicitly concatenated pieces over several lines keeps that
  layout (the translation is cut between the same lines);
- the ``setup("<case>")`` call gets ``language="<language>"`` (the data seed still comes from
  the English id, so a student gets the same numbers in either language).

The result is checked before it is returned: each code cell must parse, and its syntax tree
with every string's text set aside (placeholders kept) must be the English cell's, apart from
that one keyword. A translation that would change code is an error naming its entry.
Missing or out-of-date translations are not errors here (the English, or the old translation,
stands in and :class:`Report` lists them); ``tests/test_translation.py`` fails on them.
"""

from __future__ import annotations

import ast
import copy
import re
from collections import Counter
from dataclasses import dataclass, field

from nbformat import NotebookNode

from course import cells as cellmod
from course import ipynb
from course.errors import CourseError
from course.i18n import units as unitmod
from course.i18n.catalogue import Catalogue, Entry
from course.i18n.units import Piece, Unit

_PLACEHOLDERS = re.compile(r"(?<!\{)\{(?!\{)[^{}]*(?:\{[^{}]*\}[^{}]*)*\}")
LANGUAGE_KEYWORD = "language"


def placeholders(text: str) -> Counter:
    """The ``{placeholders}`` of a string's text, as a multiset (``{{``/``}}`` are not ones).

    >>> sorted(placeholders("{a:.1f} of {b!r} {{literal}}").elements())
    ['{a:.1f}', '{b!r}']
    """
    return Counter(_PLACEHOLDERS.findall(text.replace("{{", "\0\0").replace("}}", "\0\0")))


@dataclass
class Report:
    """What a generated notebook still lacks: units shown in English, translations made from an
    older English text (fuzzy, or a markdown cell whose hash is not the current one)."""

    notebook: str
    missing: list[Unit] = field(default_factory=list)
    stale: list[tuple[Unit, Entry]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing and not self.stale

    def lines(self) -> list[str]:
        out = [f"{self.notebook}: not translated: {u.kind} in cell {u.cell}: {u.en[:70]!r}" for u in self.missing]
        out += [f"{self.notebook}: out of date{' (fuzzy)' if e.fuzzy else ''}: {u.kind} in cell {u.cell}: "
                f"{u.en[:70]!r}" for u, e in self.stale]
        return out


# ---- strings -----------------------------------------------------------------------------------

_ATOM = re.compile(r"\{\{|\}\}|\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}|\\.|.", re.S)


def _chunks(text: str, parts: int) -> list[str]:
    """``text`` cut into at most ``parts`` pieces of similar length, never inside a placeholder
    or an escape, preferably after punctuation or a space."""
    atoms = _ATOM.findall(text)
    if parts <= 1 or len(atoms) < 2:
        return [text]
    parts = min(parts, len(atoms))
    total = sum(len(a) for a in atoms)
    out: list[str] = []
    current: list[str] = []
    done = 0
    for index, atom in enumerate(atoms):
        current.append(atom)
        done += len(atom)
        remaining_parts = parts - len(out) - 1
        if remaining_parts <= 0:
            continue
        target = total * (len(out) + 1) / parts
        soft = atom in "，。；：、,.;: ）)" and done >= target * 0.8
        if (done >= target or soft) and len(atoms) - index - 1 >= remaining_parts:
            out.append("".join(current))
            current = []
    out.append("".join(current))
    return [c for c in out if c]


def _literal(prefix: str, quote: str, body: str, is_f: bool) -> str:
    has_placeholder = bool(placeholders(body))
    letters = prefix.replace("f", "").replace("F", "")
    if is_f and has_placeholder:
        return f"{letters}f{quote}{body}{quote}"
    if is_f:  # no placeholder left in this piece: a plain literal, braces unescaped
        body = body.replace("{{", "{").replace("}}", "}")
    return f"{letters}{quote}{body}{quote}"


def render_string(unit: Unit, translation: str, source: str) -> str:
    """The source text that replaces ``unit``'s pieces: same prefix, quotes and line layout."""
    pieces: tuple[Piece, ...] = unit.pieces
    if len(pieces) == 1:
        p = pieces[0]
        return _literal(p.prefix, p.quote, translation, unit.is_f)
    chunks = _chunks(translation, len(pieces))
    separators = [source[a.end:b.start] for a, b in zip(pieces, pieces[1:], strict=False)]
    out = []
    for i, chunk in enumerate(chunks):
        p = pieces[i]
        out.append(_literal(p.prefix, p.quote, chunk, unit.is_f))
        if i < len(chunks) - 1:
            out.append(separators[i])
    return "".join(out)


# ---- code signature ------------------------------------------------------------------------------


def _setup_calls(tree: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and unitmod._callee(n.func) == "setup"
            and n.args and isinstance(n.args[0], ast.Constant) and isinstance(n.args[0].value, str)]


def signature(source: str) -> str:
    """A code cell's syntax tree with the text of every string set aside: f-string placeholders
    are kept (as a sorted multiset: a translation may reorder them) and a ``language=`` keyword
    of the setup call is dropped. Same signature = same code."""
    tree = ast.parse(source)

    class Normalise(ast.NodeTransformer):
        def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
            values = sorted((v for v in node.values if isinstance(v, ast.FormattedValue)), key=ast.dump)
            if not values:  # f"text" without a placeholder is a plain string
                return ast.copy_location(ast.Constant(value=""), node)
            return ast.copy_location(ast.JoinedStr(values=[self.visit(v) for v in values]), node)

        def visit_Constant(self, node: ast.Constant) -> ast.AST:
            if isinstance(node.value, str):
                return ast.copy_location(ast.Constant(value=""), node)
            return node

    for call in _setup_calls(tree):
        call.keywords = [k for k in call.keywords if k.arg != LANGUAGE_KEYWORD]
    return ast.dump(Normalise().visit(tree), include_attributes=False)


# ---- the notebook --------------------------------------------------------------------------------


def _offset(source: str, line: int, byte_col: int) -> int:
    lines = source.split("\n")
    return sum(len(x) + 1 for x in lines[: line - 1]) + len(lines[line - 1].encode("utf-8")[:byte_col].decode("utf-8"))


def _language_edit(source: str, language: str) -> list[tuple[int, int, str]]:
    """Insert ``language="<language>"`` into every ``setup("<case>")`` call of a cell."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    edits = []
    for call in _setup_calls(tree):
        if any(k.arg == LANGUAGE_KEYWORD for k in call.keywords):
            continue
        assert call.end_lineno is not None and call.end_col_offset is not None
        end = _offset(source, call.end_lineno, call.end_col_offset) - 1  # the closing parenthesis
        edits.append((end, end, f', {LANGUAGE_KEYWORD}="{language}"'))
    return edits


def _lookup(unit: Unit, catalogue: Catalogue, shared: Catalogue) -> Entry | None:
    if unit.kind == "markdown":
        return catalogue.find("markdown", cell=unit.cell)
    return catalogue.find(unit.kind, key=unit.key) or shared.find(unit.kind, key=unit.key)


def check_entry(unit: Unit, entry: Entry, where: str) -> None:
    """A string's translation keeps its placeholders; no translation adds a solution or
    hidden-test marker."""
    if unit.kind == "string" and placeholders(entry.zh) != placeholders(unit.en):
        raise CourseError(f"{where}: the translation of {unit.en[:60]!r} must keep exactly the placeholders "
                          f"{sorted(placeholders(unit.en))} (it has {sorted(placeholders(entry.zh))})")
    if any(m in entry.zh for m in cellmod.DEFAULT_MARKERS.all()):
        raise CourseError(f"{where}: the translation of {unit.en[:60]!r} contains an nbgrader marker")
    if unit.kind == "comment" and "\n" in entry.zh:
        raise CourseError(f"{where}: the translation of the comment {unit.en[:60]!r} must be one line")


def translate(english: NotebookNode, catalogue: Catalogue, shared: Catalogue, *, language: str,
              allowed: set[str], name: str = "", markers: cellmod.Markers = cellmod.DEFAULT_MARKERS,
              ) -> tuple[NotebookNode, Report]:
    """The translated notebook of ``english``; raise :class:`CourseError` where a translation
    would change code."""
    where = str(catalogue.path or name)
    report = Report(name)
    nb = copy.deepcopy(english)
    idents = unitmod.notebook_identifiers(english)
    for cell in nb.cells:
        if not unitmod.is_translated_cell(cell, markers):
            continue
        if cell.cell_type == "markdown":
            if not cell.source.strip():
                continue
            unit = Unit("markdown", cell.id, cell.source, (0, len(cell.source)), visible=True)
            entry = _lookup(unit, catalogue, shared)
            if entry is None or not entry.translated:
                report.missing.append(unit)
                continue
            check_entry(unit, entry, where)
            if entry.fuzzy or entry.hash != unit.key:
                report.stale.append((unit, entry))
            cell.source = entry.zh.rstrip("\n") if not unit.en.endswith("\n") else entry.zh
            continue
        if cell.cell_type != "code":
            continue
        source = cell.source
        edits: list[tuple[int, int, str]] = _language_edit(source, language)
        for unit in unitmod.code_units(source, identifiers=idents, allowed=allowed, cell=cell.id, markers=markers):
            entry = _lookup(unit, catalogue, shared)
            if entry is None or not entry.translated:
                report.missing.append(unit)
                continue
            check_entry(unit, entry, where)
            if entry.fuzzy:
                report.stale.append((unit, entry))
            text = entry.zh if unit.kind == "comment" else render_string(unit, entry.zh, source)
            edits.append((unit.span[0], unit.span[1], text))
        for start, end, text in sorted(edits, reverse=True):
            source = source[:start] + text + source[end:]
        try:
            same = signature(source) == signature(cell.source)
        except SyntaxError as exc:
            raise CourseError(f"{where}: the translated cell {cell.id} is not valid Python ({exc})") from exc
        if not same:
            raise CourseError(f"{where}: the translation changes the code of cell {cell.id} "
                              f"({cellmod.label(cell)}); only text may change")
        cell.source = source
    return ipynb.clean(nb), report
