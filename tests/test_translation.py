"""Every case is also released in Chinese, from the one English source, and never drifts from it.

What is checked, and where (the Chinese assignments ``<case>_zh`` are in ``ASSIGNMENTS``, so the
tests of a notebook as released run on them too: clean and leak-free in ``test_release.py``,
release in sync with source there, ``course check`` in ``test_solutions.py``, quotations in
``test_quotations.py``; the data and grading tests run on the English ``CASES`` only, because a
translation has the same code and data, which this file proves):

- **sync**: every text a student reads in the English notebook has a current translation (the
  catalogue's hash is the English text's), the committed ``source/<case>_zh/`` is exactly what
  the English source and the catalogue make, and a changed English text is reported until its
  translation is updated (shown on a small notebook, so the detector is not vacuous);
- **no English left** a student sees (the rule: :mod:`course.i18n.english`), statically on
  every Chinese source and release, and in what each Chinese notebook prints and draws;
- **same assignment**: same cells and cell ids, grade ids, points, nbgrader metadata, solutions
  and hidden tests, and code that differs only in the text of its strings (syntax trees
  compared); a translation that would change code is refused;
- **same data**: one student gets exactly the English assignment's answer key in Chinese (the
  seed comes from the English id);
- **same grade**: ``course grade`` gives the same answers the same scores in both languages,
  stock ``nbgrader autograde`` agrees on the Chinese one, the export says which language each
  student took and the feedback pages show Chinese;
- the kit's own messages (setup, checks) have Chinese templates with the same placeholders.
"""

from __future__ import annotations

import ast
import csv
import json
import os
import re
import shutil
import warnings
from pathlib import Path

import nbformat
import pytest

from course import cells, checks, i18n, ipynb, notebook, variants
from course.authoring import build, key, submissions
from course.errors import CourseError
from course.gradebook import read_score
from course.grading import batch
from course.i18n import catalogue as catmod
from course.i18n import english, generate, release, units
from course.i18n import sync as syncmod
from course.layout import Course, notebooks
from course.reports import export, feedback
from course.sandboxed import values
from tests.support import CASES, COURSE, ROOT, TRANSLATED, sandbox_problem, scratch_course

LANGUAGE = "zh"
PAIRS = [(i18n.base_of(t), t) for t in TRANSLATED]
ALLOWED = set(release.allowed_words(LANGUAGE))


def english_notebook(case: str):
    return ipynb.read(ROOT / "source" / case / f"{case}.ipynb")


def translated_notebook(folder: str, translated: str):
    return ipynb.read(ROOT / folder / translated / f"{translated}.ipynb")


def test_every_case_has_a_chinese_version():
    assert sorted(f"{c}_{LANGUAGE}" for c in CASES) == sorted(TRANSLATED)


# ---- sync ------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_every_text_has_a_current_translation(case):
    """Fails, naming each entry, when an English text changed and its translation did not."""
    status = syncmod.status(english_notebook(case), catmod.load(case, LANGUAGE), catmod.common(LANGUAGE),
                            ALLOWED, name=case)
    todo = ([f"not translated: {m}" for m in status.missing] + [f"out of date: {s}" for s in status.stale]
            + [f"unused: {u}" for u in status.unused])
    assert not todo, (f"course/i18n/{LANGUAGE}/{case}.toml is out of step with source/{case}: run "
                      f"`python -m course.i18n sync {case}`, update every entry marked fuzzy or empty, "
                      f"then `course build {case}`:\n  " + "\n  ".join(todo))


def test_every_shared_translation_is_used():
    wanted = {(u.kind, u.key) for case in CASES for u in units.notebook_units(english_notebook(case), ALLOWED)}
    unused = [e.en for e in catmod.common(LANGUAGE).entries if e.key not in wanted]
    assert not unused, f"course/i18n/{LANGUAGE}/common.toml entries no notebook uses: {unused}"


@pytest.mark.parametrize("translated", TRANSLATED)
def test_committed_source_is_what_the_english_and_the_catalogue_make(translated):
    rendered = release.render_source(COURSE, translated)
    assert rendered
    for target, (nb, report) in rendered.items():
        assert report.complete, report.lines()
        assert target.is_file(), f"{target} missing: run `course build {i18n.base_of(translated)}`"
        assert nbformat.writes(ipynb.clean(nb)) == ipynb.canonical_text(target), (
            f"{target.relative_to(ROOT)} is stale or edited by hand: it is generated; run "
            f"`course build {i18n.base_of(translated)}` and commit")


