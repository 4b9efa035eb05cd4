"""``course check``: execute notebooks top to bottom and report what failed, by grade id.

Source notebooks (with solutions) must run without any error, without text on stderr (stock
nbgrader zeroes a test cell that writes to stderr), with no test cell displaying a value (nbgrader
would read it as partial credit) and with every chart titled, axis-titled and described.

Release notebooks (student versions) may fail only where a student has work to do: the
``NotImplementedError`` stubs in answer cells, and the test cells those stubs break (a
``NameError`` for a name an answer cell would define, nothing else).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode

from course import cells as cellmod
from course import i18n, ipynb, plots
from course.authoring import Problem
from course.authoring.key import answer_names
from course.layout import Course, notebooks

PLOTLY_MIME = "application/vnd.plotly.v1+json"
#: A chart cell must sit next to a markdown cell that carries this phrase (screen readers,
#: and anyone skimming): a one-sentence description of what the chart shows. A translated
#: notebook uses its language's phrase (:data:`course.i18n.CHART_DESCRIPTION`).
DESCRIPTION_MARK = i18n.CHART_DESCRIPTION["en"]
DESCRIPTION_MARKS = tuple(i18n.CHART_DESCRIPTION.values())


@dataclass
class Result:
    notebook: Path
    seconds: float
    problems: list[Problem] = field(default_factory=list)
    executed: NotebookNode | None = None


def execute(path: Path, *, timeout: int = 120, env: dict | None = None) -> tuple[NotebookNode, float]:
    """Run a notebook in its own folder with errors allowed; return it and the wall time."""
    nb = ipynb.read(path)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    try:
        if env is None:
            client.execute()
        else:
            client.execute(env=env)
    except (CellTimeoutError, DeadKernelError) as exc:
        raise RuntimeError(f"{path}: execution stopped: {exc}") from exc
    return nb, time.perf_counter() - start


def _error_text(output: NotebookNode) -> str:
    return f"{output.get('ename', 'Error')}: {output.get('evalue', '')}".strip()


def _errors(cell: NotebookNode) -> list[NotebookNode]:
    return [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def _stderr(cell: NotebookNode) -> str:
    return "".join(
        o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream" and o.get("name") == "stderr"
    )


def _figures(cell: NotebookNode) -> list[dict]:
    return [
        o["data"][PLOTLY_MIME]
        for o in cell.get("outputs", [])
        if o.get("output_type") in ("display_data", "execute_result") and PLOTLY_MIME in o.get("data", {})
    ]


def source_problems(path: Path, nb: NotebookNode) -> list[Problem]:
    """Everything wrong with an executed source (solution) notebook."""
    found: list[Problem] = []
    all_cells = nb.cells
    for i, cell in enumerate(all_cells):
        if cell.cell_type != "code":
            continue
        label = f"cell {i} [{cellmod.label(cell)}]"
        for err in _errors(cell):
            kind = "test failed" if cellmod.is_test(cell) else "error"
            found.append(Problem(path, label, f"{kind}: {_error_text(err)}"))
        err_text = _stderr(cell)
        if err_text.strip():
            found.append(Problem(path, label, f"wrote to stderr (nbgrader zeroes such tests): {err_text.strip()[:300]}"))
        if cellmod.is_test(cell) and any(o.get("output_type") == "execute_result" for o in cell.outputs):
            found.append(Problem(path, label, "test cell displays a value; nbgrader would read it as partial credit"))
        for fig in _figures(cell):
            missing = plots.missing_labels(fig)
            if missing:
                found.append(Problem(path, label, f"chart lacks {', '.join(missing)}"))
            neighbours = [all_cells[j] for j in (i - 1, i + 1) if 0 <= j < len(all_cells)]
            if not any(c.cell_type == "markdown" and any(m in c.source for m in DESCRIPTION_MARKS) for c in neighbours):
                found.append(Problem(path, label, f"chart has no adjacent markdown cell with {DESCRIPTION_MARK!r}"))
    return found


def _missing_name(error: NotebookNode) -> str | None:
    match = re.fullmatch(r"name '([A-Za-z_][A-Za-z0-9_]*)' is not defined", str(error.get("evalue", "")))
    return match.group(1) if error.get("ename") == "NameError" and match else None


def release_problems(path: Path, nb: NotebookNode, answers: set[str]) -> list[Problem]:
    """Errors in an executed student version other than unanswered stubs and the tests they break
    (``answers``: the names the source's answer cells define)."""
    found: list[Problem] = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        label = f"cell {i} [{cellmod.label(cell)}]"
        for err in _errors(cell):
            if cellmod.is_test(cell) and _missing_name(err) in answers:
                continue  # the answer it checks is not written yet
            if cellmod.is_answer(cell) and err.get("ename") == "NotImplementedError":
                continue
            found.append(Problem(path, label, f"error in the student version: {_error_text(err)}"))
        err_text = _stderr(cell)
        if err_text.strip() and not cellmod.is_test(cell):
            found.append(Problem(path, label, f"wrote to stderr: {err_text.strip()[:300]}"))
    return found


def check_notebook(path: Path, *, release: bool, timeout: int = 120, source: Path | None = None) -> Result:
    """Run one notebook; for a release notebook, ``source`` is the solution it was made from."""
    if release and source is None:
        raise ValueError("checking a release notebook needs its source notebook (the answer names)")
    try:
        nb, seconds = execute(path, timeout=timeout)
    except (RuntimeError, ValueError) as exc:
        return Result(path, 0.0, [Problem(path, "notebook", str(exc))])
    if release:
        assert source is not None
        answers = {n for names in answer_names(ipynb.read(source)).values() for n in names}
        problems = release_problems(path, nb, answers)
    else:
        problems = source_problems(path, nb)
    return Result(path, seconds, problems, nb)


@dataclass
class Row:
    assignment: str
    version: str  # source | release
    result: Result


def check(course: Course, assignments: list[str], *, timeout: int = 120,
          on_start: Callable[[str, str, Path], None] | None = None) -> list[Row]:
    """Run every source and release notebook of ``assignments``; one row per notebook."""
    rows: list[Row] = []
    for name in assignments:
        for version, folder in (("source", course.source(name)), ("release", course.release(name))):
            paths = notebooks(folder)
            if not paths:
                rows.append(Row(name, version, Result(folder, 0.0, [
                    Problem(folder, "folder", "no notebook found (run `course build`?)")])))
            for path in paths:
                if on_start:
                    on_start(name, version, path)
                source = course.source(name) / path.name
                rows.append(Row(name, version, check_notebook(path, release=version == "release", timeout=timeout,
                                                              source=source if version == "release" else None)))
    return rows
