"""The ``course`` command: build student versions and check every case."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from course import build as build_mod
from course import execute
from course.coursedir import CourseError, find_root, notebooks, select

app = typer.Typer(
    help="Course kit for business analytics through business cases (nbgrader).",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)

Assignments = Annotated[
    list[str] | None, typer.Argument(help="Assignment ids (folders under source/); default: all.")
]
RootOpt = Annotated[
    Path | None, typer.Option("--root", help="Course root (default: found from the current folder).")
]


def _fail(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(1)


@app.command("build")
def build_cmd(assignments: Assignments = None, root: RootOpt = None) -> None:
    """Regenerate release/ from source/ with nbgrader; fail on any leaked solution or stray file."""
    try:
        course_root = find_root(root)
        names = select(course_root, assignments)
        for name in names:
            released = build_mod.build(course_root, name)
            console.print(f"[green]built[/] release/{name}: {', '.join(p.name for p in released)}")
    except CourseError as exc:
        _fail(str(exc))


@app.command("check")
def check_cmd(
    assignments: Assignments = None,
    root: RootOpt = None,
    timeout: Annotated[int, typer.Option(help="Seconds allowed per cell.")] = 120,
) -> None:
    """Execute every source notebook (all tests must pass) and every release notebook."""
    try:
        course_root = find_root(root)
        names = select(course_root, assignments)
    except CourseError as exc:
        _fail(str(exc))
    table = Table(title="course check")
    for column in ("assignment", "version", "notebook", "seconds", "result"):
        table.add_column(column)
    problems: list[execute.Problem] = []
    for name in names:
        for version, folder in (("source", "source"), ("release", "release")):
            paths = notebooks(course_root / folder / name)
            if not paths:
                problems.append(execute.Problem(course_root / folder / name, "folder", "no notebook found (run `course build`?)"))
            for path in paths:
                with console.status(f"running {folder}/{name}/{path.name}"):
                    result = execute.check_notebook(path, release=(version == "release"), timeout=timeout)
                problems.extend(result.problems)
                verdict = "[green]ok[/]" if not result.problems else f"[red]{len(result.problems)} problem(s)[/]"
                table.add_row(name, version, path.name, f"{result.seconds:.1f}", verdict)
    console.print(table)
    if problems:
        for problem in problems:
            err_console.print(f"[red]FAIL[/] {problem}", highlight=False)
        raise typer.Exit(1)
    console.print(f"[green]all {len(names)} assignment(s) pass[/]")


@app.command("grade")
def grade_cmd(
    assignment: Annotated[str, typer.Argument(help="Assignment id (graded from submitted/<student>/<id>/).")],
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", help="Parallel workers (default: all cores).")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds allowed per cell (the cell is interrupted).")] = 60.0,
    notebook_timeout: Annotated[float, typer.Option(help="Seconds allowed per notebook (then it is stopped).")] = 600.0,
    memory: Annotated[str, typer.Option(help="Memory cap per notebook, e.g. 2G or 512M.")] = "2G",
    student: Annotated[list[str] | None, typer.Option("--student", help="Grade only these students (repeatable).")] = None,
    no_sandbox: Annotated[bool, typer.Option("--no-sandbox", help="Run student code WITHOUT bubblewrap isolation.")] = False,
    no_variants: Annotated[bool, typer.Option("--no-variants", help="Grade everyone on the course-wide default data.")] = False,
    root: RootOpt = None,
) -> None:
    """Autograde every submission in parallel, each notebook in a sandbox; scores go to the gradebook."""
    from course.grading import batch as batch_mod
    from course.grading import summary
    from course.grading.sandbox import Limits, parse_size

    try:
        course_root = find_root(root)
        limits = Limits(memory=parse_size(memory), cell_timeout=timeout, notebook_timeout=notebook_timeout)
        options = batch_mod.Options(jobs=jobs, limits=limits, sandbox=not no_sandbox,
                                    variants=not no_variants, students=student)
        if no_sandbox:
            err_console.print("[bold yellow]warning:[/] --no-sandbox: student code runs with your rights.")
        from course.grading.context import load_course

        total = len([s for s in load_course(course_root).students(assignment) if not student or s in student])
        with summary.progress_bar(console, assignment, total) as advance:
            result = batch_mod.grade(course_root, assignment, options, on_result=advance)
    except CourseError as exc:
        _fail(str(exc))
    if not result.outcomes:
        _fail(f"no submissions found under submitted/<student>/{assignment}/")
    console.print(summary.table(result))
    failed = [o.student for o in result.outcomes if o.failed]
    if failed:
        _fail(f"the grader itself failed for {len(failed)} submission(s) ({', '.join(failed[:10])}); "
              "their scores were not recorded. Fix the cause shown above and grade them again with --student.")
    console.print(f"[green]scores saved to the gradebook; autograded notebooks in autograde/*/{assignment}/[/]")


@app.command("feedback")
def feedback_cmd(
    assignment: Annotated[str, typer.Argument(help="Assignment id (graded with `course grade`).")],
    student: Annotated[list[str] | None, typer.Option("--student", help="Only these students (repeatable).")] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", help="Parallel workers (default: all cores).")] = None,
    root: RootOpt = None,
) -> None:
    """Feedback HTML per student: no hidden tests, plotly charts visible offline."""
    from course.grading import feedback

    try:
        course_root = find_root(root)
        with console.status(f"writing feedback for {assignment}"):
            pages = feedback.generate(course_root, assignment, students=student, jobs=jobs)
    except CourseError as exc:
        _fail(str(exc))
    if not pages:
        _fail(f"no autograded notebooks under autograde/*/{assignment}/ (run `course grade {assignment}`)")
    console.print(f"[green]{len(pages)} feedback page(s)[/] in feedback/*/{assignment}/")


@app.command("export")
def export_cmd(
    assignments: Assignments = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for grades.csv, questions.csv, canvas.csv.")] = Path("export"),
    root: RootOpt = None,
) -> None:
    """Grades as CSV (one column per graded question, totals) and a Canvas-importable CSV."""
    from course.grading import export

    try:
        course_root = find_root(root)
        target = out if out.is_absolute() else course_root / out
        paths = export.write(course_root, target, assignments or None)
    except CourseError as exc:
        _fail(str(exc))
    for path in paths:
        console.print(f"[green]wrote[/] {path}")


@app.command("demo")
def demo_cmd(
    out: Annotated[Path, typer.Option("--out", help="Folder for the dry run (a scratch course, gitignored).")] = Path("demo-output"),
    assignments: Annotated[list[str] | None, typer.Option("--assignment", help="Only these assignments (repeatable).")] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", help="Parallel workers (default: all cores).")] = None,
    no_sandbox: Annotated[bool, typer.Option("--no-sandbox", help="Run student code WITHOUT bubblewrap isolation.")] = False,
    root: RootOpt = None,
) -> None:
    """Class dry run: build, simulate a class (honest, broken, hostile), grade, feedback, export."""
    from course.grading import demo

    try:
        course_root = find_root(root)
        target = out if out.is_absolute() else course_root / out
        ok = demo.run(course_root, target, assignments=assignments, jobs=jobs, sandbox=not no_sandbox, console=console)
    except CourseError as exc:
        _fail(str(exc))
    if not ok:
        raise typer.Exit(1)


@app.command("key")
def key_cmd(
    assignment: Annotated[str, typer.Argument(help="Assignment id (folder under source/).")],
    student: Annotated[str, typer.Argument(help="Student id, as in submitted/<student>/.")],
    out: Annotated[
        Path | None, typer.Option(help="Also save the solution notebook run on this student's data here.")
    ] = None,
    root: RootOpt = None,
) -> None:
    """Reproduce a student's own data and answer key (the solution run on their data)."""
    from course import key as keymod
    from course import notebooks as nbio

    try:
        course_root = find_root(root)
        select(course_root, [assignment])
        with console.status(f"running the solution of {assignment} on {student}'s data"):
            result = keymod.compute_key(course_root, assignment, student)
    except CourseError as exc:
        _fail(str(exc))
    table = Table(title=f"answer key: {assignment}, student {student!r} (seed {result.seed})")
    table.add_column("answer")
    table.add_column("value")
    for name, value in result.values.items():
        text = value.to_string(max_rows=12) if hasattr(value, "to_string") else repr(value)
        table.add_row(name, text)
    console.print(table)
    if out is not None:
        path = out / student / assignment / f"{assignment}.ipynb"
        nbio.write(result.executed, path)
        console.print(f"saved the solution run on {student}'s data to {path}")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