# ---- no English a student sees -----------------------------------------------------------------


@pytest.mark.parametrize("translated", TRANSLATED)
@pytest.mark.parametrize("folder", ["source", "release"])
def test_no_english_in_what_a_student_reads(translated, folder):
    case = i18n.base_of(translated)
    kept = [e.en for e in catmod.load(case, LANGUAGE).entries if e.keep]
    found = english.in_notebook(translated_notebook(folder, translated),
                                identifiers=units.notebook_identifiers(english_notebook(case)),
                                allowed=ALLOWED, kept=kept)
    assert not found, (f"English left in {folder}/{translated} (translate it in course/i18n/{LANGUAGE}/{case}.toml, "
                       "put code in backticks, or add a name to allowed.toml):\n  " + "\n  ".join(found))


def test_every_kept_string_says_why():
    for case in CASES:
        for entry in catmod.load(case, LANGUAGE).entries:
            if entry.keep:
                assert entry.zh == entry.en and len(entry.keep) > 20, (case, entry.en, entry.keep)


# ---- the same assignment --------------------------------------------------------------------


def _solution_lines(source: str) -> list[str]:
    return cells.split_regions(source, cells.DEFAULT_MARKERS.begin_solution, cells.DEFAULT_MARKERS.end_solution)[1]


@pytest.mark.parametrize(("case", "translated"), PAIRS)
def test_same_cells_grade_ids_points_solutions_and_code(case, translated):
    en, zh = english_notebook(case), translated_notebook("source", translated)
    assert [(c.cell_type, c.id, cells.nbgrader(c)) for c in zh.cells] == \
           [(c.cell_type, c.id, cells.nbgrader(c)) for c in en.cells]
    for a, b in zip(en.cells, zh.cells, strict=True):
        if a.cell_type != "code":
            continue
        assert generate.signature(b.source) == generate.signature(a.source), f"cell {a.id}: code differs"
        assert _solution_lines(b.source) == _solution_lines(a.source), f"cell {a.id}: solution differs"
    setup_calls = [b.source for b in zh.cells if 'language="zh"' in b.source]
    assert len(setup_calls) == 1 and f'setup("{case}", language="zh")' in setup_calls[0]


@pytest.mark.parametrize(("case", "translated"), PAIRS)
def test_releases_have_the_same_graded_cells_and_points(case, translated):
    def graded(nb):
        return [(cells.grade_id(c), cells.nbgrader(c).get("points"), cells.role(c)) for c in nb.cells
                if cells.grade_id(c)]

    en = ipynb.read(ROOT / "release" / case / f"{case}.ipynb")
    zh = translated_notebook("release", translated)
    assert graded(zh) == graded(en)
    stubs = [c.source for c in zh.cells if cells.is_answer(c)]
    assert stubs and all(release.STUBS[LANGUAGE]["code"] in s or release.STUBS[LANGUAGE]["text"] in s
                         for s in stubs), "the release's answer stubs are nbgrader's, in Chinese"


def _mini_notebook():
    from course.authoring import answer, code, md, readonly, test
    from course.authoring import notebook as make_notebook

    return make_notebook([
        md("# A small case\n\nSales grew **12%** in 2010."),
        readonly("setup", 'from course.notebook import setup\nSEED = setup("mini")'),
        code('print(f"Mean: {SEED} units a week")  # the weekly mean\n'
             'fig_title = dict(title="Sales by week", x_title="Week")'),
        answer("x", "### BEGIN SOLUTION\nx = 1.0\n### END SOLUTION"),
        test("x_value", 1, '"""x: a positive float."""\nfrom course import checks\n'
                           'checks.check_number(x, "x", low=0, hint="Use the weekly mean.")'),
    ])


def _mini_catalogue(nb) -> catmod.Catalogue:
    zh = {"# A small case\n\nSales grew **12%** in 2010.": "# 一个小案例\n\n2010 年销售额增长了 **12%**。",
          "Mean: {SEED} units a week": "均值：每周 {SEED} 件", "the weekly mean": "周均值",
          "Sales by week": "按周的销售额", "Week": "周", "x: a positive float.": "x：一个正的 float。",
          "Use the weekly mean.": "使用周均值。"}
    synced, _ = syncmod.sync(nb, catmod.Catalogue("mini", LANGUAGE), catmod.Catalogue("c", LANGUAGE), set())
    entries = [e.__class__(**{**e.__dict__, "zh": zh[e.en]}) for e in synced.entries]
    assert len(entries) == len(zh), [e.en for e in synced.entries]
    return catmod.Catalogue("mini", LANGUAGE, entries)


