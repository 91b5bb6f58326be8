"""The server's value objects: users, API tokens, access grants and the caller of a request.

Roles rise in rank: ``viewer`` reads, ``editor`` writes, ``approver`` also approves and
rejects model versions, ``admin`` also manages users and tokens. A grant holds on the
workspace (scope ``"*"``), on one model (``"model:NAME"``) or on one experiment and its
runs (``"experiment:NAME"``); the higher of the workspace's and the object's counts.

Example:
    >>> caller = Principal("ana", {"*": "viewer", "model:churn": "approver"})
    >>> caller.allows("approver", "model:churn"), caller.allows("approver", "model:fraud")
    (True, False)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

from loopml.errors import ForbiddenError, InvalidInputError

__all__ = [
    "ROLES",
    "SCOPE_KINDS",
    "WORKSPACE",
    "ApiToken",
    "Grant",
    "Principal",
    "Role",
    "User",
    "check_role",
    "check_scope",
]

Role = Literal["viewer", "editor", "approver", "admin"]
ROLES: Final[tuple[Role, ...]] = ("viewer", "editor", "approver", "admin")
WORKSPACE: Final = "*"
# What a grant can hold on besides the workspace: one model, or one experiment and its runs.
SCOPE_KINDS: Final = ("model", "experiment")
_RANK: Final[dict[str, int]] = {role: rank for rank, role in enumerate(ROLES)}


def check_role(role: str) -> Role:
    """``role`` when it is one of :data:`ROLES`; InvalidInputError naming them otherwise."""
    for known in ROLES:
        if role == known:
            return known
    raise InvalidInputError(
        f"role {role!r} does not exist; roles: {', '.join(ROLES)} "
        "(each includes the ones before it)",
        details={"role": role, "roles": list(ROLES)},
    )


def check_scope(scope: str) -> str:
    """``"*"`` (the workspace), ``"model:NAME"`` or ``"experiment:NAME"``; else
    InvalidInputError."""
    if scope == WORKSPACE:
        return scope
    for kind in SCOPE_KINDS:
        if scope.startswith(f"{kind}:") and len(scope) > len(kind) + 1:
            return scope
    raise InvalidInputError(
        f"scope {scope!r} is not one loopml knows; use '*' for the workspace, "
        "'model:NAME' for one model or 'experiment:NAME' for one experiment and its runs"
    )


@dataclass(frozen=True, slots=True)
class User:
    """Someone who may call the server."""

    name: str
    created_at: int
    created_by: str | None = None
    disabled_at: int | None = None
    grants: dict[str, str] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.disabled_at is None


@dataclass(frozen=True, slots=True)
class ApiToken:
    """An API token's record; the secret itself is shown once, at creation, and never kept."""

    id: str
    user: str
    name: str
    created_at: int
    created_by: str | None = None
    expires_at: int | None = None
    revoked_at: int | None = None
    last_used_at: int | None = None

    def state(self, now: int) -> str:
        """``active``, ``expired`` or ``revoked``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


@dataclass(frozen=True, slots=True)
class Grant:
    """``user`` holds ``role`` on ``scope``."""

    user: str
    scope: str
    role: str
    granted_at: int
    granted_by: str | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user and the roles they hold, by scope.

    ``authenticated`` is ``False`` in the token-free single-user mode, where every caller
    acts as the named user with every right.
    """

    user: str
    grants: dict[str, str] = field(default_factory=dict)
    authenticated: bool = True
    token_id: str | None = None

    def role_on(self, scope: str = WORKSPACE) -> str | None:
        """The highest role held on ``scope`` (a workspace grant counts everywhere)."""
        held = [r for s, r in self.grants.items() if s in (WORKSPACE, scope)]
        return max(held, key=_RANK.__getitem__, default=None)

    def allows(self, role: str, scope: str = WORKSPACE) -> bool:
        """Whether the caller holds ``role`` (or higher) on ``scope``."""
        held = self.role_on(scope)
        return held is not None and _RANK[held] >= _RANK[role]

    def require(self, role: str, scope: str = WORKSPACE, *, action: str = "do this") -> None:
        """Raise ForbiddenError unless the caller holds ``role`` on ``scope``."""
        if self.allows(role, scope):
            return
        held = self.role_on(scope) or "no role"
        where = "the workspace" if scope == WORKSPACE else scope
        raise ForbiddenError(
            f"'{self.user}' may not {action}: it needs the {role} role on {where} and holds "
            f"{held}; an admin can grant it with `loopml users grant {self.user} {role}"
            + ("" if scope == WORKSPACE else f" --scope {scope}")
            + "`",
            details={"user": self.user, "needs": role, "holds": held, "scope": scope},
        )

    def to_dict(self) -> dict[str, Any]:
        return {"user": self.user, "grants": dict(self.grants), "authenticated": self.authenticated}
