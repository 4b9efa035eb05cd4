"""Per-student data: different students get different data and answers; copied numbers earn nothing.

Graded by ``course grade`` (which sets ``COURSE_STUDENT_ID`` per submission); parity of those
per-student scores with stock nbgrader is in ``test_grading_parity.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from course import cells, ipynb
from course.authoring import key as keymod
from course.authoring import submissions
from course.gradebook import read_score
from course.grading import batch
from course.layout import notebooks
from tests.support import CASES, COURSE, scratch_course

ALICE, BOB, DANA = "alice01", "bob02", "dana04"


def same(a: object, b: object) -> bool:
    if isinstance(a, (pd.Series, pd.DataFrame)) or isinstance(b, (pd.Series, pd.DataFrame)):
        try:
            return type(a) is type(b) and a.shape == b.shape and np.allclose(
                np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=1e-9, equal_nan=True)
        except (TypeError, ValueError):
            return type(a) is type(b) and a.equals(b)
    if isinstance(a, (int, float, np.number)) and isinstance(b, (int, float, np.number)):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    try:
        return bool(np.all(np.asarray(a) == np.asarray(b))) and np.shape(a) == np.shape(b)
    except Exception:
        return a == b


@pytest.fixture(scope="module", params=CASES)
def keys(request):
    name = request.param
    return name, {s: keymod.compute_key(COURSE, name, s) for s in (ALICE, BOB, DANA, None)}


def test_students_get_different_answers(keys):
    name, k = keys
    assert k[ALICE].seed != k[BOB].seed and k[None].seed is None
    values_a, values_b = k[ALICE].values, k[BOB].values
    assert values_a and set(values_a) == set(values_b)
    alike = [n for n in values_a if same(values_a[n], values_b[n])]
    assert alike == [], f"{name}: these answers do not depend on the student's data: {alike}"


def test_key_is_reproducible(keys):
    name, k = keys
    again = keymod.compute_key(COURSE, name, ALICE)
    assert all(same(again.values[n], v) for n, v in k[ALICE].values.items())


@pytest.mark.sandbox
def test_own_work_full_marks_copied_answers_zero(keys, tmp_path):
    """Through ``course grade`` with variants on, in one batch: two students' own work full marks,
    one student's numbers in another's notebook 0, the default key 0, and a student's own
    numbers typed in full marks (the typed-in mechanism itself is sound)."""
    name, k = keys
    course = scratch_course(tmp_path / "course")
    course.run_nbgrader("generate_assignment", name, "--force", "--log-level=ERROR")
    src_path = notebooks(course.source(name))[0]
    source = ipynb.read(src_path)
    release = ipynb.read(course.release(name) / src_path.name)
    names = keymod.answer_names(source)

    def typed_in(values):
        return submissions.with_answers(release, {gid: keymod.copied_cell(n, values) for gid, n in names.items()})

    subs = {
        ALICE: submissions.reference(source, release),       # her own work, her own data
        BOB: submissions.reference(source, release),         # his own work, his own data
        "bob_copies": typed_in(k[ALICE].values),             # Alice's numbers in another student's notebook
        "carol_default": typed_in(k[None].values),           # the course-wide default key
        DANA: typed_in(k[DANA].values),                      # her own numbers, typed in
    }
    for student, nb in subs.items():
        ipynb.write(nb, course.submitted(student, name) / src_path.name)
    result = batch.grade(course, name, batch.Options(jobs=2))
    scores = {s: read_score(course, name, s) for s in subs}
    problems = {o.student: o.all_problems for o in result.outcomes}
    for own in (ALICE, BOB, DANA):
        assert scores[own].auto == pytest.approx(scores[own].max_auto), (own, scores[own].cells, problems[own])
    assert scores["bob_copies"].auto == 0, scores["bob_copies"].cells
    assert scores["carol_default"].auto == 0, scores["carol_default"].cells


def test_copied_cell_assigns_every_answer_name(keys):
    name, k = keys
    source = ipynb.read(notebooks(COURSE.source(name))[0])
    for gid, names in keymod.answer_names(source).items():
        code = keymod.copied_cell(names, k[ALICE].values)
        assert all(f"{n} = " in code for n in names if n in k[ALICE].values), gid
    assert all(cells.grade_id(c) for c in source.cells if cells.is_autograded_answer(c))
