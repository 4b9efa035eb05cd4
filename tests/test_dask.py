"""Grading on a real Dask cluster of worker *processes*: ``course grade --scheduler`` and
``course serve --scheduler`` against the local pool, and the faults of a cluster.

- every case: a reference and a half-done submission, each student on their own data, give
  the same outcome (cell by cell, problems, test outputs) on a ``LocalCluster`` as locally;
- a worker killed in the middle of a task: the scheduler runs the task again elsewhere, every
  submission is recorded once with its right score;
- the scheduler killed under a running service: the service says so in ``course status``, keeps
  the submissions queued, and resumes when a scheduler is back on the same address.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from course import ipynb
from course.authoring import submissions
from course.gradebook import read_score
from course.grading import batch, specs
from course.grading.sandbox import Limits
from tests import grading_kit as kit
from tests import service_kit as sk
from tests.browser.lab import free_port
from tests.support import CASES, COURSE

pytestmark = pytest.mark.sandbox


@pytest.fixture(scope="module", autouse=True)
def _no_service_left():
    """Every ``course serve`` a fixture or test started is stopped, whatever happened."""
    yield
    sk.stop_all()
distributed = pytest.importorskip("distributed", reason='the Dask backend needs pip install -e ".[scale]"')
DASK = Path(sys.executable).parent / "dask"


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as found:
        with distributed.Client(found) as client:
            pids = client.run(os.getpid)
            assert len(set(pids.values())) == 2 and os.getpid() not in pids.values()  # real processes
            yield found, client


def _summary(outcome):
    def tests(nb):
        if nb.autograded is None:
            return None
        return [(c.metadata.get("nbgrader", {}).get("grade_id"),
                 [(o.get("output_type"), o.get("ename"), o.get("evalue")) for o in c.get("outputs", [])])
                for c in nb.autograded.cells if c.metadata.get("nbgrader", {}).get("grade")]
    return {nb.name: (nb.status, nb.scores, nb.problems, tests(nb)) for nb in outcome.notebooks}, outcome.problems


@pytest.mark.parametrize("case", CASES)
def test_every_case_scores_the_same_on_the_cluster(case, cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_VARIANTS", "on")  # each student on their own data, shipped with the task
    found, _ = cluster
    course = COURSE.copy_to(tmp_path / "course")
    course.run_nbgrader("generate_assignment", case, "--force", "--log-level=ERROR")
    source = ipynb.read(course.source(case) / f"{case}.ipynb")
    release = ipynb.read(course.release(case) / f"{case}.ipynb")
    ipynb.write(submissions.reference(source, release), course.submitted("alice", case) / f"{case}.ipynb")
    ipynb.write(submissions.partial(source, release), course.submitted("bob", case) / f"{case}.ipynb")
    local = batch.grade(course, case, batch.Options(jobs=2))
    on_dask = batch.grade(course, case, batch.Options(scheduler=found.scheduler_address))
    assert [o.student for o in local.outcomes] == [o.student for o in on_dask.outcomes] == ["alice", "bob"]
    for here, there in zip(local.outcomes, on_dask.outcomes, strict=True):
        assert not here.failed and not there.failed, (here.all_problems, there.all_problems)
        assert _summary(here) == _summary(there), here.student
    alice, bob = local.outcomes
    assert alice.auto_score == local.max_auto > bob.auto_score > 0  # a reference and a real partial


def _slow_reference(course):
    return kit.with_cell(kit.reference(course), "import time\ntime.sleep(8)", position=3)


def test_a_worker_killed_mid_task_is_graded_again_and_recorded_once(cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_VARIANTS", "off")
    found, client = cluster
    course = kit.make_course(tmp_path / "course")
    students = ["k1", "k2", "k3", "k4"]
    for student in students:
        kit.submit(course, student, _slow_reference(course))
    result: dict = {}

    def grade() -> None:
        try:
            result["batch"] = batch.grade(course, kit.ASSIGNMENT, batch.Options(scheduler=found.scheduler_address,
                                                                                limits=Limits(cell_timeout=30)))
        except BaseException as exc:  # surfaced below
            result["error"] = exc

    thread = threading.Thread(target=grade)
    thread.start()
    victim = None
    end = time.monotonic() + 240
    while victim is None and time.monotonic() < end:
        busy = {w: keys for w, keys in client.processing().items() if any("course-grade" in str(k) for k in keys)}
        if busy:
            address = next(iter(busy))
            time.sleep(3)  # well inside the task: its sandbox is running the notebook
            if address in client.processing() and client.processing()[address]:
                victim = (address, client.run(os.getpid, workers=[address])[address])
                os.kill(victim[1], signal.SIGKILL)
        time.sleep(0.2)
    thread.join(timeout=600)
    assert victim is not None, "no task was seen running on a worker"
    assert "error" not in result, result.get("error")
    outcomes = result["batch"].outcomes
    assert sorted(o.student for o in outcomes) == students
    assert not any(o.failed for o in outcomes), [o.all_problems for o in outcomes if o.failed]
    full = sum(spec.max_auto for spec in specs.load(course.db_url, kit.ASSIGNMENT).values())
    assert {s: read_score(course, kit.ASSIGNMENT, s).auto for s in students} == dict.fromkeys(students, full)
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url) as gb:
        assert len(gb.assignment_submissions(kit.ASSIGNMENT)) == len(students)
    with pytest.raises(ProcessLookupError):
        os.kill(victim[1], 0)


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_VARIANTS", "off")
    course = kit.make_course(tmp_path / "course")
    kit.submit(course, "ref", kit.reference(course))
    proc = subprocess.run([str(sk.COURSE_BIN), "grade", kit.ASSIGNMENT, "--root", str(course.root),
                           "--scheduler", f"tcp://127.0.0.1:{free_port()}"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert "Dask scheduler" in proc.stderr and "cannot be reached" in proc.stderr and "Traceback" not in proc.stderr


class Scheduler:
    """``dask scheduler`` and one ``dask worker`` process (with its nanny), on loopback."""

    def __init__(self, base: Path, port: int) -> None:
        self.base, self.port = base, port
        self.address = f"tcp://127.0.0.1:{port}"
        self.procs: dict[str, subprocess.Popen] = {}

    def _start(self, name: str, *argv: str) -> None:
        log = (self.base / f"{name}.log").open("a")
        self.procs[name] = subprocess.Popen([str(DASK), *argv], stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True, env={**os.environ})

    def start(self) -> Scheduler:
        self._start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard")
        end = time.monotonic() + 60
        while time.monotonic() < end:
            try:
                with distributed.Client(self.address, timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        self._start("worker", "worker", self.address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard",
                    "--death-timeout", "10")
        return self

    def kill_scheduler(self) -> None:
        os.killpg(self.procs["scheduler"].pid, signal.SIGKILL)
        self.procs["scheduler"].wait(timeout=30)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)


def test_the_service_survives_the_scheduler_going_away(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_VARIANTS", "off")
    course = sk.with_exchange(kit.make_course(tmp_path / "course"), tmp_path / "exchange",
                              'before_due = "score"\nattempts_per_hour = 0\nattempts_total = 0')
    port = free_port()
    cluster = Scheduler(tmp_path, port).start()
    service = sk.ServeProcess(course, "--scheduler", cluster.address, "--timeout", "30").start()
    try:
        names = [sk.submit(course, f"d{k}", _slow_reference(course) if k else kit.reference(course)) for k in range(4)]
        sk.wait_for("a first attempt graded on the cluster", lambda: any(
            a.state == "done" for a in sk.attempts(course)), 300, service)
        cluster.kill_scheduler()
        down = sk.wait_for("the service to say the scheduler is gone", lambda: (lambda s: s if s["problems"].get("engine")
                                                                                 else None)(sk.status(course)), 60, service)
        assert down["running_service"] and "scheduler" in down["problems"]["engine"].lower()
        waiting = [a for a in sk.attempts(course) if a.state != "done"]
        assert waiting and all(a.state == "queued" for a in waiting)  # kept, not failed
        time.sleep(3)
        assert all(a.state == "queued" for a in sk.attempts(course) if a.state != "done")
        cluster.stop()
        cluster = Scheduler(tmp_path, port).start()  # back, on the same address
        sk.wait_for("every attempt graded after the scheduler came back", lambda: all(
            a.state == "done" and a.delivered for a in sk.attempts(course)) and len(sk.attempts(course)) == 4, 400, service)
        assert not sk.status(course)["problems"]
    finally:
        service.stop()
        cluster.stop()
    rows = sk.attempts(course)
    assert sorted(a.name for a in rows) == sorted(names)
    assert all(a.gradings == 1 and a.worker and a.worker.startswith("dask") for a in rows)
    full = max(a.max_score for a in rows)
    assert {a.student: read_score(course, kit.ASSIGNMENT, a.student).auto for a in rows} == \
        {a.student: full for a in rows}


def test_doctor_checks_the_sandbox_on_every_worker(cluster, tmp_path):
    from course import doctor
    from course.layout import Course

    found, _ = cluster
    course = COURSE.copy_to(tmp_path / "course")
    project = course.root / "pyproject.toml"
    text = project.read_text()
    project.write_text(text.replace("[tool.course.release-files]", f'[tool.course]\nscheduler = "{found.scheduler_address}"\n\n'
                                                                   "[tool.course.release-files]", 1))
    check = doctor.check_workers(Course.load(course.root))
    assert check is not None and check.status == "ok" and "all 2 worker(s)" in check.detail
    project.write_text(text.replace("[tool.course.release-files]", f'[tool.course]\nscheduler = "tcp://127.0.0.1:{free_port()}"\n\n'
                                                                   "[tool.course.release-files]", 1))
    check = doctor.check_workers(Course.load(course.root))
    assert check is not None and check.status == "fail" and "cannot be reached" in check.detail
    assert doctor.check_workers(COURSE) is None  # no scheduler configured: no row
