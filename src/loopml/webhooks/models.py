"""What the webhook mechanism delivers and from where: events, feeds, subscriptions.

A component that wants its events delivered (the registry today; monitoring's alerts and
automation's triggers next) gives a :class:`Feed`: its subscriptions table and a way to
read its events in order after a cursor. Everything else (the thread, signing, retries,
backoff, the cursor) is shared: :mod:`loopml.webhooks.dispatcher`.

Example:
    >>> from loopml.webhooks.models import Webhook
    >>> Webhook("01J", "https://ci.example.com/h", (), None, 0, True, 0, None, None, False).url
    'https://ci.example.com/h'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sqlalchemy import Connection, Table

__all__ = ["Event", "Feed", "Wanted", "Webhook"]


class Event(Protocol):
    """One deliverable event: ``id`` grows in commit order and is the cursor to resume after."""

    @property
    def id(self) -> int: ...

    @property
    def kind(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Wanted:
    """Which events a subscription is owed: ``after < id <= until``, at most ``limit``,
    narrowed to ``scope`` (a model, for the registry) and ``kinds`` (empty: all)."""

    after: int
    until: int
    limit: int
    scope: str | None
    kinds: tuple[str, ...]


class Feed(Protocol):
    """A component's event stream and the table of its subscriptions.

    ``table`` has the columns of ``registry_webhooks`` (id, url, events, model, secret,
    cursor, enabled, failures, last_error, last_delivery_at, created_at, created_by);
    ``model`` is the scope a subscription narrows to (a model name for the registry).
    """

    @property
    def name(self) -> str:
        """Short and unique (``"registry"``): names the thread, keys the dispatcher."""
        ...

    @property
    def table(self) -> Table: ...

    def head(self, conn: Connection) -> int:
        """The id of the newest event (0 when there is none)."""
        ...

    def events(self, conn: Connection, wanted: Wanted) -> Sequence[Event]:
        """The events ``wanted`` asks for, oldest first."""
        ...


@dataclass(frozen=True, slots=True)
class Webhook:
    """One subscription: where to POST, which kinds (empty: all), how far it has got."""

    id: str
    url: str
    events: tuple[str, ...]
    model: str | None
    cursor: int
    enabled: bool
    failures: int
    last_error: str | None
    last_delivery_at: int | None
    has_secret: bool
