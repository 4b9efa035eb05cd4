"""What a translator translates in an English case notebook: its *units*, and where they are.

A unit is a piece of English a student reads:

========== ==================================================================================
kind       what
========== ==================================================================================
markdown   a whole markdown cell: narrative, questions, chart descriptions, the written
           question and its model answer (keyed by the cell's id)
string     a string literal in a code cell (implicitly concatenated pieces count as one),
           when it is *student text* (below); keyed by its text
comment    a comment in a code cell, outside solution and hidden-test regions
========== ==================================================================================

A string literal is **student text** when it stands in a *visible position* (the cell's
docstring; an argument of ``print``/``display``/``CheckFailed``/``raise``; the value of a
keyword in :data:`VISIBLE_KWARGS` such as ``title=``, ``x_title=``, ``name=``, ``hint=``), or
when it reads as prose or as a label anywhere else (two Latin words in a row, :data:`PROSE`; a
capitalised word such as ``"Contestants"``, :data:`LABEL`) — except as the
value of an option keyword (:data:`CODE_KWARGS`: ``mode="lines+markers"``), a subscript
(``df["units"]``) or inside solution regions (the student never sees a solution). Student text
is a unit when it holds an *English word* (:func:`english_words`): a word of two or more Latin
letters that is not an identifier of the notebook's code and not on the allowed list
(``course/i18n/<language>/allowed.toml``: units, abbreviations, proper names, software).

The text of a string unit is its source between the quotes (escapes as typed); in an f-string
the ``{placeholders}`` stay as typed, and a translation must keep exactly the same ones.

>>> src = 'print(f"Mean: {x:.1f} units")  # show it\\ndf["units"].sum()'
>>> [(u.kind, u.en) for u in code_units(src, identifiers=set(), allowed=set())]
[('string', 'Mean: {x:.1f} units'), ('comment', 'show it')]
"""

from __future__ import annotations

import ast
import hashlib
import io
import re
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from nbformat import NotebookNode

from course import cells as cellmod

Kind = Literal["markdown", "string", "comment"]

#: Calls whose arguments a student reads (by the called name, or its last attribute).
VISIBLE_CALLS = frozenset({"print", "display", "Markdown", "HTML", "CheckFailed"})
#: Keywords whose value a student reads (plotly titles, trace and axis labels, check hints).
VISIBLE_KWARGS = frozenset({
    "title", "x_title", "y_title", "name", "text", "hint", "annotation_text", "hovertemplate",
    "texttemplate", "xaxis_title", "yaxis_title", "legend_title", "legend_title_text", "ticktext",
    "labels", "caption", "message", "label", "legendgrouptitle_text", "colorbar_title",
})
#: Keywords whose value is an option of the called function, never text (plotly and pandas).
CODE_KWARGS = frozenset({
    "mode", "dash", "color", "how", "annotation_position", "textposition", "xanchor", "yanchor",
    "barmode", "orientation", "hovermode", "line_shape", "on", "left_on", "right_on", "by",
    "columns", "index", "values", "aggfunc", "kind", "method", "errors", "side", "fill",
    "marker_symbol", "symbol", "histnorm", "boxmean", "tickformat", "hoverinfo", "type",
    "ticksuffix", "tickprefix", "anchor", "overlaying", "rangemode", "dtype", "format",
    "line_dash", "line_color", "fillcolor", "marker_color", "layer", "xref", "yref", "sort",
    "validate", "indicator", "suffixes", "orient", "freq", "closed", "inclusive", "unit", "textinfo",
    "boxpoints", "points", "marker_line_color", "hoverlabel_align", "barnorm", "groupnorm",
})
#: Prose: two Latin words in a row.
PROSE = re.compile(r"[A-Za-z]{2,}[,.;:!?']?\s+[A-Za-z]{2,}")
#: A label: a capitalised word, not CamelCase, alone or joined by `` + ``, ``-``, ``&``, ``/``
#: (``"Contestants"``, ``"Car + follow-up"``, ``"East"``); it reads as text wherever it stands.
LABEL = re.compile(r"[A-Z][a-z]+(?:\s*[-+&/ ]\s*[A-Za-z][a-z]*)*")
#: A word: a run of Latin letters, digits and ``_`` (inner hyphens or apostrophes allowed:
#: Wal-Mart, Pan's) with at least two letters (``K01``, ``n2`` and ``x`` are not words).
WORD = re.compile(r"[A-Za-z0-9_]*[A-Za-z][A-Za-z0-9_]*(?:[-'’][A-Za-z0-9_]+)*")
#: What does not count as a word in a string: placeholders and %-/strftime codes.
_PLACEHOLDER = re.compile(r"\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}|%[-+ #0]*\d*(?:\.\d+)?[a-zA-Z%]")
_DIRECTIVE = re.compile(r"^(noqa(?::\s*[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)?|type:\s*ignore(?:\[[^\]]*\])?|"
                        r"fmt:\s*(?:on|off|skip)|pragma:[^()]*)\s*", re.I)


