"""Users, API tokens and access grants: who may call the server, and with which role.

Tokens look like ``lml_<id>_<secret>``. Only the SHA-256 of the secret is stored, so a
stolen database gives no usable token; the whole token is shown once, when it is made.
A token stops working when it is revoked, when it expires, or when its user is disabled.

Example:
    >>> accounts = AccountService(open_store(url))  # doctest: +SKIP
    >>> accounts.create_user("ana", role="editor")  # doctest: +SKIP
    >>> token, secret = accounts.create_token("ana", "laptop", expires_in_s=86400)  # doctest: +SKIP
    >>> accounts.authenticate(secret).user  # doctest: +SKIP
    'ana'
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Connection, delete, select, update

from loopml.clock import now_ms
from loopml.errors import ConflictError, InvalidInputError, NotFoundError, UnauthorizedError
from loopml.server.models import (
    WORKSPACE,
    ApiToken,
    Grant,
    Principal,
    User,
    check_role,
    check_scope,
)
from loopml.store import Store, audit
from loopml.store.schema import access_grants, api_tokens, users

__all__ = ["TOKEN_PREFIX", "AccountService"]

TOKEN_PREFIX = "lml_"
_TOKEN = re.compile(r"lml_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})")
_USER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,249}")
_CACHE_S = 2.0  # how long a checked token is trusted before it is read again
_TOUCH_MS = 60_000  # last_used_at is written at most this often per token


class AccountService:
    """Users, tokens and grants in one store (the server's own tables)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._checked: dict[str, _Checked] = {}
        self._lock = threading.Lock()

    # -- users -------------------------------------------------------------------------

    def create_user(self, name: str, *, role: str | None = None) -> User:
        """Add a user, with a workspace ``role`` when given.

        Raises:
            ConflictError: the name is taken.
            InvalidInputError: a bad name or role.
        """
        name = check_user_name(name)
        if role is not None:
            check_role(role)
        at, actor = now_ms(), audit.current_actor()

        def work(conn: Connection) -> None:
            if conn.execute(select(users.c.name).where(users.c.name == name)).first():
                raise ConflictError(
                    f"user '{name}' exists already; list users with `loopml users list`"
                )
            conn.execute(users.insert().values(name=name, created_at=at, created_by=actor))
            audit.record(conn, action="user.create", object_kind="user", object_id=name)
            if role is not None:
                _put_grant(conn, name, WORKSPACE, role, at, actor)

        self.store.transact(work)
        return self.get_user(name)

    def get_user(self, name: str) -> User:
        """One user with their grants; NotFoundError listing the users otherwise."""
        with self.store.read() as conn:
            row = conn.execute(select(users).where(users.c.name == name)).mappings().first()
            if row is None:
                names = list(conn.execute(select(users.c.name)).scalars())
                raise NotFoundError(
                    "user", name, choices=names, hint="add one with `loopml users create NAME`"
                )
            return _user(row, _grants_of(conn, name))

    def list_users(self) -> list[User]:
        """Every user, by name, with their grants."""
        with self.store.read() as conn:
            rows = conn.execute(select(users).order_by(users.c.name)).mappings().all()
            grants: dict[str, dict[str, str]] = {}
            for g in conn.execute(select(access_grants)).mappings():
                grants.setdefault(g["user"], {})[g["scope"]] = g["role"]
            return [_user(row, grants.get(row["name"], {})) for row in rows]

    def disable_user(self, name: str) -> User:
        """Disable a user: their tokens stop working at once (the rows stay, for the audit)."""
        self.get_user(name)
        at = now_ms()

        def work(conn: Connection) -> None:
            conn.execute(
                update(users)
                .where(users.c.name == name, users.c.disabled_at.is_(None))
                .values(disabled_at=at)
            )
            audit.record(conn, action="user.disable", object_kind="user", object_id=name)

        self.store.transact(work)
        self._forget()
        return self.get_user(name)

    def has_admin(self) -> bool:
        """Whether an active user holds the admin role on the workspace."""
        with self.store.read() as conn:
            found = conn.execute(
                select(access_grants.c.user)
                .join(users, users.c.name == access_grants.c.user)
                .where(
                    access_grants.c.scope == WORKSPACE,
                    access_grants.c.role == "admin",
                    users.c.disabled_at.is_(None),
                )
            ).first()
        return found is not None

    # -- grants ------------------------------------------------------------------------

    def grant(self, user: str, role: str, scope: str = WORKSPACE) -> Grant:
        """Give ``user`` ``role`` on ``scope`` (replacing the role they held there)."""
        check_role(role)
        check_scope(scope)
        self.get_user(user)
        at, actor = now_ms(), audit.current_actor()
        self.store.transact(lambda conn: _put_grant(conn, user, scope, role, at, actor))
        self._forget()
        return Grant(user, scope, role, at, actor)

    def revoke_grant(self, user: str, scope: str = WORKSPACE) -> None:
        """Take ``user``'s role on ``scope``; NotFoundError when they hold none there."""

        def work(conn: Connection) -> None:
            gone = conn.execute(
                delete(access_grants).where(
                    access_grants.c.user == user, access_grants.c.scope == scope
                )
            ).rowcount
            if not gone:
                held = sorted(_grants_of(conn, user))
                raise NotFoundError(
                    "grant",
                    f"{user} on {scope}",
                    hint=f"'{user}' holds roles on: " + (", ".join(held) or "nothing"),
                )
            audit.record(
                conn,
                action="user.revoke",
                object_kind="user",
                object_id=user,
                details={"scope": scope},
            )

        self.store.transact(work)
        self._forget()

    # -- tokens ------------------------------------------------------------------------

    def create_token(
        self, user: str, name: str = "token", *, expires_in_s: float | None = None
    ) -> tuple[ApiToken, str]:
        """A new token for ``user``: its record and the secret, which is never shown again.

        Raises:
            NotFoundError: no such user.
            InvalidInputError: a disabled user, or an expiry that is not positive.
        """
        owner = self.get_user(user)
        if not owner.active:
            raise InvalidInputError(f"user '{user}' is disabled; it cannot get new tokens")
        if expires_in_s is not None and not expires_in_s > 0:
            raise InvalidInputError(
                f"a token's lifetime must be positive, got {expires_in_s!r} seconds"
            )
        token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        at, actor = now_ms(), audit.current_actor()
        expires = None if expires_in_s is None else at + int(expires_in_s * 1000)
        record = ApiToken(token_id, user, name, at, actor, expires)

        def work(conn: Connection) -> None:
            conn.execute(
                api_tokens.insert().values(
                    id=token_id,
                    user=user,
                    name=name,
                    secret_sha256=_digest(secret),
                    created_at=at,
                    created_by=actor,
                    expires_at=expires,
                )
            )
            audit.record(
                conn,
                action="token.create",
                object_kind="user",
                object_id=user,
                details={"token": token_id, "name": name, "expires_at": expires},
            )

        self.store.transact(work)
        return record, f"{TOKEN_PREFIX}{token_id}_{secret}"

    def list_tokens(self, user: str | None = None) -> list[ApiToken]:
        """Token records (never secrets), newest first."""
        query = select(api_tokens).order_by(api_tokens.c.created_at.desc())
        if user is not None:
            query = query.where(api_tokens.c.user == user)
        with self.store.read() as conn:
            return [_token(row) for row in conn.execute(query).mappings()]

    def revoke_token(self, token_id: str) -> ApiToken:
        """Revoke a token by its id (the part after ``lml_``); it stops working at once."""
        at = now_ms()

        def work(conn: Connection) -> None:
            row = conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).first()
            if row is None:
                raise NotFoundError("token", token_id, hint="list tokens with `loopml tokens list`")
            conn.execute(
                update(api_tokens)
                .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=at)
            )
            audit.record(
                conn,
                action="token.revoke",
                object_kind="user",
                object_id=row.user,
                details={"token": token_id},
            )

        self.store.transact(work)
        self._forget()
        return next(t for t in self.list_tokens() if t.id == token_id)

    def authenticate(self, token: str) -> Principal:
        """The caller a token stands for.

        Raises:
            UnauthorizedError: not a token of this server, or revoked, expired, or its
                user disabled (the message never repeats the token).
        """
        match = _TOKEN.fullmatch(token.strip())
        if match is None:
            raise UnauthorizedError(
                "the API token is malformed; loopml tokens look like lml_<id>_<secret> "
                "(create one with `loopml tokens create USER`)"
            )
        token_id, secret = match.groups()
        key = _digest(secret)
        with self._lock:
            cached = self._checked.get(token_id)
        if (
            cached is not None
            and cached.deadline > time.monotonic()
            and hmac.compare_digest(cached.digest, key)
            and (cached.expires_at is None or cached.expires_at > now_ms())
        ):
            return cached.principal
        checked = self._check(token_id, key)
        with self._lock:
            self._checked[token_id] = checked
        return checked.principal

    def is_cached(self, token: str) -> bool:
        """Whether :meth:`authenticate` answers ``token`` from memory (no store read)."""
        match = _TOKEN.fullmatch(token.strip())
        if match is None:
            return True  # refused without reading the store
        token_id, secret = match.groups()
        with self._lock:
            cached = self._checked.get(token_id)
        return (
            cached is not None
            and cached.deadline > time.monotonic()
            and hmac.compare_digest(cached.digest, _digest(secret))
        )

    # -- internals ---------------------------------------------------------------------

    def _check(self, token_id: str, key: str) -> _Checked:
        denied = UnauthorizedError(
            "the API token is not valid here (unknown, revoked or expired, or its user is "
            "disabled); ask an admin for a new one with `loopml tokens create USER`"
        )
        at = now_ms()
        with self.store.read() as conn:
            row = (
                conn.execute(
                    select(api_tokens, users.c.disabled_at)
                    .join(users, users.c.name == api_tokens.c.user)
                    .where(api_tokens.c.id == token_id)
                )
                .mappings()
                .first()
            )
            if row is None or not hmac.compare_digest(row["secret_sha256"], key):
                raise denied
            if row["revoked_at"] is not None or row["disabled_at"] is not None:
                raise denied
            if row["expires_at"] is not None and row["expires_at"] <= at:
                raise denied
            grants = _grants_of(conn, row["user"])
        if row["last_used_at"] is None or at - row["last_used_at"] > _TOUCH_MS:
            self.store.transact(
                lambda conn: conn.execute(
                    update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=at)
                )
            )
        principal = Principal(row["user"], grants, authenticated=True, token_id=token_id)
        return _Checked(time.monotonic() + _CACHE_S, key, principal, row["expires_at"])

    def _forget(self) -> None:
        with self._lock:
            self._checked.clear()


