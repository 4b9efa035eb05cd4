"""``course grade`` end to end on an honest class: scores, feedback, exports, the command line."""

from __future__ import annotations

import csv

import pytest
from typer.testing import CliRunner

from course.cli import app
from course.grading import batch
from course.grading.sandbox import Limits
from course.reports import export, feedback
from tests import grading_kit as kit

pytestmark = pytest.mark.sandbox
A = kit.ASSIGNMENT
runner = CliRunner()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("COURSE_VARIANTS", "off")
    course = kit.make_course(tmp_path_factory.mktemp("class"))
    kit.submit(course, "ref", kit.reference(course))
    kit.submit(course, "half", kit.partial(course))
    kit.submit(course, "blank", kit.blank(course))
    result = batch.grade(course, A, batch.Options(jobs=2, limits=Limits(cell_timeout=30)))
    yield course, result
    mp.undo()


@pytest.fixture(scope="module")
def pages(graded):
    course, _ = graded
    return feedback.generate(course, A, jobs=2)


def test_feedback_for_every_graded_notebook_without_hidden_tests(graded, pages):
    course, _ = graded
    assert sorted(p.student for p in pages) == ["blank", "half", "ref"]
    assert all(len(p.pages) == 1 and not p.problems for p in pages)
    for result in pages:
        html = result.pages[0].read_text(encoding="utf-8")
        assert kit.HIDDEN_MARK not in html and "BEGIN HIDDEN TESTS" not in html, result.student


def test_feedback_shows_scores_and_failed_check_messages(graded, pages):
    course, _ = graded
    html = (course.feedback("half", A) / f"{A}.html").read_text(encoding="utf-8")
    assert "Score: 2.0 / 6.0" in html
    assert "name &#x27;s&#x27; is not defined" in html or "name 's' is not defined" in html


def test_feedback_charts_are_inline_plotly(graded, pages):
    course, _ = graded
    html = (course.feedback("ref", A) / f"{A}.html").read_text(encoding="utf-8")
    assert html.count("plotly-graph-div") >= 1
    assert html.count("plotly.js v") == 1  # the library, inlined exactly once
    assert "application/vnd.plotly.v1+json" not in html
    assert "Content-Security-Policy" in html


# --- export ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def exported(graded, tmp_path_factory):
    course, _ = graded
    out = tmp_path_factory.mktemp("export")
    export.write(course, out)
    read = lambda name: list(csv.reader((out / name).open(encoding="utf-8")))  # noqa: E731
    return read("grades.csv"), read("questions.csv"), read("canvas.csv")


def test_grades_csv_has_a_column_per_question_and_totals(exported):
    grades, questions, _ = exported
    header = grades[0]
    assert header[:5] == ["student_id", "last_name", "first_name", "email", "language"]
    assert header[5:] == [f"{A}/x_value", f"{A}/s_value", f"{A}/memo", f"{A}/total", "total"]
    rows = {r[0]: dict(zip(header, r, strict=True)) for r in grades[1:]}
    assert (rows["ref"][f"{A}/x_value"], rows["ref"][f"{A}/s_value"], rows["ref"][f"{A}/memo"]) == ("2", "3", "")
    assert rows["ref"]["total"] == "5" and rows["half"]["total"] == "2" and rows["blank"]["total"] == "0"
    assert rows["ref"]["language"] == "en"  # the kit assignment is English (course.i18n)
    assert [q[2:] for q in questions[1:]] == [["x_value", "auto", "2"], ["s_value", "auto", "3"], ["memo", "manual", "1"]]


def test_canvas_csv_layout(exported, graded):
    _, result = graded
    _, _, canvas = exported
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", A]
    assert canvas[1][0].strip() == "Points Possible" and canvas[1][5] == "6"
    rows = {r[2]: r for r in canvas[2:]}
    assert set(rows) == {o.student for o in result.outcomes}
    assert rows["ref"][5] == "5"


def test_stock_nbgrader_export_writes_the_same_files_through_the_plugins(graded, exported, tmp_path):
    course, _ = graded
    grades, _, canvas = exported
    for plugin, name, expected in (("QuestionsExportPlugin", "grades.csv", grades),
                                   ("CanvasExportPlugin", "canvas.csv", canvas)):
        course.run_nbgrader("export", f"--exporter=course.reports.export.{plugin}", f"--to={tmp_path / name}")
        assert list(csv.reader((tmp_path / name).open(encoding="utf-8"))) == expected


# --- the command line --------------------------------------------------------------------------


def test_cli_grades_feedback_export_and_creates_the_assignment(tmp_path, monkeypatch):
    """From the command line, on a course whose gradebook does not know the assignment yet."""
    monkeypatch.setenv("COURSE_VARIANTS", "off")
    course = kit.make_course(tmp_path / "c")
    (course.root / "gradebook.db").unlink()
    release_before = kit.release_nb(course)
    kit.submit(course, "ref", kit.reference(course))
    kit.submit(course, "blank", kit.blank(course))
    graded = runner.invoke(app, ["grade", A, "--root", str(course.root), "--jobs", "1", "--timeout", "30"])
    assert graded.exit_code == 0, graded.output
    assert "5 / 5" in graded.output and "0 / 5" in graded.output
    assert kit.release_nb(course) == release_before  # only the gradebook learnt the assignment
    assert kit.scores(course, ["ref"])["ref"].auto == 5
    pages = runner.invoke(app, ["feedback", A, "--root", str(course.root), "--jobs", "1"])
    assert pages.exit_code == 0 and (course.feedback("ref", A) / f"{A}.html").is_file(), pages.output
    out = tmp_path / "exports"
    exported = runner.invoke(app, ["export", "--root", str(course.root), "--out", str(out)])
    assert exported.exit_code == 0 and {p.name for p in out.iterdir()} == {"grades.csv", "questions.csv", "canvas.csv"}


def test_cli_student_option_grades_only_that_student(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_VARIANTS", "off")
    course = kit.make_course(tmp_path / "c")
    kit.submit(course, "ref", kit.reference(course))
    kit.submit(course, "other", kit.reference(course))
    result = runner.invoke(app, ["grade", A, "--root", str(course.root), "--student", "ref", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert (course.autograded("ref", A) / f"{A}.ipynb").is_file()
    assert not course.autograded("other", A).exists()


def test_no_sandbox_grades_the_same_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_VARIANTS", "off")
    course = kit.make_course(tmp_path / "c")
    kit.submit(course, "ref", kit.reference(course))
    kit.submit(course, "half", kit.partial(course))
    result = runner.invoke(app, ["grade", A, "--root", str(course.root), "--no-sandbox", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert "--no-sandbox: student code runs with your rights" in result.output
    assert kit.scores(course, ["ref"])["ref"].auto == 5 and kit.scores(course, ["half"])["half"].auto == 2
