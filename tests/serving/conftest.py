"""Fixtures for serving tests: registered models and a real uvicorn on 127.0.0.1.

- ``registry``: a registry client over the test's fresh store (SQLite).
- ``register``: saves a model as a package and registers it, returning its version.
- ``deployments``, ``versions``: deployment records and scikit-learn versions of ``churn``.
- ``two_versions``, ``staging``: ``doubler`` v1 (2x) and v2 (2x + 100), ``@staging`` on v1.
- ``servers``: the ``loopml serve`` subprocesses a test starts, killed at its end.
- ``run_server``: serves endpoints (or an app) with a real uvicorn in a thread on a free
  port; returns the base URL; stopped at the end of the test.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psutil
import pytest
from _serving_models import DOUBLER_EXAMPLE, ModelVersions, doubler
from _serving_support import Register, RunServer, Served

from loopml.config import Settings
from loopml.packaging.package import save_package
from loopml.registry import RegistryClient
from loopml.serving.app import ServingApp
from loopml.serving.deployments import DeploymentClient
from loopml.serving.runtime import Endpoint
from loopml.serving.server import bind_socket, nodelay_protocol


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings over the test's private LOOPML_HOME (SQLite only: serving is not a store)."""
    return Settings.load()


@pytest.fixture
def deployments(settings: Settings) -> DeploymentClient:
    """A deployment client on the same store."""
    return DeploymentClient(settings)


@pytest.fixture
def versions(registry: RegistryClient, tmp_path: Path) -> ModelVersions:
    """Registers scikit-learn versions of ``churn`` (and other models) on demand."""
    return ModelVersions(registry, tmp_path / "packages")


@pytest.fixture
def registry(settings: Settings) -> RegistryClient:
    return RegistryClient(settings)


@pytest.fixture
def register(registry: RegistryClient, tmp_path: Path) -> Register:
    counter = iter(range(1_000_000))

    def register(model: Any, name: str, *, input_example: Any = None, **kwargs: Any) -> int:
        folder = tmp_path / f"package-{next(counter)}"
        save_package(model, folder, input_example=input_example, **kwargs)
        return registry.register(folder, name).version

    return register


@pytest.fixture
def run_server() -> Iterator[RunServer]:
    import uvicorn

    running: list[tuple[uvicorn.Server, threading.Thread]] = []

    def run(target: Sequence[Endpoint] | ServingApp, **config: Any) -> str:
        app = target if isinstance(target, ServingApp) else ServingApp(list(target))
        sock = bind_socket("127.0.0.1", 0)
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                loop="uvloop",
                http=nodelay_protocol(),
                lifespan="on",
                access_log=False,
                log_level="warning",
                **config,
            )
        )
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        running.append((server, thread))
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the test server did not start")
            thread.join(0.01)
        port = sock.getsockname()[1]
        return f"http://127.0.0.1:{port}"

    yield run
    for server, thread in running:
        server.should_exit = True
        thread.join(30)


@pytest.fixture
def servers() -> Iterator[list[Served]]:
    started: list[Served] = []
    yield started
    for served in started:
        for child in (
            psutil.Process(served.process.pid).children() if served.process.poll() is None else []
        ):
            child.kill()
        served.stop(signal.SIGKILL)


@pytest.fixture
def two_versions(register: Register) -> None:
    """``doubler`` v1 answers ``2x``, v2 ``2x + 100``."""
    register(doubler(0.0), "doubler", input_example=DOUBLER_EXAMPLE)
    register(doubler(100.0), "doubler", input_example=DOUBLER_EXAMPLE)


@pytest.fixture
def staging(two_versions: None, registry: RegistryClient) -> RegistryClient:
    """:func:`two_versions`, with ``doubler@staging`` on v1."""
    registry.set_alias("doubler", "staging", 1)
    return registry
