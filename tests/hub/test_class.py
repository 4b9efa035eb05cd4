"""A class on a real JupyterHub, end to end, in Chromium: the instructor releases two cases with
due dates in the formgrader; two students log in, fetch, see their own data, work, validate and
submit (one twice, one late); the instructor collects, grades with ``course grade`` on the
PostgreSQL gradebook, grades a written answer in the formgrader and returns feedback; each
student reads their own feedback; the export has both students, per question.

The steps run in file order and share one hub (``conftest.deployment``); each checks its
outcome where it lands (the exchange, the gradebook's tables, the pages people see).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Page, expect

from course import cells, ipynb, variants
from course.data import strategy
from tests.browser import pages
from tests.hub import kit, services

ALICE, BOB = services.STUDENTS
WRITTEN_MARK = "Second thoughts, submitted again:"


@dataclass
class Story:
    """What earlier steps established, for the later ones."""

    released: set[str] = field(default_factory=set)
    submitted: dict[tuple[str, str], int] = field(default_factory=dict)  # (student, case) -> times
    roster_rows: dict[str, list[str]] = field(default_factory=dict)
    graded: set[str] = field(default_factory=set)
    feedback: set[str] = field(default_factory=set)

    def need(self, what: str, ok: bool) -> None:
        if not ok:
            pytest.fail(f"an earlier step did not finish: {what}", pytrace=False)


@pytest.fixture(scope="module")
def story() -> Story:
    return Story()


def _formgrader_row(frame, case: str):
    return frame.locator("#main-table tr").filter(has=frame.locator(f'td.name[data-order="{case}"]'))


def _modal_ok(frame, text: str) -> None:
    modal = frame.locator("#success-modal, #error-modal").last
    expect(modal).to_be_visible()
    expect(modal).to_contain_text(text)
    modal.locator("button.btn-primary", has_text="OK").click()
    expect(modal).to_be_hidden()


# --------------------------------------------------------------------------------------------
# 1. The instructor releases two cases with a due date
# --------------------------------------------------------------------------------------------


def test_instructor_releases_two_cases_with_due_dates(deployment, people, story):
    page = people.formgrader_lab(services.INSTRUCTOR)
    frame = pages.open_formgrader(page)
    for case, due in ((kit.CASE_ON_TIME, kit.FUTURE_DUE), (kit.CASE_LATE, kit.PAST_DUE)):
        row = _formgrader_row(frame, case)
        expect(row).to_have_count(1)
        row.locator("td.edit a").click()
        modal = frame.locator("#edit-assignment-modal")
        expect(modal).to_be_visible()
        modal.locator("input.modal-duedate").fill(due)
        modal.locator("input.modal-timezone").fill("+00:00")
        modal.locator("button.save").click()
        expect(modal).to_be_hidden()
        expect(row.locator("td.duedate")).not_to_have_text("None")
        row.locator("td.assign a").click()
        _modal_ok(frame, f"Successfully created the student version of '{case}'")
        row = _formgrader_row(frame, case)
        row.locator("td.release a").click()
        _modal_ok(frame, f"Successfully released '{case}'")
        expect(_formgrader_row(frame, case).locator("td.status")).to_have_text("released")
        outbound = deployment.settings.exchange_root / services.COURSE_ID / "outbound" / case
        assert (outbound / f"{case}.ipynb").is_file(), f"{case} is not in the exchange's outbound"
        story.released.add(case)
    rows = kit.sql(deployment, "SELECT name, duedate FROM assignment ORDER BY name")
    due = {name: stamp for name, stamp in rows}
    assert due[kit.CASE_ON_TIME].startswith(kit.FUTURE_DUE.replace("T", " ")), due
    assert due[kit.CASE_LATE].startswith(kit.PAST_DUE.replace("T", " ")), due
    page.close()


# --------------------------------------------------------------------------------------------
# 2. Two students work the case, each on their own data
# --------------------------------------------------------------------------------------------


def _fetch(page: Page, case: str) -> None:
    pages.open_assignment_list(page)
    released = pages.assignment_row(page, "released", case)
    expect(released).to_have_count(1)
    released.locator(".item_status button", has_text="Fetch").click()
    expect(pages.assignment_row(page, "fetched", case)).to_have_count(1)


def _submit(page: Page, case: str) -> None:
    pages.open_assignment_list(page)
    pages.assignment_row(page, "fetched", case).locator(".item_status button", has_text="Submit").click()
    expect(pages.assignment_row(page, "submitted", case)).to_have_count(1)


def _roster_first_row(panel) -> list[str]:
    """The first data row of the cell showing ``roster.head()`` (cell 6 of case 01)."""
    cell = pages.cells(panel).nth(6)
    cell.scroll_into_view_if_needed()
    expect(cell.locator(".jp-OutputArea-output table")).to_be_visible()
    return [t.strip() for t in cell.locator(".jp-OutputArea-output table tbody tr").first.locator("th, td").all_text_contents()]


def _expected_roster_row(student: str) -> list[str]:
    """The same row recomputed from the data module with that student's seed."""
    roster = strategy.load_roster(seed=variants.seed_for(kit.CASE_ON_TIME, student))
    first = roster.iloc[0]
    return [str(first["rep_id"]), str(int(first["hire_month"])), f"{float(first['potential_kyuan']):.4f}"]


