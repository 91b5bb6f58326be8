"""Monitoring's events and their webhooks: alerts firing, resolving, acknowledged.

Events are rows of ``monitor_events`` whose ``id`` grows in commit order: the automation
controller and any other consumer read them by cursor (:func:`list_events` with
``after``), and the shared webhook mechanism (:mod:`loopml.webhooks`: signed, retried,
never blocking the change) delivers them to ``monitor_webhooks`` subscriptions, which may
narrow to one monitor.

================== ================================================================
kind               when
================== ================================================================
``alert.firing``   a rule held for its ``for`` duration (payload: the alert)
``alert.resolved`` a firing rule was clear for its ``clear`` duration (the alert)
``alert.acked``    someone acknowledged a firing alert (the alert, who and why)
``monitor.created`` / ``monitor.updated`` / ``monitor.deleted``: the monitor's record
================== ================================================================

Example:
    >>> check_kinds(["alert.firing"])
    ('alert.firing',)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, func, insert, select

from loopml import webhooks
from loopml.clock import now_ms
from loopml.errors import InvalidInputError
from loopml.monitoring.models import MonitorEvent
from loopml.store import Store
from loopml.store.schema import monitor_events, monitor_webhooks
from loopml.webhooks import Dispatcher, Wanted

__all__ = [
    "EVENT_KINDS",
    "FEED",
    "MonitorFeed",
    "check_kinds",
    "dispatcher_for",
    "emit",
    "head",
    "list_events",
]

EVENT_KINDS = (
    "alert.firing",
    "alert.resolved",
    "alert.acked",
    "monitor.created",
    "monitor.updated",
    "monitor.deleted",
)


def emit(conn: Connection, kind: str, monitor: str, payload: dict[str, Any], *, actor: str) -> None:
    """Append one event in the caller's transaction (it commits with the change)."""
    conn.execute(
        insert(monitor_events).values(
            at=now_ms(), kind=kind, monitor=monitor, actor=actor, payload=payload
        )
    )


def head(conn: Connection) -> int:
    """The newest event's id (0 when there is none)."""
    return int(conn.execute(select(func.max(monitor_events.c.id))).scalar() or 0)


def list_events(
    conn: Connection,
    *,
    after: int = 0,
    until: int | None = None,
    limit: int = 100,
    monitor: str | None = None,
    kinds: Iterable[str] | None = None,
) -> list[MonitorEvent]:
    """Events with ``after < id <= until``, oldest first, at most ``limit``."""
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise InvalidInputError(f"after must be an event id >= 0, got {after!r}")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
        raise InvalidInputError(f"limit must be an integer from 1 to 10000, got {limit!r}")
    e = monitor_events.c
    query = select(monitor_events).where(e.id > after)
    if until is not None:
        query = query.where(e.id <= until)
    if monitor is not None:
        query = query.where(e.monitor == monitor)
    wanted = check_kinds(kinds or ())
    if wanted:
        query = query.where(e.kind.in_(wanted))
    rows = conn.execute(query.order_by(e.id).limit(limit)).mappings()
    return [
        MonitorEvent(
            id=row["id"],
            at=row["at"],
            kind=row["kind"],
            monitor=row["monitor"],
            actor=row["actor"],
            payload=row["payload"],
        )
        for row in rows
    ]


def check_kinds(kinds: Iterable[str]) -> tuple[str, ...]:
    """``kinds`` if each is an event kind of monitoring.

    Raises:
        InvalidInputError: naming the unknown kinds and the known ones.
    """
    checked = tuple(kinds)
    unknown = sorted(set(checked) - set(EVENT_KINDS))
    if unknown:
        raise InvalidInputError(
            f"unknown monitoring event kinds {unknown}; use some of {list(EVENT_KINDS)}"
        )
    return checked


class MonitorFeed:
    """Monitoring's events (``monitor_events``) and subscriptions (``monitor_webhooks``)."""

    name = "monitoring"
    table = monitor_webhooks

    def head(self, conn: Connection) -> int:
        return head(conn)

    def events(self, conn: Connection, wanted: Wanted) -> list[MonitorEvent]:
        return list_events(
            conn,
            after=wanted.after,
            until=wanted.until,
            limit=wanted.limit,
            monitor=wanted.scope,
            kinds=wanted.kinds or None,
        )


FEED = MonitorFeed()


def dispatcher_for(store: Store) -> Dispatcher:
    """The process's webhook dispatcher for monitoring's events in ``store``."""
    return webhooks.dispatcher_for(store, FEED)
