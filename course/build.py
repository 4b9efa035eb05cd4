"""``course build``: regenerate ``release/`` from ``source/`` with nbgrader, then prove it clean.

The student version of each assignment is made by stock ``nbgrader generate_assignment``. It is
then normalised (no outputs, clean metadata) and checked:

- no solution or hidden-test delimiter survives, and no line that stood only inside a solution
  or hidden-test region of a source cell appears in the matching release cell;
- nothing but the notebooks and the files declared in ``[tool.course.release-files]`` of
  ``pyproject.toml`` is released.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from course import notebooks as nbio
from course.coursedir import CourseError, notebooks, release_file_patterns

MARKERS = re.compile(r"(BEGIN|END) (SOLUTION|HIDDEN TESTS|MARK SCHEME)")
REGION = {
    "solution": ("### BEGIN SOLUTION", "### END SOLUTION"),
    "hidden": ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"),
    "mark scheme": ("=== BEGIN MARK SCHEME ===", "=== END MARK SCHEME ==="),
}


@dataclass(frozen=True)
class Leak:
    path: Path
    cell: str
    what: str

    def __str__(self) -> str:
        return f"{self.path}: cell {self.cell}: {self.what}"


def nbgrader_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "nbgrader", *args]


def run_nbgrader(root: Path, *args: str) -> subprocess.CompletedProcess:
    """Run a stock nbgrader command in the course root; raise with its log on failure."""
    proc = subprocess.run(
        nbgrader_command(*args), cwd=root, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        log = (proc.stdout + proc.stderr).strip()
        raise CourseError(f"`nbgrader {' '.join(args)}` failed:\n{log}")
    return proc


def hidden_lines(cell_source: str) -> set[str]:
    """Lines that stand only inside solution / hidden-test / mark-scheme regions of a cell."""
    inside: set[str] = set()
    outside: set[str] = set()
    depth = 0
    for raw in cell_source.splitlines():
        line = raw.strip()
        if any(line.startswith(begin) for begin, _ in REGION.values()):
            depth += 1
            continue
        if any(line.startswith(end) for _, end in REGION.values()):
            depth = max(depth - 1, 0)
            continue
        if not line or line.startswith("#") and len(line) < 4:
            continue
        (inside if depth else outside).add(line)
    return {line for line in inside - outside if len(line) >= 6}


def leaks(source_path: Path, release_path: Path) -> list[Leak]:
    """Solution or hidden-test content found in a release notebook."""
    found: list[Leak] = []
    source = nbio.read(source_path)
    release = nbio.read(release_path)
    by_id = {nbio.grade_id(c): c for c in release.cells if nbio.grade_id(c)}
    for cell in release.cells:
        match = MARKERS.search(cell.source)
        if match:
            found.append(Leak(release_path, nbio.cell_label(cell), f"contains the marker {match.group(0)!r}"))
    for index, cell in enumerate(source.cells):
        secret = hidden_lines(cell.source)
        if nbio.is_answer_cell(cell) and not MARKERS.search(cell.source):
            # nbgrader replaces a whole answer cell without delimiters by the stub
            secret = {ln.strip() for ln in cell.source.splitlines() if len(ln.strip()) >= 6}
        if not secret:
            continue
        gid = nbio.grade_id(cell)
        target = by_id.get(gid) if gid else (release.cells[index] if index < len(release.cells) else None)
        if target is None:
            continue
        shown = {line.strip() for line in target.source.splitlines()}
        for line in sorted(secret & shown):
            found.append(Leak(release_path, nbio.cell_label(cell), f"shows hidden line {line[:60]!r}"))
    return found


def unexpected_files(root: Path, assignment: str) -> list[Path]:
    """Files in ``release/<assignment>`` that are neither notebooks nor declared data files."""
    folder = root / "release" / assignment
    allowed = release_file_patterns(root, assignment)
    extra = []
    for path in sorted(folder.rglob("*")):
        if path.is_dir():
            continue
        rel = path.relative_to(folder).as_posix()
        if path.suffix == ".ipynb" and "/" not in rel:
            continue
        if any(fnmatch.fnmatch(rel, pattern) for pattern in allowed):
            continue
        extra.append(path)
    return extra


def build(root: Path, assignment: str) -> list[Path]:
    """Regenerate ``release/<assignment>``; return its notebooks. Raise on any leak."""
    source_dir = root / "source" / assignment
    sources = notebooks(source_dir)
    if not sources:
        raise CourseError(f"source/{assignment} has no notebook")
    for path in sources:
        nbio.read(path)  # a clear error for malformed source notebooks
    release_dir = root / "release" / assignment
    if release_dir.exists():
        shutil.rmtree(release_dir)
    run_nbgrader(root, "generate_assignment", assignment, "--force", "--log-level=WARN")
    released = notebooks(release_dir) if release_dir.is_dir() else []
    for path in released:
        nbio.write(nbio.clean(nbio.read(path)), path)
    problems: list[str] = []
    for src in sources:
        rel = release_dir / src.name
        if not rel.exists():
            problems.append(f"{rel}: missing after nbgrader generate_assignment")
            continue
        problems.extend(str(leak) for leak in leaks(src, rel))
    problems.extend(
        f"{path}: not a notebook and not declared in [tool.course.release-files]"
        for path in unexpected_files(root, assignment)
    )
    if problems:
        raise CourseError("The student version is not safe to release:\n  " + "\n  ".join(problems))
    return released
