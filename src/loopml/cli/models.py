"""``loopml models …``: the model registry from a shell.

Register packages as numbered versions, point aliases at them, evaluate them against a
promotion policy, approve and promote them, and read every move back.

Example:
    $ loopml models register runs:/01J0ABCDEFGHJKMNPQRSTVWXYZ/model churn
    $ loopml models evaluate models:/churn/3 --data datasets:/churn_holdout/1 --target churned
    $ loopml models promote churn 3 --reason "beats v2 on recall"
    $ loopml models history churn --alias production --at 2026-11-17
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from loopml.cli._models_targets import model_target, parse_pairs, parse_when
from loopml.cli._options import (
    Limit,
    PageToken,
    Quiet,
    echo_listing,
    fetch_listing,
    show_next_page,
)
from loopml.cli._output import JsonFlag, cell, echo_json, format_time, respond, show
from loopml.cli._registry import open_registry
from loopml.errors import InvalidInputError
from loopml.uris import is_uri, model_uri

if TYPE_CHECKING:
    from rich.console import RenderableType

    from loopml.packaging.onnx_export import OnnxMode

__all__ = [
    "alias_version",
    "app",
    "archive_version",
    "list_models",
    "model_history",
    "register_version",
    "show_model",
]

app = typer.Typer(
    help="The model registry: register, alias, evaluate, approve, promote, audit.\n\n"
    "Example: `loopml models register runs:/RUN_ID/model churn`",
    no_args_is_help=True,
)

Name = Annotated[str, typer.Argument(metavar="NAME", help="The registered model.")]
Version = Annotated[int, typer.Argument(metavar="VERSION", min=1, help="The version number.")]
Reason = Annotated[
    str | None,
    typer.Option("--reason", metavar="TEXT", help="Why; kept in the history and audit log."),
]


@app.command("list")
def list_models(
    ctx: typer.Context, as_json: JsonFlag = False, limit: Limit = None, page_token: PageToken = None
) -> None:
    """List registered models with their latest version and aliases.

    Every model is shown unless --limit or --page-token asks for one page; then the next page's
    token is printed, and --json prints {items, next_page_token} instead of a list.

    Examples:

        loopml models list
        loopml models list --json | jq -r '.[].name'
        loopml models list --limit 50 --json | jq -r '.next_page_token'
    """
    from loopml.cli._models_views import models_table, to_json

    with open_registry(ctx) as registry:
        found, page = fetch_listing(
            limit,
            page_token,
            lambda size, token: registry.page_models(limit=size, page_token=token),
            registry.list_models,
        )
    if as_json:
        echo_listing(to_json(found), page)
        return
    if not found:
        show(cell("no models yet; register one with `loopml models register SOURCE NAME`", "dim"))
        return
    show(models_table(found))
    show_next_page(page)


@app.command("show")
def show_model(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            metavar="NAME[/VERSION|@ALIAS]",
            help="A model (its policy and versions) or one version: churn/3, churn@production "
            "or models:/churn/3.",
        ),
    ],
    as_json: JsonFlag = False,
) -> None:
    """Show a model (policy and versions) or one version (status, aliases, approvals).

    For one version it also gives the latest evaluation's verdict; --json adds approvals and every
    evaluation. An unknown model exits 1 and lists the registered ones.

    Examples:

        loopml models show churn
        loopml models show churn@production
        loopml models show models:/churn/3 --json
    """
    from loopml.cli._models_views import approvals_table, model_views, to_json, version_about

    parsed = model_target(target)
    with open_registry(ctx) as registry:
        if parsed.version is None and parsed.alias is None:
            model = registry.get_model(parsed.name)
            versions = registry.list_versions(parsed.name)
            if as_json:
                echo_json({**to_json(model), "versions": to_json(versions)})
            else:
                show(*model_views(model, versions))
            return
        version = registry.resolve(parsed.uri)
        approvals = registry.list_approvals(version.model, version.version)
        evaluations = registry.list_evaluations(version.model, version.version)
    if as_json:
        echo_json(
            {
                **to_json(version),
                "approvals": to_json(approvals),
                "evaluations": evaluations,
            }
        )
        return
    views: list[RenderableType] = [version_about(version)]
    if evaluations:
        latest = evaluations[0]
        verdict = {True: "passed", False: "failed", None: "no gates"}[latest.get("passed")]
        views.append(
            f"latest evaluation {latest['id']} on {latest['data']} "
            f"({format_time(latest.get('created_at'))}): {verdict}; "
            f"`loopml models card {version.model} {version.version}` has the details"
        )
    if approvals:
        views.append(approvals_table(approvals))
    show(*views)


@app.command("register")
def register_version(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(
            metavar="SOURCE",
            help="runs:/RUN_ID/PATH (a package a run logged) or a local package folder.",
        ),
    ],
    name: Name,
    description: Annotated[
        str | None,
        typer.Option("--description", "-d", metavar="TEXT", help="Describe this version."),
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", "-t", metavar="KEY=VALUE", help="A tag (repeatable)."),
    ] = None,
    onnx: Annotated[
        bool,
        typer.Option(
            "--onnx",
            help="Add an ONNX graph checked against the model on its input example "
            "(scikit-learn, LightGBM, XGBoost); refuse to register when that fails.",
        ),
    ] = False,
    onnx_if_possible: Annotated[
        bool,
        typer.Option(
            "--onnx-if-possible",
            help="Like --onnx, but register without the graph (and say why) when it fails.",
        ),
    ] = False,
    quiet: Quiet = False,
    as_json: JsonFlag = False,
) -> None:
    """Register a model package as the next version of NAME (the model is created if new).

    The package's files are verified against model.json and copied to the version, so
    deleting the run later never breaks it. The new version starts as registered;
    `loopml models evaluate` validates (or rejects) it.

    Examples:

        loopml models register runs:/01J0ABCDEFGHJKMNPQRSTVWXYZ/model churn
        loopml models register ./exported/churn-model churn -d "retrained on May data"
        loopml models register runs:/01J0ABCDEFGHJKMNPQRSTVWXYZ/model churn -t team=growth --json
        loopml models register runs:/01J0ABCDEFGHJKMNPQRSTVWXYZ/model churn --onnx
        VERSION=$(loopml models register runs:/01J0ABCDEFGHJKMNPQRSTVWXYZ/model churn -q)
    """
    from loopml.cli._models_views import to_json

    tags = parse_pairs(tag, "--tag")
    if not is_uri(source, "runs") and not Path(source).is_dir():
        raise InvalidInputError(
            f"SOURCE '{source}' is neither a runs:/RUN_ID/PATH URI nor a package folder; "
            "list a run's packages with `loopml artifacts list runs:/RUN_ID`"
        )
    if onnx and onnx_if_possible:
        raise InvalidInputError("give --onnx or --onnx-if-possible, not both")
    mode: OnnxMode = "required" if onnx else "if-possible" if onnx_if_possible else "off"
    with open_registry(ctx, writes=True) as registry:
        version = registry.register(
            source, name, description=description, tags=tags or None, onnx=mode
        )
    if quiet:
        typer.echo(version.version)
        return
    if as_json:
        echo_json(to_json(version))
        return
    show(
        f"registered {version.uri} ({version.flavor}, status {version.status})",
        cell(
            f"next: loopml models evaluate {version.uri} --data datasets:/NAME/N --target COLUMN",
            "dim",
        ),
    )


@app.command("alias")
def alias_version(
    ctx: typer.Context,
    name: Name,
    alias: Annotated[str, typer.Argument(metavar="ALIAS", help="e.g. staging, canary.")],
    version: Annotated[
        int | None,
        typer.Argument(metavar="[VERSION]", min=1, help="The version to point at."),
    ] = None,
    reason: Reason = None,
    remove: Annotated[bool, typer.Option("--remove", help="Remove the alias instead.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Point ALIAS of NAME at VERSION (or remove it); every move is kept in the history.

    Protected aliases (production, by default) move only with `loopml models promote`,
    which checks the promotion policy.

    Examples:

        loopml models alias churn staging 4 --reason "for the load test"
        loopml models alias churn staging --remove
    """
    if remove == (version is not None):
        raise InvalidInputError(
            "give a VERSION to point the alias at, or --remove to remove it (not both); "
            f"e.g. `loopml models alias {name} {alias} 3`"
        )
    with open_registry(ctx, writes=True) as registry:
        if remove:
            registry.remove_alias(name, alias, reason=reason)
        else:
            assert version is not None  # checked above
            registry.set_alias(name, alias, version, reason=reason)
    respond(
        {"model": name, "alias": alias, "version": version, "reason": reason},
        f"removed {name}@{alias}" if remove else f"{name}@{alias} -> {model_uri(name, version)}",
        as_json=as_json,
    )


