"""Where one notebook's grading time goes, next to one plain run of the same notebook.

    python benchmarks/grade_profile.py                        # case 01, 6 submissions, one worker
    python benchmarks/grade_profile.py --case case04_community_crm --count 4

One worker, so nothing competes: per notebook it reports the wall time of phase 1 (its own
fresh sandbox, a runner forked into it from the batch's fork server, intake, the student's
cells), of phase 2 (the evaluator's forked child: the trusted cells on the exported values) and
the grader's own CPU seconds (restore, plan, writing the autograded notebook, the gradebook),
then what the fork server pays once per batch instead of per notebook, measured on its own: a
bare interpreter in the sandbox, and the same sandbox importing what every notebook preloads
(with ``COURSE_FORKSERVER=off`` each notebook pays that again). One plain run of the notebook
(what ``grade_speed.py``'s floor runs once per submission) is what all of this compares with.
Same setup as ``grade_speed.py`` (a third of the submissions blank, ``COURSE_VARIANTS=off``).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ["COURSE_VARIANTS"] = "off"

import grade_speed  # noqa: E402

from course.grading import batch  # noqa: E402
from course.grading.process import PRELOAD  # noqa: E402
from course.grading.sandbox import Sandbox, import_paths  # noqa: E402


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def sandbox_seconds(code: str, tries: int = 3) -> float:
    """Fastest wall time of ``code`` run by the sandboxed Python, as a student's runner starts."""
    sandbox = Sandbox(ROOT)
    boot = f"import site, sys\nfor p in {import_paths()!r}:\n    p in sys.path or site.addsitedir(p)\n"
    walls = []
    with tempfile.TemporaryDirectory() as work:
        argv, cwd = sandbox.student_command(Path(work), "profile")
        argv = [*argv[: argv.index("-c") + 1], boot + code]
        for _ in range(tries):
            start = time.perf_counter()
            subprocess.run(argv, cwd=cwd, env=sandbox.env({}), check=True)
            walls.append(time.perf_counter() - start)
    return min(walls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", default="case01_strategy")
    parser.add_argument("--count", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="grade-profile-") as tmp:
        course, students = grade_speed.prepare(Path(tmp) / "course", args.case, args.count)
        plain = {kind: grade_speed.plain_seconds(course, args.case, kind) for kind in ("ref", "blank")}
        cpu = _self_cpu()
        result = batch.grade(course, args.case, batch.Options(jobs=1))
        grader_cpu = (_self_cpu() - cpu) / args.count
    phase1 = [nb.timing["phase1"] for o in result.outcomes for nb in o.notebooks if "phase1" in nb.timing]
    phase2 = [nb.timing["phase2"] for o in result.outcomes for nb in o.notebooks if "phase2" in nb.timing]
    bare = sandbox_seconds("pass")
    preload = sandbox_seconds(f"from course.sandboxed.runner import preload\npreload({PRELOAD!r})\n"
                              "from course.sandboxed import shell\nshell.make_shell()\n")
    plain_mean = statistics.mean(plain[grade_speed.kind_of(s)] for s in students)
    rows = [
        ("phase 1: sandbox, forked runner, intake, student cells (wall, median)", statistics.median(phase1)),
        ("phase 2: trusted cells in the evaluator's child (wall, median)", statistics.median(phase2)),
        ("grader process: restore, plan, write, gradebook (CPU, mean)", grader_cpu),
        ("once per batch: bare interpreter in the sandbox (wall)", bare),
        ("once per batch: sandbox + preloaded imports + shell (wall)", preload),
        ("plain run of the notebook with its tests (the floor, mean)", plain_mean),
    ]
    print(f"{args.case}: {args.count} submissions, one worker, batch {result.seconds:.1f} s, "
          f"start {result.startup:.1f} s")
    for label, seconds in rows:
        print(f"  {label:70s} {seconds:6.2f} s")
    total = statistics.median(phase1) + statistics.median(phase2) + grader_cpu
    print(f"  per notebook {total:.2f} s against a floor of {plain_mean:.2f} s: "
          f"{plain_mean / total:.0%} of the limit before any parallel loss")


if __name__ == "__main__":
    main()
