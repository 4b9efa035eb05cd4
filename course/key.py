"""``course key``: any student's own data and answer key, reproduced by the instructor.

The source notebook (the instructor's solution) is executed with ``COURSE_STUDENT_ID`` set to the
student, so every loader produces that student's variant; the values of the names assigned in
answer cells are then read back. Nothing here runs student code.
"""

from __future__ import annotations

import ast
import os
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
from nbclient import NotebookClient
from nbformat import NotebookNode

from course import notebooks as nbio
from course import variants
from course.coursedir import CourseError, notebooks


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
    out = {}
    for cell in nb.cells:
        meta = nbio.nbgrader_meta(cell)
        if cell.cell_type == "code" and meta.get("solution") and not meta.get("grade"):
            out[nbio.grade_id(cell)] = assigned_names(cell.source)
    return out


@dataclass
class Key:
    assignment: str
    student: str | None
    seed: int | None
    values: dict[str, object]
    executed: NotebookNode


_DUMP = """
import pickle as _pickle
_key_values = {{}}
for _name in {names!r}:
    if _name in globals():
        try:
            _pickle.dumps(globals()[_name])
            _key_values[_name] = globals()[_name]
        except Exception:
            pass
with open({path!r}, "wb") as _fh:
    _pickle.dump(_key_values, _fh)
"""


def compute_key(root: Path, assignment: str, student: str | None, *, timeout: int = 120) -> Key:
    """Run the solution notebook on ``student``'s data; return the answers it computes."""
    paths = notebooks(root / "source" / assignment)
    if not paths:
        raise CourseError(f"source/{assignment} has no notebook")
    path = paths[0]
    nb = nbio.read(path)
    names = [n for group in answer_names(nb).values() for n in group]
    env = dict(os.environ)
    env.pop(variants.HUB_ENV, None)
    if student is None:
        env.pop(variants.STUDENT_ENV, None)
    else:
        env[variants.STUDENT_ENV] = student
        env[variants.SWITCH_ENV] = "on"
    with tempfile.TemporaryDirectory() as tmp:
        dump_path = str(Path(tmp) / "key.pkl")
        nb.cells.append(nbformat.v4.new_code_cell(_DUMP.format(names=names, path=dump_path)))
        client = NotebookClient(
            nb, timeout=timeout, kernel_name="python3", allow_errors=True,
            resources={"metadata": {"path": str(path.parent)}},
        )
        client.execute(env=env)
        errors = [
            (nbio.cell_label(c), o.get("ename"), o.get("evalue"))
            for c in nb.cells if c.cell_type == "code"
            for o in c.outputs if o.get("output_type") == "error"
        ]
        if errors:
            raise CourseError(f"the solution notebook failed for student {student!r}: {errors[:3]}")
        with open(dump_path, "rb") as fh:  # written by the instructor's own solution notebook
            values = pickle.load(fh)
    nb.cells.pop()
    return Key(assignment, student, variants.seed_for(assignment, student), values, nb)


def literal(value: object) -> str:
    """Python source that rebuilds ``value`` (numbers, text, containers, numpy, pandas).

    >>> literal(pd.Series([1.0, 2.5], index=["a", "b"], name="x"))
    "pd.Series([1.0, 2.5], index=pd.Index(['a', 'b'], name=None), name='x')"
    """
    if isinstance(value, pd.DataFrame):
        split = value.to_dict("split")
        return (
            f"pd.DataFrame({split['data']!r}, index={_index(value.index)}, "
            f"columns={_index(value.columns)})"
        )
    if isinstance(value, pd.Series):
        return f"pd.Series({value.tolist()!r}, index={_index(value.index)}, name={value.name!r})"
    if isinstance(value, np.ndarray):
        return f"np.array({value.tolist()!r})"
    if isinstance(value, np.generic):
        return repr(value.item())
    return repr(value)


def _index(index: pd.Index) -> str:
    if isinstance(index, pd.MultiIndex):
        return f"pd.MultiIndex.from_tuples({list(index)!r}, names={list(index.names)!r})"
    return f"pd.Index({list(index)!r}, name={index.name!r})"


LITERAL_HEADER = "import numpy as np\nimport pandas as pd\nfrom numpy import nan\nfrom pandas import Timestamp\n"


def hardcoded_cell(names: list[str], values: dict[str, object]) -> str:
    """An answer cell that types in another run's answers as literals (a copied answer)."""
    lines = [LITERAL_HEADER]
    for name in names:
        if name in values:
            lines.append(f"{name} = {literal(values[name])}")
    return "\n".join(lines)
