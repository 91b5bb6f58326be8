"""``loopml deployments …``: what is served is a record, not a command line.

A deployment names a registered model, the alias(es) or version(s) that answer and their
shares (the traffic policy), an optional shadow, what the payload log keeps, and how it
runs. Every change is a new revision with an audit row; ``loopml serve NAME`` serves it
and follows it.

Example:
    $ loopml deployments create churn-api --model churn --alias production
    $ loopml deployments update churn-api --route @production=90 --route @challenger=10
    $ loopml deployments history churn-api --json
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any

import typer

from loopml.cli._output import JsonFlag, cell, confirm, echo_json, format_time, new_table, show
from loopml.cli._state import get_state
from loopml.errors import LoopmlError
from loopml.uris import model_uri

if TYPE_CHECKING:
    from loopml.serving.deployments import DeploymentClient
    from loopml.serving.models import Deployment

__all__ = ["app", "create", "delete", "history", "list_deployments", "show_deployment", "update"]

app = typer.Typer(
    help="Deployments: a model, the aliases or versions that answer (canary, shadow), the "
    "payload log, resources; every change a revision.\n\n"
    "Example: `loopml deployments create churn-api --model churn --alias production`",
    no_args_is_help=True,
)

Name = Annotated[str, typer.Argument(metavar="NAME", help="The deployment, e.g. churn-api.")]
Reason = Annotated[
    str | None,
    typer.Option("--reason", metavar="TEXT", help="Why; kept in the history and audit log."),
]
Alias = Annotated[
    str | None,
    typer.Option("--alias", "-a", metavar="ALIAS", help="All traffic to what ALIAS points at."),
]
Version = Annotated[
    int | None,
    typer.Option("--version", "-v", metavar="N", min=1, max=2**31 - 1, help="All traffic to N."),
]
Routes = Annotated[
    list[str] | None,
    typer.Option(
        "--route",
        "-r",
        metavar="TARGET=WEIGHT",
        help="A share of the traffic: @alias=90 or v3=10 (repeat; weights add up to 100).",
    ),
]
Shadow = Annotated[
    str | None,
    typer.Option(
        "--shadow",
        metavar="TARGET",
        help="Also predict on a copy of every request with @alias or vN; logged, never returned.",
    ),
]
NoShadow = Annotated[bool, typer.Option("--no-shadow", help="Stop shadowing (update).")]
SampleRate = Annotated[
    float | None,
    typer.Option("--sample-rate", metavar="RATE", help="Share of requests logged, 0-1."),
]
PayloadLog = Annotated[
    bool | None,
    typer.Option(
        "--payload-log/--no-payload-log", help="Log predictions at all.", show_default=False
    ),
]
LogInputs = Annotated[
    bool | None,
    typer.Option(
        "--log-inputs/--no-log-inputs",
        help="Keep request inputs in the payload log (off for privacy).",
        show_default=False,
    ),
]
Workers = Annotated[
    int | None, typer.Option("--workers", metavar="N", help="Server worker processes.")
]
MaxBatchSize = Annotated[
    int | None,
    typer.Option("--max-batch-size", metavar="N", help="Requests merged per model call (1: off)."),
]
MaxBatchTime = Annotated[
    float | None,
    typer.Option("--max-batch-time-ms", metavar="MS", help="How long a batch waits for company."),
]
Device = Annotated[
    str | None, typer.Option("--device", metavar="DEVICE", help="cpu, cuda or cuda:N.")
]
Runtime = Annotated[
    str | None,
    typer.Option(
        "--runtime",
        metavar="RUNTIME",
        help="native (the package's flavor) or onnx (the graph converted at registration).",
    ),
]
Description = Annotated[
    str | None, typer.Option("--description", "-d", metavar="TEXT", help="What it is for.")
]


@contextlib.contextmanager
def _client(ctx: typer.Context) -> Iterator[DeploymentClient]:
    from loopml.serving.deployments import DeploymentClient

    yield DeploymentClient(get_state(ctx).settings())


@app.command("create")
def create(
    ctx: typer.Context,
    name: Name,
    model: Annotated[
        str, typer.Option("--model", "-m", metavar="MODEL", help="The registered model.")
    ],
    alias: Alias = None,
    version: Version = None,
    route: Routes = None,
    shadow: Shadow = None,
    sample_rate: SampleRate = None,
    payload_log: PayloadLog = None,
    log_inputs: LogInputs = None,
    workers: Workers = None,
    max_batch_size: MaxBatchSize = None,
    max_batch_time_ms: MaxBatchTime = None,
    device: Device = None,
    runtime: Runtime = None,
    description: Description = None,
    reason: Reason = None,
    as_json: JsonFlag = False,
) -> None:
    """Store a deployment of MODEL (revision 1); `loopml serve NAME` serves it.

    Give the traffic one way: --alias, --version, or several --route TARGET=WEIGHT adding up to
    100. The model and every alias or version named must exist; an existing name is refused.

    Examples:

        loopml deployments create churn-api --model churn --alias production
        loopml deployments create churn-api -m churn -r @production=90 -r @challenger=10
        loopml deployments create churn-api -m churn -a production --shadow @challenger
        loopml deployments create churn-api -m churn -a production --sample-rate 0.1 --no-log-inputs
    """
    from loopml.cli._deployment_options import (
        merge_payload_log,
        merge_resources,
        policy_from_options,
    )

    policy = policy_from_options(
        alias=alias, version=version, routes=route or (), shadow=shadow, no_shadow=False,
        current=None,
    )  # fmt: skip
    assert policy is not None  # create without a route is refused above
    logging = merge_payload_log(
        None, enabled=payload_log, sample_rate=sample_rate, log_inputs=log_inputs
    )
    resources = merge_resources(
        None, workers=workers, device=device, max_batch_size=max_batch_size,
        max_batch_time_ms=max_batch_time_ms, runtime=runtime,
    )  # fmt: skip
    with _client(ctx) as client:
        made = client.create(
            name, model, policy, payload_log=logging, resources=resources,
            description=description, reason=reason,
        )  # fmt: skip
        _print_one(client, made, as_json, f"created deployment {made.name} (revision 1)")


@app.command("list")
def list_deployments(
    ctx: typer.Context,
    model: Annotated[
        str | None, typer.Option("--model", "-m", metavar="MODEL", help="Only this model's.")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", metavar="N", min=1, max=10_000, help="At most N.")
    ] = 100,
    page_token: Annotated[
        str | None,
        typer.Option("--page-token", metavar="TOKEN", help="The next page of a listing."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List deployments by name, with their policy and revision.

    At most --limit deployments (100 by default) are shown; the caption gives the --page-token of
    the next page. --json prints {deployments, next_page_token}.

    Examples:

        loopml deployments list
        loopml deployments list --model churn --json
    """
    with _client(ctx) as client:
        page = client.list_deployments(limit=limit, page_token=page_token, model=model)
    if as_json:
        found = [d.to_dict() for d in page.items]
        echo_json({"deployments": found, "next_page_token": page.next_page_token})
        return
    if not page.items:
        show(cell("no deployments; create one with `loopml deployments create`", "dim"))
        return
    table = new_table("name", "model", "traffic", "shadow", "revision", "updated", "by")
    for deployment in page.items:
        shadow = deployment.policy.shadow
        table.add_row(
            cell(deployment.name, "cyan"),
            cell(deployment.model),
            cell(_traffic(deployment)),
            cell("-" if shadow is None else shadow.target),
            cell(deployment.revision),
            cell(format_time(deployment.updated_at)),
            cell(deployment.updated_by or "-"),
        )
    if page.next_page_token:
        table.caption = f"more: --page-token {page.next_page_token}"
    show(table)


