"""Grade the same batch again and again; report every score that changes (issue 18).

    python benchmarks/determinism.py --assignment case03_pharma_hr --repeat 5
    python benchmarks/determinism.py --all -n 10 --repeat 3 --stock 1 --load
    python benchmarks/determinism.py --assignment case01_strategy --kinds ref,ref,blank -n 16 --repeat 5 --stock 5
    python benchmarks/determinism.py --assignment case01_strategy --edge 5 --timeout 8 --load --load-procs 2

One batch per assignment is graded ``--repeat`` times with ``course grade`` and ``--stock`` times
with stock ``nbgrader autograde``. By default the batch holds every kind in ``KINDS`` once
(reference, half-done, blank; hostile: the locked cell whose names later tests read dragged
below every test, on a blank and on a reference, with its code pasted back as the student's own
cell, test cells deleted or edited, and for case 01 the moved-cell exploit of issue 10), then
reference, half and blank in turn up to ``-n``; ``--kinds`` sets the mix instead. Every run
starts from a fresh copy of the course with a fresh gradebook, the way an instructor grades.
``course grade`` runs vary the worker count (cycling through ``--jobs``), the submission order
(shuffled from the second run on, reproducible with ``--seed``) and, with ``--load``, keep
``--load-procs`` cores busy with spinning processes in every other run (stock runs too).
``--edge S`` adds a ``slow_ref`` submission that burns S CPU seconds in its first answer: with
``--timeout`` a little above S it shows how wall-clock cell limits turn load into scores;
``--kinds runaway_print_ref,...`` adds a reference with an endless printing cell (stopped by the
cell limit), whose fate under a short ``--timeout`` depends on how fast it printed.

The scores are compared cell by cell, within each grader and between the graders; every
difference is printed with the run, the student, the cell and what the autograded notebook shows
for that cell in each run (``ok`` or the error). Each run also records a digest of the ``course``
package before and after it: the graders import it from disk (an editable install is the live
working tree), so a change during the runs is reported, since it makes them incomparable.
Exit status 1 if a score varies between runs of one grader, an honest submission (ref, half,
blank, slow_ref, runaway_print_ref) scores differently under the two graders, a grader exits non-zero, or the
package changed. Hostile submissions may legitimately differ from stock nbgrader (``course
grade`` is stricter): those differences are listed, not failed.

``COURSE_VARIANTS=off`` by default (stock nbgrader does not know the student id);
``--variants`` grades everyone on their own data (stock then runs once per student with
``COURSE_STUDENT_ID`` set, as the README describes). ``--json FILE`` saves every run's scores,
``--keep DIR`` every run's course. The submission order is set through a hook on
``Course.students`` (``course.layout``) in the grading process only (see ``LAUNCHER``).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

try:  # the package's layout moved during the issue-11 refactor
    from course.authoring import submissions  # noqa: E402
except ImportError:  # pragma: no cover (older layout)
    from course import submissions  # noqa: E402
from course.gradebook import read_score  # noqa: E402

BIN = Path(sys.executable).parent
HONEST = ("ref", "half", "blank", "slow_ref", "runaway_print_ref")  # kinds that must score the same under both graders
COURSE_FILES = ("nbgrader_config.py", "pyproject.toml")


# --------------------------------------------------------------------------------------------
# submissions
# --------------------------------------------------------------------------------------------


def _meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def _gid(cell) -> str | None:
    return _meta(cell).get("grade_id")


def _is_test(cell) -> bool:
    return cell.cell_type == "code" and bool(_meta(cell).get("grade")) and not _meta(cell).get("solution")


def _is_locked_code(cell) -> bool:
    meta = _meta(cell)
    return cell.cell_type == "code" and bool(meta.get("locked")) and not meta.get("solution") and not meta.get("grade")


def _names(source: str, ctx: type) -> set[str]:
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ctx)}


def key_locked_cell(nb) -> int | None:
    """The locked cell (after the first) whose names the most later test cells read."""
    import ast

    best, best_uses = None, 0
    locked = [i for i, c in enumerate(nb.cells) if _is_locked_code(c)]
    for i in locked[1:]:
        defined = _names(nb.cells[i].source, ast.Store)
        uses = sum(1 for c in nb.cells[i + 1:] if _is_test(c) and defined & _names(c.source, ast.Load))
        if uses >= best_uses and uses:
            best, best_uses = i, uses
    return best


def moved_locked(nb, shadow: bool = False):
    """The locked cell dragged to the end (below every test); ``shadow``: its code pasted back,
    as the student's own cell, where it was."""
    nb = copy.deepcopy(nb)
    i = key_locked_cell(nb)
    if i is None:
        return nb
    cell = nb.cells.pop(i)
    nb.cells.append(cell)
    if shadow:
        nb.cells.insert(i, nbformat.v4.new_code_cell(cell.source))
    return nb


