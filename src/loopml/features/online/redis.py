"""The Redis online store: one string per feature view and entity, for many servers.

Key ``<prefix>:<view>:<entity key>``; value the event timestamp as 8 big-endian bytes
(offset by 2**63, so that byte order is numeric order) followed by the packed values.
A lookup of any number of entities is one ``MGET``. A batch is written by a Lua
script that keeps the newer record of each key, in chunks queued in one
``MULTI``/``EXEC`` transaction, so the batch lands whole or not at all.

URL: ``redis://[:password@]host[:port][/db][?prefix=name]`` (also ``rediss://`` and
``unix://``); the prefix (default ``loopml:features``) lets several projects share a
server. Redis Cluster is not supported (a batch spans hash slots).

Example:
    >>> store = RedisOnlineStore("redis://127.0.0.1:6379/0")  # doctest: +SKIP
    >>> store.read("driver_stats", ["1001"])  # doctest: +SKIP
    [(1700000000000000, b'...')]
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

from loopml.errors import MissingDependencyError, StoreError
from loopml.features.online.base import OnlineRecord, StoredRecord

__all__ = ["RedisOnlineStore"]

DEFAULT_PREFIX = "loopml:features"
_OFFSET = 1 << 63
_CHUNK = 1_000
# Byte-wise comparison on purpose: Lua compares strings with strcoll (locale dependent),
# and its numbers are doubles (not exact for every int64).
_KEEP_NEWER = """
local written = 0
for i = 1, #KEYS do
  local new = ARGV[i]
  local old = redis.call('GETRANGE', KEYS[i], 0, 7)
  local newer = true
  if #old == 8 then
    for j = 1, 8 do
      local a, b = string.byte(new, j), string.byte(old, j)
      if a ~= b then
        newer = a > b
        break
      end
    end
  end
  if newer then
    redis.call('SET', KEYS[i], new)
    written = written + 1
  end
end
return written
"""


class RedisOnlineStore:
    """Online rows in Redis.

    Args:
        url: the server, as described in the module docstring.
        **options: keyword arguments for ``redis.Redis.from_url`` (timeouts, TLS, …).
    """

    url: str  # declared here: the py: door checks members on the class

    def __init__(self, url: str, **options: Any) -> None:
        try:
            import redis
        except ImportError as err:
            raise MissingDependencyError("redis", "redis", "the Redis online store") from err
        parts = urllib.parse.urlsplit(url)
        query = urllib.parse.parse_qsl(parts.query)
        prefixes = [v for k, v in query if k == "prefix"]
        self.prefix = prefixes[-1] if prefixes else DEFAULT_PREFIX
        rest = urllib.parse.urlencode([(k, v) for k, v in query if k != "prefix"])
        self._client = redis.Redis.from_url(parts._replace(query=rest).geturl(), **options)
        self._script = self._client.register_script(_KEEP_NEWER)
        self._errors: tuple[type[Exception], ...] = (redis.exceptions.RedisError,)
        public = [(k, v) for k, v in query if k != "password"]
        netloc = parts.netloc.rpartition("@")[2]  # no credentials in what is shown or stored
        self.url = parts._replace(netloc=netloc, query=urllib.parse.urlencode(public)).geturl()

    def write_batch(self, view: str, records: Sequence[OnlineRecord]) -> int:
        """Store ``records`` in one transaction, keeping the newer record per key."""
        if not records:
            return 0
        prefix = self._key_prefix(view)
        with self._translated_errors():
            pipe = self._client.pipeline(transaction=True)
            for start in range(0, len(records), _CHUNK):
                chunk = records[start : start + _CHUNK]
                keys = [prefix + key.encode() for key, _, _ in chunk]
                values = [(ts + _OFFSET).to_bytes(8, "big") + payload for _, ts, payload in chunk]
                self._script(keys=keys, args=values, client=pipe)
            return sum(int(n) for n in pipe.execute())

    def read(self, view: str, keys: Sequence[str]) -> list[StoredRecord | None]:
        """The stored record of each key, in order (one ``MGET``)."""
        if not keys:
            return []
        prefix = self._key_prefix(view)
        with self._translated_errors():
            values = cast(
                list[bytes | None], self._client.mget([prefix + k.encode() for k in keys])
            )
        return [
            None if v is None else (int.from_bytes(v[:8], "big") - _OFFSET, v[8:]) for v in values
        ]

    def delete_view(self, view: str) -> None:
        """Forget every record of ``view`` (``SCAN`` + ``UNLINK``)."""
        pattern = _glob_escape(self._key_prefix(view)) + b"*"
        with self._translated_errors():
            batch: list[bytes] = []
            for key in self._client.scan_iter(match=pattern, count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    self._client.unlink(*batch)
                    batch = []
            if batch:
                self._client.unlink(*batch)

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __repr__(self) -> str:
        return f"RedisOnlineStore({self.url!r})"

    def _key_prefix(self, view: str) -> bytes:
        return f"{self.prefix}:{view}:".encode()

    @contextmanager
    def _translated_errors(self) -> Iterator[None]:
        try:
            yield
        except self._errors as err:
            raise StoreError(
                f"the Redis online store at {self.url} failed: {err}; check that the server "
                "is reachable (LOOPML_ONLINE_STORE)",
                details={"url": self.url},
            ) from err


def _glob_escape(raw: bytes) -> bytes:
    return re.sub(rb"([*?\[\]\\])", rb"\\\1", raw)
