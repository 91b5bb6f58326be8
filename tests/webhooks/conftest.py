"""Fixtures for the shared webhook mechanism: the registry's feed over each database
(the registry is the feed that exists today), and a real receiver on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from loopml.config import Settings
from loopml.registry.client import RegistryClient
from receiver import Receiver, start


@pytest.fixture
def registry(settings: Settings) -> RegistryClient:
    """A registry client over a fresh store."""
    return RegistryClient(settings)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = start()
    yield started
    started.server.shutdown()
    started.server.server_close()
