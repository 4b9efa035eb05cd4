"""The instructor's version of an assignment, from the gradebook: what grading trusts.

``nbgrader generate_assignment`` stores every locked and test cell of the source notebook (test
cells *with* their hidden tests) in the gradebook. :func:`load` reads them back as
:class:`NotebookSpec`; :func:`ensure` creates them with stock nbgrader first when the gradebook
does not know the assignment yet (without touching ``release/``).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader.api import Gradebook, MissingEntry

from course import cells, ipynb
from course.errors import BadNotebook, CourseError, GradebookUnavailable
from course.layout import Course


@dataclass(frozen=True)
class SpecCell:
    """One graded, locked or task cell as the instructor wrote it."""

    name: str
    cell_type: str
    locked: bool
    source: str
    checksum: str | None
    grade: bool
    solution: bool
    task: bool
    points: float | None

    @property
    def is_test(self) -> bool:
        return self.grade and not self.solution and self.cell_type == "code"

    @property
    def trusted(self) -> bool:
        """Restored from the gradebook whatever the student did (locked or test)."""
        return self.locked and not self.solution

    def metadata(self) -> dict:
        return cells.metadata(self.name, grade=self.grade, solution=self.solution, locked=self.locked,
                              points=self.points, task=self.task, checksum=self.checksum)


@dataclass(frozen=True)
class NotebookSpec:
    name: str
    kernelspec: NotebookNode | None
    cells: dict[str, SpecCell]
    order: list[str]  # grade ids in the instructor's (release) order

    @property
    def max_auto(self) -> float:
        return sum(c.points or 0 for c in self.cells.values() if c.is_test)

    def zero_scores(self) -> dict[str, tuple[float | None, float]]:
        return {c.name: (0.0, c.points or 0.0) for c in self.cells.values() if c.grade}


def load(db_url: str, assignment: str, order_from: Path | None = None) -> dict[str, NotebookSpec]:
    """Every notebook of ``assignment`` in the gradebook (``MissingEntry`` if it is not there)."""
    specs: dict[str, NotebookSpec] = {}
    with Gradebook(db_url) as gb:
        record = gb.find_assignment(assignment)
        for nb in record.notebooks:
            grades = {c.name: c for c in nb.grade_cells}
            solutions = {c.name for c in nb.solution_cells}
            tasks = {c.name: c for c in nb.task_cells}
            found: dict[str, SpecCell] = {}
            for src in nb.source_cells:
                graded = grades.get(src.name) or tasks.get(src.name)
                found[src.name] = SpecCell(
                    name=src.name, cell_type=src.cell_type, locked=bool(src.locked), source=src.source or "",
                    checksum=src.checksum, grade=src.name in grades, solution=src.name in solutions,
                    task=src.name in tasks, points=float(graded.max_score) if graded is not None else None)
            kernelspec = nbformat.from_dict(json.loads(nb.kernelspec)) if nb.kernelspec else None
            order = list(found)
            if order_from is not None:
                order = _release_order(order_from / f"{nb.name}.ipynb", found) or order
            specs[nb.name] = NotebookSpec(nb.name, kernelspec, found, order)
    return specs


def _release_order(path: Path, found: dict[str, SpecCell]) -> list[str]:
    if not path.is_file():
        return []
    try:
        nb = ipynb.read(path)
    except BadNotebook:
        return []
    ids = [gid for gid in (cells.grade_id(c) for c in nb.cells) if gid in found]
    return ids + [name for name in found if name not in ids]


def ensure(course: Course, assignment: str) -> dict[str, NotebookSpec]:
    """The assignment's notebooks from the gradebook, creating them with nbgrader if needed."""
    order = course.release(assignment)
    if not order.is_dir():
        order = course.source(assignment)
    try:
        specs = load(course.db_url, assignment, order)
    except MissingEntry:
        specs = {}
    except Exception as exc:  # the database server is down, the URL is wrong, ...
        if type(exc).__module__.startswith(("sqlalchemy", "psycopg")):
            raise GradebookUnavailable(f"the gradebook ({_safe_url(course.db_url)}) cannot be read: "
                                       f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}") from exc
        raise
    if specs:
        return specs
    if not course.source(assignment).is_dir():
        raise CourseError(f"{assignment} is neither in the gradebook nor in the source folder: nothing to grade against.")
    with tempfile.TemporaryDirectory(prefix="course-release-") as tmp:
        # the real release folder stays untouched; only the gradebook learns the assignment
        course.run_nbgrader("generate_assignment", assignment, "--force", "--log-level=WARN",
                            f"--CourseDirectory.release_directory={tmp}")
    specs = load(course.db_url, assignment, order)
    if not specs:
        raise CourseError(f"nbgrader generate_assignment {assignment} created no notebook in the gradebook.")
    return specs


def _safe_url(url: str) -> str:
    """A database URL without its password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]
