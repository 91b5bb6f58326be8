"""``loopml runs …``: find, inspect, compare and delete runs.

Example:
    $ loopml runs list -e churn -f "metrics.auc > 0.9" -o "metrics.auc desc"
    $ loopml runs compare 01J0AAAA 01J0BBBB
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from loopml.cli._options import (
    Limit,
    PageToken,
    Reason,
    Yes,
    echo_listing,
    fetch_listing,
    show_next_page,
)
from loopml.cli._output import JsonFlag, cell, confirm, echo_json, show, terminal_width
from loopml.cli._state import get_state
from loopml.cli._targets import run_target, unique
from loopml.cli.artifacts import walk_artifacts
from loopml.errors import InvalidInputError

if TYPE_CHECKING:
    from loopml.tracking import TrackingClient

__all__ = ["app", "compare_runs", "delete_runs", "list_runs", "show_run"]

app = typer.Typer(
    help="Runs: list, show, compare and delete them.\n\nExample: `loopml runs list -n 20`",
    no_args_is_help=True,
)

RunIds = Annotated[
    list[str], typer.Argument(metavar="RUN_ID", help="Run ids (or `runs:/<run_id>` URIs).")
]


@app.command("list")
def list_runs(
    ctx: typer.Context,
    experiment: Annotated[
        list[str] | None,
        typer.Option(
            "--experiment", "-e", metavar="NAME", help="Only runs of this experiment (repeatable)."
        ),
    ] = None,
    filter_text: Annotated[
        str | None,
        typer.Option(
            "--filter",
            "-f",
            metavar="EXPR",
            help="A filter, e.g. \"metrics.acc > 0.9 AND params.model = 'rf'\".",
        ),
    ] = None,
    order_by: Annotated[
        list[str] | None,
        typer.Option(
            "--order-by",
            "-o",
            metavar="ITEM",
            help="Sort key, e.g. 'metrics.acc desc' (repeatable).",
        ),
    ] = None,
    max_results: Annotated[
        int,
        typer.Option(
            "--max-results", "-n", metavar="N", min=1, help="Show at most this many runs."
        ),
    ] = 100,
    all_columns: Annotated[
        bool, typer.Option("--all-columns", help="A column for every param and metric.")
    ] = False,
    as_json: JsonFlag = False,
    limit: Limit = None,
    page_token: PageToken = None,
) -> None:
    """List runs, newest first, with their key params and metrics.

    Without --all-columns the table shows the params and metrics named in --filter
    and --order-by, then the ones most runs have. Runs whose process died are shown
    as killed. The filter language is documented in loopml.tracking.search.

    Examples:

        loopml runs list -e churn
        loopml runs list -f "metrics.auc > 0.9 and params.model = 'rf'" -o "metrics.auc desc"
        loopml runs list -f "status = 'failed'" --json
        loopml runs list -e churn --limit 50 --json   # then --page-token TOKEN
    """
    from loopml.cli._views import mentioned_keys, run_json, runs_table

    client = get_state(ctx).tracking_client(remote=True)
    experiments, order = experiment or None, order_by or None
    found, page = fetch_listing(
        limit,
        page_token,
        lambda size, token: client.list_runs(
            experiments, filter_text, order, limit=size, page_token=token
        ),
        lambda: client.search_runs(experiments, filter_text, order, max_results),
    )
    names = _experiment_names(client)
    if as_json:
        rows = [run_json(run, names) for run in found]
        echo_listing(rows, page)
        return
    if not found:
        show(cell("no runs match", "dim"))
        return
    mentioned = mentioned_keys(filter_text, order_by or [])
    width = None if all_columns else terminal_width()
    table = runs_table(found, names, mentioned, all_columns=all_columns, max_width=width)
    if page is None and len(found) == max_results:
        more = f"the first {max_results} runs; raise --max-results to see more"
        table.caption = f"{table.caption}; {more}" if table.caption else more
    show(table, natural_width=all_columns)
    show_next_page(page)


@app.command("show")
def show_run(
    ctx: typer.Context,
    run_id: Annotated[
        str, typer.Argument(metavar="RUN_ID", help="A run id or `runs:/<run_id>` URI.")
    ],
    all_tags: Annotated[
        bool, typer.Option("--all-tags", help="Also show loopml.* tags (source, git, …).")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Show one run: attributes, params, latest metrics, tags and its artifact files.

    Tags loopml sets itself (loopml.*) are hidden unless --all-tags is given.

    Examples:

        loopml runs show 01J0ABCDEFGHJKMNPQRSTVWXYZ
        loopml runs show runs:/01J0ABCDEFGHJKMNPQRSTVWXYZ --all-tags --json
    """
    from loopml.cli._views import run_details, run_json

    client = get_state(ctx).tracking_client(remote=True)
    run = client.get_run(run_target(run_id)[0])
    names = _experiment_names(client)
    tags = {k: v for k, v in run.tags.items() if all_tags or not k.startswith("loopml.")}
    files = list(walk_artifacts(client, run.id))
    if as_json:
        data = run_json(run, names)
        data["tags"] = tags
        data["artifacts"] = [
            {"path": e.path, "size": e.size, "digest": e.digest} for e in files if not e.is_dir
        ]
        echo_json(data)
        return
    show(*run_details(run, names.get(run.experiment_id, "?"), tags, files))


