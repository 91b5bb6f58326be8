"""``loopml predictions``: read a deployment's payload log.

Example:
    $ loopml predictions churn-api --since 1h --limit 20
"""

from __future__ import annotations

import enum
import json
import math
from typing import Annotated, Any

import typer

from loopml.cli._output import JSON_META_KEY, cell, echo_json, format_time, new_table, show
from loopml.cli._state import get_state

__all__ = ["predictions"]


class OutputFormat(enum.StrEnum):
    """How ``loopml predictions`` prints the rows."""

    table = "table"
    csv = "csv"
    json = "json"


def predictions(
    ctx: typer.Context,
    deployment: Annotated[str, typer.Argument(help="The deployment whose predictions to read.")],
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="TIME",
            help="Start of the window (inclusive): an age (15m, 1h, 7d), an ISO time "
            "(2026-12-07T06:00; no zone means UTC), Unix milliseconds or 'now'.",
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until", metavar="TIME", help="End of the window (exclusive), in the same forms."
        ),
    ] = None,
    role: Annotated[
        str | None,
        typer.Option("--role", metavar="ROLE", help="Only 'primary' or only 'shadow' rows."),
    ] = None,
    limit: Annotated[
        int,
        typer.Option("--limit", "-n", metavar="N", min=0, help="At most N rows, oldest first."),
    ] = 100,
    labels: Annotated[
        bool,
        typer.Option(
            "--labels",
            help="Add a label column: each request's delayed label (loopml feedback), if any.",
        ),
    ] = False,
    output: Annotated[
        OutputFormat,
        typer.Option("--format", "-f", help="table, csv (all columns) or json (a list of rows)."),
    ] = OutputFormat.table,
    as_json: Annotated[
        bool, typer.Option("--json", help="The same as --format json (errors too, as JSON).")
    ] = False,
) -> None:
    """Show the predictions a deployment logged: one row per predicted row.

    Each row has the request id (a shadow call shares its primary's), the row's index
    in its request, the time, model version, role, HTTP status, latency and error, then
    the `input.*`, `feature.*` and `output.*` values (inputs and features are absent when
    the deployment logs without them). Rows are ordered by time, oldest first.

    Examples:

        loopml predictions churn-api --since 1h
        loopml predictions churn-api --since 2026-12-07 --until 2026-12-08 --format csv > day.csv
        loopml predictions churn-api --role shadow --limit 5 --json
        loopml predictions churn-api --since 7d --labels --format csv > labelled.csv
    """
    if as_json:
        output = OutputFormat.json
    ctx.meta[JSON_META_KEY] = output is OutputFormat.json
    from loopml.monitoring.reader import read_predictions

    frame = read_predictions(
        deployment,
        since,
        until,
        settings=get_state(ctx).settings(),
        role=role,  # type: ignore[arg-type]  # checked by read_predictions
        limit=limit,
        with_labels=labels,
    )
    records = [
        {str(k): _plain(v) for k, v in record.items()} for record in frame.to_dict("records")
    ]
    if output is OutputFormat.json:
        echo_json(records)
    elif output is OutputFormat.csv:
        _echo_csv([str(c) for c in frame.columns], records)
    else:
        _show_table([str(c) for c in frame.columns], records, deployment)


def _plain(value: Any) -> Any:
    """A cell as a JSON value: arrays as lists, bytes as hex, missing as ``None``."""
    if value is None:
        return None
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return _plain(value.tolist())
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    if isinstance(value, float) and math.isnan(value):
        return None
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _short(value: Any) -> str:
    """A table cell: like :func:`_text`, with floats at six significant digits (CSV and
    JSON keep every digit)."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list) and value and all(isinstance(v, float) for v in value):
        return "[" + ", ".join(f"{v:.6g}" for v in value) + "]"
    return _text(value)


def _echo_csv(columns: list[str], records: list[dict[str, Any]]) -> None:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow([_text(record[c]) for c in columns])
    typer.echo(buffer.getvalue(), nl=False)


def _show_table(columns: list[str], records: list[dict[str, Any]], deployment: str) -> None:
    if not records:
        show(cell(f"no predictions logged for {deployment!r} in this window"))
        return
    shown = ["time" if c == "time_ms" else c for c in columns if c != "deployment"]
    table = new_table(*shown, title=f"{deployment}: {len(records)} row(s)")
    for record in records:
        table.add_row(
            *(
                cell(format_time(record[c]) if c == "time_ms" else _short(record[c]))
                for c in columns
                if c != "deployment"
            )
        )
    show(table)