def deleted_tests(nb):
    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells if not _is_test(c)]
    return nb


def edited_tests(nb):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if _is_test(cell):
            cell.source = "pass"
            cell.metadata["nbgrader"]["points"] = 100
    return nb


def with_answers(nb, answers: dict[str, str]):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if _gid(cell) in answers:
            cell.source = answers[_gid(cell)]
    return nb


#: Per case: answers that set the moved locked cell's names so that its tests pass on a blank.
EXPLOITS = {
    "case01_strategy": {"switching_simulation": (
        "TEAM_SIZE = 0\nPOTENTIAL_KYUAN = 0.0\nRAMP_START = 1.0\nRAMP_MONTHS = 4\n"
        "MONTHS = np.arange(1, 37)\nstable_path = np.zeros(36)\nswitching_path = np.zeros(36)\n"
        "cumulative_gap = 0.0\ngap_share = 0.0")},
}

#: CPU seconds the ``slow_ref`` kind burns in its first answer cell (``--edge``).
EDGE = {"seconds": 0.0}


def slow(nb):
    """The first autograded answer starts with a loop that burns ``EDGE`` CPU seconds: near a
    wall-clock cell limit, whether it finishes in time depends on the machine's load."""
    nb = copy.deepcopy(nb)
    loop = (f"import time as _time\n_t0 = _time.process_time()\n"
            f"while _time.process_time() - _t0 < {EDGE['seconds']}:\n    pass\n")
    for cell in nb.cells:
        meta = _meta(cell)
        if cell.cell_type == "code" and meta.get("solution") and not meta.get("grade"):
            cell.source = loop + cell.source
            break
    return nb


def runaway_print(nb):
    """An honest mistake: a debugging cell (after the first cell) that prints in an endless loop,
    stopped by the cell limit; every answer after it is right."""
    nb = copy.deepcopy(nb)
    nb.cells.insert(2, nbformat.v4.new_code_cell("_row = 0\nwhile True:\n    print(f'row {_row}: ' + 'ok ' * 200)\n    _row += 1"))
    return nb


Maker = Callable[[str, object, object], object]  # (assignment, source nb, release nb) -> submission


def _ref(a, s, r):
    return submissions.reference(s, r)


#: Submission kinds, in the order they are added to a batch (then ref, half, blank again).
KINDS: dict[str, Maker] = {
    "ref": _ref,
    "half": lambda a, s, r: submissions.partial(s, r),
    "blank": lambda a, s, r: copy.deepcopy(r),
    "moved_locked": lambda a, s, r: moved_locked(r),
    "moved_locked_ref": lambda a, s, r: moved_locked(_ref(a, s, r)),
    "moved_locked_shadow_ref": lambda a, s, r: moved_locked(_ref(a, s, r), shadow=True),
    "deleted_tests_ref": lambda a, s, r: deleted_tests(_ref(a, s, r)),
    "edited_tests_ref": lambda a, s, r: edited_tests(_ref(a, s, r)),
    "moved_locked_exploit": lambda a, s, r: moved_locked(with_answers(r, EXPLOITS.get(a, {}))),
    "slow_ref": lambda a, s, r: slow(_ref(a, s, r)),  # only with --edge (or named in --kinds)
    "runaway_print_ref": lambda a, s, r: runaway_print(_ref(a, s, r)),  # only named in --kinds
}


