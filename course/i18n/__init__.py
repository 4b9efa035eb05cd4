"""Languages: the kit's own student-facing text in the language of the notebook.

A case exists once, in English (``source/<case>/<case>.ipynb``); its Chinese version
(``source/<case>_zh/``) is generated from it and a translation catalogue
(``course/i18n/zh/<case>.toml``), see :mod:`course.i18n.generate`. This module is the small
part that runs in a student's kernel: the messages the kit itself prints (the setup line, the
checks' messages) in the notebook's language.

A Chinese notebook's setup cell calls ``setup("<case>", language="zh")``, which calls
:func:`use`; every message goes through :func:`text`, whose key is the English template::

    >>> use("en"); text("`{name}` is not correct yet.", name="x")
    '`x` is not correct yet.'
    >>> use("zh"); text("`{name}` is not correct yet.", name="x")
    '`x` 还不正确。'
    >>> use("en")

The Chinese templates are in ``course/i18n/zh/messages.toml`` (``tests/test_translation.py``
checks that every template the kit uses has one, with the same placeholders).
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources

#: The languages a case can be released in; English is the source.
LANGUAGES = ("en", "zh")
SOURCE_LANGUAGE = "en"

#: How the markdown cell next to a chart starts, per language (``course check`` looks for it).
CHART_DESCRIPTION = {"en": "**Chart description:**", "zh": "**图表说明：**"}

_state = {"language": SOURCE_LANGUAGE}


def use(language: str) -> None:
    """Make ``language`` the language of the kit's messages in this process."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; known: {', '.join(LANGUAGES)}")
    _state["language"] = language


def current() -> str:
    return _state["language"]


@cache
def messages(language: str) -> dict[str, str]:
    """English template -> template in ``language`` (empty for English)."""
    if language == SOURCE_LANGUAGE:
        return {}
    text_ = resources.files(__package__).joinpath(language, "messages.toml").read_text(encoding="utf-8")
    return {m["en"]: m[language] for m in tomllib.loads(text_).get("message", [])}


def text(english: str, /, **values: object) -> str:
    """``english`` (a ``str.format`` template) in the current language, filled with ``values``.

    A template without a translation is shown in English rather than not at all.
    """
    template = messages(current()).get(english, english)
    return template.format(**values) if values else template


def suffix(language: str) -> str:
    """The assignment-id suffix of a language (``"_zh"``; ``""`` for the source language)."""
    return "" if language == SOURCE_LANGUAGE else f"_{language}"


def language_of(assignment: str) -> str:
    """The language an assignment is in, from its id.

    >>> language_of("case02_logistics_zh"), language_of("case03_pharma_hr")
    ('zh', 'en')
    """
    for language in LANGUAGES:
        if language != SOURCE_LANGUAGE and assignment.endswith(suffix(language)):
            return language
    return SOURCE_LANGUAGE


def base_of(assignment: str) -> str:
    """The English assignment a translated one is generated from.

    >>> base_of("case02_logistics_zh"), base_of("case03_pharma_hr")
    ('case02_logistics', 'case03_pharma_hr')
    """
    language = language_of(assignment)
    return assignment[: len(assignment) - len(suffix(language))] if language != SOURCE_LANGUAGE else assignment
