"""Isolation with real accounts: what one person on the hub cannot reach of another's.

Self-contained (it does not rely on ``test_class``): the grader releases a case of its own,
both students fetch and submit it with nbgrader's commands, each with their own hub token (what
their JupyterLab does for them), the grader collects, grades and releases feedback; then every
boundary is tried as the student who should be stopped by it.
"""

from __future__ import annotations

import pytest

from course import ipynb
from tests.hub import kit, services

CASE = "case03_pharma_hr"
ALICE, BOB = services.STUDENTS


def nbgrader(dep, user, *args, check=False):
    return kit.nbgrader_as(dep, user, *args, check=check)


def denied(proc) -> bool:
    return proc.returncode != 0 and "ermission denied" in (proc.stderr + proc.stdout)


@pytest.fixture(scope="module")
def work(deployment):
    """Alice's and Bob's submissions of CASE, collected, graded, with feedback released."""
    dep = deployment
    nb_bin = kit.NBGRADER
    kit.release_cli(dep, CASE)
    for student in (ALICE, BOB):
        kit.submit_cli(dep, student, CASE, kit.solved(CASE))
    kit.grader(dep, nb_bin, "collect", CASE)
    graded = kit.course_cmd(dep, "grade", CASE, check=False)
    feedback = kit.course_cmd(dep, "feedback", CASE, check=False) if graded.returncode == 0 else graded
    released = kit.grader(dep, nb_bin, "release_feedback", CASE, check=False) if feedback.returncode == 0 else feedback
    inbound = dep.settings.exchange_root / services.COURSE_ID / "inbound"
    subs = {s: next(p for p in inbound.iterdir() if p.name.startswith(f"{s}+{CASE}+")) for s in (ALICE, BOB)}
    return {"subs": subs, "graded": graded, "released": released}


def test_a_student_cannot_list_the_inbound(deployment, work):
    inbound = deployment.settings.exchange_root / services.COURSE_ID / "inbound"
    assert denied(services.run("ls", inbound, user=BOB, check=False))


def test_a_student_cannot_read_another_submission_even_knowing_its_path(deployment, work):
    alice = work["subs"][ALICE]
    for target in (alice / f"{CASE}.ipynb", alice / "submission_secret.txt"):
        proc = services.run("cat", target, user=BOB, check=False)
        assert denied(proc), f"{BOB} read {target}: {proc.stdout[:200]}"
    assert denied(services.run("ls", alice, user=BOB, check=False))


def test_a_student_cannot_change_or_remove_another_submission(deployment, work):
    alice = work["subs"][ALICE]
    before = (alice / f"{CASE}.ipynb").read_bytes()
    for argv in (("touch", alice / "extra.txt"), ("rm", "-rf", alice),
                 ("sh", "-c", f"echo x >> '{alice / (CASE + '.ipynb')}'"),
                 ("mv", alice, alice.parent / f"{BOB}+{CASE}+stolen")):
        proc = services.run(*argv, user=BOB, check=False)
        assert proc.returncode != 0, f"{BOB} could run {argv}"
    assert (alice / f"{CASE}.ipynb").read_bytes() == before


def test_the_own_submission_stays_readable_by_its_author_and_the_grader(deployment, work):
    mine = work["subs"][BOB] / f"{CASE}.ipynb"
    assert services.run("cat", mine, user=BOB, check=False).returncode == 0
    assert services.run("cat", mine, user=services.GRADER, check=False).returncode == 0


def test_a_student_cannot_read_source_gradebook_or_grader_files(deployment, work):
    course = deployment.course
    for target in (course / "source" / CASE / f"{CASE}.ipynb", course / "nbgrader_config.py",
                   course / "submitted" / ALICE / CASE / f"{CASE}.ipynb", deployment.settings.grader_home):
        proc = services.run("ls" if target.is_dir() else "cat", target, user=BOB, check=False)
        assert denied(proc), f"{BOB} read {target}"
    # the solutions of the kit's own checkout (the single-user environment) are closed too
    proc = services.run("cat", services.ROOT / "source" / CASE / f"{CASE}.ipynb", user=BOB, check=False)
    assert denied(proc), "a student can read the kit checkout's source/"