def batch_kinds(assignment: str, count: int, mix: list[str] | None = None) -> list[str]:
    """``count`` kinds: ``mix`` cycled, or every kind once, then ref, half, blank in turn."""
    if mix:
        return [mix[k % len(mix)] for k in range(count)]
    kinds = [k for k in KINDS if (k != "moved_locked_exploit" or assignment in EXPLOITS)
             and (k != "slow_ref" or EDGE["seconds"] > 0) and k != "runaway_print_ref"]
    out = kinds[:count]
    while len(out) < count:
        out.append(HONEST[(len(out) - len(kinds)) % 3])  # then ref, half, blank in turn
    return out


# --------------------------------------------------------------------------------------------
# courses and runs
# --------------------------------------------------------------------------------------------


def env(variants: bool, extra: dict | None = None) -> dict:
    out = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    if variants:
        out.pop("COURSE_VARIANTS", None)
    else:
        out["COURSE_VARIANTS"] = "off"
    out.update(extra or {})
    return out


def run(argv: list[str], cwd: Path, environ: dict, what: str, tolerate: bool = False) -> subprocess.CompletedProcess:
    """Run a command; stop the benchmark if it fails, unless ``tolerate`` (a grader's own exit)."""
    proc = subprocess.run(argv, cwd=cwd, env=environ, capture_output=True, text=True, check=False)
    if proc.returncode != 0 and not tolerate:
        sys.exit(f"{what} failed (exit {proc.returncode}):\n{(proc.stdout + proc.stderr)[-4000:]}")
    return proc


def failure_note(proc: subprocess.CompletedProcess) -> str | None:
    """``None`` for exit 0, else the exit status and the last meaningful line of output."""
    if proc.returncode == 0:
        return None
    lines = [ln.strip() for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    return f"exit {proc.returncode}: {lines[-1][:200] if lines else ''}"


def package_digest() -> str:
    """sha256 of the ``course`` package's sources, as every grading process would import them."""
    import hashlib

    import course

    digest = hashlib.sha256()
    pkg = Path(course.__file__).resolve().parent
    for path in sorted(pkg.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(pkg).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def nbgrader(root: Path, *args: str, environ: dict, tolerate: bool = False) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "nbgrader", *args, "--log-level=ERROR"], root, environ, f"nbgrader {args[0]}",
               tolerate)


def template(base: Path, assignment: str, count: int, mix: list[str] | None) -> tuple[Path, dict[str, str]]:
    """A course holding only ``assignment`` (source, release) and the batch of submissions."""
    root = base / "template"
    root.mkdir(parents=True)
    for name in COURSE_FILES:
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, root / name)
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
    shutil.copytree(ROOT / "source" / assignment, root / "source" / assignment, ignore=ignore)
    (root / "autograde").mkdir()
    nbgrader(root, "generate_assignment", assignment, "--force", environ=env(False))
    (root / "gradebook.db").unlink()  # every run makes its own
    students: dict[str, str] = {}
    for k, kind in enumerate(batch_kinds(assignment, count, mix)):
        student = f"s{k:02d}_{kind}"
        for src in sorted((root / "source" / assignment).glob("*.ipynb")):
            source = nbformat.read(src, as_version=4)
            release = nbformat.read(root / "release" / assignment / src.name, as_version=4)
            nb = KINDS[kind](assignment, source, release)
            dest = root / "submitted" / student / assignment / src.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, str(dest))
        students[student] = kind
    return root, students


#: Runs ``course grade`` (the installed entry point) with the submission order taken from
#: $DETERMINISM_ORDER: the benchmark's only hook into the grader, in the grading process only.
LAUNCHER = """
import os, sys, runpy
order = os.environ.get("DETERMINISM_ORDER")
if order:
    import importlib
    rank = {s: i for i, s in enumerate(order.split(","))}
    hooked = False
    for name in ("course.layout", "course.grading.context"):  # where Course lives (new, old layout)
        try:
            Course = importlib.import_module(name).Course
        except (ImportError, AttributeError):
            continue
        if hasattr(Course, "students"):
            plain = Course.students
            Course.students = lambda self, a, plain=plain: sorted(plain(self, a), key=lambda s: rank.get(s, len(rank)))
            hooked = True
            break
    if not hooked:
        print("determinism: cannot set the submission order (Course.students moved)", file=sys.stderr)
script = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(script, run_name="__main__")
"""


