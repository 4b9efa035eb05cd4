"""Translation catalogues: one reviewable TOML file per case and language.

``course/i18n/<language>/<case>.toml`` holds every translated unit of the English notebook
``source/<case>/<case>.ipynb`` (:mod:`course.i18n.units`), in notebook order::

    assignment = "case02_logistics"
    language = "zh"

    [[entry]]
    kind = "markdown"                # a whole markdown cell, found by its cell id
    cell = "0d83d90e"
    hash = "3f0c2a9e51d7"            # digest of the English text below
    en = '''...the English the translation was made from...'''
    zh = '''...the translation...'''

    [[entry]]
    kind = "string"                  # a string literal (or a comment) a student reads,
    hash = "e78041ab51a8"            # found by its text wherever it occurs in the notebook
    cells = ["716ef333"]             # (where it occurs, for the reader)
    en = "Week"
    zh = "周"

An entry is *current* when its hash is the digest of the English text the notebook has now.
When the English changes, ``python -m course.i18n sync <case>`` marks the entry
``fuzzy = true``, keeps the old English as ``previous_en`` and the old translation as a draft;
the translator updates ``zh`` and deletes the two lines. ``keep = "<reason>"`` marks a string
left in English on purpose (``zh`` equal to ``en``): a name the code itself uses.

``course/i18n/<language>/common.toml`` holds string and comment entries shared by every case
(no ``cells``); a case's own entry wins.

Files are written with literal strings (``'''...'''``) wherever possible, so markdown and LaTeX
read exactly as in the notebook.

>>> e = Entry("string", "Week", "周", cells=("716ef333",))
>>> tomllib.loads(dumps("case02_logistics", "zh", [e]))["entry"][0]["zh"]
'周'
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

from course import tomlfile
from course.errors import CourseError
from course.i18n.units import Kind, digest

KINDS: tuple[Kind, ...] = ("markdown", "string", "comment")


@dataclass(frozen=True)
class Entry:
    kind: Kind
    en: str
    zh: str
    cell: str = ""  # markdown: the cell's id
    cells: tuple[str, ...] = ()  # string/comment: the cells it occurs in
    hash: str = ""  # digest of the English it was made from ("" = of ``en``)
    fuzzy: bool = False
    previous_en: str = ""
    keep: str = ""  # why a string stays in English

    def __post_init__(self) -> None:
        if not self.hash:
            object.__setattr__(self, "hash", digest(self.en))

    @property
    def key(self) -> tuple[str, str]:
        """What the entry is found by: (``markdown``, cell id) or (kind, hash)."""
        return ("markdown", self.cell) if self.kind == "markdown" else (self.kind, self.hash)

    @property
    def translated(self) -> bool:
        return bool(self.zh.strip()) and (self.zh != self.en or bool(self.keep))

    def renewed(self, en: str) -> Entry:
        """The entry for a new English text: a fuzzy draft that keeps the old translation."""
        return replace(self, en=en, hash=digest(en), fuzzy=True, previous_en=self.previous_en or self.en)


@dataclass
class Catalogue:
    assignment: str
    language: str
    entries: list[Entry] = field(default_factory=list)
    path: Path | None = None

    def find(self, kind: Kind, *, cell: str = "", key: str = "") -> Entry | None:
        wanted = ("markdown", cell) if kind == "markdown" else (kind, key)
        return next((e for e in self.entries if e.key == wanted), None)


# ---- where -----------------------------------------------------------------------------------


def folder(language: str) -> Path:
    """The folder of a language's catalogues (inside the installed package)."""
    return Path(str(resources.files("course.i18n"))) / language


def path_for(assignment: str, language: str) -> Path:
    return folder(language) / f"{assignment}.toml"


def languages_of(assignment: str) -> list[str]:
    """The languages ``assignment`` (an English case) has a catalogue for."""
    from course.i18n import LANGUAGES, SOURCE_LANGUAGE

    return [lang for lang in LANGUAGES if lang != SOURCE_LANGUAGE and path_for(assignment, lang).is_file()]


# ---- reading ---------------------------------------------------------------------------------


def _entry(raw: dict, where: str, language: str) -> Entry:
    kind = raw.get("kind")
    if kind not in KINDS:
        raise CourseError(f"{where}: kind must be one of {', '.join(KINDS)}, not {kind!r}")
    for name in ("en", language):
        if not isinstance(raw.get(name), str):
            raise CourseError(f"{where}: `{name}` must be a string")
    if kind == "markdown" and not isinstance(raw.get("cell"), str):
        raise CourseError(f"{where}: a markdown entry needs the cell id (`cell`)")
    return Entry(kind, raw["en"], raw[language], cell=str(raw.get("cell", "")),
                 cells=tuple(str(c) for c in raw.get("cells", [])), hash=str(raw.get("hash") or ""),
                 fuzzy=bool(raw.get("fuzzy", False)), previous_en=str(raw.get("previous_en", "")),
                 keep=str(raw.get("keep", "")))


