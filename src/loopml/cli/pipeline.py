"""``loopml pipeline …``: run pipelines and watch them, inspect runs, explain the cache, resume.

Example:
    $ loopml pipeline run train.py:train --param alpha=0.5
    $ loopml pipeline show train
    $ loopml pipeline explain-cache 01J0ABCDEFGHJKMNPQRSTVWXYZ
    $ loopml pipeline resume 01J0ABCDEFGHJKMNPQRSTVWXYZ
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from loopml.cli._live import follow_run
from loopml.cli._options import ConfigFile, Params
from loopml.cli._output import JsonFlag, cell, echo_json, format_time, new_table, show
from loopml.cli._state import get_state
from loopml.errors import InvalidInputError
from loopml.uris import is_uri, run_uri

if TYPE_CHECKING:
    from loopml.pipelines import PipelineRun, StepEvent

__all__ = [
    "app",
    "explain_cache",
    "list_pipelines",
    "list_runs",
    "resume_run",
    "run_pipeline",
    "show_pipeline",
]

app = typer.Typer(
    help="Pipelines: run and follow them, list and show their runs, explain the cache, "
    "resume.\n\nExample: `loopml pipeline run train.py:train --param alpha=0.5`",
    no_args_is_help=True,
)

_VERDICT_STYLES = {"hit": "green", "miss": "yellow", "failed": "bold red", "map": "blue"}


@app.command("run")
def run_pipeline(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(metavar="TARGET", help="package.module:name or path/to/file.py:name."),
    ],
    param: Params = None,
    config: ConfigFile = None,
    executor: Annotated[
        str | None,
        typer.Option(
            "--executor", metavar="URL", help="local, process://4, dask://host:8786, ray, …"
        ),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Run every step, even those with a cache hit.")
    ] = False,
    name: Annotated[
        str | None, typer.Option("--name", metavar="RUN_NAME", help="A name for the run.")
    ] = None,
    load: Annotated[
        str | None,
        typer.Option(
            "--load",
            metavar="STEP[.OUTPUT]",
            help="Then print the value of this step's output on stdout (text as is, other "
            "values and --json as JSON), and the steps on stderr.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run a pipeline, showing each step live; exit 1 if a step failed.

    --param values override those of --config. On a terminal the steps are shown live;
    elsewhere one line is printed per step that ends. --load prints what a step returned
    (like run.load(STEP) in Python), e.g. the runs:/ URI of the model it logged.

    Examples:

        loopml pipeline run pipelines.train:train --param alpha=0.5 --param layers=[64,32]
        loopml pipeline run train.py:train --config params.toml --executor process://4
        loopml pipeline run train.py:train --no-cache --json
        MODEL_URI=$(loopml pipeline run train.py:train --param sample=200 --load fit)
    """
    from loopml.pipelines import load_pipeline, parse_param_pairs, text_parameters

    pipeline = load_pipeline(target)
    params = parse_param_pairs(param or [], text=text_parameters(pipeline.fn))
    settings = get_state(ctx).settings()

    def start(on_event: Callable[[StepEvent], None]) -> PipelineRun:
        return pipeline.run(  # type: ignore[no-any-return]
            params,
            config=config,
            executor=executor,
            cache=False if no_cache else None,
            run_name=name,
            settings=settings,
            on_event=on_event,
        )

    run = follow_run(start, settings, as_json=as_json, to_stderr=load is not None)
    if load is not None:
        _print_output(run, load, as_json=as_json)


def _print_output(run: PipelineRun, load: str, *, as_json: bool) -> None:
    """Print step output ``STEP[.OUTPUT]`` of ``run``: text as is (JSON with ``--json``),
    other JSON values as JSON."""
    node, _, output = load.partition(".")
    value = run.load(node, output or None)
    if isinstance(value, str) and not as_json:
        typer.echo(value)
    elif value is None or isinstance(value, str | bool | int | float | list | dict):
        echo_json(value)
    else:
        raise InvalidInputError(
            f"step '{node}' returned a {type(value).__name__}; --load prints text and JSON "
            f"values only; list the run's files with `loopml artifacts list {run_uri(run.id)}`"
        )


