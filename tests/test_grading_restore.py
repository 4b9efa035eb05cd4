"""The notebook's structure and order are restored from the gradebook, whatever the student did."""

from __future__ import annotations

import copy

import nbformat
import pytest

from course import cells
from course.grading import plan, restore, specs
from tests import grading_kit as kit


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return kit.make_course(tmp_path_factory.mktemp("plan"))


@pytest.fixture(scope="module")
def spec(course):
    return specs.load(course.db_url, kit.ASSIGNMENT, course.release(kit.ASSIGNMENT))[kit.ASSIGNMENT]


def ids(nb):
    return [cells.grade_id(c) for c in nb.cells if cells.grade_id(c)]


def test_gradebook_holds_hidden_tests_and_release_order(spec):
    assert kit.HIDDEN_MARK in spec.cells["x_value"].source
    assert spec.order.index("setup") < spec.order.index("x_value") < spec.order.index("s_value")
    assert spec.max_auto == 5


def test_edited_test_and_locked_cells_are_restored(course, spec):
    nb = kit.blank(course)
    kit.cell(nb, "x_value").source = "pass"
    kit.cell(nb, "setup").source = "x = 3.0"
    restored, notes = restore.restore(nb, spec)
    assert kit.cell(restored, "x_value").source == spec.cells["x_value"].source
    assert kit.cell(restored, "setup").source == spec.cells["setup"].source
    assert any("setup" in n and "edited" in n for n in notes)


def test_an_untouched_release_needs_no_note(course, spec):
    restored, notes = restore.restore(kit.reference(course), spec)
    assert notes == [] and ids(restored) == ids(kit.reference(course))


def test_deleted_test_and_setup_cells_come_back_in_place(course, spec):
    nb = kit.blank(course)
    nb.cells = [c for c in nb.cells if cells.grade_id(c) not in ("x_value", "setup")]
    restored, notes = restore.restore(nb, spec)
    order = ids(restored)
    assert order.index("setup") < order.index("x_answer") < order.index("x_value") < order.index("s_answer")
    assert len([n for n in notes if "deleted" in n]) == 2


def test_a_locked_cell_moved_below_the_tests_is_put_back_and_reported(course, spec):
    """Issue 10 (1): the instructor's order decides which names trusted cells define before a test."""
    nb = kit.reference(course)
    setup = kit.cell(nb, "setup")
    nb.cells.remove(setup)
    nb.cells.append(setup)  # a plain drag to the bottom in JupyterLab
    restored, notes = restore.restore(nb, spec)
    assert ids(restored) == ids(kit.reference(course))
    assert any("out of the instructor's order" in n for n in notes)
    p = plan.make_plan(restored)
    test = next(c for c in p.trusted_cells if restored.cells[c["i"]].metadata.nbgrader["grade_id"] == "s_value")
    assert "pd" not in test["inject"]  # bound by the setup cell, which runs first again


def test_student_cells_keep_their_place_after_the_graded_cell_they_followed(course, spec):
    nb = kit.reference(course)
    x_answer = next(i for i, c in enumerate(nb.cells) if cells.grade_id(c) == "x_answer")
    helper = nbformat.v4.new_code_cell("helper = 1")
    nb.cells.insert(x_answer + 1, helper)
    moved = kit.cell(nb, "s_answer")
    nb.cells.remove(moved)
    nb.cells.insert(1, moved)  # the student's answer to Q2 dragged to the top
    restored, notes = restore.restore(nb, spec)
    sources = [c.source for c in restored.cells]
    assert sources.index("helper = 1") == sources.index(kit.cell(restored, "x_answer").source) + 1
    assert ids(restored) == ids(kit.reference(course))
    assert any("'s_answer'" in n for n in notes)


def test_out_of_order_names_the_fewest_cells():
    assert restore.out_of_order(list("abcd"), list("abcd")) == []
    assert len(restore.out_of_order(list("acbd"), list("abcd"))) == 1
    assert restore.out_of_order(list("dabc"), list("abcd")) == ["d"]


def test_metadata_tampering_cannot_turn_a_test_into_something_else(course, spec):
    nb = kit.blank(course)
    meta = kit.cell(nb, "x_value").metadata.nbgrader
    meta.update(solution=True, points=100, locked=False)
    kit.cell(nb, "s_value").metadata.nbgrader["grade"] = False
    fake = nbformat.v4.new_code_cell("x = 3.0", metadata={"nbgrader": {"grade": True, "grade_id": "bonus", "points": 50,
                                                                        "solution": False, "locked": True}})
    nb.cells.append(fake)
    restored, _ = restore.restore(nb, spec)
    x = kit.cell(restored, "x_value").metadata.nbgrader
    assert (x["solution"], x["points"], x["grade"]) == (False, 2.0, True)
    assert kit.cell(restored, "s_value").metadata.nbgrader["grade"] is True
    assert "nbgrader" not in restored.cells[-1].metadata  # unknown grade id: a plain cell
    assert cells.role(restored.cells[-1]) == "free"


def test_duplicated_cells_keep_only_the_last_copy(course, spec):
    nb = kit.blank(course)
    nb.cells.insert(1, copy.deepcopy(kit.cell(nb, "x_value")))
    restored, notes = restore.restore(nb, spec)
    assert sum(1 for c in restored.cells if cells.grade_id(c) == "x_value") == 1
    assert any("duplicate" in n for n in notes)


def test_phase_one_never_sees_hidden_tests_and_phase_two_injects_only_answers(course, spec):
    restored, _ = restore.restore(kit.reference(course), spec)
    p = plan.make_plan(restored)
    assert not any(kit.HIDDEN_MARK in c["source"] for c in p.student_cells)
    tests = {cells.grade_id(restored.cells[c["i"]]): c for c in p.trusted_cells if c["role"] == "test"}
    assert kit.HIDDEN_MARK in tests["x_value"]["source"]
    assert "x" in tests["x_value"]["inject"] and "x" in tests["x_value"]["report"]
    assert not [n for n in tests["x_value"]["inject"] if n.startswith("_")]  # hidden helpers: never
    assert tests["x_value"]["report"] == ["x"]  # `checks` is imported by the cell itself
    assert "pd" not in tests["s_value"]["inject"]  # bound by the locked setup cell: never from the student
    assert "s" in tests["s_value"]["inject"]


def test_names_helpers():
    assert plan.loaded_names("y = f(x)\n%time z = w") >= {"f", "x"}
    assert plan.bound_names("for i in range(3):\n    total = i\nimport a.b") == {"i", "total", "a"}


@pytest.mark.parametrize("source, message", [
    ("a\n### BEGIN HIDDEN TESTS\nb\n### BEGIN HIDDEN TESTS\nc\n### END HIDDEN TESTS", "nested"),
    ("a\n### BEGIN HIDDEN TESTS\nb", "no END HIDDEN TESTS"),
])
def test_hidden_regions_follow_nbgrader_rules(source, message):
    """Nested or unterminated hidden regions are errors, as in nbgrader's ClearHiddenTests."""
    from nbgrader.preprocessors import ClearHiddenTests

    cell = nbformat.v4.new_code_cell(source, metadata={"nbgrader": cells.metadata("t", grade=True, points=1)})
    with pytest.raises(RuntimeError):
        ClearHiddenTests().preprocess_cell(cell, {}, 0)
    with pytest.raises(ValueError, match=message):
        cells.strip_hidden(source)
    assert cells.strip_hidden("a\n### BEGIN HIDDEN TESTS\nb\n### END HIDDEN TESTS\nc") == "a\nc"
