"""The Ray executor: steps run as Ray tasks (``loopml[ray]``).

``ray`` uses the Ray instance this process is already connected to, or starts a local
one (and shuts it down on :meth:`RayExecutor.close`); ``ray://host:10001`` connects to
a cluster through Ray Client (``ray[client]``). Each step is a task that asks for one
CPU. Workers import step functions by module name, so the pipeline's modules must be
importable there (a local Ray adds the working directory and the script's folder); a
pipeline loaded from a file path travels with each task instead.

Example:
    >>> with RayExecutor(num_cpus=2) as ray_executor:  # doctest: +SKIP
    ...     ray_executor.submit(abs, -1).result()
    1
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from loopml.errors import InvalidInputError, MissingDependencyError

__all__ = ["RayExecutor"]

T = TypeVar("T")
R = TypeVar("R")


class RayExecutor:
    """Runs each task as a Ray task; see the module docstring.

    Args:
        address: ``ray://host:port`` (Ray Client), ``auto`` or a GCS ``host:port``;
            ``None``: the running Ray of this process, else a new local one.
        options: keyword arguments of ``ray.init`` when this executor starts Ray
            (e.g. ``num_cpus=4``).

    Raises:
        MissingDependencyError: ``ray`` is not installed (or, for ``ray://``, the
            ``ray[client]`` parts).
        InvalidInputError: the cluster at ``address`` cannot be reached.
    """

    url: str  # declared here: the py: door checks members on the class

    def __init__(self, address: str | None = None, **options: Any) -> None:
        try:
            import ray
        except ImportError as err:
            raise MissingDependencyError("ray", "ray", "the Ray executor") from err
        self.address = address
        self.url = _url_of(address)
        self._remote: Any = None
        # A Ray someone else started (a notebook, a test session) stays up after us.
        self._started = not ray.is_initialized()
        if not self._started:
            return
        if address and address.startswith("ray://") and importlib.util.find_spec("grpc") is None:
            raise MissingDependencyError("ray[client]", "ray", "connecting to Ray with ray://")
        try:
            ray.init(address=address, include_dashboard=False, **options)
        except (ConnectionError, TimeoutError) as err:
            raise InvalidInputError(
                f"could not reach the Ray cluster at {address!r} ({err}); start one with "
                "`ray start --head`, or use executor='ray' for a local Ray",
                details={"address": address},
            ) from err

    @property
    def parallelism(self) -> int:
        """The CPUs of the cluster (each step task takes one)."""
        import ray

        resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call,unused-ignore]
        return max(1, int(resources.get("CPU", 1)))

    def submit(self, fn: Callable[[T], R], arg: T, /) -> Future[R]:
        import ray

        if self._remote is None:
            # max_retries=0: a step's retries are loopml's (``@step(retries=…)``); Ray
            # re-running a task whose worker died could run a step twice unasked.
            self._remote = ray.remote(num_cpus=1, max_retries=0)(_run_shipped)
        name = getattr(fn, "__name__", "task")
        future: Future[R] = self._remote.options(name=name).remote(_ship(fn, arg)).future()
        return future

    def close(self) -> None:
        """Shut Ray down if this executor started it."""
        self._remote = None
        if self._started:
            import ray

            ray.shutdown()
            self._started = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RayExecutor({self.address!r})"


def _pickler() -> Any:
    # The standalone cloudpickle holds loopml's "by value" registrations (pipelines
    # loaded from a file path); Ray's bundled copy has a registry of its own.
    try:
        import cloudpickle  # type: ignore[import-untyped]
    except ImportError:
        from ray import cloudpickle
    return cloudpickle


def _ship(fn: Callable[[T], Any], arg: T) -> bytes:
    payload: bytes = _pickler().dumps((fn, arg))
    return payload


def _run_shipped(payload: bytes) -> Any:
    fn, arg = _pickler().loads(payload)
    return fn(arg)


def _url_of(address: str | None) -> str:
    # What from_url() turns back into this executor (a resumed run uses it).
    return address if address and address.startswith("ray://") else "ray"
