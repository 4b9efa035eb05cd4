"""Per-student data: different students get different data and answers; copied numbers earn nothing.

Grading runs stock `nbgrader autograde` once per student with COURSE_STUDENT_ID set in its
environment (the kernel inherits it), exactly as `course grade` sets it for each submission.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd
import pytest

from course import key as keymod
from course import notebooks, submissions
from course.build import nbgrader_command
from course.coursedir import copy_course
from course.coursedir import notebooks as list_notebooks
from course.gradebook import read_score
from tests.conftest import ASSIGNMENTS, ROOT

CASES = [a for a in ASSIGNMENTS if a.startswith("case")]
ALICE, BOB = "alice01", "bob02"


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
    return name, {s: keymod.compute_key(ROOT, name, s) for s in (ALICE, BOB, None)}


def test_students_get_different_answers(keys):
    name, k = keys
    assert k[ALICE].seed != k[BOB].seed and k[None].seed is None
    values_a, values_b = k[ALICE].values, k[BOB].values
    assert values_a and set(values_a) == set(values_b)
    alike = [n for n in values_a if same(values_a[n], values_b[n])]
    assert alike == [], f"{name}: these answers do not depend on the student's data: {alike}"


def test_key_is_reproducible(keys):
    name, k = keys
    again = keymod.compute_key(ROOT, name, ALICE)
    assert all(same(again.values[n], v) for n, v in k[ALICE].values.items())


def _autograde(root, name, student):
    import subprocess

    env = dict(os.environ, COURSE_STUDENT_ID=student, COURSE_VARIANTS="on")
    proc = subprocess.run(
        nbgrader_command("autograde", name, "--student", student, "--force"),
        cwd=root, env=env, capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return read_score(root, name, student)


def test_own_answers_full_marks_copied_answers_zero(keys, tmp_path):
    name, k = keys
    scratch = copy_course(ROOT, tmp_path / "course")
    import subprocess

    subprocess.run(nbgrader_command("generate_assignment", name, "--force"), cwd=scratch, check=True,
                   capture_output=True)
    src_path = list_notebooks(scratch / "source" / name)[0]
    source = notebooks.read(src_path)
    release = notebooks.read(scratch / "release" / name / src_path.name)
    names = keymod.answer_names(source)

    def typed_in(values):
        nb = submissions.fill(source, release, [])
        for cell in nb.cells:
            gid = notebooks.grade_id(cell)
            if gid in names:
                cell.source = keymod.hardcoded_cell(names[gid], values)
        return nb

    subs = {
        "alice01": submissions.reference(source, release),      # her own work, her own data
        "bob02": typed_in(k[ALICE].values),                       # Bob types in Alice's numbers
        "carol03": typed_in(k[None].values),                      # Carol copies the default key
    }
    for student, nb in subs.items():
        notebooks.write(nb, scratch / "submitted" / student / name / src_path.name)
    scores = {s: _autograde(scratch, name, s) for s in subs}
    assert scores["alice01"].auto == pytest.approx(scores["alice01"].max_auto)
    assert scores["bob02"].auto == 0, scores["bob02"].cells
    assert scores["carol03"].auto == 0, scores["carol03"].cells

    # the typed-in mechanism itself is sound: Alice's own numbers typed in score full for Alice
    notebooks.write(typed_in(k[ALICE].values), scratch / "submitted" / ALICE / name / src_path.name)
    again = _autograde(scratch, name, ALICE)
    assert again.auto == pytest.approx(again.max_auto), again.cells
