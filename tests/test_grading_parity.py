"""``course grade`` gives honest submissions exactly stock ``nbgrader autograde``'s scores.

Checked cell by cell on the kit assignment (one worker, two workers and without the sandbox must
agree too: parity does not depend on bubblewrap) and on every real case (reference and half-done
submissions), with per-student data on: stock nbgrader is run once per student with
``COURSE_STUDENT_ID`` set, as ``course grade`` sets it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from course import ipynb
from course.authoring import submissions
from course.gradebook import read_score
from course.grading import batch
from course.layout import Course, notebooks
from tests import grading_kit as kit
from tests.support import CASES, sandbox_problem, scratch_course

HONEST = {
    "ref": None,
    "half": None,
    "blank": None,
    "numpy_types": {"x_answer": "import numpy as np\nx = np.float64(3.0)",
                    "s_answer": 's = pd.Series(np.array([2.0, 1.0]), index=pd.Index(["b", "a"]))'},
    "wrong_values": {"x_answer": "x = 4.0", "s_answer": 's = pd.Series([1.0, 2.5], index=["a", "b"])'},
    "wrong_types": {"x_answer": 'x = "3.0"', "s_answer": 's = pd.DataFrame({"v": [1.0, 2.0]}, index=["a", "b"])'},
    "changed_later": {"x_answer": "x = 3.0", "s_answer": 's = pd.Series([1.0, 2.0], index=["a", "b"])\nx = "changed after its test"'},
    # an honest student who rebinds a name the locked setup cell defined, which no test reads
    "rebinds_locked_name": {"x_answer": "SEED = 12345  # my own seed\nx = 3.0"},
}


def make_submissions(course):
    made = {"ref": kit.reference(course), "half": kit.partial(course), "blank": kit.blank(course)}
    for student, answers in HONEST.items():
        if answers:
            nb = kit.blank(course)
            for gid, source in answers.items():
                nb = kit.with_answer(nb, gid, source)
            made[student] = nb
    for student, nb in made.items():
        kit.submit(course, student, nb)


def stock_autograde(course: Course, assignment: str, students) -> None:
    """Stock nbgrader, one student at a time with their id in the environment."""
    for student in students:
        env = {**os.environ, "COURSE_STUDENT_ID": student}
        course.run_nbgrader("autograde", assignment, "--student", student, "--force", "--log-level=ERROR", env=env)


WAYS = ["one_worker", "two_workers", "no_sandbox"]


@pytest.fixture(scope="module")
def four_ways(tmp_path_factory):
    base = tmp_path_factory.mktemp("parity")
    first = kit.make_course(base / "stock")
    make_submissions(first)
    courses = {"stock": first}
    for way in WAYS:
        courses[way] = Course.load(Path(shutil.copytree(first.root, base / way)))
    stock_autograde(courses["stock"], kit.ASSIGNMENT, HONEST)
    graded = {"stock", "no_sandbox"}
    batch.grade(courses["no_sandbox"], kit.ASSIGNMENT, batch.Options(jobs=2, sandbox=False))
    if sandbox_problem() is None:
        batch.grade(courses["one_worker"], kit.ASSIGNMENT, batch.Options(jobs=1))
        batch.grade(courses["two_workers"], kit.ASSIGNMENT, batch.Options(jobs=2))
        graded |= {"one_worker", "two_workers"}
    return {way: kit.scores(course, HONEST) for way, course in courses.items() if way in graded}


@pytest.mark.parametrize("student", list(HONEST))
@pytest.mark.parametrize("way", WAYS)
def test_scores_equal_stock_nbgrader(four_ways, student, way):
    if way != "no_sandbox":
        from tests.support import require_sandbox

        require_sandbox()
    stock, ours = four_ways["stock"][student], four_ways[way][student]
    assert (ours.auto, ours.cells, ours.manual_max) == (stock.auto, stock.cells, stock.manual_max)


def test_the_kit_exercises_passes_and_failures(four_ways):
    stock = four_ways["stock"]
    assert stock["ref"].auto == 5 and stock["blank"].auto == 0 and stock["half"].auto == 2
    assert stock["wrong_values"].auto == 0 and stock["numpy_types"].auto == 5 and stock["changed_later"].auto == 5
    assert stock["rebinds_locked_name"].auto == 2  # its x is right; the name it rebound is its own business


@pytest.fixture(scope="module", params=CASES)
def real_case(request, tmp_path_factory):
    """Every case through stock nbgrader (the round trip: generate, submit, autograde) and through
    ``course grade``, with per-student data: a reference, a half-done and a blank submission."""
    name = request.param
    base = tmp_path_factory.mktemp(name)
    course = scratch_course(base / "stock")
    course.run_nbgrader("generate_assignment", name, "--force", "--log-level=ERROR")
    students = {"alice01": submissions.reference, "bob02": submissions.partial, "carol03": submissions.blank}
    for src in notebooks(course.source(name)):
        source = ipynb.read(src)
        release = ipynb.read(course.release(name) / src.name)
        for student, make in students.items():
            ipynb.write(make(source, release), course.submitted(student, name) / src.name)
    ours = Course.load(Path(shutil.copytree(course.root, base / "ours")))
    stock_autograde(course, name, students)
    if sandbox_problem() is None:
        result = batch.grade(ours, name, batch.Options(jobs=2))
    else:
        result = None
    return name, course, ours, result, list(students)


def test_round_trip_through_stock_nbgrader(real_case):
    """Stock nbgrader: the reference scores full marks, the blank 0, the half-done in between,
    and every case has a written answer for the instructor."""
    name, stock, _, _, (ref, half, blank) = real_case
    scores = {s: read_score(stock, name, s) for s in (ref, half, blank)}
    assert scores[ref].max_auto >= 5 and scores[ref].auto == pytest.approx(scores[ref].max_auto), scores[ref].cells
    assert scores[blank].auto == 0, scores[blank].cells
    assert 0 < scores[half].auto < scores[half].max_auto, scores[half].cells
    assert scores[ref].manual_max >= 1


@pytest.mark.sandbox
def test_real_case_scores_equal_stock_nbgrader(real_case):
    name, stock, ours, result, students = real_case
    assert result is not None
    for student in students:
        a, b = read_score(stock, name, student), read_score(ours, name, student)
        problems = next(o for o in result.outcomes if o.student == student).all_problems
        assert (b.auto, b.cells) == (a.auto, a.cells), problems
