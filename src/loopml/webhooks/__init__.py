"""Webhooks: one delivery mechanism for every component's events.

Registry events today, monitoring alerts and pipeline triggers next: a component
describes its events as a :class:`Feed` (its subscriptions table and its events after a
cursor), adds subscriptions with :func:`add`, and wakes :func:`dispatcher_for` after each
change it commits. Delivery is shared: a signed JSON POST per event (HMAC-SHA256 in
``X-Loopml-Signature``), in order, at least once, retried with backoff, never blocking
the change; a webhook's cursor moves only on a 2xx answer.

Example:
    >>> check_url("https://ci.example.com/hooks/loopml")
    'https://ci.example.com/hooks/loopml'
    >>> sign("s3cret", b"{}")[:7]
    'sha256='
"""

from __future__ import annotations

from loopml.webhooks.delivery import body_of, post, sign
from loopml.webhooks.dispatcher import Dispatcher, dispatcher_for, stop_dispatchers
from loopml.webhooks.models import Event, Feed, Wanted, Webhook
from loopml.webhooks.subscriptions import add, check_url, list_all, remove, to_webhook

__all__ = [
    "Dispatcher",
    "Event",
    "Feed",
    "Wanted",
    "Webhook",
    "add",
    "body_of",
    "check_url",
    "dispatcher_for",
    "list_all",
    "post",
    "remove",
    "sign",
    "stop_dispatchers",
    "to_webhook",
]