@app.command("show")
def show_deployment(ctx: typer.Context, name: Name, as_json: JsonFlag = False) -> None:
    """Show a deployment: its routes and the versions they resolve to now, what it served.

    A route whose alias is gone is shown with the problem. --json prints the record with targets
    (route to version), problem (or null) and serving (the versions being served now).

    Examples:

        loopml deployments show churn-api
        loopml deployments show churn-api --json
    """
    with _client(ctx) as client:
        _print_one(client, client.get(name), as_json, None)


@app.command("update")
def update(
    ctx: typer.Context,
    name: Name,
    alias: Alias = None,
    version: Version = None,
    route: Routes = None,
    shadow: Shadow = None,
    no_shadow: NoShadow = False,
    sample_rate: SampleRate = None,
    payload_log: PayloadLog = None,
    log_inputs: LogInputs = None,
    workers: Workers = None,
    max_batch_size: MaxBatchSize = None,
    max_batch_time_ms: MaxBatchTime = None,
    device: Device = None,
    runtime: Runtime = None,
    description: Description = None,
    expected_revision: Annotated[
        int | None,
        typer.Option(
            "--expected-revision",
            metavar="N",
            help="Change it only if it is still at revision N (else exit 1, nothing changed).",
        ),
    ] = None,
    reason: Reason = None,
    as_json: JsonFlag = False,
) -> None:
    """Change what is given, in one revision; servers following it swap to it.

    What is not given stays as stored; when nothing differs, no revision is made. With
    --expected-revision N it changes only a deployment still at revision N (else exit 1).

    Examples:

        loopml deployments update churn-api -r @production=90 -r @challenger=10 --reason canary
        loopml deployments update churn-api --alias production --no-shadow
        loopml deployments update churn-api --sample-rate 0.05 --expected-revision 3
    """
    from loopml.cli._deployment_options import (
        merge_payload_log,
        merge_resources,
        policy_from_options,
    )

    with _client(ctx) as client:
        current = client.get(name)
        policy = policy_from_options(
            alias=alias, version=version, routes=route or (), shadow=shadow,
            no_shadow=no_shadow, current=current.policy,
        )  # fmt: skip
        logging = merge_payload_log(
            current.payload_log, enabled=payload_log, sample_rate=sample_rate,
            log_inputs=log_inputs,
        )  # fmt: skip
        resources = merge_resources(
            current.resources, workers=workers, device=device, max_batch_size=max_batch_size,
            max_batch_time_ms=max_batch_time_ms, runtime=runtime,
        )  # fmt: skip
        changes: dict[str, Any] = {}
        if description is not None:
            changes["description"] = description
        updated = client.update(
            name, policy=policy, payload_log=logging, resources=resources,
            expected_revision=expected_revision, reason=reason, **changes,
        )  # fmt: skip
        note = (
            f"updated deployment {name} to revision {updated.revision}"
            if updated.revision != current.revision
            else f"deployment {name} already is so (revision {updated.revision})"
        )
        _print_one(client, updated, as_json, note)


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: Name,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    reason: Reason = None,
    as_json: JsonFlag = False,
) -> None:
    """Delete a deployment; its history and served ranges stay.

    Examples:

        loopml deployments delete churn-api --yes --reason retired
    """
    with _client(ctx) as client:
        found = client.get(name)
        confirm(
            f"Delete deployment {name} (model {found.model}, revision {found.revision})?",
            yes=yes,
            action="deleting a deployment",
        )
        gone = client.delete(name, reason=reason)
    if as_json:
        echo_json({"deleted": gone.to_dict()})
        return
    show(f"deleted deployment {name} (it was at revision {gone.revision})")


