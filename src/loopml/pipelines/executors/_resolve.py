"""Map an executor URL to a backend (the table is in the package docstring)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from loopml._plugins import load_plugin
from loopml.errors import InvalidInputError
from loopml.pipelines.executors.base import EXECUTOR_MEMBERS, Executor
from loopml.pipelines.executors.local import LocalExecutor

__all__ = ["from_url", "resolve_executor"]

_SCHEME = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.\-]*)(?::(?P<rest>.*))?$")


def from_url(url: str | None = None, **options: Any) -> Executor:
    """The executor ``url`` names (``None``: the ``executor`` setting, default ``local``).

    Raises:
        InvalidInputError: an unknown scheme or a malformed URL.
        MissingDependencyError: the executor needs an extra that is not installed.
    """
    if url is None:
        from loopml.config import Settings

        url = Settings.load().executor
    if url.startswith("py:"):
        plugin: Executor = load_plugin(
            url, options, members=EXECUTOR_MEMBERS, what="an executor", protocol="Executor"
        )
        return plugin
    match = _SCHEME.match(url.strip().lower() if "://" not in url else url.strip())
    scheme = match["scheme"].lower() if match else ""
    factory = _FACTORIES.get(scheme)
    if factory is None:
        raise InvalidInputError(
            f"unknown executor {url!r}; use one of: local, process[://N], dask://host:port, "
            "ray[://host:port], or py:package.module.Class",
            details={"url": url, "supported": sorted(_FACTORIES)},
        )
    return factory(url, options)


def resolve_executor(executor: str | Executor | None, default: str) -> tuple[Executor, bool]:
    """The executor an argument names (``None``: ``default``'s), and whether the caller
    made it, and so must close it (an executor object passed in stays the owner's)."""
    if executor is None or isinstance(executor, str):
        return from_url(executor or default), True
    return executor, False


def _local(url: str, options: dict[str, Any]) -> Executor:
    return LocalExecutor()


def _process(url: str, options: dict[str, Any]) -> Executor:
    from loopml.pipelines.executors.process import ProcessExecutor

    rest = url.partition("://")[2].strip("/")
    if rest:
        if not rest.isdigit() or int(rest) < 1:
            raise InvalidInputError(
                f"executor {url!r}: the worker count must be a positive integer, e.g. process://4"
            )
        options = {"workers": int(rest), **options}
    return ProcessExecutor(**options)


def _dask(url: str, options: dict[str, Any]) -> Executor:
    from loopml.pipelines.executors.dask import DaskExecutor

    address = url.partition("://")[2].strip("/")
    return DaskExecutor(address or None, **options)


def _ray(url: str, options: dict[str, Any]) -> Executor:
    from loopml.pipelines.executors.ray import RayExecutor

    address = url if "://" in url and url.partition("://")[2].strip("/") else None
    return RayExecutor(address, **options)


_FACTORIES: dict[str, Callable[[str, dict[str, Any]], Executor]] = {
    "local": _local,
    "process": _process,
    "dask": _dask,
    "ray": _ray,
}
