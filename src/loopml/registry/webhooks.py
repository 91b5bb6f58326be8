"""The registry's webhooks: its events as a :class:`~loopml.webhooks.Feed`, its checks.

Delivery itself (the thread, signing, retries, the cursor) is :mod:`loopml.webhooks`,
shared with the components that emit alerts and triggers. What is the registry's: which
events there are and their payloads (:mod:`loopml.registry.events`), that a webhook
may narrow to one model (which must exist), and that its subscriptions live in the
``registry_webhooks`` table.

Example:
    >>> client.add_webhook("https://ci.example.com/hooks/loopml", events=["alias.set"],
    ...                    secret="s3cret")  # doctest: +SKIP
    >>> client.deliver_pending(timeout=5)  # doctest: +SKIP
    True
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, Table

from loopml import webhooks
from loopml.registry import _records, events
from loopml.registry.models import RegistryEvent
from loopml.store import Store
from loopml.store.schema import registry_webhooks
from loopml.webhooks import Dispatcher, Wanted, Webhook

__all__ = ["FEED", "RegistryFeed", "add", "dispatcher_for", "list_all", "remove"]


class RegistryFeed:
    """Registry events (``registry_events``) and their subscriptions (``registry_webhooks``)."""

    name = "registry"
    table: Table = registry_webhooks

    def head(self, conn: Connection) -> int:
        return events.head(conn)

    def events(self, conn: Connection, wanted: Wanted) -> list[RegistryEvent]:
        return events.list_events(
            conn,
            after=wanted.after,
            until=wanted.until,
            limit=wanted.limit,
            model=wanted.scope,
            kinds=wanted.kinds or None,
        )


FEED = RegistryFeed()


def add(
    conn: Connection,
    url: str,
    *,
    kinds: Iterable[str],
    model: str | None,
    secret: str | None,
    actor: str,
) -> Webhook:
    """Insert a webhook that receives the registry's events from now on.

    The model (when given) must exist and the kinds must be registry event kinds; the
    URL and the secret are checked by :func:`loopml.webhooks.add`.
    """
    if model is not None:
        _records.find_model(conn, model)
    webhooks.check_url(url)
    checked = events.check_kinds(kinds)
    return webhooks.add(conn, FEED, url, kinds=checked, scope=model, secret=secret, actor=actor)


def list_all(conn: Connection) -> list[Webhook]:
    """Every registry webhook, oldest first."""
    return webhooks.list_all(conn, FEED)


def remove(conn: Connection, webhook_id: str) -> Webhook:
    """Delete a registry webhook; NotFoundError lists the ones there are."""
    return webhooks.remove(conn, FEED, webhook_id)


def dispatcher_for(store: Store) -> Dispatcher:
    """The process's dispatcher of registry events for ``store``."""
    return webhooks.dispatcher_for(store, FEED)
