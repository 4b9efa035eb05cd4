"""Keep a catalogue in step with its English notebook (``python -m course.i18n sync``).

:func:`sync` returns the catalogue the English notebook now needs, in notebook order:

- a unit whose English is unchanged keeps its entry;
- a markdown cell whose English changed keeps its old translation as a draft, marked
  ``fuzzy = true`` with the old English as ``previous_en`` (so the translator sees what changed);
- a changed string or comment is matched to the entry it most resembles among those its cells
  no longer use (a draft as above), else it gets a new, empty entry;
- entries nothing uses any more are dropped (and listed).

Nothing is ever translated automatically; :func:`status` lists what is left to do.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace

from nbformat import NotebookNode

from course.i18n.catalogue import Catalogue, Entry
from course.i18n.units import Unit, notebook_units

#: A changed string is taken as an edit of an old one when at least this similar (difflib).
SIMILAR = 0.6


@dataclass
class Summary:
    kept: int = 0
    drafts: list[Entry] = field(default_factory=list)  # fuzzy: the English changed
    new: list[Entry] = field(default_factory=list)  # no translation yet
    dropped: list[Entry] = field(default_factory=list)  # nothing uses them any more

    def lines(self) -> list[str]:
        out = [f"{self.kept} entries current"]
        out += [f"fuzzy (English changed; update the translation): {e.kind} {e.cell or e.hash}: {e.en[:60]!r}"
                for e in self.drafts]
        out += [f"new (translate it): {e.kind} {e.cell or e.hash}: {e.en[:60]!r}" for e in self.new]
        out += [f"dropped (no longer in the notebook): {e.kind} {e.cell or e.hash}: {e.en[:60]!r}" for e in self.dropped]
        return out


def _cells_of(units: list[Unit]) -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], list[str]] = {}
    for u in units:
        if u.kind != "markdown":
            cells = found.setdefault((u.kind, u.key), [])
            if u.cell not in cells:
                cells.append(u.cell)
    return found


def sync(english: NotebookNode, catalogue: Catalogue, shared: Catalogue, allowed: set[str]) -> tuple[Catalogue, Summary]:
    units = notebook_units(english, allowed)
    cells_of = _cells_of(units)
    wanted = {("markdown", u.cell) for u in units if u.kind == "markdown"} | set(cells_of)
    orphans = [e for e in catalogue.entries if e.key not in wanted]
    summary = Summary()
    out: list[Entry] = []
    done: set[tuple[str, str]] = set()

    def take_orphan(unit: Unit, cells: list[str]) -> Entry | None:
        same = [e for e in orphans if e.kind == unit.kind and e.hash == unit.key]  # a moved or renamed cell
        if same:
            orphans.remove(same[0])
            return replace(same[0], cell=unit.cell if unit.kind == "markdown" else "",
                           cells=() if unit.kind == "markdown" else tuple(cells))
        candidates = [e for e in orphans if e.kind == unit.kind and e.translated
                      and (unit.kind != "markdown" or e.cell == unit.cell)
                      and (unit.kind == "markdown" or set(e.cells) & set(cells))]
        scored = sorted(((difflib.SequenceMatcher(None, e.en, unit.en).ratio(), i) for i, e in enumerate(candidates)),
                        reverse=True)
        if unit.kind == "markdown" and candidates:
            best = candidates[0]  # the same cell: always an edit of it
        elif scored and scored[0][0] >= SIMILAR:
            best = candidates[scored[0][1]]
        else:
            return None
        orphans.remove(best)
        draft = best.renewed(unit.en)
        return replace(draft, cells=() if unit.kind == "markdown" else tuple(cells))

    for unit in units:
        key = ("markdown", unit.cell) if unit.kind == "markdown" else (unit.kind, unit.key)
        if key in done:
            continue
        done.add(key)
        cells = cells_of.get(key, [])
        if unit.kind == "markdown":
            entry = catalogue.find("markdown", cell=unit.cell)
            if entry is not None and entry.hash != unit.key:
                entry = entry.renewed(unit.en)
                summary.drafts.append(entry)
            elif entry is not None:
                summary.kept += 1
        else:
            entry = catalogue.find(unit.kind, key=unit.key)
            if entry is None and shared.find(unit.kind, key=unit.key) is not None:
                summary.kept += 1
                continue  # translated once for every case
            if entry is not None:
                entry = replace(entry, cells=tuple(cells))
                summary.kept += 1
        if entry is None:
            entry = take_orphan(unit, cells)
            if entry is not None and entry.fuzzy:
                summary.drafts.append(entry)
            elif entry is not None:
                summary.kept += 1
        if entry is None:
            entry = Entry(unit.kind, unit.en, "", cell=unit.cell if unit.kind == "markdown" else "",
                          cells=() if unit.kind == "markdown" else tuple(cells))
            summary.new.append(entry)
        out.append(entry)
    summary.dropped = orphans
    return Catalogue(catalogue.assignment, catalogue.language, out, catalogue.path), summary


@dataclass
class Status:
    """What a case's translation still needs (empty lists: nothing)."""

    notebook: str
    missing: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.stale or self.unused)


def status(english: NotebookNode, catalogue: Catalogue, shared: Catalogue, allowed: set[str], name: str = "") -> Status:
    """Missing, out-of-date and unused entries of a catalogue against its English notebook."""
    synced, summary = sync(english, catalogue, shared, allowed)
    result = Status(name or catalogue.assignment)
    for entry in synced.entries:
        where = f"{entry.kind} {'cell ' + entry.cell if entry.cell else 'in cells ' + ', '.join(entry.cells)}"
        if not entry.translated:
            result.missing.append(f"{where}: {entry.en[:80]!r}")
        elif entry.fuzzy:
            was = f" (was {entry.previous_en[:60]!r})" if entry.previous_en else ""
            result.stale.append(f"{where}: English is now {entry.en[:80]!r}{was}")
    result.unused = [f"{e.kind} {e.cell or e.hash}: {e.en[:60]!r}" for e in summary.dropped]
    return result
