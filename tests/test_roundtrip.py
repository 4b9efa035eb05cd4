"""Round trip through real nbgrader, in a scratch copy of the course.

generate_assignment → submissions made from the source (reference, blank, half-done) →
stock `nbgrader autograde` → scores read back from the gradebook.
"""

from __future__ import annotations

import pytest

from course import ipynb
from course.authoring import submissions
from course.gradebook import read_score
from course.layout import notebooks as list_notebooks
from tests.support import ASSIGNMENTS, scratch_course


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def graded(request, tmp_path_factory):
    name = request.param
    scratch = scratch_course(tmp_path_factory.mktemp(name))
    scratch.run_nbgrader("generate_assignment", name, "--force")
    makers = {
        "reference": submissions.reference,
        "blank": lambda src, rel: rel,
        "half": submissions.partial,
    }
    for student, make in makers.items():
        for src in list_notebooks(scratch.source(name)):
            release = ipynb.read(scratch.release(name) / src.name)
            nb = make(ipynb.read(src), release)
            ipynb.write(nb, scratch.submitted(student, name) / src.name)
    scratch.run_nbgrader("autograde", name, "--force")
    return name, {s: read_score(scratch, name, s) for s in makers}


def test_reference_scores_full_autograded_marks(graded):
    name, scores = graded
    ref = scores["reference"]
    assert ref.max_auto >= 5, f"{name}: expected at least 5 autograded points"
    assert ref.auto == pytest.approx(ref.max_auto), {k: v for k, v in ref.cells.items()}


def test_blank_submission_scores_zero(graded):
    _, scores = graded
    assert scores["blank"].auto == 0, scores["blank"].cells


def test_half_done_scores_strictly_between(graded):
    _, scores = graded
    half = scores["half"]
    assert 0 < half.auto < half.max_auto, half.cells


def test_assignment_has_manual_written_answer(graded):
    _, scores = graded
    assert scores["reference"].manual_max >= 1
