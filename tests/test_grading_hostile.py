"""A class with attackers: honest, broken and hostile submissions graded together in one batch.

Every hostile submission is a blank notebook plus one attack, so it must score exactly what a
blank scores (0). Each attack is its own test case below, and each asserts three things: the
submission **was graded** (not a grader failure, which would also score 0), it scored no more
than a blank, and **what it did was reported** where there is something to report. The honest
submissions graded in the same batch must score exactly what they earn.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

import pytest

from course import cells
from course import ipynb as nbio
from course.grading import batch
from course.grading.sandbox import Limits
from tests import grading_kit as kit

pytestmark = pytest.mark.sandbox

A = kit.ASSIGNMENT
CELL = 10  # seconds per cell in this batch

# name -> (attack code, what the summary must say (None: nothing to report), where it is checked)
ATTACKS: dict[str, tuple[str, str | None]] = {
    # the sandbox's init ignores signals from inside: the attack achieves nothing at all
    "h_kill_parent": ("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nos.kill(1, signal.SIGKILL)\n"
                      "print('still here')", None),
    "h_kill_all": ("import os, signal\nos.killpg(0, signal.SIGKILL)\nos.kill(-1, signal.SIGKILL)", "ended early"),
    "h_os_exit": ("import os\nos._exit(0)", "ended early"),
    "h_kernel_exit": ("get_ipython().ask_exit()\nimport os, signal\nos.kill(os.getpid(), signal.SIGKILL)", "ended early"),
    "h_infinite_loop": ("while True:\n    pass", f"was stopped after {CELL} s"),
    "h_ignores_timeout": ("import signal\nfor s in (signal.SIGALRM, signal.SIGPROF):\n    signal.signal(s, signal.SIG_IGN)\n"
                          "while True:\n    pass",
                          f"ignored the {CELL} s limit"),
    "h_huge_output": ("while True:\n    print('spam ' * 2000)", "output cut"),
    "h_fd_flood": ("import os\nwhile True:\n    os.write(1, b'x' * 65536)\n    os.write(2, b'y' * 65536)",
                   "straight to the terminal"),
    "h_memory": ("hog = []\nwhile True:\n    hog.append(bytearray(100 * 2**20))", "ran out of memory"),
    "h_fork_bomb": ("import os, time\nfor _ in range(3000):\n    try:\n        if os.fork() == 0:\n"
                    "            time.sleep(60)\n            os._exit(0)\n    except OSError:\n        break\n"
                    "print('forks stopped')", None),
    "h_forge_messages": ("import os, json, struct\nhead = json.dumps({'type': 'snap', 'i': 4}).encode()\n"
                         "frame = struct.pack('>I', len(head)) + head + struct.pack('>I', 5) + b'{bad}'\n"
                         "for fd in range(3, 40):\n    try:\n        os.write(fd, frame + b'garbage' * 100)\n"
                         "    except OSError:\n        pass", "flooded the grader"),
    "h_reset_timer": ("import os, json, struct, time\n"
                      "def frame(h):\n    b = json.dumps(h).encode()\n    return struct.pack('>I', len(b)) + b + struct.pack('>I', 0)\n"
                      "end = time.time() + 300\n"
                      "while time.time() < end:\n    for fd in range(3, 64):\n        try:\n"
                      "            os.write(fd, frame({'type': 'start', 'i': 2}) + frame({'type': 'cell', 'i': 2, 'outputs': [], 'count': 1}))\n"
                      "        except OSError:\n            pass\n    time.sleep(2)", "interfered"),
    "h_patch_ipython": ("ip = get_ipython()\nip.input_transformers_cleanup.append(lambda lines: [])\n"
                        "ip.showtraceback = lambda *a, **k: None\nip._showtraceback = lambda *a, **k: None\n"
                        "ip.set_custom_exc((BaseException,), lambda *a, **k: None)\n"
                        "ip.events.register('post_run_cell', lambda *a: None)", None),
    "h_patch_run_cell": ("ip = get_ipython()\nimport IPython.core.interactiveshell as s\n"
                         "ip.run_cell = lambda *a, **k: s.ExecutionResult(None)\n"
                         "type(ip).run_cell = lambda *a, **k: s.ExecutionResult(None)", None),
    "h_patch_checks": ("from course import checks\nimport sys, os, builtins\n"
                       "for name in dir(checks):\n    if not name.startswith('_') and callable(getattr(checks, name)):\n"
                       "        setattr(checks, name, lambda *a, **k: None)\n"
                       "builtins.AssertionError = type('Nope', (Exception,), {})\n"
                       "sys.stderr = open(os.devnull, 'w')\nx = 0.0\ns = 0", None),
    "h_fake_equality": ("import numpy as np, pandas as pd\nclass Any(float):\n    def __eq__(self, o):\n        return True\n"
                        "    __hash__ = float.__hash__\nx = Any(0.0)\nclass S(pd.Series):\n    def __eq__(self, o):\n        return True\n"
                        "s = S([0.0, 0.0], index=['a', 'b'])", "could not be checked"),
    "h_huge_value": ("x = '9' * (200 * 2**20)", None),
    "h_sys_exit": ("import sys\ntry:\n    sys.exit(1)\nfinally:\n    exit()\nraise SystemExit", None),
}


def snoop_cells(root: Path) -> dict[str, str]:
    """Attacks on the course's files and the network (the code names this course's real paths)."""
    return {
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
    }


def tree_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            digest.update(path.relative_to(folder).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def moved_locked_cell(course):
    """Issue 10 (1): the locked `params` cell dragged below the tests, `x_target` redefined to
    match a wrong answer: graded in the student's order, this blank submission got 2 points."""
    nb = kit.with_cell(kit.blank(course), "x = 99.0\nx_target = 99.0")
    params = kit.cell(nb, "params")
    nb.cells.remove(params)
    nb.cells.append(params)
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("COURSE_VARIANTS", "off")
    course = kit.make_course(tmp_path_factory.mktemp("class"))
    blank = kit.blank(course)
    kit.submit(course, "ref", kit.reference(course))
    kit.submit(course, "half", kit.partial(course))
    kit.submit(course, "blank", blank)
    kit.submit(course, "ref_extra_files", kit.reference(course))
    (kit.folder(course, "ref_extra_files") / "notes.txt").write_text("mine")
    (kit.folder(course, "ref_extra_files") / "data" / "more").mkdir(parents=True)
    (kit.folder(course, "ref_extra_files") / "data" / "more" / "x.csv").write_text("a,b\n1,2\n")
    for name, (code, _) in ATTACKS.items():
        kit.submit(course, name, kit.with_cell(blank, code))
    for name, code in snoop_cells(course.root).items():
        kit.submit(course, name, kit.with_cell(blank, code))
    kit.submit(course, "h_moved_locked_cell", moved_locked_cell(course))
    kit.submit(course, "h_shadow_course", kit.with_cell(blank, "from course import checks\nx = 0.0"))
    pkg = kit.folder(course, "h_shadow_course") / "course"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "checks.py").write_text("def __getattr__(name):\n    return lambda *a, **k: None\n")
    edited = kit.blank(course)
    for cell in edited.cells:
        if cells.is_test(cell):
            cell.source = "pass"
            cell.metadata.nbgrader.update(solution=True, points=100)
    kit.submit(course, "h_edit_tests", edited)
    deleted = kit.blank(course)
    deleted.cells = [c for c in deleted.cells if not cells.is_test(c) and cells.grade_id(c) != "setup"]
    kit.submit(course, "h_delete_tests", deleted)
    # timestamp.txt: nbgrader's file, read by the grader's own process (issue 10 (2))
    kit.submit(course, "h_fifo_timestamp", kit.reference(course))
    os.mkfifo(kit.folder(course, "h_fifo_timestamp") / "timestamp.txt")
    kit.submit(course, "h_huge_timestamp", kit.reference(course))
    (kit.folder(course, "h_huge_timestamp") / "timestamp.txt").write_text("9" * (8 * 2**20))
    kit.submit(course, "h_fifo_file", kit.reference(course))
    os.mkfifo(kit.folder(course, "h_fifo_file") / "data.csv")
    # broken submissions
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
    (kit.folder(course, "b_link_to_solutions") / f"{A}.ipynb").symlink_to(course.source(A) / f"{A}.ipynb")
    course.folder("submitted").joinpath("b_folder_link").mkdir()
    kit.folder(course, "b_folder_link").symlink_to(course.source(A), target_is_directory=True)
    kit.submit(course, "b_symlink", kit.reference(course))
    (kit.folder(course, "b_symlink") / "grades.db").symlink_to(course.root / "gradebook.db")
    before = {"source": tree_hash(course.source(A)), "release": tree_hash(course.release(A)),
              "root": sorted(p.name for p in course.root.iterdir())}
    limits = Limits(cell_timeout=CELL, notebook_timeout=150, memory=1024 * 2**20)
    result = batch.grade(course, A, batch.Options(jobs=2, limits=limits))
    yield course, result, before
    mp.undo()


