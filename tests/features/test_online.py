"""Materialization and online reads: online agrees with offline, on SQLite and Redis."""

from __future__ import annotations

import math
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from loopml.config import Settings
from loopml.errors import InvalidInputError, NotFoundError
from loopml.features import Entity, Feature, FeatureStore, FeatureView, OnlineStore
from loopml.store import open_store
from loopml.store.schema import materializations
from loopml.testing import FakeClock

from ._defs import Definitions
from ._pit import SOURCE_ROWS, write_files
from .conftest import PERSISTENT, T0, at, make_online_store, naive

ALL = ["driver_stats:trips", "driver_stats:rating", "driver_stats:city"]


def clean(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


@pytest.fixture
def store(
    clock: FakeClock, defs: Definitions, tmp_path: Path, online_store: OnlineStore
) -> FeatureStore:
    """A feature store over each online backend (metadata in SQLite)."""
    settings = Settings.load(home=tmp_path / "home")
    found = FeatureStore(settings, online_store=online_store, clock=clock)
    found.apply(defs.all)
    return found


def test_materialize_then_read_the_latest_values(store: FeatureStore, clock: FakeClock) -> None:
    results = store.materialize(at(0), at(13))
    assert [(r.view, r.version, r.rows, r.start, r.end) for r in results] == [
        ("driver_stats", 1, 2, at(0), at(13)),  # drivers 1 and 2; driver 3's row expired
    ]
    clock.now = at(13)
    response = store.get_online_features(
        [{"driver_id": 1}, {"driver_id": 2}, {"driver_id": 3}, {"driver_id": 7}], ALL
    )
    assert response.to_dict() == {
        "driver_id": [1, 2, 3, 7],
        "trips": [5, 4, None, None],
        "rating": [4.9, None, None, None],
        "city": ["e", "d", None, None],
    }
    assert response.to_records()[0] == {"driver_id": 1, "trips": 5, "rating": 4.9, "city": "e"}
    assert list(response.to_df().columns) == ["driver_id", "trips", "rating", "city"]


def test_online_reads_enforce_the_ttl_against_now(store: FeatureStore, clock: FakeClock) -> None:
    store.materialize(at(0), at(13))
    clock.now = at(14)  # 12:00 rows are exactly 2 hours old: still valid
    assert store.get_online_features([{"driver_id": 1}], ["driver_stats:trips"]).to_dict()[
        "trips"
    ] == [5]
    clock.advance(microseconds=1)
    assert store.get_online_features([{"driver_id": 1}], ["driver_stats:trips"]).to_dict()[
        "trips"
    ] == [None]
    clock.now = at(11)  # before the row was true: never served from the future
    assert store.get_online_features([{"driver_id": 1}], ["driver_stats:trips"]).to_dict()[
        "trips"
    ] == [None]


def test_incremental_continues_from_the_last_end(
    feature_store: FeatureStore, clock: FakeClock, settings: Settings
) -> None:
    """On both metadata databases, into the settings' SQLite online store."""
    store = feature_store
    first = store.materialize_incremental(at(11))
    assert [(r.start, r.end, r.rows) for r in first] == [(at(9), at(11), 2)]
    second = store.materialize_incremental(at(13))
    assert [(r.start, r.end, r.rows) for r in second] == [(at(11), at(13), 2)]
    third = store.materialize_incremental(at(13))
    assert [(r.start, r.end, r.rows) for r in third] == [(at(13), at(13), 0)]
    clock.now = at(13)
    assert store.get_online_features([{"driver_id": 1}], ["driver_stats:trips"]).to_dict()[
        "trips"
    ] == [5]
    with open_store(settings.db_url).read() as conn:
        rows = conn.execute(select(materializations).order_by(materializations.c.id)).all()
    assert [(r.feature_view, r.view_version, r.rows, r.online_store) for r in rows] == [
        ("driver_stats", 1, 2, store.online.url),
        ("driver_stats", 1, 2, store.online.url),
    ]
    assert rows[1].start_time == int(at(11).timestamp() * 1000) == rows[0].end_time


def test_without_a_clock_the_store_follows_loopmls_current_clock(
    settings: Settings, defs: Definitions
) -> None:
    store = FeatureStore(settings, online_store="memory://")  # no clock= given
    store.apply(defs.all)
    store.materialize(at(0), at(13))
    fake = FakeClock(at(14))  # 12:00 rows are exactly 2 hours old: still valid
    with fake.installed():
        assert store.get_online_features([{"driver_id": 1}], ["driver_stats:trips"]).to_dict()[
            "trips"
        ] == [5]
        fake.advance(microseconds=1)
        assert store.get_online_features([{"driver_id": 1}], ["driver_stats:trips"]).to_dict()[
            "trips"
        ] == [None]
    store.close()


def test_a_new_view_version_starts_empty_online(
    store: FeatureStore, clock: FakeClock, defs: Definitions
) -> None:
    store.materialize(at(0), at(13))
    clock.now = at(13)
    retyped = replace(defs.stats, features=[Feature("trips", "float64"), *defs.stats.features[1:]])
    store.apply([retyped])
    # Rows packed for version 1 read as absent, never as wrongly typed values.
    assert store.get_online_features([{"driver_id": 1}], ["driver_stats:trips"]).to_dict()[
        "trips"
    ] == [None]
    [result] = store.materialize_incremental(at(13))
    assert (result.version, result.start) == (2, at(11))  # a new version has no watermark yet
    assert store.get_online_features([{"driver_id": 1}], ["driver_stats:trips"]).to_dict()[
        "trips"
    ] == [5.0]


def test_replaying_an_old_window_keeps_newer_values(
    store: FeatureStore, clock: FakeClock, defs: Definitions
) -> None:
    store.apply([replace(defs.stats, ttl=None)])
    store.materialize(at(0), at(13))
    store.materialize(at(0), at(11))
    clock.now = at(13)
    assert store.get_online_features([{"driver_id": 1}], ["driver_stats:trips"]).to_dict()[
        "trips"
    ] == [5]


def test_on_demand_features_agree_offline_and_online(store: FeatureStore, clock: FakeClock) -> None:
    now = at(12, minutes=30)
    store.materialize(at(0), now)
    clock.now = now
    rows = [{"driver_id": 1, "km": 2.0}, {"driver_id": 2, "km": 8.0}, {"driver_id": 5, "km": 1.0}]
    online = store.get_online_features(
        rows, ["density:trips_per_km", "density:rated", "driver_stats:city"]
    )
    frame = pd.DataFrame(rows).assign(event_timestamp=naive(now))
    offline = store.get_training_set(
        frame, ["density:trips_per_km", "density:rated", "driver_stats:city"]
    )
    for column in ("trips_per_km", "rated", "city"):
        assert [clean(v) for v in online.to_dict()[column]] == [
            clean(v) for v in offline[column].tolist()
        ]
    assert online.to_dict()["trips_per_km"][:2] == [2.5, 0.5]
    assert online.to_dict()["rated"] == [True, False, False]


def test_entity_rows_may_be_a_dataframe_or_strings(store: FeatureStore, clock: FakeClock) -> None:
    store.materialize(at(0), at(13))
    clock.now = at(13)
    frame = pd.DataFrame({"driver_id": [2, 1]})
    assert store.get_online_features(frame, ["driver_stats:trips"]).to_dict()["trips"] == [4, 5]
    assert store.get_online_features([{"driver_id": "1"}], ["driver_stats:trips"]).to_dict()[
        "trips"
    ] == [5]


def test_online_input_errors(store: FeatureStore) -> None:
    with pytest.raises(
        InvalidInputError, match=r"entity row 1 has no 'driver_id'.*did you mean driver_i"
    ):
        store.get_online_features([{"driver_id": 1}, {"driver_i": 2}], ["driver_stats:trips"])
    with pytest.raises(InvalidInputError, match="join keys are integers or strings"):
        store.get_online_features([{"driver_id": 1.5}], ["driver_stats:trips"])
    with pytest.raises(InvalidInputError, match="request field an on-demand view needs"):
        store.get_online_features([{"driver_id": 1}], ["density:rated"])
    with pytest.raises(InvalidInputError, match="list of dicts"):
        store.get_online_features({"driver_id": [1]}, ["driver_stats:trips"])  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="cannot be read as float64"):
        store.get_online_features([{"driver_id": 1, "km": "far"}], ["density:rated"])


