"""Notebook files: read with a clear error, write in nbformat's layout, clean for committing.

(``course.notebook`` is something else: the setup call at the top of every case notebook.)
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from course import cells
from course.errors import BadNotebook

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {"name": "python"}
#: Cell metadata keys kept by :func:`clean`; everything else is editor debris.
CELL_METADATA_KEYS = ("nbgrader", "deletable", "editable", "tags")


def read(path: Path) -> NotebookNode:
    """Read a notebook, with a clear error naming the file when it is not valid."""
    try:
        return nbformat.read(str(path), as_version=4)
    except FileNotFoundError as exc:
        raise BadNotebook(f"{path}: no such notebook") from exc
    except (json.JSONDecodeError, nbformat.reader.NotJSONError) as exc:
        raise BadNotebook(f"{path}: not a valid notebook (bad JSON: {exc})") from exc
    except Exception as exc:  # nbformat raises several types for malformed notebooks
        raise BadNotebook(f"{path}: not a valid notebook ({type(exc).__name__}: {exc})") from exc


def writes(nb: NotebookNode, *, validate: bool = True) -> str:
    """A notebook's text in nbformat's canonical layout (1-space indent, trailing newline).
    ``validate=False`` skips nbformat's schema check (for notebooks the grader itself built)."""
    text = nbformat.writes(nb) if validate else nbformat.v4.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def write(nb: NotebookNode, path: Path, *, validate: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(writes(nb, validate=validate), encoding="utf-8")


def clean(nb: NotebookNode) -> NotebookNode:
    """Strip outputs and execution counts; keep only meaningful notebook and cell metadata."""
    nb.metadata = nbformat.from_dict({"kernelspec": dict(KERNELSPEC), "language_info": dict(LANGUAGE_INFO)})
    for cell in nb.cells:
        cell.metadata = nbformat.from_dict({k: v for k, v in cell.metadata.items() if k in CELL_METADATA_KEYS})
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def problems(nb: NotebookNode) -> list[str]:
    """Why a stored notebook is not clean (empty when it is)."""
    found = []
    if dict(nb.metadata.get("kernelspec", {})) != KERNELSPEC:
        found.append("notebook kernelspec is not the standard python3 one")
    extra = sorted(set(nb.metadata) - {"kernelspec", "language_info"})
    if extra:
        found.append(f"notebook metadata has editor keys: {', '.join(extra)}")
    if dict(nb.metadata.get("language_info", {})) != LANGUAGE_INFO:
        found.append("language_info should be just {'name': 'python'}")
    for i, cell in enumerate(nb.cells):
        where = f"cell {i} ({cells.label(cell)})"
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count")):
            found.append(f"{where} has outputs or an execution count")
        extra = sorted(set(cell.metadata) - set(CELL_METADATA_KEYS))
        if extra:
            found.append(f"{where} has editor metadata: {', '.join(extra)}")
    return found


def canonical_text(path: Path) -> str:
    """A notebook's text after :func:`clean`, for comparing two notebooks."""
    return nbformat.writes(clean(read(path)))
