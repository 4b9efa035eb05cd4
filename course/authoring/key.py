"""``course key``: any student's own data and answer key, reproduced by the instructor.

The source notebook (the instructor's solution) is executed with ``COURSE_STUDENT_ID`` set to the
student, so every loader produces that student's variant; the values of the names assigned in
answer cells are then read back in the grader's one value format
(:mod:`course.sandboxed.values`: data only, the same format that carries a student's answers to
the tests). Nothing here runs student code.
"""

from __future__ import annotations

import ast
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat import NotebookNode

from course import cells, i18n, ipynb, variants
from course.errors import CourseError
from course.layout import Course, notebooks
from course.sandboxed import values


def assigned_names(source: str) -> list[str]:
    """Names a cell assigns at module level, in order; ``_private`` helpers are not answers.

    Assignments inside ``with``/``if``/``for``/``try`` blocks count (they run at top level);
    assignments inside functions and classes do not.

    >>> assigned_names("import numpy as np\\nx = 1\\na, b = 2, 3\\ndef f(): y = 4\\nx += 1\\n_tmp = 5")
    ['x', 'a', 'b']
    >>> assigned_names("with open('f') as fh:\\n    fit = 1")
    ['fit']
    """
    lines = [ln for ln in source.splitlines() if not ln.strip().startswith("###")]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return []
    names: list[str] = []

    def add(target: ast.expr) -> None:
        if isinstance(target, ast.Name):
            if not target.id.startswith("_") and target.id not in names:
                names.append(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                add(elt)

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    add(target)
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
                add(node.target)
            elif isinstance(node, (ast.With, ast.If, ast.For, ast.While)):
                visit(node.body)
                visit(getattr(node, "orelse", []))
            elif isinstance(node, ast.Try):
                visit(node.body)
                visit(node.orelse)
                visit(node.finalbody)

    visit(tree.body)
    return names


def answer_names(nb: NotebookNode) -> dict[str, list[str]]:
    """For each autograded answer cell (grade id), the names it assigns."""
    return {cells.grade_id(cell) or "": assigned_names(cell.source)
            for cell in nb.cells if cells.is_autograded_answer(cell)}


@dataclass
class Key:
    assignment: str
    student: str | None
    seed: int | None
    values: dict[str, object]
    executed: NotebookNode


_DUMP = """
import json as _json
from course.sandboxed import values as _values
with open({path!r}, "w", encoding="utf-8") as _fh:
    _json.dump(_values.encode_names(globals(), {names!r}), _fh)
"""


def compute_key(course: Course, assignment: str, student: str | None, *, timeout: int = 120) -> Key:
    """Run the solution notebook on ``student``'s data; return the answers it computes."""
    paths = notebooks(course.source(assignment))
    if not paths:
        raise CourseError(f"{course.source(assignment)} has no notebook")
    path = paths[0]
    nb = ipynb.read(path)
    names = [n for group in answer_names(nb).values() for n in group]
    env = dict(os.environ)
    env.pop(variants.HUB_ENV, None)
    if student is None:
        env.pop(variants.STUDENT_ENV, None)
    else:
        env[variants.STUDENT_ENV] = student
        env[variants.SWITCH_ENV] = "on"
    with tempfile.TemporaryDirectory() as tmp:
        dump_path = str(Path(tmp) / "key.json")
        nb.cells.append(nbformat.v4.new_code_cell(_DUMP.format(names=names, path=dump_path)))
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                                resources={"metadata": {"path": str(path.parent)}})
        client.execute(env=env)
        errors = [(cells.label(c), o.get("ename"), o.get("evalue"))
                  for c in nb.cells if c.cell_type == "code"
                  for o in c.outputs if o.get("output_type") == "error"]
        if errors:
            raise CourseError(f"the solution notebook failed for student {student!r}: {errors[:3]}")
        with open(dump_path, encoding="utf-8") as fh:
            snapshot = json.load(fh)
    nb.cells.pop()
    found, skipped = values.decode_names(snapshot, set(names))
    if skipped:
        raise CourseError(f"answers that are not plain data in the solution of {assignment}: {skipped}")
    seed = variants.seed_for(i18n.base_of(assignment), student)  # a translation uses its English case's data
    return Key(assignment, student, seed, {n: found[n] for n in names if n in found}, nb)


def copied_cell(names: list[str], answers: dict[str, object]) -> str:
    """An answer cell that types in another run's answers (a copied answer), in the value format."""
    lines = ["import json as _json", "from course.sandboxed.values import decode as _decode"]
    for name in names:
        if name in answers:
            text = json.dumps(values.encode(answers[name]), allow_nan=False, separators=(",", ":"))
            lines.append(f"{name} = _decode(_json.loads({text!r}))")
    return "\n".join(lines)
