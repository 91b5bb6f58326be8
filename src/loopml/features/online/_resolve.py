"""Pick an online store from a URL: the one place that maps URLs to backends.

=====================================  =============================================
URL                                    backend
=====================================  =============================================
``sqlite:///relative/online.db``,      :class:`SqliteOnlineStore` on that file
``sqlite:////absolute/online.db``
``redis://[:pw@]host:port/db``,        :class:`RedisOnlineStore` (needs ``loopml[redis]``)
``rediss://…``, ``unix://…``           ``?prefix=name`` sets its key prefix
``memory://``                          :class:`MemoryOnlineStore` (new and empty)
``py:package.module.ClassName``        ``ClassName(**options)``: a class with every member
``py:package.module:ClassName?k=v``    … with ``k="v"`` added to the options
=====================================  =============================================

The table is this module's :data:`ONLINE_STORES` (a :class:`~loopml._plugins.PluginKind`);
:func:`loopml._plugins.resolve` does the looking up, as for every pluggable component.

Example:
    >>> from_url("memory://")
    MemoryOnlineStore(<0 views>)
    >>> from_url("sqlite:////tmp/online.db").url
    'sqlite:////tmp/online.db'
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from loopml._plugins import PluginKind, resolve
from loopml.errors import InvalidInputError
from loopml.features.online.base import ONLINE_STORE_MEMBERS, OnlineStore
from loopml.features.online.memory import MemoryOnlineStore
from loopml.features.online.redis import RedisOnlineStore
from loopml.features.online.sqlite import SqliteOnlineStore

__all__ = ["ONLINE_STORES", "from_url"]


def from_url(url: str, **options: Any) -> OnlineStore:
    """The online store a URL names (see the module docstring for the forms).

    Args:
        url: where the store is.
        **options: keyword arguments for the backend's constructor.

    Raises:
        InvalidInputError: the scheme is unknown or the URL is malformed.
        MissingDependencyError: the backend needs an extra that is not installed.
    """
    return resolve(ONLINE_STORES, url, options)


def _sqlite(url: str, options: dict[str, Any]) -> OnlineStore:
    path = url.split(":", 1)[1]
    if not path.startswith("///") or path[3:] in ("", ":memory:"):
        raise InvalidInputError(
            f"SQLite online store URL {url!r} must name a file, as sqlite:///relative.db or "
            "sqlite:////absolute/online.db (memory:// keeps rows in memory)"
        )
    return SqliteOnlineStore(urllib.parse.unquote(path[3:]), **options)


def _redis(url: str, options: dict[str, Any]) -> OnlineStore:
    return RedisOnlineStore(url, **options)


def _memory(url: str, options: dict[str, Any]) -> OnlineStore:
    if url.lower() not in ("memory:", "memory://"):
        raise InvalidInputError(f"{url!r}: memory:// takes no name or path")
    return MemoryOnlineStore(**options)


def _unknown(url: str, scheme: str) -> Exception:
    return InvalidInputError(
        f"online store URL {url!r} is not supported; use sqlite:///path/online.db, "
        "redis://host:6379/0, memory:// or py:package.module.ClassName "
        "(LOOPML_ONLINE_STORE)",
        details={"url": url, "supported": sorted([*ONLINE_STORES.builtins, "py"])},
    )


ONLINE_STORES: PluginKind[OnlineStore] = PluginKind(
    what="an online store",
    protocol="loopml.features.online.OnlineStore",
    members=ONLINE_STORE_MEMBERS,
    builtins={
        "memory": _memory,
        "redis": _redis,
        "rediss": _redis,
        "sqlite": _sqlite,
        "unix": _redis,
    },
    unknown=_unknown,
)
