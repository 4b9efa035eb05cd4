"""What to run for one submitted notebook, decided from trusted data only.

The gradebook holds the instructor's version of every locked and test cell (test cells *with*
their hidden tests, as ``nbgrader generate_assignment`` stored them). From it and a submitted
notebook this module builds

- the *restored* notebook (what nbgrader's ClearOutput, DeduplicateIds, OverwriteKernelspec and
  OverwriteCells produce, with deleted locked and test cells added back and every graded cell's
  nbgrader metadata rebuilt from the gradebook, so a student cannot turn a test into something
  else);
- the phase-1 job: every code cell in order; test cells in their release form (hidden tests
  removed); before each locked or test cell, the names it reads, to export as data;
- the phase-2 program: the locked and test cells in order, each with the names the evaluator
  may take from the student's values (never a builtin, never a name a trusted cell defines).
"""

from __future__ import annotations

import ast
import builtins
import copy
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader import utils as nbutils
from nbgrader.api import Gradebook, MissingEntry

from course import notebooks as nbio

MISSING_NOTICE = "This cell (id:{cell_id}) was missing from the submission. It was added back by nbgrader.\n\n"
BEGIN_HIDDEN = "BEGIN HIDDEN TESTS"
END_HIDDEN = "END HIDDEN TESTS"
#: Names the evaluator never takes from a student: IPython's own variables and dunders.
RESERVED = re.compile(r"^(_|__|___|_i|_ii|_iii|_i\d+|_\d+|_oh|_dh|_ih|In|Out|get_ipython|exit|quit|__.*__)$")


@dataclass(frozen=True)
class TrustedCell:
    name: str
    cell_type: str
    locked: bool
    source: str
    checksum: str | None
    grade: bool
    solution: bool
    task: bool
    points: float | None


@dataclass
class NotebookSpec:
    """The instructor's version of one notebook of an assignment, from the gradebook."""

    name: str
    kernelspec: dict | None
    cells: dict[str, TrustedCell]
    order: list[str]  # grade ids in release order

    @property
    def max_auto(self) -> float:
        return sum(c.points or 0 for c in self.cells.values() if c.grade and not c.solution and c.cell_type == "code")


def load_specs(db_url: str, assignment: str, order_from: Path | None = None) -> dict[str, NotebookSpec]:
    """Every notebook of ``assignment`` in the gradebook (``MissingEntry`` if it is not there)."""
    specs: dict[str, NotebookSpec] = {}
    with Gradebook(db_url) as gb:
        record = gb.find_assignment(assignment)
        for nb in record.notebooks:
            grades = {c.name: c for c in nb.grade_cells}
            solutions = {c.name for c in nb.solution_cells}
            tasks = {c.name: c for c in nb.task_cells}
            cells: dict[str, TrustedCell] = {}
            for src in nb.source_cells:
                graded = grades.get(src.name) or tasks.get(src.name)
                cells[src.name] = TrustedCell(
                    name=src.name, cell_type=src.cell_type, locked=bool(src.locked), source=src.source or "",
                    checksum=src.checksum, grade=src.name in grades, solution=src.name in solutions,
                    task=src.name in tasks, points=float(graded.max_score) if graded is not None else None)
            kernelspec = nbformat.from_dict(__import__("json").loads(nb.kernelspec)) if nb.kernelspec else None
            order = list(cells)
            if order_from is not None:
                order = _release_order(order_from / f"{nb.name}.ipynb", cells) or order
            specs[nb.name] = NotebookSpec(nb.name, kernelspec, cells, order)
    return specs


def _release_order(path: Path, cells: dict[str, TrustedCell]) -> list[str]:
    if not path.is_file():
        return []
    try:
        nb = nbio.read(path)
    except ValueError:
        return []
    ids = [nbio.grade_id(c) for c in nb.cells if nbio.grade_id(c) in cells]
    return ids + [name for name in cells if name not in ids]


# --------------------------------------------------------------------------------------------
# restoring the notebook structure
# --------------------------------------------------------------------------------------------


