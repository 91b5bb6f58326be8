"""The server tests' harness: an app in-process over a private store, and its accounts; a
real uvicorn server in a thread; a real ``loopml server`` process."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from loopml.config import Settings
from loopml.server import AccountService, ServerConfig, create_app
from loopml.store import open_store

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
        self.settings, self.config = settings, config
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
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


@contextlib.contextmanager
def server_process(
    home: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float = 60
) -> Iterator[str]:
    """``loopml server`` (uvicorn, one worker) as a process on a free loopback port over
    ``home``, with ``args`` added to its command line; yields its URL once ``/health`` answers.

    The process gets no ``LOOPML_*`` variable of the caller's environment but
    ``LOOPML_HOME=home`` (and those in ``env``); its output goes to ``home/server.log``, shown
    in the error when it does not start. It is terminated (killed after 30 s) on exit.
    """
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
    environ["LOOPML_HOME"] = str(home)
    environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT / "src"), environ.get("PYTHONPATH")])
    )
    environ.update(env or {})
    log_path = home / "server.log"
    argv = [sys.executable, "-m", "loopml", "server", "--port", str(port), *args]
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(argv, env=environ, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_for_health(url, proc, timeout, log_path)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_for_health(url: str, proc: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"loopml server did not start:\n{log.read_text()}") from None
            time.sleep(0.2)
