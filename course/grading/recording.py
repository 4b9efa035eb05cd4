"""Writing results where nbgrader keeps them: the gradebook and the autograded folder.

Scores are recorded by nbgrader's own preprocessors, :class:`~nbgrader.preprocessors.SaveAutoGrades`
and :class:`~nbgrader.preprocessors.AssignLatePenalties` (with the course's configured late
penalty plugin), run on the autograded notebook exactly as ``nbgrader autograde`` runs them, so
the formgrader, ``nbgrader export`` and ``nbgrader generate_feedback`` see what they expect.
Manual grades are never touched (nbgrader keeps ``manual_score`` and flags the cell for review).

Only the grader's main process calls this module: no sandboxed process ever sees the gradebook.
"""

from __future__ import annotations

import shutil
import warnings

from nbgrader.api import Gradebook
from nbgrader.preprocessors import AssignLatePenalties, SaveAutoGrades

from course import ipynb
from course.grading.outcomes import StudentOutcome
from course.layout import Course


def record(course: Course, assignment: str, outcome: StudentOutcome) -> None:
    """One student's result into the gradebook, like ``nbgrader autograde`` records it."""
    with warnings.catch_warnings():  # nbgrader's own SQLAlchemy session warnings
        warnings.simplefilter("ignore")
        with Gradebook(course.db_url, course.course_id or None) as gb:
            gb.update_or_create_student(outcome.student)
            if outcome.timestamp is not None:
                gb.update_or_create_submission(assignment, outcome.student, timestamp=outcome.timestamp)
            else:
                gb.update_or_create_submission(assignment, outcome.student)
            for nb in outcome.notebooks:
                if nb.status != "failed" and nb.autograded is None:  # missing or malformed: 0
                    sub_nb = gb.find_submission_notebook(nb.name, assignment, outcome.student)
                    for grade in sub_nb.grades:
                        grade.auto_score = 0
                        grade.needs_manual_grade = False
                    gb.db.commit()
        for nb in outcome.notebooks:
            if nb.status == "failed":
                continue  # keep whatever the gradebook had; the summary says it was not graded
            resources = {"nbgrader": {"notebook": nb.name, "assignment": assignment,
                                      "student": outcome.student, "db_url": course.db_url}}
            if nb.autograded is not None:
                SaveAutoGrades(config=course.config).preprocess(nb.autograded, resources)
            AssignLatePenalties(config=course.config).preprocess(nb.autograded or _empty(), resources)


def _empty():
    import nbformat

    return nbformat.v4.new_notebook()


def write_autograded(course: Course, assignment: str, outcome: StudentOutcome) -> None:
    """The autograded notebooks (and the submission's timestamp) in nbgrader's autograded folder."""
    dest = course.autograded(outcome.student, assignment)
    if dest.exists() and not outcome.failed:
        shutil.rmtree(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for nb in outcome.notebooks:
        if nb.autograded is not None:
            ipynb.write(nb.autograded, dest / f"{nb.name}.ipynb", validate=False)  # built by the grader
    if outcome.timestamp is not None:  # written from the parsed time, never copied from the submission
        (dest / "timestamp.txt").write_text(f"{outcome.timestamp:%Y-%m-%d %H:%M:%S.%f} UTC\n")
    if outcome.secret is not None:  # nbgrader's release_feedback names the page with it
        (dest / "submission_secret.txt").write_text(outcome.secret)
