"""``course export``: the gradebook as CSV, question by question, and as a Canvas import file.

- ``grades.csv``: one row per student; for every assignment one column per graded question
  (``<assignment>/<grade id>``: the manual score where a grader gave one, else the autograde
  score; empty while it awaits manual grading or without a submission), the assignment total
  after any late penalty (``<assignment>/total``) and the overall ``total``.
- ``questions.csv``: every graded question with its kind (auto/manual) and maximum points.
- ``canvas.csv``: Canvas's gradebook import layout (``Student, ID, SIS User ID, SIS Login ID,
  Section``, one column per assignment, a ``Points Possible`` row); students are matched on
  their nbgrader id as SIS User ID / SIS Login ID, and a new column creates the assignment.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from course.grading.context import load_course


@dataclass(frozen=True)
class Question:
    assignment: str
    notebook: str
    grade_id: str
    kind: str  # auto | manual
    max_points: float

    @property
    def column(self) -> str:
        return f"{self.assignment}/{self.grade_id}"


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return f"{float(value):g}"


def collect(db_url: str, assignments: list[str] | None = None):
    """(questions, students, scores) where scores[(student, column)] is a number or None."""
    questions: list[Question] = []
    scores: dict[tuple[str, str], float | None] = {}
    with Gradebook(db_url) as gb:
        names = assignments or sorted(a.name for a in gb.assignments)
        students = sorted(gb.students, key=lambda s: s.id)
        student_rows = [(s.id, s.last_name or "", s.first_name or "", s.email or "") for s in students]
        totals: dict[str, float] = {}
        for name in names:
            try:
                record = gb.find_assignment(name)
            except MissingEntry:
                continue
            for nb in record.notebooks:
                order = {c.name: i for i, c in enumerate(nb.source_cells)}
                for cell in sorted(nb.grade_cells, key=lambda c: order.get(c.name, 0)):
                    kind = "manual" if cell.name in {s.name for s in nb.solution_cells} or cell.cell_type == "markdown" else "auto"
                    questions.append(Question(name, nb.name, cell.name, kind, float(cell.max_score)))
            totals[name] = float(record.max_score)
            for sid, *_ in student_rows:
                try:
                    sub = gb.find_submission(name, sid)
                except MissingEntry:
                    continue
                for sub_nb in sub.notebooks:
                    for grade in sub_nb.grades:
                        value = grade.manual_score if grade.manual_score is not None else grade.auto_score
                        scores[(sid, f"{name}/{grade.name}")] = None if value is None else float(value)
                scores[(sid, f"{name}/total")] = float(sub.score) - float(sub.late_submission_penalty or 0)
    return questions, student_rows, scores, totals


def write(root: Path, out: Path, assignments: list[str] | None = None) -> list[Path]:
    """Write grades.csv, questions.csv and canvas.csv into ``out``; return their paths."""
    course = load_course(root)
    questions, students, scores, totals = collect(course.db_url, assignments)
    out.mkdir(parents=True, exist_ok=True)
    names = list(totals)
    columns = []
    for name in names:
        columns += [q.column for q in questions if q.assignment == name] + [f"{name}/total"]
    grades = out / "grades.csv"
    with grades.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student_id", "last_name", "first_name", "email", *columns, "total"])
        for sid, last, first, email in students:
            row = [_num(scores.get((sid, c))) for c in columns]
            total = sum(scores.get((sid, f"{n}/total")) or 0.0 for n in names)
            writer.writerow([sid, last, first, email, *row, _num(total)])
    listing = out / "questions.csv"
    with listing.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["assignment", "notebook", "question", "kind", "max_points"])
        for q in questions:
            writer.writerow([q.assignment, q.notebook, q.grade_id, q.kind, _num(q.max_points)])
    canvas = out / "canvas.csv"
    with canvas.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *names])
        writer.writerow(["    Points Possible", "", "", "", "", *[_num(totals[n]) for n in names]])
        for sid, last, first, _ in students:
            display = f"{last}, {first}" if (last or first) else sid
            writer.writerow([display, "", sid, sid, "", *[_num(scores.get((sid, f"{n}/total"))) for n in names]])
    return [grades, listing, canvas]