def _work(people, deployment, story, student: str, twice: bool) -> None:
    case = kit.CASE_ON_TIME
    story.need(f"{case} released", case in story.released)
    page = people.lab(student)
    _fetch(page, case)
    folder = deployment.home(student) / case
    assert (folder / f"{case}.ipynb").is_file(), f"fetch did not put {case} in {student}'s home"

    pages.open_assignment_list(page)
    pages.open_fetched_notebook(page, case, case)
    blank = kit.release_notebook(case)
    panel = pages.notebook_panel(page, len(blank.cells))
    pages.run_all_past_stubs(page, panel)
    setup_cell = pages.cells(panel).nth(2)
    setup_cell.scroll_into_view_if_needed()
    expect(setup_cell.locator(".jp-OutputArea-output").first).to_contain_text(f"student id '{student}'")
    row = _roster_first_row(panel)
    story.roster_rows[student] = row
    rep, hire, potential = _expected_roster_row(student)
    shown = [float(x) for x in row if re.fullmatch(r"-?\d+(\.\d+)?", x)]
    assert rep in row and hire in row and any(abs(x - float(potential)) < 0.01 for x in shown), (
        f"{student} sees {row}, not their own data (expected rep {rep}, hire month {hire}, potential {potential})")

    answers = kit.solved(case)
    dom = pages.cells(panel)
    for index, cell in enumerate(answers.cells):
        if cells.is_answer(cell):
            pages.type_into_cell(page, dom.nth(index), cell.source)
    dialog = pages.validate(page, panel)
    expect(dialog.locator(".validation-success")).to_be_visible()
    pages.close_dialog(dialog)
    pages.save(page)
    _submit(page, case)
    story.submitted[(student, case)] = 1

    if twice:
        written = kit.written_answers(blank)[0]
        page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text=f"{case}.ipynb").click()
        panel = pages.notebook_panel(page, len(blank.cells))
        pages.cells(panel).nth(written).scroll_into_view_if_needed()
        pages.type_into_cell(page, pages.cells(panel).nth(written), f"{WRITTEN_MARK} {answers.cells[written].source}")
        pages.save(page)
        page.wait_for_timeout(1100)  # nbgrader's timestamps are to the microsecond; be explicit
        _submit(page, case)
        story.submitted[(student, case)] = 2
    page.close()


def test_alice_works_on_her_data_and_submits_twice(deployment, people, story):
    _work(people, deployment, story, ALICE, twice=True)


