"""The weaknesses a security review found (issue 10), one named test each, in the mechanism.

The attacks on grading itself (cell order, files the grader reads, forged reports, huge answers)
are graded together with honest submissions in ``test_grading_hostile.py``; this module covers
feedback, exports, the evaluator's folders, the grader's own memory and nbgrader's collect.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from course import cells, ipynb
from course.grading import batch
from course.grading.process import Evaluator
from course.grading.sandbox import Limits, Sandbox
from course.reports import export, feedback
from tests import grading_kit as kit
from tests.support import ROOT, chromium

A = kit.ASSIGNMENT
pytestmark = pytest.mark.sandbox

XSS_MARKDOWN = textwrap.dedent("""\
    My memo. <script>window.pwned = 'markdown script'</script>
    <img src="x" onerror="window.pwned = 'img onerror'">
    [a link](javascript:window.pwned='javascript link')
    <iframe srcdoc="<script>parent.pwned='iframe'</script>"></iframe>
    <a href="#" onclick="window.pwned='onclick'" id="bait">bait</a>
    <style>body { display: none }</style>
    checks.expect_series_close(s, pd.Series({"a": 1.0, "b": 2.0}), "s")
""")
XSS_CODE = textwrap.dedent("""\
    from IPython.display import HTML, SVG, Javascript, display
    display(HTML("<b>bold</b><script>window.pwned = 'html output'</script><img src=x onerror=\\"window.pwned='html img'\\">"))
    display(SVG('<svg xmlns="http://www.w3.org/2000/svg" onload="window.pwned=1"><circle r="4"/></svg>'))
    display(Javascript("window.pwned = 'javascript output'"))
    import plotly.graph_objects as go
    go.Figure(go.Bar(x=["</script><script>window.pwned='chart'</script>"], y=[1]),
              layout={"title": {"text": "<img src=x onerror=window.pwned='title'>"}}).show()
""")


@pytest.fixture(scope="module")
def feedback_class(tmp_path_factory):
    """An honest class plus a student whose memo and outputs carry markup and a hidden-test line,
    and one whose autograded notebook is corrupt."""
    mp = pytest.MonkeyPatch()
    mp.setenv("COURSE_VARIANTS", "off")
    course = kit.make_course(tmp_path_factory.mktemp("feedback"))
    kit.submit(course, "ref", kit.reference(course))
    kit.submit(course, "blank", kit.blank(course))
    hostile = kit.with_cell(kit.reference(course), XSS_CODE)
    kit.cell(hostile, "memo").source = XSS_MARKDOWN
    hostile.cells.insert(3, nbformat.v4.new_markdown_cell(XSS_MARKDOWN))
    kit.submit(course, "mallory", hostile)
    kit.submit(course, "broken", kit.reference(course))
    batch.grade(course, A, batch.Options(jobs=2, limits=Limits(cell_timeout=30)))
    first = {r.student: r for r in feedback.generate(course, A, jobs=2)}
    (course.autograded("broken", A) / f"{A}.ipynb").write_text("{ not json")
    second = {r.student: r for r in feedback.generate(course, A, jobs=2)}
    yield course, first, second
    mp.undo()


def test_one_student_cannot_stop_feedback_for_the_class(feedback_class):
    """Issue 10 (3): a memo quoting a hidden-test line is the student's own text, not a leak; a
    corrupt autograded notebook costs only that student's page, and their old page stays."""
    course, first, second = feedback_class
    assert all(r.pages and not r.problems for r in first.values()), {s: r.problems for s, r in first.items()}
    assert second["broken"].problems and not second["broken"].pages
    assert (course.feedback("broken", A) / f"{A}.html").is_file()  # the previous page was kept
    assert all(second[s].pages and not second[s].problems for s in ("ref", "blank", "mallory"))


def test_a_page_that_would_show_a_hidden_test_is_not_written(feedback_class):
    course, _, _ = feedback_class
    from course.grading import specs

    spec = specs.ensure(course, A)[A]
    nb = feedback.page_notebook(ipynb.read(course.autograded("ref", A) / f"{A}.ipynb"), spec, course.markers)
    feedback.verify(nb, spec, course.markers)  # the real page passes
    kit.cell(nb, "x_value").source = spec.cells["x_value"].source  # as if the hidden tests slipped in
    with pytest.raises(feedback.PageLeak):
        feedback.verify(nb, spec, course.markers)


