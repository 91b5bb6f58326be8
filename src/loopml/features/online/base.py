"""The interface every online store implements: packed rows by view and entity key.

A backend only persists. It stores, per feature view and entity key, one record: the
event timestamp of the values (µs since the epoch, UTC) and their packed bytes (see
:mod:`loopml.features._codec`). It does not pack, check TTLs, pick the latest row or
know feature names: :class:`~loopml.features.FeatureStore` holds those rules, so a new
backend (DynamoDB, Cassandra, a company's own) is a small class with four methods.
Third-party backends plug in through ``from_url("py:package.module.ClassName")``.

Two rules every backend keeps (the contract tests check them on each one):

- a write keeps the newer record: a record replaces the stored one of its key only
  when its event timestamp is the same or later, so replaying an older window never
  hides newer values;
- :meth:`OnlineStore.write_batch` is atomic: after it returns every record of the batch
  is visible, and when it fails none is.

Example:
    >>> from loopml.features.online import from_url
    >>> store: OnlineStore = from_url("memory://")
    >>> store.write_batch("driver_stats", [("1001", 1_700_000_000_000_000, b"...")])
    1
    >>> store.read("driver_stats", ["1001", "9999"])
    [(1700000000000000, b'...'), None]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeAlias, runtime_checkable

__all__ = ["ONLINE_STORE_MEMBERS", "OnlineRecord", "OnlineStore", "StoredRecord"]

# (entity key, event timestamp in µs, packed values)
OnlineRecord: TypeAlias = tuple[str, int, bytes]
# (event timestamp in µs, packed values)
StoredRecord: TypeAlias = tuple[int, bytes]

ONLINE_STORE_MEMBERS = ("url", "write_batch", "read", "delete_view", "close")


@runtime_checkable
class OnlineStore(Protocol):
    """Where materialized feature values are served from. Safe to use from several threads.

    Attributes:
        url: a URL that :func:`~loopml.features.online.from_url` turns back into an
            equivalent store, without a password, e.g. ``"redis://cache:6379/0"``.
    """

    url: str

    def write_batch(self, view: str, records: Sequence[OnlineRecord]) -> int:
        """Store ``records`` of ``view`` atomically, keeping the newer record per key.

        Returns:
            How many records were stored (records older than the stored ones are not).
        """
        ...

    def read(self, view: str, keys: Sequence[str]) -> list[StoredRecord | None]:
        """The stored record of each key of ``view``, in order; ``None`` where there is none."""
        ...

    def delete_view(self, view: str) -> None:
        """Forget every record of ``view``; an unknown view is not an error."""
        ...

    def close(self) -> None:
        """Release connections; the store is not used afterwards."""
        ...
