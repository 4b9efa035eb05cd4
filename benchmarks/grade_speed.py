"""``course grade`` against stock ``nbgrader autograde``, and against each case's own limit.

    python benchmarks/grade_speed.py                                 # every case, 8, 16 and 48 submissions
    python benchmarks/grade_speed.py --cases case01_strategy --sizes 16
    python benchmarks/grade_speed.py --cases case03_pharma_hr --sizes 16 --repeat 3   # scores must not vary

For each case and each size N, in one run on this machine:

- N submissions, a third of them blank and the rest the reference solution (the setup of the
  issue that set the target), each grader in its own scratch copy of the course, with
  ``COURSE_VARIANTS=off`` (stock nbgrader does not know the student id);
- **stock**: sequential ``nbgrader autograde`` (one kernel per notebook); **ours**: ``course
  grade`` with all cores; both wall times and their ratio;
- **limit**: one plain in-process run of each submission's notebook with its tests (a fresh
  Python process running the restored notebook, hidden tests included, in IPython, imports
  included), as many at once as there are cores, timed by the wall clock like the two graders
  and in the same run (**floor s**): no grader using every core can take less. The limit
  ratio is stock's time over that; "of limit" is how close ``course grade`` gets. (Dividing one
  run's time by the cores instead would leave out what two processes on two cores cost each
  other, and one short run is noisy on a shared machine: 2.2-3.1 s for the same case 01
  notebook here);
- **core-s/nb**: CPU seconds per notebook of everything ``course grade`` ran (sandboxes
  included: the whole command runs in a cgroup of its own where the machine allows it);
- **start**: the fixed start of a batch (the command starting, the gradebook read, the sandbox
  probe and the course package frozen) before the first notebook runs;
- **peak MiB**: peak resident memory of the grader's own process;
- **same**: whether every score, cell by cell, equals stock's.

``--repeat R`` grades each batch R times with ``course grade`` and reports any cell that varied.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course import ipynb  # noqa: E402
from course.authoring import submissions  # noqa: E402
from course.gradebook import read_score  # noqa: E402
from course.grading import restore, specs  # noqa: E402
from course.layout import Course  # noqa: E402

COURSE = Course.load(ROOT)
ENV = {**os.environ, "COURSE_VARIANTS": "off"}
PLAIN = """
import json, sys, time, resource
t0 = time.perf_counter()
from course.sandboxed.runner import without_slow_extras
with without_slow_extras():
    from course.sandboxed import shell
    sh = shell.make_shell()
    for source in json.load(open(sys.argv[1])):
        shell.run_cell(sh, source)
r = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall": time.perf_counter() - t0, "cpu": r.ru_utime + r.ru_stime}))
"""


class CpuMeter:
    """CPU seconds of a command and everything it starts: a cgroup (v1 cpuacct or v2) where the
    machine lets us make one, else the children's rusage (which misses killed sandboxes)."""

    def __init__(self) -> None:
        self.group: Path | None = None
        self.kind = "rusage"
        for base, kind in ((Path("/sys/fs/cgroup/cpuacct"), "v1"), (Path("/sys/fs/cgroup"), "v2")):
            own = self._own(kind)
            if own is None:
                continue
            group = base / own.lstrip("/") / f"grade-speed-{os.getpid()}"
            try:
                group.mkdir()
            except OSError:
                continue
            self.group, self.kind = group, kind
            break

    @staticmethod
    def _own(kind: str) -> str | None:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, names, path = line.split(":", 2)
            if (kind == "v1" and "cpuacct" in names.split(",")) or (kind == "v2" and names == "" and
                                                                     Path("/sys/fs/cgroup/cgroup.controllers").exists()):
                return path
        return None

    def usage(self) -> float:
        if self.group is None:
            import resource

            r = resource.getrusage(resource.RUSAGE_CHILDREN)
            return r.ru_utime + r.ru_stime
        if self.kind == "v1":
            return int((self.group / "cpuacct.usage").read_text()) / 1e9
        stat = dict(line.split() for line in (self.group / "cpu.stat").read_text().splitlines())
        return int(stat["usage_usec"]) / 1e6

    def wrap(self, argv: list[str]) -> list[str]:
        if self.group is None:
            return argv
        return ["/bin/sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', str(self.group), *argv]

    def close(self) -> None:
        if self.group is not None:
            try:
                self.group.rmdir()
            except OSError:
                pass


def prepare(base: Path, assignment: str, count: int) -> tuple[Course, list[str]]:
    course = COURSE.copy_to(base)
    course.run_nbgrader("generate_assignment", assignment, "--force", "--log-level=ERROR")
    source = ipynb.read(course.source(assignment) / f"{assignment}.ipynb")
    release = ipynb.read(course.release(assignment) / f"{assignment}.ipynb")
    students = []
    for k in range(count):
        kind = "blank" if k % 3 == 2 else "ref"
        nb = release if kind == "blank" else submissions.reference(source, release)
        student = f"{kind}{k:03d}"
        ipynb.write(nb, course.submitted(student, assignment) / f"{assignment}.ipynb")
        students.append(student)
    return course, students


def _plain_cells(course: Course, assignment: str, kind: str, folder: Path) -> Path:
    """The code cells a ``kind`` submission runs with its tests (restored, hidden tests in), as JSON."""
    spec = specs.ensure(course, assignment)[assignment]
    source = ipynb.read(course.source(assignment) / f"{assignment}.ipynb")
    release = ipynb.read(course.release(assignment) / f"{assignment}.ipynb")
    nb = release if kind == "blank" else submissions.reference(source, release)
    restored, _ = restore.restore(nb, spec)
    cells = folder / f"{kind}-cells.json"
    cells.write_text(json.dumps([c.source for c in restored.cells if c.cell_type == "code"]))
    return cells


def _plain_run(course: Course, assignment: str, cells: Path) -> float:
    out = subprocess.run([sys.executable, "-c", PLAIN, str(cells)], cwd=course.release(assignment),
                         env=ENV, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["wall"]


def plain_seconds(course: Course, assignment: str, kind: str, tries: int = 3) -> float:
    """Median wall time of one plain in-process run of a ``kind`` submission with its tests."""
    with tempfile.TemporaryDirectory() as tmp:
        cells = _plain_cells(course, assignment, kind, Path(tmp))
        return statistics.median(_plain_run(course, assignment, cells) for _ in range(tries))


def plain_batch(course: Course, assignment: str, students: list[str], workers: int) -> float:
    """Wall time of one plain run per submission, ``workers`` at a time (the limit)."""
    from concurrent.futures import ThreadPoolExecutor

    with tempfile.TemporaryDirectory() as tmp:
        cells = {kind: _plain_cells(course, assignment, kind, Path(tmp)) for kind in ("ref", "blank")}
        start = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda s: _plain_run(course, assignment, cells[kind_of(s)]), students))
        return time.perf_counter() - start


