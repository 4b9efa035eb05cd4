"""``course grade``: every submission of an assignment, each in its own sandbox, in parallel.

:func:`grade` loads the assignment from the gradebook (:mod:`.specs`), checks once that the
sandbox starts (:func:`course.grading.sandbox.probe`: one clear message for the whole batch
when it cannot), grades every student in a pool of workers (:mod:`.pool`, each student through
:mod:`.pipeline`) and records each result as it arrives (:mod:`.recording`) from this thread
alone. If the gradebook goes away mid-batch, results wait in memory and are recorded when it is
back (up to ``Options.db_wait`` seconds); nothing is recorded twice.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from course.errors import GradebookUnavailable, SandboxUnavailable
from course.grading import intake, recording, specs
from course.grading.cgroups import Cgroups
from course.grading.forkserver import ForkServer
from course.grading.outcomes import Batch, StudentOutcome
from course.grading.pipeline import Job
from course.grading.pool import LocalPool
from course.grading.sandbox import Limits, Sandbox, freeze_package, probe
from course.layout import Course, Step


@dataclass
class Options:
    jobs: int | None = None
    limits: Limits = field(default_factory=Limits)
    sandbox: bool = True
    variants: bool = True
    students: list[str] | None = None
    db_wait: float = 300.0  # seconds to wait for a gradebook that went away mid-batch
    scheduler: str | None = None  # a Dask scheduler (tcp://host:8786): grade on that cluster


def _hidden(course: Course) -> list:
    steps: tuple[Step, ...] = ("source", "release", "submitted", "autograded", "feedback")
    paths = [course.folder(step) for step in steps]
    if course.db_path is not None:
        paths.append(course.db_path.parent)
    return paths


def make_job(course: Course, assignment: str, options: Options, files_dir, package: Path | None = None) -> Job:
    sandbox = Sandbox(course.root, enabled=options.sandbox, limits=options.limits, hidden=_hidden(course),
                      package=package)
    problem = probe(sandbox)
    if problem:
        raise SandboxUnavailable(f"{problem}\n(checked once for the whole batch; nothing was graded)")
    return Job(course, assignment, specs.ensure(course, assignment), sandbox, options.limits, options.variants,
               intake.release_files(course.release(assignment), course.ignore, files_dir),
               Cgroups() if options.sandbox else None)


class _Recorder:
    """Records outcomes in arrival order; keeps them while the gradebook is unreachable."""

    def __init__(self, course: Course, assignment: str, wait: float) -> None:
        self.course, self.assignment, self.wait = course, assignment, wait
        self.pending: list[StudentOutcome] = []
        self.last_error = ""

    def add(self, outcome: StudentOutcome) -> None:
        recording.write_autograded(self.course, self.assignment, outcome)
        self.pending.append(outcome)
        self.flush()

    def flush(self) -> bool:
        while self.pending:
            try:
                recording.record(self.course, self.assignment, self.pending[0])
            except Exception as exc:  # the database went away: keep the result, try again later
                if not type(exc).__module__.startswith(("sqlalchemy", "psycopg", "sqlite3")):
                    raise
                self.last_error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                return False
            self.pending.pop(0)
        return True

    def finish(self) -> None:
        end = time.monotonic() + self.wait
        delay = 1.0
        while not self.flush():
            if time.monotonic() >= end:
                raise GradebookUnavailable(
                    f"the gradebook stayed unreachable for {self.wait:g} s ({self.last_error}); "
                    f"{len(self.pending)} result(s) not recorded: "
                    f"{', '.join(o.student for o in self.pending[:10])}. Their autograded notebooks are in "
                    f"{self.course.folder('autograded')}; grade them again with --student once the database is back.")
            time.sleep(delay)
            delay = min(delay * 2, 15.0)


def grade(course: Course, assignment: str, options: Options | None = None,
          on_result: Callable[[StudentOutcome, int, int], None] | None = None,
          early: ForkServer | None = None) -> Batch:
    """Grade every submission of ``assignment``; ``on_result(outcome, done, total)`` per student.

    ``early``: a fork server the caller started before it imported the grader
    (:func:`course.grading.forkserver.prestart`); used if it fits this batch, else shut down."""
    options = options or Options()
    start = time.monotonic()
    try:
        return _grade(course, assignment, options, on_result, early, start)
    finally:
        if early is not None:
            early.shutdown()  # done with it, or never adopted (Dask, an error before the pool)


def _grade(course: Course, assignment: str, options: Options,
           on_result: Callable[[StudentOutcome, int, int], None] | None, early: ForkServer | None,
           start: float) -> Batch:
    students = course.students(assignment)
    if options.students:
        students = [s for s in students if s in set(options.students)]
    jobs = max(1, options.jobs or os.cpu_count() or 1)
    scratch = Path(tempfile.mkdtemp(prefix="course-batch-"))
    package, digest = freeze_package(scratch)
    files_dir = scratch / "files"
    files_dir.mkdir()
    job = make_job(course, assignment, options, files_dir, package)
    recorder = _Recorder(course, assignment, options.db_wait)
    startup = time.monotonic() - start
    outcomes: list[StudentOutcome] = []
    try:
        if options.scheduler:
            from course.grading.dask_pool import DaskPool

            pool: LocalPool | DaskPool = DaskPool(job, options.scheduler)
        else:
            pool = LocalPool(job, jobs, early)
        for outcome in pool.run(students):
            recorder.add(outcome)
            outcomes.append(outcome)
            if on_result:
                on_result(outcome, len(outcomes), len(students))
        recorder.finish()
    finally:
        if job.cgroups:
            job.cgroups.cleanup()
        shutil.rmtree(scratch, ignore_errors=True)
    outcomes.sort(key=lambda o: o.student)
    max_auto = sum(spec.max_auto for spec in job.specs.values())
    return Batch(assignment, outcomes, max_auto, time.monotonic() - start, jobs, package=digest,
                 startup=startup, note=pool.note)
