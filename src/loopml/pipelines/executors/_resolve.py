"""Map an executor URL to a backend (the table is in the package docstring).

The table is :data:`EXECUTORS` (a :class:`~loopml._plugins.PluginKind`);
:func:`loopml._plugins.resolve` does the looking up, as for every pluggable component.
"""

from __future__ import annotations

from typing import Any

from loopml._plugins import PluginKind, resolve
from loopml.errors import InvalidInputError
from loopml.pipelines.executors.base import EXECUTOR_MEMBERS, Executor
from loopml.pipelines.executors.local import LocalExecutor

__all__ = ["EXECUTORS", "from_url", "resolve_executor"]


def from_url(url: str | None = None, **options: Any) -> Executor:
    """The executor ``url`` names (``None``: the ``executor`` setting, default ``local``).

    Raises:
        InvalidInputError: an unknown scheme or a malformed URL.
        MissingDependencyError: the executor needs an extra that is not installed.
    """
    if url is None:
        from loopml.config import Settings

        url = Settings.load().executor
    return resolve(EXECUTORS, url if url.startswith("py:") else url.strip(), options)


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


def _unknown(url: str, scheme: str) -> Exception:
    return InvalidInputError(
        f"unknown executor {url!r}; use one of: local, process[://N], dask://host:port, "
        "ray[://host:port], or py:package.module.Class",
        details={"url": url, "supported": sorted(EXECUTORS.builtins)},
    )


EXECUTORS: PluginKind[Executor] = PluginKind(
    what="an executor",
    protocol="Executor",
    members=EXECUTOR_MEMBERS,
    builtins={"local": _local, "process": _process, "dask": _dask, "ray": _ray},
    unknown=_unknown,
    bare_names=True,
)