def outcome(result, student):
    return next(o for o in result.outcomes if o.student == student)


def autograded(course, student):
    return nbio.read(course.autograded(student, A) / f"{A}.ipynb")


def attack_output(nb) -> str:
    """The outputs of the attack cell (inserted after the setup cell)."""
    return json.dumps(nb.cells[2].get("outputs", []))


def assert_graded_like_blank(course, result, student, needle):
    found = outcome(result, student)
    assert not found.failed, found.all_problems  # graded, not a grader failure (which also scores 0)
    assert all(nb.status == "graded" for nb in found.notebooks), [nb.status for nb in found.notebooks]
    score = kit.scores(course, [student])[student]
    assert score.auto == 0 and score.max_auto == 5, (score.cells, found.all_problems)
    if needle is not None:
        assert any(needle in p for p in found.all_problems), found.all_problems


def test_every_submission_is_graded(graded):
    course, result, _ = graded
    students = sorted(p.name for p in course.folder("submitted").iterdir())
    assert sorted(o.student for o in result.outcomes) == students
    assert result.max_auto == 5
    assert not [o.student for o in result.outcomes if o.failed]


def test_honest_scores_are_unchanged_by_the_attackers(graded):
    course, result, _ = graded
    scores = kit.scores(course, ["ref", "half", "blank", "ref_extra_files", "ref_timestamp"])
    assert scores["ref"].cells == {"x_value": 2.0, "s_value": 3.0}
    assert scores["half"].cells == {"x_value": 2.0, "s_value": 0.0, "memo": 0.0}
    assert scores["blank"].auto == 0 and scores["ref_extra_files"].auto == 5 and scores["ref_timestamp"].auto == 5
    assert any("extra files" in p and "notes.txt" in p for p in outcome(result, "ref_extra_files").all_problems)
    assert outcome(result, "ref").all_problems == []


