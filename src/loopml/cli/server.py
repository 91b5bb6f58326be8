"""``loopml server`` (the REST API and web UI), ``loopml users`` and ``loopml tokens``.

Example:
    $ loopml users create ana --role admin
    $ loopml tokens create ana --name laptop --expires-in 30d
    $ loopml server --host 0.0.0.0 --port 5000 --auth tokens
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from loopml.cli._output import (
    JsonFlag,
    cell,
    echo_json,
    format_time,
    new_table,
    respond,
    show,
)
from loopml.cli._state import get_state

__all__ = ["server", "tokens_app", "users_app"]

users_app = typer.Typer(
    help="Users of a loopml server and their roles (viewer < editor < approver < admin).",
    no_args_is_help=True,
)
tokens_app = typer.Typer(
    help="API tokens for a loopml server: made once, shown once, revocable, expiring.",
    no_args_is_help=True,
)

RoleOption = Annotated[
    str | None,
    typer.Option(
        "--role", help="viewer, editor, approver or admin (each includes the ones before it)."
    ),
]
ScopeOption = Annotated[
    str,
    typer.Option(
        "--scope",
        help="'*' for the workspace, model:NAME for one model, or experiment:NAME for one "
        "experiment and its runs.",
    ),
]


def server(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (0.0.0.0: every interface).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port to listen on.")
    ] = 5000,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Worker processes.")] = 1,
    auth: Annotated[
        str,
        typer.Option(
            "--auth",
            help="none (token-free, one trusted user; loopback only) or tokens (every request "
            "needs an API token; roles apply).",
        ),
    ] = "none",
    max_body_mb: Annotated[
        int, typer.Option("--max-body-mb", min=1, help="Larger request bodies get 413.")
    ] = 64,
) -> None:
    """Run the loopml server: the REST API (/api/v1), MLflow's REST API and the web UI.

    It serves the same store and artifacts as the SDK and CLI here (--env, $LOOPML_HOME,
    $LOOPML_DB_URL). Listening beyond 127.0.0.1 needs --auth tokens and an admin user.
    The API is described at /api/openapi.json.

    Examples:

        loopml server
        loopml server --host 0.0.0.0 --port 5000 --auth tokens --workers 4
    """
    from loopml.server import ServerConfig, serve

    settings = get_state(ctx).settings(remote_ok=True)
    config = ServerConfig(auth=auth, max_body_bytes=max_body_mb * 1024 * 1024)

    def ready(url: str) -> None:
        typer.echo(f"loopml server on {url} (auth: {auth}; API: {url}/api/openapi.json)")

    serve(settings, host=host, port=port, workers=workers, config=config, on_ready=ready)


# -- users -----------------------------------------------------------------------------


@users_app.command("create")
def create_user(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The user's name.")],
    role: RoleOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a user, with a role on the workspace when --role is given.

    Examples:

        loopml users create ana --role admin
    """
    user = _accounts(ctx).create_user(name, role=role)
    respond(
        _user_dict(user),
        f"user {user.name} created" + (f" ({role})" if role else ""),
        as_json=as_json,
    )