def _metadata(cell: TrustedCell) -> dict:
    meta = {"grade": cell.grade, "grade_id": cell.name, "locked": cell.locked, "schema_version": 3,
            "solution": cell.solution, "task": cell.task}
    if cell.points is not None:
        meta["points"] = cell.points
    if cell.checksum is not None:
        meta["checksum"] = cell.checksum
    return meta


def _as_type(cell: NotebookNode, cell_type: str) -> NotebookNode:
    if cell.cell_type == cell_type:
        return cell
    if cell_type == "code":
        return nbformat.v4.new_code_cell(cell.source, metadata=cell.metadata)
    return nbformat.v4.new_markdown_cell(cell.source, metadata=cell.metadata)


def _missing_cell(cell: TrustedCell) -> NotebookNode:
    notice = MISSING_NOTICE.format(cell_id=cell.name)
    if cell.cell_type == "code":
        new = nbformat.v4.new_code_cell("# " + notice + cell.source)
    else:
        new = nbformat.v4.new_markdown_cell(notice + cell.source)
    new.metadata = nbformat.from_dict({"deletable": False, "editable": not cell.locked, "nbgrader": _metadata(cell)})
    return new


def restore(submitted: NotebookNode, spec: NotebookSpec) -> tuple[NotebookNode, list[str]]:
    """The submitted notebook with the instructor's structure restored; and what was changed."""
    nb = copy.deepcopy(submitted)
    notes: list[str] = []
    if nb.get("nbformat", 4) != 4:
        nb = nbformat.convert(nb, 4)
    nb.metadata = nbformat.from_dict(dict(nb.get("metadata", {})))
    if spec.kernelspec:
        nb.metadata["kernelspec"] = spec.kernelspec
    seen: set[str] = set()
    kept: list[NotebookNode] = []
    for cell in reversed(nb.cells):  # like nbgrader's DeduplicateIds: the last copy wins
        cell.metadata = nbformat.from_dict(dict(cell.get("metadata", {})))
        gid = cell.metadata.get("nbgrader", {}).get("grade_id") if isinstance(cell.metadata.get("nbgrader"), dict) else None
        if "nbgrader" in cell.metadata and (gid not in spec.cells or gid in seen):
            if gid in seen:
                notes.append(f"duplicate of cell {gid!r} ignored")
            del cell.metadata["nbgrader"]
            gid = None
        if gid is not None:
            seen.add(gid)
            trusted = spec.cells[gid]
            cell = _as_type(cell, trusted.cell_type)
            cell.metadata["nbgrader"] = _metadata(trusted)
            if trusted.locked and cell.source != trusted.source:
                is_test = trusted.grade and not trusted.solution
                # a test cell arrives without its hidden tests: that alone is not an edit
                if not is_test or cell.source.strip() != strip_hidden(trusted.source).strip():
                    notes.append(f"{'test' if is_test else 'locked'} cell {gid!r} was edited (restored)")
                cell.source = trusted.source
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        kept.append(cell)
    nb.cells = list(reversed(kept))
    _add_missing(nb, spec, notes)
    return nb, notes


def _add_missing(nb: NotebookNode, spec: NotebookSpec, notes: list[str]) -> None:
    present = {nbio.grade_id(c) for c in nb.cells if nbio.grade_id(c)}
    for position, gid in enumerate(spec.order):
        trusted = spec.cells[gid]
        if gid in present or not (trusted.grade or trusted.locked or trusted.task):
            continue
        notes.append(f"{'test' if trusted.grade and not trusted.solution else 'locked'} cell {gid!r} was deleted (added back)")
        new = _missing_cell(trusted)
        if trusted.task and not trusted.grade:
            nb.cells.append(new)
        else:
            before = [g for g in spec.order[:position] if g in present]
            index = 0
            if before:
                index = 1 + max(i for i, c in enumerate(nb.cells) if nbio.grade_id(c) == before[-1])
            nb.cells.insert(index, new)
        present.add(gid)


# --------------------------------------------------------------------------------------------
# roles, names and jobs
# --------------------------------------------------------------------------------------------


