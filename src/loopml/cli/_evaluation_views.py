"""Rich renderings of an evaluation: metrics (beside the champion's), slices, gates.

Everything reads the evaluation's plain-data form (``EvaluationResult.to_dict()`` or a
stored evaluation), so a fresh result and one read back from the registry look the same.

Example:
    >>> gate_mark({"passed": False, "skipped": True})
    ('skipped', 'yellow')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from loopml.cli._output import cell, format_value, new_table

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Table

__all__ = ["evaluation_views", "gate_mark", "gates_table"]

# Where a smaller value is the better one; everything else: higher is better.
_LOWER_IS_BETTER = ("log_loss", "calibration_error", "rmse", "mae", "latency_ms_per_row")
_SLICE_COLUMNS = 6  # metric columns in a slice table; --json has all


def evaluation_views(data: Mapping[str, Any]) -> list[RenderableType]:
    """The header line, the metric table, one table per slice, the gates and the notes."""
    views: list[RenderableType] = [_headline(data), metrics_table(data)]
    views += slice_tables(data)
    if data.get("gates"):
        views.append(gates_table(data["gates"]))
    reasons = {gate.get("reason") for gate in data.get("gates") or []}
    for note in data.get("notes") or []:
        if note not in reasons:  # a skipped gate says it already
            views.append(cell(f"note: {note}", "dim"))
    views.append(_verdict(data))
    return views


def metrics_table(data: Mapping[str, Any]) -> Table:
    """Metric, value and, with a champion, its value and the change."""
    champion = data.get("champion")
    headers = ["metric", "value"]
    if champion:
        headers += [f"champion (v{champion['version']})", "change"]
    table = new_table(*headers, title="metrics")
    for column in table.columns[1:]:
        column.justify = "right"
    theirs = champion["metrics"] if champion else {}
    for name, value in data.get("metrics", {}).items():
        row: list[RenderableType] = [cell(name, "bold"), cell(format_value(value))]
        if champion:
            row += [cell(format_value(theirs.get(name))), _change(name, value, theirs.get(name))]
        table.add_row(*row)
    return table


def slice_tables(data: Mapping[str, Any]) -> list[Table]:
    """One table per slice: a row per group with its row count and metrics."""
    tables = []
    for name, groups in (data.get("slices") or {}).items():
        metrics = _slice_metrics(groups)
        table = new_table(name, "rows", *metrics[:_SLICE_COLUMNS], title=f"slice by {name}")
        for column in table.columns[1:]:
            column.justify = "right"
        for group, values in groups.items():
            shown = [cell(format_value(values.get(m))) for m in metrics[:_SLICE_COLUMNS]]
            table.add_row(cell(group, "bold"), cell(format_value(values.get("rows"))), *shown)
        if len(metrics) > _SLICE_COLUMNS:
            table.caption = f"{len(metrics) - _SLICE_COLUMNS} more metric(s) with --json"
        tables.append(table)
    return tables


def gate_mark(gate: Mapping[str, Any]) -> tuple[str, str]:
    """The mark and style of a gate outcome: ``✔`` passed, ``✘`` failed, ``skipped``."""
    if gate.get("skipped"):
        return "skipped", "yellow"
    return ("✔", "green") if gate.get("passed") else ("✘", "bold red")


def gates_table(gates: list[Mapping[str, Any]]) -> Table:
    """One row per gate: its mark, the expression and the reason."""
    table = new_table("", "gate", "reason", title="gates")
    for gate in gates:
        mark, style = gate_mark(gate)
        table.add_row(cell(mark, style), cell(gate.get("gate", "")), cell(gate.get("reason", "")))
    return table


def _headline(data: Mapping[str, Any]) -> str:
    rows = data.get("metrics", {}).get("rows")
    counted = f", {int(rows):,} rows" if isinstance(rows, int | float) else ""
    return (
        f"evaluated {data.get('model_uri')} on {data.get('data')} "
        f"({data.get('task')}, target {data.get('target')}{counted})"
    )


def _verdict(data: Mapping[str, Any]) -> RenderableType:
    status = f"; {data['model_uri']} is now {data['status']}" if data.get("status") else ""
    evaluation = f"evaluation {data.get('id')}"
    if data.get("passed") is None:
        return cell(f"{evaluation}: no gates were asked for{status}", "dim")
    if data["passed"]:
        return cell(f"passed: every gate holds ({evaluation}){status}", "bold green")
    failed = sum(1 for g in data.get("gates", []) if not g.get("passed") and not g.get("skipped"))
    return cell(f"failed: {failed} gate(s) refuse the model ({evaluation}){status}", "bold red")


def _change(name: str, value: Any, theirs: Any) -> RenderableType:
    if not isinstance(value, int | float) or not isinstance(theirs, int | float):
        return cell("-")
    delta = float(value) - float(theirs)
    if delta == 0 or name in ("rows", "package_size_bytes"):
        return cell(f"{delta:+.4g}", "dim")
    better = (delta < 0) if name in _LOWER_IS_BETTER else (delta > 0)
    return cell(f"{delta:+.4g}", "green" if better else "red")


def _slice_metrics(groups: Mapping[str, Mapping[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for values in groups.values():
        names.update((key, None) for key in values if key != "rows")
    return list(names)
