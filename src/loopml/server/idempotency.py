"""Idempotency keys: a retried write is answered from the first attempt, never applied twice.

A client that may retry a write (a batch of metrics after a timeout) sends an
``Idempotency-Key`` header. The first request with a key claims it before running; once it
has run, its answer is stored under the key. A retry then gets that stored answer back, or
409 while the first attempt is still running. A claim whose request failed with a bug is
released, so the retry runs. Keys are per user and kept for a day.

Example:
    >>> keys = IdempotencyKeys(store)  # doctest: +SKIP
    >>> keys.claim("ana", "batch-7")  # doctest: +SKIP
    None
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.exc import IntegrityError

from loopml.clock import now_ms
from loopml.errors import ConflictError, InvalidInputError
from loopml.store import Store
from loopml.store.schema import request_keys

__all__ = ["HEADER", "IdempotencyKeys", "StoredReply"]

HEADER = "idempotency-key"
PENDING = 0
KEEP_MS = 24 * 3600 * 1000
STALE_MS = 5 * 60 * 1000  # a claim this old whose request never finished may run again
_KEY = re.compile(r"[A-Za-z0-9._:-]{1,128}")


@dataclass(frozen=True, slots=True)
class StoredReply:
    """What the first request with a key answered."""

    status: int
    body: Any


class IdempotencyKeys:
    """The ``request_keys`` table: claims, stored replies, and their expiry."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def claim(self, user: str, key: str) -> StoredReply | None:
        """Claim ``key`` for a new request (``None``), or the stored reply of an earlier one.

        Raises:
            InvalidInputError: a malformed key.
            ConflictError: a request with this key is still running.
        """
        if _KEY.fullmatch(key) is None:
            raise InvalidInputError(
                f"Idempotency-Key {key[:140]!r} is not valid; use 1 to 128 letters, digits "
                "and . _ : - (a UUID works)"
            )
        full, at = f"{user}\x1f{key}", now_ms()

        def work(conn: Connection) -> StoredReply | None:
            row = conn.execute(select(request_keys).where(request_keys.c.key == full)).first()
            if row is None:
                conn.execute(
                    request_keys.insert().values(
                        key=full, user=user, at=at, status=PENDING, body={}
                    )
                )
                return None
            if row.status != PENDING:
                return StoredReply(row.status, row.body.get("reply"))
            if at - row.at < STALE_MS:
                raise ConflictError(
                    f"a request with Idempotency-Key {key!r} is still being applied; retry "
                    "in a moment to get its answer",
                    details={"key": key, "pending": True},
                )
            conn.execute(update(request_keys).where(request_keys.c.key == full).values(at=at))
            return None

        try:
            return self.store.transact(work)
        except IntegrityError as err:  # two first attempts raced: the other one claimed it
            raise ConflictError(
                f"a request with Idempotency-Key {key!r} is being applied; retry in a moment",
                details={"key": key, "pending": True},
            ) from err

    def finish(self, user: str, key: str, status: int, body: Any) -> None:
        """Store the answer of the request that claimed ``key``."""
        full = f"{user}\x1f{key}"
        self.store.transact(
            lambda conn: conn.execute(
                update(request_keys)
                .where(request_keys.c.key == full)
                .values(status=status, body={"reply": body})
            )
        )

    def release(self, user: str, key: str) -> None:
        """Forget a claim whose request failed with a bug, so a retry runs it."""
        full = f"{user}\x1f{key}"
        self.store.transact(
            lambda conn: conn.execute(delete(request_keys).where(request_keys.c.key == full))
        )

    def expire(self) -> int:
        """Drop keys older than a day; how many went."""
        cutoff = now_ms() - KEEP_MS
        return self.store.transact(
            lambda conn: conn.execute(delete(request_keys).where(request_keys.c.at < cutoff))
        ).rowcount
