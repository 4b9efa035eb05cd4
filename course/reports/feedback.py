"""``course feedback``: per-student HTML from the autograded notebooks, safe to hand out.

Same template, score header and folder as ``nbgrader generate_feedback``
(``feedback/<student>/<assignment>/<notebook>.html``), with these differences:

- **no hidden test is shown**: each test cell shows the instructor's *release* source (taken
  from the gradebook, not from the autograded notebook), and only the message of its error
  (a traceback would quote hidden lines; nbgrader #917, #1363); the page is checked for exactly
  that before it is written;
- **student markup is inert**: markdown cells, written answers and HTML outputs are sanitised
  (nbconvert's ``SanitizeHTML``, bleach underneath): scripts, event handlers, iframes, forms,
  styles and ``javascript:`` links are escaped or dropped; SVG and JavaScript outputs are
  dropped; and the page carries a Content-Security-Policy that lets only the kit's own scripts
  run (each carries the page's nonce);
- **charts are visible offline**: each ``application/vnd.plotly.v1+json`` output becomes an
  HTML chart, with plotly.js inlined once per page;
- **one student never stops the class**: a page that cannot be made is reported and skipped;
  a student's previous feedback is replaced only once all of their new pages are written.
"""

from __future__ import annotations

import copy
import html as htmlmod
import os
import re
import secrets
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from nbformat import NotebookNode

from course import cells, ipynb
from course.grading import specs as specmod
from course.layout import Course

PLOTLY_MIME = "application/vnd.plotly.v1+json"
#: What student markup may keep (everything else is escaped): text structure, tables, links.
ALLOWED_TAGS = ["a", "abbr", "b", "blockquote", "br", "caption", "code", "del", "div", "em", "h1", "h2", "h3",
                "h4", "h5", "h6", "hr", "i", "li", "ol", "p", "pre", "span", "strong", "sub", "sup", "table",
                "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul"]
ALLOWED_ATTRIBUTES = {"a": ["href", "title"], "abbr": ["title"], "td": ["colspan", "rowspan"],
                      "th": ["colspan", "rowspan"], "*": ["class"]}
CSP = ("default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; img-src data:; "
       "font-src data: 'self'; base-uri 'none'; form-action 'none'; frame-src 'none'; object-src 'none'")


class PageLeak(Exception):
    """A page would show something of a hidden test: it is not written."""


@dataclass
class StudentPages:
    student: str
    pages: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


# ---- the page's notebook ------------------------------------------------------------------------


def _sanitizer():
    from nbconvert.preprocessors.sanitize import SanitizeHTML

    sanitizer = SanitizeHTML(tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, strip=False)
    sanitizer.safe_output_keys = {"metadata", "text/plain", "text/latex", "application/json", "image/png",
                                  "image/jpeg", PLOTLY_MIME}
    return sanitizer


def _shown_source(cell: NotebookNode, spec: specmod.NotebookSpec, markers: cells.Markers) -> str:
    """What a test cell shows: the instructor's release form of it (the gradebook's copy)."""
    gid = cells.grade_id(cell)
    trusted = spec.cells.get(gid or "")
    return cells.strip_hidden(trusted.source if trusted is not None else cell.source, markers)


