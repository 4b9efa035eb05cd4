"""What the grading-service tests share: a scratch course with its own exchange, submissions
written the way ``nbgrader submit`` writes them, and a real ``course serve`` process.

The course is :mod:`tests.grading_kit`'s (one small assignment, ``zs_grade``) unless a test
copies a real case into it. ``nbgrader_config.py`` gets an exchange under the test's folder.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from course import ipynb
from course.layout import Course
from course.service import inbox
from tests import grading_kit as kit
from tests.support import ROOT

COURSE_BIN = Path(sys.executable).parent / "course"


def with_exchange(course: Course, exchange: Path, service: str = "") -> Course:
    """Point the course's nbgrader config at ``exchange`` (made like nbgrader's) and add a
    ``[tool.course.service]`` table (``service``: its TOML body)."""
    exchange.mkdir(parents=True, exist_ok=True)
    (exchange / course.course_id / "inbound").mkdir(parents=True, exist_ok=True)
    config = course.root / "nbgrader_config.py"
    config.write_text(config.read_text() + f"\nc.Exchange.root = {str(exchange)!r}\n")
    if service:  # replaces the course's own [tool.course.service] table
        project = course.root / "pyproject.toml"
        kept, skipping = [], False
        for line in project.read_text().splitlines():
            if line.strip().startswith("["):
                skipping = line.strip() == "[tool.course.service]"
            if not skipping:
                kept.append(line)
        project.write_text("\n".join(kept) + "\n\n[tool.course.service]\n" + service + "\n")
    return Course.load(course.root)


def stamp(when: datetime | None = None) -> str:
    when = when or datetime.now(timezone.utc)
    return when.strftime("%Y-%m-%d %H:%M:%S.%f") + " UTC"


def submit(course: Course, student: str, nb, assignment: str = kit.ASSIGNMENT, when: datetime | None = None,
           extra: dict[str, str] | None = None) -> str:
    """A submission in the exchange's inbound, in the order ``nbgrader submit`` writes it
    (notebook, then ``timestamp.txt``, then ``submission_secret.txt``); returns its folder name."""
    text = stamp(when)
    name = f"{student}+{assignment}+{text}+{base64.urlsafe_b64encode(os.urandom(9)).decode('ascii')}"  # as nbgrader
    folder = inbox.inbound(course) / name
    folder.mkdir()
    ipynb.write(nb, folder / f"{assignment}.ipynb")
    for rel, content in (extra or {}).items():
        (folder / rel).write_text(content)
    (folder / "timestamp.txt").write_text(text)
    (folder / "submission_secret.txt").write_text(secrets.token_hex(64))
    return name


def later(seconds: float) -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


RUNNING: list[ServeProcess] = []  # every service a test started, stopped at the end (tests/conftest.py)


class ServeProcess:
    """``course serve`` as its own process in the course root (a real service)."""

    def __init__(self, course: Course, *args: str, log: Path | None = None) -> None:
        self.course = course
        self.args = args
        self.log = log or course.root / "serve.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> ServeProcess:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self._fh = self.log.open("a")
        self.proc = subprocess.Popen([str(COURSE_BIN), "serve", "--root", str(self.course.root), "--interval", "0.2",
                                      *self.args], stdout=self._fh, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        RUNNING.append(self)
        return self

    def kill(self) -> None:
        """SIGKILL the service (a crash): its sandboxes die with it (``--die-with-parent``)."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self in RUNNING:
            RUNNING.remove(self)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        self._fh.close()


def stop_all() -> None:
    """Stop every service still running (a fixture that failed half-way)."""
    for service in list(RUNNING):
        service.stop()

    def log_tail(self, chars: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def status(course: Course) -> dict:
    proc = subprocess.run([str(COURSE_BIN), "status", "--json", "--root", str(course.root)], capture_output=True,
                          text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return json.loads(proc.stdout)


def attempts(course: Course) -> list:
    from course.service.ledger import Ledger
    from course.service.serve import ledger_path

    if not ledger_path(course).is_file():
        return []  # the service has not started yet
    ledger = Ledger(ledger_path(course), readonly=True)
    try:
        return ledger.all()
    finally:
        ledger.close()


def wait_for(what, predicate, timeout: float, service: ServeProcess | None = None, every: float = 0.5):
    """Poll ``predicate()`` until it returns something true; fail with the service's log."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        if service is not None and service.proc is not None and service.proc.poll() is not None:
            raise AssertionError(f"the service exited ({service.proc.returncode}) while waiting for {what}:\n{service.log_tail()}")
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}" + (f":\n{service.log_tail()}" if service else ""))


def feedback_page(course: Course, name: str, notebook: str = kit.ASSIGNMENT) -> str | None:
    """The page the student who made submission ``name`` would fetch for ``notebook`` (or None)."""
    from nbgrader.utils import notebook_hash

    secret = (inbox.inbound(course) / name / "submission_secret.txt").read_text()
    page = inbox.feedback_dir(course) / f"{notebook_hash(secret=secret, notebook_id=notebook)}.html"
    return page.read_text(encoding="utf-8") if page.is_file() else None
