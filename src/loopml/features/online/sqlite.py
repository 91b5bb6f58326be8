"""The default online store: one SQLite file (WAL), one row per feature view and entity.

Table ``online_rows(view, entity_key, event_ts, payload)`` with the primary key
``(view, entity_key)`` and no rowid, so a lookup is one B-tree probe and the packed
payload sits in the same page as its key. Each thread gets its own connection (SQLite
connections are not shared across threads); WAL lets readers run while a
materialization writes, and every batch is one ``BEGIN IMMEDIATE`` transaction.

Example:
    >>> store = SqliteOnlineStore("/tmp/online.db")  # doctest: +SKIP
    >>> store.read("driver_stats", ["1001"])  # doctest: +SKIP
    [(1700000000000000, b'...')]
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from loopml.errors import StoreError
from loopml.features.online.base import OnlineRecord, StoredRecord

__all__ = ["SqliteOnlineStore"]

T = TypeVar("T")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS online_rows (
    view TEXT NOT NULL,
    entity_key TEXT NOT NULL,
    event_ts INTEGER NOT NULL,
    payload BLOB NOT NULL,
    PRIMARY KEY (view, entity_key)
) WITHOUT ROWID
"""
_UPSERT = (
    "INSERT INTO online_rows (view, entity_key, event_ts, payload) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (view, entity_key) DO UPDATE SET "
    "event_ts = excluded.event_ts, payload = excluded.payload "
    "WHERE excluded.event_ts >= online_rows.event_ts"
)
_READ_ONE = "SELECT event_ts, payload FROM online_rows WHERE view = ? AND entity_key = ?"
_READ_MANY = (
    "SELECT entity_key, event_ts, payload FROM online_rows "
    "WHERE view = ? AND entity_key IN (SELECT value FROM json_each(?))"
)
_CHUNK = 10_000


class SqliteOnlineStore:
    """Online rows in one SQLite file, created on first use.

    Args:
        path: the database file (its directory is created when missing).
    """

    url: str  # declared here: the py: door checks members on the class

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser().absolute()
        self.url = f"sqlite:///{self.path}"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        _retry_busy(lambda: self._connection().execute(_SCHEMA))

    def write_batch(self, view: str, records: Sequence[OnlineRecord]) -> int:
        """Store ``records`` in one transaction, keeping the newer record per key."""
        conn = self._connection()

        def write() -> int:
            conn.execute("BEGIN IMMEDIATE")
            try:
                before = conn.total_changes
                conn.executemany(_UPSERT, [(view, k, ts, p) for k, ts, p in records])
                written = conn.total_changes - before
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return written

        return _retry_busy(write)

    def read(self, view: str, keys: Sequence[str]) -> list[StoredRecord | None]:
        """The stored record of each key, in order."""
        conn = self._connection()
        if len(keys) == 1:
            row = conn.execute(_READ_ONE, (view, keys[0])).fetchone()
            return [row]
        import json

        found: dict[str, StoredRecord] = {}
        for start in range(0, len(keys), _CHUNK):
            chunk = json.dumps(list(keys[start : start + _CHUNK]))
            for key, event_ts, payload in conn.execute(_READ_MANY, (view, chunk)):
                found[key] = (event_ts, payload)
        return [found.get(key) for key in keys]

    def delete_view(self, view: str) -> None:
        """Forget every record of ``view``."""
        conn = self._connection()

        def delete() -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("DELETE FROM online_rows WHERE view = ?", (view,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        _retry_busy(delete)

    def close(self) -> None:
        """Close every connection this store opened, in any thread."""
        with self._lock:
            for conn in self._opened:
                conn.close()
            self._opened.clear()
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"SqliteOnlineStore({str(self.path)!r})"

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        try:
            conn = sqlite3.connect(
                self.path, timeout=60, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as err:
            raise StoreError(
                f"cannot open the online store {self.path}: {err}; check the path and its "
                "permissions (LOOPML_ONLINE_STORE)"
            ) from err
        conn.execute("PRAGMA busy_timeout = 60000")
        _retry_busy(lambda: conn.execute("PRAGMA journal_mode = WAL"))
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA mmap_size = 268435456")  # lookups read pages without copying
        with self._lock:
            self._opened.append(conn)
        self._local.conn, self._local.pid = conn, os.getpid()
        return conn


def _retry_busy(call: Callable[[], T]) -> T:
    # busy_timeout covers most waits; a WAL switch or a lock upgrade can still report busy.
    deadline = time.monotonic() + 60
    while True:
        try:
            return call()
        except sqlite3.OperationalError as err:
            message = str(err).lower()
            if ("locked" not in message and "busy" not in message) or time.monotonic() > deadline:
                raise
        time.sleep(0.005 + random.random() * 0.02)
