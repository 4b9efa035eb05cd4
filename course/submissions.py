"""Submissions made from a source notebook: reference (all answered), blank, partial.

Used by the round-trip tests, the class dry run and the benchmarks. A reference submission is
the *release* notebook with every answer cell filled in from the source's solution (delimiters
removed), which is what a student who got everything right hands in.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

from nbformat import NotebookNode

from course import notebooks as nbio

_DELIMS = ("### BEGIN SOLUTION", "### END SOLUTION")


def solution_text(source: str) -> str:
    """A source answer cell's text as a student would write it: delimiter lines removed."""
    lines = [ln for ln in source.splitlines() if ln.strip() not in _DELIMS]
    return "\n".join(lines)


def answer_ids(nb: NotebookNode, *, autograded_only: bool = False) -> list[str]:
    """Grade ids of answer cells in notebook order (optionally only autograded code answers)."""
    ids = []
    for cell in nb.cells:
        if not nbio.is_answer_cell(cell):
            continue
        meta = nbio.nbgrader_meta(cell)
        if autograded_only and (cell.cell_type != "code" or meta.get("grade")):
            continue
        ids.append(nbio.grade_id(cell))
    return ids


def fill(source: NotebookNode, release: NotebookNode, answered: Iterable[str]) -> NotebookNode:
    """The release notebook with the named answer cells filled from the source's solutions."""
    wanted = set(answered)
    solutions = {nbio.grade_id(c): c.source for c in source.cells if nbio.is_answer_cell(c)}
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        gid = nbio.grade_id(cell)
        if nbio.is_answer_cell(cell) and gid in wanted:
            if gid not in solutions:
                raise KeyError(f"answer cell {gid!r} is not in the source notebook")
            cell.source = solution_text(solutions[gid])
    return nb


def reference(source: NotebookNode, release: NotebookNode) -> NotebookNode:
    return fill(source, release, answer_ids(source))


def partial(source: NotebookNode, release: NotebookNode, fraction: float = 0.5) -> NotebookNode:
    """Only the first ``fraction`` of the autograded code answers filled in."""
    ids = answer_ids(source, autograded_only=True)
    keep = ids[: max(1, int(len(ids) * fraction))]
    return fill(source, release, keep)
