"""An in-memory blob store: for tests, notebooks and throwaway runs.

Every ``MemoryBlobStore`` (and every ``blob_store_from_url("memory://")``) is a new, empty store;
its blobs live as long as the object does.

Example:
    >>> store = MemoryBlobStore()
    >>> store.put_bytes("ab" * 32, b"hi")
    >>> store.open("ab" * 32).read()
    b'hi'
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from loopml.artifacts._hashing import check_digest
from loopml.artifacts.models import BlobInfo
from loopml.clock import Clock
from loopml.errors import NotFoundError

__all__ = ["MemoryBlobStore"]


class MemoryBlobStore:
    """Blobs in a dict, guarded by a lock so threads can share the store.

    Args:
        clock: where modified times come from (Unix seconds); pass a fake clock to
            test anything that depends on a blob's age.

    Example:
        >>> store = MemoryBlobStore(clock=lambda: 1000.0)
        >>> store.put_bytes("cd" * 32, b"xyz")
        >>> [(b.size, b.modified) for b in store.iter_blobs()]
        [(3, 1000.0)]
    """

    url = "memory://"

    def __init__(self, *, clock: Clock = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._blobs: dict[str, tuple[bytes, float]] = {}

    def __repr__(self) -> str:
        return f"MemoryBlobStore(<{len(self._blobs)} blobs>)"

    def exists(self, digest: str) -> bool:
        """Whether a blob named ``digest`` is stored."""
        check_digest(digest)
        with self._lock:
            return digest in self._blobs

    def put_file(self, digest: str, source: Path) -> None:
        """Store the content of ``source`` under ``digest`` (no-op if present)."""
        check_digest(digest)
        if not self.exists(digest):
            self.put_bytes(digest, Path(source).read_bytes())

    def put_bytes(self, digest: str, data: bytes) -> None:
        """Store ``data`` under ``digest`` (no-op if present)."""
        check_digest(digest)
        with self._lock:
            self._blobs.setdefault(digest, (bytes(data), self._clock()))

    def open(self, digest: str) -> BinaryIO:
        """A stream over the blob. Raises ``NotFoundError`` if it is missing."""
        with self._lock:
            data, _ = self._get(digest)
        return io.BytesIO(data)

    def touch(self, digest: str) -> None:
        """Set the blob's modified time to now. Raises ``NotFoundError`` if missing."""
        with self._lock:
            data, _ = self._get(digest)
            self._blobs[digest] = (data, self._clock())

    def delete(self, digest: str) -> None:
        """Remove the blob if it is there."""
        check_digest(digest)
        with self._lock:
            self._blobs.pop(digest, None)

    def iter_blobs(self) -> Iterator[BlobInfo]:
        """A snapshot of the stored blobs, sorted by digest."""
        with self._lock:
            snapshot = sorted(self._blobs.items())
        for digest, (data, modified) in snapshot:
            yield BlobInfo(digest=digest, size=len(data), modified=modified)

    def _get(self, digest: str) -> tuple[bytes, float]:
        """The blob's entry; call with the lock held."""
        check_digest(digest)
        try:
            return self._blobs[digest]
        except KeyError as err:
            raise NotFoundError("blob", digest, hint="it is not in this memory:// store") from err
