"""What a student is shown for an attempt, per the instructor's policy, and where it goes.

Each notebook of an attempt gets one page in nbgrader's feedback exchange,
``<exchange>/<course>/feedback/<notebook_hash(secret, notebook)>.html`` (the name
``nbgrader release_feedback`` uses), so the student's *Assignments* list offers "Fetch Feedback"
for exactly that submission and nobody else can name the page. The page is, by policy level:

- ``nothing``: a receipt (when it arrived, that it was graded, when results come);
- ``score``: the receipt and the autograded score (with nbgrader's late penalty), written
  answers left to the instructor;
- ``checks``: the score and, per question, passed or not with the message of the **visible**
  check that failed. A failure inside the hidden tests is shown as "not correct yet", never with
  its message, source or expected value (the failing line is read from the traceback and
  compared with the cell's hidden region);
- ``full``: the course's feedback page (:func:`course.reports.feedback.render`: the release form
  of every test, no hidden test, student markup inert).

Notices use the same channel: an attempt over its limit ("kept, graded at …") and an attempt the
grader could not grade. Every page is escaped text with a Content-Security-Policy that allows no
script, except the ``full`` page, which carries the feedback module's own policy.
"""

from __future__ import annotations

import html
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from nbformat import NotebookNode

from course import cells
from course.grading.outcomes import StudentOutcome
from course.grading.specs import NotebookSpec

CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
_CELL_LINE = re.compile(r"Cell In\[\d*\], line (\d+)")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: Errors the grader itself writes into a test cell (their messages are the grader's own).
GRADER_ERRORS = {"NotReached", "GraderError"}
HIDDEN_FAILED = "not correct yet (the full test did not pass; its details come with the full feedback)"


@dataclass(frozen=True)
class Context:
    course_id: str
    assignment: str
    student: str
    submitted: str  # UTC
    due: datetime | None
    score: float | None = None  # autograded points as the gradebook has them (after penalty)
    max_score: float | None = None
    penalty: float = 0.0
    manual_max: float = 0.0
    note: str = ""  # e.g. "a later attempt is the one in the gradebook"


def _page(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n"
            f"<title>{html.escape(title)}</title>\n"
            "<style>body{font-family:sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;line-height:1.45}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}"
            ".pass{color:#166534}.fail{color:#991b1b}.note{color:#555}</style></head>\n"
            f"<body>\n<h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n")


def _due_text(ctx: Context) -> str:
    return f"{ctx.due:%Y-%m-%d %H:%M} UTC" if ctx.due else "the instructor's release of results"


def _receipt(ctx: Context) -> str:
    lines = [f"<p>Submitted {html.escape(ctx.submitted[:19])} UTC by {html.escape(ctx.student)}.</p>"]
    if ctx.note:
        lines.append(f"<p class=\"note\">{html.escape(ctx.note)}</p>")
    return "\n".join(lines)


def _score_block(ctx: Context) -> str:
    if ctx.score is None or ctx.max_score is None:
        return ""
    parts = [f"<p><strong>Score: {ctx.score:g} / {ctx.max_score:g}</strong> (questions graded automatically)</p>"]
    if ctx.penalty:
        parts.append(f"<p>Late penalty: {ctx.penalty:g} point(s) (submitted after the due date, {_due_text(ctx)}).</p>")
    if ctx.manual_max:
        parts.append(f"<p class=\"note\">Written answers ({ctx.manual_max:g} point(s)) are graded by your instructor.</p>")
    return "\n".join(parts)


def receipt_page(ctx: Context) -> str:
    body = (_receipt(ctx) + "\n<p>Your submission was received and graded. Your instructor shows results "
            f"after the due date ({html.escape(_due_text(ctx))}).</p>")
    return _page(f"{ctx.assignment}: submission received", body)


def score_page(ctx: Context) -> str:
    return _page(f"{ctx.assignment}: your score", _receipt(ctx) + "\n" + _score_block(ctx))


def notice_page(ctx: Context, message: str) -> str:
    return _page(f"{ctx.assignment}: submission received", _receipt(ctx) + f"\n<p>{html.escape(message)}</p>")


def _hidden_lines(source: str, markers: cells.Markers) -> set[int]:
    """1-based numbers of the lines inside a cell's hidden-test regions (markers included)."""
    inside, hidden = False, set()
    for number, line in enumerate(source.splitlines(), start=1):
        if markers.begin_hidden in line:
            inside = True
        if inside:
            hidden.add(number)
        if markers.end_hidden in line:
            inside = False
    return hidden


def visible_message(cell: NotebookNode, markers: cells.Markers) -> str | None:
    """The message of a failed test cell if the visible check raised it, else ``None``.

    A message is shown only when the traceback's cell frame points at a line outside the hidden
    region (or the grader wrote the error itself); anything uncertain is not shown."""
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if not errors:
        return None
    error = errors[0]
    if error.get("ename") in GRADER_ERRORS:
        return str(error.get("evalue", ""))[:300]
    for entry in error.get("traceback", []):
        match = _CELL_LINE.search(_ANSI.sub("", str(entry)))
        if match:
            if int(match.group(1)) in _hidden_lines(cell.source, markers):
                return None
            return f"{error.get('ename', 'Error')}: {error.get('evalue', '')}"[:300]
    return None


def checks_page(ctx: Context, notebook: NotebookNode | None, spec: NotebookSpec, scores: dict,
                markers: cells.Markers) -> str:
    rows = []
    if notebook is not None:
        for cell in notebook.cells:
            if not cells.is_test(cell):
                continue
            gid = cells.grade_id(cell) or "?"
            got, points = scores.get(gid, (0.0, spec.cells[gid].points if gid in spec.cells else 0.0))
            passed = got is not None and points is not None and float(got) >= float(points) > 0
            if passed:
                verdict, message = "<td class=\"pass\">passed</td>", ""
            else:
                shown = visible_message(cell, markers)
                verdict, message = "<td class=\"fail\">not yet</td>", html.escape(shown or HIDDEN_FAILED)
            rows.append(f"<tr><td><code>{html.escape(gid)}</code></td><td>{(got or 0):g} / {(points or 0):g}</td>"
                        f"{verdict}<td>{message}</td></tr>")
    table = ("<table><tr><th>question</th><th>points</th><th>result</th><th>what to look at</th></tr>\n"
             + "\n".join(rows) + "</table>") if rows else "<p>This notebook could not be graded (see the score).</p>"
    return _page(f"{ctx.assignment}/{spec.name}: your checks", _receipt(ctx) + "\n" + _score_block(ctx) + "\n" + table)


def pages_for(level: str, ctx: Context, outcome: StudentOutcome, specs: dict[str, NotebookSpec], markers,
              full_page=None) -> dict[str, str]:
    """notebook name -> page HTML for an attempt graded with ``outcome``, at ``level``."""
    pages: dict[str, str] = {}
    by_name = {nb.name: nb for nb in outcome.notebooks}
    for name, spec in specs.items():
        nb = by_name.get(name)
        if level == "nothing":
            pages[name] = receipt_page(ctx)
        elif level == "score":
            pages[name] = score_page(ctx)
        elif level == "checks":
            pages[name] = checks_page(ctx, nb.autograded if nb else None, spec, nb.scores if nb else {}, markers)
        elif level == "full" and nb is not None and nb.autograded is not None and full_page is not None:
            pages[name] = full_page(name)
        else:  # full feedback of a notebook that was missing or malformed: its score and why
            problems = "; ".join(nb.problems) if nb else "not submitted"
            pages[name] = _page(f"{ctx.assignment}/{name}", _receipt(ctx) + "\n" + _score_block(ctx)
                                + f"\n<p>{html.escape(problems[:600])}</p>")
    return pages


def publish(folder: Path, secret: str, pages: dict[str, str]) -> list[Path]:
    """Write the pages where nbgrader's ``fetch_feedback`` looks for them (atomically, 0644)."""
    from nbgrader.utils import notebook_hash

    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o711)  # like release_feedback: pages are found by their secret name only
    written = []
    for name, text in pages.items():
        target = folder / f"{notebook_hash(secret=secret, notebook_id=name)}.html"
        fd, tmp = tempfile.mkstemp(prefix=".page-", suffix=".html", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
        written.append(target)
    return written
