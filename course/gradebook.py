"""Reading scores back from nbgrader's gradebook."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from course.layout import Course


@dataclass(frozen=True)
class Score:
    student: str
    assignment: str
    auto: float  # autograded (code test cells) score
    max_auto: float
    manual_max: float  # points awaiting the instructor (written answers)
    cells: dict[str, float]  # grade id -> score of autograded test cells


def read_score(course: Course | Path, assignment: str, student: str) -> Score:
    """Autograded score of one submission (test cells only), cell by cell, from the course's
    gradebook (nbgrader's ``db_url``: SQLite or a database server)."""
    if not isinstance(course, Course):
        course = Course.load(course)
    with Gradebook(course.db_url) as gb:
        try:
            sub = gb.find_submission(assignment, student)
        except MissingEntry as exc:
            raise KeyError(f"no graded submission of {assignment} for {student}") from exc
        cells: dict[str, float] = {}
        manual_max = 0.0
        for nb in sub.notebooks:
            for grade in nb.grades:
                if grade.auto_score is None:  # awaits the instructor (written answer)
                    manual_max += grade.max_score
                else:
                    cells[grade.name] = float(grade.auto_score)
        return Score(
            student=student,
            assignment=assignment,
            auto=float(sub.code_score),
            max_auto=float(sub.max_code_score),
            manual_max=manual_max,
            cells=cells,
        )