def read(path: Path, language: str) -> Catalogue:
    """A catalogue file, with a clear error naming the file and entry when it is malformed."""
    data = tomlfile.read(path, f"{path}: no such translation catalogue", CourseError)
    entries = [_entry(raw, f"{path}: entry {i + 1}", language) for i, raw in enumerate(data.get("entry", []))]
    seen: set[tuple[str, str]] = set()
    for entry in entries:
        if entry.key in seen:
            raise CourseError(f"{path}: two entries for {entry.key[0]} {entry.key[1]}")
        seen.add(entry.key)
    return Catalogue(str(data.get("assignment", path.stem)), str(data.get("language", language)), entries, path)


def load(assignment: str, language: str) -> Catalogue:
    return read(path_for(assignment, language), language)


def common(language: str) -> Catalogue:
    """The entries every case shares (empty when there is no ``common.toml``)."""
    path = folder(language) / "common.toml"
    return read(path, language) if path.is_file() else Catalogue("common", language, [], path)


# ---- writing ---------------------------------------------------------------------------------

_BARE_OK = re.compile(r"[^\x00-\x1f\x7f\"\\]*")


def toml_string(text: str) -> str:
    """A TOML string that reads back as ``text``: literal (no escapes) wherever possible.

    >>> toml_string("a\\\\b"), toml_string("it's"), toml_string("x\\ny")
    ("'a\\\\b'", '"it\\'s"', "'''\\nx\\ny'''")
    """
    if "\n" in text:
        if "'''" not in text and not text.endswith("'") and not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text):
            return "'''\n" + text + "'''"
    elif "'" not in text and not re.search(r"[\x00-\x1f\x7f]", text):
        return "'" + text + "'"
    if _BARE_OK.fullmatch(text):
        return '"' + text + '"'
    escaped = (text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
               .replace("\r", "\\r"))
    escaped = re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\u{ord(m.group()):04x}", escaped)
    return '"' + escaped + '"'


def dumps(assignment: str, language: str, entries: list[Entry], header: str = "") -> str:
    lines = [f"# {line}".rstrip() for line in header.splitlines()] if header else []
    lines += [f"assignment = {toml_string(assignment)}", f"language = {toml_string(language)}"]
    for e in entries:
        lines += ["", "[[entry]]", f"kind = {toml_string(e.kind)}"]
        if e.kind == "markdown":
            lines.append(f"cell = {toml_string(e.cell)}")
        lines.append(f"hash = {toml_string(e.hash)}")
        if e.cells:
            lines.append("cells = [" + ", ".join(toml_string(c) for c in e.cells) + "]")
        if e.fuzzy:
            lines.append("fuzzy = true")
        if e.keep:
            lines.append(f"keep = {toml_string(e.keep)}")
        if e.previous_en:
            lines.append(f"previous_en = {toml_string(e.previous_en)}")
        lines.append(f"en = {toml_string(e.en)}")
        lines.append(f"{language} = {toml_string(e.zh)}")
    return "\n".join(lines) + "\n"


HEADER = """\
{language_name} translation of source/{assignment}/{assignment}.ipynb, generated into
source/{assignment}_{language}/ and release/{assignment}_{language}/ by `course build {assignment}`.
Each entry: the English it was made from (`en`, `hash`) and its translation (`{language}`).
After the English changes: `python -m course.i18n sync {assignment}`, then fix every entry
marked `fuzzy = true` (see docs/authoring.md, "Translations")."""

LANGUAGE_NAMES = {"zh": "Chinese (简体中文)"}


def write(catalogue: Catalogue, path: Path | None = None) -> Path:
    target = path or catalogue.path or path_for(catalogue.assignment, catalogue.language)
    header = HEADER.format(language_name=LANGUAGE_NAMES.get(catalogue.language, catalogue.language),
                           assignment=catalogue.assignment, language=catalogue.language)
    text = dumps(catalogue.assignment, catalogue.language, catalogue.entries, header)
    back = tomllib.loads(text)  # never write what does not read back exactly
    if [(b["en"], b[catalogue.language]) for b in back.get("entry", [])] != \
            [(e.en, e.zh) for e in catalogue.entries]:
        raise CourseError(f"{target}: the catalogue would not read back as written")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target
