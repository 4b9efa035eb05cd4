"""Where the service's grading runs: local worker threads, or a Dask cluster.

Both engines run the same task, :func:`course.grading.dask_pool.grade_files` (the submission's
bytes and the assignment's :class:`~course.grading.dask_pool.Bundle` in, a
:class:`~course.grading.outcomes.StudentOutcome` out), which is ``course grade``'s pipeline on
a scratch course. The service asks an engine for free slots, submits attempts, and polls for
what finished; an engine never touches the gradebook or the ledger.

:class:`DaskEngine` notices a scheduler that went away: every attempt it had in flight comes
back as *lost* (the service queues it again, without counting a try), it reports itself down
with the cause, and it reconnects on its own, at most every :data:`RECONNECT` seconds.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from course.grading.dask_pool import Bundle, Packed, connect, grade_files, scheduler_lost
from course.grading.outcomes import StudentOutcome

RECONNECT = 5.0


@dataclass
class Finished:
    attempt: int
    outcome: StudentOutcome | None = None
    error: str | None = None  # the task itself failed (counted as a try)
    lost: bool = False  # the engine lost it (scheduler gone): queue again, no try counted
    worker: str = ""


class LocalEngine:
    """``jobs`` threads on this machine, each with its own warm evaluators."""

    def __init__(self, jobs: int) -> None:
        self.jobs = max(1, jobs)
        self.pool = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="serve")
        self.running: dict[int, Future] = {}

    def describe(self) -> str:
        return f"local pool, {self.jobs} worker(s)"

    def down(self) -> str | None:
        return None

    def slots(self) -> int:
        return self.jobs - len(self.running)

    def submit(self, attempt: int, bundle: Bundle, student: str, packed: Packed) -> None:
        self.running[attempt] = self.pool.submit(grade_files, bundle, student, packed)

    def finished(self) -> list[Finished]:
        done = []
        for attempt, future in list(self.running.items()):
            if future.done():
                del self.running[attempt]
                try:
                    done.append(Finished(attempt, outcome=future.result(), worker="local"))
                except Exception as exc:  # pragma: no cover (grade_files returns failures as outcomes)
                    done.append(Finished(attempt, error=f"{type(exc).__name__}: {exc}", worker="local"))
        return done

    def close(self) -> None:
        for future in self.running.values():
            future.cancel()
        self.pool.shutdown(wait=False, cancel_futures=True)


class DaskEngine:
    """Attempts as tasks on the Dask cluster whose scheduler is at ``address``."""

    def __init__(self, address: str, queue_per_thread: int = 2) -> None:
        self.address = address
        self.queue_per_thread = queue_per_thread
        self.client: Any = None
        self.running: dict[int, Any] = {}
        self.bundles: dict[str, Any] = {}  # bundle digest -> its future on the cluster
        self.problem: str | None = None
        self.down_since: float | None = None
        self._next_try = 0.0
        self._lost: list[Finished] = []

    def describe(self) -> str:
        workers = self._threads() if self.client is not None else 0
        return f"Dask scheduler {self.address}, {workers} worker thread(s)"

    def down(self) -> str | None:
        return self.problem

    def _threads(self) -> int:
        try:
            return sum(self.client.nthreads().values())
        except Exception:
            return 0

    def _drop(self, cause: str) -> None:
        """The scheduler went away: everything in flight comes back as lost."""
        if self.problem is None:
            self.down_since = time.time()
        self.problem = cause
        self._lost += [Finished(a, lost=True) for a in self.running]
        self.running.clear()
        self.bundles.clear()
        if self.client is not None:
            try:
                self.client.close(timeout=2)
            except Exception:
                pass
        self.client = None
        self._next_try = time.monotonic() + RECONNECT

    def _ensure(self) -> bool:
        if self.client is not None:
            if self.client.status in ("running",):
                return True
            self._drop(f"lost the connection to the Dask scheduler {self.address} ({self.client.status})")
            return False
        if time.monotonic() < self._next_try:
            return False
        try:
            self.client = connect(self.address, timeout=RECONNECT)
        except Exception as exc:
            self._drop(f"{exc}")
            return False
        self.problem, self.down_since = None, None
        return True

    def slots(self) -> int:
        if not self._ensure():
            return 0
        return max(0, self._threads() * self.queue_per_thread - len(self.running))

    def submit(self, attempt: int, bundle: Bundle, student: str, packed: Packed) -> None:
        if not self._ensure():
            self._lost.append(Finished(attempt, lost=True))
            return
        try:
            shipped = self.bundles.get(bundle.digest)
            if shipped is None:
                shipped = self.bundles[bundle.digest] = self.client.scatter(bundle, broadcast=False, hash=False)
            self.running[attempt] = self.client.submit(grade_files, shipped, student, packed, pure=False,
                                                       key=f"course-serve-{attempt}-{time.time_ns()}")
        except Exception as exc:
            self._lost.append(Finished(attempt, lost=True))
            self._drop(f"the Dask scheduler {self.address} did not take the task ({type(exc).__name__}: {exc})")

    def finished(self) -> list[Finished]:
        done, self._lost = self._lost, []
        if self.client is not None and self.client.status != "running":
            self._drop(f"lost the connection to the Dask scheduler {self.address} ({self.client.status})")
            done += self._lost
            self._lost = []
            return done
        for attempt, future in list(self.running.items()):
            status = future.status
            if status == "finished":
                del self.running[attempt]
                try:
                    outcome = future.result(timeout=30)
                except Exception as exc:
                    if scheduler_lost(exc):
                        done.append(Finished(attempt, lost=True))
                        continue
                    done.append(Finished(attempt, error=f"{type(exc).__name__}: {str(exc)[:300]}"))
                    continue
                done.append(Finished(attempt, outcome=outcome, worker=self._where(future)))
            elif status == "error":
                del self.running[attempt]
                raised = future.exception(timeout=30)
                done.append(Finished(attempt, error=f"on the cluster: {type(raised).__name__}: {str(raised)[:300]}"))
            elif status in ("cancelled", "lost"):
                del self.running[attempt]
                done.append(Finished(attempt, lost=True))
        return done

    def _where(self, future) -> str:
        try:
            who = self.client.who_has([future]).get(future.key)
            return f"dask {who[0]}" if who else "dask"
        except Exception:
            return "dask"

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.cancel(list(self.running.values()))
                self.client.close(timeout=5)
            except Exception:
                pass
        self.client = None


def make(jobs: int, scheduler: str | None):
    return DaskEngine(scheduler) if scheduler else LocalEngine(jobs)
