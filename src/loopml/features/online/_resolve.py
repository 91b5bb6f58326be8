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

Example:
    >>> from_url("memory://")
    MemoryOnlineStore(<0 views>)
    >>> from_url("sqlite:////tmp/online.db").url
    'sqlite:////tmp/online.db'
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from typing import Any, TypeAlias, cast

from loopml._plugins import load_plugin
from loopml.errors import InvalidInputError
from loopml.features.online.base import ONLINE_STORE_MEMBERS, OnlineStore
from loopml.features.online.memory import MemoryOnlineStore
from loopml.features.online.redis import RedisOnlineStore
from loopml.features.online.sqlite import SqliteOnlineStore

__all__ = ["from_url"]

Factory: TypeAlias = Callable[[str, dict[str, Any]], OnlineStore]
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]+):")


def from_url(url: str, **options: Any) -> OnlineStore:
    """The online store a URL names (see the module docstring for the forms).

    Args:
        url: where the store is.
        **options: keyword arguments for the backend's constructor.

    Raises:
        InvalidInputError: the scheme is unknown or the URL is malformed.
        MissingDependencyError: the backend needs an extra that is not installed.
    """
    match = _SCHEME.match(url)
    scheme = match["scheme"].lower() if match else ""
    factory = _SCHEMES.get(scheme)
    if factory is None:
        raise InvalidInputError(
            f"online store URL {url!r} is not supported; use sqlite:///path/online.db, "
            "redis://host:6379/0, memory:// or py:package.module.ClassName "
            "(LOOPML_ONLINE_STORE)",
            details={"url": url, "supported": sorted(_SCHEMES)},
        )
    return factory(url, options)


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


def _python_class(url: str, options: dict[str, Any]) -> OnlineStore:
    store = load_plugin(
        url,
        options,
        members=ONLINE_STORE_MEMBERS,
        what="an online store",
        protocol="loopml.features.online.OnlineStore",
    )
    return cast(OnlineStore, store)


_SCHEMES: dict[str, Factory] = {
    "memory": _memory,
    "py": _python_class,
    "redis": _redis,
    "rediss": _redis,
    "sqlite": _sqlite,
    "unix": _redis,
}
