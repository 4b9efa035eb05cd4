"""Students and instructors in real JupyterLab, driven through Chromium.

For every case: the released assignment shows in nbgrader's assignment list; a student
fetches it, runs the notebook (the plotly charts render, each with its description, and the
only errors come from the unanswered stubs); the saved notebook exports to HTML with its
charts; Validate reports the failing checks for the blank notebook and passes once the
answers are typed in; the submission reaches the exchange and the instructor's collect (in
the formgrader) finds it. The formgrader lists every case, and a notebook executed headless with
the export renderer (what ``course grade`` feedback is made from) draws its charts offline.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import nbformat
import pytest
from playwright.sync_api import Page, expect

from course import cells, i18n, ipynb, plots
from course.authoring import submissions
from course.layout import notebooks as list_notebooks
from tests.browser import pages
from tests.browser.conftest import CASES, save_screenshot
from tests.browser.lab import COURSE_ID

PLOTLY_MIME = "application/vnd.plotly.v1+json"
#: A drawn trace in plotly.js's SVG: most trace types are a ``g.trace``; a heatmap is a ``g.hm``.
TRACE = "g.trace, g.hm"
#: Errors an unanswered notebook may show: the stub itself, and the checks of the answer.
STUB_ERRORS = {"NotImplementedError"}
UNANSWERED_CHECK_ERRORS = {"NameError", "NotImplementedError", "CheckFailed", "AssertionError"}
#: The case whose notebook is photographed for the README.
SCREENSHOT_CASE = CASES[0]


# --------------------------------------------------------------------------------------------
# What the notebooks are
# --------------------------------------------------------------------------------------------


def release_notebooks(lab, case):
    """(name, release path, source path) for each notebook of a released case."""
    lab.require_released(case)
    course = lab.session.course
    found = [
        (path.stem, path, course / "source" / case / path.name)
        for path in list_notebooks(course / "release" / case)
    ]
    assert found, f"release/{case} has no notebook"
    return found


def fetched(lab, case):
    """The student's copy of a case; fetched through the server's assignment-list API when an
    earlier test has not already fetched it in the browser."""
    folder = lab.session.home / case
    if not folder.is_dir():
        lab.require_released(case)
        lab.server.api("POST", "/assignments/fetch", {"course_id": COURSE_ID, "assignment_id": case})
    assert folder.is_dir(), f"fetching {case} did not create {folder}"
    return folder


def solved(source_path, release_path):
    return submissions.reference(ipynb.read(source_path), ipynb.read(release_path))


def unexpected_errors(nb) -> list[str]:
    """Errors and stderr output other than those caused by the unanswered stubs."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if cells.is_answer(cell):
            allowed = STUB_ERRORS
        elif cells.is_test(cell):
            allowed = UNANSWERED_CHECK_ERRORS
        else:
            allowed = set()
        where = f"cell {index} ({cells.label(cell)})"
        for out in cell.get("outputs", []):
            if out.output_type == "error" and out.ename not in allowed:
                found.append(f"{where}: {out.ename}: {out.evalue}")
            elif out.output_type == "stream" and out.name == "stderr":
                found.append(f"{where} writes to stderr: {out.text.strip()[:300]}")
    return found


def chart_cells(nb) -> list[int]:
    return [
        index
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        and any(PLOTLY_MIME in out.get("data", {}) for out in cell.get("outputs", []))
    ]


def manual_answers(nb) -> list[int]:
    """Written answers graded by hand (nbgrader: solution and grade, markdown)."""
    return [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "markdown" and cells.is_answer(c)
        and cells.nbgrader(c).get("grade")
    ]


def check_cells(nb) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if cells.is_test(c)]


# --------------------------------------------------------------------------------------------
# The lists
# --------------------------------------------------------------------------------------------


def test_assignment_list_shows_every_released_case(lab, new_page):
    page = new_page()
    pages.hide_left_sidebar(page)
    pages.open_assignment_list(page)
    for case in CASES:
        lab.require_released(case)
    listed = set()
    for which in ("released", "fetched", "submitted"):
        listed |= set(pages.listed_names(page, which))
    assert set(CASES) <= listed, f"missing from the assignment list: {sorted(set(CASES) - listed)}"
    for case in CASES:
        expect(pages.assignment_row(page, "released", case).locator(".item_course")).to_have_text(
            COURSE_ID
        )
    save_screenshot(page, "screenshot-assignment-list.png", height=500)