@app.command("history")
def history(ctx: typer.Context, name: Name, as_json: JsonFlag = False) -> None:
    """Every revision of a deployment as stored, oldest first (after a delete too).

    Each row says what happened (created, updated, traffic, deleted), who did it, the traffic, the
    shadow and the reason. --json prints a list of revisions; an unknown name exits 1.

    Examples:

        loopml deployments history churn-api
        loopml deployments history churn-api --json
    """
    with _client(ctx) as client:
        revisions = client.history(name)
    if as_json:
        echo_json([revision.to_dict() for revision in revisions])
        return
    table = new_table("revision", "when", "what", "by", "traffic", "shadow", "reason")
    for revision in revisions:
        shadow = revision.policy.shadow
        table.add_row(
            cell(revision.revision, "cyan"),
            cell(format_time(revision.at)),
            cell(revision.action, "red" if revision.action == "deleted" else "bold"),
            cell(revision.actor),
            cell(_routes_text(revision.policy.routes)),
            cell("-" if shadow is None else shadow.target),
            cell(revision.reason or "", "dim"),
        )
    show(table)


# -- views ------------------------------------------------------------------------------


def _traffic(deployment: Deployment) -> str:
    return _routes_text(deployment.policy.routes)


def _routes_text(routes: Any) -> str:
    return ", ".join(f"{route.target}={route.weight}" for route in routes)


def _print_one(
    client: DeploymentClient, deployment: Deployment, as_json: bool, note: str | None
) -> None:
    try:
        targets: dict[str, int] | None = client.resolve(deployment)
        problem = None
    except LoopmlError as err:  # an alias removed since: show the record anyway
        targets, problem = None, err.message
    served = [r for r in client.served_versions(deployment.name) if r.ended_at is None]
    if as_json:
        echo_json(
            {
                **deployment.to_dict(),
                "targets": targets,
                "problem": problem,
                "serving": [r.to_dict() for r in served],
            }
        )
        return
    if note:
        show(note)
    table = new_table("target", "weight", "version now", "serving since")
    since = {r.target: r for r in served}
    for route in deployment.policy.targets():
        weight = "shadow" if route is deployment.policy.shadow else str(route.weight)
        now = "-" if targets is None else model_uri(deployment.model, targets[route.target])
        serving = since.get(route.target)
        table.add_row(
            cell(route.target, "cyan"),
            cell(weight),
            cell(now),
            cell(
                "-" if serving is None else f"v{serving.version} {format_time(serving.started_at)}"
            ),
        )
    log = deployment.payload_log
    res = deployment.resources
    table.title = f"{deployment.name}: {deployment.model}, revision {deployment.revision}"
    table.caption = (
        f"payload log: {'on' if log.enabled else 'off'}, sample {log.sample_rate:g}, "
        f"inputs {'kept' if log.log_inputs else 'not kept'} · workers {res.workers}, "
        f"{res.device}, {res.runtime}, batch {res.max_batch_size}/{res.max_batch_time_ms:g} ms"
        + (f" · {problem}" if problem else "")
    )
    show(table)