def test_translation_replaces_text_only_and_adds_the_language():
    nb = _mini_notebook()
    out, report = generate.translate(nb, _mini_catalogue(nb), catmod.Catalogue("c", LANGUAGE), language=LANGUAGE,
                                     allowed=set())
    assert report.complete
    assert out.cells[0].source.startswith("# 一个小案例")
    assert 'setup("mini", language="zh")' in out.cells[1].source
    assert 'print(f"均值：每周 {SEED} 件")  # 周均值' in out.cells[2].source
    assert 'title="按周的销售额", x_title="周"' in out.cells[2].source
    assert 'hint="使用周均值。"' in out.cells[4].source and '"""x：一个正的 float。"""' in out.cells[4].source
    assert out.cells[3].source == nb.cells[3].source  # a solution is code: never translated


def test_a_changed_english_text_is_reported_until_its_translation_is_updated():
    nb = _mini_notebook()
    catalogue = _mini_catalogue(nb)
    assert syncmod.status(nb, catalogue, catmod.Catalogue("c", LANGUAGE), set()).ok
    nb.cells[0].source = "# A small case\n\nSales grew **15%** in 2010."
    nb.cells[4].source = nb.cells[4].source.replace("Use the weekly mean.", "Use the mean per week.")
    status = syncmod.status(nb, catalogue, catmod.Catalogue("c", LANGUAGE), set())
    assert len(status.stale) == 2 and not status.missing and not status.unused, status
    assert "15%" in status.stale[0]
    # the generated notebook keeps the old translation as a stand-in and says so
    _, report = generate.translate(nb, catalogue, catmod.Catalogue("c", LANGUAGE), language=LANGUAGE, allowed=set())
    assert len(report.stale) == 1 and len(report.missing) == 1  # the markdown cell; the changed hint
    # sync turns both into fuzzy drafts that keep the old English and the old translation
    synced, summary = syncmod.sync(nb, catalogue, catmod.Catalogue("c", LANGUAGE), set())
    drafts = {e.en: e for e in summary.drafts}
    assert set(drafts) == {nb.cells[0].source, "Use the mean per week."}
    assert drafts["Use the mean per week."].previous_en == "Use the weekly mean."
    assert drafts["Use the mean per week."].zh == "使用周均值。"
    assert not syncmod.status(nb, synced, catmod.Catalogue("c", LANGUAGE), set()).ok  # still fuzzy
    fixed = [e.__class__(**{**e.__dict__, "fuzzy": False, "previous_en": ""}) for e in synced.entries]
    assert syncmod.status(nb, catmod.Catalogue("mini", LANGUAGE, fixed), catmod.Catalogue("c", LANGUAGE), set()).ok


@pytest.mark.parametrize(("english_text", "translation", "message"), [
    ("Mean: {SEED} units a week", "均值：每周 {SEED:.1f} 件", "placeholders"),
    ("Mean: {SEED} units a week", "均值：每周 件", "placeholders"),
    ("Sales by week", 'a" + str(SEED) + "b', "changes the code"),
    ("Sales by week", '按周"的销售额', "not valid Python"),
])
def test_a_translation_that_would_change_code_is_refused(english_text, translation, message):
    nb = _mini_notebook()
    catalogue = _mini_catalogue(nb)
    catalogue.entries = [e.__class__(**{**e.__dict__, "zh": translation}) if e.en == english_text else e
                         for e in catalogue.entries]
    with pytest.raises(CourseError, match=message):
        generate.translate(nb, catalogue, catmod.Catalogue("c", LANGUAGE), language=LANGUAGE, allowed=set())


