"""The Dask executor: steps run on a dask.distributed cluster (``loopml[dask]``).

``dask://host:8786`` connects to a running scheduler (start one with ``dask scheduler``
and ``dask worker host:8786``); ``dask://`` starts a private cluster of worker
processes on 127.0.0.1 for the length of the run and stops it after. Workers import
step functions by module name, so on a remote cluster the pipeline's package must be
installed (or on the workers' ``PYTHONPATH``); a pipeline loaded from a file path
travels with each task instead.

Example:
    >>> with DaskExecutor(n_workers=2) as cluster:  # doctest: +SKIP
    ...     cluster.submit(abs, -1).result()
    1
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from typing import Any, TypeVar

from loopml.errors import InvalidInputError, MissingDependencyError

__all__ = ["DaskExecutor"]

T = TypeVar("T")
R = TypeVar("R")

# A private cluster: worker processes with one thread each (steps may hold the GIL for
# long), listening on loopback only, with no dashboard. The scheduler's small HTTP
# server takes any free loopback port (not 8787, which another cluster may hold).
LOCAL_DEFAULTS: dict[str, Any] = {
    "n_workers": 2,
    "threads_per_worker": 1,
    "processes": True,
    "host": "127.0.0.1",
    "dashboard_address": "127.0.0.1:0",
    "scheduler_kwargs": {"dashboard": False},
}
CONNECT_TIMEOUT_S = 10


class DaskExecutor:
    """Runs each task as a Dask task; see the module docstring.

    Args:
        address: the scheduler's ``host:port``; ``None`` starts a local cluster.
        options: with an ``address``, keyword arguments of ``distributed.Client``;
            without, of ``distributed.LocalCluster`` (e.g. ``n_workers=4``).

    Raises:
        MissingDependencyError: ``distributed`` is not installed.
        InvalidInputError: the scheduler at ``address`` cannot be reached.
    """

    url: str  # declared here: the py: door checks members on the class

    def __init__(self, address: str | None = None, **options: Any) -> None:
        try:
            import distributed as untyped
        except ImportError as err:
            raise MissingDependencyError("distributed", "dask", "the Dask executor") from err
        distributed: Any = untyped  # the library has no complete type hints
        self.address = address
        self.url = f"dask://{address}" if address else "dask://"
        self._cluster: Any = None
        self._pending: dict[Future[Any], Any] = {}
        self._lock = threading.Lock()
        if address is None:
            self._cluster = distributed.LocalCluster(**{**LOCAL_DEFAULTS, **options})
            self._client: Any = distributed.Client(self._cluster, set_as_default=False)
            return
        options = {"timeout": CONNECT_TIMEOUT_S, **options}
        try:
            self._client = distributed.Client(address, set_as_default=False, **options)
        except (OSError, TimeoutError) as err:
            raise InvalidInputError(
                f"could not reach the Dask scheduler at {address!r} ({err}); start one with "
                "`dask scheduler` (and workers with `dask worker <address>`), or use "
                "executor='dask://' for a local cluster",
                details={"address": address},
            ) from err

    @property
    def parallelism(self) -> int:
        """The worker threads of the cluster now (at least 1: it may be scaling up)."""
        threads: int = sum(self._connected().nthreads().values())
        return max(1, threads)

    def submit(self, fn: Callable[[T], R], arg: T, /) -> Future[R]:
        # A unique key: the same step twice is two runs, not one result shared by key.
        key = f"{getattr(fn, '__name__', 'task')}-{uuid.uuid4().hex}"
        remote = self._connected().submit(_run_shipped, _ship(fn, arg), key=key, pure=False)
        future: Future[R] = Future()
        with self._lock:
            # Dask cancels a task whose future is garbage collected: hold it until done.
            self._pending[future] = remote
        future.add_done_callback(self._cancel_if_cancelled)
        remote.add_done_callback(lambda done: self._transfer(done, future))
        return future

    def _transfer(self, remote: Any, future: Future[Any]) -> None:
        with self._lock:
            self._pending.pop(future, None)
        with contextlib.suppress(InvalidStateError):  # the caller cancelled it meanwhile
            try:
                if remote.status == "cancelled":
                    raise RuntimeError(f"the Dask task {remote.key} was cancelled")
                error = remote.exception() if remote.status == "error" else None
                if error is None:
                    future.set_result(remote.result())
                else:
                    future.set_exception(error)
            except BaseException as err:  # e.g. the connection to the scheduler was lost
                future.set_exception(err)

    def _cancel_if_cancelled(self, future: Future[Any]) -> None:
        if future.cancelled():
            with self._lock:
                remote = self._pending.pop(future, None)
            if remote is not None:
                remote.cancel()

    def _connected(self) -> Any:
        if self._client is None:
            raise InvalidInputError(f"{self!r} is closed; make a new executor")
        return self._client

    def close(self) -> None:
        """Disconnect; stop the local cluster if this executor started it."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DaskExecutor({self.address!r})"


def _ship(fn: Callable[[T], Any], arg: T) -> bytes:
    """``(fn, arg)`` as cloudpickle bytes, so modules registered to travel by value do.

    Dask pickles a task with plain pickle when it can, which sends functions by
    reference even from modules a worker cannot import (a pipeline loaded from a file
    path); a worker then fails to read the task, dies, and the run waits for ever.
    """
    import cloudpickle  # type: ignore[import-untyped]

    payload: bytes = cloudpickle.dumps((fn, arg))
    return payload


def _run_shipped(payload: bytes) -> Any:
    """Run what :func:`_ship` packed (on a worker)."""
    import cloudpickle

    fn, arg = cloudpickle.loads(payload)
    return fn(arg)
