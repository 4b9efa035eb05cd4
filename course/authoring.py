"""Building nbgrader cells from Python, for authors who script a notebook.

The committed ``source/<assignment>/*.ipynb`` is the source of truth (edit it in JupyterLab with
nbgrader's Create Assignment toolbar, or regenerate it with these helpers). Each helper returns a
cell with the nbgrader metadata nbgrader's own toolbar would write.

>>> nb = notebook([md("# Title"), answer("store_cv", "x = 1"), test("store_cv_value", 2, "assert x == 1")])
>>> [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
[None, 'store_cv', 'store_cv_value']
"""

from __future__ import annotations

from textwrap import dedent

import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course.notebooks import clean

SCHEMA = 3


def _text(source: str) -> str:
    return dedent(source).strip("\n")


def _meta(grade_id: str, *, grade: bool, solution: bool, locked: bool, points: float | None = None, task: bool = False) -> dict:
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": SCHEMA,
        "solution": solution,
        "task": task,
    }
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def md(source: str) -> NotebookNode:
    """A plain markdown cell (not part of grading)."""
    return new_markdown_cell(_text(source))


def code(source: str) -> NotebookNode:
    """A plain code cell (worked example; a student may edit it)."""
    return new_code_cell(_text(source))


def readonly(grade_id: str, source: str, *, markdown: bool = False) -> NotebookNode:
    """A locked cell (setup, data loading): restored from the release at grading."""
    maker = new_markdown_cell if markdown else new_code_cell
    cell = maker(_text(source))
    cell.metadata.update(_meta(grade_id, grade=False, solution=False, locked=True))
    return cell


def answer(grade_id: str, source: str) -> NotebookNode:
    """An autograded answer cell; put the solution between ``### BEGIN/END SOLUTION``."""
    cell = new_code_cell(_text(source))
    cell.metadata.update(_meta(grade_id, grade=False, solution=True, locked=False))
    return cell


def test(grade_id: str, points: float, source: str) -> NotebookNode:
    """An autograder test cell worth ``points`` (visible checks, then hidden tests)."""
    cell = new_code_cell(_text(source))
    cell.metadata.update(_meta(grade_id, grade=True, solution=False, locked=True, points=points))
    return cell


def written(grade_id: str, points: float, model_answer: str) -> NotebookNode:
    """A manually graded markdown answer; its text in the source is the model answer."""
    cell = new_markdown_cell(_text(model_answer))
    cell.metadata.update(_meta(grade_id, grade=True, solution=True, locked=False, points=points))
    return cell


def notebook(cells: list[NotebookNode]) -> NotebookNode:
    """A clean notebook of these cells."""
    nb = new_notebook(cells=cells)
    return clean(nbformat.from_dict(nb))
