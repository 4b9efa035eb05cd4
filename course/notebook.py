"""The setup call at the top of every case notebook.

A case notebook starts with::

    from course.notebook import setup
    SEED = setup("case02_logistics")

which applies the course's plotting theme, sets pandas display options and prints which data
the notebook works on (the course-wide default or the student's own variant).
"""

from __future__ import annotations

import pandas as pd

from course import plots, variants


def setup(assignment: str) -> int | None:
    """Configure the notebook; return the data seed (``None`` = course-wide default data)."""
    plots.configure()
    pd.set_option("display.precision", 4)
    pd.set_option("display.max_columns", 30)
    pd.set_option("display.width", 120)
    student = variants.student_id()
    seed = variants.seed_for(assignment, student)
    if seed is None:
        print(
            "Data: the course-wide default data set (no student id found). "
            "Your answers are checked against this data."
        )
    else:
        print(f"Data: your own variant of the data, for student id {student!r} (seed {seed}).")
    return seed
