"""A model card's Markdown as one self-contained HTML page, on the shared rendering path.

The page extends :mod:`loopml.render`'s base template (its CSS) and turns the Markdown
into HTML with render's ``markdown`` filter; after each evaluation
come that evaluation's stored figures, drawn by plotly, whose JavaScript is inlined
once. Raw HTML in the Markdown (a description, a tag) is shown as text, never run: the
card may be opened by anyone, from a file or an attachment.

Example:
    >>> page = render_page("# churn v3\\n\\n| a | b |\\n| --- | --- |\\n| 1 | 2 |", title="card")
    >>> "<table>" in page and "<style>" in page and "<script" not in page
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["render_card", "render_page"]

Figures = Mapping[str, Mapping[str, Mapping[str, Any]]]


def render_card(blocks: Sequence[tuple[str, str | None]], figures: Figures, *, title: str) -> str:
    """The card's Markdown ``blocks`` as a page; after a block naming an evaluation, the
    figures ``figures[evaluation]`` (element ids ``fig-<evaluation>-<name>``)."""
    from loopml.render import render

    shown = [
        {
            "markdown": text,
            "evaluation": evaluation or "",
            "figures": dict(figures.get(evaluation, {})) if evaluation else {},
        }
        for text, evaluation in blocks
    ]
    return render("model_card.html.j2", package="loopml.registry", title=title, blocks=shown)


def render_page(markdown: str, *, title: str) -> str:
    """``markdown`` (CommonMark plus tables) as a whole HTML page titled ``title``."""
    return render_card([(markdown, None)], {}, title=title)