def digest(text: str) -> str:
    """The key of an English text: the first 12 hex digits of its SHA-256.

    >>> digest("Week")
    'e78041ab51a8'
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class Piece:
    """One string token: ``prefix`` (``f``, ``r``, ...), ``quote`` and ``body`` (as typed)."""

    prefix: str
    quote: str
    body: str
    start: int  # offset of the token in the cell's source
    end: int

    @property
    def is_f(self) -> bool:
        return "f" in self.prefix.lower()


@dataclass(frozen=True)
class Unit:
    kind: Kind
    cell: str  # the English cell's id
    en: str
    #: where it is in the cell's source: (start, end) offsets of the replaced text
    span: tuple[int, int] = (0, 0)
    pieces: tuple[Piece, ...] = field(default=(), compare=False)
    visible: bool = False

    @property
    def key(self) -> str:
        return digest(self.en)

    @property
    def is_f(self) -> bool:
        return any(p.is_f for p in self.pieces)


# ---- words ---------------------------------------------------------------------------------

#: Code inside running text: `spans`, calls ``sqrt(``, attributes ``.mean``, dotted names.
_CODE_IN_TEXT = re.compile(r"`[^`\n]*`|</?[A-Za-z][^<>]*>|\b[A-Za-z_][A-Za-z0-9_]*=(?!=)|"
                           r"\b[A-Za-z_][A-Za-z0-9_]*\[[^\]\n]*\]|'[A-Za-z_][A-Za-z0-9_]*'|\"[A-Za-z_][A-Za-z0-9_]*\"|\b[A-Za-z_][A-Za-z0-9_]*(?=\()|\.[A-Za-z_][A-Za-z0-9_]*|"
                           r"\b[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


def words(text: str) -> list[str]:
    """The Latin words of running text: placeholders, format codes and code (`spans`, calls,
    attributes) removed.

    >>> words("Week {t:.0f}, 95% (%Y) Wal-Mart's `units` .mean() sqrt(L)")
    ['Week', "Wal-Mart's"]
    """
    return [w for w in WORD.findall(_CODE_IN_TEXT.sub(" ", _PLACEHOLDER.sub(" ", text))) if _letters(w) >= 2]


def _letters(word: str) -> int:
    return sum(ch.isascii() and ch.isalpha() for ch in word)


def _name_forms(word: str) -> set[str]:
    base = re.sub(r"['’]s$", "", word)
    return {word, base}


def code_like(word: str, identifiers: set[str]) -> bool:
    """A word that reads as code: with ``_`` or a digit, or one of :func:`identifiers` (a name
    of the code written with a capital). A lowercase name of the code (``demand``, ``units``)
    is English in running text: there it goes in `backticks`."""
    return "_" in word or any(ch.isdigit() for ch in word) or word in identifiers


def english_words(text: str, identifiers: set[str], allowed: set[str]) -> list[str]:
    """Words of ``text`` that are neither code nor allowed (``Pan's`` counts as ``Pan``).

    >>> english_words("按门店 store 汇总 `units`, 见 Eppen's 公式, SEED 与 demand", {"SEED"}, {"Eppen"})
    ['store', 'demand']
    """
    for phrase in (a for a in allowed if " " in a):  # an allowed phrase ("Marketing Science") as a whole
        text = text.replace(phrase, " ")
    found = []
    for word in words(text):
        forms = _name_forms(word)
        if forms & allowed or any(code_like(f, identifiers) for f in forms):
            continue
        found.append(word)
    return found


# ---- markdown ------------------------------------------------------------------------------

_MD_CODE = re.compile(r"```.*?```|~~~.*?~~~|`[^`\n]*`", re.S)
_MD_MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$", re.S)
_MD_URL = re.compile(r"(?<=\])\([^)]*\)|<[^>]+>|https?://\S+")


def markdown_prose(text: str) -> str:
    """A markdown cell's text without code spans, code blocks, math, link targets and tags.

    >>> markdown_prose("用 `df.sum()` 求和, $\\\\sigma$ 见 [文档](https://x.org)")
    '用   求和,   见 [文档] '
    """
    for pattern in (_MD_CODE, _MD_MATH, _MD_URL):
        text = pattern.sub(" ", text)
    return text


# ---- code cells ------------------------------------------------------------------------------


def _regions(source: str, markers: cellmod.Markers) -> tuple[set[int], set[int]]:
    """1-based line numbers inside solution regions and inside hidden-test regions."""
    solution: set[int] = set()
    hidden: set[int] = set()
    state: str | None = None
    for number, line in enumerate(source.split("\n"), start=1):
        if markers.begin_solution in line:
            state = "solution"
        elif markers.begin_hidden in line:
            state = "hidden"
        elif markers.end_solution in line or markers.end_hidden in line:
            state = None
        elif state == "solution":
            solution.add(number)
        elif state == "hidden":
            hidden.add(number)
    return solution, hidden


def _callee(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _positions(tree: ast.AST) -> dict[tuple[int, int], str]:
    """(line, byte column) of every string node -> ``visible``, ``code`` or ``other``."""
    found: dict[tuple[int, int], str] = {}

    def walk(node: ast.AST, context: str) -> None:
        if isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            found.setdefault((node.lineno, node.col_offset), context)
            return  # what is inside an f-string's placeholders is part of its text
        if isinstance(node, ast.Call):
            inner = "visible" if _callee(node.func) in VISIBLE_CALLS else context
            walk(node.func, "code")
            for arg in node.args:
                walk(arg, inner)
            for kw in node.keywords:
                if kw.arg in VISIBLE_KWARGS:
                    walk(kw.value, "visible")
                elif kw.arg in CODE_KWARGS:
                    walk(kw.value, "code")
                else:
                    walk(kw.value, inner)
            return
        if isinstance(node, ast.Raise):
            for child in ast.iter_child_nodes(node):
                walk(child, "visible")
            return
        if isinstance(node, ast.Subscript):
            walk(node.value, context)
            walk(node.slice, "code")
            return
        if isinstance(node, ast.Compare):
            for child in ast.iter_child_nodes(node):
                walk(child, "code")
            return
        for child in ast.iter_child_nodes(node):
            walk(child, context)

    body = getattr(tree, "body", [])
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        found[(body[0].value.lineno, body[0].value.col_offset)] = "visible"  # the cell's docstring
    walk(tree, "other")
    return found


_STRING_START = re.compile(r"^([A-Za-z]*)('''|\"\"\"|'|\")", re.S)


def _piece(token: tokenize.TokenInfo, start: int, end: int) -> Piece:
    match = _STRING_START.match(token.string)
    assert match, token.string
    prefix, quote = match.group(1), match.group(2)
    return Piece(prefix, quote, token.string[len(prefix) + len(quote):len(token.string) - len(quote)], start, end)


def _group_text(pieces: list[Piece]) -> str:
    """The text of implicitly concatenated pieces, in f-string form when any piece is one."""
    if any(p.is_f for p in pieces):
        return "".join(p.body if p.is_f else p.body.replace("{", "{{").replace("}", "}}") for p in pieces)
    return "".join(p.body for p in pieces)


def identifiers(sources: Iterable[str]) -> set[str]:
    """Names running text may show bare (not in backticks): the names of the notebook's code
    written with a capital (``SEED``, ``DataFrame``, ``OverTime``, a code literal such as
    ``"OTC"``). A lowercase name (``demand``, ``units``, ``mean``) reads as English in running
    text, so there it goes in backticks; names with ``_`` or digits are code anywhere
    (:func:`code_like`)."""
    found: set[str] = set()
    for source in sources:
        try:
            tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
        except (tokenize.TokenError, IndentationError, SyntaxError):
            continue
        found |= {t.string for t in tokens if t.type == tokenize.NAME and not t.string.islower()}
        for unit in _scan(source, cellmod.DEFAULT_MARKERS, cell="", idents=None, allowed=None):
            found |= {w for w in WORD.findall(unit.en) if not w.islower()}
    return found


def _scan(source: str, markers: cellmod.Markers, *, cell: str, idents: set[str] | None,
          allowed: set[str] | None) -> list[Unit]:
    """Units of a code cell; with ``idents=None``, instead the *code* literals (for :func:`identifiers`)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return []
    try:
        positions = _positions(ast.parse(source))
    except SyntaxError:
        positions = {}
    lines = source.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)

    def offset(row: int, col: int) -> int:
        return starts[row - 1] + col

    solution, hidden = _regions(source, markers)
    units: list[Unit] = []
    code_literals: list[Unit] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        row = tok.start[0]
        if tok.type == tokenize.COMMENT:
            i += 1
            if row in solution or row in hidden or any(m in tok.string for m in markers.all()):
                continue
            body = tok.string.lstrip("#").lstrip()
            directive = _DIRECTIVE.match(body)
            if directive:
                body = body[directive.end():]
            if not body.strip():
                continue
            end = offset(*tok.end)
            if idents is not None and allowed is not None and english_words(body, idents, allowed):
                units.append(Unit("comment", cell, body, (end - len(body), end), visible=True))
            continue
        if tok.type != tokenize.STRING:
            i += 1
            continue
        group = [tok]
        j = i + 1
        while j < len(tokens) and tokens[j].type in (tokenize.STRING, tokenize.NL):
            if tokens[j].type == tokenize.STRING:
                group.append(tokens[j])
            j += 1
        i = j
        pieces = [_piece(t, offset(*t.start), offset(*t.end)) for t in group]
        text = _group_text(pieces)
        byte_col = len(lines[row - 1][: tok.start[1]].encode("utf-8"))
        context = positions.get((row, byte_col), "other")
        if row in solution:
            continue
        is_docstring = context == "visible" and not any(
            p.is_f for p in pieces) and pieces[0].quote in ('"""', "'''")
        if row in hidden and context != "visible" and pieces[0].quote in ('"""', "'''"):
            continue  # a helper's docstring inside hidden tests: no student ever sees it
        if row in hidden and is_docstring:
            continue
        unit = Unit("string", cell, text, (pieces[0].start, pieces[-1].end), tuple(pieces),
                    visible=context == "visible")
        plain = _PLACEHOLDER.sub(" ", text)
        student_text = context == "visible" or (context != "code" and (bool(PROSE.search(plain)) or
                                                                     bool(LABEL.fullmatch(plain.strip()))))
        if idents is None:
            if not student_text:
                code_literals.append(unit)
            continue
        assert allowed is not None
        if student_text and english_words(text, idents, allowed):
            units.append(unit)
    return code_literals if idents is None else units


