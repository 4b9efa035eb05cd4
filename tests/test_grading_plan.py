"""The notebook's structure is restored from the gradebook, whatever the student did to it."""

from __future__ import annotations

import copy

import nbformat
import pytest

from course import notebooks as nbio
from course.grading import plan
from course.grading.context import load_course
from tests import grading_kit as kit
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return kit.make_course(tmp_path_factory.mktemp("plan"), ROOT)


@pytest.fixture(scope="module")
def spec(course):
    ctx = load_course(course)
    return plan.load_specs(ctx.db_url, kit.ASSIGNMENT, course / "release" / kit.ASSIGNMENT)[kit.ASSIGNMENT]


def test_gradebook_holds_hidden_tests_and_release_order(spec):
    assert kit.HIDDEN_MARK in spec.cells["x_value"].source
    assert spec.order.index("setup") < spec.order.index("x_value") < spec.order.index("s_value")
    assert spec.max_auto == 5


def test_edited_test_and_locked_cells_are_restored(course, spec):
    nb = kit.blank(course)
    kit.cell(nb, "x_value").source = "pass"
    kit.cell(nb, "setup").source = "x = 3.0"
    restored, notes = plan.restore(nb, spec)
    assert kit.cell(restored, "x_value").source == spec.cells["x_value"].source
    assert kit.cell(restored, "setup").source == spec.cells["setup"].source
    assert any("setup" in n for n in notes)


def test_deleted_test_and_setup_cells_come_back_in_place(course, spec):
    nb = kit.blank(course)
    nb.cells = [c for c in nb.cells if nbio.grade_id(c) not in ("x_value", "setup")]
    restored, notes = plan.restore(nb, spec)
    ids = [nbio.grade_id(c) for c in restored.cells if nbio.grade_id(c)]
    assert ids.index("setup") < ids.index("x_answer") < ids.index("x_value") < ids.index("s_answer")
    assert len([n for n in notes if "deleted" in n]) == 2


def test_metadata_tampering_cannot_turn_a_test_into_something_else(course, spec):
    nb = kit.blank(course)
    meta = kit.cell(nb, "x_value").metadata.nbgrader
    meta.update(solution=True, points=100, locked=False)
    kit.cell(nb, "s_value").metadata.nbgrader["grade"] = False
    fake = nbformat.v4.new_code_cell("x = 3.0", metadata={"nbgrader": {"grade": True, "grade_id": "bonus", "points": 50,
                                                                        "solution": False, "locked": True}})
    nb.cells.append(fake)
    restored, _ = plan.restore(nb, spec)
    x = kit.cell(restored, "x_value").metadata.nbgrader
    assert (x["solution"], x["points"], x["grade"]) == (False, 2.0, True)
    assert kit.cell(restored, "s_value").metadata.nbgrader["grade"] is True
    assert "nbgrader" not in restored.cells[-1].metadata  # unknown grade id: a plain cell
    assert plan.role(restored.cells[-1]) == "student"


def test_duplicated_cells_keep_only_the_last_copy(course, spec):
    nb = kit.blank(course)
    nb.cells.insert(1, copy.deepcopy(kit.cell(nb, "x_value")))
    restored, _ = plan.restore(nb, spec)
    assert sum(1 for c in restored.cells if nbio.grade_id(c) == "x_value") == 1


def test_phase_one_never_sees_hidden_tests_and_phase_two_injects_only_answers(course, spec):
    restored, _ = plan.restore(kit.reference(course), spec)
    p = plan.make_plan(restored)
    assert not any(kit.HIDDEN_MARK in c["source"] for c in p.student_cells)
    tests = {nbio.grade_id(restored.cells[c["i"]]): c for c in p.trusted_cells if c["role"] == "test"}
    assert kit.HIDDEN_MARK in tests["x_value"]["source"]
    assert "x" in tests["x_value"]["inject"] and "x" in tests["x_value"]["report"]
    assert not [n for n in tests["x_value"]["inject"] if n.startswith("_")]  # hidden helpers: never
    assert tests["x_value"]["report"] == ["x"]  # `checks` is imported by the cell itself
    assert "pd" not in tests["s_value"]["inject"]  # bound by the locked setup cell: never from the student
    assert "s" in tests["s_value"]["inject"]


def test_names_helpers():
    assert plan.loaded_names("y = f(x)\n%time z = w") >= {"f", "x"}
    assert plan.bound_names("for i in range(3):\n    total = i\nimport a.b") == {"i", "total", "a"}
    assert plan.strip_hidden("a\n### BEGIN HIDDEN TESTS\nb\n### END HIDDEN TESTS\nc") == "a\nc"
