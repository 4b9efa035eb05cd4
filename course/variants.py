"""Which data a notebook works on: the course-wide default or a per-student variant.

The student id comes from ``COURSE_STUDENT_ID`` (set by the grader for each submission), else
from ``JUPYTERHUB_USER`` (the logged-in JupyterHub user). Without either, or when variants are
switched off with ``COURSE_VARIANTS=off``, everyone works on the course-wide default data.

>>> seed_for("case02_logistics", None) is None
True
>>> seed_for("case02_logistics", "alice") == seed_for("case02_logistics", "alice")
True
>>> seed_for("case02_logistics", "alice") != seed_for("case02_logistics", "bob")
True
"""

from __future__ import annotations

import hashlib
import os

STUDENT_ENV = "COURSE_STUDENT_ID"
HUB_ENV = "JUPYTERHUB_USER"
SWITCH_ENV = "COURSE_VARIANTS"


def variants_enabled() -> bool:
    return os.environ.get(SWITCH_ENV, "on").strip().lower() not in {"off", "0", "false", "no"}


def student_id() -> str | None:
    """The student whose data this is, or ``None`` for the course-wide default."""
    if not variants_enabled():
        return None
    for var in (STUDENT_ENV, HUB_ENV):
        value = os.environ.get(var, "").strip()
        if value:
            return value
    return None


def seed_for(assignment: str, student: str | None) -> int | None:
    """A stable 32-bit seed for (assignment, student); ``None`` means the course-wide default."""
    if student is None:
        return None
    digest = hashlib.sha256(f"{assignment}\x00{student}".encode()).hexdigest()
    return int(digest[:8], 16)


def current_seed(assignment: str) -> int | None:
    """The seed for this process's student (``None`` without one)."""
    return seed_for(assignment, student_id())
