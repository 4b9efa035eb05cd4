"""The committed release is clean, leak-free and exactly what `course build` makes from source."""

from __future__ import annotations

import re

import pytest

from course import cells, ipynb
from course.authoring import build
from course.layout import notebooks as list_notebooks
from tests.support import ASSIGNMENTS, COURSE, ROOT, scratch_course

AUTO_ID = re.compile(r"cell-[0-9a-f]{16}")


def all_notebooks():
    for folder in ("source", "release"):
        for name in ASSIGNMENTS:
            for path in list_notebooks(ROOT / folder / name):
                yield pytest.param(path, id=f"{folder}/{name}/{path.name}")


@pytest.mark.parametrize("path", list(all_notebooks()))
def test_notebook_is_clean(path):
    assert ipynb.problems(ipynb.read(path)) == []


@pytest.mark.parametrize("path", list(all_notebooks()))
def test_grade_ids_are_meaningful_and_unique(path):
    ids = [cells.grade_id(c) for c in ipynb.read(path).cells if cells.grade_id(c)]
    assert ids, "an assignment notebook needs graded cells"
    assert not [i for i in ids if AUTO_ID.fullmatch(i)], "auto-generated grade ids"
    assert len(ids) == len(set(ids)), "duplicate grade ids"
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in ids), ids


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_release_exists_for_every_source(name):
    src = [p.name for p in list_notebooks(ROOT / "source" / name)]
    rel = [p.name for p in list_notebooks(ROOT / "release" / name)]
    assert src and src == rel


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_release_has_no_leaks_or_stray_files(name):
    for src in list_notebooks(ROOT / "source" / name):
        assert build.leaks(src, ROOT / "release" / name / src.name) == []
    assert build.unexpected_files(COURSE, name) == []


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_release_in_sync_with_source(name, tmp_path):
    scratch = scratch_course(tmp_path / "course")
    build.build(scratch, name)
    for committed in list_notebooks(ROOT / "release" / name):
        rebuilt = scratch.release(name) / committed.name
        assert ipynb.canonical_text(rebuilt) == ipynb.canonical_text(committed), (
            f"release/{name}/{committed.name} is stale: run `course build {name}` and commit"
        )


def test_leak_detector_catches_a_leak(tmp_path):
    """The leak check is not vacuous: a release cell that keeps a solution line is reported."""
    from course.authoring import answer, notebook, test

    src = notebook([answer("q", "### BEGIN SOLUTION\nsecret_value = 42 * 2\n### END SOLUTION"),
                    test("q_value", 1, "assert q\n### BEGIN HIDDEN TESTS\nassert secret_value == 84\n### END HIDDEN TESTS")])
    rel = notebook([answer("q", "secret_value = 42 * 2"), test("q_value", 1, "assert q")])
    ipynb.write(src, tmp_path / "s.ipynb")
    ipynb.write(rel, tmp_path / "r.ipynb")
    found = [str(x) for x in build.leaks(tmp_path / "s.ipynb", tmp_path / "r.ipynb")]
    assert len(found) == 1 and "secret_value = 42 * 2" in found[0]
    rel2 = notebook([answer("q", "raise NotImplementedError()"), test("q_value", 1, "assert q\n### BEGIN HIDDEN TESTS\nassert secret_value == 84")])
    ipynb.write(rel2, tmp_path / "r2.ipynb")
    found2 = [str(x) for x in build.leaks(tmp_path / "s.ipynb", tmp_path / "r2.ipynb")]
    assert any("BEGIN HIDDEN TESTS" in f for f in found2)
    assert any("assert secret_value == 84" in f for f in found2)
