"""``course grade``: every submission of an assignment, in parallel, each in its own sandbox.

Per student (in a worker thread): restore the notebook's structure from the gradebook, run it in
a fresh sandbox (phase 1), run the trusted cells on the exported answer values in the
evaluator (phase 2), and build the autograded notebook. The main thread alone writes to the
gradebook (nbgrader's own API, like ``SaveAutoGrades``) as each result arrives, so formgrader,
``nbgrader export`` and ``generate_feedback`` keep working.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader import utils as nbutils
from nbgrader.api import Gradebook
from nbgrader.preprocessors import AssignLatePenalties, LimitOutput

from course import notebooks as nbio
from course import variants
from course.grading import plan as planmod
from course.grading import process, workspace
from course.grading.cgroups import Cgroups
from course.grading.context import Course, ensure_assignment, load_course
from course.grading.sandbox import Limits, Sandbox

MAX_NOTEBOOK_BYTES = 100 * 2**20
ANSWER_TYPES = "numbers, text, lists/dicts, numpy arrays, pandas Series/DataFrames"


@dataclass
class Options:
    jobs: int | None = None
    limits: Limits = field(default_factory=Limits)
    sandbox: bool = True
    variants: bool = True
    students: list[str] | None = None


@dataclass
class NotebookOutcome:
    name: str
    status: str  # graded | missing | malformed | failed
    scores: dict[str, tuple[float | None, float]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    autograded: NotebookNode | None = None
    timing: dict[str, float] = field(default_factory=dict)


@dataclass
class StudentOutcome:
    student: str
    notebooks: list[NotebookOutcome] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    timestamp: datetime | None = None

    @property
    def auto_score(self) -> float:
        return sum(s or 0 for nb in self.notebooks for s, _ in _auto(nb))

    @property
    def failed(self) -> bool:
        return any(nb.status == "failed" for nb in self.notebooks)

    @property
    def all_problems(self) -> list[str]:
        return self.problems + [p for nb in self.notebooks for p in nb.problems]


def _auto(nb: NotebookOutcome) -> list[tuple[float | None, float]]:
    if nb.autograded is None:
        return [(0.0, m) for _, m in nb.scores.values()]
    ids = {nbio.grade_id(c) for c in nb.autograded.cells if nbio.is_test_cell(c)}
    return [v for k, v in nb.scores.items() if k in ids]


# --------------------------------------------------------------------------------------------
# one student (worker thread)
# --------------------------------------------------------------------------------------------


class GraderFailure(RuntimeError):
    """The grader's own machinery failed (not the submission): no score is recorded."""


@dataclass
class Job:
    course: Course
    assignment: str
    specs: dict[str, planmod.NotebookSpec]
    sandbox: Sandbox
    options: Options
    files: Path | None  # private copy of the released data files, for the evaluator
    cgroups: Cgroups | None = None

    def env(self, student: str) -> dict[str, str]:
        extra = {variants.STUDENT_ENV: student}
        switch = os.environ.get(variants.SWITCH_ENV)
        if not self.options.variants:
            extra[variants.SWITCH_ENV] = "off"
        elif switch is not None:
            extra[variants.SWITCH_ENV] = switch
        return extra


def _zero_scores(spec: planmod.NotebookSpec) -> dict[str, tuple[float | None, float]]:
    return {c.name: (0.0, c.points or 0.0) for c in spec.cells.values() if c.grade}


def _describe_skipped(name: str, reason: str) -> str:
    return f"`{name}` could not be checked ({reason}); answers must be data: {ANSWER_TYPES}"


