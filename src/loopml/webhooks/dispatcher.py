"""Webhook delivery: a feed's events POSTed to each subscriber, in order, at least once.

One mechanism for every component that emits events (registry events today; monitoring
alerts and pipeline triggers next): the component gives a :class:`~loopml.webhooks.Feed`
(its subscriptions table, its events after a cursor) and wakes :func:`dispatcher_for`
after each change it commits.

A webhook remembers a cursor: the id of the last event it has received. A per-process,
per-feed background :class:`Dispatcher` thread delivers the events after each cursor
(see :mod:`loopml.webhooks.delivery` for the request), advancing the cursor on every
2xx. A failing delivery is retried with backoff (0.5 s, doubling, 5 attempts), then the
webhook's ``failures`` and ``last_error`` are recorded and it is tried again later
(30 s, doubling up to 10 minutes, or at once on :meth:`Dispatcher.deliver_pending`);
its cursor stays, so nothing is lost and order is kept.

The change always commits first and only then wakes the dispatcher: a slow or dead
receiver never blocks or fails it. Several processes may deliver for the same webhook;
cursors only move forward (compare-and-set), so a duplicate is rare and carries the
same ``X-Loopml-Delivery`` id.

Example:
    >>> dispatcher = dispatcher_for(store, registry_feed)  # doctest: +SKIP
    >>> dispatcher.deliver_pending(timeout=5)  # doctest: +SKIP
    True
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from sqlalchemy import Table, Update, bindparam, select, update

from loopml.clock import now_ms
from loopml.store import Store
from loopml.webhooks.delivery import post
from loopml.webhooks.models import Event, Feed, Wanted
from loopml.webhooks.subscriptions import Row

__all__ = ["Dispatcher", "dispatcher_for", "stop_dispatchers"]

log = logging.getLogger(__name__)
_QUIET = 5.0  # seconds a process that found no webhook waits before it asks again


class _Statements:
    """The queries the dispatcher runs on one feed's subscriptions table."""

    def __init__(self, table: Table) -> None:
        w = table.c
        self.enabled = select(table).where(w.enabled.is_(True)).order_by(w.id)
        self.any_enabled = select(w.id).where(w.enabled.is_(True)).limit(1)
        moved = update(table).where(w.id == bindparam("hook"), w.cursor == bindparam("old"))
        self.advance: Update = moved.values(cursor=bindparam("new"))
        self.delivered: Update = moved.values(
            cursor=bindparam("new"), failures=0, last_error=None, last_delivery_at=bindparam("at")
        )
        self.failed = (
            update(table)
            .where(w.id == bindparam("hook"))
            .values(failures=w.failures + 1, last_error=bindparam("error"))
        )


# -- the dispatcher --------------------------------------------------------------------


