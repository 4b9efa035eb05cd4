"""A small scratch course for the grading tests: one assignment ``zs_grade`` built with nbgrader.

The assignment has a setup cell, a locked parameter cell, two autograded answers (a float and a pandas Series, hidden
tests included), a chart, and a written answer, so every path of ``course grade`` is exercised
without depending on the real case notebooks.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import nbformat

from course import cells, ipynb
from course.authoring import answer, code, md, notebook, readonly, submissions, test, written
from course.gradebook import read_score
from course.layout import Course
from tests.support import COURSE

ASSIGNMENT = "zs_grade"
HIDDEN_MARK = "zs_hidden_marker_7f3a"  # appears only inside hidden tests

SOURCE_CELLS = [
    md("# Grading kit"),
    readonly("setup", 'from course.notebook import setup\nimport pandas as pd\nSEED = setup("zs_grade")'),
    readonly("params", "x_target = 3.0  # the parameter of question 1"),
    md("**Question 1 (2 points).** Set `x` to `x_target`."),
    answer("x_answer", "### BEGIN SOLUTION\nx = 1.5 * 2\n### END SOLUTION"),
    test("x_value", 2, f'''"""x: a number, equal to x_target."""
from course import checks
checks.check_number(x, "x", low=0)
### BEGIN HIDDEN TESTS
_{HIDDEN_MARK} = x_target
checks.expect_close(x, _{HIDDEN_MARK}, "x", rel=1e-9)
### END HIDDEN TESTS'''),
    md("**Question 2 (3 points).** Make the Series `s`."),
    answer("s_answer", '### BEGIN SOLUTION\ns = pd.Series([1.0, 2.0], index=["a", "b"])\n### END SOLUTION'),
    test("s_value", 3, '''"""s: a Series indexed a, b."""
from course import checks
checks.check_series(s, "s", index=["a", "b"])
### BEGIN HIDDEN TESTS
checks.expect_series_close(s, pd.Series({"a": 1.0, "b": 2.0}), "s")
### END HIDDEN TESTS'''),
    code('import plotly.express as px\nfrom course.plots import finish\n'
         'fig = finish(px.bar(x=["a", "b"], y=[1, 2]), title="Two bars", x_title="key", y_title="value (units)")\n'
         'fig.show()'),
    md("**Chart description:** two bars."),
    written("memo", 1, "A model answer."),
]


def make_course(base: Path, cells_=None) -> Course:
    """A scratch course under ``base`` with ``zs_grade`` generated (gradebook included)."""
    scratch = COURSE.copy_to(base)
    for step in ("source", "release"):
        for child in scratch.folder(step).iterdir():
            shutil.rmtree(child)
    ipynb.write(notebook(copy.deepcopy(cells_ or SOURCE_CELLS)), scratch.source(ASSIGNMENT) / f"{ASSIGNMENT}.ipynb")
    scratch.run_nbgrader("generate_assignment", ASSIGNMENT, "--force", "--log-level=ERROR")
    return scratch


def source_nb(course: Course):
    return ipynb.read(course.source(ASSIGNMENT) / f"{ASSIGNMENT}.ipynb")


def release_nb(course: Course):
    return ipynb.read(course.release(ASSIGNMENT) / f"{ASSIGNMENT}.ipynb")


def reference(course: Course):
    return submissions.reference(source_nb(course), release_nb(course))


def blank(course: Course):
    return release_nb(course)


def partial(course: Course):
    return submissions.fill(source_nb(course), release_nb(course), ["x_answer"])


def folder(course: Course, student: str) -> Path:
    return course.submitted(student, ASSIGNMENT)


def submit(course: Course, student: str, nb, name: str = ASSIGNMENT) -> Path:
    path = folder(course, student) / f"{name}.ipynb"
    ipynb.write(nb, path)
    return path


def with_answer(nb, grade_id: str, source: str):
    """A copy of ``nb`` whose answer cell ``grade_id`` holds ``source``."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cells.grade_id(cell) == grade_id:
            cell.source = source
            return nb
    raise KeyError(grade_id)


def with_cell(nb, source: str, position: int = 2):
    """A copy of ``nb`` with a plain code cell inserted (after the setup cell by default)."""
    nb = copy.deepcopy(nb)
    nb.cells.insert(position, nbformat.v4.new_code_cell(source))
    return ipynb.clean(nb)


def cell(nb, grade_id: str):
    return next(c for c in nb.cells if cells.grade_id(c) == grade_id)


def scores(course: Course, students) -> dict:
    return {s: read_score(course, ASSIGNMENT, s) for s in students}


def write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