@dataclass
class Run:
    label: str
    grader: str  # "course grade" | "stock"
    jobs: int | None
    order: list[str] | None
    load: bool
    seconds: float = 0.0
    failed: str | None = None  # the grader's own exit status when it was not 0
    package: tuple[str, str] = ("", "")  # course package digest before and after the run
    scores: dict[str, dict[str, float]] = field(default_factory=dict)  # student -> cell -> score
    why: dict[str, dict[str, str]] = field(default_factory=dict)  # student -> cell -> outcome

    def describe(self) -> str:
        parts = [self.grader]
        if self.jobs:
            parts.append(f"--jobs {self.jobs}")
        if self.order is not None:
            parts.append("shuffled order")
        parts.append(f"{Spinner.procs_per_run} busy core(s)" if self.load else "quiet")
        return ", ".join(parts)


class Spinner:
    """Busy Python loops in other processes (cores kept busy), each ended by its own pid."""

    procs_per_run = 1

    def __init__(self, active: bool) -> None:
        self.active = active
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> Spinner:
        if self.active:
            self.procs = [subprocess.Popen([sys.executable, "-c", "while True:\n    pass"])
                          for _ in range(self.procs_per_run)]
        return self

    def __exit__(self, *exc) -> None:
        for proc in self.procs:
            proc.kill()
            proc.wait()


def outcome_of(cell) -> str:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            value = str(out.get("evalue", "")).strip().splitlines()
            return f"{out.get('ename')}: {value[0][:140] if value else ''}".strip()
    return "ok"