@pytest.mark.parametrize("role", [BOB, services.GRADER])
def test_only_the_grader_gets_into_the_gradebook_database(deployment, work, role):
    """Peer authentication: Bob is refused, whether he asks as himself or as the grader."""
    pg = deployment.pg
    for claimed in (BOB, services.GRADER):
        proc = services.run("psql", "-h", pg.socket, "-p", pg.port, "-U", claimed, "-d", services.COURSE_ID,
                            "-tAc", "SELECT count(*) FROM grade", user=role, check=False)
        if role == services.GRADER and claimed == services.GRADER:
            assert proc.returncode == 0, proc.stderr
        else:
            refused = "authentication failed" in proc.stderr or "does not exist" in proc.stderr
            assert proc.returncode != 0 and refused, (role, claimed, proc.stderr)


def test_a_student_cannot_fetch_feedback_that_is_not_theirs(deployment, work):
    released = work["released"]
    assert released.returncode == 0, f"feedback was not released:\n{released.stdout[-2000:]}\n{released.stderr[-2000:]}"
    feedback_dir = deployment.settings.exchange_root / services.COURSE_ID / "feedback"
    assert len(list(feedback_dir.glob("*.html"))) >= 2  # (more if test_class ran before)
    assert denied(services.run("ls", feedback_dir, user=BOB, check=False))
    # asking for Alice's feedback by name gets Bob nothing of hers
    nbgrader(deployment, BOB, "fetch_feedback", CASE, f"--course={services.COURSE_ID}", f"--student={ALICE}")
    nbgrader(deployment, BOB, "fetch_feedback", CASE, f"--course={services.COURSE_ID}", check=True)
    pages = sorted((deployment.home(BOB) / CASE / "feedback").glob(f"*/{CASE}.html"))
    assert pages, "Bob did not get his own feedback"
    mine = sorted((deployment.course / "feedback" / BOB / CASE).glob("*.html"))
    theirs = sorted((deployment.course / "feedback" / ALICE / CASE).glob("*.html"))
    for page in pages:
        assert page.read_bytes() == mine[0].read_bytes(), f"{page} is not Bob's feedback"
        assert page.read_bytes() != theirs[0].read_bytes()


def test_another_students_home_is_closed(deployment, work):
    assert denied(services.run("ls", deployment.home(ALICE), user=BOB, check=False))


def test_a_student_outside_the_course_cannot_fetch_its_assignments(deployment, work):
    outsider = services.OUTSIDER
    listed = nbgrader(deployment, outsider, "list", f"--course={services.COURSE_ID}")
    assert CASE not in listed.stdout + listed.stderr, listed.stderr[-1500:]
    fetch = nbgrader(deployment, outsider, "fetch_assignment", CASE, f"--course={services.COURSE_ID}")
    assert fetch.returncode != 0 and "do not have access" in fetch.stderr + fetch.stdout, fetch.stderr[-1500:]
    assert not (deployment.home(outsider) / CASE).exists()
    # and around nbgrader, straight from the exchange: the course folder is closed to them
    outbound = deployment.settings.exchange_root / services.COURSE_ID / "outbound" / CASE
    assert denied(services.run("cp", "-r", outbound, deployment.home(outsider), user=outsider, check=False))
    # an enrolled student can (the same commands work for them)
    enrolled = nbgrader(deployment, ALICE, "list", f"--course={services.COURSE_ID}")
    assert CASE in enrolled.stdout + enrolled.stderr, enrolled.stderr[-1500:]


def test_the_outsider_sees_no_course_in_the_assignment_list(deployment, people, work):
    from playwright.sync_api import expect

    from tests.browser import pages as lab_pages

    page = people.lab(services.OUTSIDER)
    lab_pages.open_assignment_list(page)
    assert not lab_pages.listed_names(page, "released"), lab_pages.listed_names(page, "released")
    expect(page.locator("#released_assignments_list")).not_to_contain_text(CASE)
    page.close()


def test_graded_notebooks_stay_with_the_grader(deployment, work):
    assert work["graded"].returncode == 0, work["graded"].stderr[-2000:]
    autograded = deployment.course / "autograde" / ALICE / CASE / f"{CASE}.ipynb"
    assert ipynb.read(autograded).cells
    assert denied(services.run("cat", autograded, user=ALICE, check=False))