def page_notebook(autograded: NotebookNode, spec: specmod.NotebookSpec, markers: cells.Markers) -> NotebookNode:
    """The notebook a feedback page shows: tests in release form, student markup sanitised."""
    nb = copy.deepcopy(autograded)
    for cell in nb.cells:
        if cells.is_test(cell):
            cell.source = _shown_source(cell, spec, markers)
            cell.outputs = [dict(o, traceback=[f"{o.get('ename', 'Error')}: {o.get('evalue', '')}"])
                            for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    nb, _ = _sanitizer().preprocess(nb, {})
    for cell in nb.cells:  # attachments are student data too; the page does not need them
        cell.pop("attachments", None)
    return nb


def verify(nb: NotebookNode, spec: specmod.NotebookSpec, markers: cells.Markers) -> None:
    """Raise :class:`PageLeak` unless every test cell shows only its release form and messages."""
    for cell in nb.cells:
        if not cells.is_test(cell):
            continue
        if cell.source != _shown_source(cell, spec, markers) or cells.has_hidden(cell.source, markers):
            raise PageLeak(f"test cell {cells.label(cell)} would show more than its release form")
        for output in cell.get("outputs", []):
            if output.get("output_type") != "error" or len(output.get("traceback", [])) > 1:
                raise PageLeak(f"test cell {cells.label(cell)} would show output of its hidden tests")


def distinctive_secrets(spec: specmod.NotebookSpec, nb: NotebookNode, markers: cells.Markers) -> set[str]:
    """Hidden-test lines that nothing else on the page explains: not in any release form of the
    instructor's cells, not in the student's own cells. Used as a last check of the HTML."""
    secret: set[str] = set()
    shown: set[str] = set()
    for trusted in spec.cells.values():
        if trusted.is_test:
            secret |= cells.secret_lines(trusted.source, markers, min_length=12)
            shown |= {ln.strip() for ln in cells.strip_hidden(trusted.source, markers).splitlines()}
        else:
            shown |= {ln.strip() for ln in trusted.source.splitlines()}
    for cell in nb.cells:
        if not cells.is_test(cell):
            shown |= {ln.strip() for ln in cell.source.splitlines()}
    return secret - shown


def _chart_html(figure: dict, nonce: str) -> str:
    import plotly.io as pio

    config = figure.get("config") if isinstance(figure.get("config"), dict) else None
    body = pio.to_html({"data": figure.get("data", []), "layout": figure.get("layout", {})},
                       include_plotlyjs=False, full_html=False, validate=False, config=config,
                       default_width="100%")
    # plotly emits one script (the figure's data follows it as escaped JSON): give it the nonce
    return _SCRIPT.sub(f'<script nonce="{nonce}"', body, count=1)


def charts_to_html(nb: NotebookNode, nonce: str) -> int:
    """Replace plotly outputs by HTML charts whose scripts carry the page's nonce."""
    count = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if output.get("output_type") in ("display_data", "execute_result") and PLOTLY_MIME in data:
                figure = data.pop(PLOTLY_MIME)
                try:
                    data["text/html"] = _chart_html(dict(figure), nonce)
                    count += 1
                except Exception:  # a broken figure is shown as its text
                    data.setdefault("text/plain", "(a chart that could not be drawn)")
    return count


# ---- rendering ----------------------------------------------------------------------------------


_EXPORTERS: dict[Path, object] = {}


def _exporter(course: Course):
    if course.root not in _EXPORTERS:
        _EXPORTERS[course.root] = _make_exporter(course)
    return _EXPORTERS[course.root]


def _make_exporter(course: Course):
    from nbconvert.exporters import HTMLExporter
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades
    from traitlets.config import Config

    config = copy.deepcopy(course.config)
    here = Path(str(__import__("nbgrader").__file__)).parent / "server_extensions" / "formgrader"
    extra = Config()
    extra.HTMLExporter.template_name = "feedback"
    extra.HTMLExporter.extra_template_basedirs = [str(here / "templates")]
    extra.HTMLExporter.extra_template_paths = [str(here / "static" / "node_modules" / "bootstrap" / "dist" / "css")]
    config.merge(extra)
    exporter = HTMLExporter(config=config)
    exporter.register_preprocessor(GetGrades(config=config), enabled=True)
    exporter.register_preprocessor(CSSHTMLHeaderPreprocessor(config=config), enabled=True)
    return exporter


_SCRIPT = re.compile(r"<script\b", re.I)


def _harden(page: str, nonce: str, charts: int) -> str:
    """The CSP first in <head>; the template's own head scripts (and plotly.js) get the nonce."""
    head_end = page.find("</head>")
    if head_end < 0:
        raise PageLeak("the template produced no <head>")
    head = _SCRIPT.sub(f'<script nonce="{nonce}"', page[:head_end])
    meta = f'<meta http-equiv="Content-Security-Policy" content="{CSP.format(nonce=nonce)}">\n'
    head = head.replace("<head>", "<head>\n" + meta, 1)
    if charts:
        from plotly.offline import get_plotlyjs

        head += f'<script type="text/javascript" nonce="{nonce}">{get_plotlyjs()}</script>\n'
    return head + page[head_end:]


def render(course: Course, spec: specmod.NotebookSpec, student: str, assignment: str, autograded: Path) -> str:
    """One feedback page's HTML (raises :class:`PageLeak` rather than show a hidden test)."""
    markers = course.markers
    nb = page_notebook(ipynb.read(autograded), spec, markers)
    verify(nb, spec, markers)
    nonce = secrets.token_urlsafe(16)
    charts = charts_to_html(nb, nonce)
    resources = {"nbgrader": {"student": student, "assignment": assignment, "notebook": spec.name,
                              "db_url": course.db_url},
                 "unique_key": spec.name, "output_files_dir": f"{spec.name}_files"}
    page, _ = _exporter(course).from_notebook_node(nb, resources=resources)
    page = _harden(page, nonce, charts)
    text = htmlmod.unescape(page)
    leaked = sorted(line for line in distinctive_secrets(spec, nb, markers) if line in text)
    if leaked:
        raise PageLeak(f"the page would show hidden-test lines {[line[:40] for line in leaked[:3]]}")
    return page


# ---- the class ----------------------------------------------------------------------------------


def _student_pages(root: Path, assignment: str, student: str, specs: dict[str, specmod.NotebookSpec]) -> StudentPages:
    """Every page of one student, swapped in together (never raises)."""
    course = Course.load(root)
    result = StudentPages(student)
    source = course.autograded(student, assignment)
    dest = course.feedback(student, assignment)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{assignment}-new-", dir=dest.parent))
    try:
        for name, spec in specs.items():
            path = source / f"{name}.ipynb"
            if not path.is_file():
                continue
            try:
                (staging / f"{name}.html").write_text(render(course, spec, student, assignment, path), encoding="utf-8")
            except PageLeak as exc:
                result.problems.append(f"{student}/{name}: feedback not written: {exc}")
            except Exception as exc:  # a broken autograded notebook, a template error
                result.problems.append(f"{student}/{name}: feedback not written: {type(exc).__name__}: {str(exc)[:300]}")
        for name in ("timestamp.txt", "submission_secret.txt"):  # both written by `course grade` itself
            made = source / name
            if made.is_file() and not made.is_symlink():
                shutil.copyfile(made, staging / name)
        if result.problems or not any(staging.glob("*.html")):
            return result  # the previous feedback (if any) stays as it was
        old = None
        if dest.exists():
            old = dest.with_name(f".{assignment}-old-{os.getpid()}")
            os.replace(dest, old)
        os.replace(staging, dest)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        result.pages = sorted(dest.glob("*.html"))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


def generate(course: Course, assignment: str, *, students: list[str] | None = None, jobs: int | None = None,
             on_student=None) -> list[StudentPages]:
    """Feedback pages for every autograded submission of ``assignment`` (one result per student)."""
    specs = specmod.ensure(course, assignment)
    base = course.folder("autograded")
    found = sorted(p.parent.name for p in base.glob(f"*/{assignment}") if p.is_dir()) if base.is_dir() else []
    todo = [s for s in found if not students or s in students]
    workers = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
    results: list[StudentPages] = []
    if workers == 1:
        mapped = (_student_pages(course.root, assignment, s, specs) for s in todo)
        for result in mapped:
            results.append(result)
            if on_student:
                on_student(result, len(results), len(todo))
        return results
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for result in pool.map(_student_pages, [course.root] * len(todo), [assignment] * len(todo), todo,
                               [specs] * len(todo)):
            results.append(result)
            if on_student:
                on_student(result, len(results), len(todo))
    return results
