"""New submissions in nbgrader's exchange, taken safely into the service's own store.

The exchange's ``<root>/<course>/inbound/`` holds one folder per submission,
``<student>+<assignment>+<timestamp>+<random>``, written by ``nbgrader submit`` (and, on the
hub, rebuilt private by :class:`course.hub.exchange.PrivateSubmit`). A folder is taken when

- its name has that form, with a plain student id;
- it is a plain folder (a link is refused), complete (``timestamp.txt`` and
  ``submission_secret.txt``, which nbgrader writes last) and settled (nothing in it changed for
  :data:`SETTLE` seconds);
- it belongs to the student it names, as ``nbgrader collect`` checks (``CollectApp.check_owner``):
  a folder written by another account claiming to be someone else is refused. Folders written
  by the service's own account (a course on one account) are taken as they are.

It is copied into ``<store>/<key>/files`` by the grader's file rule
(:func:`course.grading.intake.copy_tree`: regular files only, no links followed, capped),
and taken only if the folder did not change while it was copied. From then on the service works
on its copy: the student still owns the exchange folder and could change it.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import re
import shutil
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from course.grading import intake
from course.layout import Course

SETTLE = 1.0  # seconds a submission folder must be unchanged before it is taken
#: ``<student>+<assignment>+<timestamp>[+<random>]``: nbgrader's timestamp format (any time zone it
#: is configured with) and its random part (``urlsafe_b64encode``: letters, digits, ``-``, ``_``).
NAME = re.compile(r"^(?P<student>[A-Za-z0-9_][A-Za-z0-9_.@-]{0,99})\+(?P<assignment>[A-Za-z0-9_][A-Za-z0-9_.-]{0,99})"
                  r"\+(?P<timestamp>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?( [A-Za-z]{1,6}| ?[+-]\d{2}:?\d{2})?)"
                  r"(\+[A-Za-z0-9_=-]{1,64})?$")
SECRET_BYTES = 1024


def exchange_root(course: Course) -> Path:
    """nbgrader's ``Exchange.root`` as the course's config sets it (nbgrader's default otherwise)."""
    from nbgrader.exchange.default.exchange import Exchange

    return Path(Exchange(config=course.config).root)


def inbound(course: Course) -> Path:
    return exchange_root(course) / course.course_id / "inbound"


def feedback_dir(course: Course) -> Path:
    return exchange_root(course) / course.course_id / "feedback"


@dataclass(frozen=True)
class Found:
    name: str
    student: str
    assignment: str
    submitted: str  # 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC)
    problem: str | None = None  # set: not a submission the service may take (why)


def parse(name: str) -> Found | None:
    """A submission folder's name, or ``None`` for anything else in the inbound.

    >>> parse("alice+case01_strategy+2026-03-01 09:15:02.123456 UTC+Xk3p-_9zQ2a").student
    'alice'
    >>> parse("bob+case01_strategy+2026-03-01 09:15:02 UTC+Xk3p").submitted  # as nbgrader reads it (UTC)
    '2026-03-01 09:15:02.000000'
    >>> parse("alice+case01_strategy+2026-03-01 09:15:02.123456 UTC+Xk3p.private") is None
    True
    """
    from nbgrader.utils import parse_utc

    match = NAME.match(name)
    if not match:
        return None
    try:
        when = parse_utc(match.group("timestamp"))
    except (ValueError, OverflowError):
        return None
    return Found(name, match.group("student"), match.group("assignment"), when.strftime("%Y-%m-%d %H:%M:%S.%f"))


def _owner_ok(path: Path, student: str, check_owner: bool) -> str | None:
    owner = path.lstat().st_uid
    if not check_owner or owner == os.geteuid():
        return None
    try:
        name = pwd.getpwuid(owner).pw_name
    except KeyError:
        name = f"uid {owner}"
    if name != student:
        return f"the folder claims to be {student}'s but belongs to {name}: not taken"
    return None


def _signature(path: Path) -> tuple:
    """What changes when anything directly in the folder is added, removed or rewritten."""
    top = path.lstat()
    entries = []
    with os.scandir(path) as it:
        for entry in it:
            info = entry.stat(follow_symlinks=False)
            entries.append((entry.name, info.st_mtime_ns, info.st_size, info.st_ino))
    return top.st_ino, top.st_mtime_ns, tuple(sorted(entries))


def _settled(path: Path, now: float) -> bool:
    newest = path.lstat().st_mtime
    with os.scandir(path) as it:
        for entry in it:
            newest = max(newest, entry.stat(follow_symlinks=False).st_mtime)
    return now - newest >= SETTLE


def key(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:20]


class Inbox:
    def __init__(self, course: Course, store: Path) -> None:
        self.course = course
        self.path = inbound(course)
        self.store = store
        self.check_owner = bool(course.config.get("CollectApp", {}).get("check_owner", True))

    def scan(self, known: set[str], now: float | None = None) -> list[Found]:
        """Folders not in ``known`` that are ready to be taken (or must be refused)."""
        now = time.time() if now is None else now
        try:
            names = sorted(os.listdir(self.path))
        except FileNotFoundError:
            return []
        found: list[Found] = []
        for name in names:
            if name in known:
                continue
            parsed = parse(name)
            if parsed is None:
                continue
            path = self.path / name
            try:
                mode = path.lstat().st_mode
                if stat.S_ISLNK(mode) or not stat.S_ISDIR(mode):
                    found.append(Found(**{**parsed.__dict__, "problem": "not a plain folder (a link?): not taken"}))
                    continue
                problem = _owner_ok(path, parsed.student, self.check_owner)
                if problem:
                    found.append(Found(**{**parsed.__dict__, "problem": problem}))
                    continue
                if not (os.path.lexists(path / "timestamp.txt") and os.path.lexists(path / "submission_secret.txt")):
                    continue  # nbgrader writes these last: still being submitted
                if not _settled(path, now):
                    continue
            except (FileNotFoundError, PermissionError):
                continue  # removed meanwhile, or being rebuilt private
            found.append(parsed)
        return found

    def take(self, found: Found) -> Path | None:
        """Copy the submission into the store by the file rule; ``None`` if it changed meanwhile."""
        source = self.path / found.name
        dest = self.store / key(found.name)
        staging = dest.with_name(dest.name + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        try:
            before = _signature(source)
            intake.copy_tree(source, staging / "files", self.course.ignore)
            if _signature(source) != before:
                shutil.rmtree(staging, ignore_errors=True)
                return None
        except (FileNotFoundError, PermissionError, NotADirectoryError):
            shutil.rmtree(staging, ignore_errors=True)
            return None
        (staging / "files").mkdir(parents=True, exist_ok=True)
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(staging, dest)
        return dest


def read_secret(files: Path) -> str | None:
    """The submission's ``submission_secret.txt`` exactly as nbgrader reads it, or ``None``."""
    from course.sandboxed.files import NotRegular, TooLarge, read_regular

    try:
        return read_regular(files / "submission_secret.txt", SECRET_BYTES).decode("ascii")
    except (NotRegular, TooLarge, UnicodeDecodeError, OSError):
        return None
