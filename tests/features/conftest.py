"""Fixtures for the feature store tests: online stores of every backend, a fixed clock,
and small Parquet sources with their definitions.

``online_store`` is parametrized over every backend (memory, SQLite, Redis), so a test
that takes it runs once per backend; the Redis server starts when a ``redis`` case first
needs it, and each test gets its own key prefix on it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from loopml.config import Settings
from loopml.features import FeatureStore, OnlineStore
from loopml.features.online import MemoryOnlineStore, RedisOnlineStore, SqliteOnlineStore
from loopml.testing import FakeClock

from ._defs import Definitions, make_definitions

IMPLEMENTATIONS = ["memory", "sqlite", "redis"]
PERSISTENT = ["sqlite", "redis"]
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _redis(request: pytest.FixtureRequest, tmp_path: Path) -> OnlineStore:
    server = request.getfixturevalue("redis_server")
    return RedisOnlineStore(f"{server.url}?prefix=t-{uuid.uuid4().hex[:12]}")


_FACTORIES: dict[str, Callable[[pytest.FixtureRequest, Path], OnlineStore]] = {
    "memory": lambda request, tmp_path: MemoryOnlineStore(),
    "sqlite": lambda request, tmp_path: SqliteOnlineStore(tmp_path / "online.db"),
    "redis": _redis,
}


def make_online_store(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> OnlineStore:
    """A fresh, empty online store of one backend."""
    return _FACTORIES[kind](request, tmp_path)


@pytest.fixture(params=IMPLEMENTATIONS)
def online_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OnlineStore]:
    """A fresh, empty online store of each backend in turn."""
    store = make_online_store(request.param, request, tmp_path)
    yield store
    store.close()


@pytest.fixture
def clock() -> FakeClock:
    """loopml's fake clock, standing at ``T0`` until a test moves it."""
    return FakeClock(T0)


def at(hours: float = 0, **delta: float) -> datetime:
    """A moment after ``T0`` (2025-01-01 00:00 UTC)."""
    return T0 + timedelta(hours=hours, **delta)


def naive(moment: datetime) -> pd.Timestamp:
    """``moment`` as a naive UTC pandas timestamp (how Parquet often holds times)."""
    return pd.Timestamp(moment).tz_convert(None)


@pytest.fixture
def stats_frame() -> pd.DataFrame:
    """Trips of three drivers; driver 1 has two rows at 12:00 (the later one wins)."""
    return pd.DataFrame(
        {
            "driver_id": [1, 1, 2, 2, 1, 3],
            "event_time": [naive(at(h)) for h in (10, 12, 9, 12, 12, 1)],
            "trips": [1, 2, 3, 4, 5, 6],
            "rating": [4.5, 4.6, 3.0, None, 4.9, 5.0],
            "city": ["a", "b", None, "d", "e", "f"],
        }
    )


@pytest.fixture
def defs(tmp_path: Path, stats_frame: pd.DataFrame) -> Definitions:
    """Driver definitions over ``stats_frame`` written to Parquet (TTL 2 hours)."""
    source = tmp_path / "stats.parquet"
    stats_frame.to_parquet(source)
    return make_definitions(source)


@pytest.fixture
def feature_store(settings: Settings, clock: FakeClock, defs: Definitions) -> FeatureStore:
    """A store over each metadata database, its online store the settings' SQLite file."""
    store = FeatureStore(settings, clock=clock)
    store.apply(defs.all)
    return store


@pytest.fixture
def local_store(tmp_path: Path, clock: FakeClock, defs: Definitions) -> FeatureStore:
    """A store over a SQLite metadata database only, for tests about joins and inputs."""
    store = FeatureStore(Settings.load(home=tmp_path / "home"), clock=clock)
    store.apply(defs.all)
    return store
