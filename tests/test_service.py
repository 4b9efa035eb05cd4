"""The grading service (``course serve``) as a real process on a scratch course with its own exchange.

Three scenarios, each one service run on :mod:`tests.grading_kit`'s assignment:

- **a burst with a crash**: honest submissions (reference, half, a wrong answer that passes the
  visible check, a resubmission) arrive; the service is SIGKILLed while grading and started
  again. Nothing is lost, nothing graded twice, the gradebook matches ``course grade`` on the
  same submissions cell by cell, and each student's page shows what the policy allows;
- **a hostile student** submits attacks back to back while others submit: the attacks are
  graded 0 with their problem, never two at once, and the others are graded meanwhile;
- **a tight loop**: a student submits eight times at once; two are graded (the hourly limit),
  the rest are kept and, once the window has passed, the latest is graded; another student is
  graded meanwhile.
"""

from __future__ import annotations

import time
from itertools import pairwise

import pytest

from course import cells
from course.gradebook import read_score
from course.grading import batch
from course.grading.sandbox import Limits
from course.service import inbox, pages, policy, store
from course.service.serve import home
from tests import grading_kit as kit
from tests import service_kit as sk

pytestmark = pytest.mark.sandbox


@pytest.fixture(scope="module", autouse=True)
def _no_service_left():
    """Every ``course serve`` a fixture or test started is stopped, whatever happened."""
    yield
    sk.stop_all()
A = kit.ASSIGNMENT


def points() -> dict[str, float]:
    """Points of each test cell, from the kit's own source cells."""
    return {cells.grade_id(c): float(cells.nbgrader(c)["points"]) for c in kit.SOURCE_CELLS
            if cells.nbgrader(c).get("grade") and not cells.nbgrader(c).get("solution")}


@pytest.fixture(autouse=True)
def _default_data(monkeypatch):
    monkeypatch.setenv("COURSE_VARIANTS", "off")


# ---- unit: policy and what a page may show -------------------------------------------------------


def test_policy_per_assignment_overrides_the_default():
    parsed = policy.Policies.parse({"before_due": "score", "attempts_total": 5,
                                    "assignments": {"a1": {"before_due": "full", "attempts_per_hour": 1}}})
    assert parsed.get("a1") == policy.Policy(before_due="full", after_due="full", attempts_per_hour=1, attempts_total=5)
    assert parsed.get("other").before_due == "score"
    for bad in ({"attempts_total": -1}, {"after_due": "all"}, {"surprise": 1}, {"assignments": {"a1": 3}}):
        with pytest.raises(Exception, match="tool.course.service"):
            policy.Policies.parse(bad)


def _test_cell(source: str, line: int | None, ename: str = "CheckFailed", evalue: str = "`x` is wrong"):
    import nbformat

    cell = nbformat.v4.new_code_cell(source)
    tb = [f"Cell In[3], line {line}\n  ...", f"{ename}: {evalue}"] if line else [f"{ename}: {evalue}"]
    cell.outputs = [nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=tb)]
    return cell


def test_a_failure_inside_the_hidden_tests_never_shows_its_message():
    source = "checks.check_number(x, 'x')\n### BEGIN HIDDEN TESTS\nchecks.expect_close(x, 3.0, 'x')\n### END HIDDEN TESTS"
    markers = kit.COURSE.markers
    assert pages.visible_message(_test_cell(source, 1), markers) == "CheckFailed: `x` is wrong"
    assert pages.visible_message(_test_cell(source, 3, evalue="expected 3.0"), markers) is None
    assert pages.visible_message(_test_cell(source, None), markers) is None  # not sure where: not shown
    assert pages.visible_message(_test_cell(source, None, "NotReached", "the notebook stopped"), markers) == \
        "the notebook stopped"


# ---- scenario 1: a burst, a crash in the middle, a restart ---------------------------------------


