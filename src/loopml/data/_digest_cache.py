"""A local cache of file digests, so unchanged files are not hashed again.

An entry maps a file's absolute path to its SHA-256, valid while the file's identity
``(size, mtime_ns, ctime_ns, inode, device)`` is unchanged. Like git's index, a digest is
only cached when the file had not been modified for :data:`RACY_NS` before it was hashed:
a write landing in the same clock tick as the hashing would not move the timestamps, so
such a "racy" file is hashed again next time (and cached once it has been quiet).

The cache is a small SQLite file (WAL, busy timeout) that several processes can share. It
is only an accelerator: if it cannot be read or written, everything is hashed and the
result is the same.

A second table remembers digests derived from a file's content (the canonical digest of
the table in a Parquet file), keyed by the file's digest.

Example:
    >>> cache = DigestCache(Path("/tmp/loopml-doc-cache.sqlite"))
    >>> cache.lookup([])
    {}
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TypeVar

__all__ = ["RACY_NS", "DigestCache", "file_identity", "is_quiet"]

RACY_NS = 2_000_000_000  # 2 s: coarser than the timestamp tick of common file systems
_T = TypeVar("_T")
_LOG = logging.getLogger(__name__)
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, identity TEXT NOT NULL, "
    "digest TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS derived (file_digest TEXT NOT NULL, kind TEXT NOT NULL, "
    "value TEXT NOT NULL, PRIMARY KEY (file_digest, kind)) WITHOUT ROWID",
)
_CHUNK = 500  # rows per statement, well under SQLite's bound-parameter limit


def file_identity(info: os.stat_result) -> str:
    """What must stay equal for a cached digest to stay valid."""
    return f"{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}:{info.st_ino}:{info.st_dev}"


def is_quiet(info: os.stat_result, hashed_at_ns: int) -> bool:
    """Whether the file was left alone long enough before hashing for its digest to be cached."""
    return hashed_at_ns - info.st_mtime_ns >= RACY_NS


class DigestCache:
    """File digests by path and identity, in a SQLite file shared by processes.

    Args:
        path: the cache file; its folder is created when needed.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def lookup(self, files: Iterable[tuple[str, os.stat_result]]) -> dict[str, str]:
        """The cached digests of those ``(absolute path, stat)`` whose identity still matches."""
        wanted = {path: file_identity(info) for path, info in files}
        if not wanted:
            return {}

        def read(conn: sqlite3.Connection) -> dict[str, str]:
            found: dict[str, str] = {}
            paths = list(wanted)
            for start in range(0, len(paths), _CHUNK):
                chunk = paths[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                query = f"SELECT path, identity, digest FROM files WHERE path IN ({marks})"
                for path, identity, digest in conn.execute(query, chunk):
                    if wanted[path] == identity:
                        found[path] = digest
            return found

        return self._run(read, {})

    def store(self, entries: Iterable[tuple[str, os.stat_result, str]]) -> None:
        """Remember ``(absolute path, stat when hashed, digest)`` entries."""
        rows = [(path, file_identity(info), digest) for path, info, digest in entries]
        if rows:
            self._run(lambda conn: conn.executemany(_UPSERT, rows), None)

    def derived(self, file_digest: str, kind: str) -> str | None:
        """A value remembered for content with this digest, e.g. its table digest."""

        def read(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "SELECT value FROM derived WHERE file_digest = ? AND kind = ?", (file_digest, kind)
            ).fetchone()
            return None if row is None else str(row[0])

        return self._run(read, None)

    def remember(self, file_digest: str, kind: str, value: str) -> None:
        """Remember ``value`` for content with this digest."""
        self._run(
            lambda conn: conn.execute(
                "INSERT OR REPLACE INTO derived VALUES (?, ?, ?)", (file_digest, kind, value)
            ),
            None,
        )

    def _run(self, work: Callable[[sqlite3.Connection], _T], fallback: _T) -> _T:
        """``work`` in one transaction; on any cache failure, ``fallback`` (never an error)."""
        try:
            with self._connect() as conn, conn:
                return work(conn)
        except (OSError, sqlite3.Error) as err:
            _LOG.debug("digest cache %s not used: %s", self.path, err)
            return fallback

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            conn.execute("PRAGMA busy_timeout = 30000")
            with contextlib.suppress(sqlite3.OperationalError):  # another process holds it
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            for statement in _SCHEMA:
                conn.execute(statement)
            yield conn
        finally:
            conn.close()


_UPSERT = "INSERT OR REPLACE INTO files VALUES (?, ?, ?)"
