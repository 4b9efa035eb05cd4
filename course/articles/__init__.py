"""The case articles: how each notebook cites its article, and the passages it quotes.

The seven articles (篇1–篇7) are the course's source material; they are not part of this
repository. What the notebooks quote from them is kept here, one TOML file per case
(``course/articles/<assignment>.toml``)::

    article = 1                       # 篇1 of the collection
    title = "建立高效医药营销体系的游戏规则(一)"
    title_en = "The rules of the game for building an efficient pharma marketing system (1)"
    author = "史立臣 (Shi Lichen)"     # "" where the article names none

    [[excerpt]]
    text = "三个稳定,三个变化。"        # verbatim, character for character (the article's
    where = "篇1, paragraph 4"          # own punctuation: it uses ASCII commas and colons)

Rules (``tests/test_quotations.py``):

- every excerpt occurs verbatim in its article (checked against the collection's text when it
  is on the machine: ``COURSE_ARTICLES`` or ``../shared/case-material/articles.zh.txt``);
- every run of Chinese text in an English notebook of the case occurs verbatim inside one of
  its excerpts (a gloss such as (组织瘫痪) is a quotation too); in a Chinese notebook, every
  passage inside quotation marks “…” or 「…」 does;
- a notebook cites its article by title, author and collection (:data:`COLLECTION`), never by
  a file path a student does not have.

>>> cjk_runs("the owner's plan is 水中花镜中月 (flowers in water), see 三个稳定,三个变化.")
['水中花镜中月', '三个稳定,三个变化']
>>> quoted("他说“三个稳定,三个变化”和「营销战略」")
['三个稳定,三个变化', '营销战略']
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources

#: The collection the seven articles were published in (its own heading), and its gloss.
COLLECTION = "建立高效医药营销体系的游戏规则(共7篇)"
COLLECTION_EN = "The rules of the game for building efficient marketing systems (a collection of seven articles)"

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_PUNCT = "\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65“”‘’…—·"
#: A run of Chinese text: starts with a Chinese character and may carry Chinese punctuation and,
#: between Chinese characters, digits and the ASCII punctuation the articles use (",", ":").
_RUN = re.compile(
    rf"[{_CJK}](?:[{_CJK}{_CJK_PUNCT}]|[0-9A-Za-z,:;!?%.()\-]+(?=[{_CJK}{_CJK_PUNCT}]))*"
)
_QUOTED = re.compile(r"“([^”]*)”|「([^」]*)」")


def cjk_runs(text: str) -> list[str]:
    """Every maximal run of Chinese text in ``text`` (trailing brackets and quotes dropped)."""
    runs = []
    for match in _RUN.finditer(text):
        run = match.group(0).rstrip("“‘（(")
        if run.count("“") != run.count("”"):
            run = run.replace("“", "").replace("”", "") if not run.startswith("“") else run.strip("“”")
        runs.append(run.strip("”’）)"))
    return [r for r in runs if r]


def quoted(text: str) -> list[str]:
    """The passages inside Chinese quotation marks (“…” or 「…」) that contain Chinese."""
    found = [a or b for a, b in _QUOTED.findall(text)]
    return [q for q in found if re.search(f"[{_CJK}]", q)]


@dataclass(frozen=True)
class Excerpt:
    text: str
    where: str


@dataclass(frozen=True)
class Article:
    assignment: str
    number: int  # 篇N of the collection
    title: str
    title_en: str
    author: str
    excerpts: tuple[Excerpt, ...]

    def covers(self, passage: str) -> bool:
        """Whether ``passage`` stands verbatim inside one of the excerpts, or in the citation
        itself: the title, the collection's title (:data:`COLLECTION`) or the label 篇N.

        >>> a = Article("x", 2, "标题", "", "", (Excerpt("三个稳定,三个变化。", ""),))
        >>> [a.covers(p) for p in ("三个稳定", "篇", "建立高效医药营销体系的游戏规则(共7篇", "三个变化,")]
        [True, True, True, False]
        """
        citation = (self.title, COLLECTION, f"篇{self.number}")
        return any(passage in c for c in citation) or any(passage in e.text for e in self.excerpts)


def base_assignment(assignment: str) -> str:
    """The English assignment a translated one comes from (``case02_logistics_zh`` → ``case02_logistics``).

    Only a language suffix is stripped, so an assignment whose own name ends in two letters
    keeps its name:

    >>> base_assignment("case02_logistics_zh"), base_assignment("case03_pharma_hr")
    ('case02_logistics', 'case03_pharma_hr')
    """
    return re.sub(r"_(zh|en)$", "", assignment)


def load(assignment: str) -> Article:
    """The article of ``assignment`` (a translated assignment shares its English one's)."""
    base = base_assignment(assignment)
    try:
        text = resources.files(__package__).joinpath(f"{base}.toml").read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise KeyError(f"no article file course/articles/{base}.toml") from exc
    data = tomllib.loads(text)
    excerpts = tuple(Excerpt(e["text"], e.get("where", "")) for e in data.get("excerpt", []))
    return Article(base, int(data["article"]), data["title"], data.get("title_en", ""),
                   data.get("author", ""), excerpts)


def known() -> list[str]:
    """Assignments that have an article file."""
    return sorted(p.name.removesuffix(".toml") for p in resources.files(__package__).iterdir()
                  if p.name.endswith(".toml"))


def sections(collection_text: str) -> dict[int, str]:
    """The collection's text split into its articles, by the ``篇N:`` headings."""
    parts = re.split(r"^篇(\d+):", collection_text, flags=re.M)
    return {int(parts[i]): parts[i + 1] for i in range(1, len(parts) - 1, 2)}