def code_units(source: str, *, identifiers: set[str], allowed: set[str], cell: str = "",
               markers: cellmod.Markers = cellmod.DEFAULT_MARKERS) -> list[Unit]:
    """The string and comment units of one code cell's source, in order."""
    return _scan(source, markers, cell=cell, idents=identifiers, allowed=allowed)


def is_translated_cell(cell: NotebookNode, markers: cellmod.Markers = cellmod.DEFAULT_MARKERS) -> bool:
    """Whether a cell's text is translated at all: not an answer cell without solution markers
    (nbgrader replaces all of it by the stub in the release)."""
    if cell.cell_type == "code" and cellmod.is_autograded_answer(cell):
        return markers.begin_solution in cell.source
    return True


def notebook_identifiers(nb: NotebookNode) -> set[str]:
    return identifiers(c.source for c in nb.cells if c.cell_type == "code")


def notebook_units(nb: NotebookNode, allowed: set[str],
                   markers: cellmod.Markers = cellmod.DEFAULT_MARKERS) -> list[Unit]:
    """Every unit of an English notebook, in notebook order."""
    idents = notebook_identifiers(nb)
    found: list[Unit] = []
    for cell in nb.cells:
        if not is_translated_cell(cell, markers):
            continue
        if cell.cell_type == "markdown":
            if cell.source.strip():
                found.append(Unit("markdown", cell.id, cell.source, (0, len(cell.source)), visible=True))
        elif cell.cell_type == "code":
            found.extend(code_units(cell.source, identifiers=idents, allowed=allowed, cell=cell.id, markers=markers))
    return found