def test_bob_works_on_his_data_and_submits(deployment, people, story):
    _work(people, deployment, story, BOB, twice=False)


def test_the_same_cell_shows_each_student_their_own_numbers(story):
    story.need("both students ran case 01", {ALICE, BOB} <= set(story.roster_rows))
    assert story.roster_rows[ALICE] != story.roster_rows[BOB], (
        f"both students see the same roster row: {story.roster_rows[ALICE]}")


def test_bob_submits_the_second_case_after_its_due_date(deployment, people, story):
    case = kit.CASE_LATE
    story.need(f"{case} released", case in story.released)
    page = people.lab(BOB)
    _fetch(page, case)
    kit.write_as(BOB, kit.solved(case), deployment.home(BOB) / case / f"{case}.ipynb")
    _submit(page, case)
    story.submitted[(BOB, case)] = 1
    page.close()


def test_submissions_are_in_the_exchange_and_private(deployment, story):
    inbound = deployment.settings.exchange_root / services.COURSE_ID / "inbound"
    found = sorted(p.name for p in inbound.iterdir())
    for (student, case), times in story.submitted.items():
        mine = [n for n in found if n.startswith(f"{student}+{case}+")]
        assert len(mine) == times, f"{student} submitted {case} {times}x, the exchange has {mine}"
        for name in mine:
            assert (inbound / name).stat().st_mode & 0o007 == 0, f"{name} is open to other accounts"


# --------------------------------------------------------------------------------------------
# 3. The instructor collects, grades (course grade on PostgreSQL, a written answer by hand)
# --------------------------------------------------------------------------------------------


def test_instructor_collects_in_the_formgrader(deployment, people, story):
    story.need("submissions", bool(story.submitted))
    page = people.formgrader_lab(services.INSTRUCTOR)
    frame = pages.open_formgrader(page)
    for case in (kit.CASE_ON_TIME, kit.CASE_LATE):
        _formgrader_row(frame, case).locator("td.collect a").click()
        _modal_ok(frame, f"Successfully collected submissions of '{case}'")
    for (student, case) in story.submitted:
        assert (deployment.course / "submitted" / student / case / f"{case}.ipynb").is_file()
    # the later of Alice's two submissions is the one collected
    alice = ipynb.read(deployment.course / "submitted" / ALICE / kit.CASE_ON_TIME / f"{kit.CASE_ON_TIME}.ipynb")
    written = kit.written_answers(alice)[0]
    assert alice.cells[written].source.startswith(WRITTEN_MARK), "collect kept Alice's first submission"
    page.close()


def test_course_grade_on_the_postgresql_gradebook(deployment, story):
    story.need("collected submissions", (deployment.course / "submitted").is_dir())
    auto_max = {case: kit.max_points(case)[0] for case in (kit.CASE_ON_TIME, kit.CASE_LATE)}
    for case in (kit.CASE_ON_TIME, kit.CASE_LATE):
        proc = kit.course_cmd(deployment, "grade", case, "--jobs", "2", check=False)
        assert proc.returncode == 0, f"course grade {case} failed on PostgreSQL:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        # the grader is an ordinary account: its fork server still starts every runner (no note)
        assert "fork server" not in proc.stdout + proc.stderr, (proc.stdout + proc.stderr)[-3000:]
        got = kit.scores(deployment, case)
        students = {s for (s, c) in story.submitted if c == case}
        assert set(got) == students, f"{case}: gradebook has {sorted(got)}, submitted {sorted(students)}"
        for student in students:
            assert got[student]["submissions"] == 1, f"{student}/{case} is in the gradebook twice"
            # full marks on their own data: each typed the solution code, run on their variant
            assert got[student]["auto"] == pytest.approx(auto_max[case]), (student, case, got[student])
        story.graded.add(case)
    late = kit.scores(deployment, kit.CASE_LATE)[BOB]
    on_time = kit.scores(deployment, kit.CASE_ON_TIME)
    # late_penalty = "zero" (hub.toml): nbgrader's plugin takes the whole score of a late one
    assert late["penalty"] == pytest.approx(late["auto"] + late["manual"]) and late["penalty"] > 0, late
    assert all(v["penalty"] == 0 for v in on_time.values()), on_time


