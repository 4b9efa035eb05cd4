"""Every Chinese quotation in every case notebook is the article's own words, character for character.

The passages each case quotes are kept in ``course/articles/<assignment>.toml`` (see
:mod:`course.articles`). The notebooks are checked against those excerpts here, on every run;
the excerpts are checked against the collection's text itself when it is on this machine (it is
the course's source material, not part of the repository).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from course import articles
from course import ipynb as nbio
from tests.support import ASSIGNMENTS, ROOT

CASES = [a for a in ASSIGNMENTS if a.startswith("case")]
COLLECTION_FILE = Path(os.environ.get("COURSE_ARTICLES", ROOT.parent / "shared" / "case-material" / "articles.zh.txt"))


def case_notebooks(assignment: str) -> list[Path]:
    return sorted([*(ROOT / "source" / assignment).glob("*.ipynb"), *(ROOT / "release" / assignment).glob("*.ipynb")])


def passages(assignment: str, text: str) -> list[str]:
    """What must be the article's words: every Chinese run (English notebooks) or every
    passage in quotation marks (Chinese notebooks)."""
    return articles.quoted(text) if assignment.endswith("_zh") else articles.cjk_runs(text)


@pytest.mark.parametrize("assignment", CASES)
def test_every_case_has_an_article_file(assignment):
    article = articles.load(assignment)
    assert article.title and article.excerpts and 1 <= article.number <= 7


@pytest.mark.parametrize("assignment", CASES)
def test_notebook_quotations_are_verbatim_excerpts(assignment):
    article = articles.load(assignment)
    wrong = []
    for path in case_notebooks(assignment):
        for i, cell in enumerate(nbio.read(path).cells):
            for passage in passages(assignment, cell.source):
                if not article.covers(passage):
                    wrong.append(f"{path.relative_to(ROOT)} cell {i}: {passage!r}")
    assert not wrong, (f"not verbatim in course/articles/{articles.base_assignment(assignment)}.toml "
                       "(quote the article character for character, or add the passage there):\n  "
                       + "\n  ".join(wrong))


@pytest.mark.parametrize("assignment", CASES)
def test_notebook_cites_title_author_and_collection_not_a_path(assignment):
    article = articles.load(assignment)
    for path in case_notebooks(assignment):
        text = "\n".join(c.source for c in nbio.read(path).cells)
        assert "case-material" not in text and "articles.zh.txt" not in text, path
        assert article.title in text and articles.COLLECTION in text, path
        if article.author:
            assert article.author.split(" ")[0] in text, path


def test_the_run_detector_is_not_vacuous():
    """A changed character (full-width comma for the article's ASCII one) is caught."""
    article = articles.Article("x", 1, "标题", "", "", (articles.Excerpt("三个稳定,三个变化。", ""),))
    assert article.covers(articles.cjk_runs("(三个稳定,三个变化)")[0])
    assert not article.covers(articles.cjk_runs("(三个稳定，三个变化)")[0])
    assert articles.cjk_runs("plain English only") == []


@pytest.fixture(scope="module")
def collection() -> dict[int, str]:
    if not COLLECTION_FILE.is_file():
        pytest.skip(f"the article collection is not on this machine ({COLLECTION_FILE}; set COURSE_ARTICLES): "
                    "excerpts are checked against it where it is")
    return articles.sections(COLLECTION_FILE.read_text(encoding="utf-8"))


@pytest.mark.parametrize("assignment", articles.known())
def test_excerpts_are_verbatim_in_the_article(collection, assignment):
    article = articles.load(assignment)
    section = collection[article.number]
    assert article.title in section
    missing = [e.text for e in article.excerpts if e.text not in section]
    assert not missing, f"not in 篇{article.number}: {missing}"
