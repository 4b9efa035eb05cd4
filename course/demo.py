"""``course demo``: a whole class, dry-run, in a scratch copy of the course.

1. Copy the course (config, ``source/``, ``release/``) to ``<out>/course`` and rebuild every
   release there (``course build``), which also registers the assignments in a fresh gradebook.
2. Simulate a class for every case: honest students (everything right, half done, blank),
   broken submissions (malformed JSON, a renamed notebook plus a stray file) and hostile ones
   (kills its grader and exits; patches the kernel so later cells do nothing; rewrites and
   deletes test cells; snoops on ``source/`` and the gradebook).
3. ``course grade`` each case, write feedback and the CSV exports, then print a summary table,
   check the expected order (reference = full marks > partial > blank >= every hostile and
   broken submission) and save a grade-distribution chart (plotly, self-contained HTML).

Nothing outside ``<out>`` is written.
"""

from __future__ import annotations

import copy
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from rich.console import Console
from rich.table import Table

from course import cells, ipynb
from course.authoring import build, submissions
from course.errors import CourseError
from course.grading import batch
from course.grading.outcomes import Batch
from course.layout import Course, notebooks
from course.reports import export, feedback
from course.reports import summary as summary_mod

KILLER = """# hostile: kill the grader, then leave
import os, signal
os.kill(os.getppid(), signal.SIGKILL)
os._exit(0)"""

PATCHER = """# hostile: make every later cell (tests included) run as an empty cell
ip = get_ipython()
ip.input_transformers_cleanup.append(lambda lines: [])
ip.showtraceback = lambda *args, **kwargs: None"""

SNOOP = """# hostile: read the instructor's files, scribble on the gradebook, delete things
import os, shutil
for path in ("../../source", "../../../source", "../gradebook.db", "../../gradebook.db", "{root}/gradebook.db"):
    try:
        if os.path.isdir(path):
            print(os.listdir(path))
        else:
            open(path, "a").write("garbage")
    except OSError as exc:
        print("blocked:", exc)
shutil.rmtree(os.path.expanduser("~"), ignore_errors=True)"""


@dataclass(frozen=True)
class Persona:
    student: str
    kind: str  # honest | broken | hostile
    description: str


PERSONAS = [
    Persona("ada", "honest", "everything right (reference)"),
    Persona("ben", "honest", "about half of the answers"),
    Persona("cai", "honest", "blank (handed in the release)"),
    Persona("dev", "broken", "malformed notebook JSON"),
    Persona("eli", "broken", "renamed notebook, plus a stray file"),
    Persona("fay", "hostile", "kills its grader process, then exits"),
    Persona("gus", "hostile", "patches IPython so later cells (tests) run empty"),
    Persona("hal", "hostile", "rewrites and deletes test cells, snoops on the gradebook"),
]


def _with_first_cell(nb, source: str):
    nb = copy.deepcopy(nb)
    nb.cells.insert(0, nbformat.v4.new_code_cell(source))
    return ipynb.clean(nb)


def _tampered(nb, root: Path):
    nb = copy.deepcopy(nb)
    tests = [c for c in nb.cells if cells.is_test(c)]
    for cell in tests[1:]:
        cell.source = "pass  # the tests were here"
    if tests:
        nb.cells.remove(tests[0])
    return _with_first_cell(nb, SNOOP.format(root=root))


def simulate(course: Course, assignment: str) -> None:
    """Write one submission per persona for every notebook of ``assignment``."""
    for src_path in notebooks(course.source(assignment)):
        source = ipynb.read(src_path)
        release = ipynb.read(course.release(assignment) / src_path.name)
        made = {
            "ada": submissions.reference(source, release),
            "ben": submissions.partial(source, release),
            "cai": release,
            "fay": _with_first_cell(release, KILLER),
            "gus": _with_first_cell(release, PATCHER),
            "hal": _tampered(release, course.root),
        }
        for student, nb in made.items():
            ipynb.write(nb, course.submitted(student, assignment) / src_path.name)
        broken = course.submitted("dev", assignment) / src_path.name
        broken.parent.mkdir(parents=True, exist_ok=True)
        broken.write_text('{"cells": [ {"cell_type": "code", "source": "x = 1"', encoding="utf-8")
        renamed = course.submitted("eli", assignment) / f"{src_path.stem}-Copy1.ipynb"
        ipynb.write(submissions.reference(source, release), renamed)
        (renamed.parent / "notes.txt").write_text("my notes\n", encoding="utf-8")


