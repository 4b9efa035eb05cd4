"""``course build``: regenerate the release from the source with nbgrader, then prove it clean.

The student version of each assignment is made by stock ``nbgrader generate_assignment``. It is
then normalised (no outputs, clean metadata) and checked:

- no solution, hidden-test or mark-scheme delimiter survives, and no line that stood only inside
  such a region of a source cell appears in the matching release cell;
- nothing but the notebooks and the files declared in ``[tool.course.release-files]`` of
  ``pyproject.toml`` is released;
- every source cell's regions are well formed (nbgrader's rules: no nesting, every region ends).
"""

from __future__ import annotations

import fnmatch
import shutil
from pathlib import Path

from course import cells, ipynb
from course.authoring import Problem
from course.errors import CourseError, MarkerError
from course.i18n import release as translated
from course.layout import Course, notebooks


def leaks(source_path: Path, release_path: Path, markers: cells.Markers = cells.DEFAULT_MARKERS) -> list[Problem]:
    """Solution or hidden-test content found in a release notebook."""
    found: list[Problem] = []
    source = ipynb.read(source_path)
    release = ipynb.read(release_path)
    by_id = {cells.grade_id(c): c for c in release.cells if cells.grade_id(c)}
    for cell in release.cells:
        marker = next((m for m in markers.all() if m in cell.source), None)
        if marker:
            found.append(Problem(release_path, f"cell {cells.label(cell)}", f"contains the marker {marker!r}"))
    for index, cell in enumerate(source.cells):
        secret = cells.secret_lines(cell.source, markers)
        if cells.is_answer(cell) and not any(m in cell.source for m in markers.all()):
            # nbgrader replaces a whole answer cell without delimiters by the stub
            secret = {ln.strip() for ln in cell.source.splitlines() if len(ln.strip()) >= 6}
        if not secret:
            continue
        gid = cells.grade_id(cell)
        target = by_id.get(gid) if gid else (release.cells[index] if index < len(release.cells) else None)
        if target is None:
            continue
        shown = {line.strip() for line in target.source.splitlines()}
        for line in sorted(secret & shown):
            found.append(Problem(release_path, f"cell {cells.label(cell)}", f"shows hidden line {line[:60]!r}"))
    return found


def marker_problems(path: Path, markers: cells.Markers = cells.DEFAULT_MARKERS) -> list[str]:
    """Regions nbgrader would reject: nested or unterminated, in any cell of a source notebook."""
    found = []
    for cell in ipynb.read(path).cells:
        for begin, end in markers.pairs().values():
            try:
                cells.split_regions(cell.source, begin, end)
            except MarkerError as exc:
                found.append(f"{path}: cell {cells.label(cell)}: {exc}")
    return found


def unexpected_files(course: Course, assignment: str) -> list[Path]:
    """Files in the release folder that are neither notebooks nor declared data files."""
    folder = course.release(assignment)
    allowed = course.release_file_patterns(assignment)
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


def build(course: Course, assignment: str) -> list[Path]:
    """Regenerate the release of ``assignment`` (and of its translations, :mod:`course.i18n.release`);
    return the released notebooks. Raise on any leak."""
    return translated.with_translations(course, assignment, _build_one)


def _build_one(course: Course, assignment: str, nbgrader_options: list[str]) -> list[Path]:
    sources = notebooks(course.source(assignment))
    if not sources:
        raise CourseError(f"{course.source(assignment)} has no notebook")
    problems: list[str] = []
    for path in sources:
        ipynb.read(path)  # a clear error for malformed source notebooks
        problems += marker_problems(path, course.markers)
    if problems:
        raise CourseError("The source has regions nbgrader would reject:\n  " + "\n  ".join(problems))
    release_dir = course.release(assignment)
    if release_dir.exists():
        shutil.rmtree(release_dir)
    course.run_nbgrader("generate_assignment", assignment, "--force", "--log-level=WARN", *nbgrader_options)
    released = notebooks(release_dir) if release_dir.is_dir() else []
    for path in released:
        ipynb.write(ipynb.clean(ipynb.read(path)), path)
    for src in sources:
        rel = release_dir / src.name
        if not rel.exists():
            problems.append(f"{rel}: missing after nbgrader generate_assignment")
            continue
        problems.extend(str(leak) for leak in leaks(src, rel, course.markers))
    problems.extend(f"{path}: not a notebook and not declared in [tool.course.release-files]"
                    for path in unexpected_files(course, assignment))
    if problems:
        raise CourseError("The student version is not safe to release:\n  " + "\n  ".join(problems))
    return released
