"""``loopml models copy``: copy a validated version from one environment's registry to the next.

Example:
    $ loopml models copy churn 3 --from dev --to staging --reason "passed in dev"
    dev:models:/churn/3 -> staging models:/churn/1 (validated), with its evaluation and lineage
"""

from __future__ import annotations

from typing import Annotated

import typer

from loopml.cli._options import Quiet
from loopml.cli._output import JsonFlag, echo_json, show
from loopml.cli._registry import WEBHOOK_FLUSH_SECONDS
from loopml.cli._state import get_state
from loopml.errors import GateFailedError, InvalidInputError
from loopml.uris import env_uri, model_uri

__all__ = ["copy_version"]


def copy_version(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The registered model.")],
    version: Annotated[
        int, typer.Argument(metavar="VERSION", min=1, help="Its version in the source.")
    ],
    to: Annotated[
        str,
        typer.Option("--to", metavar="ENV", help="The environment to copy into, e.g. staging."),
    ],
    source: Annotated[
        str | None,
        typer.Option(
            "--from",
            metavar="ENV",
            help="The environment the version is in (default: --env or $LOOPML_ENV).",
        ),
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option("--reason", metavar="TEXT", help="Why; kept in both audit logs."),
    ] = None,
    quiet: Quiet = False,
    as_json: JsonFlag = False,
) -> None:
    """Copy VERSION of NAME from one environment's registry to another's, if it passed its gates.

    Environments are the [env.NAME] tables of loopml.toml (`loopml envs`). The version must
    be validated, approved or deployed, with a latest gated evaluation that passed; otherwise
    every reason is listed and the exit code is 1. The copy is the next version of NAME in
    the target, with the same package (digests checked), the evaluation (so the target's
    policy sees it), a lineage summary and the tag copied_from=ENV:models:/NAME/VERSION.
    Both registries audit it. Copying the same version again returns the existing copy.
    --quiet prints only the copy's version number in the target.

    Examples:

        loopml models copy churn 3 --from dev --to staging
        loopml --env staging models copy churn 1 --to prod --reason "a week in staging" --json
        PROD_VERSION=$(loopml models copy churn 4 --from staging --to prod --quiet)
    """
    state = get_state(ctx)
    from_env = source or state.settings().env
    if from_env is None:
        from loopml.config import environments

        raise InvalidInputError(
            "say which environment the version is in: --from ENV (or --env ENV before "
            f"`models`); environments: {', '.join(environments()) or 'none in loopml.toml'}"
        )
    source_client = state.registry_client(env=from_env)
    target_client = state.registry_client(env=to)
    try:
        copied = source_client.copy_version(name, version, to=target_client, reason=reason)
    except GateFailedError as err:
        _refused(err, env_uri(from_env, model_uri(name, version)), to, as_json=as_json)
    for client in (target_client, source_client):
        client.deliver_pending(timeout=WEBHOOK_FLUSH_SECONDS)
    if quiet:
        typer.echo(copied.version.version)
        return
    if as_json:
        echo_json(copied.to_dict())
        return
    done = "copied" if copied.created else "already copied"
    show(
        f"{copied.copied_from} -> {copied.env} {copied.version.uri} "
        f"({copied.version.status}): {done}, with its evaluation and lineage"
    )


def _refused(err: GateFailedError, uri: str, to: str, *, as_json: bool) -> None:
    reasons = [str(r) for r in err.details.get("reasons", [])] or [err.message]
    if as_json:
        echo_json(err.to_dict())
    lines = [f"{typer.style('error:', fg='red', bold=True)} cannot copy {uri} to {to}:"]
    lines += [f"  - {reason}" for reason in reasons]
    typer.echo("\n".join(lines), err=True)
    raise typer.Exit(err.exit_code)
