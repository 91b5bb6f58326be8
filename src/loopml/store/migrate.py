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
from sqlalchemy.exc import DBAPIError

from loopml.errors import StoreError
from loopml.store.engine import Store
from loopml.store.models import SchemaStatus
from loopml.store.schema import SCHEMA_HEAD

__all__ = ["current_revision", "ensure_schema", "schema_status", "upgrade"]

_MIGRATIONS = Path(__file__).parent / "migrations"
_PG_LOCK_KEY = 7_344_125_001  # any constant shared by every loopml process


def current_revision(store: Store) -> str | None:
    """The Alembic revision the database is at, or ``None`` for an empty database."""
    try:
        with store.read() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except StoreError as err:
        if _no_version_table(err):
            return None
        raise


def schema_status(store: Store) -> SchemaStatus:
    """Where the database is (password hidden), its revision and this loopml's newest.

    Example:
        >>> schema_status(open_store(url, migrate=False)).up_to_date  # doctest: +SKIP
        False
    """
    url = store.engine.url
    return SchemaStatus(
        url=url.render_as_string(hide_password=True),
        location=url.database if store.is_sqlite and url.database else None,
        revision=current_revision(store),
        head=SCHEMA_HEAD,
    )


def ensure_schema(store: Store) -> None:
    """Migrate ``store`` to :data:`SCHEMA_HEAD` unless it is there already."""
    current = current_revision(store)
    if current == SCHEMA_HEAD:
        return
    if current is not None and current not in known_revisions():
        raise StoreError(
            f"the database at {store.engine.url.render_as_string()} is at schema revision "
            f"'{current}', which this loopml does not know (its newest is '{SCHEMA_HEAD}'); "
            "it was probably migrated by a newer loopml: upgrade loopml",
            details={"revision": current, "head": SCHEMA_HEAD},
        )
    upgrade(store)


def known_revisions() -> set[str]:
    """Every revision in this loopml's migration scripts."""
    from alembic.script import ScriptDirectory

    return {rev.revision for rev in ScriptDirectory(str(_MIGRATIONS)).walk_revisions()}


def upgrade(store: Store, revision: str = "head") -> str | None:
    """Run the migrations up to ``revision`` under a cross-process lock; return the result."""
    from alembic import command
    from alembic.config import Config

    try:
        with _migration_lock(store) as conn:
            config = Config()
            config.set_main_option("script_location", str(_MIGRATIONS))
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
            conn.commit()
    except DBAPIError as err:
        raise StoreError(
            f"could not migrate the metadata database: {err.orig}; check LOOPML_DB_URL",
            details={"reason": str(err.orig)},
        ) from err
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


def _no_version_table(err: BaseException) -> bool:
    message = str(err.details.get("reason", "")) if isinstance(err, StoreError) else ""
    message = message.lower()
    return "no such table: alembic_version" in message or (
        'relation "alembic_version" does not exist' in message
    )
