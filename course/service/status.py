"""``course status``: what the grading service is doing, read from its ledger (read-only).

Queue length (queued, running, deferred by the attempt limits), graded per minute, the
service's own state (alive or not, the engine, a scheduler or gradebook that is down) and every
failure or refusal with its cause, grouped.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field

from course.errors import CourseError
from course.layout import Course
from course.service.ledger import Ledger
from course.service.serve import ledger_path


@dataclass
class Status:
    running_service: bool
    pid: int | None
    engine: str
    problems: dict[str, str]
    counts: dict[str, int]
    queue: int  # waiting to be graded now (queued + running)
    deferred: int
    graded_last_10min: int
    per_minute: float  # over the last 10 minutes
    latency_median: float | None  # seconds from arrival to feedback, last hour
    latency_p95: float | None
    failures: dict[str, list[str]] = field(default_factory=dict)  # cause -> attempts
    rejected: dict[str, list[str]] = field(default_factory=dict)
    waiting: list[dict] = field(default_factory=list)  # deferred and retried attempts, with why

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        import os

        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read(course: Course, now: float | None = None) -> Status:
    path = ledger_path(course)
    if not path.is_file():
        raise CourseError(f"the grading service has not run in this course yet (no {path}); start it with `course serve`")
    now = time.time() if now is None else now
    ledger = Ledger(path, readonly=True)
    try:
        rows = ledger.all()
        beat, beat_at = ledger.setting("heartbeat")
        stopped, _ = ledger.setting("stopped")
    finally:
        ledger.close()
    info = json.loads(beat) if beat else {}
    interval = float(info.get("interval", 1.0))
    alive = bool(beat_at and now - beat_at < max(30.0, 20 * interval) and not stopped and _pid_alive(info.get("pid")))
    counts: dict[str, int] = defaultdict(int)
    failures: dict[str, list[str]] = defaultdict(list)
    rejected: dict[str, list[str]] = defaultdict(list)
    waiting = []
    latencies = []
    recent = 0
    for a in rows:
        counts[a.state] += 1
        who = f"{a.student}/{a.assignment} ({a.submitted[:19]})"
        if a.state == "failed":
            failures[a.cause or "unknown"].append(who)
        elif a.state == "rejected":
            rejected[a.cause or "unknown"].append(who)
        elif a.state == "deferred" or (a.state == "queued" and a.cause):
            waiting.append({"attempt": who, "state": a.state, "why": a.cause})
        if a.state == "done" and a.finished and a.finished > now - 600:
            recent += 1
        if a.delivered_at and a.delivered_at > now - 3600 and a.state == "done":
            latencies.append(a.delivered_at - a.noticed)
    p95 = None
    if len(latencies) >= 2:
        p95 = statistics.quantiles(latencies, n=20, method="inclusive")[-1]
    elif latencies:
        p95 = latencies[0]
    return Status(
        running_service=alive, pid=info.get("pid"), engine=str(info.get("engine", "?")),
        problems=dict(info.get("problems", {})) if alive else {}, counts=dict(counts),
        queue=counts["queued"] + counts["running"], deferred=counts["deferred"], graded_last_10min=recent,
        per_minute=recent / 10.0, latency_median=statistics.median(latencies) if latencies else None,
        latency_p95=p95, failures=dict(failures), rejected=dict(rejected), waiting=waiting)
