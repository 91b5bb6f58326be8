"""A feed's subscriptions: add, list and remove rows of its webhooks table.

The owning component checks what only it knows (its event kinds, its scopes) and hands
the checked values here; a new subscription starts at the feed's current head, so it
receives the events from now on.

Example:
    >>> check_url("https://ci.example.com/hooks/loopml")
    'https://ci.example.com/hooks/loopml'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias
from urllib.parse import urlsplit

from sqlalchemy import Connection, RowMapping, delete, select

from loopml._ids import new_id
from loopml.clock import now_ms
from loopml.errors import InvalidInputError, NotFoundError
from loopml.webhooks.models import Feed, Webhook

__all__ = ["Row", "add", "check_url", "list_all", "remove", "to_webhook"]

_MAX_URL = 2000
Row: TypeAlias = RowMapping | Mapping[str, Any]


def check_url(url: object) -> str:
    """``url`` if it is an absolute http(s) URL, else an error with an example."""
    example = "give one like 'https://ci.example.com/hooks/loopml'"
    if not isinstance(url, str):
        raise InvalidInputError(f"webhook URL must be a string, got {url!r}; {example}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError(f"webhook URL {url!r} is not an http(s) URL; {example}")
    if len(url) > _MAX_URL:
        raise InvalidInputError(f"webhook URL is longer than {_MAX_URL} characters")
    return url


def to_webhook(row: Row) -> Webhook:
    """A :class:`Webhook` from its row (the secret itself is never handed out)."""
    return Webhook(
        id=row["id"],
        url=row["url"],
        events=tuple(row["events"] or ()),
        model=row["model"],
        cursor=int(row["cursor"]),
        enabled=bool(row["enabled"]),
        failures=int(row["failures"]),
        last_error=row["last_error"],
        last_delivery_at=row["last_delivery_at"],
        has_secret=bool(row["secret"]),
    )


def add(
    conn: Connection,
    feed: Feed,
    url: str,
    *,
    kinds: tuple[str, ...],
    scope: str | None,
    secret: str | None,
    actor: str,
) -> Webhook:
    """Insert a subscription to ``feed`` that receives its events from now on.

    ``kinds`` and ``scope`` are the feed owner's checked values (empty kinds: all).
    """
    if secret is not None and (not isinstance(secret, str) or not secret):
        raise InvalidInputError("a webhook secret must be a non-empty string (or None)")
    row = {
        "id": new_id(),
        "url": check_url(url),
        "events": list(kinds),
        "model": scope,
        "secret": secret,
        "cursor": feed.head(conn),
        "enabled": True,
        "failures": 0,
        "last_error": None,
        "last_delivery_at": None,
        "created_at": now_ms(),
        "created_by": actor,
    }
    conn.execute(feed.table.insert(), row)
    return to_webhook(row)


def list_all(conn: Connection, feed: Feed) -> list[Webhook]:
    """Every subscription to ``feed``, oldest first."""
    rows = conn.execute(select(feed.table).order_by(feed.table.c.id)).mappings()
    return [to_webhook(row) for row in rows]


def remove(conn: Connection, feed: Feed, webhook_id: str) -> Webhook:
    """Delete a subscription; NotFoundError lists the ones there are."""
    table = feed.table
    row = conn.execute(select(table).where(table.c.id == webhook_id)).mappings().first()
    if row is None:
        hooks = list_all(conn, feed)
        raise NotFoundError(
            "webhook",
            str(webhook_id),
            choices=[h.id for h in hooks],
            hint="webhooks: " + (", ".join(f"{h.id} ({h.url})" for h in hooks) or "none"),
        )
    conn.execute(delete(table).where(table.c.id == webhook_id))
    return to_webhook(row)
