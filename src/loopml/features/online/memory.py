"""An online store in a dict: for tests, notebooks and as the reference backend.

Example:
    >>> store = MemoryOnlineStore()
    >>> store.write_batch("v", [("k", 2, b"new"), ("k", 1, b"old")])
    1
    >>> store.read("v", ["k"])
    [(2, b'new')]
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from loopml.features.online.base import OnlineRecord, StoredRecord

__all__ = ["MemoryOnlineStore"]


class MemoryOnlineStore:
    """Records in process memory; every ``memory://`` store is new and empty."""

    url = "memory://"

    def __init__(self) -> None:
        self._views: dict[str, dict[str, StoredRecord]] = {}
        self._lock = threading.Lock()

    def write_batch(self, view: str, records: Sequence[OnlineRecord]) -> int:
        """Store ``records`` of ``view`` at once, keeping the newer record per key."""
        checked = [(str(k), int(ts), bytes(p)) for k, ts, p in records]  # fail before writing
        written = 0
        with self._lock:  # readers take the lock too: they see all of a batch or none
            stored = self._views.setdefault(view, {})
            for key, event_ts, payload in checked:
                current = stored.get(key)
                if current is None or event_ts >= current[0]:
                    stored[key] = (event_ts, payload)
                    written += 1
        return written

    def read(self, view: str, keys: Sequence[str]) -> list[StoredRecord | None]:
        """The stored record of each key, in order."""
        with self._lock:
            stored = self._views.get(view, {})
            return [stored.get(key) for key in keys]

    def delete_view(self, view: str) -> None:
        """Forget every record of ``view``."""
        with self._lock:
            self._views.pop(view, None)

    def close(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return f"MemoryOnlineStore(<{len(self._views)} views>)"
