"""The process executor: independent steps run in parallel in a pool of worker processes.

Workers are forked from the orchestrating process, so steps defined in a script or a
notebook run there unchanged. Each worker opens its own connections to the stores.

Workers die with their parent: a forked worker shares the parent's open files, among them
the flock that says a run's process is alive, so a worker outliving a ``kill -9`` of the
parent would keep its run ``running`` for ever. On Linux the kernel sends each worker
SIGKILL when its parent dies (``PR_SET_PDEATHSIG``); everywhere, a watchdog thread in the
worker checks the parent pid twice a second and ends the worker when it is gone.

Example:
    >>> with ProcessExecutor(workers=2) as pool:  # doctest: +SKIP
    ...     pool.submit(abs, -1).result()
    1
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import threading
import time
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
                initializer=_init_worker,
                # PR_SET_PDEATHSIG fires when the *thread* that forked the worker ends, so
                # it is only used when the pool is started from the main thread.
                initargs=(os.getpid(), threading.current_thread() is threading.main_thread()),
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


WATCHDOG_INTERVAL_S = 0.5
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _init_worker(parent_pid: int, parent_is_main_thread: bool) -> None:
    if parent_is_main_thread:
        _die_with_parent_linux()
    _start_watchdog(parent_pid)
    if os.getppid() != parent_pid:  # the parent died before the worker could watch it
        _die()
    _forget_parent_state()


def _die_with_parent_linux() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # an unusual libc: the watchdog still covers it
        pass


def _start_watchdog(parent_pid: int) -> None:
    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(WATCHDOG_INTERVAL_S)
        _die()

    threading.Thread(target=watch, name="loopml-parent-watchdog", daemon=True).start()


def _die() -> None:
    # SIGKILL, not an exception: the step's own code must not get to catch it or run on.
    os.kill(os.getpid(), signal.SIGKILL)


def _forget_parent_state() -> None:
    # A forked worker must not reuse the parent's clients (their journals and database
    # connections belong to the parent); it makes its own on first use.
    from loopml.pipelines._task import forget_clients

    forget_clients()