def read_run(root: Path, assignment: str, students: dict[str, str], result: Run) -> None:
    for student in students:
        try:
            score = read_score(root, assignment, student)
        except KeyError:
            result.scores[student] = {"<not graded>": -1.0}
            continue
        result.scores[student] = dict(score.cells)
        why: dict[str, str] = {}
        for path in sorted((root / "autograde" / student / assignment).glob("*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            for cell in nb.cells:
                if _is_test(cell) and _gid(cell):
                    why[_gid(cell)] = outcome_of(cell)
        result.why[student] = why


def fresh_course(template_root: Path, dest: Path, assignment: str, environ: dict) -> Path:
    shutil.copytree(template_root, dest, symlinks=True)
    nbgrader(dest, "generate_assignment", assignment, "--force", environ=environ)
    return dest


def course_grade(template_root: Path, dest: Path, assignment: str, students: dict[str, str], result: Run,
                 variants: bool, extra: list[str]) -> None:
    environ = env(variants, {"DETERMINISM_ORDER": ",".join(result.order)} if result.order else None)
    root = fresh_course(template_root, dest, assignment, env(False))
    argv = [sys.executable, "-c", LAUNCHER, str(BIN / "course"), "grade", assignment, *extra]
    if result.jobs:
        argv += ["--jobs", str(result.jobs)]
    before = package_digest()
    with Spinner(result.load):
        start = time.perf_counter()
        proc = run(argv, root, environ, f"course grade ({result.label})", tolerate=True)
        result.seconds = time.perf_counter() - start
    result.package = (before, package_digest())
    result.failed = failure_note(proc)
    read_run(root, assignment, students, result)


def stock_grade(template_root: Path, dest: Path, assignment: str, students: dict[str, str], result: Run,
                variants: bool, extra: list[str]) -> None:
    root = fresh_course(template_root, dest, assignment, env(False))
    before = package_digest()
    notes = []
    with Spinner(result.load):
        start = time.perf_counter()
        if variants:  # stock nbgrader learns the student id only from the environment
            for student in students:
                notes.append(failure_note(nbgrader(root, "autograde", assignment, "--force", f"--student={student}",
                                                   *extra, environ=env(True, {"COURSE_STUDENT_ID": student}),
                                                   tolerate=True)))
        else:
            notes.append(failure_note(nbgrader(root, "autograde", assignment, "--force", *extra,
                                               environ=env(False), tolerate=True)))
        result.seconds = time.perf_counter() - start
    result.package = (before, package_digest())
    result.failed = "; ".join(n for n in notes if n) or None
    read_run(root, assignment, students, result)


# --------------------------------------------------------------------------------------------
# comparison
# --------------------------------------------------------------------------------------------


def _cells(runs: list[Run], student: str) -> list[str]:
    names: list[str] = []
    for r in runs:
        names += [c for c in r.scores.get(student, {}) if c not in names]
    return names


def within(runs: list[Run], students: dict[str, str]) -> list[str]:
    """Every (student, cell) whose score is not the same in all ``runs``."""
    lines = []
    for student in students:
        for cell in _cells(runs, student):
            seen = {r.label: r.scores.get(student, {}).get(cell) for r in runs}
            if len(set(seen.values())) > 1:
                detail = "; ".join(f"{label}={value} ({r.why.get(student, {}).get(cell, '-')})"
                                   for (label, value), r in zip(seen.items(), runs, strict=True))
                lines.append(f"{runs[0].grader}: {student} cell {cell}: {detail}")
    return lines


def between(ours: Run, stock: Run, students: dict[str, str]) -> tuple[list[str], list[str]]:
    """(honest differences, hostile differences) between two runs of different graders."""
    honest, hostile = [], []
    for student, kind in students.items():
        for cell in _cells([ours, stock], student):
            a, b = ours.scores.get(student, {}).get(cell), stock.scores.get(student, {}).get(cell)
            if a != b:
                line = (f"{student} cell {cell}: course grade {ours.label}={a} ({ours.why.get(student, {}).get(cell, '-')})"
                        f" vs stock {stock.label}={b} ({stock.why.get(student, {}).get(cell, '-')})")
                (honest if kind in HONEST else hostile).append(line)
    return honest, hostile


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------


def plan_runs(students: list[str], repeat: int, stock: int, jobs: list[int | None], load: bool,
              rng: random.Random) -> list[Run]:
    runs = []
    for k in range(repeat):
        order = None
        if k > 0:
            order = list(students)
            rng.shuffle(order)
        runs.append(Run(f"c{k + 1}", "course grade", jobs[k % len(jobs)], order, load and k % 2 == 1))
    for k in range(stock):
        runs.append(Run(f"s{k + 1}", "stock", None, None, load and k % 2 == 1))
    return runs


def parse_jobs(text: str) -> list[int | None]:
    out: list[int | None] = []
    for part in text.split(","):
        part = part.strip()
        out.append(None if part in ("", "auto") else int(part))
    return out or [None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assignment", action="append", help="assignment id (repeatable; default: case03_pharma_hr)")
    parser.add_argument("--all", action="store_true", help="every case assignment")
    parser.add_argument("-n", "--submissions", type=int, default=12, help="submissions per batch (default 12)")
    parser.add_argument("--kinds", default=None,
                        help=f"comma-separated kinds cycled over the batch (default: each once, then ref, half, blank); "
                             f"kinds: {', '.join(KINDS)}")
    parser.add_argument("--repeat", type=int, default=3, help="course grade runs per assignment (default 3)")
    parser.add_argument("--stock", type=int, default=1, help="stock nbgrader autograde runs (default 1; 0 = none)")
    parser.add_argument("--jobs", default="2,1", help="worker counts to cycle through, e.g. 1,2,auto (default 2,1)")
    parser.add_argument("--load", action="store_true", help="keep a second core busy in every other run")
    parser.add_argument("--load-procs", type=int, default=1, help="busy processes in a loaded run (default 1)")
    parser.add_argument("--variants", action="store_true", help="per-student data (default: COURSE_VARIANTS=off)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the shuffled orders (default: random, printed)")
    parser.add_argument("--timeout", type=float, default=None, help="course grade --timeout (seconds per cell)")
    parser.add_argument("--edge", type=float, default=0.0,
                        help="add a slow_ref submission burning this many CPU seconds in its first answer "
                             "(pair with --timeout a little above it to probe limits near the edge)")
    parser.add_argument("--no-sandbox", action="store_true", help="course grade --no-sandbox")
    parser.add_argument("--keep", type=Path, default=None, help="keep every run's course under this folder")
    parser.add_argument("--json", type=Path, default=None, help="save all runs' scores and outcomes here")
    args = parser.parse_args()
    mix = [k.strip() for k in args.kinds.split(",")] if args.kinds else None
    unknown = [k for k in mix or [] if k not in KINDS]
    if unknown:
        parser.error(f"unknown kind(s) {', '.join(unknown)}; known: {', '.join(KINDS)}")

    Spinner.procs_per_run = max(1, args.load_procs)
    cases = sorted(p.name for p in (ROOT / "source").iterdir() if p.is_dir() and p.name.startswith("case"))
    names = args.assignment or (cases if args.all else ["case03_pharma_hr"])
    seed = args.seed if args.seed is not None else random.randrange(10**6)
    rng = random.Random(seed)
    EDGE["seconds"] = args.edge
    extra = (["--timeout", str(args.timeout)] if args.timeout else []) + (["--no-sandbox"] if args.no_sandbox else [])
    stock_extra = [f"--Execute.timeout={max(1, round(args.timeout))}"] if args.timeout else []
    print(f"seed {seed}; cores {os.cpu_count()}; variants {'on' if args.variants else 'off'}", flush=True)
    failures = 0
    saved = {}
    base_ctx = tempfile.TemporaryDirectory(prefix="determinism-") if args.keep is None else None
    base = Path(base_ctx.name) if base_ctx else args.keep.resolve()
    try:
        for assignment in names:
            work = base / assignment
            if work.exists():
                shutil.rmtree(work)
            template_root, students = template(work, assignment, args.submissions, mix)
            runs = plan_runs(list(students), args.repeat, args.stock, parse_jobs(args.jobs), args.load, rng)
            print(f"\n{assignment}: {len(students)} submissions ({', '.join(sorted(set(students.values())))})", flush=True)
            for r in runs:
                dest = work / r.label
                if r.grader == "stock":
                    stock_grade(template_root, dest, assignment, students, r, args.variants, stock_extra)
                else:
                    course_grade(template_root, dest, assignment, students, r, args.variants, extra)
                totals = {s: sum(v for v in r.scores[s].values() if v > 0) for s in students}
                changed = r.package[0] != r.package[1]
                print(f"  {r.label}: {r.describe()}: {r.seconds:.1f} s; total auto points {sum(totals.values()):g};"
                      f" course package {r.package[0]}" + (f" -> {r.package[1]} CHANGED DURING THE RUN" if changed else "")
                      + (f"; GRADER EXITED {r.failed}" if r.failed else ""), flush=True)
                if args.keep is None:
                    shutil.rmtree(dest, ignore_errors=True)
            ours = [r for r in runs if r.grader == "course grade"]
            stock = [r for r in runs if r.grader == "stock"]
            varied = (within(ours, students) if len(ours) > 1 else []) + (within(stock, students) if len(stock) > 1 else [])
            honest, hostile = [], []
            for a in ours:
                for b in stock:
                    h, x = between(a, b, students)
                    honest += h
                    hostile += x
            for line in varied:
                print(f"  VARIES   {line}")
            for line in honest:
                print(f"  DIFFERS  {line}")
            for line in hostile:
                print(f"  hostile, differs from stock (course grade is stricter by design): {line}")
            packages = {d for r in runs for d in r.package}
            if len(packages) > 1:
                print(f"  WARNING: the course package changed during these runs ({', '.join(sorted(packages))}): "
                      "scores graded by different code are not comparable")
            failed = [r.label for r in runs if r.failed]
            same = not varied and not honest and not failed and len(packages) == 1
            failures += not same
            exited = f"; grader exited non-zero in {', '.join(failed)}" if failed else ""
            print(f"  {assignment}: {'identical in every run' if same else 'NOT identical'}"
                  f" ({len(varied)} varying cell(s), {len(honest)} honest difference(s) from stock,"
                  f" {len(hostile)} hostile difference(s) from stock{exited})", flush=True)
            saved[assignment] = {"students": students, "runs": [r.__dict__ for r in runs]}
    finally:
        if args.json:
            args.json.write_text(json.dumps({"seed": seed, "assignments": saved}, indent=1), encoding="utf-8")
        if base_ctx:
            base_ctx.cleanup()
    print(f"\nevery score identical: {'yes' if not failures else 'NO'}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
