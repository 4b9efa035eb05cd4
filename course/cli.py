"""The ``course`` command: argument parsing only; every command calls a library function.

Errors a user can fix (:class:`course.errors.CourseError` and subclasses) are printed as one
line in red and end the command with status 1 (:func:`_command`); anything else is a bug and
shows its traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from course.sandboxed.runner import without_slow_extras

with without_slow_extras():  # nbformat's jsonschema compiles an RFC 3987 grammar on import (2.3 s)
    import nbformat  # noqa: F401

from course.errors import CourseError  # noqa: E402
from course.layout import Course, tools_on_path  # noqa: E402

app = typer.Typer(help="Course kit for business analytics through business cases (nbgrader).",
                  no_args_is_help=True, add_completion=False)
console = Console()
err_console = Console(stderr=True)

Assignments = Annotated[list[str] | None, typer.Argument(help="Assignment ids (folders under source/); default: all.")]
RootOpt = Annotated[Path | None, typer.Option("--root", help="Course root (default: found from the current folder).")]
JobsOpt = Annotated[int | None, typer.Option("--jobs", "-j", help="Parallel workers (default: all cores).")]
StudentsOpt = Annotated[list[str] | None, typer.Option("--student", help="Only these students (repeatable).")]
SchedulerOpt = Annotated[str | None, typer.Option(
    "--scheduler", help="Grade on the Dask cluster of this scheduler (tcp://host:8786; default: [tool.course] "
                        "scheduler in pyproject.toml, else this machine).")]


def fail(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(1)


def _command(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The one error mapping: a ``CourseError`` becomes a message and exit status 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        tools_on_path()
        try:
            return fn(*args, **kwargs)
        except CourseError as exc:
            fail(str(exc))

    return wrapper


def _out(course: Course, path: Path) -> Path:
    return path if path.is_absolute() else course.root / path


@app.command("build")
@_command
def build_cmd(assignments: Assignments = None, root: RootOpt = None) -> None:
    """Regenerate release/ from source/ with nbgrader; fail on any leaked solution or stray file."""
    from course.authoring import build

    course = Course.find(root)
    for name in course.select(assignments):
        released = build.build(course, name)
        console.print(f"[green]built[/] release/{name}: {', '.join(p.name for p in released)}")


@app.command("check")
@_command
def check_cmd(assignments: Assignments = None, root: RootOpt = None,
              timeout: Annotated[int, typer.Option(help="Seconds allowed per cell.")] = 120) -> None:
    """Execute every source notebook (all tests must pass) and every release notebook."""
    from course.authoring import check

    course = Course.find(root)
    names = course.select(assignments)
    with console.status("checking") as status:
        rows = check.check(course, names, timeout=timeout,
                           on_start=lambda a, v, p: status.update(f"running {v}/{a}/{p.name}"))
    table = Table(title="course check")
    for column in ("assignment", "version", "notebook", "seconds", "result"):
        table.add_column(column)
    for row in rows:
        verdict = "[green]ok[/]" if not row.result.problems else f"[red]{len(row.result.problems)} problem(s)[/]"
        table.add_row(row.assignment, row.version, row.result.notebook.name, f"{row.result.seconds:.1f}", verdict)
    console.print(table)
    problems = [p for row in rows for p in row.result.problems]
    if problems:
        for problem in problems:
            err_console.print(f"[red]FAIL[/] {problem}", highlight=False)
        raise typer.Exit(1)
    console.print(f"[green]all {len(names)} assignment(s) pass[/]")


@app.command("grade")
@_command
def grade_cmd(
    assignment: Annotated[str, typer.Argument(help="Assignment id (graded from submitted/<student>/<id>/).")],
    jobs: JobsOpt = None,
    timeout: Annotated[float, typer.Option(help="CPU seconds allowed per cell (the cell is interrupted; "
                                                "a cell that waits gets 3x that in wall time).")] = 60.0,
    notebook_timeout: Annotated[float, typer.Option(help="Seconds allowed per notebook (then it is stopped).")] = 600.0,
    memory: Annotated[str, typer.Option(help="Memory cap per notebook, e.g. 2G or 512M.")] = "2G",
    student: StudentsOpt = None,
    no_sandbox: Annotated[bool, typer.Option("--no-sandbox", help="Run student code WITHOUT bubblewrap isolation.")] = False,
    no_variants: Annotated[bool, typer.Option("--no-variants", help="Grade everyone on the course-wide default data.")] = False,
    scheduler: SchedulerOpt = None,
    root: RootOpt = None,
) -> None:
    """Autograde every submission in parallel, each notebook in a sandbox; scores go to the gradebook."""
    from course.grading import forkserver

    # first, before nbgrader is imported: the runners' fork server imports on the other core
    early = None if no_sandbox or scheduler else forkserver.prestart()  # dies with this process if unused
    from course.grading import batch
    from course.grading.dask_pool import configured_scheduler
    from course.grading.sandbox import Limits, parse_size
    from course.reports import summary

    course = Course.find(root)
    limits = Limits(memory=parse_size(memory), cell_timeout=timeout, notebook_timeout=notebook_timeout)
    options = batch.Options(jobs=jobs, limits=limits, sandbox=not no_sandbox, variants=not no_variants, students=student,
                            scheduler=configured_scheduler(course, scheduler))
    if no_sandbox:
        err_console.print("[bold yellow]warning:[/] --no-sandbox: student code runs with your rights.")
    found = course.students(assignment)
    unknown = [s for s in student or [] if s not in found]
    if unknown:
        message = (f"no submission of {assignment} for {', '.join(repr(s) for s in unknown)} under "
                   f"{course.folder('submitted')}/<student>/{assignment}/")
        if len(unknown) == len(student or []):
            fail(message)
        err_console.print(f"[bold yellow]warning:[/] {message}", highlight=False)
    total = len([s for s in found if not student or s in student])
    if not total:
        fail(f"no submissions found under {course.folder('submitted')}/<student>/{assignment}/")
    with summary.progress_bar(console, assignment, total) as advance:
        result = batch.grade(course, assignment, options, on_result=advance, early=early)
    _write_stats(result)
    console.print(summary.table(result))
    if result.note:
        err_console.print(f"[yellow]note:[/] {result.note}", highlight=False)
    failed = summary.grader_failures(result)
    if failed:
        for cause, students in failed.items():
            err_console.print(f"[bold red]NOT GRADED[/] ({len(students)}: {', '.join(students[:10])}): {cause}",
                              highlight=False)
        fail(f"the grader itself failed for {sum(map(len, failed.values()))} submission(s); their scores were not "
             "recorded. Fix the cause shown above and grade them again with --student.")
    console.print(f"[green]scores saved to the gradebook; autograded notebooks in "
                  f"{course.folder('autograded')}/*/{assignment}/[/]")


@app.command("serve")
@_command
def serve_cmd(
    jobs: JobsOpt = None,
    scheduler: SchedulerOpt = None,
    timeout: Annotated[float, typer.Option(help="CPU seconds allowed per cell (the cell is interrupted; "
                                                "a cell that waits gets 3x that in wall time).")] = 60.0,
    notebook_timeout: Annotated[float, typer.Option(help="Seconds allowed per notebook (then it is stopped).")] = 600.0,
    memory: Annotated[str, typer.Option(help="Memory cap per notebook, e.g. 2G or 512M.")] = "2G",
    interval: Annotated[float, typer.Option(help="Seconds between two looks at the exchange.")] = 0.5,
    no_sandbox: Annotated[bool, typer.Option("--no-sandbox", help="Run student code WITHOUT bubblewrap isolation.")] = False,
    no_variants: Annotated[bool, typer.Option("--no-variants", help="Grade everyone on the course-wide default data.")] = False,
    root: RootOpt = None,
) -> None:
    """Grade each submission as it arrives in the exchange; show the student what the policy allows."""
    import logging

    from course.grading.dask_pool import configured_scheduler
    from course.grading.sandbox import Limits, parse_size
    from course.service import serve

    course = Course.find(root)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    limits = Limits(memory=parse_size(memory), cell_timeout=timeout, notebook_timeout=notebook_timeout)
    options = serve.ServeOptions(jobs=jobs, scheduler=configured_scheduler(course, scheduler), limits=limits,
                                 sandbox=not no_sandbox, variants=not no_variants, interval=interval)
    if no_sandbox:
        err_console.print("[bold yellow]warning:[/] --no-sandbox: student code runs with your rights.")
    serve.serve(course, options)


@app.command("status")
@_command
def status_cmd(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
               root: RootOpt = None) -> None:
    """The grading service: queue length, graded per minute, failures with their cause."""
    from course.service import status

    course = Course.find(root)
    found = status.read(course)
    if as_json:
        print(found.to_json())
        return
    state = "[green]running[/]" if found.running_service else "[red]not running[/]"
    console.print(f"grading service: {state} ({found.engine})", highlight=False)
    for what, problem in found.problems.items():
        err_console.print(f"[bold red]{what}:[/] {problem}", highlight=False)
    latency = (f"; submit to feedback: median {found.latency_median:.1f} s, p95 {found.latency_p95:.1f} s (last hour)"
               if found.latency_median is not None and found.latency_p95 is not None else "")
    console.print(f"queue: {found.queue} ({found.counts.get('running', 0)} being graded), {found.deferred} deferred by "
                  f"the attempt limits; graded {found.graded_last_10min} in the last 10 min "
                  f"({found.per_minute:.1f}/min){latency}", highlight=False)
    table = Table(title="attempts by state")
    table.add_column("state")
    table.add_column("count")
    for name, count in sorted(found.counts.items()):
        table.add_row(name, str(count))
    console.print(table)
    for title, groups in (("FAILED", found.failures), ("NOT TAKEN", found.rejected)):
        for cause, who in groups.items():
            err_console.print(f"[red]{title}[/] ({len(who)}: {', '.join(who[:5])}): {cause}", highlight=False)
    for item in found.waiting[:20]:
        console.print(f"[yellow]{item['state']}[/] {item['attempt']}: {item['why']}", highlight=False)


def _write_stats(result) -> None:
    """For benchmarks: ``COURSE_GRADE_STATS=<file>`` gets the batch's timings and the grader's peak memory."""
    import json
    import os
    import resource

    target = os.environ.get("COURSE_GRADE_STATS")
    if target:
        Path(target).write_text(json.dumps({
            "seconds": result.seconds, "startup": result.startup, "package": result.package,
            "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "jobs": result.jobs}))


@app.command("feedback")
@_command
def feedback_cmd(assignment: Annotated[str, typer.Argument(help="Assignment id (graded with `course grade`).")],
                 student: StudentsOpt = None, jobs: JobsOpt = None, root: RootOpt = None) -> None:
    """Feedback HTML per student: no hidden tests, inert student markup, plotly charts offline."""
    from course.reports import feedback

    course = Course.find(root)
    with console.status(f"writing feedback for {assignment}"):
        results = feedback.generate(course, assignment, students=student, jobs=jobs)
    if not results:
        fail(f"no autograded notebooks under {course.folder('autograded')}/*/{assignment}/ (run `course grade {assignment}`)")
    pages = sum(len(r.pages) for r in results)
    problems = [p for r in results for p in r.problems]
    console.print(f"[green]{pages} feedback page(s)[/] for {len(results) - len({p.split('/')[0] for p in problems})} "
                  f"student(s) in {course.folder('feedback')}/*/{assignment}/")
    if problems:
        for problem in problems:
            err_console.print(f"[red]NOT WRITTEN[/] {problem}", highlight=False)
        fail(f"feedback could not be made for {len(problems)} page(s); the students' previous feedback was kept")


@app.command("export")
@_command
def export_cmd(assignments: Assignments = None,
               out: Annotated[Path, typer.Option("--out", help="Folder for grades.csv, questions.csv, canvas.csv.")] = Path("export"),
               root: RootOpt = None) -> None:
    """Grades as CSV (one column per graded question, totals) and a Canvas-importable CSV."""
    from course.reports import export

    course = Course.find(root)
    for path in export.write(course, _out(course, out), assignments or None):
        console.print(f"[green]wrote[/] {path}")


@app.command("demo")
@_command
def demo_cmd(out: Annotated[Path, typer.Option("--out", help="Folder for the dry run (a scratch course, gitignored).")] = Path("demo-output"),
             assignments: Annotated[list[str] | None, typer.Option("--assignment", help="Only these assignments (repeatable).")] = None,
             jobs: JobsOpt = None,
             no_sandbox: Annotated[bool, typer.Option("--no-sandbox", help="Run student code WITHOUT bubblewrap isolation.")] = False,
             root: RootOpt = None) -> None:
    """Class dry run: build, simulate a class (honest, broken, hostile), grade, feedback, export."""
    from course import demo

    course = Course.find(root)
    if not demo.run(course, _out(course, out), assignments=assignments, jobs=jobs, sandbox=not no_sandbox, console=console):
        raise typer.Exit(1)


@app.command("key")
@_command
def key_cmd(assignment: Annotated[str, typer.Argument(help="Assignment id (folder under source/).")],
            student: Annotated[str, typer.Argument(help="Student id, as in submitted/<student>/.")],
            out: Annotated[Path | None, typer.Option(help="Also save the solution notebook run on this student's data here.")] = None,
            root: RootOpt = None) -> None:
    """Reproduce a student's own data and answer key (the solution run on their data)."""
    from course import ipynb
    from course.authoring import key

    course = Course.find(root)
    course.select([assignment])
    with console.status(f"running the solution of {assignment} on {student}'s data"):
        result = key.compute_key(course, assignment, student)
    table = Table(title=f"answer key: {assignment}, student {student!r} (seed {result.seed})")
    table.add_column("answer")
    table.add_column("value")
    for name, value in result.values.items():
        table.add_row(name, value.to_string(max_rows=12) if hasattr(value, "to_string") else repr(value))
    console.print(table)
    if out is not None:
        path = out / student / assignment / f"{assignment}.ipynb"
        ipynb.write(result.executed, path)
        console.print(f"saved the solution run on {student}'s data to {path}")


@app.command("doctor")
def doctor_cmd(root: RootOpt = None) -> None:
    """Check this machine: sandbox, course root, gradebook, tools, data, browser, a real grade."""
    from course import doctor

    tools_on_path()
    table = Table(title="course doctor")
    for column in ("check", "status", "detail", "fix"):
        table.add_column(column, overflow="fold")
    colour = {"ok": "green", "warn": "yellow", "fail": "red"}
    with console.status("checking") as status:
        results = doctor.run(root, on_check=lambda c: status.update(f"checked {c.name}"))
    for check in results:
        table.add_row(check.name, f"[{colour[check.status]}]{check.status}[/]", check.detail, check.fix)
    console.print(table)
    if not doctor.ready(results):
        fail("grading would fail here: see the rows marked fail and their fix")
    console.print("[green]ready to grade[/]")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