@app.command("compare")
def compare_runs(
    ctx: typer.Context,
    run_ids: RunIds,
    lower: Annotated[
        list[str] | None,
        typer.Option(
            "--lower-is-better", metavar="KEY", help="A metric where lower wins (repeatable)."
        ),
    ] = None,
    higher: Annotated[
        list[str] | None,
        typer.Option(
            "--higher-is-better", metavar="KEY", help="A metric where higher wins (repeatable)."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Compare runs side by side: differing params and the best value of each metric.

    Higher is better, unless a metric's name contains loss, error, mse, mae or rmse
    (any case): then lower is. --lower-is-better / --higher-is-better override that.

    Examples:

        loopml runs compare 01J0AAAAAAAAAAAAAAAAAAAAAA 01J0BBBBBBBBBBBBBBBBBBBBBB
        loopml runs compare RUN_A RUN_B RUN_C --lower-is-better latency_ms --json
    """
    from loopml.cli._compare import compare_runs as line_up
    from loopml.cli._views import comparison_tables

    ids = unique([run_target(text)[0] for text in run_ids])
    if len(ids) < 2:
        raise InvalidInputError(
            f"give at least two different runs to compare, got {len(ids)}; "
            "e.g. `loopml runs compare RUN_A RUN_B`"
        )
    both = sorted(set(lower or ()) & set(higher or ()))
    if both:
        raise InvalidInputError(
            f"metric {both[0]!r} is both --lower-is-better and --higher-is-better"
        )
    client = get_state(ctx).tracking_client(remote=True)
    comparison = line_up([client.get_run(i) for i in ids], set(lower or ()), set(higher or ()))
    if as_json:
        echo_json(
            {
                "runs": [{"id": r.id, "name": r.name} for r in comparison.runs],
                "params": {
                    p.key: {"values": p.values, "differs": p.differs} for p in comparison.params
                },
                "metrics": {
                    m.key: {
                        "values": m.values,
                        "lower_is_better": m.lower_is_better,
                        "best": m.best,
                    }
                    for m in comparison.metrics
                },
            }
        )
        return
    show(*comparison_tables(comparison))


@app.command("delete")
def delete_runs(
    ctx: typer.Context,
    run_ids: RunIds,
    reason: Reason = None,
    yes: Yes = False,
    as_json: JsonFlag = False,
) -> None:
    """Delete runs (softly: they disappear from listings; `loopml gc` frees their files).

    Asks for confirmation on a terminal; without one (a script, a pipe) it refuses
    unless --yes is given. Every run is checked before any is deleted.

    Examples:

        loopml runs delete 01J0ABCDEFGHJKMNPQRSTVWXYZ
        loopml runs delete RUN_A RUN_B --reason "bad data split" --yes
    """
    client = get_state(ctx).tracking_client(remote=True)
    found = [client.get_run(run_target(text)[0]) for text in unique(run_ids)]
    listing = ", ".join(f"{run.id} ({run.name})" for run in found)
    confirm(f"Delete {len(found)} run(s): {listing}?", yes=yes, action="deleting runs")
    for run in found:
        client.delete_run(run.id, reason=reason)
    if as_json:
        echo_json({"deleted": [run.id for run in found], "reason": reason})
        return
    lines = [f"deleted run {run.id} ({run.name})" for run in found]
    show(*lines, cell("their artifact files are freed by `loopml gc`", "dim"))


def _experiment_names(client: TrackingClient) -> dict[str, str]:
    return {exp.id: exp.name for exp in client.list_experiments()}
