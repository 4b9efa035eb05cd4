"""The instructor's policy per assignment: what a student sees, and how many graded attempts.

Read from ``[tool.course.service]`` of the course root's ``pyproject.toml`` (through
:class:`course.layout.Settings`), with a table per assignment overriding the defaults::

    [tool.course.service]
    before_due = "checks"     # nothing | score | checks | full  (what a student sees before the due date)
    after_due = "full"        # the same choice once the due date has passed
    attempts_per_hour = 3     # graded attempts per student and assignment in any hour (0: no limit)
    attempts_total = 20       # graded attempts in total before the due date (0: no limit)

    [tool.course.service.assignments.case01_strategy]
    before_due = "score"

The due date and the late penalty are nbgrader's (the gradebook's due date, nbgrader's
``LateSubmissionPlugin``), never set here.

>>> policy = Policies.parse({"before_due": "score", "attempts_per_hour": 2,
...                          "assignments": {"case01": {"before_due": "nothing"}}})
>>> policy.get("case01").before_due, policy.get("case01").attempts_per_hour, policy.get("case02").before_due
('nothing', 2, 'score')
>>> Policies.parse({"before_due": "everything"})
Traceback (most recent call last):
...
course.errors.CourseError: [tool.course.service] before_due = 'everything': one of nothing, score, checks, full
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Literal

from course.errors import CourseError
from course.layout import Course

Shown = Literal["nothing", "score", "checks", "full"]
LEVELS: tuple[Shown, ...] = ("nothing", "score", "checks", "full")
TABLE = "[tool.course.service]"


@dataclass(frozen=True)
class Policy:
    before_due: Shown = "checks"
    after_due: Shown = "full"
    attempts_per_hour: int = 3
    attempts_total: int = 20
    attempt_window: float = 3600.0  # seconds of the "per hour" window (shorter only for tests)

    def shown(self, past_due: bool) -> Shown:
        return self.after_due if past_due else self.before_due


def _validate(values: dict, where: str) -> dict:
    known = {f.name: f for f in fields(Policy)}
    out: dict = {}
    for key, value in values.items():
        if key == "assignments":
            continue
        if key not in known:
            raise CourseError(f"{where} {key} = {value!r}: unknown setting (known: {', '.join(known)})")
        if key in ("before_due", "after_due"):
            if value not in LEVELS:
                raise CourseError(f"{where} {key} = {value!r}: one of {', '.join(LEVELS)}")
        elif key in ("attempts_per_hour", "attempts_total"):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise CourseError(f"{where} {key} = {value!r}: a whole number, 0 for no limit")
        elif key == "attempt_window":
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise CourseError(f"{where} {key} = {value!r}: seconds, more than 0")
            value = float(value)
        out[key] = value
    return out


@dataclass(frozen=True)
class Policies:
    default: Policy = field(default_factory=Policy)
    per_assignment: dict[str, Policy] = field(default_factory=dict)

    @classmethod
    def parse(cls, table: dict) -> Policies:
        if not isinstance(table, dict):
            raise CourseError(f"{TABLE} must be a table")
        default = replace(Policy(), **_validate(table, TABLE))
        per: dict[str, Policy] = {}
        assignments = table.get("assignments", {})
        if not isinstance(assignments, dict):
            raise CourseError(f"{TABLE} assignments: a table per assignment id")
        for name, values in assignments.items():
            if not isinstance(values, dict):
                raise CourseError(f"[tool.course.service.assignments.{name}] must be a table")
            per[str(name)] = replace(default, **_validate(values, f"[tool.course.service.assignments.{name}]"))
        return cls(default, per)

    @classmethod
    def of(cls, course: Course) -> Policies:
        return cls.parse(course.settings.raw.get("service", {}))

    def get(self, assignment: str) -> Policy:
        return self.per_assignment.get(assignment, self.default)

