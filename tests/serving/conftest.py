"""Fixtures for serving tests: registered models and a real uvicorn on 127.0.0.1.

- ``registry``: a registry client over the test's fresh store (SQLite).
- ``register``: saves a model as a package and registers it, returning its version.
- ``run_server``: serves endpoints (or an app) with a real uvicorn in a thread on a free
  port; returns the base URL; stopped at the end of the test.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from loopml.config import Settings
from loopml.monitoring.payload import Prediction
from loopml.packaging.package import save_package
from loopml.registry import RegistryClient
from loopml.serving.app import ServingApp
from loopml.serving.runtime import Endpoint
from loopml.serving.server import bind_socket, nodelay_protocol

Register = Callable[..., int]
RunServer = Callable[..., str]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings over the test's private LOOPML_HOME (SQLite only: serving is not a store)."""
    return Settings.load()


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


class ListSink:
    """A payload-log sink that keeps every prediction in a list (thread-safe appends)."""

    def __init__(self) -> None:
        self.records: list[Prediction] = []
        self.closed = False

    def record(self, prediction: Prediction) -> None:
        self.records.append(prediction)

    @property
    def dropped(self) -> int:
        return 0

    @property
    def queue_depth(self) -> int:
        return len(self.records)

    def close(self, timeout: float = 10.0) -> None:
        self.closed = True

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Prediction]:
        """The records once there are ``count`` of them (shadows arrive after the reply)."""
        deadline = time.monotonic() + timeout
        while len(self.records) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.records)
