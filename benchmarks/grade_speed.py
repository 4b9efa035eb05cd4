"""Stock sequential ``nbgrader autograde`` vs ``course grade``, on the same N submissions.

    python benchmarks/grade_speed.py                      # 24 submissions of the first case
    python benchmarks/grade_speed.py -n 12 --assignment case02_logistics --jobs 2
    python benchmarks/grade_speed.py -n 6 --all           # 6 submissions of every case

Both graders run in their own scratch copy of the course, on identical submissions (reference,
half-done and blank, in turn), with ``COURSE_VARIANTS=off`` (stock nbgrader does not know the
student id). Prints the wall time of each, the speed-up, and whether every score (cell by cell)
is identical.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course import ipynb as notebooks  # noqa: E402
from course.authoring import submissions  # noqa: E402
from course.gradebook import read_score  # noqa: E402
from course.layout import Course  # noqa: E402
from course.layout import notebooks as list_notebooks  # noqa: E402

COURSE = Course.load(ROOT)

MAKERS = {
    "ref": submissions.reference,
    "half": submissions.partial,
    "blank": lambda source, release: release,
}


def prepare(base: Path, assignment: str, count: int) -> tuple[Path, list[str]]:
    copy = COURSE.copy_to(base)
    copy.run_nbgrader("generate_assignment", assignment, "--force", "--log-level=ERROR")
    scratch = copy.root
    students = []
    kinds = list(MAKERS)
    for k in range(count):
        kind = kinds[k % len(kinds)]
        student = f"{kind}{k:03d}"
        for src in list_notebooks(scratch / "source" / assignment):
            release = notebooks.read(scratch / "release" / assignment / src.name)
            nb = MAKERS[kind](notebooks.read(src), release)
            notebooks.write(nb, scratch / "submitted" / student / assignment / src.name)
        students.append(student)
    return scratch, students


def timed(argv: list[str], cwd: Path) -> float:
    env = {**os.environ, "COURSE_VARIANTS": "off"}
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv[:4])} failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--submissions", type=int, default=24, help="submissions per assignment")
    parser.add_argument("--assignment", action="append", help="assignment id (repeatable; default: the first case)")
    parser.add_argument("--all", action="store_true", help="every case assignment")
    parser.add_argument("--jobs", type=int, default=None, help="workers for course grade (default: all cores)")
    parser.add_argument("--no-sandbox", action="store_true", help="course grade without bubblewrap")
    args = parser.parse_args()
    cases = [a for a in COURSE.assignments() if a != "zz_demo"] or ["zz_demo"]
    names = args.assignment or (cases if args.all else cases[:1])
    stock_total = ours_total = 0.0
    identical = True
    rows = []
    with tempfile.TemporaryDirectory(prefix="grade-speed-") as tmp:
        for name in names:
            stock_root, students = prepare(Path(tmp) / f"stock-{name}", name, args.submissions)
            ours_root, _ = prepare(Path(tmp) / f"ours-{name}", name, args.submissions)
            stock = timed([sys.executable, "-m", "nbgrader", "autograde", name, "--force", "--log-level=ERROR"], stock_root)
            grade = [sys.executable, "-c", "from course.cli import app; app()", "grade", name]
            if args.jobs:
                grade += ["--jobs", str(args.jobs)]
            if args.no_sandbox:
                grade.append("--no-sandbox")
            ours = timed(grade, ours_root)
            same = 0
            for student in students:
                a, b = read_score(stock_root, name, student), read_score(ours_root, name, student)
                if (a.auto, a.cells) == (b.auto, b.cells):
                    same += 1
                else:
                    identical = False
                    print(f"  DIFFERENT {name}/{student}: stock {a.auto} {a.cells} vs course grade {b.auto} {b.cells}")
            rows.append((name, len(students), stock, ours, same))
            stock_total += stock
            ours_total += ours
            print(f"{name}: {len(students)} submissions: stock {stock:.1f} s, course grade {ours:.1f} s, "
                  f"x{stock / ours:.2f}, identical scores {same}/{len(students)}", flush=True)
    print()
    print(f"cores: {os.cpu_count()}; submissions: {sum(r[1] for r in rows)} in {len(rows)} assignment(s)")
    print(f"stock nbgrader autograde (sequential): {stock_total:.1f} s")
    print(f"course grade (parallel, sandboxed):    {ours_total:.1f} s")
    print(f"speed-up: x{stock_total / ours_total:.2f}")
    print(f"every score identical: {'yes' if identical else 'NO'}")
    sys.exit(0 if identical else 1)


if __name__ == "__main__":
    main()
