"""``course serve``: grade each submission as it arrives and show the student what the policy allows.

One loop, one thread for everything that writes (the ledger, the gradebook, the exchange's
feedback); grading itself runs in an engine (:mod:`.engine`: local threads or a Dask cluster).
Each pass (:meth:`Service.step`):

1. **take** new submissions from the exchange's inbound into the store (:mod:`.inbox`), each
   admitted or deferred by the attempt limits (:mod:`.policy`);
2. **promote** deferred attempts whose time has come (the latest of a student's deferred
   attempts is graded; earlier ones are kept, marked superseded);
3. **dispatch** queued attempts to free engine slots, one running attempt per student at a time
   (a student submitting in a loop occupies at most one worker);
4. **collect** results: saved to the store before anything else (a crash after this never grades
   again); a grader failure is retried, then listed with its cause;
5. **record** into the gradebook exactly as ``course grade`` does (:mod:`course.grading.recording`:
   autograded notebooks, scores, nbgrader's late penalty; manual grades kept), the submission
   copied to ``submitted/`` so the formgrader and ``course grade`` see it; an attempt older than
   the one already recorded is not recorded over it;
6. **deliver** the page(s) the policy allows into nbgrader's feedback exchange (:mod:`.pages`),
   and again with the after-due level once the due date has passed.

The ledger (:mod:`.ledger`) makes every pass restartable: stop or kill the service at any point
and start it again; nothing is lost and no saved result is graded again.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from course.errors import CourseError, GradebookUnavailable
from course.grading import recording, specs
from course.grading.dask_pool import Bundle, make_bundle, pack
from course.grading.sandbox import Limits, package_digest
from course.layout import Course, Settings
from course.service import engine as enginemod
from course.service import inbox as inboxmod
from course.service import pages, store
from course.service.ledger import Attempt, Ledger
from course.service.policy import Policies

STORE_DIR = ".course-service"
BUNDLE_TTL = 60.0  # seconds before the assignment's trusted cells are read again from the gradebook
DUE_TTL = 10.0
POLICY_TTL = 10.0
log = logging.getLogger("course.serve")


def home(course: Course) -> Path:
    return course.root / STORE_DIR


def ledger_path(course: Course) -> Path:
    return home(course) / "queue.sqlite3"


@dataclass
class ServeOptions:
    jobs: int | None = None
    scheduler: str | None = None
    limits: Limits = field(default_factory=Limits)
    sandbox: bool = True
    variants: bool = True
    interval: float = 0.5
    retries: int = 2  # grader failures retried this many times before the attempt is listed as failed


def _db_error(exc: BaseException) -> bool:
    return isinstance(exc, GradebookUnavailable) or type(exc).__module__.startswith(("sqlalchemy", "psycopg", "sqlite3"))


def _utc(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f")


class Service:
    def __init__(self, course: Course, options: ServeOptions | None = None) -> None:
        if not course.course_id:
            raise CourseError("c.CourseDirectory.course_id is not set in nbgrader_config.py: the exchange is per course")
        self.course = course
        self.options = options or ServeOptions()
        self.home = home(course)
        self.ledger = Ledger(ledger_path(course))
        self.inbox = inboxmod.Inbox(course, self.home / "attempts")
        self.policies = Policies.of(course)
        self._policy_read = time.monotonic()
        self.engine = enginemod.make(self.options.jobs or os.cpu_count() or 1, self.options.scheduler)
        self._bundles: dict[str, tuple[float, Bundle]] = {}
        self._dues: dict[str, tuple[float, datetime | None]] = {}
        self.problems: dict[str, str] = {}
        self.stopping = False
        # pages are built off the loop (a full page renders for seconds); published from it
        self.renderer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pages")
        self._rendering: dict[int, tuple[Future, str]] = {}
        for name in ("traitlets", "nbconvert", "NbConvertBase"):
            logging.getLogger(name).setLevel(logging.WARNING)

    # ---- the loop ---------------------------------------------------------------------------

    def run(self, until: Callable[[], bool] | None = None) -> None:
        recovered = self.ledger.recover()
        if recovered:
            log.info("%d attempt(s) were being graded when the service stopped: queued again", recovered)
        self.ledger.put("started", json.dumps({"pid": os.getpid(), "at": time.time()}))
        self.ledger.put("stopped", None)
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                signal.signal(sig, self._stop)
            except ValueError:  # not the main thread (tests driving it directly)
                pass
        log.info("serving %s: exchange %s, %s", self.course.course_id, self.inbox.path, self.engine.describe())
        try:
            while not self.stopping and not (until and until()):
                self.step()
                time.sleep(self.options.interval)
        finally:
            self.engine.close()
            self.renderer.shutdown(wait=True, cancel_futures=True)
            self.ledger.recover()
            self.ledger.put("stopped", json.dumps({"pid": os.getpid(), "at": time.time()}))
            log.info("stopped")

    def _stop(self, signum, frame) -> None:
        self.stopping = True

    def step(self) -> None:
        now = time.time()
        self.reload_policy()
        self.take(now)
        self.promote(now)
        self.dispatch(now)
        self.collect(now)
        self.record(now)
        self.deliver(now)
        self.published()
        self.heartbeat()

    def heartbeat(self) -> None:
        problems = dict(self.problems)
        down = self.engine.down()
        if down:
            problems["engine"] = down
        self.ledger.put("heartbeat", json.dumps({"pid": os.getpid(), "engine": self.engine.describe(),
                                                 "problems": problems, "interval": self.options.interval}))

    # ---- what the service knows about an assignment ------------------------------------------

    def reload_policy(self) -> None:
        """The instructor may edit ``[tool.course.service]`` while the service runs."""
        if time.monotonic() - self._policy_read < POLICY_TTL:
            return
        self._policy_read = time.monotonic()
        try:
            self.policies = Policies.parse(Settings.read(self.course.root).raw.get("service", {}))
        except CourseError as exc:  # keep the policy in force; say why the new one is not
            self.problems["policy"] = f"{exc} (the previous policy stays in force)"
            return
        self.problems.pop("policy", None)

    def bundle(self, assignment: str) -> Bundle:
        cached = self._bundles.get(assignment)
        if cached and time.monotonic() - cached[0] < BUNDLE_TTL and cached[1].package == package_digest():
            return cached[1]  # (an upgraded kit is shipped from the next attempt on)
        found = specs.ensure(self.course, assignment)
        made = make_bundle(self.course, assignment, found, self.options.limits, self.options.sandbox, self.options.variants)
        self._bundles[assignment] = (time.monotonic(), made)
        return made

    def due(self, assignment: str) -> datetime | None:
        """The gradebook's due date (naive UTC), or ``None`` (none set, or unreachable)."""
        cached = self._dues.get(assignment)
        if cached and time.monotonic() - cached[0] < DUE_TTL:
            return cached[1]
        from nbgrader.api import Gradebook, MissingEntry

        value = None
        try:
            with Gradebook(self.course.db_url, self.course.course_id or None) as gb:
                value = gb.find_assignment(assignment).duedate
        except MissingEntry:
            value = None
        except Exception as exc:
            if not _db_error(exc):
                raise
            return cached[1] if cached else None
        self._dues[assignment] = (time.monotonic(), value)
        return value

    def past_due(self, assignment: str, now: float) -> bool:
        due = self.due(assignment)
        return due is not None and datetime.fromtimestamp(now, timezone.utc).replace(tzinfo=None) > due

    def admission(self, student: str, assignment: str, now: float) -> tuple[str, float | None, str | None]:
        """queued, or deferred (with when and why) by the attempt limits."""
        policy = self.policies.get(assignment)
        times = self.ledger.admitted_times(student, assignment)
        if policy.attempts_total and len(times) >= policy.attempts_total and not self.past_due(assignment, now):
            due = self.due(assignment)
            when = f"after the due date ({due:%Y-%m-%d %H:%M} UTC)" if due else "when your instructor releases it"
            return "deferred", None, (f"attempt limit reached ({policy.attempts_total} graded attempts in total): this "
                                      f"submission is kept and graded {when}")
        recent = [t for t in times if t > now - policy.attempt_window]
        if policy.attempts_per_hour and len(recent) >= policy.attempts_per_hour:
            at = recent[len(recent) - policy.attempts_per_hour] + policy.attempt_window
            stamp = datetime.fromtimestamp(at, timezone.utc)
            return "deferred", at, (f"attempt limit reached ({policy.attempts_per_hour} graded attempts per "
                                    f"{policy.attempt_window / 3600:g} h): this submission is kept and graded at "
                                    f"{stamp:%H:%M:%S} UTC")
        return "queued", None, None

    def folder(self, attempt: Attempt) -> Path:
        return self.inbox.store / inboxmod.key(attempt.name)

    # ---- 1. take ------------------------------------------------------------------------------

    def take(self, now: float) -> None:
        for found in self.inbox.scan(self.ledger.known(), now):
            if found.problem:
                self.ledger.add(found.name, found.student, found.assignment, found.submitted, "rejected", cause=found.problem)
                log.warning("not taken: %s: %s", found.name, found.problem)
                continue
            collected = self._collected(found.student, found.assignment)
            if collected is not None and collected >= _utc(found.submitted):
                # the instructor collected this (or a later) submission before the service saw it
                self.ledger.add(found.name, found.student, found.assignment, found.submitted, "superseded",
                                cause="already collected by the instructor (submitted/ holds this or a later submission)")
                continue
            if self.inbox.take(found) is None:
                continue  # it changed while being copied: next pass
            state, not_before, cause = self.admission(found.student, found.assignment, now)
            self.ledger.add(found.name, found.student, found.assignment, found.submitted, state,
                            cause=cause, not_before=not_before, now=now)
            log.info("took %s %s (%s)%s", found.student, found.assignment, found.submitted,
                     f": {cause}" if cause else "")

    def _collected(self, student: str, assignment: str) -> datetime | None:
        """The time of the submission already in ``submitted/`` (nbgrader's timestamp), if any."""
        from course.grading import intake

        folder = self.course.submitted(student, assignment)
        if not folder.is_dir() or folder.is_symlink():
            return None
        stamp, _ = intake.read_timestamp(folder)
        return stamp.replace(tzinfo=None) if stamp is not None else None

    # ---- 2. promote ---------------------------------------------------------------------------

    def promote(self, now: float) -> None:
        groups: dict[tuple[str, str], list[Attempt]] = {}
        for attempt in self.ledger.by_state("deferred"):
            groups.setdefault((attempt.student, attempt.assignment), []).append(attempt)
        for (student, assignment), waiting in groups.items():
            waiting.sort(key=lambda a: (a.submitted, a.id))
            latest = waiting[-1]
            state, not_before, cause = self.admission(student, assignment, now)
            if state != "queued":
                if (not_before, cause) != (latest.not_before, latest.cause):
                    self.ledger.update(latest.id, not_before=not_before, cause=cause)
                continue
            with self.ledger.tx() as db:
                db.execute("UPDATE attempts SET state = 'queued', admitted = ?, not_before = NULL, delivered = NULL, "
                           "cause = 'was over the attempt limit; graded now' WHERE id = ?", (now, latest.id))
                for older in waiting[:-1]:
                    db.execute("UPDATE attempts SET state = 'superseded', cause = ? WHERE id = ?",
                               (f"kept, not graded: the later attempt of {latest.submitted[:19]} was graded in its place",
                                older.id))
            log.info("%s %s: deferred attempt %s admitted", student, assignment, latest.submitted)

    # ---- 3. dispatch --------------------------------------------------------------------------

    def dispatch(self, now: float) -> None:
        free = self.engine.slots()
        if free <= 0:
            return
        for attempt in self.ledger.ready(now)[:free]:
            try:
                bundle = self.bundle(attempt.assignment)
            except CourseError as exc:
                if _db_error(exc):
                    self.problems["gradebook"] = str(exc)
                    return
                self.ledger.update(attempt.id, state="rejected", cause=str(exc)[:1000])
                continue
            self.problems.pop("gradebook", None)
            packed = pack(store.files(self.folder(attempt)), self.course.ignore)
            self.ledger.start(attempt.id, "dask" if self.options.scheduler else "local")
            self.engine.submit(attempt.id, bundle, attempt.student, packed)

    # ---- 4. collect ---------------------------------------------------------------------------

    def collect(self, now: float) -> None:
        for done in self.engine.finished():
            attempt = self.ledger.get(done.attempt)
            if attempt.state != "running":
                continue
            if done.lost:
                self.ledger.update(attempt.id, state="queued", tries=max(0, attempt.tries - 1),
                                   cause=f"waiting: {self.engine.down() or 'the engine lost the task'}")
                continue
            outcome = done.outcome
            cause = done.error
            if outcome is not None and outcome.failed:
                cause = "; ".join(p for nb in outcome.notebooks if nb.status == "failed" for p in nb.problems)
            if cause:
                if attempt.tries <= self.options.retries:
                    self.ledger.update(attempt.id, state="queued", not_before=now + 10.0 * attempt.tries,
                                       cause=f"retrying after a grader failure: {cause[:900]}")
                else:
                    self.ledger.update(attempt.id, state="failed", finished=now, cause=cause[:2000])
                    log.error("NOT GRADED %s %s: %s", attempt.student, attempt.assignment, cause)
                continue
            assert outcome is not None
            store.save(self.folder(attempt), outcome)
            bundle = self.bundle(attempt.assignment)
            max_auto = sum(spec.max_auto for spec in bundle.specs.values())
            problems = "; ".join(outcome.all_problems)
            self.ledger.finish(attempt.id, outcome.auto_score, max_auto, outcome.seconds, problems[:2000] or None)
            if done.worker:
                self.ledger.update(attempt.id, worker=done.worker)
            log.info("graded %s %s (%s): %g / %g in %.1f s", attempt.student, attempt.assignment, attempt.submitted,
                     outcome.auto_score, max_auto, outcome.seconds)

    # ---- 5. record ----------------------------------------------------------------------------

    def _to_submitted(self, attempt: Attempt) -> None:
        """The graded attempt becomes the course's submission (what ``nbgrader collect`` does)."""
        dest = self.course.submitted(attempt.student, attempt.assignment)
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = dest.with_name(f".{dest.name}.serve-new")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(store.files(self.folder(attempt)), staging, symlinks=True)
        old = dest.with_name(f".{dest.name}.serve-old")
        shutil.rmtree(old, ignore_errors=True)
        if dest.is_symlink():
            dest.unlink()
        elif dest.exists():
            os.replace(dest, old)
        os.replace(staging, dest)
        shutil.rmtree(old, ignore_errors=True)

    def record(self, now: float) -> None:
        for attempt in self.ledger.to_record():
            newer = self.ledger.latest_recorded(attempt.student, attempt.assignment)
            if newer is not None and newer > attempt.submitted:
                self.ledger.update(attempt.id, recorded="older", recorded_at=now)
                continue
            outcome = store.load(self.folder(attempt))
            try:
                self._to_submitted(attempt)
                recording.write_autograded(self.course, attempt.assignment, outcome)
                recording.record(self.course, attempt.assignment, outcome)
            except Exception as exc:
                if not _db_error(exc):
                    raise
                self.problems["gradebook"] = f"the gradebook cannot be written ({type(exc).__name__}: " \
                                             f"{str(exc).splitlines()[0][:200]}); results wait and are recorded when it is back"
                return
            self.problems.pop("gradebook", None)
            self.ledger.update(attempt.id, recorded="yes", recorded_at=time.time())

    # ---- 6. deliver ---------------------------------------------------------------------------

    def _context(self, attempt: Attempt, recorded: bool, note: str = "") -> pages.Context:
        score, max_score, penalty, manual = attempt.score, attempt.max_score, 0.0, 0.0
        bundle = self.bundle(attempt.assignment)
        manual = sum(c.points or 0 for s in bundle.specs.values() for c in s.cells.values() if c.grade and c.solution)
        if recorded:
            from nbgrader.api import Gradebook

            with Gradebook(self.course.db_url, self.course.course_id or None) as gb:
                sub = gb.find_submission(attempt.assignment, attempt.student)
                score, max_score = float(sub.code_score), float(sub.max_code_score)
                penalty = float(sub.late_submission_penalty or 0)
        return pages.Context(self.course.course_id, attempt.assignment, attempt.student, attempt.submitted,
                             self.due(attempt.assignment), score, max_score, penalty, manual, note)

    def _publish(self, attempt: Attempt, html_pages: dict[str, str], level: str) -> None:
        secret = inboxmod.read_secret(store.files(self.folder(attempt)))
        if secret is None:
            self.ledger.update(attempt.id, delivered="impossible: the submission has no submission_secret.txt",
                               delivered_at=time.time())
            return
        try:
            pages.publish(inboxmod.feedback_dir(self.course), secret, html_pages)
        except OSError as exc:
            self.problems["feedback"] = f"cannot write to the exchange's feedback folder: {exc}"
            return
        self.problems.pop("feedback", None)
        self.ledger.update(attempt.id, delivered=level, delivered_at=time.time())

    def deliver(self, now: float) -> None:
        rows = self.ledger.all()
        latest: dict[tuple[str, str], Attempt] = {}
        for a in rows:
            if a.state == "done" and a.recorded == "yes":
                key = (a.student, a.assignment)
                if key not in latest or a.submitted > latest[key].submitted:
                    latest[key] = a
        for attempt in rows:
            told = attempt.state in ("deferred", "failed") and attempt.delivered is None
            told |= attempt.state == "superseded" and attempt.delivered == "deferred"  # it was told "graded at ..."
            if told:
                ctx = pages.Context(self.course.course_id, attempt.assignment, attempt.student, attempt.submitted,
                                    self.due(attempt.assignment))
                message = attempt.cause if attempt.state in ("deferred", "superseded") else \
                    "The grader could not grade this submission; your instructor can see why and will grade it."
                try:
                    names = list(self.bundle(attempt.assignment).specs)
                except CourseError:
                    continue
                self._publish(attempt, {n: pages.notice_page(ctx, message or "") for n in names}, attempt.state)
                continue
            if attempt.state != "done" or attempt.recorded is None:
                continue
            current = latest.get((attempt.student, attempt.assignment))
            is_current = current is not None and current.id == attempt.id
            level = self.policies.get(attempt.assignment).shown(self.past_due(attempt.assignment, now))
            if not is_current and level == "full":
                level = "checks"  # the full page shows the gradebook's scores, which are the later attempt's
            if attempt.delivered is not None and (not is_current or attempt.delivered == level):
                continue
            if attempt.id not in self._rendering:
                self._rendering[attempt.id] = (self.renderer.submit(self._pages, attempt, level, is_current), level)

    def published(self) -> None:
        """Publish the pages built since the last pass (from the loop: it writes the ledger)."""
        for attempt_id, (future, level) in list(self._rendering.items()):
            if not future.done():
                continue
            del self._rendering[attempt_id]
            try:
                html_pages = future.result()
            except Exception as exc:
                if not _db_error(exc):
                    raise
                self.problems["gradebook"] = f"the gradebook cannot be read ({type(exc).__name__})"
                continue
            attempt = self.ledger.get(attempt_id)
            self._publish(attempt, html_pages, level)
            log.info("feedback (%s) for %s %s (%s)", level, attempt.student, attempt.assignment, attempt.submitted)

    def _pages(self, attempt: Attempt, level: str, is_current: bool) -> dict[str, str]:
        """The pages of a graded attempt at ``level`` (runs in the renderer thread)."""
        from course.reports import feedback

        folder = self.folder(attempt)
        outcome = store.load(folder)
        note = "" if is_current else "A later submission of yours is the one in the gradebook."
        ctx = self._context(attempt, recorded=is_current, note=note)
        bundle = self.bundle(attempt.assignment)

        def full_page(name: str) -> str:
            try:
                return feedback.render(self.course, bundle.specs[name], attempt.student, attempt.assignment,
                                       folder / "autograded" / f"{name}.ipynb")
            except Exception as exc:  # PageLeak, a template error: never the page, the checks instead
                log.warning("full feedback for %s %s/%s not made (%s): checks shown", attempt.student,
                            attempt.assignment, name, exc)
                nb = next(n for n in outcome.notebooks if n.name == name)
                return pages.checks_page(ctx, nb.autograded, bundle.specs[name], nb.scores, self.course.markers)

        return pages.pages_for(level, ctx, outcome, bundle.specs, self.course.markers, full_page)


def serve(course: Course, options: ServeOptions | None = None, until: Callable[[], bool] | None = None) -> None:
    Service(course, options).run(until)
