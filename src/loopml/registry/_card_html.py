"""A model card's Markdown as one self-contained HTML page: inline CSS, no scripts, no CDN.

Raw HTML in the Markdown (a description, a tag) is shown as text, never run: the card
may be opened by anyone, from a file or an attachment.

Example:
    >>> page = render_page("# churn v3\\n\\n| a | b |\\n| --- | --- |\\n| 1 | 2 |", title="card")
    >>> "<table>" in page and "<style>" in page
    True
"""

from __future__ import annotations

import html

__all__ = ["render_page"]

_STYLE = """
:root { --line: #e4e7ec; --muted: #667085; --ok: #067647; --bad: #b42318; }
body { font: 14px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #101828;
       margin: 2rem auto; max-width: 72rem; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.2rem; margin: 2.2rem 0 .6rem; padding-bottom: .3rem;
     border-bottom: 1px solid var(--line); }
h3 { font-size: 1rem; margin: 1.4rem 0 .5rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; min-width: 24rem; }
th, td { text-align: left; padding: .3rem .7rem; border-bottom: 1px solid var(--line);
         vertical-align: top; }
th { font-weight: 600; background: #f9fafb; }
th:empty { padding: 0; background: none; border: 0; }
td { font-variant-numeric: tabular-nums; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; background: #f2f4f7;
       padding: 0 .25rem; border-radius: .2rem; word-break: break-all; }
pre { background: #f2f4f7; padding: .7rem 1rem; border-radius: .4rem; overflow-x: auto; }
pre code { background: none; padding: 0; }
hr { border: 0; border-top: 1px solid var(--line); margin: 2rem 0 1rem; }
em { color: var(--muted); }
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="loopml">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<main>
{body}
</main>
</body>
</html>
"""


def render_page(markdown: str, *, title: str) -> str:
    """``markdown`` (CommonMark plus tables) as a whole HTML page titled ``title``."""
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark", {"html": False}).enable("table")
    body = parser.render(markdown)
    return _PAGE.format(title=html.escape(title), style=_STYLE.strip(), body=body.rstrip())