def test_instructor_grades_a_written_answer_in_the_formgrader(deployment, people, story):
    story.need("case 01 graded", kit.CASE_ON_TIME in story.graded)
    case = kit.CASE_ON_TIME
    page = people.login(services.INSTRUCTOR)
    base = f"{deployment.hub.url}/services/{services.COURSE_ID}/formgrader"
    page.goto(f"{base}/gradebook/{case}/{case}")
    (alice_nb,), = kit.sql(deployment, f"""
        SELECT sn.id FROM submitted_notebook sn JOIN submitted_assignment s ON s.id = sn.assignment_id
        JOIN assignment a ON a.id = s.assignment_id WHERE a.name = '{case}' AND s.student_id = '{ALICE}'""")
    # the list is anonymised ("Submission #n"): open Alice's by its link
    with page.expect_response(lambda r: "/formgrader/api/grades?" in r.url):  # the score fields bind then
        page.locator(f'a.name-hidden[href*="/submissions/{alice_nb}"]').click()
    expect(page.locator("body")).to_contain_text(WRITTEN_MARK)
    blank = kit.release_notebook(case)
    grade_id = cells.nbgrader(blank.cells[kit.written_answers(blank)[0]])["grade_id"]
    score = page.locator(f'input.score[id="{grade_id}"]')
    expect(score).to_be_visible()
    points = kit.max_points(case)[1]
    page.wait_for_timeout(500)
    with page.expect_response(lambda r: "/formgrader/api/grade/" in r.url and r.request.method == "PUT"):
        score.fill(str(points - 1))
        score.press("Tab")  # the formgrader saves a score when the field changes and loses focus
    for _ in range(40):
        got = kit.scores(deployment, case)[ALICE]
        if got["manual"] == pytest.approx(points - 1):
            break
        page.wait_for_timeout(500)
    assert got["manual"] == pytest.approx(points - 1), got
    page.close()


# --------------------------------------------------------------------------------------------
# 4. Feedback: generated with course feedback, released in the formgrader, read by each student
# --------------------------------------------------------------------------------------------


def test_instructor_generates_and_releases_feedback(deployment, people, story):
    story.need("graded", story.graded >= {kit.CASE_ON_TIME, kit.CASE_LATE})
    for case in (kit.CASE_ON_TIME, kit.CASE_LATE):
        proc = kit.course_cmd(deployment, "feedback", case, check=False)
        assert proc.returncode == 0, f"course feedback {case}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    page = people.formgrader_lab(services.INSTRUCTOR)
    frame = pages.open_formgrader(page)
    for case in (kit.CASE_ON_TIME, kit.CASE_LATE):
        _formgrader_row(frame, case).locator("td.release-feedback a").click()
        _modal_ok(frame, f"Successfully released feedback of '{case}'")
        story.feedback.add(case)
    released = list((deployment.settings.exchange_root / services.COURSE_ID / "feedback").glob("*.html"))
    assert len(released) == len(story.submitted), released  # one page per student and case
    page.close()


def _read_feedback(people, deployment, student: str, case: str) -> Page:
    page = people.lab(student)
    pages.open_assignment_list(page)
    row = pages.assignment_row(page, "submitted", case)
    row.locator(".item_status button", has_text="Fetch Feedback").click()
    expect(row.get_by_text("(view feedback)").first).to_be_visible()
    pages_found = sorted((deployment.home(student) / case / "feedback").glob(f"*/{case}.html"))
    assert pages_found, f"no feedback for {student} under ~/{case}/feedback/"
    rel = pages_found[-1].relative_to(deployment.home(student))
    view = page.context.new_page()
    view.goto(f"{deployment.hub.url}/user/{student}/files/{rel}")
    return view