@app.command("archive")
def archive_version(
    ctx: typer.Context,
    name: Name,
    version: Version,
    reason: Reason = None,
    as_json: JsonFlag = False,
) -> None:
    """Archive a version: it stays readable but can no longer be aliased or promoted.

    A version an alias points at cannot be archived; move or remove the alias first.

    Examples:

        loopml models archive churn 2 --reason "trained on the leaky split"
    """
    from loopml.cli._models_views import to_json

    with open_registry(ctx, writes=True) as registry:
        archived = registry.archive(name, version, reason=reason)
    respond(to_json(archived), f"archived {model_uri(name, version)}", as_json=as_json)


@app.command("history")
def model_history(
    ctx: typer.Context,
    name: Name,
    alias: Annotated[
        str | None, typer.Option("--alias", "-a", metavar="ALIAS", help="Only this alias.")
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            metavar="WHEN",
            help="Where the alias pointed then: 2026-11-17 (end of that day), "
            "2026-11-17T14:30, 2026-11-17T14:30:00+00:00, '3d ago'. Needs --alias.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show every alias move of NAME, oldest first: when, from which version, who and why.

    With --at WHEN, answer "what did the alias point at then". A bare date means the
    end of that day; times without a zone are local.

    Examples:

        loopml models history churn
        loopml models history churn --alias production --at 2026-11-17
        loopml models history churn -a production --at "2d ago" --json
    """
    from loopml.cli._models_views import history_table, to_json

    if at is not None and alias is None:
        raise InvalidInputError(
            f"--at needs --alias; e.g. `loopml models history {name} --alias production --at {at}`"
        )
    with open_registry(ctx) as registry:
        if at is not None:
            assert alias is not None  # checked above
            moment = parse_when(at)
            pointed = registry.alias_at(name, alias, moment)
            _show_alias_at(name, alias, moment, pointed, as_json=as_json)
            return
        changes = registry.list_alias_changes(name, alias)
    if as_json:
        echo_json(to_json(changes))
        return
    if not changes:
        show(cell(f"no alias of {name} was ever set", "dim"))
        return
    show(history_table(changes, f"alias history of {name}" + (f"@{alias}" if alias else "")))


def _show_alias_at(
    name: str, alias: str, moment: int, version: int | None, *, as_json: bool
) -> None:
    if as_json:
        echo_json({"model": name, "alias": alias, "at": moment, "version": version})
        return
    when = format_time(moment)
    if version is None:
        show(f"{name}@{alias} pointed at nothing at {when}")
    else:
        show(f"{name}@{alias} pointed at {model_uri(name, version)} at {when}")


# The other groups of commands live in their own modules (kept apart: own concepts).
from loopml.cli.models_copy import copy_version  # noqa: E402
from loopml.cli.models_evaluate import evaluate, model_card, model_lineage  # noqa: E402
from loopml.cli.models_events import events, webhooks_app  # noqa: E402
from loopml.cli.models_promote import (  # noqa: E402
    approve,
    policy_app,
    promote,
    reject,
    roles_app,
)

app.command("promote")(promote)
app.command("approve")(approve)
app.command("reject")(reject)
app.command("evaluate")(evaluate)
app.command("copy")(copy_version)
app.command("card")(model_card)
app.command("lineage")(model_lineage)
app.command("events")(events)
app.add_typer(policy_app, name="policy")
app.add_typer(roles_app, name="roles")
app.add_typer(webhooks_app, name="webhooks")
