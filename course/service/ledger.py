"""The service's durable queue and processed-ledger: one small SQLite file next to the course.

Every submission the service has seen is one row of ``attempts``, keyed by its exchange folder's
name, so a submission is never taken twice and never forgotten. A row moves through

    queued ──► running ──► done ──► recorded ──► delivered
      ▲  │                  (outcome saved)  (gradebook)  (feedback in the exchange)
      │  └─► deferred (attempt limit; graded later) ──► queued, or superseded by a later one
      └──── running again after a crash (its result had not been saved)

``failed`` is a grader failure after its retries (the cause is kept; nothing recorded), and
``rejected`` a folder that is not a submission the service may take (the cause says why).
Every change is one transaction (``BEGIN IMMEDIATE``); ``course status`` reads the same file
while the service runs (WAL mode).

A grading result is saved (``done``) before it is recorded, so a crash after grading never
grades again: the result is recorded from the store on the next start. Recording is idempotent
(nbgrader's ``update_or_create``), so a crash between recording and marking it only records
the same result again.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY,
    name TEXT UNIQUE NOT NULL,          -- the submission's folder in the exchange's inbound
    student TEXT NOT NULL,
    assignment TEXT NOT NULL,
    submitted TEXT NOT NULL,            -- nbgrader's timestamp, 'YYYY-MM-DD HH:MM:SS.ffffff' UTC
    noticed REAL NOT NULL,              -- when the service took it (epoch seconds)
    state TEXT NOT NULL,
    admitted REAL,                      -- when it was admitted for grading (counts to the limits)
    not_before REAL,                    -- queued or deferred: not before this time (NULL: any / the due date)
    cause TEXT,                         -- why deferred, failed, rejected; the last retry's reason
    tries INTEGER NOT NULL DEFAULT 0,   -- grading runs started
    gradings INTEGER NOT NULL DEFAULT 0,  -- grading results saved (0 or 1)
    started REAL,
    finished REAL,
    seconds REAL,
    score REAL,
    max_score REAL,
    recorded TEXT,                      -- NULL, 'yes' (in the gradebook), 'older' (a later attempt is)
    recorded_at REAL,
    delivered TEXT,                     -- what the student was shown last (a policy level or a notice)
    delivered_at REAL,
    worker TEXT                         -- where it was graded (local / the Dask worker)
);
CREATE INDEX IF NOT EXISTS attempts_by_state ON attempts (state);
CREATE INDEX IF NOT EXISTS attempts_by_student ON attempts (student, assignment);
CREATE TABLE IF NOT EXISTS service (
    key TEXT PRIMARY KEY,
    value TEXT,
    at REAL
);
"""

ADMITTED = ("queued", "running", "done")  # the states that count towards the attempt limits


@dataclass(frozen=True)
class Attempt:
    id: int
    name: str
    student: str
    assignment: str
    submitted: str
    noticed: float
    state: str
    admitted: float | None
    not_before: float | None
    cause: str | None
    tries: int
    gradings: int
    started: float | None
    finished: float | None
    seconds: float | None
    score: float | None
    max_score: float | None
    recorded: str | None
    recorded_at: float | None
    delivered: str | None
    delivered_at: float | None
    worker: str | None


COLUMNS = [f for f in Attempt.__dataclass_fields__]


