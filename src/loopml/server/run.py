"""Running the server: checks before listening, then uvicorn with one or N workers.

A server that listens beyond loopback must have authentication: it refuses to start with
``auth="none"``, and with ``auth="tokens"`` until an admin exists to hand out tokens.

Example:
    >>> serve(Settings.load(), host="127.0.0.1", port=5000)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import os
import socket
from collections.abc import Callable

from loopml.config import Settings
from loopml.errors import InvalidInputError, UnauthorizedError
from loopml.server._context import DEFAULT_MAX_BODY, ServerConfig
from loopml.server.accounts import AccountService
from loopml.store import open_store

__all__ = ["check_exposure", "is_loopback", "serve"]

AUTH_MODES = ("none", "tokens")


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(settings: Settings, host: str, config: ServerConfig) -> None:
    """Refuse a server others could reach without authentication.

    Raises:
        InvalidInputError: an unknown auth mode.
        UnauthorizedError: a non-loopback ``host`` with no authentication, or with tokens
            but no admin who could make them.
    """
    if config.auth not in AUTH_MODES:
        raise InvalidInputError(
            f"auth mode {config.auth!r} is not one loopml knows; use one of: "
            + ", ".join(AUTH_MODES)
        )
    if is_loopback(host):
        return
    if config.auth == "none":
        raise UnauthorizedError(
            f"refusing to listen on {host} without authentication: anyone who reaches it "
            "could change the store; start with --auth tokens (after `loopml users create "
            "NAME --role admin` and `loopml tokens create NAME`), or listen on 127.0.0.1"
        )
    if not AccountService(open_store(settings.db_url)).has_admin():
        raise UnauthorizedError(
            f"refusing to listen on {host}: --auth tokens is set but no active user is an "
            "admin, so nobody could make tokens; run `loopml users create NAME --role admin`"
        )


def serve(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 5000,
    workers: int = 1,
    config: ServerConfig | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Run the server until interrupted (blocks).

    Args:
        workers: processes; each opens its own connections to the same store.
        on_ready: called with the URL once the server accepts connections.
    """
    import uvicorn

    config = dataclasses.replace(config or ServerConfig(), workers=workers)
    check_exposure(settings, host, config)
    if workers < 1:
        raise InvalidInputError(f"--workers must be 1 or more, got {workers}")
    logging.getLogger("loopml.server").setLevel(logging.INFO)
    url = f"http://{host}:{port}"
    if workers == 1:
        from loopml.server.app import create_app

        server = _Server(
            uvicorn.Config(
                create_app(settings, config),
                host=host,
                port=port,
                access_log=False,
                log_level="warning",
                server_header=False,
                lifespan="on",
            ),
            on_ready=on_ready,
            url=url,
        )
        server.run()
        return
    from loopml.server.app import AUTH_ENV, MAX_BODY_ENV, WORKERS_ENV

    os.environ[AUTH_ENV] = config.auth
    os.environ[MAX_BODY_ENV] = str(config.max_body_bytes or DEFAULT_MAX_BODY)
    os.environ[WORKERS_ENV] = str(workers)
    os.environ["LOOPML_HOME"] = str(settings.home)
    os.environ["LOOPML_DB_URL"] = settings.db_url
    os.environ["LOOPML_ARTIFACTS"] = settings.artifacts_url
    if on_ready is not None:
        on_ready(url)
    uvicorn.run(
        "loopml.server.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level="warning",
        server_header=False,
    )


class _Server:
    """uvicorn's server, telling ``on_ready`` once it listens."""

    def __init__(self, config: object, *, on_ready: Callable[[str], None] | None, url: str) -> None:
        import uvicorn

        on_started = on_ready

        class Server(uvicorn.Server):
            async def startup(self, sockets: list[socket.socket] | None = None) -> None:
                await super().startup(sockets=sockets)
                if self.started and on_started is not None:
                    on_started(url)

        self._server = Server(config)  # type: ignore[arg-type]

    def run(self) -> None:
        self._server.run()
