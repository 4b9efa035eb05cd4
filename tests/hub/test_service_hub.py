"""The grading service on the hub: a student submits and reads their feedback, no instructor involved.

``course serve`` runs as the course's grader account with the command JupyterHub would run as a
managed service (:func:`course.service.hub.managed_service`). A student submits through nbgrader
with their own hub token; the assignment list in their JupyterLab then offers *Fetch Feedback*
for that submission, and the page shows what the course's policy allows before the due date
(``checks``: per question passed or not, never a hidden test). Another student cannot read it,
and a submission folder that claims to be someone else's is refused.
"""

from __future__ import annotations

import os
import pwd
import re
import sqlite3
import subprocess
import time

import pytest
from playwright.sync_api import expect

from course.authoring import submissions
from course.service.hub import managed_service
from tests.browser import pages
from tests.hub import kit, services

ALICE, BOB = services.STUDENTS
CASE = kit.CASE_ON_TIME


def _ledger(dep) -> list[dict]:
    path = dep.course / ".course-service" / "queue.sqlite3"
    if not path.is_file():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM attempts ORDER BY id")]
    finally:
        db.close()


@pytest.fixture(scope="module")
def grading_service(deployment):
    kit.release_cli(deployment, CASE)  # released (again) with its due date kept: before the due date
    entry = managed_service(deployment.settings, jobs=2)
    log = (deployment.base / "course-serve.log").open("a")
    env = {"LANG": "C.UTF-8", **entry["environment"]}
    argv = ["runuser", "-u", entry["user"], "--", "env", "-i", *[f"{k}={v}" for k, v in env.items()], *entry["command"]]
    proc = subprocess.Popen(argv, cwd=entry["cwd"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    time.sleep(2)
    assert proc.poll() is None, (deployment.base / "course-serve.log").read_text()[-3000:]
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 15)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
        log.close()


def _wait(what: str, predicate, timeout: float, dep):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = predicate()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}:\n{(dep.base / 'course-serve.log').read_text()[-4000:]}")


def test_a_student_submits_and_reads_feedback_without_the_instructor(deployment, grading_service, people):
    nb = submissions.partial(kit.source_notebook(CASE), kit.release_notebook(CASE))
    kit.submit_cli(deployment, ALICE, CASE, nb)
    submitted = time.time()
    mine = _wait("the service to grade and show Alice's submission", lambda: [
        a for a in _ledger(deployment) if a["student"] == ALICE and a["assignment"] == CASE and a["noticed"] >= submitted - 5
        and a["delivered"]], 600, deployment)[0]
    assert mine["state"] == "done" and mine["delivered"] == "checks" and mine["gradings"] == 1
    assert mine["delivered_at"] - mine["finished"] < 10  # seconds after the queue reached her
    listed = kit.nbgrader_as(deployment, ALICE, "list", "--cached", "--course", services.COURSE_ID, check=True)
    lines = [ln for ln in (listed.stdout + listed.stderr).splitlines() if mine["submitted"] in ln]
    assert lines and "feedback ready to be fetched" in lines[0], listed.stdout + listed.stderr

    page = people.lab(ALICE)
    pages.open_assignment_list(page)
    row = pages.assignment_row(page, "submitted", CASE)
    row.locator(".item_status button", has_text="Fetch Feedback").first.click()
    expect(row.get_by_text("(view feedback)").first).to_be_visible()
    # nbgrader fetches every feedback she has (the class test's instructor feedback too) into a
    # folder per submission timestamp: this submission's is the one named by its timestamp. The
    # "(view feedback)" link may already stand for the older one, so wait for the file itself.
    fetched = deployment.home(ALICE) / CASE / "feedback"
    found = _wait(f"Fetch Feedback to bring the page of the submission of {mine['submitted']} into {fetched}",
                  lambda: [p for p in fetched.glob(f"*/{CASE}.html") if mine["submitted"] in p.parent.name],
                  60, deployment)
    view = page.context.new_page()
    view.goto(f"{deployment.hub.url}/user/{ALICE}/files/{found[-1].relative_to(deployment.home(ALICE))}")
    body = view.inner_text("body")
    assert "your checks" in body and re.search(r"Score: [\d.]+ / [\d.]+", body)
    assert "passed" in body and "not yet" in body  # a partial submission: some of each
    html = view.content()
    leaked = [line for line in kit.hidden_test_lines(CASE) if line in html]
    assert not leaked and "BEGIN HIDDEN TESTS" not in html, leaked[:3]
    view.close()
    page.close()


def test_another_student_cannot_read_it_or_submit_in_their_name(deployment, grading_service):
    folder = deployment.settings.exchange_root / services.COURSE_ID / "feedback"
    listing = services.run("ls", folder, user=BOB, check=False)
    assert listing.returncode != 0  # pages are found by their secret name only
    # Bob writes a folder into the inbound claiming to be Alice's submission
    stamp = time.strftime("%Y-%m-%d %H:%M:%S.000000 UTC", time.gmtime())
    forged = f"{ALICE}+{CASE}+{stamp}+forged"
    inbound = deployment.settings.exchange_root / services.COURSE_ID / "inbound"
    script = (f"import os, secrets; d = {str(inbound / forged)!r}; os.mkdir(d); "
              f"open(d + '/{CASE}.ipynb', 'w').write('{{}}'); open(d + '/timestamp.txt', 'w').write({stamp!r}); "
              "open(d + '/submission_secret.txt', 'w').write(secrets.token_hex(8))")
    services.run("python3", "-c", script, user=BOB)
    assert pwd.getpwuid((inbound / forged).stat().st_uid).pw_name == BOB
    refused = _wait("the forged folder to be refused", lambda: [a for a in _ledger(deployment) if a["name"] == forged],
                    120, deployment)[0]
    assert refused["state"] == "rejected" and f"belongs to {BOB}" in refused["cause"]
    status = kit.course_cmd(deployment, "status", check=True)
    assert "grading service: running" in status.stdout
    assert "NOT TAKEN" in status.stderr and f"belongs to {BOB}" in status.stderr