def _create(path: Path) -> None:
    """Make the ledger file whole (schema and WAL mode) beside ``path`` and link it into place.

    A reader (``course status``, a test) that finds the file therefore always finds its tables;
    opening ``path`` directly would show it an empty database for the moment between the file's
    creation and the schema's commit. The link fails if another service got there first, and that
    one's file is kept.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    tmp.unlink(missing_ok=True)
    db = sqlite3.connect(tmp, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(SCHEMA)
    finally:
        db.close()
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


class Ledger:
    def __init__(self, path: Path, readonly: bool = False) -> None:
        self.path = path
        if readonly:
            self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, timeout=30)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                _create(path)
            self.db = sqlite3.connect(path, isolation_level=None, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
        self.db.execute("PRAGMA busy_timeout=30000")

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # ---- reading ---------------------------------------------------------------------------

    def _rows(self, where: str = "1", args: tuple = (), order: str = "id") -> list[Attempt]:
        cur = self.db.execute(f"SELECT {', '.join(COLUMNS)} FROM attempts WHERE {where} ORDER BY {order}", args)
        return [Attempt(*row) for row in cur.fetchall()]

    def get(self, attempt_id: int) -> Attempt:
        return self._rows("id = ?", (attempt_id,))[0]

    def all(self) -> list[Attempt]:
        return self._rows()

    def by_state(self, *states: str) -> list[Attempt]:
        marks = ", ".join("?" * len(states))
        return self._rows(f"state IN ({marks})", states)

    def known(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT name FROM attempts")}

    def admitted_times(self, student: str, assignment: str) -> list[float]:
        marks = ", ".join("?" * len(ADMITTED))
        cur = self.db.execute(f"SELECT admitted FROM attempts WHERE student = ? AND assignment = ? AND state IN ({marks}) "
                              "AND admitted IS NOT NULL ORDER BY admitted", (student, assignment, *ADMITTED))
        return [row[0] for row in cur.fetchall()]

    def ready(self, now: float) -> list[Attempt]:
        """Queued attempts that may start now, oldest admission first, one per student."""
        busy = {row[0] for row in self.db.execute("SELECT student FROM attempts WHERE state = 'running'")}
        picked: list[Attempt] = []
        for attempt in self._rows("state = 'queued' AND (not_before IS NULL OR not_before <= ?)", (now,),
                                  order="admitted, id"):
            if attempt.student not in busy:
                busy.add(attempt.student)
                picked.append(attempt)
        return picked

    def to_record(self) -> list[Attempt]:
        return self._rows("state = 'done' AND recorded IS NULL", order="submitted, id")

    def latest_recorded(self, student: str, assignment: str) -> str | None:
        row = self.db.execute("SELECT max(submitted) FROM attempts WHERE student = ? AND assignment = ? AND recorded = 'yes'",
                              (student, assignment)).fetchone()
        return row[0] if row else None

    def setting(self, key: str) -> tuple[str | None, float | None]:
        row = self.db.execute("SELECT value, at FROM service WHERE key = ?", (key,)).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def settings(self) -> dict[str, tuple[str | None, float | None]]:
        return {k: (v, at) for k, v, at in self.db.execute("SELECT key, value, at FROM service")}

    # ---- writing ---------------------------------------------------------------------------

    def add(self, name: str, student: str, assignment: str, submitted: str, state: str, *,
            cause: str | None = None, not_before: float | None = None, now: float | None = None) -> int | None:
        """A newly noticed submission; ``None`` if the ledger already has it."""
        now = time.time() if now is None else now
        with self.tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO attempts (name, student, assignment, submitted, noticed, state, admitted, not_before, cause) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (name, student, assignment, submitted, now, state, now if state == "queued" else None, not_before, cause))
            return cur.lastrowid if cur.rowcount else None

    def update(self, attempt_id: int, **values) -> None:
        unknown = set(values) - set(COLUMNS)
        if unknown:
            raise KeyError(unknown)
        sets = ", ".join(f"{k} = ?" for k in values)
        with self.tx() as db:
            db.execute(f"UPDATE attempts SET {sets} WHERE id = ?", (*values.values(), attempt_id))

    def start(self, attempt_id: int, worker: str) -> None:
        with self.tx() as db:
            db.execute("UPDATE attempts SET state = 'running', tries = tries + 1, started = ?, worker = ? WHERE id = ?",
                       (time.time(), worker, attempt_id))

    def finish(self, attempt_id: int, score: float, max_score: float, seconds: float, cause: str | None) -> None:
        with self.tx() as db:
            db.execute("UPDATE attempts SET state = 'done', gradings = gradings + 1, finished = ?, seconds = ?, "
                       "score = ?, max_score = ?, cause = ? WHERE id = ? AND state = 'running'",
                       (time.time(), seconds, score, max_score, cause, attempt_id))

    def recover(self) -> int:
        """After a crash or a stop: attempts that were running go back to the queue."""
        with self.tx() as db:
            return db.execute("UPDATE attempts SET state = 'queued', cause = 'interrupted (the service stopped); "
                              "graded again' WHERE state = 'running'").rowcount

    def put(self, key: str, value: str | None) -> None:
        with self.tx() as db:
            db.execute("INSERT INTO service (key, value, at) VALUES (?, ?, ?) "
                       "ON CONFLICT(key) DO UPDATE SET value = excluded.value, at = excluded.at", (key, value, time.time()))
