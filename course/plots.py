"""The shared plotly look: a colour-blind-safe theme and renderer settings.

Every case notebook calls :func:`configure` (through :func:`course.notebook.setup`), so charts
look the same everywhere and show both in JupyterLab and in exported HTML.

Renderer
--------
Students get ``plotly_mimetype`` alone (:data:`DEFAULT_RENDERER`): the figure is stored as
plotly JSON and drawn, interactive, by JupyterLab's jupyterlab-plotly renderer. When that
renderer has drawn a chart it also stores a static PNG of it in the output, so the notebook a
student saves from JupyterLab carries the picture: File > Save and Export Notebook As > HTML
(nbconvert) shows every chart, and a reopened notebook shows the image until it is re-run.
``tests/browser`` checks both in Chromium (an ``svg.main-svg`` for every chart in Lab; an
``<img>`` for every chart in the HTML export of the saved notebook).

Not the default, measured on a one-chart notebook:

- ``plotly_mimetype+notebook`` inlines plotly.js in the first output, so every notebook a
  student saves and submits grows from about 24 kB to 5.0 MB, in the exchange and in every
  copy nbgrader makes;
- ``plotly_mimetype+notebook_connected`` loads plotly.js from a CDN: the exported HTML is empty
  offline, and nbconvert cannot draw a mimetype-only output at all.

A notebook executed without a browser (stock ``nbgrader autograde`` before
``generate_feedback``) has no PNG, so its HTML would show no chart. Run those with
``COURSE_PLOTLY_RENDERER`` (:data:`RENDERER_ENV`) set to :data:`EXPORT_RENDERER`: their HTML
then carries plotly.js inline and draws the charts offline (about 5 MB per feedback file, read
once, never resubmitted); ``tests/browser`` checks that too. ``course feedback`` needs none of
this: it converts the stored plotly outputs itself, with plotly.js inlined once per page.
"""

from __future__ import annotations

import os

import plotly.graph_objects as go
import plotly.io as pio

#: Okabe & Ito (2008) colour-blind-safe palette.
PALETTE = [
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#000000",  # black
]

TEMPLATE_NAME = "course"

#: Renderer when nothing else is asked for: plotly's JupyterLab mime type, so the chart is
#: interactive in JupyterLab and stored as data in the notebook (see the module docstring).
DEFAULT_RENDERER = "plotly_mimetype"
#: Set ``COURSE_PLOTLY_RENDERER`` to override the renderer (any plotly renderer string).
RENDERER_ENV = "COURSE_PLOTLY_RENDERER"
#: The renderer for notebooks executed headless whose HTML is read (stock nbgrader feedback):
#: the mime bundle for JupyterLab plus an HTML copy with plotly.js inlined, drawn offline.
EXPORT_RENDERER = "plotly_mimetype+notebook"


def _template() -> go.layout.Template:
    return go.layout.Template(
        layout=go.Layout(
            colorway=PALETTE,
            font=dict(family="Arial, Helvetica, sans-serif", size=14),
            title=dict(x=0.0, xanchor="left", font=dict(size=17)),
            margin=dict(l=70, r=30, t=70, b=60),
            hoverlabel=dict(font_size=13),
        )
    )


def configure() -> None:
    """Register and select the course theme; choose the renderer."""
    pio.templates[TEMPLATE_NAME] = _template()
    pio.templates.default = f"plotly_white+{TEMPLATE_NAME}"
    pio.renderers.default = os.environ.get(RENDERER_ENV, DEFAULT_RENDERER)


def finish(fig: go.Figure, *, title: str, x_title: str, y_title: str, height: int = 420) -> go.Figure:
    """Give a figure its takeaway title and axis titles (with units) in one call.

    >>> fig = finish(go.Figure(), title="Pooling cuts variability", x_title="Stores pooled",
    ...              y_title="CV (sd / mean)")
    >>> fig.layout.xaxis.title.text
    'Stores pooled'
    """
    if not (title and x_title and y_title):
        raise ValueError("A course chart needs a title and both axis titles (with units).")
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title, height=height)
    return fig


def missing_labels(figure_json: dict) -> list[str]:
    """What a rendered figure (plotly JSON) lacks: title, x-axis or y-axis title."""
    layout = figure_json.get("layout", {})

    def text(part: object) -> str:
        if isinstance(part, dict):
            return str(part.get("text") or "")
        return str(part or "")

    missing = []
    if not text(layout.get("title")):
        missing.append("title")
    for axis in ("xaxis", "yaxis"):
        if not text(layout.get(axis, {}).get("title")):
            missing.append(f"{axis} title")
    return missing
