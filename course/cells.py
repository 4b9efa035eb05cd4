"""The one cell model: what an nbgrader cell is, and the markers inside its source.

Everything that asks "is this a test / an answer / a locked cell", reads a grade id, builds
nbgrader metadata or handles ``BEGIN SOLUTION`` / ``BEGIN HIDDEN TESTS`` regions comes here:
build, grading, feedback, key, submissions, export and authoring all use these functions, and
they follow nbgrader's own definitions (:mod:`nbgrader.utils`) and its configured delimiters.

Roles of a cell (:func:`role`):

========== ======================================================== ======================
role       what it is                                               nbgrader metadata
========== ======================================================== ======================
``test``   autograder tests (visible checks + hidden tests)         grade, not solution, code
``answer`` an autograded code answer the student writes             solution, not grade
``written``a manually graded answer (markdown or code)              grade and solution
``locked`` read-only setup / data / text, restored at grading       locked
``task``   a manually graded task description                       task
``free``   anything else (worked examples, a student's own cells)   none
========== ======================================================== ======================

>>> from nbformat.v4 import new_code_cell
>>> cell = new_code_cell("x = 1", metadata={"nbgrader": metadata("x_answer", solution=True)})
>>> role(cell), grade_id(cell)
('answer', 'x_answer')
>>> strip_hidden("check(x)\\n### BEGIN HIDDEN TESTS\\nassert x == 1\\n### END HIDDEN TESTS")
'check(x)'
>>> strip_hidden("### BEGIN HIDDEN TESTS\\nassert x == 1")
Traceback (most recent call last):
...
course.errors.MarkerError: no END HIDDEN TESTS after BEGIN HIDDEN TESTS
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from nbformat import NotebookNode
from nbgrader import utils as nbutils
from nbgrader.nbgraderformat import SCHEMA_VERSION

from course.errors import MarkerError

Role = Literal["test", "answer", "written", "locked", "task", "free"]
Kind = Literal["solution", "hidden", "mark scheme"]


@dataclass(frozen=True)
class Markers:
    """The region delimiters, as configured for nbgrader (its defaults unless changed)."""

    begin_solution: str = "BEGIN SOLUTION"
    end_solution: str = "END SOLUTION"
    begin_hidden: str = "BEGIN HIDDEN TESTS"
    end_hidden: str = "END HIDDEN TESTS"
    begin_mark_scheme: str = "BEGIN MARK SCHEME"
    end_mark_scheme: str = "END MARK SCHEME"

    @classmethod
    def from_config(cls, config: Any) -> Markers:
        """Read the delimiters from a traitlets ``Config`` (``ClearSolutions``, ``ClearHiddenTests``,
        ``ClearMarkingScheme``), falling back to nbgrader's defaults."""
        default = cls()

        def get(section: str, key: str, fallback: str) -> str:
            value = config.get(section, {}).get(key, fallback) if config is not None else fallback
            return value if isinstance(value, str) and value else fallback

        return cls(
            get("ClearSolutions", "begin_solution_delimeter", default.begin_solution),
            get("ClearSolutions", "end_solution_delimeter", default.end_solution),
            get("ClearHiddenTests", "begin_test_delimeter", default.begin_hidden),
            get("ClearHiddenTests", "end_test_delimeter", default.end_hidden),
            get("ClearMarkingScheme", "begin_mark_scheme_delimeter", default.begin_mark_scheme),
            get("ClearMarkingScheme", "end_mark_scheme_delimeter", default.end_mark_scheme),
        )

    def pairs(self) -> dict[Kind, tuple[str, str]]:
        return {"solution": (self.begin_solution, self.end_solution),
                "hidden": (self.begin_hidden, self.end_hidden),
                "mark scheme": (self.begin_mark_scheme, self.end_mark_scheme)}

    def all(self) -> list[str]:
        return [m for pair in self.pairs().values() for m in pair]


DEFAULT_MARKERS = Markers()


# --------------------------------------------------------------------------------------------
# nbgrader metadata
# --------------------------------------------------------------------------------------------