def grade_notebook(job: Job, student: str, spec: planmod.NotebookSpec, path: Path, workdir: Path,
                   evaluator: process.Evaluator) -> NotebookOutcome:
    outcome = NotebookOutcome(spec.name, "graded")
    try:
        size = path.stat().st_size
        if size > MAX_NOTEBOOK_BYTES:
            raise ValueError(f"{size / 2**20:.0f} MiB, more than the {MAX_NOTEBOOK_BYTES // 2**20} MiB a notebook may have")
        submitted = nbio.read(path)
        restored, notes = planmod.restore(submitted, spec)
        plan = planmod.make_plan(restored)
    except Exception as exc:  # malformed JSON, not a notebook, broken cells
        outcome.status = "malformed"
        outcome.scores = _zero_scores(spec)
        message = str(exc).replace(str(path), path.name)
        outcome.problems.append(f"{spec.name}.ipynb is not a valid notebook, graded 0: {message[:300]}")
        return outcome
    outcome.problems.extend(f"{spec.name}: {note}" for note in notes)
    extra_env = job.env(student)
    home = None if job.sandbox.enabled else str(workdir.parent / "home")
    if home:
        Path(home).mkdir(exist_ok=True)
    env = job.sandbox.env(extra_env, home=home)
    limits = job.options.limits
    run = process.run_student(job.sandbox, workdir, job.assignment, plan.student_cells, env, limits, job.cgroups)
    if not run.started:  # not the student's doing: the sandbox itself did not come up
        raise GraderFailure("the sandbox did not start: " + "; ".join(run.problems))
    outcome.problems.extend(f"{spec.name}: {p}" for p in run.problems)
    outcome.problems.extend(f"{spec.name}: {p}" for p in _run_notes(plan, run, limits))
    phase2 = {
        "env": extra_env,
        "cells": plan.trusted_cells,
        "snapshots": {str(i): raw.decode("utf-8", "replace") for i, raw in run.snapshots.items()},
        "cell_timeout": limits.cell_timeout,
        "deadline": limits.notebook_timeout,
        "files_dir": job.sandbox.files_inside(job.files),
        "not_reached": "the notebook stopped before this test (see the cells above)",
    }
    started = time.monotonic()
    reply = evaluator.evaluate(phase2)
    outcome.timing = {"phase1": run.seconds, "phase2": time.monotonic() - started}
    cells_out = reply.get("cells") if isinstance(reply.get("cells"), dict) else {}
    if reply.get("fatal"):
        raise GraderFailure(str(reply.get("error")))
    if "error" in reply:
        outcome.problems.append(f"{spec.name}: the tests could not run on these answers: {reply['error']}")
    reported: set[str] = set()
    for trusted in plan.trusted_cells:
        entry = cells_out.get(str(trusted["i"]), {})
        for name, reason in (entry.get("problems") or {}).items():
            if name in trusted.get("report", []) and name not in reported:
                reported.add(name)
                outcome.problems.append(f"{spec.name}: {_describe_skipped(name, reason)}")
    nb = plan.notebook
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if planmod.role(cell) == "test":
            entry = cells_out.get(str(i))
            outputs = entry.get("outputs") if entry else None
            cell.outputs = process._valid_outputs(outputs) if outputs is not None else [nbformat.from_dict(
                {"output_type": "error", "ename": "GraderError", "evalue": "the tests could not be run",
                 "traceback": ["GraderError: the tests could not be run"]})]
        else:
            cell.outputs = run.outputs.get(i, [])
        cell.execution_count = run.counts.get(i)
    nb, _ = LimitOutput(config=job.course.config).preprocess(nb, {})
    outcome.autograded = nb
    outcome.scores = planmod.grades(nb)
    return outcome


def _label(nb: NotebookNode, i: int) -> str:
    return f"cell {i} ({nbio.cell_label(nb.cells[i])})"


def _run_notes(plan: planmod.Plan, run: process.StudentRun, limits: Limits) -> list[str]:
    """What happened in phase 1 that the instructor should know about."""
    notes = []
    for i, outputs in sorted(run.outputs.items()):
        if any(o.get("output_type") == "error" and o.get("ename") == "CellTimeoutError" for o in outputs):
            notes.append(f"{_label(plan.notebook, i)} was stopped after {limits.cell_timeout:g} s")
    if run.truncated:
        notes.append("output cut to the grader's limit in " + ", ".join(_label(plan.notebook, i) for i in run.truncated[:3]))
    if run.terminal_bytes > process.DIAGNOSTIC_BYTES:
        notes.append(f"{run.terminal_bytes / 2**20:.1f} MiB written straight to the terminal (discarded)")
    if not run.completed and run.stopped_at is not None and run.stopped_at < len(plan.notebook.cells):
        notes.append(f"tests after {_label(plan.notebook, run.stopped_at)} score 0 (never reached)")
    return notes


def _linked(folder: Path, base: Path) -> bool:
    """Whether ``folder`` or a folder between it and ``base`` is a symbolic link."""
    current = folder
    while current != base and base in current.parents:
        if current.is_symlink():
            return True
        current = current.parent
    return False


def _missing_problem(spec: planmod.NotebookSpec, folder: Path, expected: set[str]) -> str:
    others = sorted(p.name for p in folder.glob("*.ipynb") if p.stem not in expected)
    hint = f"; found {', '.join(others)} (renamed? only {spec.name}.ipynb is graded)" if others else ""
    return f"{spec.name}.ipynb is missing, graded 0{hint}"


