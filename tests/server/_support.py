"""The server tests' harness: an app in-process over a private store, and its accounts."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.testclient import TestClient

from loopml.config import Settings
from loopml.server import AccountService, ServerConfig, create_app
from loopml.store import open_store


@dataclass
class Server:
    """A loopml server app in-process, and the accounts of its store."""

    settings: Settings
    client: TestClient
    accounts: AccountService
    tokens: dict[str, str] = field(default_factory=dict)

    def user(self, name: str, role: str | None) -> dict[str, str]:
        """Headers carrying a new token of a new user ``name`` with ``role``."""
        self.accounts.create_user(name, role=role)
        _, secret = self.accounts.create_token(name, "test")
        self.tokens[name] = secret
        return {"Authorization": f"Bearer {secret}"}


def make_server(settings: Settings, config: ServerConfig) -> Iterator[Server]:
    app = create_app(settings, config)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Server(settings, client, AccountService(open_store(settings.db_url)))


class LiveServer:
    """A real uvicorn server on 127.0.0.1 in a thread; ``stop()`` and ``start()`` again on
    the same port, to test clients across an outage."""

    def __init__(self, settings: Settings, config: ServerConfig, port: int = 0) -> None:
        import socket

        self.settings, self.config = settings, config
        if port == 0:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = int(sock.getsockname()[1])
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> LiveServer:
        import uvicorn

        config = uvicorn.Config(
            create_app(self.settings, self.config),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            assert self._thread.is_alive(), "the server thread died starting"
            assert time.monotonic() < deadline, "the server did not start in 20 s"
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=20)
            self._server = None


@contextlib.contextmanager
def live_server(settings: Settings, config: ServerConfig | None = None) -> Iterator[LiveServer]:
    server = LiveServer(settings, config or ServerConfig()).start()
    try:
        yield server
    finally:
        server.stop()