def test_student_markup_is_inert_and_charts_still_draw(feedback_class):
    """Issue 10 (4): opened in Chromium, nothing the student wrote runs; the kit's charts draw."""
    sync_api = pytest.importorskip("playwright.sync_api")
    course, _, _ = feedback_class
    page_path = course.feedback("mallory", A) / f"{A}.html"
    html = page_path.read_text(encoding="utf-8")
    import re

    live = [m.start() for m in re.finditer(r"<script>window\.pwned|<img[^>]*onerror", html)]
    assert not live, [html[i - 200:i + 80] for i in live[:3]]
    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        from tests.support import CHROMIUM_ARGS

        browser = pw.chromium.launch(executable_path=str(chromium()), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(offline=True).new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(page_path.as_uri())
            page.wait_for_selector(".plotly-graph-div .main-svg", timeout=30_000)
            if page.locator("#bait").count():
                page.locator("#bait").first.click()
            page.wait_for_timeout(500)
            assert page.evaluate("window.pwned") is None
            assert page.locator(".plotly-graph-div .main-svg").count() >= 2  # the kit's chart and the student's
        finally:
            browser.close()


def test_exports_neutralise_formulas_and_keep_numbers(tmp_path, monkeypatch):
    """Issue 10 (5): a student id or any text starting with = + - @ is prefixed with '."""
    monkeypatch.setenv("COURSE_VARIANTS", "off")
    course = kit.make_course(tmp_path / "c")
    for student in ("=HYPERLINK(\"evil.example\",\"x\")", "+SUM(1)", "-2+3", "@cmd", "honest"):
        kit.submit(course, student, kit.reference(course))
    batch.grade(course, A, batch.Options(jobs=2))
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url) as gb:
        gb.update_or_create_student("honest", first_name="=1+1", last_name="Lee")
    out = tmp_path / "export"
    export.write(course, out)
    grades = list(csv.reader((out / "grades.csv").open(encoding="utf-8")))
    canvas = list(csv.reader((out / "canvas.csv").open(encoding="utf-8")))
    ids = [row[0] for row in grades[1:]]
    assert sorted(ids) == sorted(["'=HYPERLINK(\"evil.example\",\"x\")", "'+SUM(1)", "'-2+3", "'@cmd", "honest"])
    for row in grades[1:] + canvas[2:]:
        assert not any(field.startswith(export.FORMULA_START) for field in row), row
    honest = next(r for r in grades[1:] if r[0] == "honest")
    assert honest[2] == "'=1+1" and honest[-1] == "5"  # text escaped, numbers untouched
    assert export.number(-1.5) == "-1.5" and export.cell_text(-1.5) == "'-1.5"


def test_the_evaluator_leaves_no_job_folder_and_jobs_never_share_files(tmp_path):
    """Issue 10 (7): each job works in a fresh folder that the evaluator removes afterwards."""
    sandbox = Sandbox(tmp_path, enabled=False)
    evaluator = Evaluator(sandbox, None, Limits(cell_timeout=30))
    write = {"i": 0, "role": "test", "source": "import os\nopen('left-behind.txt', 'w').write('x')\n"
                                                "assert len(os.listdir('.')) == 1", "inject": [], "report": []}
    job = {"env": {}, "cells": [write], "snapshots": {"0": [0, 2]}, "cell_timeout": 30, "deadline": 60,
           "files_dir": None, "not_reached": "-"}
    from concurrent.futures import ThreadPoolExecutor

    try:
        with ThreadPoolExecutor(3) as pool:  # jobs of several workers at once, in one server
            replies = list(pool.map(lambda _: evaluator.evaluate(job, b"{}"), range(6)))
        scratch = Path(evaluator.scratch or "/nonexistent")
        left = sorted(p.name for p in scratch.iterdir()) if scratch.is_dir() else []
    finally:
        evaluator.shutdown()
    for reply in replies:
        assert reply["cells"]["0"]["outputs"] == [], reply  # the folder was empty each time
    assert not [name for name in left if name.startswith("job-")], left
    assert evaluator.scratch is not None and not Path(evaluator.scratch).exists()


def test_the_evaluator_comes_back_after_it_dies(tmp_path):
    """A server killed while holding a job is started again and the job sent once more."""
    sandbox = Sandbox(tmp_path, enabled=False)
    evaluator = Evaluator(sandbox, None, Limits(cell_timeout=30))
    cell = {"i": 0, "role": "test", "source": "x = 1", "inject": [], "report": []}
    job = {"env": {}, "cells": [cell], "snapshots": {"0": [0, 2]}, "cell_timeout": 30, "deadline": 60,
           "files_dir": None, "not_reached": "-"}
    try:
        assert "error" not in evaluator.evaluate(job, b"{}")
        evaluator.proc.kill()
        evaluator.proc.wait()
        reply = evaluator.evaluate(job, b"{}")
        assert "error" not in reply and reply["cells"]["0"]["outputs"] == []
    finally:
        evaluator.shutdown()


GRADER = textwrap.dedent("""\
    import sys, json, re
    sys.path.insert(0, {root!r})
    from course.grading import batch
    from course.layout import Course
    result = batch.grade(Course.load(__import__("pathlib").Path({course!r})), {assignment!r}, batch.Options(jobs=2))
    peak = int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) * 1024
    print(json.dumps({{"peak": peak, "scores": {{o.student: o.auto_score for o in result.outcomes}},
                      "problems": {{o.student: o.all_problems for o in result.outcomes}}}}))
""")