def test_formgrader_lists_every_case(lab, new_page):
    page = new_page()
    frame = pages.open_formgrader(page)
    names = frame.locator("#main-table td.name")
    for case in CASES:
        lab.require_released(case)
        row = frame.locator("#main-table tr").filter(has=frame.locator(f'td.name[data-order="{case}"]'))
        expect(row).to_have_count(1)
        expect(row.locator("td.status")).to_have_text("released")
    assert names.count() >= len(CASES)


# --------------------------------------------------------------------------------------------
# The student's notebook
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_student_fetches_runs_and_sees_every_chart(lab, new_page, case):
    entries = release_notebooks(lab, case)
    mark = i18n.CHART_DESCRIPTION[i18n.language_of(case)]  # "**Chart description:**" in English
    shown_mark = re.compile(r"^\s*" + re.escape(mark.strip("*")) + r"\s*\S")
    page = new_page()
    pages.open_assignment_list(page)
    released = pages.assignment_row(page, "released", case)
    if released.count():
        released.locator(".item_status button", has_text="Fetch").click()
    expect(pages.assignment_row(page, "fetched", case)).to_have_count(1)
    folder = lab.session.home / case

    for name, release_path, _ in entries:
        pages.open_assignment_list(page)
        pages.open_fetched_notebook(page, case, name)
        panel = pages.notebook_panel(page, len(ipynb.read(release_path).cells))
        pages.run_all_past_stubs(page, panel)
        saved = _save_with_chart_images(page, folder / f"{name}.ipynb")

        problems = unexpected_errors(saved)
        assert not problems, f"{case}/{name}: errors beyond the unanswered stubs:\n  " + "\n  ".join(problems)

        charts = chart_cells(saved)
        assert charts, f"{case}/{name}: no plotly chart was shown"
        dom_cells = pages.cells(panel)
        for index in charts:
            cell = dom_cells.nth(index)
            # drawn by plotly.js in the page: an SVG with the title and at least one trace
            expect(cell.locator(".jp-OutputArea-output svg.main-svg").first).to_be_visible()
            expect(cell.locator("svg.main-svg .gtitle").first).to_have_text(re.compile(r"\S"))
            expect(cell.locator("svg.main-svg").locator(TRACE).first).to_be_attached()
            after = saved.cells[index + 1] if index + 1 < len(saved.cells) else None
            assert after is not None and after.cell_type == "markdown" and after.source.lstrip().startswith(mark), (
                f"{case}/{name}: the chart in cell {index} has no '{mark}' cell right after it"
            )
            expect(dom_cells.nth(index + 1).locator(".jp-MarkdownOutput")).to_have_text(shown_mark)

        if case == SCREENSHOT_CASE and name == entries[0][0]:
            pages.hide_left_sidebar(page)
            first = dom_cells.nth(charts[0])
            first.evaluate("el => el.scrollIntoView({block: 'center'})")
            expect(first.locator("svg.main-svg").first).to_be_in_viewport()
            save_screenshot(page, "screenshot-notebook.png")

        # What File > Save and Export Notebook As > HTML gives: every chart is in it.
        export = page.context.new_page()
        export.goto(
            f"{lab.server.base_url}/nbconvert/html/{case}/{name}.ipynb"
            f"?download=false&token={lab.server.token}"
        )
        images = export.locator(".jp-OutputArea-output img")
        expect(images).to_have_count(len(charts) + _other_images(saved))
        for i in range(images.count()):
            assert images.nth(i).evaluate("img => img.complete && img.naturalWidth > 0")
        export.close()
        # leave the release notebook's text untouched: only outputs were added
        assert [c.source for c in saved.cells] == [c.source for c in ipynb.read(release_path).cells]


def _save_with_chart_images(page: Page, path):
    """Save until every chart carries the static image JupyterLab's plotly renderer adds (it is
    what exported HTML shows); return the saved notebook."""
    last = None
    for _ in range(20):
        pages.save(page)
        last = nbformat.read(str(path), as_version=4)
        outputs = [
            out
            for i in chart_cells(last)
            for out in last.cells[i].outputs
            if PLOTLY_MIME in out.get("data", {})
        ]
        if all("image/png" in out.data for out in outputs):
            return last
        page.wait_for_timeout(500)
    missing = [i for i in chart_cells(last) if not all("image/png" in o.get("data", {}) for o in last.cells[i].outputs)]
    raise AssertionError(f"charts in cells {missing} were saved without a static image")


def _other_images(nb) -> int:
    return sum(
        1
        for c in nb.cells
        for out in c.get("outputs", [])
        if "image/png" in out.get("data", {}) and PLOTLY_MIME not in out.get("data", {})
    )