@pytest.mark.parametrize("student", list(ATTACKS))
def test_attack_is_graded_as_blank_and_reported(graded, student):
    course, result, _ = graded
    assert_graded_like_blank(course, result, student, ATTACKS[student][1])


def test_forged_reports_cannot_keep_the_clock_running(graded):
    """Issue 10 (6): the attack tries to reset the cell deadline for 300 s; the grader stops it
    at the first report out of turn, well inside one cell's limit."""
    _, result, _ = graded
    assert outcome(result, "h_reset_timer").seconds < 150


def test_fork_bomb_is_capped(graded):
    course, _, _ = graded
    out = attack_output(autograded(course, "h_fork_bomb"))
    assert "forks stopped" in out  # fork() failed inside the sandbox: the process cap held


def test_huge_answer_value_never_reaches_the_tests(graded):
    """Issue 10 (7): a 200 MB answer is refused at the boundary (flood or too large), reported."""
    _, result, _ = graded
    found = outcome(result, "h_huge_value")
    assert any(word in p for p in found.all_problems for word in ("flooded", "too large", "could not be checked")), \
        found.all_problems


def test_moved_locked_cell_is_graded_in_the_instructors_order(graded):
    """Issue 10 (1)."""
    course, result, _ = graded
    assert_graded_like_blank(course, result, "h_moved_locked_cell", "out of the instructor's order")