@users_app.command("list")
def list_users(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List users with their roles by scope.

    Examples:

        loopml users list --json
    """
    users = _accounts(ctx).list_users()
    if as_json:
        echo_json([_user_dict(u) for u in users])
        return
    table = new_table("user", "roles", "state", "created")
    for u in users:
        roles = ", ".join(f"{r} on {s}" for s, r in sorted(u.grants.items())) or "none"
        table.add_row(
            cell(u.name, "bold"),
            cell(roles),
            cell("active" if u.active else "disabled"),
            cell(format_time(u.created_at)),
        )
    show(table)


@users_app.command("grant")
def grant(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The user.")],
    role: Annotated[str, typer.Argument(help="viewer, editor, approver or admin.")],
    scope: ScopeOption = "*",
    as_json: JsonFlag = False,
) -> None:
    """Give a user a role on the workspace, one model or one experiment (replacing the one
    they held there).

    Examples:

        loopml users grant ana approver --scope model:churn

        loopml users grant bo editor --scope experiment:churn
    """
    found = _accounts(ctx).grant(name, role, scope)
    data = {
        "user": found.user,
        "scope": found.scope,
        "role": found.role,
        "granted_at": found.granted_at,
        "granted_by": found.granted_by,
    }
    respond(data, f"{name} is {role} on {scope}", as_json=as_json)


@users_app.command("revoke")
def revoke(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The user.")],
    scope: ScopeOption = "*",
) -> None:
    """Take a user's role on a scope.

    Examples:

        loopml users revoke ana --scope model:churn
    """
    _accounts(ctx).revoke_grant(name, scope)
    typer.echo(f"{name} holds no role on {scope} now")


@users_app.command("disable")
def disable(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The user.")],
    as_json: JsonFlag = False,
) -> None:
    """Disable a user: their tokens stop working at once; their history stays.

    Examples:

        loopml users disable ana
    """
    user = _accounts(ctx).disable_user(name)
    respond(_user_dict(user), f"user {name} disabled", as_json=as_json)


# -- tokens ----------------------------------------------------------------------------


@tokens_app.command("create")
def create_token(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(help="Whose token it is.")],
    name: Annotated[str, typer.Option("--name", help="A label: where it is used.")] = "token",
    expires_in: Annotated[
        str | None,
        typer.Option("--expires-in", help="Lifetime: 90d, 12h, 30m (default: never expires)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Make an API token; the token is printed once and never stored or shown again.

    Clients send it as 'Authorization: Bearer TOKEN' ($LOOPML_TRACKING_TOKEN, or
    $MLFLOW_TRACKING_TOKEN for MLflow clients).

    Examples:

        loopml tokens create ana --name ci --expires-in 90d
    """
    from loopml.automation import parse_duration

    seconds = None if expires_in is None else parse_duration(expires_in, name="--expires-in") / 1000
    record, secret = _accounts(ctx).create_token(user, name, expires_in_s=seconds)
    if as_json:
        echo_json({**_token_dict(record), "token": secret})
        return
    typer.echo(secret)
    typer.echo(f"token {record.id} for {user}: copy it now, it is not shown again", err=True)


@tokens_app.command("list")
def list_tokens(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option("--user", help="Only this user's tokens.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List tokens (their ids and states, never the tokens themselves).

    Examples:

        loopml tokens list --user ana
    """
    tokens = _accounts(ctx).list_tokens(user)
    if as_json:
        echo_json([_token_dict(t) for t in tokens])
        return
    table = new_table("id", "user", "name", "state", "expires", "last used")
    from loopml.clock import now_ms

    now = now_ms()
    for t in tokens:
        table.add_row(
            cell(t.id, "bold"),
            cell(t.user),
            cell(t.name),
            cell(t.state(now)),
            cell(format_time(t.expires_at) if t.expires_at else "never"),
            cell(format_time(t.last_used_at) if t.last_used_at else "never"),
        )
    show(table)


@tokens_app.command("revoke")
def revoke_token(
    ctx: typer.Context,
    token_id: Annotated[str, typer.Argument(metavar="ID", help="The token's id (see list).")],
    as_json: JsonFlag = False,
) -> None:
    """Revoke a token; requests with it are refused at once.

    Examples:

        loopml tokens revoke 3f9a1c2b7d40
    """
    record = _accounts(ctx).revoke_token(token_id)
    respond(_token_dict(record), f"token {token_id} of {record.user} revoked", as_json=as_json)


def _accounts(ctx: typer.Context) -> Any:
    from loopml.server import AccountService
    from loopml.store import open_store

    return AccountService(open_store(get_state(ctx).settings(remote_ok=True).db_url))


def _user_dict(user: Any) -> dict[str, Any]:
    return {
        "name": user.name,
        "grants": dict(user.grants),
        "active": user.active,
        "created_at": user.created_at,
        "disabled_at": user.disabled_at,
    }


def _token_dict(token: Any) -> dict[str, Any]:
    from loopml.clock import now_ms

    return {
        "id": token.id,
        "user": token.user,
        "name": token.name,
        "state": token.state(now_ms()),
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
        "last_used_at": token.last_used_at,
    }
