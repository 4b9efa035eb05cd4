"""The submitted notebook with the instructor's structure put back, from trusted data only.

What nbgrader's ClearOutput, DeduplicateIds, OverwriteKernelspec and OverwriteCells do, plus
two rules of the kit's own:

- **the instructor's order**: graded, locked and test cells stand in the order of the release,
  whatever order the submission has; every other cell (the student's own) keeps its place after
  the graded cell it followed in the submission. A locked cell dragged below a test is put back
  above it (and the problems column says so), so the evaluator always knows which names the
  trusted cells define before each test;
- **deleted cells come back**: locked, test and written-answer cells missing from the
  submission are added back at their place, with nbgrader's notice (``add_missing_cells``).

Every graded cell's nbgrader metadata is rebuilt from the gradebook, so a student cannot turn a
test into something else; locked and test cells get the instructor's source.
"""

from __future__ import annotations

from bisect import bisect_left

import nbformat
from nbformat import NotebookNode

from course import cells
from course.cells import Markers
from course.grading.specs import NotebookSpec, SpecCell

MISSING_NOTICE = "This cell (id:{cell_id}) was missing from the submission. It was added back by nbgrader.\n\n"


def _as_type(cell: NotebookNode, cell_type: str) -> NotebookNode:
    if cell.cell_type == cell_type:
        return cell
    maker = nbformat.v4.new_code_cell if cell_type == "code" else nbformat.v4.new_markdown_cell
    return maker(cell.source, metadata=cell.metadata)


def _missing_cell(cell: SpecCell) -> NotebookNode:
    notice = MISSING_NOTICE.format(cell_id=cell.name)
    if cell.cell_type == "code":
        new = nbformat.v4.new_code_cell("# " + notice + cell.source)
    else:
        new = nbformat.v4.new_markdown_cell(notice + cell.source)
    new.metadata = nbformat.from_dict({"deletable": False, "editable": not cell.locked, "nbgrader": cell.metadata()})
    return new


def _kind(cell: SpecCell) -> str:
    return "test" if cell.is_test else "locked"


def out_of_order(submitted: list[str], expected: list[str]) -> list[str]:
    """Grade ids that must move to turn ``submitted`` into ``expected`` (the complement of the
    longest common subsequence; both lists hold the same ids).

    >>> out_of_order(["a", "c", "b", "d"], ["a", "b", "c", "d"])
    ['c']
    """
    rank = {gid: i for i, gid in enumerate(expected)}
    positions = [rank[g] for g in submitted]
    tails: list[int] = []
    keep_at: list[int] = []
    for p in positions:  # longest increasing subsequence, patience sorting
        k = bisect_left(tails, p)
        if k == len(tails):
            tails.append(p)
        else:
            tails[k] = p
        keep_at.append(k)
    length, keep = len(tails) - 1, set()
    for index in range(len(positions) - 1, -1, -1):
        if length >= 0 and keep_at[index] == length:
            keep.add(index)
            length -= 1
    return [gid for index, gid in enumerate(submitted) if index not in keep]


def restore(submitted: NotebookNode, spec: NotebookSpec, markers: Markers = cells.DEFAULT_MARKERS) -> tuple[NotebookNode, list[str]]:
    """The submitted notebook (as read at intake) restored; and what had to be changed."""
    nb = nbformat.from_dict(dict(submitted))
    if nb.get("nbformat", 4) != 4:
        nb = nbformat.convert(nb, 4)
    notes: list[str] = []
    nb.metadata = nbformat.from_dict(dict(nb.get("metadata", {})))
    if spec.kernelspec:
        nb.metadata["kernelspec"] = spec.kernelspec
    seen: set[str] = set()
    kept: list[tuple[NotebookNode, str | None]] = []
    for cell in reversed(nb.cells):  # like nbgrader's DeduplicateIds: the last copy wins
        cell.metadata = nbformat.from_dict(dict(cell.get("metadata", {})))
        gid = cells.grade_id(cell)
        if "nbgrader" in cell.metadata and (gid not in spec.cells or gid in seen):
            if gid in seen:
                notes.append(f"duplicate of cell {gid!r} ignored")
            del cell.metadata["nbgrader"]
            gid = None
        if gid is not None:
            seen.add(gid)
            trusted = spec.cells[gid]
            cell = _as_type(cell, trusted.cell_type)
            cell.metadata["nbgrader"] = trusted.metadata()
            if trusted.locked and cell.source != trusted.source:
                # a test cell arrives without its hidden tests: that alone is not an edit
                if not trusted.is_test or cell.source.strip() != cells.strip_hidden(trusted.source, markers).strip():
                    notes.append(f"{_kind(trusted)} cell {gid!r} was edited (restored)")
                cell.source = trusted.source
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        kept.append((cell, gid))
    kept.reverse()

    graded: dict[str, NotebookNode] = {}
    after: dict[str | None, list[NotebookNode]] = {None: []}
    order: list[str] = []
    anchor: str | None = None
    for cell, gid in kept:
        if gid is None:
            after[anchor].append(cell)
        else:
            graded[gid] = cell
            after[gid] = []
            order.append(gid)
            anchor = gid
    rebuilt = list(after[None])
    for gid in spec.order:
        trusted = spec.cells[gid]
        if gid in graded:
            rebuilt.append(graded[gid])
            rebuilt.extend(after[gid])
        elif trusted.grade or trusted.locked or trusted.task:
            notes.append(f"{_kind(trusted)} cell {gid!r} was deleted (added back)")
            rebuilt.append(_missing_cell(trusted))
    moved = out_of_order(order, [g for g in spec.order if g in graded])
    if moved:
        shown = ", ".join(repr(g) for g in moved[:5]) + (f" and {len(moved) - 5} more" if len(moved) > 5 else "")
        notes.append(f"cells out of the instructor's order were put back in place: {shown}")
    nb.cells = rebuilt
    return nb, notes