def test_the_english_rule_is_not_vacuous():
    from course.authoring import code, md
    from course.authoring import notebook as make_notebook

    idents = {"SEED", "DataFrame"}
    nb = make_notebook([
        md("## 第 1 部分\n\nThe stores share a regional factor."),
        md("用 `demand` 和 SEED 计算 CV（见 Eppen 公式），「三个稳定,三个变化。」\n\n## 参考文献\n- Eppen, G. D. (1979). Effects."),
        code('finish(fig, title="单店的周需求", x_title="Week", y_title="周需求量")'),
        code('checks.check_number(x, "x", hint="Divide by the mean.")'),
        code("# 请运行此单元格\nx = 1  # store totals"),
        code('print(f"demand：{n} 行")'),
    ])
    found = english.in_notebook(nb, identifiers=idents, allowed={"CV", "Eppen"})
    assert [p.split(" ")[1] for p in found] == [nb.cells[i].id for i in (0, 2, 3, 4, 5)], found
    assert any("'Week'" in p for p in found) and any("'demand'" in p for p in found)


def test_catalogue_files_read_back_exactly(tmp_path):
    tricky = ["a\\b $\\frac{1}{2}$", "it's", 'say "hi"', "line\nnext'", "'''triple'''\nx", "tab\tand\r", ""]
    entries = [catmod.Entry("string", text, text.upper()) for text in tricky]
    path = catmod.write(catmod.Catalogue("mini", LANGUAGE, entries, tmp_path / "mini.toml"))
    back = catmod.read(path, LANGUAGE)
    assert [(e.en, e.zh, e.hash) for e in back.entries] == [(e.en, e.zh, units.digest(e.en)) for e in entries]


def test_a_malformed_catalogue_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[entry]]\nkind = "markdown"\nen = "x"\nzh = "y"\n', encoding="utf-8")
    with pytest.raises(CourseError, match="needs the cell id"):
        catmod.read(bad, LANGUAGE)
    bad.write_text("[[entry\n", encoding="utf-8")
    with pytest.raises(CourseError, match="not valid TOML"):
        catmod.read(bad, LANGUAGE)


def test_build_warns_and_keeps_the_old_translation_when_the_english_changed(tmp_path):
    """The English author is not blocked by a translation: ``course build`` warns (and the sync
    test above fails) until the catalogue is updated."""
    case = "case06_marketing_reform"
    scratch = scratch_course(tmp_path / "course")
    path = scratch.source(case) / f"{case}.ipynb"
    nb = ipynb.read(path)
    first = next(c for c in nb.cells if c.cell_type == "markdown")
    first.source += "\n\nOne more sentence."
    ipynb.write(nb, path)
    with pytest.warns(release.TranslationIncomplete, match="out of date"):
        build.build(scratch, case)
    zh = ipynb.read(scratch.source(f"{case}_zh") / f"{case}_zh.ipynb")
    assert zh.cells[0].source == translated_notebook("source", f"{case}_zh").cells[0].source
    assert (scratch.release(f"{case}_zh") / f"{case}_zh.ipynb").is_file()


# ---- the kit's own messages ----------------------------------------------------------------------


