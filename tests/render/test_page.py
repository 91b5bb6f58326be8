"""The shared rendering path: self-contained pages with plotly inlined once, never fetched."""

from __future__ import annotations

import re

import pytest

from loopml.errors import InvalidInputError
from loopml.render import figure_json, figure_page, figure_spec, plotly_js, render

SCRIPT_SRC = re.compile(r"<script[^>]*\bsrc\s*=", re.IGNORECASE)


def test_a_page_of_figures_inlines_plotly_once_and_fetches_nothing() -> None:
    import plotly.graph_objects as go

    page = figure_page(
        {"one": go.Figure(go.Bar(y=[1, 2])), "two": {"data": [{"type": "scatter", "y": [3]}]}},
        title="figures",
    )
    assert page.count(plotly_js()[:200]) == 1
    assert not SCRIPT_SRC.search(page)
    assert 'id="fig-one"' in page
    assert 'id="fig-two"' in page


def test_a_page_without_figures_carries_no_javascript() -> None:
    page = render("page.html.j2", title="plain", body="text")
    assert "<script" not in page


def test_figure_text_cannot_close_the_script_element() -> None:
    hostile = {"data": [], "layout": {"title": {"text": "</script><script>alert(1)</script>"}}}
    page = figure_page({"x": hostile}, title="t")
    assert "<script>alert(1)" not in page
    assert "\\u003c/script\\u003e" in page


def test_figure_spec_refuses_what_is_not_a_figure() -> None:
    with pytest.raises(InvalidInputError, match="'data' list"):
        figure_spec({"layout": {}})
    with pytest.raises(InvalidInputError, match="plotly Figure"):
        figure_spec(42)  # type: ignore[arg-type]
    assert figure_json({"data": []}) == '{"data":[],"layout":{}}'


def test_markdown_is_one_filter_of_every_page_and_never_runs_raw_html() -> None:
    """The card, and later the web UI, turn Markdown into HTML one way: render's filter."""
    from loopml.render import markdown_html

    text = "# t\n\n| a | b |\n| --- | --- |\n| <script>alert(1)</script> | 2 |"
    html = markdown_html(text)
    assert "<table>" in html
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    page = render("page.html.j2", title="md", body=html)
    assert str(html) in page  # already safe markup: not escaped twice


def test_every_page_and_all_markdown_go_through_render() -> None:
    """One way to render pages: only render/'s base template opens a document, and only
    render/ turns Markdown into HTML (the _repr_html_ snippets are fragments, not pages)."""
    from pathlib import Path

    import loopml

    src = Path(loopml.__file__).parent
    pages, markdown = [], []
    for path in sorted(src.rglob("*")):
        if path.suffix not in (".py", ".j2") or (src / "render") in path.parents:
            continue
        text = path.read_text("utf-8")
        opens = r"<!doctype|<html[\s>]" if path.suffix == ".j2" else r"<html[\s>]|<body[\s>]"
        if re.search(opens, text, re.IGNORECASE):
            pages.append(str(path.relative_to(src)))
        if "markdown_it" in text:
            markdown.append(str(path.relative_to(src)))
    # The server's web UI is an application, not a report: its shell (navigation, sign-in,
    # its own stylesheet) is the one other document template, and it is the only one.
    assert pages == ["server/ui/templates/base.j2"]
    assert markdown == []
