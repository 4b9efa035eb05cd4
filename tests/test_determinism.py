"""Issue 18: the same submissions always get the same scores, whatever the worker count, the
order, the load on the machine, or an edit to the installed package while the batch runs."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from course.grading import batch
from course.grading.sandbox import Limits, course_package_dir
from course.layout import Course
from tests import grading_kit as kit

pytestmark = pytest.mark.sandbox
A = kit.ASSIGNMENT
LIMITS = Limits(cell_timeout=8, notebook_timeout=120, memory=1024 * 2**20)


def mixed_class(course: Course) -> None:
    blank = kit.blank(course)
    kit.submit(course, "ref", kit.reference(course))
    kit.submit(course, "half", kit.partial(course))
    kit.submit(course, "blank", blank)
    moved = kit.with_cell(blank, "x = 99.0\nx_target = 99.0")
    params = kit.cell(moved, "params")
    moved.cells.remove(params)
    moved.cells.append(params)
    kit.submit(course, "moved_locked", moved)
    deleted = kit.reference(course)
    deleted.cells = [c for c in deleted.cells if kit.cells.grade_id(c) != "x_value"]
    kit.submit(course, "deleted_test", deleted)
    # a reference that also prints without end: IPython 9 kept every byte of it in memory, so
    # whether it died before its limit depended on the machine's speed
    kit.submit(course, "runaway_print_ref", kit.with_cell(kit.reference(course), "while True:\n    print('x' * 5000)"))


def scores(course: Course) -> dict:
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(course.db_url) as gb:
        for student in course.students(A):
            sub = gb.find_submission(A, student)
            out[student] = {g.name: g.auto_score for nb in sub.notebooks for g in nb.grades}
    return out


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("COURSE_VARIANTS", "on")
    base = tmp_path_factory.mktemp("determinism")
    first = kit.make_course(base / "template")
    mixed_class(first)
    results = []
    for k, (jobs, reverse, load) in enumerate([(1, False, False), (2, True, True), (4, False, False)]):
        course = Course.load(Path(shutil.copytree(first.root, base / f"run{k}")))
        names = course.students(A)
        mp.setattr(Course, "students", lambda self, a, names=names, reverse=reverse: sorted(names, reverse=reverse))
        spinner = multiprocessing.Process(target=_spin, args=(600,)) if load else None
        if spinner:
            spinner.start()
        try:
            batch.grade(course, A, batch.Options(jobs=jobs, limits=LIMITS))
        finally:
            if spinner:
                spinner.kill()
                spinner.join()
        results.append(scores(course))
    mp.undo()
    return results


def test_every_run_gives_the_same_score_cell_by_cell(runs):
    first = runs[0]
    assert set(first) == {"ref", "half", "blank", "moved_locked", "deleted_test", "runaway_print_ref"}
    for other in runs[1:]:
        assert other == first


def test_the_class_scores_what_it_earns(runs):
    got = runs[0]
    assert got["ref"]["x_value"] == 2 and got["ref"]["s_value"] == 3
    assert got["runaway_print_ref"]["x_value"] == 2 and got["runaway_print_ref"]["s_value"] == 3
    assert got["moved_locked"]["x_value"] == 0 and got["blank"]["s_value"] == 0


GRADER = textwrap.dedent("""\
    import json, pathlib, sys
    sys.path.insert(0, {copy_parent!r})
    import course
    assert course.__file__.startswith({copy_parent!r}), course.__file__
    from course.grading import batch
    from course.grading.sandbox import Limits
    from course.layout import Course
    values = pathlib.Path(course.__file__).parent / "sandboxed" / "values.py"
    edited_after = []

    def sabotage(outcome, done, total):  # once the first result is in, the installed package changes
        if done == 1:  # under the batch: a new version of the value format would carry every float
            text = values.read_text()  # doubled to the tests of the notebooks still to grade
            values.write_text(text.replace("    if math.isfinite(x):\\n        return x\\n",
                                           "    if math.isfinite(x):\\n        return x * 2\\n"))
            edited_after.append((done, total))

    c = Course.load(pathlib.Path({course!r}))
    result = batch.grade(c, {assignment!r}, batch.Options(jobs=1, limits=Limits(cell_timeout=20)), on_result=sabotage)
    print(json.dumps({{"edited_after": edited_after, "scores": {{o.student: o.auto_score for o in result.outcomes}}}}))
""")


@pytest.mark.parametrize("server", ["on", "off"])
def test_an_edit_to_the_package_mid_batch_changes_no_score(tmp_path, server):
    """A batch grades every notebook on the package as it was when the batch started.

    With the fork server, its preloaded modules predate the edit; without it (off, or on a hub
    where it cannot start), every runner and the evaluator import the package afresh: only the
    batch's frozen copy keeps the edit out."""
    copy_parent = tmp_path / "site"
    shutil.copytree(course_package_dir(), copy_parent / "course", ignore=shutil.ignore_patterns("__pycache__"))
    course = kit.make_course(tmp_path / "c")
    for k in range(6):
        kit.submit(course, f"ref{k}", kit.reference(course))
    script = GRADER.format(copy_parent=str(copy_parent), course=str(course.root), assignment=A)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "COURSE_VARIANTS": "off", "COURSE_FORKSERVER": server}, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "return x * 2" in (copy_parent / "course" / "sandboxed" / "values.py").read_text()  # it did change
    assert got["edited_after"] == [[1, 6]]  # five notebooks were still to grade when it changed
    assert got["scores"] == {f"ref{k}": 5.0 for k in range(6)}
