"""Course kit for business analytics taught through six Chinese business cases.

Subpackages and modules:

- ``course.data``: one module per case's data (real data sets that ship in packages, and seeded
  generators calibrated to the articles' figures).
- ``course.notebook``: the one setup call every case notebook makes.
- ``course.checks``: type-aware checks used by visible and hidden test cells.
- ``course.plots``: the shared plotly theme and renderer settings.
- ``course.build`` / ``course.execute``: ``course build`` and ``course check``.
- ``course.submissions``: reference, blank and partial submissions made from a source notebook.
- ``course.cli``: the ``course`` command.
"""

__version__ = "0.1.0"
