"""``course export``: the gradebook as CSV, question by question, and as a Canvas import file.

- ``grades.csv``: one row per student; for every assignment one column per graded question
  (``<assignment>/<grade id>``: the manual score where a grader gave one, else the autograde
  score; empty while it awaits manual grading or without a submission), the assignment total
  after any late penalty (``<assignment>/total``) and the overall ``total``; after the
  student's name and email, the ``language`` they worked in: the languages of the assignments
  they submitted (``en``; ``zh`` for a translated assignment such as ``case02_logistics_zh``;
  ``en+zh`` for both; empty without a submission; :func:`language_of_student`).
- ``questions.csv``: every graded question with its kind (auto/manual) and maximum points.
- ``canvas.csv``: Canvas's gradebook import layout (``Student, ID, SIS User ID, SIS Login ID,
  Section``, one column per assignment, a ``Points Possible`` row); students are matched on
  their nbgrader id as SIS User ID / SIS Login ID, and a new column creates the assignment.

Every text field goes through :func:`cell_text`: a value a spreadsheet would read as a formula
(starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) gets a leading ``'``
(OWASP's rule against CSV injection); numbers are written as numbers.

The same files come from stock nbgrader through its export plugins::

    nbgrader export --exporter=course.reports.export.QuestionsExportPlugin --to=grades.csv
    nbgrader export --exporter=course.reports.export.CanvasExportPlugin --to=canvas.csv
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins.export import ExportPlugin

from course import i18n
from course.layout import Course

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell_text(value: object) -> str:
    """A text field safe to open in a spreadsheet.

    >>> cell_text("=HYPERLINK(\\"http://x\\")"), cell_text("-alice"), cell_text("bob")
    ('\\'=HYPERLINK("http://x")', "'-alice", 'bob')
    """
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def number(value: float | None) -> str:
    """A number as a number (``-1.5`` stays ``-1.5``); empty for none."""
    return "" if value is None else f"{float(value):g}"


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


@dataclass
class Grades:
    questions: list[Question] = field(default_factory=list)
    students: list[tuple[str, str, str, str]] = field(default_factory=list)  # id, last, first, email
    scores: dict[tuple[str, str], float | None] = field(default_factory=dict)  # (student, column)
    totals: dict[str, float] = field(default_factory=dict)  # assignment -> max score
    submitted: dict[str, set[str]] = field(default_factory=dict)  # student -> assignments submitted


def collect(gb: Gradebook, assignments: list[str] | None = None, students: list[str] | None = None) -> Grades:
    out = Grades()
    names = assignments or sorted(a.name for a in gb.assignments)
    rows = sorted(gb.students, key=lambda s: s.id)
    out.students = [(s.id, s.last_name or "", s.first_name or "", s.email or "") for s in rows
                    if not students or s.id in students]
    for name in names:
        try:
            record = gb.find_assignment(name)
        except MissingEntry:
            continue
        for nb in record.notebooks:
            order = {c.name: i for i, c in enumerate(nb.source_cells)}
            solutions = {s.name for s in nb.solution_cells}
            for cell in sorted(nb.grade_cells, key=lambda c: order.get(c.name, 0)):
                kind = "manual" if cell.name in solutions or cell.cell_type == "markdown" else "auto"
                out.questions.append(Question(name, nb.name, cell.name, kind, float(cell.max_score)))
        out.totals[name] = float(record.max_score)
        for sid, *_ in out.students:
            try:
                sub = gb.find_submission(name, sid)
            except MissingEntry:
                continue
            out.submitted.setdefault(sid, set()).add(name)
            for sub_nb in sub.notebooks:
                for grade in sub_nb.grades:
                    value = grade.manual_score if grade.manual_score is not None else grade.auto_score
                    out.scores[(sid, f"{name}/{grade.name}")] = None if value is None else float(value)
            out.scores[(sid, f"{name}/total")] = float(sub.score) - float(sub.late_submission_penalty or 0)
    return out


def write_grades(grades: Grades, path: Path) -> None:
    names = list(grades.totals)
    columns: list[str] = []
    for name in names:
        columns += [q.column for q in grades.questions if q.assignment == name] + [f"{name}/total"]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student_id", "last_name", "first_name", "email", "language", *map(cell_text, columns),
                         "total"])
        for sid, last, first, email in grades.students:
            row = [number(grades.scores.get((sid, c))) for c in columns]
            total = sum(grades.scores.get((sid, f"{n}/total")) or 0.0 for n in names)
            language = language_of_student(grades.submitted.get(sid, set()))
            writer.writerow([*map(cell_text, (sid, last, first, email, language)), *row, number(total)])


def language_of_student(assignments: set[str]) -> str:
    """The languages of the assignments a student submitted, from their ids.

    >>> language_of_student({"case02_logistics_zh", "case03_pharma_hr_zh"}), language_of_student(set())
    ('zh', '')
    >>> language_of_student({"case02_logistics", "case03_pharma_hr_zh"})
    'en+zh'
    """
    return "+".join(sorted({i18n.language_of(a) for a in assignments}))


def write_questions(grades: Grades, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["assignment", "notebook", "question", "kind", "max_points"])
        for q in grades.questions:
            writer.writerow([*map(cell_text, (q.assignment, q.notebook, q.grade_id, q.kind)), number(q.max_points)])


def write_canvas(grades: Grades, path: Path) -> None:
    names = list(grades.totals)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *map(cell_text, names)])
        writer.writerow(["    Points Possible", "", "", "", "", *[number(grades.totals[n]) for n in names]])
        for sid, last, first, _ in grades.students:
            display = f"{last}, {first}" if (last or first) else sid
            writer.writerow([cell_text(display), "", cell_text(sid), cell_text(sid), "",
                             *[number(grades.scores.get((sid, f"{n}/total"))) for n in names]])


def write(course: Course, out: Path, assignments: list[str] | None = None) -> list[Path]:
    """Write grades.csv, questions.csv and canvas.csv into ``out``; return their paths."""
    with Gradebook(course.db_url) as gb:
        grades = collect(gb, assignments)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "grades.csv", out / "questions.csv", out / "canvas.csv"]
    for writer, path in zip((write_grades, write_questions, write_canvas), paths, strict=True):
        writer(grades, path)
    return paths


class QuestionsExportPlugin(ExportPlugin):
    """``nbgrader export --exporter=course.reports.export.QuestionsExportPlugin``: grades.csv."""

    def export(self, gradebook: Gradebook) -> None:
        grades = collect(gradebook, [str(a) for a in self.assignment] or None, [str(s) for s in self.student] or None)
        write_grades(grades, Path(self.to or "grades.csv"))


class CanvasExportPlugin(ExportPlugin):
    """``nbgrader export --exporter=course.reports.export.CanvasExportPlugin``: canvas.csv."""

    def export(self, gradebook: Gradebook) -> None:
        grades = collect(gradebook, [str(a) for a in self.assignment] or None, [str(s) for s in self.student] or None)
        write_canvas(grades, Path(self.to or "canvas.csv"))
