from __future__ import annotations

from collections.abc import Iterator

import pytest

from loopml.config import Settings
from loopml.tracking import TrackingClient


@pytest.fixture
def client(settings: Settings) -> Iterator[TrackingClient]:
    """A tracking client over a fresh store (SQLite and PostgreSQL, via ``settings``)."""
    tracking = TrackingClient(settings)
    yield tracking
    tracking.close()
