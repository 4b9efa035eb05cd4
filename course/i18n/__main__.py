"""``python -m course.i18n``: the translator's two commands.

``status [CASE...]``
    what each catalogue still needs: texts without a translation, translations made from an
    older English text, entries nothing uses any more (exit status 1 if anything is left);
``sync CASE...``
    rewrite the catalogue of each case for its English notebook as it is now (creating it if
    needed): changed texts become fuzzy drafts, new ones empty entries, unused ones go
    (:mod:`course.i18n.sync`). Then translate, and ``course build CASE``.

``--language`` (default ``zh``) and ``--root`` (default: the course around the current folder).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from course import ipynb
from course.errors import CourseError
from course.i18n import LANGUAGES, SOURCE_LANGUAGE, language_of
from course.i18n import catalogue as catmod
from course.i18n import sync as syncmod
from course.i18n.release import allowed_words
from course.layout import Course, notebooks


def _cases(course: Course, names: list[str], language: str) -> list[str]:
    english = [a for a in course.assignments() if language_of(a) == SOURCE_LANGUAGE]
    if not names:
        return [a for a in english if catmod.path_for(a, language).is_file()]
    unknown = [n for n in names if n not in english]
    if unknown:
        raise CourseError(f"not English cases of this course: {', '.join(unknown)}")
    return names


def _open(course: Course, case: str, language: str):
    paths = notebooks(course.source(case))
    if len(paths) != 1:
        raise CourseError(f"{course.source(case)}: translation works on one notebook per case, found {len(paths)}")
    path = catmod.path_for(paths[0].stem, language)
    catalogue = catmod.read(path, language) if path.is_file() else catmod.Catalogue(paths[0].stem, language, [], path)
    return ipynb.read(paths[0]), catalogue


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course.i18n", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["status", "sync"])
    parser.add_argument("cases", nargs="*")
    parser.add_argument("--language", default="zh", choices=[lang for lang in LANGUAGES if lang != SOURCE_LANGUAGE])
    parser.add_argument("--root", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        course = Course.find(args.root)
        cases = _cases(course, args.cases, args.language)
        if args.command == "sync" and not args.cases:
            raise CourseError("name the case(s) to sync")
        allowed = set(allowed_words(args.language))
        shared = catmod.common(args.language)
        left = 0
        for case in cases:
            english, catalogue = _open(course, case, args.language)
            if args.command == "sync":
                synced, summary = syncmod.sync(english, catalogue, shared, allowed)
                path = catmod.write(synced)
                print(f"{path}:")
                for line in summary.lines():
                    print(f"  {line}")
                left += len(summary.new) + len(summary.drafts)
            else:
                st = syncmod.status(english, catalogue, shared, allowed, name=case)
                lines = ([f"not translated: {m}" for m in st.missing] + [f"out of date: {s}" for s in st.stale]
                         + [f"unused (run sync): {u}" for u in st.unused])
                print(f"{case} ({args.language}): {'complete' if st.ok else f'{len(lines)} to do'}")
                for line in lines:
                    print(f"  {line}")
                left += len(lines)
        return 1 if (args.command == "status" and left) else 0
    except CourseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
