"""Every exception the kit raises on purpose, in one place.

``CourseError`` and its subclasses are problems a user can fix: the ``course`` command prints
their message (one line, no traceback) and exits with status 1. Everything else is a bug.
"""

from __future__ import annotations


class CourseError(Exception):
    """A problem the user can fix; the CLI prints its message without a traceback."""


class BadNotebook(CourseError, ValueError):
    """A notebook file that cannot be read (missing, not JSON, not a valid notebook)."""


class MarkerError(CourseError, ValueError):
    """A cell whose solution / hidden-test regions nbgrader would reject (nested, unterminated)."""


class SandboxUnavailable(CourseError):
    """bubblewrap is missing or cannot create a sandbox here (the message says why and what to do)."""


class GraderFailure(RuntimeError):
    """The grader's own machinery failed (not the submission): no score is recorded for it."""


class GradebookUnavailable(CourseError):
    """The gradebook database cannot be reached (down, wrong URL, no permission)."""


class SchedulerUnavailable(CourseError):
    """The Dask scheduler cannot be reached or went away (what was not graded is said)."""
