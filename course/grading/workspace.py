"""The student's working copy: their submitted files, then the released data files on top.

Copied without following links (a symlink to ``../../gradebook.db`` is skipped, not copied),
with limits on count and size; what was skipped or unexpected is reported per student.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import stat
from pathlib import Path

MAX_FILES = 2000
MAX_BYTES = 500 * 1024 * 1024


def _ignored(rel: str, patterns: list[str]) -> bool:
    parts = rel.split("/")
    return any(fnmatch.fnmatch(part, pat) for part in parts for pat in patterns)


def copy_tree(src: Path, dest: Path, ignore: list[str]) -> tuple[list[str], list[str]]:
    """Copy regular files of ``src`` into ``dest``; return (copied relative paths, problems)."""
    copied: list[str] = []
    problems: list[str] = []
    total = 0
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
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                problems.append(f"symbolic link {rel} skipped")
                continue
            if not stat.S_ISREG(info.st_mode):
                problems.append(f"special file {rel} skipped")
                continue
            if len(copied) >= MAX_FILES or total + info.st_size > MAX_BYTES:
                problems.append(f"submission too large: {rel} and later files skipped")
                return copied, problems
            target = dest / rel
            try:
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)  # a released file wins over a student's folder of that name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
            except OSError as exc:
                problems.append(f"could not copy {rel} ({type(exc).__name__})")
                continue
            total += info.st_size
            copied.append(rel)
    return copied, problems


def prepare(submitted: Path, release: Path | None, dest: Path, notebooks: set[str],
            ignore: list[str]) -> tuple[list[str], list[str]]:
    """Fill ``dest``; return (problems, extra files the student added)."""
    dest.mkdir(parents=True, exist_ok=True)
    copied, problems = copy_tree(submitted, dest, ignore)
    released: set[str] = set()
    if release is not None and release.is_dir():
        rel_files, _ = copy_tree(release, dest, ignore + ["*.ipynb"])
        released = set(rel_files)
    expected = {f"{name}.ipynb" for name in notebooks} | {"timestamp.txt"} | released
    extra = [rel for rel in copied if rel not in expected]
    return problems, extra


def release_files(release: Path, ignore: list[str], dest: Path) -> Path | None:
    """A private copy of the released non-notebook files (for the evaluator), or ``None``."""
    if not release.is_dir():
        return None
    copied, _ = copy_tree(release, dest, ignore + ["*.ipynb"])
    return dest if copied else None
