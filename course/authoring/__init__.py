"""Authoring: building cells from Python, and the instructor's commands on ``source/``.

- this module: helpers that return cells with the nbgrader metadata nbgrader's own toolbar
  writes (:func:`md`, :func:`code`, :func:`readonly`, :func:`answer`, :func:`test`,
  :func:`written`, :func:`notebook`), for authors who script a notebook;
- :mod:`.build` (``course build``), :mod:`.check` (``course check``), :mod:`.key`
  (``course key``), :mod:`.submissions` (reference, blank, partial and copied submissions).

The committed ``source/<assignment>/*.ipynb`` is the source of truth (edit it in JupyterLab with
nbgrader's Create Assignment toolbar, or regenerate it with these helpers).

>>> nb = notebook([md("# Title"), answer("store_cv", "x = 1"), test("store_cv_value", 2, "assert x == 1")])
>>> [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
[None, 'store_cv', 'store_cv_value']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from textwrap import dedent

import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course.cells import metadata
from course.ipynb import clean


@dataclass(frozen=True)
class Problem:
    """Something wrong with one cell of a notebook, found by ``course build`` or ``course check``."""

    notebook: Path
    cell: str
    message: str

    def __str__(self) -> str:
        return f"{self.notebook}: {self.cell}: {self.message}"


def _text(source: str) -> str:
    return dedent(source).strip("\n")


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
    cell.metadata["nbgrader"] = metadata(grade_id, locked=True)
    return cell


def answer(grade_id: str, source: str) -> NotebookNode:
    """An autograded answer cell; put the solution between ``### BEGIN/END SOLUTION``."""
    cell = new_code_cell(_text(source))
    cell.metadata["nbgrader"] = metadata(grade_id, solution=True)
    return cell


def test(grade_id: str, points: float, source: str) -> NotebookNode:
    """An autograder test cell worth ``points`` (visible checks, then hidden tests)."""
    cell = new_code_cell(_text(source))
    cell.metadata["nbgrader"] = metadata(grade_id, grade=True, locked=True, points=points)
    return cell


def written(grade_id: str, points: float, model_answer: str) -> NotebookNode:
    """A manually graded markdown answer; its text in the source is the model answer."""
    cell = new_markdown_cell(_text(model_answer))
    cell.metadata["nbgrader"] = metadata(grade_id, grade=True, solution=True, points=points)
    return cell


def notebook(cells: list[NotebookNode]) -> NotebookNode:
    """A clean notebook of these cells."""
    nb = new_notebook(cells=cells)
    return clean(nbformat.from_dict(nb))
