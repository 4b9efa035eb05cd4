"""``course feedback``: per-student HTML from the autograded notebooks, safe to hand out.

Differences from ``nbgrader generate_feedback`` (same template, same score header, same folder
``feedback/<student>/<assignment>/``):

- test cells show their *release* source: hidden tests are removed (nbgrader #917, #1363), and
  error outputs of test cells keep only the message (a traceback quotes the hidden lines);
- plotly charts are visible offline: each ``application/vnd.plotly.v1+json`` output becomes an
  HTML chart, with plotly.js inlined once per page;
- a final check refuses to write a page that still contains a hidden-test line.
"""

from __future__ import annotations

import copy
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from nbformat import NotebookNode

from course import notebooks as nbio
from course.build import hidden_lines
from course.coursedir import CourseError
from course.grading.context import Course, ensure_assignment, load_course
from course.grading.plan import strip_hidden

PLOTLY_MIME = "application/vnd.plotly.v1+json"


def _plotly_html(figure: dict) -> str:
    import plotly.io as pio

    config = figure.get("config") if isinstance(figure.get("config"), dict) else None
    html = pio.to_html({"data": figure.get("data", []), "layout": figure.get("layout", {})},
                       include_plotlyjs=False, full_html=False, validate=False, config=config,
                       default_width="100%")
    return html


def charts_to_html(nb: NotebookNode) -> int:
    """Replace plotly mime outputs by self-contained HTML (plotly.js added per page later)."""
    count = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if output.get("output_type") in ("display_data", "execute_result") and PLOTLY_MIME in data:
                try:
                    html = _plotly_html(dict(data[PLOTLY_MIME]))
                except Exception:  # a broken figure stays as it was
                    continue
                output["data"] = {"text/html": html, "text/plain": data.get("text/plain", "Figure")}
                count += 1
    return count


def strip_tests(nb: NotebookNode) -> set[str]:
    """Hidden tests out of test cells (source and tracebacks); return the secret lines."""
    secrets: set[str] = set()
    for cell in nb.cells:
        if not nbio.is_test_cell(cell):
            continue
        secrets |= hidden_lines(cell.source)
        cell.source = strip_hidden(cell.source)
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
    return secrets


def _leaks(html: str, secrets: set[str]) -> list[str]:
    import html as htmlmod

    text = htmlmod.unescape(html)
    return sorted(line for line in secrets if line in text)


@dataclass(frozen=True)
class Item:
    student: str
    assignment: str
    notebook: str
    source: Path
    dest: Path
    db_url: str
    config_root: Path


def _exporter(root: Path):
    from nbconvert.exporters import HTMLExporter
    from nbgrader.preprocessors import GetGrades
    from traitlets.config import Config

    from course.grading.context import load_course as _load

    config = copy.deepcopy(_load(root).config)
    here = Path(__import__("nbgrader").__file__).parent / "server_extensions" / "formgrader"
    extra = Config()
    extra.HTMLExporter.template_name = "feedback"
    extra.HTMLExporter.extra_template_basedirs = [str(here / "templates")]
    extra.HTMLExporter.extra_template_paths = [str(here / "static" / "node_modules" / "bootstrap" / "dist" / "css")]
    config.merge(extra)
    exporter = HTMLExporter(config=config)
    exporter.register_preprocessor(GetGrades(config=config), enabled=True)
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor

    exporter.register_preprocessor(CSSHTMLHeaderPreprocessor(config=config), enabled=True)
    return exporter


_EXPORTERS: dict[Path, object] = {}


def render(item: Item) -> tuple[Path, int]:
    """Write one feedback page; return its path and the number of charts."""
    exporter = _EXPORTERS.get(item.config_root)
    if exporter is None:
        exporter = _EXPORTERS[item.config_root] = _exporter(item.config_root)
    nb = nbio.read(item.source)
    secrets = strip_tests(nb)
    charts = charts_to_html(nb)
    resources = {"nbgrader": {"student": item.student, "assignment": item.assignment,
                              "notebook": item.notebook, "db_url": item.db_url},
                 "unique_key": item.notebook, "output_files_dir": f"{item.notebook}_files"}
    html, _ = exporter.from_notebook_node(nb, resources=resources)
    if charts:
        from plotly.offline import get_plotlyjs

        script = f'<script type="text/javascript">{get_plotlyjs()}</script>\n'
        html = html.replace("</head>", script + "</head>", 1)
    leaked = _leaks(html, secrets)
    if leaked:
        raise CourseError(f"{item.source}: feedback would reveal hidden test lines {leaked[:3]}; not written")
    item.dest.parent.mkdir(parents=True, exist_ok=True)
    item.dest.write_text(html, encoding="utf-8")
    return item.dest, charts


def items(course: Course, assignment: str, students: list[str] | None = None) -> list[Item]:
    base = course.folder("autograded")
    found: list[Item] = []
    if not base.is_dir():
        return found
    for folder in sorted(base.glob(f"*/{assignment}")):
        student = folder.parent.name
        if students and student not in students:
            continue
        for path in sorted(folder.glob("*.ipynb")):
            dest = course.feedback(student, assignment) / f"{path.stem}.html"
            found.append(Item(student, assignment, path.stem, path, dest, course.db_url, course.root))
    return found


def generate(root: Path, assignment: str, *, students: list[str] | None = None, jobs: int | None = None,
             on_page=None) -> list[Path]:
    """Feedback pages for every autograded notebook of ``assignment``."""
    course = load_course(root)
    ensure_assignment(course, assignment)
    todo = items(course, assignment, students)
    for student in {i.student for i in todo}:
        dest = course.feedback(student, assignment)
        if dest.exists():
            shutil.rmtree(dest)
    written: list[Path] = []
    workers = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
    if workers == 1:
        results = map(render, todo)
    else:
        pool = ProcessPoolExecutor(max_workers=workers)
        results = pool.map(render, todo)
    try:
        for item, (path, _) in zip(todo, results, strict=True):
            stamp = item.source.parent / "timestamp.txt"
            if stamp.is_file():
                shutil.copyfile(stamp, path.parent / "timestamp.txt")
            written.append(path)
            if on_page:
                on_page(path, len(written), len(todo))
    finally:
        if workers > 1:
            pool.shutdown()
    return written
