"""The agent's lease: a row in the store that says which agent may act, until when.

An agent acts only while it holds the lease. It takes a lease that is free or expired,
renews its own before it expires, and gives it back when it stops. Taking and renewing
are one write transaction each (``BEGIN IMMEDIATE`` on SQLite, a row lock on
PostgreSQL), so two agents can never both hold it: the second one reads the first's
unexpired lease and stands by. An agent killed with ``kill -9`` simply stops renewing;
another takes over once the lease expires.

Example:
    >>> lease = Lease(store, holder="agent-a", ttl_ms=30_000)  # doctest: +SKIP
    >>> lease.acquire()  # doctest: +SKIP
    True
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from loopml.clock import now_ms
from loopml.errors import ConflictError
from loopml.store import Store
from loopml.store.schema import automation_lease

__all__ = ["DEFAULT_TTL_MS", "Lease", "LeaseInfo", "LeaseLostError", "default_holder"]

DEFAULT_TTL_MS = 60_000
"""How long a lease lasts without a renewal."""
_NAME = "agent"
_L = automation_lease.c


class LeaseLostError(ConflictError):
    """This agent no longer holds the lease (it expired and another agent took it)."""


def default_holder() -> str:
    """``host:pid``: who an agent says it is, unless told otherwise."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True, slots=True)
class LeaseInfo:
    holder: str
    acquired_at: int
    expires_at: int

    def to_dict(self) -> dict[str, object]:
        return {
            "holder": self.holder,
            "acquired_at": self.acquired_at,
            "expires_at": self.expires_at,
        }


class Lease:
    """One agent's hold on the store's lease."""

    def __init__(self, store: Store, *, holder: str | None = None, ttl_ms: int = DEFAULT_TTL_MS):
        self.store = store
        self.holder = holder or default_holder()
        self.ttl_ms = ttl_ms
        self.token = secrets.token_hex(16)

    def acquire(self) -> bool:
        """Take the lease, or renew it when this agent holds it; ``False`` when another does."""

        def work(conn: Connection) -> bool:
            at = now_ms()
            row = conn.execute(select(automation_lease).where(_L.name == _NAME)).first()
            if row is None:
                conn.execute(
                    insert(automation_lease).values(
                        name=_NAME, holder=self.holder, token=self.token,
                        acquired_at=at, expires_at=at + self.ttl_ms,
                    )
                )  # fmt: skip
                return True
            if row.token != self.token and row.expires_at > at:
                return False
            values = {"holder": self.holder, "token": self.token, "expires_at": at + self.ttl_ms}
            if row.token != self.token:
                values["acquired_at"] = at
            conn.execute(update(automation_lease).where(_L.name == _NAME).values(**values))
            return True

        try:
            return self.store.transact(work)
        except IntegrityError:  # another agent inserted the first lease just now
            return False

    def check(self, conn: Connection) -> None:
        """Raise :class:`LeaseLostError` unless this agent holds the lease (in ``conn``'s
        transaction, so a write made with it cannot land after the lease was lost)."""
        row = conn.execute(
            select(_L.token, _L.holder, _L.expires_at).where(_L.name == _NAME)
        ).first()
        if row is None or row.token != self.token:
            holder = row.holder if row is not None else "nobody"
            raise LeaseLostError(
                f"agent {self.holder} lost its lease (now held by {holder}); it stops acting "
                "and the holder carries on"
            )

    def release(self) -> None:
        """Give the lease back (when this agent holds it), so another may act at once; the
        row stays, so ``loopml status`` still tells who acted last."""
        self.store.transact(
            lambda conn: conn.execute(
                update(automation_lease)
                .where(_L.name == _NAME, _L.token == self.token)
                .values(expires_at=now_ms())
            )
        )

    @staticmethod
    def current(store: Store) -> LeaseInfo | None:
        """Who holds the lease, or held it last (``None``: nobody ever did)."""
        with store.read() as conn:
            row = conn.execute(select(automation_lease).where(_L.name == _NAME)).first()
        if row is None:
            return None
        return LeaseInfo(row.holder, int(row.acquired_at), int(row.expires_at))
