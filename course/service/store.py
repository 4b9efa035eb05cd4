"""The service's own copy of each attempt: the files taken from the exchange and its grading result.

``<store>/<key>/files/`` holds the submission as taken (:mod:`.inbox`); once graded,
``outcome.json`` holds the scores, problems and timings and ``autograded/<notebook>.ipynb`` the
autograded notebooks, so a result saved before a crash is recorded and shown after it without
grading again. Nothing here is ever pickled; everything is JSON written atomically.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime
from pathlib import Path

from course import ipynb
from course.errors import BadNotebook
from course.grading.outcomes import NotebookOutcome, StudentOutcome


def save(folder: Path, outcome: StudentOutcome) -> None:
    """Write ``outcome`` into the attempt's folder (replacing an earlier one)."""
    staging = folder / "autograded.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for nb in outcome.notebooks:
        if nb.autograded is not None:
            ipynb.write(nb.autograded, staging / f"{nb.name}.ipynb")
    data = {
        "student": outcome.student,
        "problems": outcome.problems,
        "seconds": outcome.seconds,
        "timestamp": outcome.timestamp.isoformat() if outcome.timestamp else None,
        "notebooks": [{"name": nb.name, "status": nb.status, "problems": nb.problems, "timing": nb.timing,
                       "scores": {k: list(v) for k, v in nb.scores.items()}, "autograded": nb.autograded is not None}
                      for nb in outcome.notebooks],
    }
    shutil.rmtree(folder / "autograded", ignore_errors=True)
    os.replace(staging, folder / "autograded")
    tmp = folder / "outcome.json.tmp"
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(tmp, folder / "outcome.json")


def load(folder: Path) -> StudentOutcome:
    """The outcome :func:`save` wrote (``FileNotFoundError`` / ``ValueError`` if it is not there)."""
    data = json.loads((folder / "outcome.json").read_text(encoding="utf-8"))
    notebooks = []
    for entry in data["notebooks"]:
        autograded = None
        if entry["autograded"]:
            try:
                autograded = ipynb.read(folder / "autograded" / f"{entry['name']}.ipynb")
            except BadNotebook as exc:
                raise ValueError(f"{folder}: {exc}") from exc
        scores = {k: (v[0], v[1]) for k, v in entry["scores"].items()}
        notebooks.append(NotebookOutcome(entry["name"], entry["status"], scores, list(entry["problems"]),
                                         autograded, dict(entry["timing"])))
    stamp = datetime.fromisoformat(data["timestamp"]) if data["timestamp"] else None
    return StudentOutcome(data["student"], notebooks, list(data["problems"]), float(data["seconds"]), stamp)


def files(folder: Path) -> Path:
    return folder / "files"
