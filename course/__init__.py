"""Course kit for business analytics taught through six Chinese business cases.

What students' notebooks import (kept stable: every released notebook depends on it):

- ``course.notebook``: the one setup call every case notebook makes;
- ``course.data``: one module per case's data (real data sets that ship in packages, and seeded
  generators calibrated to the articles' figures);
- ``course.checks``: type-aware checks used by visible and hidden test cells;
- ``course.plots``: the shared plotly theme; ``course.variants``: whose data this is.

The instructor's side (``docs/architecture.md`` maps it): ``course.layout`` (the course and its
folders, from nbgrader's config), ``course.cells`` (what a cell is), ``course.ipynb`` (notebook
files), ``course.errors``; ``course.authoring`` (build, check, key, simulated submissions);
``course.grading`` (the grader's host side) and ``course.sandboxed`` (what runs inside the
sandbox); ``course.reports`` (feedback, exports, summaries); ``course.exchange``,
``course.hub``, ``course.doctor``, ``course.demo``; ``course.cli``, the ``course`` command.
"""

__version__ = "0.1.0"
