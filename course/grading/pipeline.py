"""One submission, step by step: the pipeline ``course grade`` runs for every student.

Read as a list, like nbgrader's autograde preprocessors. For each notebook of the assignment
(:data:`STEPS`, each a small function of one :class:`Work`):

1. :func:`start_sandbox`   a fresh sandbox over the student's working copy;
2. :func:`read_notebook`   intake: the runner parses the notebook inside the sandbox;
3. :func:`restore_cells`   the instructor's structure and order put back (:mod:`.restore`);
4. :func:`plan_phases`     what runs in phase 1 and phase 2 (:mod:`.plan`);
5. :func:`run_student`     phase 1: the student's code, in the sandbox (:mod:`.process`);
6. :func:`run_tests`       phase 2: the trusted cells on the exported values, in the evaluator;
7. :func:`assemble`        the autograded notebook: outputs in place, nbgrader's LimitOutput;
8. :func:`score`           nbgrader's verdict per graded cell.

A step raises :class:`Zero` when the submission itself scores 0 (a malformed notebook) and
:class:`~course.errors.GraderFailure` when the grader's machinery failed (nothing is recorded
then). Before it, :func:`grade_student` applies the submission-folder rules (:mod:`.intake`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.preprocessors import LimitOutput

from course import cells, variants
from course.errors import GraderFailure
from course.grading import intake
from course.grading import plan as planmod
from course.grading.cgroups import Cgroups
from course.grading.forkserver import ForkServer
from course.grading.outcomes import NotebookOutcome, Status, StudentOutcome
from course.grading.process import (
    Evaluator,
    StartFailure,
    StudentRun,
    StudentSession,
    valid_outputs,
)
from course.grading.restore import restore
from course.grading.sandbox import Limits, Sandbox, start_hint
from course.grading.specs import NotebookSpec
from course.layout import Course
from course.sandboxed.protocol import EvalJob, EvalReply

ANSWER_TYPES = "numbers, text, lists/dicts, numpy arrays, pandas Series/DataFrames"


@dataclass
class Job:
    """What every student of one batch shares."""

    course: Course
    assignment: str
    specs: dict[str, NotebookSpec]
    sandbox: Sandbox
    limits: Limits
    variants: bool = True
    files: Path | None = None  # private copy of the released data files, for the evaluator
    cgroups: Cgroups | None = None
    forkserver: ForkServer | None = None  # pre-imported runners (set by the local pool)

    def env(self, student: str) -> dict[str, str]:
        extra = {variants.STUDENT_ENV: student}
        switch = os.environ.get(variants.SWITCH_ENV)
        if not self.variants:
            extra[variants.SWITCH_ENV] = "off"
        elif switch is not None:
            extra[variants.SWITCH_ENV] = switch
        return extra


class Zero(Exception):
    """The submission scores 0 for this notebook, for the reason given."""

    def __init__(self, status: Status, problem: str) -> None:
        super().__init__(problem)
        self.status, self.problem = status, problem


@dataclass
class Work:
    """One notebook of one student, as it moves through the steps."""

    job: Job
    student: str
    spec: NotebookSpec
    workdir: Path
    evaluator: Evaluator
    outcome: NotebookOutcome = field(init=False)
    session: StudentSession | None = None
    submitted: dict | None = None
    plan: planmod.Plan | None = None
    run: StudentRun | None = None
    reply: EvalReply | None = None

    def __post_init__(self) -> None:
        self.outcome = NotebookOutcome(self.spec.name, "graded")

    def note(self, problem: str) -> None:
        self.outcome.problems.append(f"{self.spec.name}: {problem}")


# ---- the steps -----------------------------------------------------------------------------


def start_sandbox(work: Work) -> None:
    job = work.job
    home = None if job.sandbox.enabled else str(work.workdir.parent / "home")
    if home:
        Path(home).mkdir(exist_ok=True)
    env = job.sandbox.env(job.env(work.student), home=home)
    work.session = StudentSession(job.sandbox, work.workdir, job.assignment, f"{work.spec.name}.ipynb", env,
                                  job.limits, job.cgroups, job.forkserver)


def read_notebook(work: Work) -> None:
    assert work.session is not None
    try:
        doc, error = work.session.intake()
    except StartFailure as exc:
        raise GraderFailure(f"{exc}; what to do: {start_hint(exc.said)}") from None
    if error is not None:
        raise Zero("malformed", f"{work.spec.name}.ipynb is not a valid notebook, graded 0: {error[:300]}")
    work.submitted = doc


def restore_cells(work: Work) -> None:
    try:
        restored, notes = restore(nbformat.from_dict(work.submitted), work.spec, work.job.course.markers)
    except Exception as exc:  # cells of the wrong shape: the notebook is not a valid notebook
        raise Zero("malformed", f"{work.spec.name}.ipynb is not a valid notebook, graded 0: "
                                f"{type(exc).__name__}: {str(exc)[:200]}") from None
    for note in notes:
        work.note(note)
    work.plan = planmod.Plan(restored)


def plan_phases(work: Work) -> None:
    assert work.plan is not None
    work.plan = planmod.make_plan(work.plan.notebook, work.job.course.markers)


def run_student(work: Work) -> None:
    assert work.session is not None and work.plan is not None
    run = work.session.run(work.plan.student_cells)
    if not run.started:  # no student code had run yet: the grader's machinery failed
        said = work.session.said()
        raise GraderFailure("the sandboxed Python did not get ready: " + "; ".join(run.problems)
                            + f"; what to do: {start_hint(said)}")
    for problem in run.problems:
        work.note(problem)
    for problem in _run_notes(work.plan, run, work.job.limits):
        work.note(problem)
    work.run = run
    work.outcome.timing["phase1"] = run.seconds


def run_tests(work: Work) -> None:
    assert work.plan is not None and work.run is not None
    job = work.job
    spans: dict[str, list[int]] = {}
    parts: list[bytes] = []
    offset = 0
    for i, raw in sorted(work.run.snapshots.items()):
        spans[str(i)] = [offset, len(raw)]
        parts.append(raw)
        offset += len(raw)
    eval_job: EvalJob = {
        "env": job.env(work.student),
        "cells": work.plan.trusted_cells,
        "snapshots": spans,
        "cell_timeout": job.limits.cell_timeout,
        "deadline": job.limits.notebook_timeout,
        "files_dir": job.sandbox.files_inside(job.files),
        "not_reached": "the notebook stopped before this test (see the cells above)",
    }
    started = time.monotonic()
    reply = work.evaluator.evaluate(eval_job, b"".join(parts))
    work.outcome.timing["phase2"] = time.monotonic() - started
    if reply.get("fatal"):
        raise GraderFailure(str(reply.get("error")))
    if "error" in reply:
        work.note(f"the tests could not run on these answers: {reply['error']}")
    reported: set[str] = set()
    found = reply.get("cells")
    results: dict = found if isinstance(found, dict) else {}
    for trusted in work.plan.trusted_cells:
        entry = results.get(str(trusted["i"]), {})
        problems = entry.get("problems") if isinstance(entry, dict) else None
        for name, reason in (problems or {}).items():
            if name in trusted["report"] and name not in reported:
                reported.add(name)
                work.note(f"`{name}` could not be checked ({reason}); answers must be data: {ANSWER_TYPES}")
    work.reply = {"cells": results}


def assemble(work: Work) -> None:
    assert work.plan is not None and work.run is not None and work.reply is not None
    nb = work.plan.notebook
    results = work.reply["cells"]
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if cells.role(cell) == "test":
            entry = results.get(str(i))
            outputs = entry.get("outputs") if isinstance(entry, dict) else None
            cell.outputs = valid_outputs(outputs) if outputs is not None else [nbformat.from_dict(
                {"output_type": "error", "ename": "GraderError", "evalue": "the tests could not be run",
                 "traceback": ["GraderError: the tests could not be run"]})]
        else:
            cell.outputs = work.run.outputs.get(i, [])
        cell.execution_count = work.run.counts.get(i)
    nb, _ = LimitOutput(config=work.job.course.config).preprocess(nb, {})
    work.outcome.autograded = nb


def score(work: Work) -> None:
    assert work.outcome.autograded is not None
    work.outcome.scores = planmod.grades(work.outcome.autograded)


STEPS: list[Callable[[Work], None]] = [start_sandbox, read_notebook, restore_cells, plan_phases,
                                       run_student, run_tests, assemble, score]


def _label(nb, i: int) -> str:
    return f"cell {i} ({cells.label(nb.cells[i])})"


def _run_notes(plan: planmod.Plan, run: StudentRun, limits: Limits) -> list[str]:
    """What happened in phase 1 that the instructor should know about."""
    notes = []
    for i, outputs in sorted(run.outputs.items()):
        errors = {o.get("ename") for o in outputs if o.get("output_type") == "error"}
        if "CellTimeoutError" in errors:
            notes.append(f"{_label(plan.notebook, i)} was stopped after {limits.cell_timeout:g} s of computing")
        if "MemoryError" in errors:
            notes.append(f"{_label(plan.notebook, i)} ran out of memory (the limit is {limits.memory / 2**30:g} GiB)")
    if run.truncated:
        notes.append("output cut to the grader's limit in " + ", ".join(_label(plan.notebook, i) for i in run.truncated[:3]))
    from course.grading.process import DIAGNOSTIC_BYTES

    if run.terminal_bytes > DIAGNOSTIC_BYTES:
        notes.append(f"{run.terminal_bytes / 2**20:.1f} MiB written straight to the terminal (discarded)")
    if not run.completed and run.stopped_at is not None and run.stopped_at < len(plan.notebook.cells):
        notes.append(f"tests after {_label(plan.notebook, run.stopped_at)} score 0 (never reached)")
    return notes


def grade_notebook(job: Job, student: str, spec: NotebookSpec, workdir: Path, evaluator: Evaluator) -> NotebookOutcome:
    work = Work(job, student, spec, workdir, evaluator)
    try:
        for step in STEPS:
            step(work)
    except Zero as zero:
        work.outcome.status = zero.status
        work.outcome.scores = spec.zero_scores()
        work.outcome.autograded = None
        work.outcome.problems.append(zero.problem)
    finally:
        if work.session is not None:
            work.session.close()
    return work.outcome


# ---- one student -----------------------------------------------------------------------------


def _missing_problem(spec: NotebookSpec, folder: Path, expected: set[str]) -> str:
    others = sorted(p.name for p in folder.glob("*.ipynb") if p.stem not in expected)
    hint = f"; found {', '.join(others)} (renamed? only {spec.name}.ipynb is graded)" if others else ""
    return f"{spec.name}.ipynb is missing, graded 0{hint}"


def grade_student(job: Job, student: str, evaluator: Evaluator) -> StudentOutcome:
    """Every notebook of one student's submission (never raises: failures become outcomes)."""
    start = time.monotonic()
    outcome = StudentOutcome(student)
    folder = job.course.submitted(student, job.assignment)
    if intake.is_linked(folder, job.course.folder("submitted")):
        # e.g. a link to source/ (the solutions) or to another student's folder
        outcome.notebooks = [NotebookOutcome(spec.name, "malformed", spec.zero_scores(), [
            f"{spec.name}: the submission folder is a symbolic link, graded 0"]) for spec in job.specs.values()]
        return outcome
    outcome.timestamp, problem = intake.read_timestamp(folder)
    if problem:
        outcome.problems.append(problem)
    outcome.secret, problem = intake.read_secret(folder)
    if problem:
        outcome.problems.append(problem)
    scratch = Path(tempfile.mkdtemp(prefix="course-grade-"))
    try:
        workdir = scratch / "work"
        space = intake.prepare(folder, job.course.release(job.assignment), workdir, set(job.specs), job.course.ignore)
        outcome.problems.extend(space.problems)
        if space.extra:
            shown = ", ".join(space.extra[:5]) + (f" and {len(space.extra) - 5} more" if len(space.extra) > 5 else "")
            outcome.problems.append(f"extra files (kept, not graded): {shown}")
        for spec in job.specs.values():
            path = folder / f"{spec.name}.ipynb"
            if path.is_symlink() or (path.exists() and not path.is_file()):
                outcome.notebooks.append(NotebookOutcome(spec.name, "malformed", spec.zero_scores(), [
                    f"{spec.name}.ipynb is a symbolic link or not a file, graded 0"]))
                continue
            if not path.is_file():
                outcome.notebooks.append(NotebookOutcome(spec.name, "missing", spec.zero_scores(),
                                                         [_missing_problem(spec, folder, set(job.specs))]))
                continue
            try:
                outcome.notebooks.append(grade_notebook(job, student, spec, workdir, evaluator))
            except Exception as exc:  # a grader bug or failure must not stop the batch
                detail = str(exc) if isinstance(exc, GraderFailure) else \
                    "".join(traceback.format_exception_only(type(exc), exc)).strip()
                outcome.notebooks.append(NotebookOutcome(spec.name, "failed", {}, [
                    f"{spec.name}: NOT GRADED, grader failure (scores left unchanged): {detail[:600]}"]))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    outcome.seconds = time.monotonic() - start
    return outcome
