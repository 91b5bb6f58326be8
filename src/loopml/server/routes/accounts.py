"""Users, API tokens and role grants (admins), and a caller's own tokens."""

from __future__ import annotations

from typing import Any

from loopml.clock import now_ms
from loopml.server.api import Api, Call, Param
from loopml.server.models import WORKSPACE, ApiToken

__all__ = ["api"]

api = Api("/api/v1", tag="accounts")


@api.get("/users", summary="Every user with their roles", role="admin")
def list_users(call: Call) -> dict[str, Any]:
    return {"users": call.ctx.accounts.list_users()}


@api.post("/users", summary="Add a user (body: name, role)", role="admin", status=201)
def create_user(call: Call) -> Any:
    return call.ctx.accounts.create_user(call.field("name"), role=call.field("role", default=None))


@api.post(
    "/users/{name}/disable", summary="Disable a user; their tokens stop working", role="admin"
)
def disable_user(call: Call) -> Any:
    return call.ctx.accounts.disable_user(call.path["name"])


@api.put(
    "/users/{name}/grants",
    summary="Give a role on the workspace or a model (body: role, scope)",
    role="admin",
)
def grant(call: Call) -> Any:
    return call.ctx.accounts.grant(
        call.path["name"], call.field("role"), call.field("scope", default=WORKSPACE)
    )


@api.delete(
    "/users/{name}/grants",
    summary="Take a user's role on a scope",
    role="admin",
    params=(Param("scope", description="'*' (default) or 'model:NAME'"),),
)
def revoke(call: Call) -> dict[str, Any]:
    scope = call.text("scope", WORKSPACE) or WORKSPACE
    call.ctx.accounts.revoke_grant(call.path["name"], scope)
    return {"user": call.path["name"], "scope": scope, "revoked": True}


@api.get(
    "/tokens",
    summary="API tokens (never their secrets); admins see everyone's",
    params=(Param("user", description="only this user's tokens"),),
)
def list_tokens(call: Call) -> dict[str, Any]:
    user = call.text("user")
    if not call.principal.allows("admin"):
        user = call.principal.user
    now = now_ms()
    return {"tokens": [_shown(t, now) for t in call.ctx.accounts.list_tokens(user)]}


@api.post(
    "/tokens",
    summary="Make a token (body: name, user, expires_in_s); the secret is shown once",
    role="viewer",
    status=201,
)
def create_token(call: Call) -> dict[str, Any]:
    user = call.field("user", default=call.principal.user)
    if user != call.principal.user:
        call.require("admin", action=f"make a token for '{user}'")
    expires = call.field("expires_in_s", (int, float), default=None)
    record, secret = call.ctx.accounts.create_token(
        user, call.field("name", default="token"), expires_in_s=expires
    )
    return {**_shown(record, now_ms()), "token": secret}


@api.delete(
    "/tokens/{token_id}", summary="Revoke a token (your own, or any as admin)", role="viewer"
)
def revoke_token(call: Call) -> dict[str, Any]:
    token_id = call.path["token_id"]
    owned = {t.id for t in call.ctx.accounts.list_tokens(call.principal.user)}
    if token_id not in owned:
        call.require("admin", action=f"revoke token {token_id}")
    return _shown(call.ctx.accounts.revoke_token(token_id), now_ms())


def _shown(token: ApiToken, now: int) -> dict[str, Any]:
    return {
        "id": token.id,
        "user": token.user,
        "name": token.name,
        "state": token.state(now),
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
        "last_used_at": token.last_used_at,
    }