def _chart(results: dict[str, Batch], path: Path) -> None:
    import plotly.graph_objects as go

    from course import plots

    plots.configure()
    kinds = {p.student: p for p in PERSONAS}
    fig = go.Figure()
    for name, result in results.items():
        pct = [100 * o.auto_score / result.max_auto if result.max_auto else 0 for o in result.outcomes]
        labels = [f"{o.student} ({kinds[o.student].description})" if o.student in kinds else o.student
                  for o in result.outcomes]
        fig.add_trace(go.Box(y=pct, name=name, boxpoints="all", jitter=0.4, pointpos=0, text=labels,
                             hovertemplate="%{text}<br>%{y:.0f}%<extra></extra>"))
    plots.finish(fig, title="Only honest work earns points: autograded score per case",
                 x_title="Case (assignment)", y_title="Autograded score (% of points)")
    fig.update_layout(showlegend=False)
    fig.write_html(path, include_plotlyjs=True, full_html=True)


def _check(result: Batch) -> list[str]:
    by = {o.student: o.auto_score for o in result.outcomes}
    failures = []
    if by.get("ada") != result.max_auto:
        failures.append(f"reference scored {by.get('ada')} of {result.max_auto}")
    blank = by.get("cai", 0.0)
    if not blank <= by.get("ben", 0.0) <= by.get("ada", 0.0):
        failures.append("partial not between blank and reference")
    for persona in PERSONAS:
        if persona.kind != "honest" and by.get(persona.student, 0.0) > blank:
            failures.append(f"{persona.student} ({persona.kind}) scored {by[persona.student]} > blank {blank}")
    return failures


def run(origin: Course, out: Path, *, assignments: list[str] | None = None, jobs: int | None = None,
        sandbox: bool = True, console: Console | None = None) -> bool:
    console = console or Console()
    started = time.monotonic()
    if (out / "course").exists():
        shutil.rmtree(out / "course")
    course = origin.copy_to(out / "course")
    names = assignments or course.assignments()
    unknown = sorted(set(names) - set(course.assignments()))
    if unknown:
        raise CourseError(f"Unknown assignment(s): {', '.join(unknown)}")
    console.rule("[bold]course demo: a class dry run")
    console.print(f"scratch course: {course.root}")
    for name in names:
        with console.status(f"building release/{name}"):
            build.build(course, name)
        simulate(course, name)
    console.print(f"built {len(names)} case(s); simulated {len(PERSONAS)} students each: "
                  + "; ".join(f"{p.student}: {p.description}" for p in PERSONAS))
    results: dict[str, Batch] = {}
    options = batch.Options(jobs=jobs, sandbox=sandbox)
    for name in names:
        total = len(PERSONAS)
        with summary_mod.progress_bar(console, name, total) as advance:
            results[name] = batch.grade(course, name, options, on_result=advance)
        with console.status(f"feedback for {name}"):
            feedback.generate(course, name, jobs=jobs)
    exports = export.write(course, out / "export", names)
    chart = out / "grade-distribution.html"
    _chart(results, chart)
    ok = _report(console, results)
    console.print(f"feedback: {course.folder('feedback')}/<student>/<case>/")
    console.print(f"exports: {', '.join(str(p) for p in exports)}")
    console.print(f"grade-distribution chart: {chart}")
    console.print(f"[bold]{'done' if ok else 'FAILED'}[/] in {time.monotonic() - started:.0f} s")
    return ok


def _report(console: Console, results: dict[str, Batch]) -> bool:
    persona = {p.student: p for p in PERSONAS}
    legend = Table(title="the simulated class", show_header=True)
    for column in ("student", "kind", "submission"):
        legend.add_column(column)
    for p in PERSONAS:
        legend.add_row(p.student, p.kind, p.description)
    console.print(legend)
    table = Table(title="autograded score per case (points)")
    table.add_column("student")
    for name in results:
        table.add_column(name.split("_")[0], justify="right")
    students = sorted({o.student for r in results.values() for o in r.outcomes})
    for student in students:
        row = [f"{student} ({persona[student].kind})" if student in persona else student]
        for result in results.values():
            outcome = next((o for o in result.outcomes if o.student == student), None)
            row.append("-" if outcome is None else f"{outcome.auto_score:g}/{result.max_auto:g}")
        table.add_row(*row)
    console.print(table)
    first = next(iter(results.values()))
    notes = Table(title=f"what the grader reported ({first.assignment})")
    notes.add_column("student")
    notes.add_column("problems", overflow="fold")
    for outcome in first.outcomes:
        if outcome.all_problems:
            notes.add_row(outcome.student, "\n".join(p[:160] for p in outcome.all_problems[:4]))
    console.print(notes)
    ok = True
    for name, result in results.items():
        failures = _check(result)
        if failures:
            ok = False
            console.print(f"[red]✗ {name}[/] ({result.seconds:.1f} s): " + "; ".join(failures))
        else:
            console.print(f"[green]✓ {name}[/] ({result.seconds:.1f} s for {len(result.outcomes)} submissions): "
                          "reference full marks; every broken and hostile one <= blank")
    return ok
