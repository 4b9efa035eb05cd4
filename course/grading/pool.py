"""Where the grading work runs: a local pool of worker threads (one evaluator each).

Each worker thread grades one student at a time (:func:`course.grading.pipeline.grade_student`);
all share one evaluator fork server (:class:`course.grading.process.Evaluator`), started first so
it warms up while the first notebooks run, and one fork server of pre-imported phase-1 runners
(:mod:`course.grading.forkserver`). Results come back as they complete; the caller
(the batch) records them in the gradebook from its own thread.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed

from course.grading import forkserver
from course.grading.outcomes import NotebookOutcome, StudentOutcome
from course.grading.pipeline import Job, grade_student
from course.grading.process import Evaluator
from course.grading.sandbox import Sandbox, package_digest


def warmup_sources(job: Job) -> list[str]:
    """The trusted setup cells the evaluator runs once before any job (imports, data caches)."""
    return [c.source for spec in job.specs.values() for c in (spec.cells[g] for g in spec.order)
            if c.cell_type == "code" and c.locked and not c.solution]


def largest_first(job: Job, students: Iterable[str]) -> list[str]:
    """``students`` with the biggest submitted notebooks first: a blank notebook runs fastest,
    so the batch ends on short notebooks instead of leaving one core idle behind a long one."""
    def size(student: str) -> int:
        total = 0
        for name in job.specs:
            try:
                total += (job.course.submitted(student, job.assignment) / f"{name}.ipynb").lstat().st_size
            except OSError:
                pass
        return total

    names = list(students)
    sizes = {s: size(s) for s in names}
    return sorted(names, key=lambda s: -sizes[s])  # stable: equal sizes keep their order


class LocalPool:
    """``jobs`` worker threads on this machine, sharing one evaluator (it forks per job)."""

    def __init__(self, job: Job, jobs: int, early: forkserver.ForkServer | None = None) -> None:
        self.job = job
        self.jobs = max(1, jobs)
        self.early = early  # a fork server started before the batch (forkserver.prestart)
        self.note = ""  # after run(): why some runners did not come from the fork server, if any did not

    def run(self, students: Iterable[str]) -> Iterator[StudentOutcome]:
        """Grade ``students``; yield each outcome as it completes."""
        names = largest_first(self.job, students)
        job, server = self.job, start_forkserver(self.job.sandbox, self.early)
        if server is not None:
            job = dataclasses.replace(job, forkserver=server)
        evaluator = Evaluator(self.job.sandbox, self.job.files, self.job.limits, warmup_sources(self.job), server)
        try:
            evaluator.start()  # forked from the server once it is ready; warms up meanwhile
        except OSError:
            pass  # tried again (and reported) when the first job needs it
        try:
            with ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="grade") as pool:
                futures: dict[Future, str] = {pool.submit(grade_student, job, s, evaluator): s for s in names}
                for future in as_completed(futures):
                    student = futures[future]
                    try:
                        yield future.result()
                    except Exception as exc:  # pragma: no cover (grade_student catches its own errors)
                        yield StudentOutcome(student, [NotebookOutcome(name, "failed", {}, [
                            f"{name}: NOT GRADED, grader failure (scores left unchanged): {exc}"])
                            for name in self.job.specs])
        finally:
            evaluator.shutdown()
            if server is not None:
                self.note = server.report()  # before the shutdown, which would read as "gone"
                server.shutdown()


def start_forkserver(sandbox: Sandbox, early: forkserver.ForkServer | None = None) -> forkserver.ForkServer | None:
    """The batch's fork server of pre-imported runners (it imports while the evaluator warms up);
    ``None`` without the sandbox or with ``COURSE_FORKSERVER=off``.

    ``early`` is one :func:`course.grading.forkserver.prestart` started before the batch knew
    its course; it is used only if it is the server this would start (same command,
    environment and preloads), and shut down otherwise."""
    if not sandbox.enabled or not forkserver.enabled():
        if early is not None:
            early.shutdown()
        return None
    digest = package_digest(sandbox.package) if sandbox.package is not None else None
    server = forkserver.for_sandbox(sandbox)
    if early is not None:
        if (early.argv, early.env, early.preload) == (server.argv, server.env, server.preload):
            early.check(digest)
            return early
        early.shutdown()
    server.check(digest)
    server.start()
    return server
