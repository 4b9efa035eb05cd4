"""Submit-to-feedback latency: the grading service against the stock nbgrader path, in one run.

    python benchmarks/submit_latency.py                        # 40 submissions of case01_strategy in 120 s
    python benchmarks/submit_latency.py -n 20 --window 60 --assignment case02_logistics

A burst of N submissions (reference and half-done notebooks in turn, one per student) arrives
within WINDOW seconds, at times drawn from a seeded Poisson process (given N arrivals in the
window, a Poisson process places them as sorted uniform draws). Latency is measured from a
submission's arrival in the exchange's inbound to its feedback page being available in the
exchange's feedback folder (what the student's *Fetch Feedback* takes):

- **service**: ``course serve --jobs 2`` (local pool) running while the burst arrives; each page
  counts when it appears (the policy is ``full`` feedback, the heaviest page);
- **stock**: what an instructor can do today, as soon as the burst is in: ``nbgrader collect``,
  ``nbgrader autograde``, ``nbgrader generate_feedback``, ``nbgrader release_feedback``, back to
  back. Nothing happens in this path before the burst is complete, so the submissions are put
  in at once and each latency is (its page's release time - the start) + (the last arrival -
  its arrival), the same as waiting out the window.

Then **throughput** of ``course grade --scheduler`` on a Dask ``LocalCluster`` of 1 and of 2
worker processes (one thread each), grading the same N submissions (after a warm-up task per
worker, as a cluster that is already up would be).

Both paths grade with ``COURSE_VARIANTS=off`` (stock nbgrader does not know the student id) on
their own scratch copy of the course. The results are printed and written as JSON (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["COURSE_VARIANTS"] = "off"

from course import ipynb  # noqa: E402
from course.authoring import submissions  # noqa: E402
from course.layout import Course  # noqa: E402
from course.service import inbox  # noqa: E402
from tests import service_kit as sk  # noqa: E402

COURSE = Course.load(ROOT)
NBGRADER = [sys.executable, "-m", "nbgrader"]


def arrivals(n: int, window: float, seed: int) -> list[float]:
    rng = random.Random(seed)
    return sorted(rng.uniform(0, window) for _ in range(n))


def scratch(base: Path, assignment: str) -> Course:
    course = COURSE.copy_to(base / "course")
    course.run_nbgrader("generate_assignment", assignment, "--force", "--log-level=ERROR")
    return sk.with_exchange(course, base / "exchange", 'before_due = "full"\nattempts_per_hour = 0\nattempts_total = 0\n')


def work(course: Course, assignment: str, n: int) -> list[tuple[str, object]]:
    source = ipynb.read(course.source(assignment) / f"{assignment}.ipynb")
    release = ipynb.read(course.release(assignment) / f"{assignment}.ipynb")
    made = [submissions.reference(source, release), submissions.partial(source, release)]
    return [(f"s{k:03d}", made[k % 2]) for k in range(n)]


def page_of(course: Course, name: str, notebook: str) -> Path:
    from nbgrader.utils import notebook_hash

    secret = (inbox.inbound(course) / name / "submission_secret.txt").read_text()
    return inbox.feedback_dir(course) / f"{notebook_hash(secret=secret, notebook_id=notebook)}.html"


def summary(latencies: list[float]) -> dict:
    p95 = statistics.quantiles(latencies, n=20, method="inclusive")[-1]
    return {"median": round(statistics.median(latencies), 1), "p95": round(p95, 1), "max": round(max(latencies), 1)}


def run_service(base: Path, assignment: str, times: list[float], jobs: int) -> dict:
    course = scratch(base / "service", assignment)
    people = work(course, assignment, len(times))
    service = sk.ServeProcess(course, "--jobs", str(jobs)).start()
    try:
        time.sleep(3)  # the service is up and looking at the exchange (as it would be all term)
        start = time.monotonic()
        sent: dict[str, float] = {}
        pending: dict[str, Path] = {}
        done: dict[str, float] = {}
        queue = list(zip(times, people, strict=True))
        deadline = start + times[-1] + 1800
        while (queue or pending) and time.monotonic() < deadline:
            now = time.monotonic() - start
            while queue and queue[0][0] <= now:
                _, (student, nb) = queue.pop(0)
                name = sk.submit(course, student, nb, assignment)
                sent[name] = time.monotonic()
                pending[name] = page_of(course, name, assignment)
            for name, page in list(pending.items()):
                if page.is_file():
                    done[name] = time.monotonic()
                    del pending[name]
            time.sleep(0.05)
        if pending:
            raise SystemExit(f"the service did not deliver {len(pending)} page(s):\n{service.log_tail()}")
        latencies = [done[n] - sent[n] for n in sent]
        span = max(done.values()) - start
    finally:
        service.stop()
    rows = sk.attempts(course)
    scores = {r.student: r.score for r in rows}
    return {**summary(latencies), "all_feedback_after_s": round(span, 1), "scores": scores}


def run_stock(base: Path, assignment: str, times: list[float]) -> dict:
    course = scratch(base / "stock", assignment)
    people = work(course, assignment, len(times))
    names = [sk.submit(course, student, nb, assignment,
                       when=datetime.now(timezone.utc) - timedelta(seconds=times[-1] - t))
             for t, (student, nb) in zip(times, people, strict=True)]
    env = {**os.environ, "COURSE_VARIANTS": "off"}
    steps = {}
    start = time.monotonic()
    wall0 = time.time()
    for step in (["collect", assignment], ["autograde", assignment], ["generate_feedback", assignment],
                 ["release_feedback", assignment]):
        began = time.monotonic()
        proc = subprocess.run([*NBGRADER, *step, "--log-level=WARN"], cwd=course.root, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"nbgrader {' '.join(step)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        steps[step[0]] = round(time.monotonic() - began, 1)
    latencies = []
    for t, name in zip(times, names, strict=True):
        page = page_of(course, name, assignment)
        if not page.is_file():
            raise SystemExit(f"stock release_feedback wrote no page for {name}")
        latencies.append((page.stat().st_mtime - wall0) + (times[-1] - t))
    from course.gradebook import read_score

    scores = {student: read_score(course, assignment, student).auto for student, _ in people}
    return {**summary(latencies), "steps_s": steps, "all_feedback_after_s": round(time.monotonic() - start, 1),
            "scores": scores}


def run_dask(base: Path, assignment: str, n: int, workers: int) -> dict:
    from distributed import LocalCluster

    from course.grading import batch

    course = scratch(base / f"dask{workers}", assignment)
    for student, nb in work(course, assignment, n):
        ipynb.write(nb, course.submitted(student, assignment) / f"{assignment}.ipynb")
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        warm = batch.grade(course, assignment, batch.Options(scheduler=cluster.scheduler_address,
                                                             students=course.students(assignment)[:workers]))
        start = time.monotonic()
        result = batch.grade(course, assignment, batch.Options(scheduler=cluster.scheduler_address))
        seconds = time.monotonic() - start
    broken = [p for o in [*warm.outcomes, *result.outcomes] if o.failed for p in o.all_problems]
    if broken:
        raise SystemExit(f"grading on the LocalCluster failed: {broken[:3]}")
    return {"workers": workers, "submissions": len(result.outcomes), "seconds": round(seconds, 1),
            "per_minute": round(60 * len(result.outcomes) / seconds, 1),
            "scores": {o.student: o.auto_score for o in result.outcomes}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=40)
    parser.add_argument("--window", type=float, default=120.0)
    parser.add_argument("--assignment", default="case01_strategy")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--skip-dask", action="store_true", help="only the latency comparison")
    parser.add_argument("--only-dask", action="store_true", help="only the LocalCluster throughput")
    args = parser.parse_args()
    times = arrivals(args.n, args.window, args.seed)
    result: dict = {"assignment": args.assignment, "n": args.n, "window_s": args.window, "seed": args.seed,
                    "cores": os.cpu_count(), "load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        base = Path(tmp)
        if not args.only_dask:
            result["service"] = run_service(base, args.assignment, times, args.jobs)
            print("service:", {k: v for k, v in result["service"].items() if k != "scores"}, flush=True)
            result["stock"] = run_stock(base, args.assignment, times)
            print("stock:", {k: v for k, v in result["stock"].items() if k not in ("scores", "course")}, flush=True)
            result["scores_identical"] = result["service"]["scores"] == result["stock"]["scores"]
        if not args.skip_dask:
            for workers in (1, 2):
                result[f"dask_{workers}"] = run_dask(base, args.assignment, args.n, workers)
                print(f"dask {workers} worker(s):", {k: v for k, v in result[f"dask_{workers}"].items() if k != "scores"},
                      flush=True)
            result["dask_scores_identical"] = result["dask_1"]["scores"] == result["dask_2"]["scores"] == \
                result.get("stock", result["dask_1"])["scores"]
    result["load_after"] = os.getloadavg()
    if not args.only_dask:
        s, k = result["service"], result["stock"]
        print(f"\nlatency submit -> feedback, {args.n} submissions of {args.assignment} in {args.window:g} s:")
        print(f"  service (local pool, {args.jobs} workers): median {s['median']} s, p95 {s['p95']} s")
        print(f"  stock nbgrader (collect, autograde, generate_feedback, release_feedback): median {k['median']} s, "
              f"p95 {k['p95']} s")
        print(f"  ratio (stock / service): median x{k['median'] / s['median']:.1f}, p95 x{k['p95'] / s['p95']:.1f}")
        print(f"  every score identical, service and stock: {result['scores_identical']}")
    if not args.skip_dask:
        d1, d2 = result["dask_1"], result["dask_2"]
        print(f"  Dask LocalCluster, course grade --scheduler: 1 worker {d1['per_minute']}/min, 2 workers "
              f"{d2['per_minute']}/min (x{d2['per_minute'] / d1['per_minute']:.2f}); scores identical: "
              f"{result['dask_scores_identical']}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