def role(cell: NotebookNode) -> str | None:
    """``test``, ``locked`` or ``student`` for code cells of a restored notebook, else ``None``."""
    if cell.cell_type != "code":
        return None
    meta = nbio.nbgrader_meta(cell)
    if meta.get("grade") and not meta.get("solution"):
        return "test"
    if meta.get("locked") and not meta.get("solution"):
        return "locked"
    return "student"


def strip_hidden(source: str) -> str:
    """A test cell as the student sees it: hidden-test regions removed (nbgrader's rule)."""
    lines, hidden = [], False
    for line in source.splitlines(keepends=True):
        if BEGIN_HIDDEN in line:
            hidden = True
        elif END_HIDDEN in line:
            hidden = False
        elif not hidden:
            lines.append(line)
    return "".join(lines).rstrip("\n")


def _parse(source: str) -> ast.AST | None:
    try:
        return ast.parse(source)
    except SyntaxError:
        pass
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return ast.parse(TransformerManager().transform_cell(source))
    except Exception:
        return None


def loaded_names(source: str) -> set[str]:
    """Every name a cell reads anywhere (over-approximation is fine).

    >>> sorted(loaded_names("y = f(x) + [z for z in w]"))
    ['f', 'w', 'x', 'z']
    """
    tree = _parse(source)
    if tree is None:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def bound_names(source: str) -> set[str]:
    """Every name a cell (re)binds at top level or declares global.

    >>> sorted(bound_names("import numpy as np\\nfrom a import b\\nx, y = 1, 2\\ndef f(): pass"))
    ['b', 'f', 'np', 'x', 'y']
    """
    tree = _parse(source)
    if tree is None:
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Global):
            names.update(node.names)
    return names


BUILTINS = frozenset(dir(builtins))


@dataclass
class Plan:
    """Both phases' jobs for one restored notebook."""

    notebook: NotebookNode
    student_cells: list[dict] = field(default_factory=list)
    trusted_cells: list[dict] = field(default_factory=list)

    @property
    def test_indices(self) -> list[int]:
        return [c["i"] for c in self.trusted_cells if c["role"] == "test"]


def make_plan(nb: NotebookNode) -> Plan:
    plan = Plan(nb)
    bound_before: set[str] = set()
    for i, cell in enumerate(nb.cells):
        kind = role(cell)
        if kind is None:
            continue
        entry = {"i": i, "role": kind, "snap": None}
        if kind == "student":
            entry["source"] = cell.source
        else:
            own = bound_names(cell.source)
            # a name the cell reads and does not define itself is the student's answer; a name it
            # also (re)binds may be the answer converted in place (`x = float(x)`), unless it is a
            # private `_helper` of the hidden tests, which never comes from the student
            wanted = {n for n in loaded_names(cell.source) - bound_before - BUILTINS
                      if not RESERVED.match(n) and not (n in own and n.startswith("_"))}
            entry["snap"] = sorted(wanted)
            entry["source"] = strip_hidden(cell.source) if kind == "test" else cell.source
            plan.trusted_cells.append({"i": i, "role": kind, "source": cell.source, "inject": sorted(wanted),
                                       "report": sorted(wanted - own)})
            bound_before |= own
        plan.student_cells.append(entry)
    return plan


def grades(nb: NotebookNode) -> dict[str, tuple[float | None, float]]:
    """nbgrader's verdict for every graded cell of an executed notebook: id -> (score, max)."""
    out: dict[str, tuple[float | None, float]] = {}
    for cell in nb.cells:
        if nbutils.is_grade(cell):
            try:
                out[nbio.grade_id(cell)] = nbutils.determine_grade(cell)
            except ValueError:  # nbgrader: partial credit above the maximum is an error
                out[nbio.grade_id(cell)] = (0.0, float(cell.metadata.nbgrader["points"]))
    return out


__all__ = ["MissingEntry", "NotebookSpec", "Plan", "TrustedCell", "grades", "load_specs", "make_plan", "restore"]
