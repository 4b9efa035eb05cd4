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


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
