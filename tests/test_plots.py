"""The shared plotly helpers keep their figures identical to plotly's own ways of making them
(issue 17 made them faster; nothing a student sees may change)."""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio
import pytest

from course import plots


def _figure() -> go.Figure:
    return go.Figure([go.Scatter(x=[1, 2, 3], y=[3, 1, 2], name="a"), go.Bar(x=[1, 2], y=[2, 2], name="b")])


@pytest.mark.parametrize("style", [
    {},
    {"line_dash": "dot", "line_color": "grey", "opacity": 0.5},
    {"line": {"color": "red", "width": 2}, "line_dash": "dash"},
])
def test_vlines_draws_the_shapes_add_vline_draws(style):
    xs = [1, 2.5, 3]
    expected = _figure()
    expected.add_hline(y=1)  # a shape already there stays first
    for x in xs:
        expected.add_vline(x=x, **style)
    got = _figure()
    got.add_hline(y=1)
    plots.vlines(got, xs, **dict(style))
    assert got.to_plotly_json() == expected.to_plotly_json()
    assert len(got.layout.shapes) == len(xs) + 1


def test_the_course_theme_is_plotly_white_with_ours_on_top():
    """One merged template, the same figure as the two named together per figure."""
    saved = pio.templates.default
    try:
        plots.configure()
        merged = plots.finish(_figure(), title="t", x_title="x", y_title="y").to_plotly_json()
        pio.templates["_course_overlay_only"] = plots._template()
        pio.templates.default = "plotly_white+_course_overlay_only"
        named = plots.finish(_figure(), title="t", x_title="x", y_title="y").to_plotly_json()
    finally:
        pio.templates.default = saved
    assert merged == named
    assert merged["layout"]["template"]["layout"]["colorway"] == plots.PALETTE
    assert merged["layout"]["template"]["layout"]["plot_bgcolor"] == "white"  # plotly_white's


def test_warm_changes_no_setting_a_notebook_sees():
    before = (pio.templates.default, pio.renderers.default, sorted(pio.templates))
    plots.warm()
    assert (pio.templates.default, pio.renderers.default, sorted(pio.templates)) == before
