"""Progress bar while grading and the summary table after it (rich)."""

from __future__ import annotations

from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from course.grading.outcomes import Batch, StudentOutcome


@contextmanager
def progress_bar(console: Console, assignment: str, total: int):
    """Yield ``advance(outcome, done, total)`` for :func:`course.grading.batch.grade`."""
    columns = [SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("elapsed"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(f"grading {assignment}", total=total or None)

        def advance(outcome: StudentOutcome, done: int, count: int) -> None:
            progress.update(task, completed=done, total=count, description=f"grading {assignment} ({outcome.student})")

        yield advance
        progress.update(task, description=f"graded {assignment}")


def _score(outcome: StudentOutcome, max_auto: float) -> str:
    return f"{outcome.auto_score:g} / {max_auto:g}"


def table(batch: Batch) -> Table:
    result = Table(title=f"course grade {batch.assignment}: {len(batch.outcomes)} submission(s) in "
                         f"{batch.seconds:.1f} s with {batch.jobs} worker(s)"
                         + (f"; course package {batch.package}" if batch.package else ""))
    for column in ("student", "score", "seconds", "problems"):
        result.add_column(column, overflow="fold")
    for outcome in batch.outcomes:
        problems = outcome.all_problems
        text = "\n".join(f"- {p}" for p in problems[:6]) + (f"\n(+{len(problems) - 6} more)" if len(problems) > 6 else "")
        result.add_row(outcome.student, _score(outcome, batch.max_auto), f"{outcome.seconds:.1f}",
                       f"[yellow]{text}[/]" if problems else "[green]-[/]")
    return result


def grader_failures(batch: Batch) -> dict[str, list[str]]:
    """Submissions the grader could not grade, grouped by cause (one line per cause)."""
    marker = "NOT GRADED, grader failure (scores left unchanged): "
    causes: dict[str, list[str]] = {}
    for outcome in batch.outcomes:
        for nb in outcome.notebooks:
            if nb.status == "failed":
                text = next((p for p in nb.problems if marker in p), nb.problems[0] if nb.problems else "unknown")
                causes.setdefault(text.split(marker, 1)[-1], []).append(outcome.student)
    return causes