@pytest.fixture(scope="module")
def burst(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("COURSE_VARIANTS", "off")
    base = tmp_path_factory.mktemp("burst")
    course = sk.with_exchange(kit.make_course(base / "course"), base / "exchange", 'before_due = "checks"')
    wrong = kit.with_answer(kit.reference(course), "x_answer", "x = 2.0")  # passes the visible check only
    plan = [("ref", kit.reference(course)), ("half", kit.partial(course)), ("wrong", wrong),
            ("blank", kit.blank(course)), ("again", kit.partial(course)), ("ref2", kit.reference(course))]
    names = {}
    service = sk.ServeProcess(course, "--jobs", "2", "--timeout", "30").start()
    for student, nb in plan:
        names[student] = [sk.submit(course, student, nb)]
    sk.wait_for("one attempt graded and one being graded",
                lambda: {"done", "running"} <= {a.state for a in sk.attempts(course)}, 240, service)
    service.kill()  # a crash: whatever was being graded is lost with the process
    crashed = {a.name: a.state for a in sk.attempts(course)}
    names["again"].append(sk.submit(course, "again", kit.reference(course), when=sk.later(1)))  # while it is down
    service = sk.ServeProcess(course, "--jobs", "2", "--timeout", "30").start()
    everyone = [n for ns in names.values() for n in ns]
    sk.wait_for("every attempt graded and shown", lambda: len(sk.attempts(course)) == len(everyone) and all(
        a.delivered for a in sk.attempts(course)), 400, service)
    status = sk.status(course)
    service.stop()
    yield course, names, crashed, status
    mp.undo()


def test_nothing_lost_nothing_graded_twice_after_a_crash(burst):
    course, names, crashed, status = burst
    assert "running" in crashed.values()  # the crash really interrupted a grading run
    rows = {a.name: a for a in sk.attempts(course)}
    assert set(rows) == {n for ns in names.values() for n in ns}
    for name, attempt in rows.items():
        assert attempt.state == "done" and attempt.gradings == 1, (name, attempt)
        assert attempt.delivered == "checks"
    interrupted = [rows[n] for n, state in crashed.items() if state == "running"]
    assert all(a.tries == 2 for a in interrupted)  # graded again once, after the restart
    assert status["queue"] == 0 and not status["failures"] and status["counts"]["done"] == len(rows)


def test_the_gradebook_has_each_student_once_with_the_latest_attempt(burst):
    course, names, _, _ = burst
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url) as gb:
        subs = [(s.student.id, s.assignment.name) for s in gb.assignment_submissions(A)]
    assert sorted(subs) == sorted((student, A) for student in names)
    total = sum(points().values())
    expected = {"ref": total, "ref2": total, "half": points()["x_value"], "blank": 0.0,
                "wrong": points()["s_value"], "again": total}  # "again" resubmitted a reference
    assert {s: read_score(course, A, s).auto for s in names} == expected
    latest = {a.student: a for a in sorted(sk.attempts(course), key=lambda a: a.submitted)}
    assert latest["again"].recorded == "yes" and latest["again"].score == total