def _message_templates() -> dict[str, str]:
    """Every English template the kit passes to ``i18n.text`` (or checks' ``_fail``), and where."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "course").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else ""
            if (name == "text" and owner == "i18n") or (name == "_fail" and path.name == "checks.py"):
                found[node.args[0].value] = f"{path.relative_to(ROOT)}:{node.lineno}"
    return found


def test_every_kit_message_has_a_chinese_template_with_the_same_placeholders():
    templates = _message_templates()
    assert len(templates) >= 20, templates  # the checks and the setup line
    chinese = i18n.messages(LANGUAGE)
    missing = [f"{where}: {t!r}" for t, where in templates.items() if t not in chinese]
    assert not missing, f"add to course/i18n/{LANGUAGE}/messages.toml:\n  " + "\n  ".join(missing)
    assert not set(chinese) - set(templates), f"unused templates: {sorted(set(chinese) - set(templates))}"
    for en, zh in chinese.items():
        assert generate.placeholders(zh) == generate.placeholders(en), (en, zh)
        assert not english.found(zh, identifiers=set(), allowed=ALLOWED), zh


def test_checks_speak_the_notebook_language():
    import pandas as pd

    def message(call) -> str:
        with pytest.raises(checks.CheckFailed) as caught:
            call()
        return str(caught.value)

    cases = [lambda: checks.check_number("3", "share", low=0), lambda: checks.check_number(2.0, "share", high=1,
                                                                                            hint="一个比例。"),
             lambda: checks.check_series(pd.DataFrame({"a": [1]}), "s"), lambda: checks.expect_close(1.0, 2.0, "x"),
             lambda: checks.check_frame(pd.DataFrame({"a": [1]}), "f", columns=["b"])]
    english_messages = [message(c) for c in cases]
    try:
        i18n.use(LANGUAGE)
        chinese_messages = [message(c) for c in cases]
    finally:
        i18n.use(i18n.SOURCE_LANGUAGE)
    assert english_messages[0].startswith("`share` should be a number")
    for en, zh in zip(english_messages, chinese_messages, strict=True):
        assert zh != en and re.search("[\u4e00-\u9fff]", zh), zh
        assert not english.found(zh, identifiers={"DataFrame", "Series"}, allowed=ALLOWED | {"share", "s", "f"}), zh
    assert "高于 1" in chinese_messages[1] and chinese_messages[1].endswith("一个比例。")


def test_setup_keeps_the_english_seed_and_speaks_chinese(monkeypatch, capsys):
    monkeypatch.setenv(variants.STUDENT_ENV, "wang.fang")
    monkeypatch.setenv(variants.SWITCH_ENV, "on")
    try:
        seed_en = notebook.setup("case02_logistics")
        printed_en = capsys.readouterr().out
        seed_zh = notebook.setup("case02_logistics", language=LANGUAGE)
        printed_zh = capsys.readouterr().out
        assert i18n.current() == LANGUAGE
    finally:
        i18n.use(i18n.SOURCE_LANGUAGE)
    assert seed_en == seed_zh == variants.seed_for("case02_logistics", "wang.fang")
    assert printed_en.startswith("Data: your own variant") and printed_zh.startswith("数据：学生编号 'wang.fang'")


# ---- the same data: one student's answer key in both languages ---------------------------------------


@pytest.mark.parametrize(("case", "translated"), PAIRS)
def test_a_student_gets_the_same_numbers_in_both_languages(case, translated):
    student = "s2024001"  # no Latin word in it: the id is printed by the setup cell
    en = key.compute_key(COURSE, case, student)
    zh = key.compute_key(COURSE, translated, student)
    assert en.seed == zh.seed == variants.seed_for(case, student)
    assert en.values and set(zh.values) == set(en.values)
    differ = [n for n in en.values
              if json.dumps(values.encode(zh.values[n]), sort_keys=True) != json.dumps(values.encode(en.values[n]),
                                                                                          sort_keys=True)]
    assert not differ, f"{translated} computes other answers than {case} for the same student: {differ}"
    # what the Chinese notebook prints and draws, on that student's data
    found = english.in_outputs(zh.executed, names=english.code_names(english_notebook(case)), allowed=ALLOWED)
    assert not found, "\n  ".join(found)


# ---- the same grade: course grade, stock nbgrader, export, feedback ----------------------------------

GRADED_CASE = "case06_marketing_reform"  # the quickest case to run


def _wrong_type(source_nb, release_nb):
    """The release with the first answer's names set to text: every check of it fails."""
    first = next(c for c in source_nb.cells if cells.is_autograded_answer(c))
    names = key.assigned_names(cells.solution_text(first.source))
    return submissions.with_answers(release_nb, {cells.grade_id(first): "\n".join(f'{n} = "wrong"' for n in names)})


STUDENTS = {"alice": submissions.reference, "bob": submissions.partial, "carol": submissions.blank,
            "dan": _wrong_type}
ONLY_CHINESE = {"erin": submissions.reference}


@pytest.fixture(scope="module")
def graded_both(tmp_path_factory):
    if sandbox_problem() is not None:
        from tests.support import require_sandbox

        require_sandbox()
    case, translated = GRADED_CASE, f"{GRADED_CASE}_{LANGUAGE}"
    base = tmp_path_factory.mktemp("both")
    course = scratch_course(base / "course")
    with warnings.catch_warnings():
        warnings.simplefilter("error", release.TranslationIncomplete)
        build.build(course, case)  # the English release and, from it, the Chinese source and release
    for name, makers in ((case, STUDENTS), (translated, {**STUDENTS, **ONLY_CHINESE})):
        src = notebooks(course.source(name))[0]
        for student, make in makers.items():
            nb = make(ipynb.read(src), ipynb.read(course.release(name) / src.name))
            ipynb.write(nb, course.submitted(student, name) / src.name)
    stock = Course.load(Path(shutil.copytree(course.root, base / "stock")))
    results = {name: batch.grade(course, name, batch.Options(jobs=2)) for name in (case, translated)}
    for student in {**STUDENTS, **ONLY_CHINESE}:  # stock nbgrader, each student on their own data
        env = {**os.environ, variants.STUDENT_ENV: student}
        stock.run_nbgrader("autograde", translated, "--student", student, "--force", "--log-level=ERROR", env=env)
    pages = feedback.generate(course, translated, jobs=2)
    exported = export.write(course, base / "export")
    return course, stock, results, pages, exported