def test_materialize_input_errors(store: FeatureStore) -> None:
    with pytest.raises(InvalidInputError, match="start < end"):
        store.materialize(at(2), at(1))
    with pytest.raises(NotFoundError, match="'driver_stat' not found; did you mean: driver_stats"):
        store.materialize(at(0), at(1), views=["driver_stat"])
    with pytest.raises(NotFoundError, match="computed at read time and never materialized"):
        store.materialize(at(0), at(1), views=["density"])


# -- the property: online equals offline at the end of the materialization ---------------


@pytest.fixture(params=PERSISTENT)
def agreement(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[FeatureStore, Path]:
    clock = FakeClock(T0)
    online = make_online_store(request.param, request, tmp_path)
    (tmp_path / "data").mkdir()
    store = FeatureStore(Settings.load(home=tmp_path / "home"), online_store=online, clock=clock)
    return store, clock, tmp_path / "data"


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    files=st.lists(SOURCE_ROWS, min_size=1, max_size=2),
    ttl=st.none() | st.integers(1, 10),
    end=st.integers(0, 35),
    split=st.none() | st.integers(0, 35),
)
def test_online_equals_offline_after_materialize(
    agreement: tuple[FeatureStore, Path],
    files: list[list[tuple[int, int, int | None]]],
    ttl: int | None,
    end: int,
    split: int | None,
) -> None:
    store, clock, root = agreement
    folder = root / uuid.uuid4().hex
    folder.mkdir()
    write_files(folder, files)
    name = f"v_{uuid.uuid4().hex[:8]}"  # fresh online rows and watermark per example
    view = FeatureView(
        name, [Entity("k")], folder / "*.parquet", "ts", [Feature("v", "int64")],
        ttl=None if ttl is None else timedelta(seconds=ttl),
    )  # fmt: skip
    store.apply([view])
    end_at = T0 + timedelta(seconds=end)
    if split is not None and split < end:  # two incremental runs instead of one window
        store.materialize_incremental(T0 + timedelta(seconds=split), views=[name])
        store.materialize_incremental(end_at, views=[name])
    else:
        store.materialize(datetime(1970, 1, 1, tzinfo=UTC), end_at, views=[name])
    clock.now = end_at
    keys = list(range(5))
    online = store.get_online_features([{"k": k} for k in keys], [f"{name}:v"]).to_dict()["v"]
    frame = pd.DataFrame(
        {"k": keys, "event_timestamp": [naive(end_at - timedelta(milliseconds=1))] * 5}
    )
    offline = [clean(v) for v in store.get_training_set(frame, [f"{name}:v"])["v"].tolist()]
    assert online == offline


