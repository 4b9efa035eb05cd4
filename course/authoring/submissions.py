"""Submissions made from a source notebook: reference (all answered), blank, partial, copied.

Used by the round-trip tests, the class dry run and the benchmarks. A reference submission is
the *release* notebook with every answer cell filled in from the source's solution (delimiters
removed), which is what a student who got everything right hands in.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

from nbformat import NotebookNode

from course import cells
from course.cells import DEFAULT_MARKERS, Markers


def answer_ids(nb: NotebookNode, *, autograded_only: bool = False) -> list[str]:
    """Grade ids of answer cells in notebook order (optionally only autograded code answers)."""
    ids = []
    for cell in nb.cells:
        if not cells.is_answer(cell):
            continue
        if autograded_only and not cells.is_autograded_answer(cell):
            continue
        ids.append(cells.grade_id(cell) or "")
    return ids


def fill(source: NotebookNode, release: NotebookNode, answered: Iterable[str],
         markers: Markers = DEFAULT_MARKERS) -> NotebookNode:
    """The release notebook with the named answer cells filled from the source's solutions."""
    wanted = set(answered)
    solutions = {cells.grade_id(c): c.source for c in source.cells if cells.is_answer(c)}
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        gid = cells.grade_id(cell)
        if cells.is_answer(cell) and gid in wanted:
            if gid not in solutions:
                raise KeyError(f"answer cell {gid!r} is not in the source notebook")
            cell.source = cells.solution_text(solutions[gid], markers)
    return nb


def reference(source: NotebookNode, release: NotebookNode) -> NotebookNode:
    return fill(source, release, answer_ids(source))


def partial(source: NotebookNode, release: NotebookNode, fraction: float = 0.5) -> NotebookNode:
    """Only the first ``fraction`` of the autograded code answers filled in."""
    ids = answer_ids(source, autograded_only=True)
    keep = ids[: max(1, int(len(ids) * fraction))]
    return fill(source, release, keep)


def blank(source: NotebookNode, release: NotebookNode) -> NotebookNode:
    """The release handed in untouched."""
    return copy.deepcopy(release)


def with_answers(release: NotebookNode, sources: dict[str, str]) -> NotebookNode:
    """The release with the answer cells named in ``sources`` replaced by that code."""
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        gid = cells.grade_id(cell)
        if gid in sources and cells.is_answer(cell):
            cell.source = sources[gid]
    return nb
