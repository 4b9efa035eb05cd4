"""Bad input on the hub: a broken notebook submitted through the exchange, a submission without
its notebook, a student id the gradebook does not know, a release with a missing notebook, and
the PostgreSQL gradebook going down in the middle of ``course grade``. Each must end with a clear
message, nothing graded twice, nothing lost, and grading must resume once the database is back.

Self-contained: it uses a case of its own (``CASE``), released and submitted with nbgrader's
commands in each person's terminal.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.hub import kit, services

CASE = "case05_insurance_crm"
ALICE, BOB = services.STUDENTS


@pytest.fixture(scope="module")
def collected(deployment):
    """Alice submits the solution; Bob submits a notebook that is not JSON; collected."""
    dep = deployment
    kit.release_cli(dep, CASE)
    kit.submit_cli(dep, ALICE, CASE, kit.solved(CASE))
    kit.nbgrader_as(dep, BOB, "fetch_assignment", CASE, f"--course={services.COURSE_ID}", check=True)
    broken = dep.home(BOB) / CASE / f"{CASE}.ipynb"
    text = broken.read_text(encoding="utf-8")
    broken.write_text(text[: len(text) // 2], encoding="utf-8")  # a save cut off half-way
    kit.nbgrader_as(dep, BOB, "submit", CASE, f"--course={services.COURSE_ID}", check=True)
    kit.grader(dep, kit.NBGRADER, "collect", CASE)
    return dep


def _snapshot(dep) -> dict[str, bytes]:
    folder = dep.course / "submitted"
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file() and CASE in str(p)}


def test_a_broken_notebook_is_reported_and_the_rest_graded(collected):
    dep = collected
    before = _snapshot(dep)
    proc = kit.course_cmd(dep, "grade", CASE, check=False)
    out = proc.stdout + proc.stderr
    assert BOB in out and ("not valid" in out.lower() or "malformed" in out.lower() or "json" in out.lower()), out[-3000:]
    got = kit.scores(dep, CASE)
    assert got[ALICE]["auto"] == pytest.approx(kit.max_points(CASE)[0]), got
    assert _snapshot(dep) == before, "grading changed a submitted file"


def test_grading_again_grades_nothing_twice(collected):
    dep = collected
    first = kit.scores(dep, CASE)
    proc = kit.course_cmd(dep, "grade", CASE, check=False)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    again = kit.scores(dep, CASE)
    assert again == first, (first, again)
    assert all(v["submissions"] == 1 for v in again.values()), again


def test_a_student_the_gradebook_does_not_know(collected):
    proc = kit.course_cmd(collected, "grade", CASE, "--student", "nobody-enrolled", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "nobody-enrolled" in out, out[-2000:]
    assert "nobody-enrolled" not in kit.scores(collected, CASE)


def test_a_submission_without_its_notebook(collected):
    """Alice submits again having renamed her notebook: collect takes the later submission,
    ``course grade`` says what is missing, and her files are kept as they came."""
    dep = collected
    work = dep.home(ALICE) / CASE
    (work / f"{CASE}.ipynb").rename(work / "my copy.ipynb")
    kit.nbgrader_as(dep, ALICE, "submit", CASE, f"--course={services.COURSE_ID}", check=True)
    kit.grader(dep, kit.NBGRADER, "collect", CASE, "--update")
    assert (dep.course / "submitted" / ALICE / CASE / "my copy.ipynb").is_file()
    proc = kit.course_cmd(dep, "grade", CASE, "--student", ALICE, check=False)
    out = proc.stdout + proc.stderr
    assert ALICE in out and "missing" in out.lower() and f"{CASE}.ipynb" in out, out[-3000:]
    assert (dep.course / "submitted" / ALICE / CASE / "my copy.ipynb").is_file()


def test_a_release_with_a_missing_notebook_is_refused(deployment):
    """The instructor's release folder lost its notebook: releasing says so instead of giving
    the students an empty assignment."""
    dep = deployment
    case = "case06_marketing_reform"
    kit.grader(dep, kit.NBGRADER, "generate_assignment", case, "--force")
    (dep.course / "release" / case / f"{case}.ipynb").unlink()
    proc = kit.grader(dep, kit.NBGRADER, "release_assignment", case, "--force", check=False)
    outbound = dep.settings.exchange_root / services.COURSE_ID / "outbound" / case
    released = sorted(p.name for p in outbound.glob("*.ipynb")) if outbound.is_dir() else []
    assert proc.returncode != 0 or released, (
        f"nbgrader released {case} without its notebook and said:\n{proc.stdout[-1500:]}{proc.stderr[-1500:]}")


def _descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, command name) of every process below ``pid``, read from /proc."""
    parents: dict[int, list[tuple[int, str]]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # it ended while we looked
        name = text[text.index("(") + 1: text.rindex(")")]
        ppid = int(text[text.rindex(")") + 2:].split()[1])
        parents.setdefault(ppid, []).append((int(stat.parent.name), name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child[0])
    return found


def _wait_for_a_sandbox_under(proc: subprocess.Popen, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if any(name == "bwrap" for _, name in _descendants(proc.pid)):
            return
        if proc.poll() is not None:
            raise AssertionError(f"course grade ended before any sandbox started:\n{proc.stdout.read()[-3000:]}")
        time.sleep(0.05)
    raise AssertionError(f"no sandbox under course grade after {timeout:g} s")


def test_database_down_while_grading_then_resumes(collected):
    dep = collected
    before = _snapshot(dep)
    argv = ["runuser", "-u", services.GRADER, "--", "env", f"PATH={services.ROOT / '.venv' / 'bin'}:/usr/bin:/bin",
            f"HOME={dep.settings.grader_home}", str(services.ROOT / ".venv" / "bin" / "course"), "grade", CASE]
    proc = subprocess.Popen(argv, cwd=dep.course, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # grading has started once a sandbox runs under the grader; until then it has only read the
        # gradebook (a fixed sleep could outlast a fast grade and stop the database after it ended)
        _wait_for_a_sandbox_under(proc)
        dep.pg.stop()
        time.sleep(30)  # the database stays down for a while
    finally:
        dep.pg.start_again()
    try:
        out, _ = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    lowered = out.lower()
    # either it waited for the database and finished, or it stopped with a clear message
    assert "database" in lowered or "gradebook" in lowered, f"no clear message about the database:\n{out[-3000:]}"
    assert "traceback" not in lowered, f"a traceback instead of a message:\n{out[-3000:]}"
    assert _snapshot(dep) == before, "a submission was lost or changed"
    # the database is back: grading again completes, each student once
    again = kit.course_cmd(dep, "grade", CASE, check=False)
    got = kit.scores(dep, CASE)
    assert got[ALICE]["submissions"] == 1 and got[ALICE]["auto"] >= 0, (again.stdout[-2000:], got)
    assert json.dumps(sorted(got)) == json.dumps(sorted({ALICE, BOB} & set(got))), got