@pytest.mark.parametrize("student", [ALICE, BOB])
def test_each_student_reads_their_score_charts_and_no_hidden_tests(deployment, people, story, student):
    story.need("feedback released", kit.CASE_ON_TIME in story.feedback)
    case = kit.CASE_ON_TIME
    view = _read_feedback(people, deployment, student, case)
    got = kit.scores(deployment, case)[student]
    total = got["auto"] + got["manual"] - got["penalty"]
    auto_max, manual_max = kit.max_points(case)
    header = view.locator("h1, h2, .panel-heading").filter(has_text="Score").first
    expect(header).to_contain_text(f"{total:g}")
    expect(header).to_contain_text(f"{auto_max + manual_max:g}")
    charts = view.locator(".plotly-graph-div")
    expect(charts.first).to_be_attached()
    for i in range(charts.count()):
        expect(charts.nth(i).locator("svg.main-svg").first).to_be_attached()
    text = view.content()
    leaked = [line for line in kit.hidden_test_lines(case) if line in text]
    assert not leaked and "BEGIN HIDDEN TESTS" not in text, f"hidden tests in {student}'s feedback: {leaked[:3]}"
    if student == ALICE:
        assert WRITTEN_MARK in view.inner_text("body"), "Alice's feedback is not about her later submission"
    view.close()


def test_the_late_submission_shows_its_penalty(deployment, people, story):
    story.need("feedback released", kit.CASE_LATE in story.feedback)
    view = _read_feedback(people, deployment, BOB, kit.CASE_LATE)
    expect(view.locator("body")).to_contain_text(re.compile("late", re.IGNORECASE))
    got = kit.scores(deployment, kit.CASE_LATE)[BOB]
    assert got["auto"] + got["manual"] - got["penalty"] == pytest.approx(0), got
    view.close()


# --------------------------------------------------------------------------------------------
# 5. The export
# --------------------------------------------------------------------------------------------


def test_export_has_both_students_per_question(deployment, story):
    story.need("graded", kit.CASE_ON_TIME in story.graded)
    proc = kit.course_cmd(deployment, "export", check=False)
    assert proc.returncode == 0, f"course export on PostgreSQL:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    with (deployment.course / "export" / "grades.csv").open(encoding="utf-8") as handle:
        rows = {r["student_id"]: r for r in csv.DictReader(handle)}
    assert {ALICE, BOB} <= set(rows), f"grades.csv has {sorted(rows)}"
    case = kit.CASE_ON_TIME
    grade_ids = [cells.nbgrader(c)["grade_id"] for c in kit.source_notebook(case).cells
                 if cells.nbgrader(c).get("grade")]
    missing = [g for g in grade_ids if f"{case}/{g}" not in rows[ALICE]]
    assert not missing, f"grades.csv has no column for questions {missing[:5]}"
    for student in (ALICE, BOB):
        per_question = sum(float(rows[student][f"{case}/{g}"] or 0) for g in grade_ids)
        got = kit.scores(deployment, case)[student]
        assert per_question == pytest.approx(got["auto"] + got["manual"]), (student, per_question, got)
        assert float(rows[student][f"{case}/total"]) == pytest.approx(got["auto"] + got["manual"] - got["penalty"])
    # stock nbgrader reads the same PostgreSQL gradebook
    stock = kit.grader(deployment, str(services.ROOT / ".venv" / "bin" / "nbgrader"), "export", "--to", "stock-grades.csv", check=False)
    assert stock.returncode == 0, stock.stderr[-2000:]
    with (deployment.course / "stock-grades.csv").open(encoding="utf-8") as handle:
        stock_rows = list(csv.DictReader(handle))
    assert {ALICE, BOB} <= {r["student_id"] for r in stock_rows}
