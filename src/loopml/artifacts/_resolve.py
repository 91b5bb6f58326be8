"""Pick a blob store from a URL: the one place that maps URLs to backends.

=====================================  =============================================
URL                                    backend
=====================================  =============================================
``memory://``                          :class:`MemoryBlobStore` (new and empty)
``file:///abs/path``, ``/abs/path``,   :class:`LocalBlobStore` at that directory
``rel/path``, ``~/path``
``s3://bucket`` , ``s3://bucket/pfx``  :class:`S3BlobStore` (needs ``loopml[s3]``)
``py:package.module.ClassName``        ``ClassName(**options)``: a class with every member
``py:package.module:ClassName?k=v``    … with ``k="v"`` added to the options
=====================================  =============================================

Keyword options go to the backend's constructor (e.g. ``key``/``secret`` for S3).

The table is this module's :data:`BLOB_STORES` (a :class:`~loopml._plugins.PluginKind`);
:func:`loopml._plugins.resolve` does the looking up, as for every pluggable component.

Example:
    >>> blob_store_from_url("memory://")
    MemoryBlobStore(<0 blobs>)
    >>> blob_store_from_url("py:loopml.artifacts.local.LocalBlobStore?root=/tmp/x")
    LocalBlobStore('/tmp/x')
"""

from __future__ import annotations

import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from loopml._plugins import PluginKind, resolve
from loopml.artifacts.base import BLOB_STORE_MEMBERS, BlobStore
from loopml.artifacts.local import LocalBlobStore
from loopml.artifacts.memory import MemoryBlobStore
from loopml.artifacts.s3 import S3BlobStore
from loopml.errors import InvalidInputError

__all__ = ["BLOB_STORES", "blob_store_from_url"]


def blob_store_from_url(url: str, **options: Any) -> BlobStore:
    """The blob store (the backend, without the rules of an ``ArtifactStore``) a URL names.

    Args:
        url: ``memory://``, ``file:///path``, a plain directory path, ``s3://bucket/prefix``
            or ``py:package.module.ClassName`` (see the module docstring).
        **options: keyword arguments for the backend's constructor.

    Returns:
        A fresh backend object. :meth:`ArtifactStore.from_url` wraps one in the rules.

    Raises:
        InvalidInputError: the scheme is unknown or the URL is malformed.
        MissingDependencyError: the backend needs an extra that is not installed.

    Example:
        >>> blob_store_from_url("/tmp/store").url
        'file:///tmp/store'
    """
    return resolve(BLOB_STORES, url, options)


def _directory(url: str, options: dict[str, Any]) -> BlobStore:
    return LocalBlobStore(Path(url), **options)


def _memory(url: str, options: dict[str, Any]) -> BlobStore:
    if url.lower() not in ("memory:", "memory://"):
        raise InvalidInputError(
            f"{url!r}: memory:// takes no name or path; every memory:// store is new and empty"
        )
    return MemoryBlobStore(**options)


def _file(url: str, options: dict[str, Any]) -> BlobStore:
    parts = urllib.parse.urlsplit(url)
    if parts.netloc not in ("", "localhost") or not parts.path:
        raise InvalidInputError(
            f"file URL {url!r} must name a local directory, as file:///absolute/path"
        )
    return LocalBlobStore(Path(urllib.request.url2pathname(parts.path)), **options)


def _s3(url: str, options: dict[str, Any]) -> BlobStore:
    parts = urllib.parse.urlsplit(url)
    if not parts.netloc or parts.query or parts.fragment:
        raise InvalidInputError(
            f"S3 URL {url!r} must look like s3://bucket or s3://bucket/prefix; "
            "pass storage options as keyword arguments, not in the URL"
        )
    return S3BlobStore(parts.netloc, urllib.parse.unquote(parts.path), **options)


def _unknown(url: str, scheme: str) -> Exception:
    supported = sorted([*BLOB_STORES.builtins, "py"])
    return InvalidInputError(
        f"artifact store URL {url!r} has the unknown scheme '{scheme}'; supported: "
        f"{', '.join(f'{name}:' for name in supported)} or a plain directory path "
        "(write './name' for a relative directory whose name contains ':')",
        details={"url": url, "scheme": scheme, "supported": supported},
    )


BLOB_STORES: PluginKind[BlobStore] = PluginKind(
    what="a blob store",
    protocol="loopml.artifacts.BlobStore",
    members=BLOB_STORE_MEMBERS,
    builtins={"file": _file, "memory": _memory, "s3": _s3},
    unknown=_unknown,
    plain=_directory,
)