def grade_student(job: Job, student: str, evaluator: process.Evaluator) -> StudentOutcome:
    start = time.monotonic()
    outcome = StudentOutcome(student)
    folder = job.course.submitted(student, job.assignment)
    if _linked(folder, job.course.folder("submitted")):
        # e.g. a link to source/ (the solutions) or to another student's folder
        outcome.notebooks = [NotebookOutcome(spec.name, "malformed", _zero_scores(spec), [
            f"{spec.name}: the submission folder is a symbolic link, graded 0"]) for spec in job.specs.values()]
        return outcome
    try:
        if not (folder / "timestamp.txt").is_symlink():
            outcome.timestamp = job.course.coursedir.get_existing_timestamp(str(folder))
    except Exception:
        outcome.problems.append("timestamp.txt is unreadable (ignored)")
    scratch = Path(tempfile.mkdtemp(prefix="course-grade-"))
    try:
        workdir = scratch / "work"
        problems, extra = workspace.prepare(folder, job.course.release(job.assignment), workdir,
                                            set(job.specs), job.course.ignore)
        outcome.problems.extend(problems)
        if extra:
            shown = ", ".join(extra[:5]) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
            outcome.problems.append(f"extra files (kept, not graded): {shown}")
        for spec in job.specs.values():
            path = folder / f"{spec.name}.ipynb"
            if path.is_symlink() or (path.exists() and not path.is_file()):
                outcome.notebooks.append(NotebookOutcome(spec.name, "malformed", _zero_scores(spec), [
                    f"{spec.name}.ipynb is a symbolic link or not a file, graded 0"]))
                continue
            if not path.is_file():
                outcome.notebooks.append(NotebookOutcome(spec.name, "missing", _zero_scores(spec),
                                                         [_missing_problem(spec, folder, set(job.specs))]))
                continue
            try:
                outcome.notebooks.append(grade_notebook(job, student, spec, path, workdir, evaluator))
            except Exception as exc:  # a grader bug must not stop the batch
                detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                outcome.notebooks.append(NotebookOutcome(spec.name, "failed", {}, [
                    f"{spec.name}: NOT GRADED, grader failure (scores left unchanged): {detail[:400]}"]))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    outcome.seconds = time.monotonic() - start
    return outcome


# --------------------------------------------------------------------------------------------
# the gradebook (main thread only)
# --------------------------------------------------------------------------------------------


def save(gb: Gradebook, course: Course, assignment: str, outcome: StudentOutcome) -> None:
    """Record one student's result like nbgrader's autograde (SaveAutoGrades + late penalty)."""
    with warnings.catch_warnings():  # nbgrader's own SQLAlchemy session warnings
        warnings.simplefilter("ignore")
        _save(gb, course, assignment, outcome)


def _save(gb: Gradebook, course: Course, assignment: str, outcome: StudentOutcome) -> None:
    gb.update_or_create_student(outcome.student)
    if outcome.timestamp is not None:
        submission = gb.update_or_create_submission(assignment, outcome.student, timestamp=outcome.timestamp)
    else:
        submission = gb.update_or_create_submission(assignment, outcome.student)
    late = AssignLatePenalties(config=course.config)
    late.init_plugin()
    for nb in outcome.notebooks:
        if nb.status == "failed":
            continue  # keep whatever the gradebook had; the summary says it was not graded
        sub_nb = gb.find_submission_notebook(nb.name, assignment, outcome.student)
        if nb.autograded is None:
            for grade in sub_nb.grades:
                grade.auto_score = 0
                grade.needs_manual_grade = False
        else:
            for cell in nb.autograded.cells:
                gid = nbio.grade_id(cell)
                if nbutils.is_grade(cell):
                    grade = gb.find_grade(gid, nb.name, assignment, outcome.student)
                    grade.auto_score = nb.scores.get(gid, (None, 0))[0]
                    grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
                if nbutils.is_solution(cell) or nbutils.is_task(cell):
                    comment = gb.find_comment(gid, nb.name, assignment, outcome.student)
                    unchanged = cell.metadata.nbgrader.get("checksum") == nbutils.compute_checksum(cell)
                    comment.auto_comment = "No response." if unchanged and not nbutils.is_task(cell) else None
        gb.db.commit()
        sub_nb.late_submission_penalty = None
        if submission.total_seconds_late > 0:
            penalty = late.plugin_inst.late_submission_penalty(outcome.student, sub_nb.score,
                                                               submission.total_seconds_late)
            if penalty is not None:
                sub_nb.late_submission_penalty = late._check_late_penalty(sub_nb, penalty)
        gb.db.commit()


