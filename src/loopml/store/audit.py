"""The append-only audit log: who did what to which object, when and why.

Example:
    >>> record(conn, action="run.delete", object_kind="run", object_id=run_id)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import getpass
import os
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Connection, select

from loopml.clock import now_ms
from loopml.errors import InvalidInputError
from loopml.paging import check_limit
from loopml.store.schema import audit_log

__all__ = ["acting_as", "current_actor", "history", "recent", "record"]

# The user a server request acts for; set per request, so threads serving different users
# never see each other's name.
_ACTING: ContextVar[str | None] = ContextVar("loopml_acting_user", default=None)


def current_actor() -> str:
    """The user a change is attributed to: the server request's user, else ``LOOPML_USER``,
    else the login name."""
    return _ACTING.get() or os.environ.get("LOOPML_USER") or getpass.getuser()


@contextlib.contextmanager
def acting_as(user: str) -> Iterator[None]:
    """Attribute every change made inside the block to ``user`` (the server sets it per request).

    Example:
        >>> with acting_as("ana"):
        ...     current_actor()
        'ana'
    """
    token = _ACTING.set(user)
    try:
        yield
    finally:
        _ACTING.reset(token)


def record(
    conn: Connection,
    *,
    action: str,
    object_kind: str,
    object_id: str,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    actor: str | None = None,
) -> None:
    """Append one audit row inside the caller's transaction (so it commits with the change)."""
    conn.execute(
        audit_log.insert().values(
            at=now_ms(),
            actor=actor or current_actor(),
            action=action,
            object_kind=object_kind,
            object_id=object_id,
            reason=reason,
            details=details,
        )
    )


def history(conn: Connection, object_kind: str, object_id: str) -> list[dict[str, Any]]:
    """Every audit row about one object, oldest first."""
    rows = conn.execute(
        select(audit_log)
        .where(audit_log.c.object_kind == object_kind, audit_log.c.object_id == object_id)
        .order_by(audit_log.c.id)
    )
    return [dict(row._mapping) for row in rows]


def recent(
    conn: Connection,
    *,
    actor: str | None = None,
    object_kind: str | None = None,
    object_id: str | None = None,
    action: str | None = None,
    before: int | None = None,
    since: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Audit rows newest first, narrowed by the arguments given; at most ``limit``.

    Page back in time by passing the last row's ``id`` as the next ``before``;
    ``since`` keeps only rows at or after that Unix ms.

    Raises:
        InvalidInputError: a limit outside 1..10,000, or a ``before``/``since`` that is
            not a whole number in SQL's range.

    Example:
        >>> rows = recent(conn, actor="ana", limit=50)  # doctest: +SKIP
        >>> older = recent(conn, actor="ana", before=rows[-1]["id"])  # doctest: +SKIP
    """
    limit = check_limit(limit)
    a = audit_log.c
    query = select(audit_log)
    for column, value in (
        (a.actor, actor),
        (a.object_kind, object_kind),
        (a.object_id, object_id),
        (a.action, action),
    ):
        if value is not None:
            query = query.where(column == value)
    if before is not None:
        query = query.where(a.id < _whole("before", before))
    if since is not None:
        query = query.where(a.at >= _whole("since", since))
    rows = conn.execute(query.order_by(a.id.desc()).limit(limit))
    return [dict(row._mapping) for row in rows]


def _whole(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise InvalidInputError(f"{name} must be a whole number from 0, got {value!r}")
    return value
