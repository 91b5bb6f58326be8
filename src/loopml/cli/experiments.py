"""``loopml experiments …``: the named groups that runs belong to.

Example:
    $ loopml experiments list
    $ loopml experiments list --json
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from loopml.cli._output import JsonFlag, cell, echo_json, format_time, new_table, show
from loopml.cli._state import get_state

if TYPE_CHECKING:
    from loopml.tracking import TrackingClient

__all__ = ["app", "list_experiments"]

app = typer.Typer(
    help="Experiments: named groups of runs.\n\nExample: `loopml experiments list --json`",
    no_args_is_help=True,
)


@app.command("list")
def list_experiments(
    ctx: typer.Context,
    as_json: JsonFlag = False,
    filter: Annotated[
        str | None,
        typer.Option("--filter", "-f", help="e.g. \"name LIKE 'churn%' AND tags.team = 'risk'\""),
    ] = None,
) -> None:
    """List experiments, oldest first, with how many runs each holds.

    Examples:

        loopml experiments list
        loopml experiments list -f "tags.team = 'risk'"
        loopml experiments list --json | jq -r '.[].name'
    """
    client = get_state(ctx).tracking_client()
    found = (
        client.list_experiments()
        if filter is None
        else client.search_experiments(filter, ["created_at"], max_results=100_000)
    )
    counts = _run_counts(client)
    if as_json:
        echo_json(
            [
                {
                    "id": exp.id,
                    "name": exp.name,
                    "description": exp.description,
                    "tags": exp.tags,
                    "created_at": exp.created_at,
                    "runs": counts.get(exp.id, (0, None))[0],
                    "last_run_start": counts.get(exp.id, (0, None))[1],
                }
                for exp in found
            ]
        )
        return
    if not found:
        show(cell("no experiments yet; starting a run creates its experiment", "dim"))
        return
    table = new_table("name", "id", "runs", "last run", "created", "description")
    for exp in found:
        count, last = counts.get(exp.id, (0, None))
        table.add_row(
            cell(exp.name),
            cell(exp.id, "cyan"),
            cell(count),
            cell(format_time(last)),
            cell(format_time(exp.created_at)),
            cell(exp.description or ""),
        )
    show(table)


def _run_counts(client: TrackingClient) -> dict[str, tuple[int, int | None]]:
    """Per experiment id: the number of live runs and the latest start time."""
    from sqlalchemy import func, select

    from loopml.store.schema import runs

    query = (
        select(runs.c.experiment_id, func.count(), func.max(runs.c.start_time))
        .where(runs.c.deleted_at.is_(None))
        .group_by(runs.c.experiment_id)
    )
    with client.store.read() as conn:
        return {exp_id: (count, last) for exp_id, count, last in conn.execute(query)}
