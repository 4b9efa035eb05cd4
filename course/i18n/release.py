"""Translated assignments in ``course build``: sources generated from the English, releases by nbgrader.

For an English case with a catalogue ``course/i18n/<language>/<case>.toml``:

- ``source/<case>_<language>/<case>_<language>.ipynb`` is generated (:mod:`course.i18n.generate`)
  and committed; it is a complete nbgrader source assignment (solutions, hidden tests), so stock
  ``nbgrader`` and ``course grade`` work on it as on any other;
- ``release/<case>_<language>/`` is made from it by stock ``nbgrader generate_assignment``, with
  nbgrader's answer stubs in that language (:data:`STUBS`), and checked like every release.

``course build <case>`` does both for every language of the case after its English release
(:func:`with_translations`); ``course build <case>_<language>`` regenerates that one. Both warn
(:class:`TranslationIncomplete`) when a unit has no current translation: the English, or the old
translation, stands in until the translator updates the catalogue.
"""

from __future__ import annotations

import tomllib
import warnings
from collections.abc import Callable
from functools import cache
from pathlib import Path

from nbformat import NotebookNode

from course import ipynb
from course.errors import CourseError
from course.i18n import SOURCE_LANGUAGE, base_of, language_of, suffix
from course.i18n import catalogue as catmod
from course.i18n.generate import Report, translate
from course.layout import Course, notebooks

#: nbgrader's answer stubs (``ClearSolutions.code_stub`` / ``text_stub``) per language.
STUBS = {"zh": {"code": "# 在此编写你的代码\nraise NotImplementedError()", "text": "请在此处作答"}}


class TranslationIncomplete(UserWarning):
    """A generated notebook shows some English, or a translation of an older English text."""


@cache
def allowed_words(language: str) -> frozenset[str]:
    """Words a notebook in ``language`` may show in Latin letters (``allowed.toml``)."""
    path = catmod.folder(language) / "allowed.toml"
    if not path.is_file():
        return frozenset()
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return frozenset(str(w) for group in data.values() if isinstance(group, list) for w in group)


def translated_id(assignment: str, language: str) -> str:
    return assignment + suffix(language)


def translations(assignment: str) -> list[str]:
    """The translated assignments of an English one (those with a catalogue)."""
    if language_of(assignment) != SOURCE_LANGUAGE:
        return []
    return [translated_id(assignment, lang) for lang in catmod.languages_of(assignment)]


def is_generated(assignment: str) -> bool:
    """Whether ``assignment`` is a translation made by this module (a catalogue exists for it)."""
    language = language_of(assignment)
    return language != SOURCE_LANGUAGE and catmod.path_for(base_of(assignment), language).is_file()


def nbgrader_options(assignment: str) -> list[str]:
    """Extra ``nbgrader generate_assignment`` options: the answer stubs in the assignment's language."""
    stubs = STUBS.get(language_of(assignment))
    if not stubs:
        return []
    return [f"--ClearSolutions.code_stub={stubs['code']}", f"--ClearSolutions.text_stub={stubs['text']}"]


def render_source(course: Course, assignment: str) -> dict[Path, tuple[NotebookNode, Report]]:
    """The notebooks ``source/<assignment>/`` (a translation) should hold, made from the English
    source and the catalogue, with what each still lacks; nothing is written."""
    language, base = language_of(assignment), base_of(assignment)
    english = notebooks(course.source(base))
    if not english:
        raise CourseError(f"{course.source(base)} has no notebook to translate into {assignment}")
    shared = catmod.common(language)
    allowed = set(allowed_words(language))
    out = {}
    for path in english:
        cat_path = catmod.path_for(path.stem, language)
        catalogue = catmod.read(cat_path, language) if cat_path.is_file() else catmod.Catalogue(path.stem, language)
        target = course.source(assignment) / f"{path.stem}{suffix(language)}.ipynb"
        out[target] = translate(ipynb.read(path), catalogue, shared, language=language, allowed=allowed,
                                name=str(target.relative_to(course.root)), markers=course.markers)
    return out


def generate_source(course: Course, assignment: str) -> list[Report]:
    """Write ``source/<assignment>/`` (a translation) from the English source and the catalogue."""
    rendered = render_source(course, assignment)
    for target, (nb, _) in rendered.items():
        ipynb.write(nb, target)
    for stray in notebooks(course.source(assignment)):
        if stray not in rendered:
            stray.unlink()  # the English notebook it came from is gone
    return [report for _, report in rendered.values()]


def with_translations(course: Course, assignment: str,
                      build_one: Callable[[Course, str, list[str]], list[Path]]) -> list[Path]:
    """``course build`` of one assignment: ``build_one(course, id, nbgrader_options)`` for it and,
    for an English case, for each of its translations (sources regenerated first)."""
    if is_generated(assignment):
        _warn(generate_source(course, assignment))
        return build_one(course, assignment, nbgrader_options(assignment))
    released = build_one(course, assignment, [])
    for translated in translations(assignment):
        _warn(generate_source(course, translated))
        released += build_one(course, translated, nbgrader_options(translated))
    return released


def _warn(reports: list[Report]) -> None:
    lines = [line for r in reports for line in r.lines()]
    if lines:
        shown = "\n  ".join(lines[:12]) + (f"\n  ... and {len(lines) - 12} more" if len(lines) > 12 else "")
        warnings.warn(TranslationIncomplete(
            f"{len(lines)} text(s) without a current translation (run `python -m course.i18n status`):\n  {shown}"),
            stacklevel=3)
