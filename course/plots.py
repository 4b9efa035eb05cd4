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
    """Register and select the course theme (plotly's white theme with ours on top); choose the
    renderer.

    The two are merged once, here: a default written ``"plotly_white+course"`` would be merged
    again for every figure made (a deep copy and validation of both, 20 ms a figure here).
    """
    pio.templates[TEMPLATE_NAME] = pio.templates.merge_templates(pio.templates["plotly_white"], _template())
    pio.templates.default = TEMPLATE_NAME
    pio.renderers.default = os.environ.get(RENDERER_ENV, DEFAULT_RENDERER)


def warm() -> None:
    """Fill plotly's lazy caches in a process before it forks notebook runners.

    plotly imports a validator class per property and loads its templates on first use:
    0.2-0.3 s of every notebook's first charts here. The grader's fork server calls this once
    (``course.grading.process.PRELOAD``), so every runner forked from it starts with them
    loaded. It changes no setting a notebook can see: the default template and renderer
    stay plotly's own until :func:`configure` runs.
    """
    import plotly.express as px  # noqa: F401  (the case notebooks use it)

    pio.templates.merge_templates(pio.templates["plotly_white"], _template())  # as configure() does
    fig = go.Figure([go.Scatter(x=[1], y=[1]), go.Bar(x=[1], y=[1]), go.Histogram(x=[1]),
                     go.Box(y=[1]), go.Heatmap(z=[[1]])])
    fig.add_vline(x=1, line_dash="dot", opacity=0.5)
    fig.add_hline(y=1, line=dict(color="grey"))
    fig.add_vrect(x0=0, x1=1, fillcolor="grey", line_width=0)
    fig.add_annotation(x=1, y=1, text="t")
    finish(fig, title="t", x_title="x", y_title="y")
    pio.renderers[DEFAULT_RENDERER].to_mimebundle(fig.to_dict())


def vlines(fig: go.Figure, xs, **style) -> go.Figure:
    """A vertical line across the plot at each of ``xs`` (a figure without subplots), styled like
    ``fig.add_vline``'s.

    The same shapes as ``for x in xs: fig.add_vline(x=x, **style)``, added in one update:
    ``add_vline`` validates every shape already on the figure again, so a dozen lines cost
    0.2 s where this costs a hundredth of it. ``style`` takes ``add_vline``'s keywords
    (``line_dash="dot"``, ``line_color="grey"``, ``opacity=0.5``, ``line=dict(...)``).
    """
    line = dict(style.pop("line", None) or {})
    line.update({key[len("line_"):]: style.pop(key) for key in list(style) if key.startswith("line_")})
    shapes = [dict(type="line", x0=x, x1=x, xref="x", y0=0, y1=1, yref="y domain", **style,
                   **({"line": line} if line else {})) for x in xs]
    fig.update_layout(shapes=[*fig.layout.shapes, *shapes])
    return fig


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