def nbgrader(cell: NotebookNode) -> dict[str, Any]:
    """A copy of the cell's nbgrader metadata (``{}`` when it has none or it is not a dict)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return dict(meta) if isinstance(meta, dict) else {}


def grade_id(cell: NotebookNode) -> str | None:
    gid = nbgrader(cell).get("grade_id")
    return gid if isinstance(gid, str) and gid else None


def role(cell: NotebookNode) -> Role:
    """The cell's role (see the module docstring); nbgrader's own predicates decide."""
    if "nbgrader" not in cell.get("metadata", {}) or not isinstance(cell.metadata.nbgrader, dict):
        return "free"
    grade, solution = bool(nbutils.is_grade(cell)), bool(nbutils.is_solution(cell))
    if grade and solution:
        return "written"
    if solution:
        return "answer" if cell.cell_type == "code" else "written"
    if grade:
        return "test" if cell.cell_type == "code" else "written"
    if nbutils.is_task(cell):
        return "task"
    if nbutils.is_locked(cell):
        return "locked"
    return "free"


def is_test(cell: NotebookNode) -> bool:
    return role(cell) == "test"


def is_answer(cell: NotebookNode) -> bool:
    """A cell the student writes in (an nbgrader solution cell), code or markdown."""
    return bool(nbutils.is_solution(cell)) if "nbgrader" in cell.get("metadata", {}) else False


def is_autograded_answer(cell: NotebookNode) -> bool:
    return role(cell) == "answer"


def is_trusted_code(cell: NotebookNode) -> bool:
    """Code the instructor wrote and the grader restores: locked cells and tests."""
    return cell.cell_type == "code" and role(cell) in ("test", "locked")


def label(cell: NotebookNode) -> str:
    """A human name for a cell: its grade id, else its first line."""
    gid = grade_id(cell)
    if gid:
        return gid
    first = next((line for line in cell.source.splitlines() if line.strip()), "")
    return f"{cell.cell_type}: {first[:50]!r}"


def metadata(grade_id: str, *, grade: bool = False, solution: bool = False, locked: bool = False,
             points: float | None = None, task: bool = False, checksum: str | None = None) -> dict[str, Any]:
    """nbgrader cell metadata, as nbgrader's own toolbar writes it (current schema version)."""
    meta: dict[str, Any] = {"grade": grade, "grade_id": grade_id, "locked": locked,
                            "schema_version": SCHEMA_VERSION, "solution": solution, "task": task}
    if points is not None:
        meta["points"] = points
    if checksum is not None:
        meta["checksum"] = checksum
    return meta


# --------------------------------------------------------------------------------------------
# regions inside a cell's source
# --------------------------------------------------------------------------------------------


def split_regions(source: str, begin: str, end: str) -> tuple[list[str], list[str]]:
    """(lines outside, lines inside) the ``begin``/``end`` regions; nbgrader's rules: a line that
    contains a delimiter is a delimiter line; nested or unterminated regions are errors."""
    outside: list[str] = []
    inside: list[str] = []
    within = False
    for line in source.split("\n"):
        if begin in line:
            if within:
                raise MarkerError(f"nested {begin} inside {begin}")
            within = True
        elif end in line:  # (nbgrader drops a stray end delimiter without complaint)
            within = False
        else:
            (inside if within else outside).append(line)
    if within:
        raise MarkerError(f"no {end} after {begin}")
    return outside, inside


def strip_hidden(source: str, markers: Markers = DEFAULT_MARKERS) -> str:
    """A test cell as the student sees it: hidden-test regions removed (nbgrader's ClearHiddenTests)."""
    outside, _ = split_regions(source, markers.begin_hidden, markers.end_hidden)
    return "\n".join(outside)


def has_hidden(source: str, markers: Markers = DEFAULT_MARKERS) -> bool:
    return markers.begin_hidden in source


def solution_text(source: str, markers: Markers = DEFAULT_MARKERS) -> str:
    """An answer cell's text as a student who got it right would write it: delimiter lines out.

    >>> solution_text("### BEGIN SOLUTION\\nx = 1\\n### END SOLUTION")
    'x = 1'
    """
    return "\n".join(ln for ln in source.splitlines()
                     if markers.begin_solution not in ln and markers.end_solution not in ln)


def secret_lines(source: str, markers: Markers = DEFAULT_MARKERS, *, min_length: int = 6) -> set[str]:
    """Stripped lines that stand only inside solution / hidden-test / mark-scheme regions.

    Used to prove a student version leaks nothing: such a line must not appear in it.
    """
    inside: set[str] = set()
    outside: set[str] = set()
    depth = 0
    begins = [b for b, _ in markers.pairs().values()]
    ends = [e for _, e in markers.pairs().values()]
    for raw in source.splitlines():
        line = raw.strip()
        if any(b in line for b in begins):
            depth += 1
            continue
        if any(e in line for e in ends):
            depth = max(depth - 1, 0)
            continue
        if not line or (line.startswith("#") and len(line) < 4):
            continue
        (inside if depth else outside).add(line)
    return {line for line in inside - outside if len(line) >= min_length}
