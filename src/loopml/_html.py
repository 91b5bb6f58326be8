"""Compact HTML tables for notebook display (``_repr_html_`` of runs, versions, …).

Every value passes through :func:`html.escape`: names, tags and params are user input.
Long values are cut, and mappings show their first entries only, so a repr stays small.

Example:
    >>> "Run &lt;b&gt;" in html_table("Run <b>", [("id", "01J0"), ("tags", {"a": "1"})])
    True
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["html_table", "human_bytes", "short", "when"]

MAX_TEXT = 200
MAX_ITEMS = 12
_STYLE = "border-collapse:collapse;font-size:0.9em"
_CELL = "text-align:left;padding:2px 8px;vertical-align:top"


def short(value: Any, limit: int = MAX_TEXT) -> str:
    """``str(value)`` cut to ``limit`` characters, with an ellipsis when cut."""
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def when(ms: int | None) -> str:
    """Unix milliseconds as ``YYYY-MM-DD HH:MM:SS UTC`` (``""`` for ``None``)."""
    if ms is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ms / 1000))


def human_bytes(size: int | None) -> str:
    """``1536`` -> ``1.5 KiB``."""
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _cell(value: Any) -> str:
    if isinstance(value, Mapping):
        items = list(value.items())
        shown = "<br>".join(
            f"{html.escape(short(k, 80))} = {html.escape(short(_number(v), 80))}"
            for k, v in items[:MAX_ITEMS]
        )
        more = len(items) - MAX_ITEMS
        return shown + (f"<br>… {more} more" if more > 0 else "")
    if isinstance(value, list | tuple):
        shown = ", ".join(html.escape(short(v, 80)) for v in value[:MAX_ITEMS])
        more = len(value) - MAX_ITEMS
        return shown + (f", … {more} more" if more > 0 else "")
    return html.escape(short(_number(value)))


def _number(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


def html_table(
    title: str,
    rows: Iterable[tuple[str, Any]],
    *,
    columns: Sequence[str] | None = None,
    records: Iterable[Sequence[Any]] = (),
) -> str:
    """A two-column table of ``(label, value)`` rows, then an optional grid.

    Rows whose value is ``None``, empty or ``""`` are left out. ``columns`` and
    ``records`` add a second table (e.g. a pipeline run's steps) under the first.
    """
    body = "".join(
        f'<tr><th style="{_CELL}">{html.escape(label)}</th>'
        f'<td style="{_CELL}">{_cell(value)}</td></tr>'
        for label, value in rows
        if value is not None and value != "" and value != {} and value != [] and value != ()
    )
    out = (
        f'<table class="loopml" style="{_STYLE}"><caption style="text-align:left">'
        f"<b>{html.escape(short(title))}</b></caption>{body}</table>"
    )
    if columns:
        head = "".join(f'<th style="{_CELL}">{html.escape(c)}</th>' for c in columns)
        lines = "".join(
            "<tr>" + "".join(f'<td style="{_CELL}">{_cell(v)}</td>' for v in record) + "</tr>"
            for record in records
        )
        out += f'<table class="loopml" style="{_STYLE}"><tr>{head}</tr>{lines}</table>'
    return out
