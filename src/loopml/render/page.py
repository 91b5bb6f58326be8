"""Render a page: a template of the calling package over the shared base template.

``render(template, package=..., **context)`` looks the template up in the calling
package's ``templates/`` folder first, then in this package's (``base.html.j2``,
``figures.html.j2``). The context always has ``page`` (a :class:`Page`): a template draws
a figure with ``{{ page.figure(spec, caption) }}``, and the base template inlines
plotly's JavaScript once, after the last figure, only when the page drew one. Markdown
(a model card, a description) becomes HTML with the ``markdown`` filter
(:func:`markdown_html`), the one Markdown path of every page.

Example:
    >>> html = figure_page({"bars": {"data": [{"type": "bar", "y": [1, 2]}]}}, title="t")
    >>> html.count("<script>") >= 2 and 'src="http' not in html
    True
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from importlib import metadata, resources
from typing import TYPE_CHECKING, Any

from loopml.errors import MissingDependencyError
from loopml.render.figures import FigureLike, figure_spec

if TYPE_CHECKING:
    import jinja2
    from markupsafe import Markup

__all__ = ["Page", "figure_page", "markdown_html", "plotly_js", "render"]

_OWN = "loopml.render"
_ID = re.compile(r"[^A-Za-z0-9_-]+")
# JSON inside <script> must not close the element or open a comment.
_SCRIPT_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028",
                  "\u2029": "\\u2029"}  # fmt: skip


class Page:
    """What one rendering of a page has drawn: the figures' ids, and whether it needs plotly.

    Example:
        >>> page = Page()
        >>> "plotly-figure" in page.figure({"data": []}, key="roc"), page.uses_plotly
        (True, True)
    """

    def __init__(self) -> None:
        self.ids: list[str] = []

    @property
    def uses_plotly(self) -> bool:
        """Whether the page drew a figure (so the base template inlines plotly's JS)."""
        return bool(self.ids)

    def figure(self, figure: FigureLike, caption: str = "", *, key: str = "") -> Markup:
        """One figure: a ``<figure>`` holding the chart's ``<div>`` and its data as JSON.

        ``key`` becomes the element id (``fig-<key>``), a link target for ``#fig-<key>``.
        """
        from markupsafe import Markup, escape

        spec = figure_spec(figure)
        base = "fig-" + (_ID.sub("-", key).strip("-") or str(len(self.ids) + 1))
        element_id, n = base, 2
        while element_id in self.ids:
            element_id, n = f"{base}-{n}", n + 1
        self.ids.append(element_id)
        data = _script_json(spec)
        caption_html = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
        return Markup(
            f'<figure class="plot" id="{element_id}">{caption_html}'
            f'<div class="plotly-figure" data-figure="{element_id}"></div>'
            f'<script type="application/json" data-figure-json="{element_id}">{data}</script>'
            "</figure>"
        )

    def scripts(self) -> Markup:
        """plotly's JavaScript and the few lines drawing each figure (empty without any)."""
        from markupsafe import Markup

        if not self.uses_plotly:
            return Markup("")
        return Markup(f"<script>{_plotly_js_in_script()}</script>\n<script>{_DRAW}</script>")


_DRAW = """
document.querySelectorAll("script[data-figure-json]").forEach(function (node) {
  var spec = JSON.parse(node.textContent);
  var target = document.querySelector('div[data-figure="' + node.dataset.figureJson + '"]');
  Plotly.newPlot(target, spec.data, spec.layout || {},
                 {responsive: true, displaylogo: false});
});
""".strip()


def render(template: str, *, package: str = _OWN, **context: Any) -> str:
    """The page ``template`` (from ``package``'s ``templates/`` or the shared ones).

    Args:
        template: the template's file name, e.g. ``"validation_report.html.j2"``.
        package: the package whose ``templates/`` folder is searched first.
        context: the template's variables (``page`` and ``version`` are added).

    Example:
        >>> "<h1>hello</h1>" in render("page.html.j2", title="hello", body="")
        True
    """
    page = Page()
    return (
        _environment(package)
        .get_template(template)
        .render(page=page, version=_version(), **context)
    )


def figure_page(figures: Mapping[str, FigureLike], *, title: str, subtitle: str = "") -> str:
    """A page of figures, one after another, each under its name.

    Example:
        >>> "fig-bars" in figure_page({"bars": {"data": []}}, title="t")
        True
    """
    return render("figures.html.j2", title=title, subtitle=subtitle, figures=dict(figures))


def markdown_html(text: str) -> Markup:
    """``text`` (CommonMark plus tables) as HTML; raw HTML in it is shown as text, never run.

    A page may be opened by anyone, from a file or an attachment, and Markdown often holds
    what users typed (a description, a tag). Templates call it as ``{{ text | markdown }}``.

    Example:
        >>> html = markdown_html("| a |\\n| --- |\\n| <b>1</b> |")
        >>> "<table>" in html and "<td>&lt;b&gt;1&lt;/b&gt;</td>" in html
        True
    """
    from markupsafe import Markup

    return Markup(_markdown_parser().render(text))


@cache
def _markdown_parser() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table")


def plotly_js() -> str:
    """plotly.js, minified, as shipped inside the plotly Python package.

    Raises:
        MissingDependencyError: plotly is not installed.
    """
    return _plotly_js_text()


@cache
def _plotly_js_text() -> str:
    try:
        bundled = resources.files("plotly").joinpath("package_data", "plotly.min.js")
        return bundled.read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as err:
        raise MissingDependencyError("plotly", "all", "drawing figures in HTML pages") from err


@cache
def _plotly_js_in_script() -> str:
    # Inside <script>, only "</script" (any case) can end the element early.
    return re.sub(r"</(script)", r"<\\/\1", _plotly_js_text(), flags=re.IGNORECASE)


def _script_json(spec: Mapping[str, Any]) -> str:
    text = json.dumps(spec, separators=(",", ":"), allow_nan=False)
    for bad, good in _SCRIPT_UNSAFE.items():
        text = text.replace(bad, good)
    return text


@cache
def _environment(package: str) -> jinja2.Environment:
    import jinja2

    loaders: list[jinja2.BaseLoader] = []
    if package != _OWN:
        loaders.append(jinja2.PackageLoader(package, "templates"))
    loaders.append(jinja2.PackageLoader(_OWN, "templates"))
    environment = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["markdown"] = markdown_html
    return environment


def _version() -> str:
    try:
        return metadata.version("loopml")
    except metadata.PackageNotFoundError:
        return "(development)"