@pytest.mark.parametrize("student", ["h_shadow_course", "h_edit_tests", "h_delete_tests"])
def test_tampering_with_the_course_or_the_tests(graded, student):
    course, result, _ = graded
    needle = {"h_shadow_course": "extra files", "h_edit_tests": "was edited (restored)",
              "h_delete_tests": "was deleted (added back)"}[student]
    assert_graded_like_blank(course, result, student, needle)


@pytest.mark.parametrize("student, needle", [
    ("h_fifo_timestamp", "timestamp.txt is unreadable"),
    ("h_huge_timestamp", "timestamp.txt is unreadable"),
    ("h_fifo_file", "special file data.csv skipped"),
])
def test_files_the_grader_reads_are_type_checked_and_capped(graded, student, needle):
    """Issue 10 (2): a named pipe or megabytes of digits in a file the grader itself reads:
    refused, reported, and the submission is graded as usual (these are reference solutions)."""
    course, result, _ = graded
    found = outcome(result, student)
    assert any(needle in p for p in found.all_problems), found.all_problems
    assert kit.scores(course, [student])[student].auto == 5


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
    found = outcome(result, student)
    assert not found.failed
    assert any(needle in p for p in found.all_problems), found.all_problems
    expected = 5 if student in ("b_symlink", "b_bad_timestamp") else 0  # the rest is graded as usual
    assert kit.scores(course, [student])[student].auto == expected


def test_submission_timestamp_is_recorded_like_nbgrader(graded):
    course, _, _ = graded
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url) as gb:
        stamp = gb.find_submission(A, "ref_timestamp").timestamp
    assert (stamp.year, stamp.month, stamp.day, stamp.hour) == (2024, 1, 2, 3)
    assert (course.autograded("ref_timestamp", A) / "timestamp.txt").read_text().startswith("2024-01-02 03:04:05")


def test_gradebook_and_course_files_are_intact(graded):
    course, _, before = graded
    db = sqlite3.connect(course.root / "gradebook.db")
    assert db.execute("pragma integrity_check").fetchone() == ("ok",)
    assert b"pwned" not in (course.root / "gradebook.db").read_bytes()
    assert tree_hash(course.source(A)) == before["source"]
    assert tree_hash(course.release(A)) == before["release"]
    assert {p.name for p in course.root.iterdir()} <= set(before["root"]) | {"autograde"}


def test_sandbox_hides_the_course_and_the_network(graded):
    course, _, _ = graded
    read = attack_output(autograded(course, "h_read_secrets"))
    assert "READ" not in read and kit.HIDDEN_MARK not in read and read.count("blocked") == 4
    deleted = attack_output(autograded(course, "h_delete_files"))
    # ../gradebook.db and ../../gradebook.db land in the sandbox's private /tmp, then vanish
    assert f"WROTE {course.root}" not in deleted and deleted.count("blocked") >= 3
    net = attack_output(autograded(course, "h_network"))
    assert "CONNECTED" not in net and net.count("no network") == 2


def test_later_cells_still_run_after_an_interrupted_cell(graded):
    course, _, _ = graded
    nb = autograded(course, "h_infinite_loop")
    chart = next(c for c in nb.cells if "fig.show()" in c.source)
    assert any("application/vnd.plotly.v1+json" in o.get("data", {}) for o in chart.outputs)


def test_autograded_notebooks_keep_nbgrader_structure(graded):
    course, _, _ = graded
    nb = autograded(course, "h_delete_tests")
    ids = [cells.grade_id(c) for c in nb.cells if cells.grade_id(c)]
    assert {"setup", "params", "x_value", "s_value", "memo"} <= set(ids)
    assert kit.HIDDEN_MARK in kit.cell(nb, "x_value").source  # instructor's copy: full tests
