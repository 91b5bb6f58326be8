"""The process executor: independent steps run in parallel in a pool of worker processes.

Workers are forked from the orchestrating process, so steps defined in a script or a
notebook run there unchanged. Each worker opens its own connections to the stores.

Example:
    >>> with ProcessExecutor(workers=2) as pool:  # doctest: +SKIP
    ...     pool.submit(abs, -1).result()
    1
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar

from loopml.errors import InvalidInputError

__all__ = ["ProcessExecutor"]

T = TypeVar("T")
R = TypeVar("R")


class ProcessExecutor:
    """A pool of ``workers`` processes (default: the number of CPUs)."""

    url: str  # declared here: the py: door checks members on the class

    def __init__(self, workers: int | None = None) -> None:
        count = workers if workers is not None else (os.cpu_count() or 1)
        if not isinstance(count, int) or count < 1:
            raise InvalidInputError(f"the process executor needs workers >= 1, got {workers!r}")
        self.workers = count
        self.url = f"process://{count}"
        self._pool: ProcessPoolExecutor | None = None

    @property
    def parallelism(self) -> int:
        return self.workers

    def submit(self, fn: Callable[[T], R], arg: T, /) -> Future[R]:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_forget_parent_state,
            )
        return self._pool.submit(fn, arg)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> ProcessExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ProcessExecutor(workers={self.workers})"


def _forget_parent_state() -> None:
    # A forked worker must not reuse the parent's clients (their journals and database
    # connections belong to the parent); it makes its own on first use.
    from loopml.pipelines._task import forget_clients

    forget_clients()
