"""``loopml experiments …``: the named groups that runs belong to.

Example:
    $ loopml experiments list
    $ loopml experiments list --json
"""

from __future__ import annotations

from typing import Annotated

import typer

from loopml.cli._output import JsonFlag, cell, echo_json, format_time, new_table, show
from loopml.cli._state import get_state

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

    Each row has the name, id, number of runs, when the last run started and the description.
    --json prints a list of {id, name, description, tags, created_at, runs, last_run_start}.

    Examples:

        loopml experiments list
        loopml experiments list -f "tags.team = 'risk'"
        loopml experiments list --json | jq -r '.[].name'
    """
    from loopml.paging import iter_pages

    client = get_state(ctx).tracking_client(remote=True)
    found = list(
        iter_pages(
            lambda token: client.list_experiment_summaries(
                filter, "created_at", limit=1000, page_token=token
            )
        )
    )
    if as_json:
        echo_json(
            [
                {
                    "id": item.experiment.id,
                    "name": item.experiment.name,
                    "description": item.experiment.description,
                    "tags": item.experiment.tags,
                    "created_at": item.experiment.created_at,
                    "runs": item.runs,
                    "last_run_start": item.last_run_start,
                }
                for item in found
            ]
        )
        return
    if not found:
        show(cell("no experiments yet; starting a run creates its experiment", "dim"))
        return
    table = new_table("name", "id", "runs", "last run", "created", "description")
    for item in found:
        exp = item.experiment
        table.add_row(
            cell(exp.name),
            cell(exp.id, "cyan"),
            cell(item.runs),
            cell(format_time(item.last_run_start)),
            cell(format_time(exp.created_at)),
            cell(exp.description or ""),
        )
    show(table)
