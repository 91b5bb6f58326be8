"""Fixtures for the server tests: an app over a private store, in tokens mode or token-free."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from loopml.config import Settings
from loopml.server import ServerConfig

from ._support import Server, make_server


@pytest.fixture
def server_settings(tmp_path: Path) -> Settings:
    return Settings.load(home=tmp_path / "home")


@pytest.fixture
def server(server_settings: Settings) -> Iterator[Server]:
    """A server that needs tokens (SQLite store)."""
    yield from make_server(server_settings, ServerConfig(auth="tokens", max_body_bytes=4096))


@pytest.fixture
def open_server(server_settings: Settings) -> Iterator[Server]:
    """A token-free server (the embedded single-user mode)."""
    yield from make_server(server_settings, ServerConfig(auth="none"))
