"""What runs where, for one restored notebook: the two phases' jobs.

- **Phase 1** (the student's sandbox): every code cell in order; test cells in their release
  form (hidden tests removed); before each locked or test cell, the names it reads, to export
  as data.
- **Phase 2** (the evaluator): the locked and test cells in order, each with the names it may
  take from the student's values: a name the cell reads that no earlier trusted cell defines
  (the student's answer), never a builtin or IPython's own variables. Names a trusted cell
  defines come from the trusted cells, never from the student (the restored order guarantees
  every trusted cell runs before the tests after it).
"""

from __future__ import annotations

import ast
import builtins
import functools
import re
import threading
from dataclasses import dataclass, field
from typing import Literal

from nbformat import NotebookNode
from nbgrader import utils as nbutils

from course import cells
from course.cells import Markers
from course.sandboxed.protocol import StudentCell, TrustedCell

#: Names the evaluator never takes from a student: IPython's own variables and dunders.
RESERVED = re.compile(r"^(_|__|___|_i|_ii|_iii|_i\d+|_\d+|_oh|_dh|_ih|In|Out|get_ipython|exit|quit|__.*__)$")
BUILTINS = frozenset(dir(builtins))


#: CPython 3.11 keeps the AST converter's recursion depth in one per-interpreter counter: two
#: threads parsing at once (a Dask worker grading two tasks) can fail with "SystemError: AST
#: constructor recursion depth mismatch" (python/cpython#106905). One parse at a time here.
_PARSING = threading.Lock()


def _parse(source: str) -> ast.AST | None:
    with _PARSING:
        try:
            return ast.parse(source)
        except SyntaxError:
            pass
        try:
            from IPython.core.inputtransformer2 import TransformerManager

            return ast.parse(TransformerManager().transform_cell(source))
        except Exception:
            return None


@functools.lru_cache(maxsize=4096)
def loaded_names(source: str) -> frozenset[str]:
    """Every name a cell reads anywhere (over-approximation is fine).

    >>> sorted(loaded_names("y = f(x) + [z for z in w]"))
    ['f', 'w', 'x', 'z']
    """
    tree = _parse(source)
    if tree is None:
        return frozenset()
    return frozenset(n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load))


@functools.lru_cache(maxsize=4096)
def bound_names(source: str) -> frozenset[str]:
    """Every name a cell (re)binds at top level or declares global.

    >>> sorted(bound_names("import numpy as np\\nfrom a import b\\nx, y = 1, 2\\ndef f(): pass"))
    ['b', 'f', 'np', 'x', 'y']
    """
    tree = _parse(source)
    if tree is None:
        return frozenset()
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
    return frozenset(names)


@dataclass
class Plan:
    """Both phases' jobs for one restored notebook."""

    notebook: NotebookNode
    student_cells: list[StudentCell] = field(default_factory=list)
    trusted_cells: list[TrustedCell] = field(default_factory=list)

    @property
    def test_indices(self) -> list[int]:
        return [c["i"] for c in self.trusted_cells if c["role"] == "test"]


def make_plan(nb: NotebookNode, markers: Markers = cells.DEFAULT_MARKERS) -> Plan:
    plan = Plan(nb)
    bound_before: set[str] = set()
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        kind = cells.role(cell)
        if kind not in ("test", "locked"):
            plan.student_cells.append({"i": i, "role": "student", "source": cell.source, "snap": None})
            continue
        own = bound_names(cell.source)
        # a name the cell reads and does not define itself is the student's answer; a name it
        # also (re)binds may be the answer converted in place (`x = float(x)`), unless it is a
        # private `_helper` of the hidden tests, which never comes from the student
        wanted = {n for n in loaded_names(cell.source) - bound_before - BUILTINS
                  if not RESERVED.match(n) and not (n in own and n.startswith("_"))}
        role: Literal["test", "locked"] = "test" if kind == "test" else "locked"
        shown = cells.strip_hidden(cell.source, markers) if role == "test" else cell.source
        plan.student_cells.append({"i": i, "role": role, "source": shown, "snap": sorted(wanted)})
        plan.trusted_cells.append({"i": i, "role": role, "source": cell.source, "inject": sorted(wanted),
                                   "report": sorted(wanted - own)})
        bound_before |= own
    return plan


def grades(nb: NotebookNode) -> dict[str, tuple[float | None, float]]:
    """nbgrader's verdict for every graded cell of an executed notebook: id -> (score, max)."""
    out: dict[str, tuple[float | None, float]] = {}
    for cell in nb.cells:
        if nbutils.is_grade(cell):
            gid = cells.grade_id(cell) or ""
            try:
                out[gid] = nbutils.determine_grade(cell)
            except ValueError:  # nbgrader: partial credit above the maximum is an error
                out[gid] = (0.0, float(cell.metadata.nbgrader["points"]))
    return out