@app.command("resume")
def resume_run(
    ctx: typer.Context,
    run_id: Annotated[
        str,
        typer.Argument(
            metavar="RUN", help="A failed or killed pipeline run (a pipeline name: its latest)."
        ),
    ],
    executor: Annotated[
        str | None,
        typer.Option("--executor", metavar="URL", help="Another executor than the run's."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run a failed pipeline run again, reusing every step that finished.

    The pipeline is imported again from where the run found it, so fix the code first;
    steps whose cache key did not change are reused, the others run.

    Examples:

        loopml pipeline resume 01J0ABCDEFGHJKMNPQRSTVWXYZ
        loopml pipeline resume 01J0ABCDEFGHJKMNPQRSTVWXYZ --executor process://4 --json
    """
    from loopml.cli._pipeline_store import find_run
    from loopml.pipelines import resume

    state = get_state(ctx)
    info = find_run(state.tracking_client(), run_id)
    settings = state.settings()

    def start(on_event: Callable[[StepEvent], None]) -> PipelineRun:
        return resume(info.id, settings=settings, executor=executor, on_event=on_event)

    follow_run(start, settings, as_json=as_json)


@app.command("list")
def list_pipelines(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List the pipelines that have runs, and the registered (scheduled) ones.

    Each pipeline shows its number of runs and its latest run; each registered one its
    schedule, triggers and when it runs next.

    Examples:

        loopml pipeline list
        loopml pipeline list --json | jq -r '.pipelines[].name'
    """
    from loopml.cli._pipeline_store import pipelines_seen, registered_pipelines
    from loopml.cli._pipeline_views import RUN_STYLES

    client = get_state(ctx).tracking_client()
    seen, registered = pipelines_seen(client), registered_pipelines(client)
    if as_json:
        echo_json({"pipelines": seen, "registered": registered})
        return
    if not seen and not registered:
        show(cell("no pipelines yet; run one with `loopml pipeline run module:name`", "dim"))
        return
    views: list[Any] = []
    if seen:
        table = new_table("pipeline", "runs", "last run", "status", "when", title="pipelines")
        for row in seen:
            table.add_row(
                cell(row["name"], "bold"),
                cell(row["runs"]),
                cell(row["last_run_id"], "cyan"),
                cell(row["last_status"], RUN_STYLES.get(row["last_status"], "")),
                cell(format_time(row["last_run_at"])),
            )
        views.append(table)
    if registered:
        table = new_table(
            "pipeline", "schedule", "triggers", "next run", "enabled", title="registered"
        )
        for row in registered:
            schedule = f"{row['schedule']} ({row['timezone']})" if row["schedule"] else "-"
            table.add_row(
                cell(row["name"], "bold"),
                cell(schedule),
                cell(row["triggers"]),
                cell(format_time(row["next_fire_at"])),
                cell("yes" if row["enabled"] else "no", "" if row["enabled"] else "dim"),
            )
        views.append(table)
    show(*views)


@app.command("runs")
def list_runs(
    ctx: typer.Context,
    pipeline: Annotated[
        str | None, typer.Argument(metavar="PIPELINE", help="Only this pipeline's runs.")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", metavar="N", min=1, help="Show at most N runs.")
    ] = 20,
    status: Annotated[
        str | None,
        typer.Option(
            "--status", metavar="S", help="Only runs running, finished, failed or killed."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List pipeline runs, newest first, with how many steps ran, were cached and failed.

    Runs whose process died are shown as killed; resume them with `loopml pipeline resume`.

    Examples:

        loopml pipeline runs
        loopml pipeline runs train --status failed -n 5 --json
    """
    from loopml.cli._pipeline_store import list_runs as find_runs
    from loopml.cli._pipeline_views import runs_table

    client = get_state(ctx).tracking_client()
    found = find_runs(client, pipeline, limit=limit, status=status)
    if as_json:
        echo_json([info.to_dict(steps=False) for info in found])
        return
    if not found:
        show(cell("no pipeline runs match", "dim"))
        return
    table = runs_table(found)
    if len(found) == limit:
        table.caption = f"the latest {limit} runs; raise --limit to see more"
    show(table)


@app.command("show")
def show_pipeline(
    ctx: typer.Context,
    what: Annotated[
        str | None,
        typer.Argument(
            metavar="RUN_OR_PIPELINE",
            help="A pipeline run id, a pipeline name (its latest run), or a target "
            "module:name to draw without running it.",
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            "--target", metavar="MODULE:NAME", help="Draw this pipeline's graph; nothing runs."
        ),
    ] = None,
    param: Params = None,
    as_json: JsonFlag = False,
) -> None:
    """Show a pipeline run (header and its DAG with each step's status), or draw a pipeline.

    Each step is drawn once, its edges as lanes; a map's items are listed under it.

    Examples:

        loopml pipeline show 01J0ABCDEFGHJKMNPQRSTVWXYZ
        loopml pipeline show train
        loopml pipeline show train.py:train --param folds=5
    """
    from loopml.cli._pipeline_store import find_run
    from loopml.cli._pipeline_views import dag_view, run_header

    if target is None and what is not None and ":" in what and not is_uri(what, "runs"):
        target, what = what, None
    if target is not None:
        _show_trace(target, param or [], as_json=as_json)
        return
    if what is None:
        raise typer.BadParameter("give a run id, a pipeline name or --target MODULE:NAME")
    if param:
        raise InvalidInputError(
            "--param only shapes a pipeline drawn from a target (module:name); a run "
            "already has its params"
        )
    info = find_run(get_state(ctx).tracking_client(), what)
    if as_json:
        echo_json({**info.to_dict(), "nodes": info.spec.get("nodes", [])})
        return
    show(run_header(info), "", dag_view(info.spec.get("nodes", []), info.steps))


def _show_trace(target: str, pairs: list[str], *, as_json: bool) -> None:
    from loopml.cli._pipeline_views import dag_view
    from loopml.pipelines import load_pipeline, parse_param_pairs, text_parameters

    pipeline = load_pipeline(target)
    params = parse_param_pairs(pairs, text=text_parameters(pipeline.fn))
    nodes = pipeline.trace(params).describe()["nodes"]
    if as_json:
        echo_json({"pipeline": pipeline.name, "target": target, "params": params, "nodes": nodes})
        return
    title = f"pipeline {pipeline.name} ({target}): {len(nodes)} steps, not run"
    show(cell(title, "bold"), "", dag_view(nodes))


@app.command("explain-cache")
def explain_cache(
    ctx: typer.Context,
    run_id: Annotated[
        str, typer.Argument(metavar="RUN", help="A pipeline run id, or a pipeline name.")
    ],
    as_json: JsonFlag = False,
) -> None:
    """Say for each step of a run whether it was a cache hit, and why each miss ran.

    A miss is compared with the latest earlier run of the same step in the same
    pipeline: changed params, inputs, code, helpers, constants or package versions.

    Examples:

        loopml pipeline explain-cache 01J0ABCDEFGHJKMNPQRSTVWXYZ
        loopml pipeline explain-cache train --json
    """
    from loopml.cli._pipeline_store import explain_cache as explain
    from loopml.cli._pipeline_store import find_run
    from loopml.cli._pipeline_views import first_line

    client = get_state(ctx).tracking_client()
    info = find_run(client, run_id)
    rows = explain(client, info)
    if as_json:
        echo_json({"run": info.id, "pipeline": info.pipeline, "steps": rows})
        return
    table = new_table("step", "cache", "why", title=f"pipeline {info.pipeline} run {info.id}")
    for row in rows:
        verdict = row["verdict"]
        table.add_row(
            cell(row["node"], "bold"),
            cell(verdict.upper(), _VERDICT_STYLES.get(verdict, "dim")),
            cell("\n".join(first_line(reason) for reason in row["reasons"])),
        )
    show(table)


# `register`, `schedules` and `unregister` live in their own module.
from loopml.cli.pipeline_register import register, schedules, unregister  # noqa: E402

app.command("register")(register)
app.command("schedules")(schedules)
app.command("unregister")(unregister)
