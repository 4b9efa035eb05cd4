"""Where the grading work runs: a local pool of worker threads (one evaluator each).

Each worker thread grades one student at a time (:func:`course.grading.pipeline.grade_student`)
and keeps its own evaluator fork server, started when the thread takes its first student so it
warms up while that student's notebook runs. Results come back as they complete; the caller
(the batch) records them in the gradebook from its own thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed

from course.grading.outcomes import NotebookOutcome, StudentOutcome
from course.grading.pipeline import Job, grade_student
from course.grading.process import Evaluator


def warmup_sources(job: Job) -> list[str]:
    """The trusted setup cells the evaluator runs once before any job (imports, data caches)."""
    return [c.source for spec in job.specs.values() for c in (spec.cells[g] for g in spec.order)
            if c.cell_type == "code" and c.locked and not c.solution]


class LocalPool:
    """``jobs`` worker threads on this machine."""

    def __init__(self, job: Job, jobs: int) -> None:
        self.job = job
        self.jobs = max(1, jobs)
        self._local = threading.local()
        self._evaluators: list[Evaluator] = []
        self._lock = threading.Lock()
        self._warmup = warmup_sources(job)

    def _work(self, student: str) -> StudentOutcome:
        evaluator = getattr(self._local, "evaluator", None)
        if evaluator is None:
            evaluator = Evaluator(self.job.sandbox, self.job.files, self.job.limits, self._warmup)
            self._local.evaluator = evaluator
            with self._lock:
                self._evaluators.append(evaluator)
            try:  # the evaluator warms up while this worker runs its first student's notebook
                evaluator.spawn()
            except OSError:
                evaluator.close()
        return grade_student(self.job, student, evaluator)

    def run(self, students: Iterable[str]) -> Iterator[StudentOutcome]:
        """Grade ``students``; yield each outcome as it completes."""
        names = list(students)
        try:
            with ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="grade") as pool:
                futures: dict[Future, str] = {pool.submit(self._work, s): s for s in names}
                for future in as_completed(futures):
                    student = futures[future]
                    try:
                        yield future.result()
                    except Exception as exc:  # pragma: no cover (grade_student catches its own errors)
                        yield StudentOutcome(student, [NotebookOutcome(name, "failed", {}, [
                            f"{name}: NOT GRADED, grader failure (scores left unchanged): {exc}"])
                            for name in self.job.specs])
        finally:
            for evaluator in self._evaluators:
                evaluator.shutdown()