def test_service_scores_are_course_grades_cell_by_cell(burst, tmp_path):
    """``course grade`` on the submissions the service recorded gives the very same cells."""
    course, names, _, _ = burst
    before = {s: read_score(course, A, s).cells for s in names}
    autograded = {s: (course.autograded(s, A) / f"{A}.ipynb").read_text() for s in names}
    result = batch.grade(course, A, batch.Options(jobs=2, limits=Limits(cell_timeout=30)))
    assert not any(o.failed for o in result.outcomes)
    assert {s: read_score(course, A, s).cells for s in names} == before

    def tests_of(text):
        import json

        nb = json.loads(text)
        return [(c["metadata"]["nbgrader"].get("grade_id"), [(o.get("output_type"), o.get("ename"), o.get("evalue"))
                                                             for o in c.get("outputs", [])])
                for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade")]

    for student in names:
        assert tests_of(autograded[student]) == tests_of((course.autograded(student, A) / f"{A}.ipynb").read_text())


def test_checks_page_shows_visible_messages_only(burst):
    course, names, _, _ = burst
    half = sk.feedback_page(course, names["half"][0])
    wrong = sk.feedback_page(course, names["wrong"][0])
    assert half is not None and wrong is not None
    assert f"Score: {points()['x_value']:g} / {sum(points().values()):g}" in half
    assert "name &#x27;s&#x27; is not defined" in half  # the visible check's message
    assert pages.HIDDEN_FAILED in wrong and "expect_close" not in wrong  # the hidden test's failure: no message
    for page in (half, wrong):
        assert kit.HIDDEN_MARK not in page and "BEGIN HIDDEN" not in page and "<script" not in page


def test_each_policy_level_shows_what_it_promises(burst):
    course, names, _, _ = burst
    from course.grading import specs

    spec = specs.load(course.db_url, A)
    attempt = next(a for a in sk.attempts(course) if a.name == names["half"][0])
    outcome = store.load(home(course) / "attempts" / inbox.key(attempt.name))
    ctx = pages.Context(course.course_id, A, "half", attempt.submitted, None, 2.0, 5.0, 0.0, 1.0)
    shown = {level: pages.pages_for(level, ctx, outcome, spec, course.markers, lambda name: "FULL PAGE")[A]
             for level in policy.LEVELS}
    assert "Score" not in shown["nothing"] and "received" in shown["nothing"]
    assert "Score: 2 / 5" in shown["score"] and "x_value" not in shown["score"]
    assert "x_value" in shown["checks"] and "s_value" in shown["checks"]
    assert shown["full"] == "FULL PAGE"


def test_after_the_due_date_the_latest_attempts_get_full_feedback(burst):
    course, names, _, _ = burst
    from datetime import datetime, timedelta

    from nbgrader.api import Gradebook

    with Gradebook(course.db_url) as gb:
        gb.update_or_create_assignment(A, duedate=datetime.utcnow() - timedelta(minutes=1))
    service = sk.ServeProcess(course, "--jobs", "1").start()
    try:
        def upgraded():
            latest = {a.student: a for a in sorted(sk.attempts(course), key=lambda a: a.submitted)}
            return all(a.delivered == "full" for a in latest.values())
        sk.wait_for("full feedback for the recorded attempts", upgraded, 120, service)
    finally:
        service.stop()
    page = sk.feedback_page(course, names["half"][0])
    assert page is not None and "Content-Security-Policy" in page and kit.HIDDEN_MARK not in page
    older = next(a for a in sk.attempts(course) if a.name == names["again"][0])
    assert older.delivered == "checks"  # a later attempt is the gradebook's: never its full page


# ---- scenario 2: a hostile student cannot hold up the others ------------------------------------


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    from tests.test_grading_hostile import ATTACKS

    mp = pytest.MonkeyPatch()
    mp.setenv("COURSE_VARIANTS", "off")
    base = tmp_path_factory.mktemp("hostile")
    course = sk.with_exchange(kit.make_course(base / "course"), base / "exchange",
                              'before_due = "score"\nattempts_per_hour = 0\nattempts_total = 0')
    blank = kit.blank(course)
    attacks = ["h_infinite_loop", "h_ignores_timeout", "h_fork_bomb"]
    service = sk.ServeProcess(course, "--jobs", "2", "--timeout", "8", "--notebook-timeout", "20",
                              "--memory", "1G").start()
    for name in attacks:
        sk.submit(course, "mallory", kit.with_cell(blank, ATTACKS[name][0]))
    time.sleep(1.5)
    for student in ("ann", "ben", "cat"):
        sk.submit(course, student, kit.reference(course))
    sk.wait_for("everything graded", lambda: len(sk.attempts(course)) == 6 and all(
        a.state == "done" and a.delivered for a in sk.attempts(course)), 400, service)
    service.stop()
    yield course, attacks
    mp.undo()


def test_attacks_are_graded_zero_one_at_a_time(hostile):
    course, attacks = hostile
    mine = sorted((a for a in sk.attempts(course) if a.student == "mallory"), key=lambda a: a.started)
    assert len(mine) == len(attacks) and all(a.score == 0 for a in mine)
    assert "was stopped after 8 s" in (mine[0].cause or "")
    for earlier, later in pairwise(mine):
        assert later.started >= earlier.finished - 0.5  # one worker at most for one student
    assert max(a.seconds for a in mine) < 20 + 30  # each within its own notebook limit (plus start-up)


def test_the_others_are_graded_while_the_attacks_run(hostile):
    course, _ = hostile
    rows = sk.attempts(course)
    mine = [a for a in rows if a.student == "mallory"]
    attack_span = (min(a.started for a in mine), max(a.finished for a in mine))
    for a in (a for a in rows if a.student != "mallory"):
        assert a.score == sum(points().values())
        assert a.finished < attack_span[1], f"{a.student} waited for the attacker"
        assert a.started - a.noticed < 20 + 30  # never queued behind more than one attack's limit


# ---- scenario 3: a student submitting in a tight loop --------------------------------------------


@pytest.fixture(scope="module")
def looped(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("COURSE_VARIANTS", "off")
    base = tmp_path_factory.mktemp("loop")
    course = sk.with_exchange(kit.make_course(base / "course"), base / "exchange",
                              'before_due = "score"\nattempts_per_hour = 2\nattempts_total = 10\nattempt_window = 45')
    service = sk.ServeProcess(course, "--jobs", "2").start()
    loop = [sk.submit(course, "looper", kit.partial(course) if k < 7 else kit.reference(course), when=sk.later(k * 0.01))
            for k in range(8)]
    time.sleep(1.0)
    other = sk.submit(course, "other", kit.reference(course))
    sk.wait_for("the other student graded", lambda: any(a.student == "other" and a.state == "done"
                                                        for a in sk.attempts(course)), 240, service)
    during = sk.attempts(course)
    sk.wait_for("the latest kept attempt graded after the window", lambda: any(
        a.name == loop[-1] and a.state == "done" and a.delivered for a in sk.attempts(course)), 300, service)
    status = sk.status(course)
    service.stop()
    yield course, loop, other, during, status
    mp.undo()


def test_a_tight_loop_gets_the_attempt_limit_and_loses_nothing(looped):
    course, loop, other, during, _ = looped
    rows = {a.name: a for a in sk.attempts(course)}
    assert set(loop) <= set(rows)  # every attempt is kept
    mine = [rows[n] for n in loop]
    assert sum(a.gradings for a in mine) == 3  # two in the first window, the latest after it
    assert [a.state for a in mine[:2]] == ["done", "done"]
    assert all(a.state == "superseded" for a in mine[2:-1])
    assert mine[-1].state == "done" and mine[-1].admitted >= mine[0].admitted + 45 - 1
    assert read_score(course, A, "looper").auto == sum(points().values())  # the latest one counts
    deferred_then = [a for a in during if a.student == "looper" and a.state == "deferred"]
    assert len(deferred_then) == 6 and all("attempt limit" in (a.cause or "") for a in deferred_then)


def test_the_looper_never_holds_more_than_one_worker(looped):
    course, loop, other, _, _ = looped
    rows = sorted((a for a in sk.attempts(course) if a.student == "looper" and a.started), key=lambda a: a.started)
    for earlier, later in pairwise(rows):
        assert later.started >= earlier.finished - 0.5
    mine = next(a for a in sk.attempts(course) if a.name == other)
    assert mine.score == sum(points().values()) and mine.started - mine.noticed < 60


def test_a_deferred_attempt_tells_the_student_when(looped):
    course, loop, _, _, status = looped
    page = sk.feedback_page(course, loop[3])  # told it was kept; then that a later one was graded instead
    assert page is not None and "kept, not graded" in page and "in its place" in page
    first = next(a for a in sk.attempts(course) if a.name == loop[0])
    assert first.delivered == "score"
    assert status["counts"].get("superseded") == 5
