"""One class, graded in one parallel batch: honest, broken and hostile submissions together.

Every hostile submission is a blank notebook plus one attack, so it must score exactly what a
blank scores (0); the honest ones must score what they earn; the batch must finish, the
gradebook and the course files must be intact. Feedback and export are checked on the result.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import nbformat
import pytest

from course import notebooks as nbio
from course.grading import batch, export, feedback
from course.grading.cgroups import Cgroups
from course.grading.sandbox import Limits, Sandbox, SandboxUnavailable, bwrap_problem
from tests import grading_kit as kit
from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(bwrap_problem(shutil.which("bwrap")) is not None,
                                reason="bubblewrap is not usable here (.ci/run installs it)")

A = kit.ASSIGNMENT
CGROUPS = Cgroups.available()  # a fork bomb is only tried where a cgroup caps it


def hostile_cells(root: Path) -> dict[str, str]:
    """Attack code, each put in its own cell of a blank submission (after the setup cell)."""
    return {
        "h_kill_parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nos.kill(1, signal.SIGKILL)",
        "h_kill_all": "import os, signal\nos.killpg(0, signal.SIGKILL)\nos.kill(-1, signal.SIGKILL)",
        "h_os_exit": "import os\nos._exit(0)",
        "h_sys_exit": "import sys\ntry:\n    sys.exit(1)\nfinally:\n    exit()\nraise SystemExit",
        "h_kernel_exit": "get_ipython().ask_exit()\nimport os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
        "h_infinite_loop": "while True:\n    pass",
        "h_ignores_timeout": "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass",
        "h_huge_output": "while True:\n    print('spam ' * 2000)",
        "h_fd_flood": "import os\nwhile True:\n    os.write(1, b'x' * 65536)\n    os.write(2, b'y' * 65536)",
        "h_memory": "hog = []\nwhile True:\n    hog.append(bytearray(100 * 2**20))",
        "h_delete_files": (
            "import os, shutil\n"
            "for p in [os.path.expanduser('~'), '..', '../..', '.', %r]:\n"
            "    shutil.rmtree(p, ignore_errors=True)\n"
            "for p in ['../gradebook.db', '../../gradebook.db', '../../../gradebook.db', %r, %r]:\n"
            "    try:\n        open(p, 'a').write('pwned')\n        print('WROTE', p)\n"
            "    except OSError as exc:\n        print('blocked', p, type(exc).__name__)"
        ) % (str(root), str(root / "gradebook.db"), str(root / "source" / A / "evil.py")),
        "h_read_secrets": (
            "for p in [%r, %r, '../../source/%s/%s.ipynb', %r]:\n"
            "    try:\n        print('READ', p, open(p, errors='replace').read())\n"
            "    except OSError as exc:\n        print('blocked', p, type(exc).__name__)"
        ) % (str(root / "source" / A / f"{A}.ipynb"), str(root / "gradebook.db"), A, A,
             str(root / "submitted" / "ref" / A / f"{A}.ipynb")),
        "h_network": ("import socket\nfor host in [('1.1.1.1', 80), ('example.com', 443)]:\n    try:\n"
                      "        socket.create_connection(host, timeout=3)\n        print('CONNECTED', host)\n"
                      "    except OSError as exc:\n        print('no network', type(exc).__name__)"),
        "h_patch_ipython": ("ip = get_ipython()\nip.input_transformers_cleanup.append(lambda lines: [])\n"
                            "ip.showtraceback = lambda *a, **k: None\nip._showtraceback = lambda *a, **k: None\n"
                            "ip.set_custom_exc((BaseException,), lambda *a, **k: None)\n"
                            "ip.events.register('post_run_cell', lambda *a: None)"),
        "h_patch_run_cell": ("ip = get_ipython()\nimport IPython.core.interactiveshell as s\n"
                             "ip.run_cell = lambda *a, **k: s.ExecutionResult(None)\n"
                             "type(ip).run_cell = lambda *a, **k: s.ExecutionResult(None)"),
        "h_patch_checks": ("from course import checks\nimport sys, os, builtins\n"
                           "for name in dir(checks):\n    if not name.startswith('_') and callable(getattr(checks, name)):\n"
                           "        setattr(checks, name, lambda *a, **k: None)\n"
                           "builtins.AssertionError = type('Nope', (Exception,), {})\n"
                           "sys.stderr = open(os.devnull, 'w')\nx = 0.0\ns = 0"),
        "h_fake_equality": ("import numpy as np, pandas as pd\nclass Any(float):\n    def __eq__(self, o):\n        return True\n"
                            "    __hash__ = float.__hash__\nx = Any(0.0)\nclass S(pd.Series):\n    def __eq__(self, o):\n        return True\n"
                            "s = S([0.0, 0.0], index=['a', 'b'])"),
        **({"h_fork_bomb": "import os, time\nfor _ in range(3000):\n    try:\n        if os.fork() == 0:\n"
                           "            time.sleep(60)\n            os._exit(0)\n    except OSError:\n        break"}
           if CGROUPS else {}),
        "h_forge_messages": ("import os, json, struct\nhead = json.dumps({'type': 'snap', 'i': 4}).encode()\n"
                             "frame = struct.pack('>I', len(head)) + head + struct.pack('>I', 5) + b'{bad}'\n"
                             "for fd in range(3, 40):\n    try:\n        os.write(fd, frame + b'garbage' * 100)\n"
                             "    except OSError:\n        pass"),
    }


def shadow_course_package(course: Path, student: str) -> None:
    """A fake `course` package in the submission, making every check pass if it were imported."""
    pkg = kit.folder(course, student) / "course"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "checks.py").write_text("def __getattr__(name):\n    return lambda *a, **k: None\n")


def tree_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            digest.update(path.relative_to(folder).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def graded(tmp_path_factory, monkeypatch_module):
    monkeypatch_module.setenv("COURSE_VARIANTS", "off")
    course = kit.make_course(tmp_path_factory.mktemp("class"), ROOT)
    blank = kit.blank(course)
    kit.submit(course, "ref", kit.reference(course))
    kit.submit(course, "half", kit.partial(course))
    kit.submit(course, "blank", blank)
    kit.submit(course, "ref_extra_files", kit.reference(course))
    (kit.folder(course, "ref_extra_files") / "notes.txt").write_text("mine")
    (kit.folder(course, "ref_extra_files") / "data" / "more").mkdir(parents=True)
    (kit.folder(course, "ref_extra_files") / "data" / "more" / "x.csv").write_text("a,b\n1,2\n")
    for name, code in hostile_cells(course).items():
        kit.submit(course, name, kit.with_cell(blank, code))
    kit.submit(course, "h_shadow_course", kit.with_cell(blank, "from course import checks\nx = 0.0"))
    shadow_course_package(course, "h_shadow_course")
    edited = kit.blank(course)
    for cell in edited.cells:
        if nbio.is_test_cell(cell):
            cell.source = "pass"
            cell.metadata.nbgrader.update(solution=True, points=100)
    kit.submit(course, "h_edit_tests", edited)
    deleted = kit.blank(course)
    deleted.cells = [c for c in deleted.cells if not nbio.is_test_cell(c) and nbio.grade_id(c) != "setup"]
    kit.submit(course, "h_delete_tests", deleted)
    kit.write_json(kit.folder(course, "b_malformed") / f"{A}.ipynb", '{"cells": [ {"cell_type": "code", ')
    kit.write_json(kit.folder(course, "b_not_a_notebook") / f"{A}.ipynb", {"cells": 5, "metadata": []})
    kit.folder(course, "b_missing").mkdir(parents=True)
    (kit.folder(course, "b_missing") / "readme.txt").write_text("forgot it")
    kit.submit(course, "b_renamed", kit.reference(course), name=f"{A}-Copy1")
    kit.submit(course, "b_bad_timestamp", kit.reference(course))
    (kit.folder(course, "b_bad_timestamp") / "timestamp.txt").write_text("yesterday-ish")
    kit.submit(course, "ref_timestamp", kit.reference(course))
    (kit.folder(course, "ref_timestamp") / "timestamp.txt").write_text("2024-01-02 03:04:05.000000 UTC")
    kit.folder(course, "b_link_to_solutions").mkdir(parents=True)
    (kit.folder(course, "b_link_to_solutions") / f"{A}.ipynb").symlink_to(course / "source" / A / f"{A}.ipynb")
    (course / "submitted" / "b_folder_link").mkdir()
    kit.folder(course, "b_folder_link").symlink_to(course / "source" / A, target_is_directory=True)
    kit.submit(course, "b_symlink", kit.reference(course))
    (kit.folder(course, "b_symlink") / "grades.db").symlink_to(course / "gradebook.db")
    before = {"source": tree_hash(course / "source"), "submitted": tree_hash(course / "submitted"),
              "release": tree_hash(course / "release"), "root": sorted(p.name for p in course.iterdir())}
    limits = Limits(cell_timeout=10, notebook_timeout=150, memory=1024 * 2**20)
    result = batch.grade(course, A, batch.Options(jobs=2, limits=limits))
    return course, result, before


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def outcome(result, student):
    return next(o for o in result.outcomes if o.student == student)


def autograded(course, student):
    return nbio.read(course / "autograde" / student / A / f"{A}.ipynb")


def attack_output(nb) -> str:
    """The outputs of the attack cell (inserted after the setup cell)."""
    return json.dumps(nb.cells[2].get("outputs", []))


def test_every_submission_is_graded(graded):
    course, result, _ = graded
    students = sorted(p.name for p in (course / "submitted").iterdir())
    assert sorted(o.student for o in result.outcomes) == students
    assert result.max_auto == 5


def test_honest_scores(graded):
    course, result, _ = graded
    scores = kit.scores(course, ["ref", "half", "blank", "ref_extra_files"])
    assert scores["ref"].cells == {"x_value": 2.0, "s_value": 3.0}
    assert scores["half"].cells == {"x_value": 2.0, "s_value": 0.0, "memo": 0.0}
    assert scores["blank"].auto == 0 and scores["ref_extra_files"].auto == 5
    assert any("extra files" in p and "notes.txt" in p for p in outcome(result, "ref_extra_files").all_problems)
    assert outcome(result, "ref").all_problems == []


@pytest.mark.parametrize("student", [*hostile_cells(Path("/x")), "h_shadow_course", "h_edit_tests", "h_delete_tests"])
def test_hostile_submission_scores_no_more_than_blank(graded, student):
    course, result, _ = graded
    blank = kit.scores(course, ["blank"])["blank"].auto
    score = kit.scores(course, [student])[student]
    assert score.auto <= blank == 0, (score.cells, outcome(result, student).all_problems)
    assert score.max_auto == 5  # points could not be changed either


@pytest.mark.parametrize("student,needle", [
    ("b_malformed", "not a valid notebook"),
    ("b_not_a_notebook", "not a valid notebook"),
    ("b_missing", "is missing"),
    ("b_renamed", f"found {A}-Copy1.ipynb (renamed?"),
    ("b_symlink", "symbolic link grades.db skipped"),
    ("b_bad_timestamp", "timestamp.txt is unreadable"),
    ("b_link_to_solutions", "is a symbolic link"),
    ("b_folder_link", "folder is a symbolic link"),
])
def test_broken_submission_gets_a_clear_problem(graded, student, needle):
    course, result, _ = graded
    problems = outcome(result, student).all_problems
    assert any(needle in p for p in problems), problems
    expected = 5 if student in ("b_symlink", "b_bad_timestamp") else 0  # the rest is graded as usual
    assert kit.scores(course, [student])[student].auto == expected


def test_submission_timestamp_is_recorded_like_nbgrader(graded):
    course, _, _ = graded
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        stamp = gb.find_submission(A, "ref_timestamp").timestamp
    assert (stamp.year, stamp.month, stamp.day, stamp.hour) == (2024, 1, 2, 3)
    assert (course / "autograde" / "ref_timestamp" / A / "timestamp.txt").is_file()


def test_gradebook_and_course_files_are_intact(graded):
    course, _, before = graded
    db = sqlite3.connect(course / "gradebook.db")
    assert db.execute("pragma integrity_check").fetchone() == ("ok",)
    assert b"pwned" not in (course / "gradebook.db").read_bytes()
    assert tree_hash(course / "source") == before["source"]
    assert tree_hash(course / "release") == before["release"]
    assert tree_hash(course / "submitted") == before["submitted"]
    assert {p.name for p in course.iterdir()} <= set(before["root"]) | {"autograde"}


def test_sandbox_hides_the_course_and_the_network(graded):
    course, _, _ = graded
    read = attack_output(autograded(course, "h_read_secrets"))
    assert "READ" not in read and kit.HIDDEN_MARK not in read and read.count("blocked") == 4
    deleted = attack_output(autograded(course, "h_delete_files"))
    # ../gradebook.db and ../../gradebook.db land in the sandbox's private /tmp, then vanish
    assert f"WROTE {course}" not in deleted and deleted.count("blocked") >= 3
    net = attack_output(autograded(course, "h_network"))
    assert "CONNECTED" not in net and net.count("no network") == 2


def test_runaway_cells_are_stopped_and_reported(graded):
    _, result, _ = graded
    assert any("was stopped after 10 s" in p for p in outcome(result, "h_infinite_loop").all_problems)
    assert any("ignored the 10 s limit" in p for p in outcome(result, "h_ignores_timeout").all_problems)
    assert any("output cut" in p for p in outcome(result, "h_huge_output").all_problems)
    assert any("straight to the terminal" in p for p in outcome(result, "h_fd_flood").all_problems)
    assert any("ended early" in p for p in outcome(result, "h_os_exit").all_problems)
    assert any("could not be checked" in p for p in outcome(result, "h_fake_equality").all_problems)


def test_later_cells_still_run_after_an_interrupted_cell(graded):
    course, _, _ = graded
    nb = autograded(course, "h_infinite_loop")
    chart = next(c for c in nb.cells if "fig.show()" in c.source)
    assert any("application/vnd.plotly.v1+json" in o.get("data", {}) for o in chart.outputs)


def test_autograded_notebooks_keep_nbgrader_structure(graded):
    course, _, _ = graded
    nb = autograded(course, "h_delete_tests")
    ids = [nbio.grade_id(c) for c in nb.cells if nbio.grade_id(c)]
    assert {"setup", "x_value", "s_value", "memo"} <= set(ids)
    assert kit.HIDDEN_MARK in kit.cell(nb, "x_value").source  # instructor's copy: full tests


# --- feedback ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pages(graded):
    course, _, _ = graded
    return feedback.generate(course, A, jobs=2)


def test_feedback_for_every_graded_notebook_without_hidden_tests(graded, pages):
    course, _, _ = graded
    assert len(pages) == len(list((course / "autograde").glob(f"*/{A}/{A}.ipynb")))
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert kit.HIDDEN_MARK not in html and "BEGIN HIDDEN TESTS" not in html, page


def test_feedback_shows_scores_and_failed_check_messages(graded, pages):
    course, _, _ = graded
    html = (course / "feedback" / "half" / A / f"{A}.html").read_text(encoding="utf-8")
    assert "Score: 2.0 / 6.0" in html
    assert "name &#x27;s&#x27; is not defined" in html or "name 's' is not defined" in html
    assert "checks.check_series(s" not in html  # a test's traceback would quote its code


def test_feedback_charts_are_inline_plotly(graded, pages):
    course, _, _ = graded
    html = (course / "feedback" / "ref" / A / f"{A}.html").read_text(encoding="utf-8")
    assert html.count("plotly-graph-div") >= 1
    assert html.count("plotly.js v") == 1  # the library, inlined exactly once
    assert "application/vnd.plotly.v1+json" not in html


def test_feedback_chart_renders_offline_in_a_browser(graded, pages):
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    course, _, _ = graded
    page_path = course / "feedback" / "ref" / A / f"{A}.html"
    with sync_api.sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=chromium) if chromium else pw.chromium.launch()
        except Exception as exc:  # no browser installed here
            pytest.skip(f"no Chromium: {exc}")
        try:
            page = browser.new_context(offline=True).new_page()
            page.goto(page_path.as_uri())
            page.wait_for_selector(".plotly-graph-div .main-svg", timeout=30_000)
        finally:
            browser.close()


# --- export --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def exported(graded, tmp_path_factory):
    course, _, _ = graded
    out = tmp_path_factory.mktemp("export")
    export.write(course, out)
    read = lambda name: list(csv.reader((out / name).open(encoding="utf-8")))  # noqa: E731
    return read("grades.csv"), read("questions.csv"), read("canvas.csv")


def test_grades_csv_has_a_column_per_question_and_totals(exported):
    grades, questions, _ = exported
    header = grades[0]
    assert header[:4] == ["student_id", "last_name", "first_name", "email"]
    assert header[4:] == [f"{A}/x_value", f"{A}/s_value", f"{A}/memo", f"{A}/total", "total"]
    rows = {r[0]: dict(zip(header, r, strict=True)) for r in grades[1:]}
    assert (rows["ref"][f"{A}/x_value"], rows["ref"][f"{A}/s_value"], rows["ref"][f"{A}/memo"]) == ("2", "3", "")
    assert rows["ref"]["total"] == "5" and rows["half"]["total"] == "2" and rows["blank"]["total"] == "0"
    assert [q[2:] for q in questions[1:]] == [["x_value", "auto", "2"], ["s_value", "auto", "3"], ["memo", "manual", "1"]]


def test_canvas_csv_layout(exported, graded):
    _, result, _ = graded
    _, _, canvas = exported
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", A]
    assert canvas[1][0].strip() == "Points Possible" and canvas[1][5] == "6"
    rows = {r[2]: r for r in canvas[2:]}
    assert set(rows) == {o.student for o in result.outcomes}
    assert rows["ref"][5] == "5"


# --- refusing to run without a sandbox -------------------------------------------------------


def test_missing_bwrap_is_refused_with_a_clear_message(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(SandboxUnavailable, match="--no-sandbox"):
        Sandbox(tmp_path)
    assert Sandbox(tmp_path, enabled=False).student_command(tmp_path, A)[0][0].endswith(("python", "python3"))


def test_cli_grade_refuses_without_bwrap(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from course.cli import app

    course = kit.make_course(tmp_path / "c", ROOT)
    kit.submit(course, "ref", kit.reference(course))
    monkeypatch.setattr(shutil, "which", lambda name: None)
    result = CliRunner().invoke(app, ["grade", A, "--root", str(course)])
    assert result.exit_code == 1
    assert "bubblewrap" in result.output and "--no-sandbox" in result.output


def test_sandbox_never_binds_the_course_root(tmp_path):
    sandbox = Sandbox(ROOT)
    argv, _ = sandbox.student_command(tmp_path, A)
    binds = [argv[i + 1] for i, a in enumerate(argv) if a in ("--bind", "--ro-bind", "--ro-bind-try")]
    assert str(ROOT) not in binds and str(ROOT / "source") not in binds
    assert not any(Path(b) in (ROOT, *ROOT.parents) for b in binds if b != "/usr")
    assert "--unshare-all" in argv and "--die-with-parent" in argv


_ = nbformat  # (imported for fixtures that build cells)


def test_cli_grades_feedback_export_and_creates_the_assignment(tmp_path, monkeypatch):
    """From the command line, on a course whose gradebook does not know the assignment yet."""
    from typer.testing import CliRunner

    from course.cli import app

    monkeypatch.setenv("COURSE_VARIANTS", "off")
    course = kit.make_course(tmp_path / "c", ROOT)
    (course / "gradebook.db").unlink()
    release_before = tree_hash(course / "release")
    kit.submit(course, "ref", kit.reference(course))
    kit.submit(course, "blank", kit.blank(course))
    runner = CliRunner()
    graded = runner.invoke(app, ["grade", A, "--root", str(course), "--jobs", "1", "--timeout", "30"])
    assert graded.exit_code == 0, graded.output
    assert "5 / 5" in graded.output and "0 / 5" in graded.output
    assert tree_hash(course / "release") == release_before  # only the gradebook learnt the assignment
    assert kit.scores(course, ["ref"])["ref"].auto == 5
    pages = runner.invoke(app, ["feedback", A, "--root", str(course), "--jobs", "1"])
    assert pages.exit_code == 0 and (course / "feedback" / "ref" / A / f"{A}.html").is_file(), pages.output
    out = tmp_path / "exports"
    exported = runner.invoke(app, ["export", "--root", str(course), "--out", str(out)])
    assert exported.exit_code == 0 and {p.name for p in out.iterdir()} == {"grades.csv", "questions.csv", "canvas.csv"}
