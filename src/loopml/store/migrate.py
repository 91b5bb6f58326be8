"""Bring a database to the current schema with Alembic, safely from many processes.

Opening a store checks ``alembic_version`` (one cheap query) and only imports
Alembic when the database is behind. The upgrade runs under a lock: a file lock
beside an SQLite database, an advisory lock on PostgreSQL. So several processes
that start at once on a fresh embedded store migrate it exactly once.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, text

from loopml.store.engine import Store
from loopml.store.schema import SCHEMA_HEAD

__all__ = ["current_revision", "ensure_schema", "upgrade"]

_MIGRATIONS = Path(__file__).parent / "migrations"
_PG_LOCK_KEY = 7_344_125_001  # any constant shared by every loopml process


def current_revision(store: Store) -> str | None:
    """The Alembic revision the database is at, or ``None`` for an empty database."""
    try:
        with store.read() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception as err:
        if _missing_table(err):
            return None
        raise


def ensure_schema(store: Store) -> None:
    """Migrate ``store`` to :data:`SCHEMA_HEAD` unless it is there already."""
    if current_revision(store) == SCHEMA_HEAD:
        return
    upgrade(store)


def upgrade(store: Store, revision: str = "head") -> str | None:
    """Run the migrations up to ``revision`` under a cross-process lock; return the result."""
    from alembic import command
    from alembic.config import Config

    with _migration_lock(store) as conn:
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
        conn.commit()
    return current_revision(store)


@contextmanager
def _migration_lock(store: Store) -> Iterator[Connection]:
    if store.is_sqlite:
        database = store.engine.url.database or ""
        lock_path = None if database in ("", ":memory:") else Path(database + ".migrate.lock")
        fd = None
        if lock_path is not None:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            with store.engine.connect() as conn:
                yield conn
        finally:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
        return
    with store.engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
        conn.commit()
        try:
            yield conn
        finally:
            conn.rollback()
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
            conn.commit()


def _missing_table(err: BaseException) -> bool:
    message = str(getattr(err, "orig", err)).lower()
    if "no such table" in message or "does not exist" in message:
        return True
    return err.__cause__ is not None and _missing_table(err.__cause__)
