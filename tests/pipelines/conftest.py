from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from loopml.config import Settings
from loopml.tracking import TrackingClient


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    """Settings over a fresh embedded store (for tests where the database does not matter)."""
    return Settings.load(home=tmp_path / "home")


@pytest.fixture
def pipeline_client(settings: Settings) -> Iterator[TrackingClient]:
    """A tracking client over a fresh store, on SQLite and PostgreSQL (via ``settings``)."""
    client = TrackingClient(settings)
    yield client
    client.close()