@dataclass(frozen=True, slots=True)
class _Checked:
    """A token checked against the store: trusted until ``deadline`` (monotonic)."""

    deadline: float
    digest: str
    principal: Principal
    expires_at: int | None


def check_user_name(name: object) -> str:
    """A user name: letters, digits and ``._@+-``, 1 to 250 characters."""
    if not isinstance(name, str) or _USER.fullmatch(name) is None:
        raise InvalidInputError(
            f"user name {name!r} is not allowed; use letters, digits and . _ @ + - "
            "(1 to 250 characters, starting with a letter or digit)"
        )
    return name


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _put_grant(conn: Connection, user: str, scope: str, role: str, at: int, actor: str) -> None:
    conn.execute(
        delete(access_grants).where(access_grants.c.user == user, access_grants.c.scope == scope)
    )
    conn.execute(
        access_grants.insert().values(
            user=user, scope=scope, role=role, granted_at=at, granted_by=actor
        )
    )
    audit.record(
        conn,
        action="user.grant",
        object_kind="user",
        object_id=user,
        details={"scope": scope, "role": role},
    )


def _grants_of(conn: Connection, user: str) -> dict[str, str]:
    rows = conn.execute(
        select(access_grants.c.scope, access_grants.c.role).where(access_grants.c.user == user)
    )
    return {str(scope): str(role) for scope, role in rows}


def _user(row: object, grants: dict[str, str]) -> User:
    r = dict(row)  # type: ignore[call-overload]
    return User(r["name"], r["created_at"], r["created_by"], r["disabled_at"], grants)


def _token(row: object) -> ApiToken:
    r = dict(row)  # type: ignore[call-overload]
    return ApiToken(
        r["id"],
        r["user"],
        r["name"],
        r["created_at"],
        r["created_by"],
        r["expires_at"],
        r["revoked_at"],
        r["last_used_at"],
    )