class Dispatcher:
    """Delivers one feed's events in one store from a background daemon thread.

    :meth:`wake` (after every change of the feed's owner) starts the thread when the store has an
    enabled webhook, and the thread stops by itself when none is left. A process that
    found no webhook asks again only after 5 seconds, so without webhooks a change costs
    one tiny query now and then and no thread (a webhook another process adds is served
    from then on, or at once by :meth:`deliver_pending`). While webhooks exist the thread
    also looks every ``idle_poll`` seconds for events other processes wrote.

    Args:
        store: the metadata store the webhooks and events live in.
        feed: whose events, and the table of their subscriptions.
        timeout: seconds one POST may take.
        attempts: POSTs of one event per round before the round gives up on the webhook.
        backoff: the first pause between attempts, doubled after each.
        retry_after: the first pause before a failed webhook is tried again (doubling
            with its consecutive failures, at most ten minutes).
        idle_poll: seconds between looks for new events while nothing wakes the thread.

    Example:
        >>> dispatcher = dispatcher_for(store, feed)  # doctest: +SKIP
        >>> dispatcher.deliver_pending(timeout=5)  # doctest: +SKIP
        True
    """

    def __init__(
        self,
        store: Store,
        feed: Feed,
        *,
        timeout: float = 5.0,
        attempts: int = 5,
        backoff: float = 0.5,
        retry_after: float = 30.0,
        idle_poll: float = 30.0,
    ) -> None:
        self.store = store
        self.feed = feed
        self._sql = _Statements(feed.table)
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.retry_after = retry_after
        self.idle_poll = idle_poll
        self._cond = threading.Condition(threading.RLock())
        self._wake = threading.Event()
        self._hurry = threading.Event()  # cuts a backoff pause short (deliver_pending, stop)
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._quiet_until = 0.0  # no webhooks were found: skip waking until then
        self._retry_at: dict[str, float] = {}
        self._requested = 0  # rounds asked for by deliver_pending
        self._forced = False
        self._completed = 0  # the request the last finished round served
        self._clean = False  # whether that round delivered everything

    # -- public ------------------------------------------------------------------------

    def wake(self) -> None:
        """Look for new events soon (never blocks on a receiver; never raises).

        Starts the thread when there is a webhook to serve. Whether there is one is
        asked here, at most every few seconds, so a process without webhooks runs no
        thread at all.
        """
        with self._cond:
            if self._stopping or (not self._forced and time.monotonic() < self._quiet_until):
                return
            if self._running():
                self._wake.set()
                return
            forced = self._forced
        if not forced and not self._any_webhook():
            with self._cond:
                self._quiet_until = time.monotonic() + _QUIET
            return
        with self._cond:
            self._wake.set()
            if not self._stopping and not self._running():
                self._thread = threading.Thread(
                    target=self._run, name=f"loopml-webhooks-{self.feed.name}", daemon=True
                )
                self._thread.start()

    def webhooks_changed(self) -> None:
        """A webhook was added or removed in this process: look again at once."""
        with self._cond:
            self._quiet_until = 0.0
            self._retry_at.clear()
        self.wake()

    def deliver_pending(self, timeout: float = 10.0) -> bool:
        """Deliver every pending event now and wait, at most ``timeout`` seconds.

        Failed webhooks are retried at once (their backoff is cut short once).

        Returns:
            True when every enabled webhook has received every event it wants; False
            when the time ran out first (nothing is lost: delivery goes on in the
            background).
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            idle = not self._running()
        if idle and not self._any_webhook():
            return True
        with self._cond:
            target = self._request()
            while True:
                if self._completed >= target:
                    if self._clean:
                        return True
                    target = self._request()  # the last round left work: try again
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread (pending events stay pending, for the next dispatcher)."""
        with self._cond:
            self._stopping = True
            thread = self._thread
        self._hurry.set()
        self._wake.set()
        if thread is not None:
            thread.join(timeout)

    # -- the thread --------------------------------------------------------------------

    def _running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _any_webhook(self) -> bool:
        try:
            with self.store.read() as conn:
                return conn.execute(self._sql.any_enabled).first() is not None
        except Exception:  # a change has committed; delivery problems must not surface here
            log.warning("could not look for webhooks", exc_info=True)
            return False

    def _request(self) -> int:
        self._requested += 1
        self._forced = True
        self._hurry.set()
        self.wake()
        return self._requested

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                self._wake.clear()
                self._hurry.clear()
                serving, forced = self._requested, self._forced
                self._forced = False
            outcome = self._safe_round(forced)
            with self._cond:
                self._completed, self._clean = serving, outcome != "pending"
                self._cond.notify_all()
                if outcome == "none" and not self._wake.is_set():
                    self._quiet_until = time.monotonic() + _QUIET
                    self._thread = None
                    return
            self._wake.wait(self._pause(outcome))

    def _pause(self, outcome: str) -> float:
        if outcome != "pending" or not self._retry_at:
            return self.idle_poll
        soonest = min(self._retry_at.values()) - time.monotonic()
        return max(0.05, min(self.idle_poll, soonest))

    def _safe_round(self, forced: bool) -> str:
        try:
            return self._round(forced)
        except Exception:  # the database went away, a bug: log it, never kill the thread
            log.warning("webhook delivery round failed", exc_info=True)
            return "pending"

    def _round(self, forced: bool) -> str:
        """Deliver to every webhook: ``none`` (no webhooks), ``clean`` or ``pending``."""
        with self.store.read() as conn:
            hooks = conn.execute(self._sql.enabled).mappings().all()
            head = self.feed.head(conn)
        if not hooks:
            return "none"
        clean = True
        for hook in hooks:
            if self._stopping:
                return "pending"
            due = self._retry_at.get(hook["id"], 0.0)
            if not forced and time.monotonic() < due:
                clean = False
                continue
            if not self._deliver(hook, head):
                clean = False
        return "clean" if clean else "pending"

    def _deliver(self, hook: Row, head: int) -> bool:
        """Bring one webhook up to ``head``; False when a delivery failed."""
        cursor = int(hook["cursor"])
        kinds = tuple(hook["events"] or ())
        while cursor < head:
            with self.store.read() as conn:
                wanted = Wanted(cursor, head, 100, hook["model"], kinds)
                batch = self.feed.events(conn, wanted)
            for event in batch:
                error = self._post(hook, event)
                if error is not None:
                    self._failed(hook, error)
                    return False
                if not self._advance(self._sql.delivered, hook["id"], cursor, event.id):
                    return True  # another process moved it (or the webhook is gone)
                cursor = event.id
            if len(batch) < 100:
                self._advance(self._sql.advance, hook["id"], cursor, head)  # skip the unwanted rest
                break
        self._retry_at.pop(hook["id"], None)
        return True

    def _post(self, hook: Row, event: Event) -> str | None:
        pause = self.backoff
        error: str | None = None
        for attempt in range(self.attempts):
            error = post(hook["url"], event, hook["secret"], self.timeout)
            if error is None or self._stopping:
                return error
            if attempt < self.attempts - 1:
                if self._hurry.wait(pause):
                    self._hurry.clear()  # one hurried retry per request, then backoff again
                pause *= 2
        return error

    def _advance(self, statement: Update, hook_id: str, old: int, new: int) -> bool:
        if new == old:
            return True
        params: dict[str, Any] = {"hook": hook_id, "old": old, "new": new}
        if statement is self._sql.delivered:
            params["at"] = now_ms()
        moved = self.store.transact(lambda conn: conn.execute(statement, params).rowcount)
        return bool(moved)

    def _failed(self, hook: Row, error: str) -> None:
        failures = int(hook["failures"]) + 1
        log.warning("webhook %s (%s) failed: %s", hook["id"], hook["url"], error)
        self.store.transact(
            lambda conn: conn.execute(self._sql.failed, {"hook": hook["id"], "error": error[:2000]})
        )
        delay = min(self.retry_after * 2 ** min(failures - 1, 10), 600.0)
        self._retry_at[hook["id"]] = time.monotonic() + delay


_dispatchers: dict[tuple[str, str], Dispatcher] = {}
_dispatchers_lock = threading.Lock()


def dispatcher_for(store: Store, feed: Feed) -> Dispatcher:
    """The process's dispatcher for ``feed`` in ``store`` (one per database URL and feed)."""
    key = (store.url, feed.name)
    with _dispatchers_lock:
        dispatcher = _dispatchers.get(key)
        if dispatcher is not None and dispatcher.store is not store:  # the store was reopened
            dispatcher.stop(timeout=0)
            dispatcher = None
        if dispatcher is None:
            dispatcher = _dispatchers[key] = Dispatcher(store, feed)
        return dispatcher


def stop_dispatchers(timeout: float = 10.0) -> None:
    """Stop and forget every dispatcher of this process (tests; before closing stores)."""
    with _dispatchers_lock:
        stopping = list(_dispatchers.values())
        _dispatchers.clear()
    for dispatcher in stopping:
        dispatcher.stop(timeout)


def _forget_after_fork() -> None:
    # Threads do not survive fork; the child starts its own dispatchers when it needs them.
    _dispatchers.clear()


os.register_at_fork(after_in_child=_forget_after_fork)
