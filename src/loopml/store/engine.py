"""Opening the metadata database: one :class:`Store` per URL per process.

SQLite runs in WAL mode with a long busy timeout, and every write transaction starts
with ``BEGIN IMMEDIATE`` so that concurrent writers queue on the lock instead of
failing half-way. Transient "database is locked" errors that still get through are
retried, so several processes can share one embedded store.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, ProgrammingError

from loopml.errors import InvalidInputError, MissingDependencyError, StoreError

__all__ = ["Store", "open_store", "reset_stores"]

T = TypeVar("T")
_WRITE = "loopml_write"
_RETRY_SECONDS = 120.0
_stores: dict[str, Store] = {}
_stores_lock = threading.Lock()


class Store:
    """A connection pool to one metadata database, at the current schema.

    Example:
        >>> store = open_store("sqlite:///:memory:")  # doctest: +SKIP
        >>> with store.write() as conn:  # doctest: +SKIP
        ...     conn.execute(...)
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.url = engine.url.render_as_string(hide_password=False)
        self.dialect = engine.dialect.name
        self.migrated = False

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def placeholder(self) -> str:
        """The driver's positional parameter marker, for hand-written hot-path SQL."""
        return "?" if self.engine.dialect.paramstyle == "qmark" else "%s"

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reading (a deferred transaction, rolled back at the end)."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except (OperationalError, ProgrammingError) as err:
            raise _store_error(err) from err

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed when the block ends, rolled back on error.

        Prefer :meth:`transact` where the work can be retried as a whole.
        """
        try:
            with self.engine.connect().execution_options(**{_WRITE: True}) as conn, conn.begin():
                yield conn
        except OperationalError as err:
            raise _store_error(err) from err

    def transact(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a write transaction, retrying it whole while the database is busy."""
        deadline = time.monotonic() + _RETRY_SECONDS
        delay = 0.005
        while True:
            try:
                conn = self.engine.connect().execution_options(**{_WRITE: True})
                with conn, conn.begin():
                    return work(conn)
            except OperationalError as err:
                if not _is_busy(err) or time.monotonic() > deadline:
                    raise _store_error(err) from err
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 0.5)

    def dispose(self) -> None:
        self.engine.dispose()


def open_store(url: str, *, migrate: bool = True) -> Store:
    """The process-wide :class:`Store` for ``url``, migrated to the current schema."""
    with _stores_lock:
        store = _stores.get(url)
        if store is None:
            store = _stores[url] = Store(_create_engine(url))
        if migrate and not store.migrated:
            from loopml.store.migrate import ensure_schema

            try:
                ensure_schema(store)
            except BaseException:
                del _stores[url]
                store.dispose()
                raise
            store.migrated = True
        return store


def reset_stores() -> None:
    """Forget and dispose every open store (tests, and after ``os.fork``)."""
    with _stores_lock:
        for store in _stores.values():
            store.dispose()
        _stores.clear()


def _forget_pools_after_fork() -> None:
    # A forked child must not use the parent's sockets; it opens its own connections.
    for store in _stores.values():
        store.engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_pools_after_fork)


def _create_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as err:
        raise InvalidInputError(
            f"'{url}' is not a database URL; use sqlite:///path/to/loopml.db or "
            "postgresql+psycopg://user@host:5432/db"
        ) from err
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": 60})
        _tune_sqlite(engine)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")  # the driver loopml ships with
        try:
            return create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=10)
        except ModuleNotFoundError as err:
            raise MissingDependencyError("psycopg", "postgres", "a PostgreSQL store") from err
    raise InvalidInputError(
        f"database '{backend}' is not supported; use sqlite:/// or postgresql+psycopg://"
    )


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA busy_timeout = 60000")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA cache_size = -65536")  # 64 MiB: big metric ingests stay in cache
        _retry_busy(lambda: cursor.execute("PRAGMA journal_mode = WAL"))
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _retry_busy(call: Callable[[], T]) -> T:
    deadline = time.monotonic() + _RETRY_SECONDS
    while True:
        try:
            return call()
        except Exception as err:  # sqlite3.OperationalError, before SQLAlchemy wraps it
            if "locked" not in str(err) and "busy" not in str(err):
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01 + random.random() * 0.05)


def _is_busy(err: DBAPIError) -> bool:
    message = str(err.orig).lower()
    return "database is locked" in message or "busy" in message or "deadlock" in message


def _store_error(err: DBAPIError) -> StoreError:
    return StoreError(
        f"the metadata database failed: {err.orig}; check LOOPML_DB_URL and that the "
        "database is reachable",
        details={"reason": str(err.orig)},
    )