@pytest.mark.sandbox
@pytest.mark.parametrize("student", list(STUDENTS))
def test_same_answers_same_scores_in_both_languages(graded_both, student):
    course, _, results, _, _ = graded_both
    en = read_score(course, GRADED_CASE, student)
    zh = read_score(course, f"{GRADED_CASE}_{LANGUAGE}", student)
    problems = [o.all_problems for r in results.values() for o in r.outcomes if o.student == student]
    assert (zh.auto, zh.max_auto, zh.cells, zh.manual_max) == (en.auto, en.max_auto, en.cells, en.manual_max), problems


@pytest.mark.sandbox
def test_the_graded_students_span_full_zero_and_in_between(graded_both):
    course, *_ = graded_both
    scores = {s: read_score(course, f"{GRADED_CASE}_{LANGUAGE}", s) for s in (*STUDENTS, *ONLY_CHINESE)}
    assert scores["alice"].auto == scores["alice"].max_auto == scores["erin"].auto > 0
    assert scores["carol"].auto == 0 and 0 < scores["bob"].auto < scores["alice"].auto
    assert scores["dan"].auto < scores["alice"].auto


@pytest.mark.sandbox
@pytest.mark.parametrize("student", [*STUDENTS, *ONLY_CHINESE])
def test_stock_nbgrader_grades_the_chinese_assignment_the_same(graded_both, student):
    course, stock, *_ = graded_both
    translated = f"{GRADED_CASE}_{LANGUAGE}"
    ours, theirs = read_score(course, translated, student), read_score(stock, translated, student)
    assert (ours.auto, ours.cells) == (theirs.auto, theirs.cells)


@pytest.mark.sandbox
def test_export_tells_which_language_each_student_took(graded_both):
    *_, exported = graded_both
    grades_csv = next(p for p in exported if p.name == "grades.csv")
    with grades_csv.open(encoding="utf-8") as fh:
        rows = {r["student_id"]: r for r in csv.DictReader(fh)}
    assert rows["alice"]["language"] == "en+zh" and rows["erin"]["language"] == "zh"
    translated = f"{GRADED_CASE}_{LANGUAGE}"
    assert rows["erin"][f"{GRADED_CASE}/total"] == "" and float(rows["erin"][f"{translated}/total"]) > 0
    assert rows["alice"][f"{GRADED_CASE}/total"] == rows["alice"][f"{translated}/total"]


@pytest.mark.sandbox
def test_feedback_pages_show_chinese(graded_both):
    course, _, _, pages, _ = graded_both
    translated = f"{GRADED_CASE}_{LANGUAGE}"
    assert all(not p.problems for p in pages), [p.problems for p in pages]
    page = (course.feedback("dan", translated) / f"{translated}.html").read_text(encoding="utf-8")
    assert '<meta charset="utf-8">' in page.lower() or "charset=utf-8" in page.lower()
    zh = translated_notebook("source", translated)
    heading = next(line for line in zh.cells[0].source.splitlines() if line.startswith("# "))
    assert heading[2:] in page  # the narrative, in Chinese
    assert "应为 pandas Series" in page  # the failed check's message, in Chinese
    assert "should be a pandas Series" not in page


def test_fonts_for_chinese_are_installed_for_the_browser_and_feedback():
    """Feedback HTML and JupyterLab draw Chinese with the system's CJK font (Debian's
    fonts-noto-cjk, which .ci/run installs): fontconfig must find one for Chinese."""
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        pytest.skip("fontconfig is not installed here (no browser either)")
    import subprocess

    found = subprocess.run([fc_match, "-f", "%{family}\n", "sans-serif:lang=zh-cn"], capture_output=True, text=True,
                           check=False).stdout
    assert "CJK" in found or "Hei" in found or "Song" in found, (
        f"no Chinese font for the browser tests and feedback pages (fc-match says {found.strip()!r}); "
        "apt-get install fonts-noto-cjk")
