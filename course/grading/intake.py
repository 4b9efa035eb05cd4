"""The rule for every byte the grader reads from a submission folder.

A student controls the files of their submission (in a hub's exchange, even while grading
runs). The grader's own, unsandboxed process therefore never *parses* a student's file and
never reads one without bounds. The rule:

1. **Notebooks are read only inside the sandbox.** The runner parses the submitted notebook
   and sends back its cells as JSON of bounded size (``course.sandboxed.runner.intake``); the
   grader reads only that reply.
2. **Everything else is read as bytes, with a type check, a size cap and no links**
   (:mod:`course.sandboxed.files`): ``O_NOFOLLOW | O_NONBLOCK`` and ``fstat`` on the open file,
   so a symbolic link is refused, a named pipe or device never blocks, and a file larger than
   its cap is refused unread. That covers the copy of the submission into the student's
   working folder (:func:`prepare`: regular files only, at most :data:`MAX_FILES` files and
   :data:`MAX_BYTES` bytes), nbgrader's ``timestamp.txt`` (:func:`read_timestamp`: at most
   :data:`MAX_TIMESTAMP` bytes, a strict pattern before nbgrader's own parser sees it) and
   ``submission_secret.txt`` (:func:`read_secret`: at most :data:`MAX_SECRET` bytes of hex).
3. **Folders are walked without following links**; a submission folder that is itself a link
   (or lies under one) is not graded (:func:`is_linked`).

Whatever is refused is reported in the student's problems; nothing refused stops the batch.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import stat
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from nbgrader.utils import parse_utc

from course.sandboxed.files import NotRegular, TooLarge, copy_regular, read_regular

MAX_FILES = 2000
MAX_BYTES = 500 * 1024 * 1024
MAX_TIMESTAMP = 64
#: nbgrader's timestamp layout ("2024-01-02 03:04:05.000000 UTC", an ISO form, a UTC offset).
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?( ?([A-Za-z]{1,5}|[+-]\d{2}:?\d{2}))?")


@dataclass
class Workspace:
    """What :func:`prepare` did: the files copied, what was refused, what the student added."""

    copied: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)


def _ignored(rel: str, patterns: list[str]) -> bool:
    parts = rel.split("/")
    return any(fnmatch.fnmatch(part, pat) for part in parts for pat in patterns)


def copy_tree(src: Path, dest: Path, ignore: list[str], budget: list[int] | None = None) -> tuple[list[str], list[str]]:
    """Copy the regular files of ``src`` into ``dest`` by the rule above; return (copied, problems)."""
    copied: list[str] = []
    problems: list[str] = []
    left = budget if budget is not None else [MAX_BYTES]
    for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
        base = Path(dirpath)
        rel_dir = base.relative_to(src).as_posix()
        dirnames[:] = sorted(d for d in dirnames if not _ignored(f"{rel_dir}/{d}".lstrip("./"), ignore))
        for d in list(dirnames):
            if (base / d).is_symlink():
                problems.append(f"symbolic link {Path(rel_dir, d).as_posix()} skipped")
                dirnames.remove(d)
        for name in sorted(filenames):
            path = base / name
            rel = path.relative_to(src).as_posix()
            if _ignored(rel, ignore):
                continue
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                problems.append(f"symbolic link {rel} skipped")
                continue
            if not stat.S_ISREG(mode):
                problems.append(f"special file {rel} skipped")
                continue
            if len(copied) >= MAX_FILES:
                problems.append(f"submission too large: more than {MAX_FILES} files; {rel} and later files skipped")
                return copied, problems
            target = dest / rel
            try:
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)  # a released file wins over a student's folder of that name
                target.parent.mkdir(parents=True, exist_ok=True)
                left[0] -= copy_regular(path, target, left[0])
            except TooLarge:
                target.unlink(missing_ok=True)
                problems.append(f"submission too large: more than {MAX_BYTES // 2**20} MiB; {rel} and later files skipped")
                return copied, problems
            except (NotRegular, OSError) as exc:
                problems.append(f"could not copy {rel} ({type(exc).__name__})")
                continue
            copied.append(rel)
    return copied, problems


def prepare(submitted: Path, release: Path | None, dest: Path, notebooks: set[str], ignore: list[str]) -> Workspace:
    """Fill the student's working folder: their files, then the released data files on top."""
    dest.mkdir(parents=True, exist_ok=True)
    work = Workspace()
    work.copied, work.problems = copy_tree(submitted, dest, ignore)
    released: set[str] = set()
    if release is not None and release.is_dir():
        rel_files, _ = copy_tree(release, dest, [*ignore, "*.ipynb"])
        released = set(rel_files)
    expected = {f"{name}.ipynb" for name in notebooks} | {"timestamp.txt", "submission_secret.txt"} | released
    work.extra = [rel for rel in work.copied if rel not in expected]
    return work


def release_files(release: Path, ignore: list[str], dest: Path) -> Path | None:
    """A private copy of the released non-notebook files (for the evaluator), or ``None``."""
    if not release.is_dir():
        return None
    copied, _ = copy_tree(release, dest, [*ignore, "*.ipynb"])
    return dest if copied else None


def read_timestamp(folder: Path) -> tuple[datetime | None, str | None]:
    """nbgrader's submission time from ``timestamp.txt`` (or none), and a problem if it is bad."""
    path = folder / "timestamp.txt"
    if not os.path.lexists(path):
        return None, None
    try:
        text = read_regular(path, MAX_TIMESTAMP).decode("ascii").strip()
    except (NotRegular, TooLarge, UnicodeDecodeError, OSError) as exc:
        return None, f"timestamp.txt is unreadable ({exc}; ignored)"
    if not text:
        return None, None
    if not TIMESTAMP.fullmatch(text):
        return None, "timestamp.txt is unreadable (not a timestamp; ignored)"
    try:
        return parse_utc(text), None
    except (ValueError, OverflowError):
        return None, "timestamp.txt is unreadable (not a timestamp; ignored)"


MAX_SECRET = 256
SECRET = re.compile(r"[0-9a-f]{16,256}")


def read_secret(folder: Path) -> tuple[str | None, str | None]:
    """nbgrader's ``submission_secret.txt`` (it names the student's feedback page), and a problem
    if it is there but not what nbgrader writes (a hex token)."""
    path = folder / "submission_secret.txt"
    if not os.path.lexists(path):
        return None, None
    try:
        text = read_regular(path, MAX_SECRET).decode("ascii").strip()
    except (NotRegular, TooLarge, UnicodeDecodeError, OSError) as exc:
        return None, f"submission_secret.txt is unreadable ({exc}; ignored)"
    if not SECRET.fullmatch(text):
        return None, "submission_secret.txt is unreadable (not nbgrader's token; ignored)"
    return text, None


def is_linked(folder: Path, base: Path) -> bool:
    """Whether ``folder`` or a folder between it and ``base`` is a symbolic link."""
    current = folder
    while current != base and base in current.parents:
        if current.is_symlink():
            return True
        current = current.parent
    return False
