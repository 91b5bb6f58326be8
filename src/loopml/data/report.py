"""Show a validation result: a self-contained HTML page, or a Rich table for the terminal.

The HTML page is rendered on the shared path (:mod:`loopml.render`): CSS inline, each
compared column's distribution drawn against the reference's with plotly, whose
JavaScript is inlined once; nothing is loaded from the network, so the page can be kept
as a CI artifact and opened anywhere. Every value is escaped: column names and category
values come from the data.

Example:
    >>> from loopml.data.validate import ValidationResult
    >>> page = render_html(ValidationResult((), row_count=3, columns=()), title="orders")
    >>> page.startswith("<!DOCTYPE html>") and "No violations" in page
    True
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.table import Table

    from loopml.data.checks import Violation
    from loopml.data.validate import ValidationResult

__all__ = ["render_html", "render_table"]

_TEMPLATE = "validation_report.html.j2"
_STYLE = {"error": "bold red", "warn": "yellow", "ok": "green"}


def render_html(
    result: ValidationResult, *, title: str = "Data validation", subtitle: str = ""
) -> str:
    """The result as one HTML page: verdict, violations (errors first), column summary.

    Args:
        result: what :func:`loopml.data.validate.validate` returned.
        title: the page's heading and ``<title>``.
        subtitle: a line under the heading, e.g. the data and schema validated.

    Example:
        >>> from loopml.data.validate import ValidationResult
        >>> "<title>t</title>" in render_html(ValidationResult((), 0, ()), title="t")
        True
    """
    drift = result.drift
    columns = [
        {
            "name": c.name,
            "status": c.status,
            "expected": c.expected or "-",
            "observed": c.observed or "missing",
            "nulls": "-" if c.null_fraction is None else f"{c.null_fraction:.2%}",
            "drift": drift[c.name].summary if c.name in drift else "-",
        }
        for c in result.columns
    ]
    from loopml.render import render
    from loopml.render.distribution import distribution_figure

    pictures = [
        {
            "name": name,
            "figure": distribution_figure(name, found),
            "drift": drift[name].summary if name in drift else "",
        }
        for name, found in result.distributions.items()
    ]
    return render(
        _TEMPLATE,
        package="loopml.data",
        title=title,
        subtitle=subtitle,
        distributions=pictures,
        passed=result.passed,
        summary=result.summary,
        row_count=result.row_count,
        error_count=len(result.errors),
        warning_count=len(result.warnings),
        violations=[_violation_row(v) for v in _errors_first(result.violations)],
        columns=columns,
    )


def render_table(result: ValidationResult) -> Table:
    """The violations as a Rich table, errors first, titled with the verdict.

    Example:
        >>> from loopml.data.validate import ValidationResult
        >>> render_table(ValidationResult((), 5, ())).title
        'passed: 5 rows, no violations'
    """
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title=result.summary,
        title_style=_STYLE["ok" if result.passed else "error"],
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    for name in ("severity", "column", "check", "expected", "observed"):
        table.add_column(name)
    table.add_column("rows", justify="right")
    table.add_column("share", justify="right")
    for v in _errors_first(result.violations):
        table.add_row(
            Text(v.severity, style=_STYLE[v.severity]),
            Text(v.column if v.column is not None else "(table)"),
            Text(v.check),
            Text(v.expected),
            Text(v.observed),
            Text(str(v.count)),
            Text(_share(v.fraction)),
        )
    return table


def _errors_first(violations: tuple[Violation, ...]) -> list[Violation]:
    return sorted(violations, key=lambda v: v.severity != "error")


def _violation_row(v: Violation) -> dict[str, Any]:
    return {
        "severity": v.severity,
        "column": v.column,
        "check": v.check,
        "expected": v.expected,
        "observed": v.observed,
        "count": v.count,
        "share": _share(v.fraction),
        "examples": [{"value": _text(value), "count": n} for value, n in v.examples],
    }


def _share(fraction: float) -> str:
    if 0 < fraction < 0.0001:
        return "<0.01%"
    return f"{fraction:.2%}"


def _text(value: Any) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return "(" + ", ".join(_text(v) for v in value) + ")"
    return repr(value) if isinstance(value, str) else str(value)
