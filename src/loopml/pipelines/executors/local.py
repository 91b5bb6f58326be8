"""The local executor: each task runs in this process, at once, one after another.

It is the default: no start-up cost, tracebacks and debuggers work as usual, and a
step's ``print`` shows in the terminal.

Example:
    >>> LocalExecutor().submit(len, "abc").result()
    3
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

__all__ = ["LocalExecutor"]

T = TypeVar("T")
R = TypeVar("R")


class LocalExecutor:
    """Runs each task in the calling thread when it is submitted."""

    url = "local"
    parallelism = 1

    def submit(self, fn: Callable[[T], R], arg: T, /) -> Future[R]:
        future: Future[R] = Future()
        try:
            future.set_result(fn(arg))
        except Exception as err:
            future.set_exception(err)
        return future

    def close(self) -> None:
        return None

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return "LocalExecutor()"
