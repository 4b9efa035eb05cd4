"""The setup call at the top of every case notebook.

A case notebook starts with::

    from course.notebook import setup
    SEED = setup("case02_logistics")

which applies the course's plotting theme, sets pandas display options and prints which data
the notebook works on (the course-wide default or the student's own variant). A translated
notebook passes its language, ``setup("case02_logistics", language="zh")``: the data (the seed
comes from the English assignment id) are the same, the kit's messages are in that language.
"""

from __future__ import annotations

import sys

# plotly's renderers import nbformat, whose validator imports jsonschema, which compiles an
# RFC 3987 grammar on import (1.5-3 s per kernel here) only to validate "iri" format strings,
# which nothing in a case notebook does. jsonschema treats the checker as optional, so opting
# out in this process changes no behaviour and makes every notebook start faster.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

import pandas as pd  # noqa: E402

from course import i18n, plots, variants  # noqa: E402


def setup(assignment: str, language: str = i18n.SOURCE_LANGUAGE) -> int | None:
    """Configure the notebook; return the data seed (``None`` = course-wide default data)."""
    i18n.use(language)
    plots.configure()
    pd.set_option("display.precision", 4)
    pd.set_option("display.max_columns", 30)
    pd.set_option("display.width", 120)
    student = variants.student_id()
    seed = variants.seed_for(assignment, student)
    if seed is None:
        print(i18n.text("Data: the course-wide default data set (no student id found). "
                        "Your answers are checked against this data."))
    else:
        print(i18n.text("Data: your own variant of the data, for student id {student!r} (seed {seed}).",
                        student=student, seed=seed))
    return seed
