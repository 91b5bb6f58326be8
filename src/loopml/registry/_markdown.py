"""Markdown pieces for model cards: tables, inline code, numbers, times, sizes.

Example:
    >>> print(table(["metric", "value"], [["f1", 0.91], ["a|b", None]]))
    | metric | value |
    | --- | --- |
    | f1 | 0.91 |
    | a\\|b | - |
    >>> code("a`b"), number(0.123456), size(1536)
    ('`` a`b ``', '0.1235', '1.5 KiB')
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

__all__ = ["code", "number", "pairs", "size", "table", "when"]


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table; cells are escaped, ``None`` shows as ``-``."""
    lines = [
        "| " + " | ".join(_cell(h) for h in headers) + " |",
        "| " + " | ".join("---" for _ in headers) + " |",
    ]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    # Inside a table a pipe ends the cell, even in code spans, unless escaped.
    text = "-" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ") or " "


def code(text: Any) -> str:
    """Inline code, safe for any text (a double-backtick span when the text has one)."""
    text = str(text)
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def number(value: Any) -> str:
    """A metric for a table: 4 significant digits for floats, ``-`` for missing."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)


def when(ms: Any) -> str:
    """Unix milliseconds as ``YYYY-MM-DD HH:MM UTC``; ``-`` for none."""
    if not isinstance(ms, int | float):
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def size(value: int | None) -> str:
    """Bytes in binary units: ``512 B``, ``1.5 KiB``, ``3.0 GiB``."""
    if value is None:
        return "-"
    if value < 1024:
        return f"{value} B"
    amount = value / 1024
    for unit in ("KiB", "MiB"):
        if amount < 1024:
            return f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} GiB"


def pairs(values: Mapping[str, str]) -> str:
    """``k=v, k=v``, or ``-``."""
    return ", ".join(f"{k}={v}" for k, v in sorted(values.items())) or "-"
