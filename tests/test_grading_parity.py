"""`course grade` gives honest submissions exactly stock `nbgrader autograde`'s scores.

Checked cell by cell on the kit assignment (one worker and two workers must agree too) and on
every real case assignment present (reference and half-done submissions).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from course import notebooks as nbio
from course import submissions
from course.build import run_nbgrader
from course.coursedir import copy_course
from course.coursedir import notebooks as list_notebooks
from course.gradebook import read_score
from course.grading import batch
from course.grading.sandbox import bwrap_problem
from tests import grading_kit as kit
from tests.conftest import ASSIGNMENTS, ROOT

pytestmark = pytest.mark.skipif(bwrap_problem(shutil.which("bwrap")) is not None,
                                reason="bubblewrap is not usable here (.ci/run installs it)")

HONEST = {
    "ref": None,
    "half": None,
    "blank": None,
    "numpy_types": {"x_answer": "import numpy as np\nx = np.float64(3.0)",
                    "s_answer": 's = pd.Series(np.array([2.0, 1.0]), index=pd.Index(["b", "a"]))'},
    "wrong_values": {"x_answer": "x = 4.0", "s_answer": 's = pd.Series([1.0, 2.5], index=["a", "b"])'},
    "wrong_types": {"x_answer": 'x = "3.0"', "s_answer": 's = pd.DataFrame({"v": [1.0, 2.0]}, index=["a", "b"])'},
    "changed_later": {"x_answer": "x = 3.0", "s_answer": 's = pd.Series([1.0, 2.0], index=["a", "b"])\nx = "changed after its test"'},
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


@pytest.fixture(scope="module")
def three_ways(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("COURSE_VARIANTS", "off")  # stock nbgrader does not set the student id
    base = tmp_path_factory.mktemp("parity")
    first = kit.make_course(base / "stock", ROOT)
    make_submissions(first)
    courses = {"stock": first}
    for way in ("one_worker", "two_workers"):
        courses[way] = Path(shutil.copytree(first, base / way))
    run_nbgrader(courses["stock"], "autograde", kit.ASSIGNMENT, "--force", "--log-level=ERROR")
    batch.grade(courses["one_worker"], kit.ASSIGNMENT, batch.Options(jobs=1))
    batch.grade(courses["two_workers"], kit.ASSIGNMENT, batch.Options(jobs=2))
    yield {way: kit.scores(course, HONEST) for way, course in courses.items()}
    mp.undo()


@pytest.mark.parametrize("student", list(HONEST))
def test_scores_equal_stock_nbgrader(three_ways, student):
    stock = three_ways["stock"][student]
    for way in ("one_worker", "two_workers"):
        ours = three_ways[way][student]
        assert (ours.auto, ours.cells, ours.manual_max) == (stock.auto, stock.cells, stock.manual_max), way


def test_the_kit_exercises_passes_and_failures(three_ways):
    stock = three_ways["stock"]
    assert stock["ref"].auto == 5 and stock["blank"].auto == 0 and stock["half"].auto == 2
    assert stock["wrong_values"].auto == 0 and stock["numpy_types"].auto == 5 and stock["changed_later"].auto == 5


CASES = [a for a in ASSIGNMENTS if a != "zz_demo"]


@pytest.mark.skipif(not CASES, reason="no case assignment in source/ yet")
@pytest.mark.parametrize("name", CASES)
def test_real_case_scores_equal_stock_nbgrader(name, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_VARIANTS", "off")
    root = copy_course(ROOT, tmp_path / "stock")
    run_nbgrader(root, "generate_assignment", name, "--force", "--log-level=ERROR")
    for src in list_notebooks(root / "source" / name):
        source = nbio.read(src)
        release = nbio.read(root / "release" / name / src.name)
        for student, nb in (("ref", submissions.reference(source, release)),
                            ("half", submissions.partial(source, release))):
            nbio.write(nb, root / "submitted" / student / name / src.name)
    roots = {"stock": root, "ours": Path(shutil.copytree(root, tmp_path / "ours"))}
    run_nbgrader(roots["stock"], "autograde", name, "--force", "--log-level=ERROR")
    result = batch.grade(roots["ours"], name, batch.Options(jobs=2))
    for student in ("ref", "half"):
        stock = read_score(roots["stock"], name, student)
        ours = read_score(roots["ours"], name, student)
        problems = next(o for o in result.outcomes if o.student == student).all_problems
        assert (ours.auto, ours.cells) == (stock.auto, stock.cells), problems
    assert read_score(roots["ours"], name, "ref").auto == read_score(roots["ours"], name, "ref").max_auto