def test_dataset_sources_are_read_and_linked(
    settings: Settings, clock: FakeClock, stats_frame: pd.DataFrame
) -> None:
    from loopml.data.versions import DatasetClient
    from loopml.store.lineage import edges_of

    version = DatasetClient(settings).log("driver_trips", stats_frame)
    driver = Entity("driver", join_keys=["driver_id"])
    view = FeatureView(
        "trips_ds",
        [driver],
        "datasets:/driver_trips@latest",
        "event_time",
        [Feature("trips", "int64")],
    )
    store = FeatureStore(settings, online_store="memory://", clock=clock)
    store.apply([view])
    rows = pd.DataFrame({"driver_id": [1, 2], "event_timestamp": [naive(at(12)), naive(at(10))]})
    assert store.get_training_set(rows, ["trips_ds:trips"])["trips"].tolist() == [5, 3]
    store.materialize(at(0), at(13))
    clock.now = at(13)
    assert store.get_online_features([{"driver_id": 1}], ["trips_ds:trips"]).to_dict()["trips"] == [
        5
    ]
    with open_store(settings.db_url).read() as conn:
        edges = edges_of(conn, ("feature_view", "trips_ds/1"), "out")
    assert [(e["edge"], e["dst_kind"], e["dst_id"]) for e in edges] == [
        ("consumed", "dataset_version", f"driver_trips/{version.version}")
    ]