def test_the_grader_holds_a_bounded_amount_per_student(tmp_path):
    """Issue 10 (7): answers of hundreds of megabytes cost the grader's own process little."""
    course = kit.make_course(tmp_path / "c")
    kit.submit(course, "ref", kit.reference(course))
    kit.submit(course, "huge_text", kit.with_answer(kit.blank(course), "x_answer", "x = '9' * (300 * 2**20)"))
    kit.submit(course, "huge_list", kit.with_answer(kit.blank(course), "s_answer", "s = [1.5] * (40 * 2**20)"))
    script = GRADER.format(root=str(ROOT), course=str(course.root), assignment=A)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False,
                          env={**os.environ, "COURSE_VARIANTS": "off"}, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["scores"] == {"ref": 5.0, "huge_text": 0.0, "huge_list": 0.0}, report["problems"]
    # the grader's own peak: its imports (~250 MB) plus the bounded per-student buffers, far below
    # the 300 MB string and the 40 M-element list (~1.3 GB as JSON) a student produced
    assert report["peak"] < 700 * 2**20, report["peak"] / 2**20


def test_collect_never_follows_a_link_left_in_the_exchange(tmp_path, monkeypatch):
    """Issue 10 (7): a student's folder in the exchange's inbound with a link to the gradebook,
    a named pipe, and a folder that is itself a link: collect copies none of them, and does not hang."""
    monkeypatch.setenv("COURSE_VARIANTS", "off")
    course = kit.make_course(tmp_path / "c")
    exchange = tmp_path / "exchange"
    inbound = exchange / "bizcases" / "inbound"
    inbound.mkdir(parents=True)
    args = [f"--Exchange.root={exchange}", "--CourseDirectory.course_id=bizcases"]
    stamp = "2024-01-02 03:04:05.000000 UTC"
    mine = inbound / f"mallory+{A}+{stamp}+abc"
    mine.mkdir()
    ipynb.write(kit.reference(course), mine / f"{A}.ipynb")
    (mine / "timestamp.txt").write_text(stamp)
    (mine / "gradebook-copy.db").symlink_to(course.root / "gradebook.db")
    os.mkfifo(mine / "pipe")
    (inbound / f"eve+{A}+{stamp}+def").symlink_to(course.source(A), target_is_directory=True)
    course.run_nbgrader("collect", A, *args)
    got = course.submitted("mallory", A)
    assert sorted(p.name for p in got.iterdir()) == sorted([f"{A}.ipynb", "timestamp.txt"])
    eve = course.submitted("eve", A)
    assert not any(p.suffix == ".ipynb" and cells.has_hidden(p.read_text()) for p in eve.glob("*")) if eve.exists() else True


def test_release_refuses_an_assignment_that_lost_its_notebook(tmp_path):
    """A release folder without the notebook the gradebook knows is not released half-empty."""
    course = kit.make_course(tmp_path / "c")
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    args = [f"--Exchange.root={exchange}", "--CourseDirectory.course_id=bizcases"]
    (course.release(A) / f"{A}.ipynb").unlink()
    with pytest.raises(Exception, match=f"lacks {A}.ipynb"):
        course.run_nbgrader("release_assignment", A, "--force", *args)
    assert not list(exchange.rglob("*.ipynb"))
    kit.make_course(tmp_path / "d").run_nbgrader("release_assignment", A, "--force",
                                                  f"--Exchange.root={exchange}", "--CourseDirectory.course_id=bizcases")
    assert list(exchange.rglob(f"{A}.ipynb"))  # a complete release goes through


def test_the_submission_secret_reaches_autograde_and_feedback(tmp_path, monkeypatch):
    """nbgrader's release_feedback names each page with the submission's secret."""
    monkeypatch.setenv("COURSE_VARIANTS", "off")
    course = kit.make_course(tmp_path / "c")
    kit.submit(course, "ref", kit.reference(course))
    secret = "ab" * 64
    (kit.folder(course, "ref") / "submission_secret.txt").write_text(secret)
    kit.submit(course, "forged", kit.reference(course))
    (kit.folder(course, "forged") / "submission_secret.txt").write_text("../../etc/passwd")
    result = batch.grade(course, A, batch.Options(jobs=2))
    feedback.generate(course, A, jobs=1)
    assert (course.autograded("ref", A) / "submission_secret.txt").read_text() == secret
    assert (course.feedback("ref", A) / "submission_secret.txt").read_text() == secret
    assert not (course.autograded("forged", A) / "submission_secret.txt").exists()
    forged = next(o for o in result.outcomes if o.student == "forged")
    assert any("submission_secret.txt is unreadable" in p for p in forged.all_problems)
