"""Online stores: the latest feature values per entity, for low-latency lookups.

:class:`OnlineStore` is the interface; backends are :class:`SqliteOnlineStore` (the
default), :class:`RedisOnlineStore` and :class:`MemoryOnlineStore`, and
:func:`from_url` picks one from ``LOOPML_ONLINE_STORE``.

Example:
    >>> store = from_url("memory://")
    >>> store.read("driver_stats", ["1001"])
    [None]
"""

from loopml.features.online._resolve import from_url
from loopml.features.online.base import OnlineRecord, OnlineStore, StoredRecord
from loopml.features.online.memory import MemoryOnlineStore
from loopml.features.online.redis import RedisOnlineStore
from loopml.features.online.sqlite import SqliteOnlineStore

__all__ = [
    "MemoryOnlineStore",
    "OnlineRecord",
    "OnlineStore",
    "RedisOnlineStore",
    "SqliteOnlineStore",
    "StoredRecord",
    "from_url",
]
