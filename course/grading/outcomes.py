"""What grading found: per notebook, per student, per batch (plain data, no behaviour)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from nbformat import NotebookNode

from course import cells

#: graded: the notebook ran and its tests were scored; missing / malformed: scored 0 with a
#: problem; failed: the grader itself failed, nothing recorded (scores left as they were).
Status = Literal["graded", "missing", "malformed", "failed"]
Scores = dict[str, tuple[float | None, float]]  # grade id -> (score or None for manual, max)


@dataclass
class NotebookOutcome:
    name: str
    status: Status
    scores: Scores = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    autograded: NotebookNode | None = None
    timing: dict[str, float] = field(default_factory=dict)

    def auto(self) -> list[tuple[float | None, float]]:
        """Scores of the autograded test cells only."""
        if self.autograded is None:
            return [(0.0, m) for _, m in self.scores.values()]
        ids = {cells.grade_id(c) for c in self.autograded.cells if cells.is_test(c)}
        return [v for k, v in self.scores.items() if k in ids]


@dataclass
class StudentOutcome:
    student: str
    notebooks: list[NotebookOutcome] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    timestamp: datetime | None = None
    secret: str | None = None  # nbgrader's submission secret (names the feedback page)

    @property
    def auto_score(self) -> float:
        return sum(s or 0 for nb in self.notebooks for s, _ in nb.auto())

    @property
    def failed(self) -> bool:
        return any(nb.status == "failed" for nb in self.notebooks)

    @property
    def all_problems(self) -> list[str]:
        return self.problems + [p for nb in self.notebooks for p in nb.problems]


@dataclass
class Batch:
    assignment: str
    outcomes: list[StudentOutcome]
    max_auto: float
    seconds: float
    jobs: int
    package: str = ""  # digest of the frozen course package every notebook of the batch ran on
    startup: float = 0.0  # seconds before the first notebook started (specs, probe, package copy)
    note: str = ""  # why grading took the slower path for some notebooks (same scores), if it did