# --------------------------------------------------------------------------------------------
# Validate
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_validate_fails_blank_and_passes_when_answered(lab, new_page, case):
    folder = fetched(lab, case)
    for name, release_path, source_path in release_notebooks(lab, case):
        target = folder / f"{name}.ipynb"
        shutil.copyfile(release_path, target)
        blank = ipynb.read(release_path)
        expected_failures = len(check_cells(blank)) + len(manual_answers(blank))

        page = new_page(f"{case}/{name}.ipynb")
        panel = pages.notebook_panel(page, len(blank.cells))
        dialog = pages.validate(page, panel)
        expect(dialog.locator(".validation-failed")).to_be_visible()
        failures = dialog.get_by_text("The following cell failed:")
        report = dialog.inner_text()
        assert failures.count() == expected_failures, (
            f"{case}/{name}: Validate on the blank notebook reported {failures.count()} failing "
            f"cells, expected {expected_failures} (every check and written answer):\n{report}"
        )
        pages.close_dialog(dialog)

        answers = solved(source_path, release_path)
        dom_cells = pages.cells(panel)
        for index, cell in enumerate(answers.cells):
            if cells.is_answer(cell):
                pages.type_into_cell(page, dom_cells.nth(index), cell.source)
        dialog = pages.validate(page, panel)
        expect(dialog.locator(".validation-success")).to_be_visible()
        expect(dialog).to_contain_text("Success! Your notebook passes all the tests.")
        pages.close_dialog(dialog)

        typed = ipynb.read(target)
        assert [c.source for c in typed.cells] == [c.source for c in answers.cells], (
            f"{case}/{name}: the saved notebook differs from the answers typed in"
        )
        page.close()


# --------------------------------------------------------------------------------------------
# Submit and collect
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_submit_reaches_exchange_and_collect_finds_it(lab, new_page, case):
    folder = fetched(lab, case)
    entries = release_notebooks(lab, case)
    answers = {name: solved(src, rel) for name, rel, src in entries}
    for name, nb in answers.items():
        ipynb.write(nb, folder / f"{name}.ipynb")

    page = new_page()
    pages.open_assignment_list(page)
    pages.assignment_row(page, "fetched", case).locator(".item_status button", has_text="Submit").click()
    expect(pages.assignment_row(page, "submitted", case)).to_have_count(1)
    inbound = lab.session.exchange / COURSE_ID / "inbound"
    assert list(inbound.glob(f"*+{case}+*")), f"no submission of {case} in {inbound}"

    frame = pages.open_formgrader(page)
    row = frame.locator("#main-table tr").filter(has=frame.locator(f'td.name[data-order="{case}"]'))
    row.locator("td.collect a").click()
    modal = frame.locator("#success-modal")
    expect(modal).to_be_visible()
    expect(modal).to_contain_text(f"Successfully collected submissions of '{case}'")

    collected = sorted((lab.session.course / "submitted").glob(f"*/{case}"))
    assert collected, f"collect put nothing under submitted/*/{case}"
    for name, nb in answers.items():
        got = ipynb.read(collected[0] / f"{name}.ipynb")
        assert [c.source for c in got.cells] == [c.source for c in nb.cells]


# --------------------------------------------------------------------------------------------
# HTML of a notebook executed without a browser
# --------------------------------------------------------------------------------------------


def test_html_of_a_headless_run_draws_the_charts(lab, browser, tmp_path):
    """A solved notebook executed by nbconvert with ``COURSE_PLOTLY_RENDERER`` set to the
    export renderer (as ``course grade`` does for feedback) shows every chart offline."""
    name, release_path, source_path = release_notebooks(lab, SCREENSHOT_CASE)[0]
    path = tmp_path / f"{name}.ipynb"
    ipynb.write(solved(source_path, release_path), path)
    proc = subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--execute",
         "--ExecutePreprocessor.timeout=300", str(path)],
        cwd=tmp_path,
        env={**lab.session.env, plots.RENDERER_ENV: plots.EXPORT_RENDERER},
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    html = path.with_suffix(".html")
    source = html.read_text(encoding="utf-8")
    expected = source.count('class="plotly-graph-div"')
    assert expected >= 1, "the exported HTML has no plotly chart"

    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(html.as_uri())
        charts = page.locator(".plotly-graph-div")
        expect(charts).to_have_count(expected)
        for i in range(expected):
            expect(charts.nth(i).locator("svg.main-svg").first).to_be_attached()
            expect(charts.nth(i).locator(TRACE).first).to_be_attached()
    finally:
        context.close()
