"""The executor interface: where pipeline steps (and tuning trials) run.

An executor takes a picklable function and argument and returns a
:class:`concurrent.futures.Future`. The orchestrator never cares where the work runs:
in this process, in a process pool, on a Dask cluster or on Ray. Every backend is run
through one contract suite (``tests/pipelines/test_executor_contract.py``).

Example:
    >>> from loopml.pipelines.executors import from_url
    >>> with from_url("local") as executor:
    ...     executor.submit(abs, -3).result()
    3
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar, runtime_checkable

__all__ = ["EXECUTOR_MEMBERS", "Executor"]

T = TypeVar("T")
R = TypeVar("R")

EXECUTOR_MEMBERS = ("url", "parallelism", "submit", "close")


@runtime_checkable
class Executor(Protocol):
    """Runs ``fn(arg)`` somewhere and hands back a future of the result.

    Attributes:
        url: the URL the executor was made from (stored with each pipeline run).
        parallelism: how many tasks it runs at once (the orchestrator keeps that many
            in flight).
    """

    url: str

    @property
    def parallelism(self) -> int: ...

    def submit(self, fn: Callable[[T], R], arg: T, /) -> Future[R]:
        """Start ``fn(arg)``; the future holds its result or its exception."""
        ...

    def close(self) -> None:
        """Release workers, clusters and connections this executor started."""
        ...

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc: object) -> None: ...