def kind_of(student: str) -> str:
    """Which notebook a student of :func:`prepare` submitted: ``"blank"`` or ``"ref"``."""
    return "blank" if student.startswith("blank") else "ref"


def timed(meter: CpuMeter, argv: list[str], cwd: Path, env: dict) -> tuple[float, float]:
    before = meter.usage()
    start = time.perf_counter()
    proc = subprocess.run(meter.wrap(argv), cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv[:5])} failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return wall, meter.usage() - before


def cells_of(course: Course, assignment: str, students: list[str]) -> dict:
    return {s: read_score(course, assignment, s).cells for s in students}


def one(meter: CpuMeter, assignment: str, count: int, jobs: int | None, repeat: int) -> dict:
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="grade-speed-") as tmp:
        stock_course, students = prepare(Path(tmp) / "stock", assignment, count)
        stock, _ = timed(meter, [sys.executable, "-m", "nbgrader", "autograde", assignment, "--force",
                                 "--log-level=ERROR"], stock_course.root, ENV)
        expected = cells_of(stock_course, assignment, students)
        bound = plain_batch(stock_course, assignment, students, cores)
        runs = []
        for r in range(repeat):
            ours_course, _ = prepare(Path(tmp) / f"ours{r}", assignment, count)
            stats_file = Path(tmp) / f"stats{r}.json"
            argv = [sys.executable, "-m", "course.cli", "grade", assignment, "--root", str(ours_course.root)]
            if jobs:
                argv += ["--jobs", str(jobs)]
            wall, cpu = timed(meter, argv, ours_course.root, {**ENV, "COURSE_GRADE_STATS": str(stats_file)})
            stats = json.loads(stats_file.read_text())
            runs.append((wall, cpu, stats, cells_of(ours_course, assignment, students)))
    wall, cpu, stats, got = runs[0]
    varied = [(r, s) for r, (_, _, _, other) in enumerate(runs[1:], 2) for s in students if other[s] != got[s]]
    return {
        "case": assignment, "n": count, "stock": stock, "ours": wall, "ratio": stock / wall,
        "limit": stock / bound, "plain": bound, "of_limit": (stock / wall) / (stock / bound),
        "core_s": cpu / count, "start": stats["startup"] + (wall - stats["seconds"]),
        "peak_mib": stats["peak_rss"] / 2**20,
        "same": sum(got[s] == expected[s] for s in students), "varied": varied,
        "different": [s for s in students if got[s] != expected[s]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="*", help="assignments (default: every case)")
    parser.add_argument("--sizes", default="8,16,48", help="submission counts, comma-separated")
    parser.add_argument("--jobs", type=int, default=None, help="workers for course grade (default: all cores)")
    parser.add_argument("--repeat", type=int, default=1, help="grade each batch this many times; report variation")
    args = parser.parse_args()
    cases = args.cases or [a for a in COURSE.assignments() if a.startswith("case") and not a.endswith("_zh")]
    sizes = [int(x) for x in args.sizes.split(",")]
    meter = CpuMeter()
    print(f"cores: {os.cpu_count()}; CPU measured by {meter.kind}", flush=True)
    header = (f"{'case':26} {'n':>3} {'stock s':>8} {'ours s':>7} {'ratio':>6} {'floor s':>7} {'limit':>6} {'of limit':>8} "
              f"{'core-s/nb':>9} {'start s':>7} {'peak MiB':>8} {'same':>6}")
    print(header, flush=True)
    rows = []
    ok = True
    try:
        for case in cases:
            for n in sizes:
                row = one(meter, case, n, args.jobs, args.repeat)
                rows.append(row)
                ok &= not row["different"] and not row["varied"]
                print(f"{row['case']:26} {n:>3} {row['stock']:>8.1f} {row['ours']:>7.1f} {row['ratio']:>5.2f}x "
                      f"{row['plain']:>7.1f} {row['limit']:>5.2f}x {100 * row['of_limit']:>7.0f}% {row['core_s']:>9.2f} {row['start']:>7.1f} "
                      f"{row['peak_mib']:>8.0f} {row['same']:>3}/{n:<2}", flush=True)
                for student in row["different"]:
                    print(f"  DIFFERENT from stock: {student}")
                for run, student in row["varied"]:
                    print(f"  VARIED in run {run}: {student}")
    finally:
        meter.close()
    print(f"\nevery score identical to stock{' and across repeats' if args.repeat > 1 else ''}: {'yes' if ok else 'NO'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
