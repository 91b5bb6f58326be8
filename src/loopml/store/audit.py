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
from loopml.paging import Page, check_limit
from loopml.store.paging import SortKey, page_of, paged_query
from loopml.store.schema import audit_log

__all__ = ["acting_as", "current_actor", "history", "list_entries", "record"]

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


# Newest first; the id breaks ties and is what a page token carries.
_NEWEST_FIRST: list[SortKey] = [(audit_log.c.id, True)]


def list_entries(
    conn: Connection,
    *,
    object_kind: str | None = None,
    object_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: int | None = None,
    limit: int = 100,
    page_token: str | None = None,
) -> Page[dict[str, Any]]:
    """One page of audit rows, newest first, matching every filter given.

    Args:
        object_kind: e.g. ``"model_version"``; ``object_id``: e.g. ``"churn/3"``.
        actor: who made the change; ``action``: e.g. ``"model_version.approved"``.
        since: only rows at or after this Unix ms.
        limit: the page size (1..10,000); ``page_token``: the previous page's token.

    Raises:
        InvalidInputError: a bad limit or a token of another listing.

    Example:
        >>> page = list_entries(conn, actor="ana", limit=20)  # doctest: +SKIP
        >>> [row["action"] for row in page.items]  # doctest: +SKIP
        ['model_version.approved']
    """
    limit = check_limit(limit)
    c = audit_log.c
    query = select(audit_log)
    for column, value in (
        (c.object_kind, object_kind),
        (c.object_id, object_id),
        (c.actor, actor),
        (c.action, action),
    ):
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(c.at >= since)
    page = page_of(
        conn.execute(paged_query(query, _NEWEST_FIRST, limit, page_token)).all(),
        _NEWEST_FIRST,
        limit,
    )
    return Page([dict(row._mapping) for row in page.items], page.next_page_token)
