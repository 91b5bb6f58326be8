"""One way to render pages: Jinja2 templates, shared CSS and plotly figures, offline.

Every HTML page loopml writes (the validation report, the model card, an evaluation's
report; later the monitoring report and the web UI) extends one base template
(``base.html.j2``: the shared CSS) and draws its charts with plotly. A page that draws
at least one figure carries plotly's JavaScript, from the plotly package's bundled
``plotly.min.js``, inlined once at the end of the page: nothing is fetched from the
network, so a page opens offline, from a CI artifact or an e-mail attachment.

Figures travel as plain plotly JSON (``{"data": [...], "layout": {...}}``), which is
what loopml stores; drawing them needs the plotly package only for its JavaScript.

Example:
    >>> page = render("page.html.j2", title="demo", body="<p>hi</p>")  # doctest: +SKIP
    >>> "<p>hi</p>" in page  # doctest: +SKIP
    True
"""

from __future__ import annotations

from loopml.render.figures import FigureLike, figure_json, figure_spec
from loopml.render.page import Page, figure_page, markdown_html, plotly_js, render

__all__ = [
    "FigureLike",
    "Page",
    "figure_json",
    "figure_page",
    "figure_spec",
    "markdown_html",
    "plotly_js",
    "render",
]
