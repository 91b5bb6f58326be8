"""The shared dispatcher against a real store: a webhook that keeps failing, and why."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, Text, func, select

from loopml import webhooks
from loopml.registry.client import RegistryClient
from loopml.registry.webhooks import FEED
from loopml.store.schema import registry_webhooks
from loopml.webhooks import Dispatcher
from receiver import WAIT, Receiver, dead_port


def test_a_webhook_that_keeps_failing_records_why(registry: RegistryClient) -> None:
    hook = registry.add_webhook(f"http://127.0.0.1:{dead_port()}/hooks")
    registry.create_model("churn")
    quick = Dispatcher(registry.store, FEED, attempts=2, backoff=0.01, timeout=1.0)
    try:
        assert quick.deliver_pending(timeout=0.5) is False
    finally:
        quick.stop()
    [stored] = registry.list_webhooks()
    assert stored.id == hook.id
    assert stored.failures >= 1
    assert stored.last_error is not None
    assert "cannot reach" in stored.last_error
    assert stored.cursor == hook.cursor


@dataclass(frozen=True)
class Alert:
    """A stand-in for a monitoring alert: anything with an id, a kind and a dict."""

    id: int
    kind: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "message": self.message}


class AlertFeed:
    """A second component's feed, with its own events and subscriptions tables."""

    name = "test-alerts"

    def __init__(self) -> None:
        tables = MetaData()
        self.alerts = Table(
            "test_alerts",
            tables,
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("kind", String(50), nullable=False),
            Column("message", Text, nullable=False),
        )
        same = [
            Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
            for c in registry_webhooks.columns
        ]  # the subscriptions table's shape (Feed.table), under this feed's own name
        self.table = Table("test_alert_webhooks", tables, *same)
        self.metadata = tables

    def head(self, conn: Connection) -> int:
        return int(conn.execute(select(func.coalesce(func.max(self.alerts.c.id), 0))).scalar_one())

    def events(self, conn: Connection, wanted: webhooks.Wanted) -> list[Alert]:
        a = self.alerts.c
        query = select(self.alerts).where(a.id > wanted.after, a.id <= wanted.until)
        if wanted.kinds:
            query = query.where(a.kind.in_(wanted.kinds))
        rows = conn.execute(query.order_by(a.id).limit(wanted.limit)).mappings()
        return [Alert(row["id"], row["kind"], row["message"]) for row in rows]


def test_a_second_component_delivers_its_own_events_through_the_same_mechanism(
    registry: RegistryClient, receiver: Receiver
) -> None:
    """Alerts and triggers need no delivery code of their own: a Feed is enough."""
    feed = AlertFeed()
    store = registry.store
    feed.metadata.create_all(store.engine)
    registry.create_model("churn")  # a registry event: not the alert subscriber's
    hook = store.transact(
        lambda conn: webhooks.add(
            conn, feed, receiver.url, kinds=("alert.fired",), scope=None, secret="k", actor="ana"
        )
    )
    assert hook.cursor == 0
    with store.read() as conn:
        assert webhooks.list_all(conn, FEED) == []  # the registry's subscribers are apart
    alerts = [
        {"kind": "alert.fired", "message": "psi 0.4"},
        {"kind": "alert.resolved", "message": "ok"},
        {"kind": "alert.fired", "message": "psi 0.5"},
    ]
    for alert in alerts:
        with store.write() as conn:
            conn.execute(feed.alerts.insert(), alert)
    webhooks.dispatcher_for(store, feed).wake()
    assert webhooks.dispatcher_for(store, feed).deliver_pending(timeout=WAIT)
    bodies = [json.loads(body) for _, body in receiver.requests]
    assert [(b["id"], b["message"]) for b in bodies] == [(1, "psi 0.4"), (3, "psi 0.5")]
    headers = receiver.requests[0][0]
    assert headers["X-Loopml-Signature"] == webhooks.sign("k", receiver.requests[0][1])
    with store.read() as conn:
        [stored] = webhooks.list_all(conn, feed)
    assert (stored.cursor, stored.failures) == (3, 0)
