"""Every gate of ``course build`` and ``course check`` fires when it should (issue 16).

Each gate gets a notebook cell made to trip it; the test names the cell and the message, so a
gate that stops firing fails here.
"""

from __future__ import annotations

import pytest

from course import ipynb
from course.authoring import answer, check, code, md, notebook, readonly, written
from course.authoring import build as buildmod
from course.authoring import test as graded_test
from course.errors import CourseError
from tests import grading_kit as kit

CHART = ("import plotly.graph_objects as go\nfrom course.plots import finish\n"
         "fig = go.Figure(go.Bar(x=['a'], y=[1]))\n")


def problems_by_cell(result) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for problem in result.problems:
        found.setdefault(problem.cell.split("[", 1)[-1].rstrip("]"), []).append(problem.message)
    return found


@pytest.fixture(scope="module")
def source_problems(tmp_path_factory):
    cells = [
        readonly("setup", "from course import checks\nimport sys"),
        answer("a_answer", "### BEGIN SOLUTION\na = 1.0\n### END SOLUTION"),
        graded_test("a_fails", 1, "assert a == 2.0, 'a is not 2'"),
        graded_test("a_displays", 1, "a + 1"),
        graded_test("a_stderr", 1, "print('warning', file=sys.stderr)"),
        readonly("untitled_chart", CHART + "fig.show()"),
        md("**Chart description:** a bar."),
        md("A paragraph between the two charts."),
        readonly("undescribed_chart", CHART + "finish(fig, title='T', x_title='x', y_title='y').show()"),
        md("Some text that is not a description."),
        readonly("crash", "1 / 0"),
        written("memo", 1, "Model answer."),
    ]
    path = tmp_path_factory.mktemp("gates") / "bad.ipynb"
    ipynb.write(notebook(cells), path)
    return problems_by_cell(check.check_notebook(path, release=False))


@pytest.mark.parametrize("cell, needle", [
    ("a_fails", "test failed: AssertionError: a is not 2"),
    ("a_displays", "displays a value"),
    ("a_stderr", "wrote to stderr"),
    ("untitled_chart", "chart lacks title, xaxis title, yaxis title"),
    ("undescribed_chart", "no adjacent markdown cell"),
    ("crash", "error: ZeroDivisionError"),
])
def test_course_check_source_gate_fires(source_problems, cell, needle):
    assert any(needle in m for m in source_problems.get(cell, [])), source_problems


def test_course_check_passes_a_sound_source(tmp_path):
    path = tmp_path / "good.ipynb"
    ipynb.write(kit.source_nb(kit.make_course(tmp_path / "c")), path)
    assert check.check_notebook(path, release=False).problems == []


@pytest.fixture(scope="module")
def release_problems(tmp_path_factory):
    """A student version: only the stub and the tests it breaks may fail."""
    cells = [
        readonly("setup", "from course import checks"),
        answer("a_answer", "# YOUR CODE HERE\nraise NotImplementedError()"),
        graded_test("a_value", 1, "checks.check_number(a, 'a')"),  # NameError for an answer name: allowed
        graded_test("wrong_name", 1, "checks.check_number(not_an_answer, 'x')"),  # NameError for another name
        graded_test("asserts", 1, "assert False, 'always fails'"),  # fails without any stub involved
        code("worked = undefined_helper()"),  # an error in a worked example
    ]
    folder = tmp_path_factory.mktemp("release")
    ipynb.write(notebook(cells), folder / "rel.ipynb")
    cells[1] = answer("a_answer", "### BEGIN SOLUTION\na = 1.0\n### END SOLUTION")
    ipynb.write(notebook(cells), folder / "src.ipynb")
    return problems_by_cell(check.check_notebook(folder / "rel.ipynb", release=True, source=folder / "src.ipynb"))


def test_course_check_release_accepts_only_what_a_stub_causes(release_problems):
    assert "a_answer" not in release_problems and "a_value" not in release_problems
    assert any("NameError" in m and "not_an_answer" in m for m in release_problems["wrong_name"])
    assert any("always fails" in m for m in release_problems["asserts"])
    assert any("undefined_helper" in m for key, ms in release_problems.items() for m in ms if key.startswith("code"))


def test_course_build_refuses_a_stray_release_file(tmp_path):
    course = kit.make_course(tmp_path / "c")
    (course.source(kit.ASSIGNMENT) / "answers.csv").write_text("secret\n")
    with pytest.raises(CourseError, match="answers.csv: not a notebook and not declared"):
        buildmod.build(course, kit.ASSIGNMENT)


def test_course_build_accepts_a_declared_release_file(tmp_path):
    course = kit.make_course(tmp_path / "c")
    (course.source(kit.ASSIGNMENT) / "data.csv").write_text("a\n1\n")
    pyproject = course.root / "pyproject.toml"
    text = pyproject.read_text().replace("[tool.course.release-files]\n", f'[tool.course.release-files]\n"{kit.ASSIGNMENT}" = ["*.csv"]\n')
    assert kit.ASSIGNMENT in text
    pyproject.write_text(text)
    from course.layout import Course

    buildmod.build(Course.load(course.root), kit.ASSIGNMENT)
    assert (course.release(kit.ASSIGNMENT) / "data.csv").is_file()


@pytest.mark.parametrize("source, needle", [
    ("### BEGIN SOLUTION\nx = 1\n### BEGIN SOLUTION\ny = 2\n### END SOLUTION", "nested"),
    ("### BEGIN HIDDEN TESTS\nassert x", "no END HIDDEN TESTS"),
])
def test_course_build_refuses_regions_nbgrader_would_reject(tmp_path, source, needle):
    course = kit.make_course(tmp_path / "c")
    broken = graded_test("broken_regions", 1, source) if "HIDDEN" in source else answer("broken_regions", source)
    ipynb.write(notebook([*kit.SOURCE_CELLS, broken]), course.source(kit.ASSIGNMENT) / f"{kit.ASSIGNMENT}.ipynb")
    with pytest.raises(CourseError, match=needle):
        buildmod.build(course, kit.ASSIGNMENT)