def write_autograded(course: Course, assignment: str, outcome: StudentOutcome) -> None:
    dest = course.autograded(outcome.student, assignment)
    if dest.exists() and not outcome.failed:
        shutil.rmtree(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for nb in outcome.notebooks:
        if nb.autograded is not None:
            nbio.write(nb.autograded, dest / f"{nb.name}.ipynb")
    stamp = course.submitted(outcome.student, assignment) / "timestamp.txt"
    if stamp.is_file() and not stamp.is_symlink():
        shutil.copyfile(stamp, dest / "timestamp.txt")


# --------------------------------------------------------------------------------------------
# the batch
# --------------------------------------------------------------------------------------------


def _compile_course_package() -> None:
    """Byte-compile the course package once: inside the sandbox it is read-only, so every
    notebook would otherwise recompile it (``PYTHONDONTWRITEBYTECODE`` environments)."""
    import compileall

    from course.grading.sandbox import course_package_dir

    try:
        compileall.compile_dir(str(course_package_dir()), quiet=2)
    except OSError:
        pass


@dataclass
class Batch:
    assignment: str
    outcomes: list[StudentOutcome]
    max_auto: float
    seconds: float
    jobs: int


def grade(root: Path, assignment: str, options: Options | None = None,
          on_result: Callable[[StudentOutcome, int, int], None] | None = None) -> Batch:
    """Grade every submission of ``assignment``; ``on_result(outcome, done, total)`` per student."""
    options = options or Options()
    start = time.monotonic()
    course = load_course(root)
    specs = ensure_assignment(course, assignment)
    students = course.students(assignment)
    if options.students:
        students = [s for s in students if s in set(options.students)]
    _compile_course_package()
    hidden = [p.parent for p in [course.db_path] if p is not None]
    sandbox = Sandbox(course.root, enabled=options.sandbox, limits=options.limits, hidden=hidden)
    jobs = max(1, options.jobs or os.cpu_count() or 1)
    files_dir = Path(tempfile.mkdtemp(prefix="course-files-"))
    job = Job(course, assignment, specs, sandbox, options,
              workspace.release_files(course.release(assignment), course.ignore, files_dir),
              Cgroups() if options.sandbox else None)
    local = threading.local()
    evaluators: list[process.Evaluator] = []
    lock = threading.Lock()

    warmup = [c.source for spec in specs.values() for c in (spec.cells[g] for g in spec.order)
              if c.cell_type == "code" and c.locked and not c.solution]

    def work(student: str) -> StudentOutcome:
        evaluator = getattr(local, "evaluator", None)
        if evaluator is None:
            evaluator = process.Evaluator(sandbox, job.files, options.limits, warmup)
            local.evaluator = evaluator
            with lock:
                evaluators.append(evaluator)
            try:  # the evaluator warms up while this worker runs its first student's notebook
                evaluator.spawn()
            except OSError:
                evaluator.close()
        return grade_student(job, student, evaluator)

    outcomes: list[StudentOutcome] = []
    try:
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="grade") as pool, Gradebook(course.db_url) as gb:
            futures = {pool.submit(work, s): s for s in students}
            for future in as_completed(futures):
                student = futures[future]
                try:
                    outcome = future.result()
                except Exception as exc:  # pragma: no cover (grade_student catches its own errors)
                    outcome = StudentOutcome(student, [NotebookOutcome(name, "failed", {}, [
                        f"{name}: NOT GRADED, grader failure (scores left unchanged): {exc}"]) for name in specs])
                write_autograded(course, assignment, outcome)
                save(gb, course, assignment, outcome)
                outcomes.append(outcome)
                if on_result:
                    on_result(outcome, len(outcomes), len(students))
    finally:
        for evaluator in evaluators:
            evaluator.close()
        if job.cgroups:
            job.cgroups.cleanup()
        shutil.rmtree(files_dir, ignore_errors=True)
    outcomes.sort(key=lambda o: o.student)
    max_auto = sum(spec.max_auto for spec in specs.values())
    return Batch(assignment, outcomes, max_auto, time.monotonic() - start, jobs)
