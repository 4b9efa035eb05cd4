"""What the hub tests do besides clicking: the grader's terminal commands, the gradebook read
back through PostgreSQL itself (not nbgrader's API), and the expected values derived from the
course's own notebooks."""

from __future__ import annotations

import re
from pathlib import Path

from course import cells, ipynb
from course.authoring import submissions
from tests.hub import services
from tests.support import ROOT

CASE_ON_TIME = "case01_strategy"
CASE_LATE = "case02_logistics"
FUTURE_DUE = "2099-06-30T17:00"
PAST_DUE = "2020-01-15T17:00"  # the late case: its deadline has passed when it is submitted


def grader(dep: services.Deployment, *argv: str, check: bool = True, timeout: float = 1200):
    """A command in the grader account's terminal, in the course folder (what an instructor types
    in the formgrader service's JupyterLab terminal)."""
    return services.run(*argv, user=services.GRADER, cwd=dep.course, check=check, timeout=timeout)


def course_cmd(dep: services.Deployment, *args: str, check: bool = True, timeout: float = 1200):
    return grader(dep, str(ROOT / ".venv" / "bin" / "course"), *args, check=check, timeout=timeout)


def sql(dep: services.Deployment, query: str, check: bool = True) -> list[list[str]]:
    """Rows of ``query`` on the course's gradebook database (as the cluster's superuser)."""
    proc = dep.pg.psql(query, database=services.COURSE_ID, check=check)
    return [line.split("|") for line in proc.stdout.splitlines() if line.strip()]


def scores(dep: services.Deployment, assignment: str) -> dict[str, dict[str, float]]:
    """student -> {auto, manual, penalty, submissions} from the gradebook's own tables."""
    rows = sql(dep, f"""
        SELECT s.student_id,
               coalesce(sum(g.auto_score), 0),
               coalesce(sum(g.manual_score), 0),
               coalesce(max(sn.late_submission_penalty), 0),
               count(DISTINCT s.id)
        FROM submitted_assignment s
        JOIN assignment a ON a.id = s.assignment_id
        JOIN submitted_notebook sn ON sn.assignment_id = s.id
        JOIN grade g ON g.notebook_id = sn.id
        WHERE a.name = '{assignment}'
        GROUP BY s.student_id""")
    return {r[0]: {"auto": float(r[1]), "manual": float(r[2]), "penalty": float(r[3]), "submissions": int(r[4])}
            for r in rows}


def source_notebook(case: str):
    return ipynb.read(ROOT / "source" / case / f"{case}.ipynb")


def release_notebook(case: str):
    return ipynb.read(ROOT / "release" / case / f"{case}.ipynb")


def solved(case: str):
    return submissions.reference(source_notebook(case), release_notebook(case))


def max_points(case: str) -> tuple[float, float]:
    """(autograded, manually graded) points of a case, from its source notebook's metadata."""
    auto = manual = 0.0
    for cell in source_notebook(case).cells:
        meta = cells.nbgrader(cell)
        if meta.get("grade") and meta.get("solution"):  # a written (manually graded) answer
            manual += float(meta.get("points", 0))
        elif meta.get("grade"):  # an autograder test cell
            auto += float(meta.get("points", 0))
    return auto, manual


def hidden_test_lines(case: str) -> list[str]:
    """Substantial lines of the case's hidden tests (must never reach a student)."""
    lines: list[str] = []
    for cell in source_notebook(case).cells:
        inside = False
        for line in cell.source.splitlines():
            if "### BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "### END HIDDEN TESTS" in line:
                inside = False
            elif inside and len(line.strip()) >= 25:
                lines.append(line.strip())
    return lines


def written_answers(nb) -> list[int]:
    return [i for i, c in enumerate(nb.cells)
            if c.cell_type == "markdown" and cells.is_answer(c) and cells.nbgrader(c).get("grade")]


def number_cells(text: str) -> list[str]:
    return re.findall(r"-?\d+(?:\.\d+)?", text)


def write_as(user: str, nb, path: Path) -> None:
    """Save a notebook into a user's home as that user would (owned by them)."""
    import pwd
    import shutil

    ipynb.write(nb, path)
    entry = pwd.getpwnam(user)
    shutil.chown(path, entry.pw_uid, entry.pw_gid)


NBGRADER = str(ROOT / ".venv" / "bin" / "nbgrader")


def student_cmd(dep: services.Deployment, user: str, *argv: str, check: bool = False):
    """A command in ``user``'s own terminal on the hub: their server's environment, with a hub
    token of their own (what JupyterLab's assignment list uses for them)."""
    token = dep.hub.api("POST", f"/users/{user}/tokens", {"note": "hub test", "expires_in": 3600})["token"]
    env = {
        "JUPYTERHUB_USER": user,
        "JUPYTERHUB_API_TOKEN": token,
        "JUPYTERHUB_API_URL": f"http://127.0.0.1:{dep.settings.hub_port}/hub/api",
        "JUPYTER_CONFIG_PATH": str(dep.settings.user_config_dir),
    }
    return services.run(*argv, user=user, env=env, cwd=dep.home(user), check=check)


def nbgrader_as(dep: services.Deployment, user: str, *args: str, check: bool = False):
    return student_cmd(dep, user, NBGRADER, *args, check=check)


def release_cli(dep: services.Deployment, case: str) -> None:
    """``nbgrader generate_assignment`` and ``release_assignment`` in the grader's terminal."""
    grader(dep, NBGRADER, "generate_assignment", case, "--force")
    grader(dep, NBGRADER, "release_assignment", case, "--force")


def submit_cli(dep: services.Deployment, student: str, case: str, nb=None) -> None:
    """Fetch ``case``, save ``nb`` (default: the solution) as the student's work, submit."""
    course = f"--course={services.COURSE_ID}"
    if not (dep.home(student) / case).is_dir():
        nbgrader_as(dep, student, "fetch_assignment", case, course, check=True)
    if nb is not None:
        write_as(student, nb, dep.home(student) / case / f"{case}.ipynb")
    nbgrader_as(dep, student, "submit", case, course, check=True)
