"""Training sets: point-in-time correct, TTL-aware, entity rows kept as given."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopml.config import Settings
from loopml.errors import InvalidInputError, NotFoundError
from loopml.features import Entity, Feature, FeatureStore, FeatureView

from ._defs import Definitions
from ._pit import ENTITY_ROWS, SOURCE_ROWS, reference, write_files
from .conftest import T0, at, naive

ALL = ["driver_stats:trips", "driver_stats:rating", "driver_stats:city"]


def entities(*rows: tuple[Any, float]) -> pd.DataFrame:
    return pd.DataFrame(
        {"driver_id": [r[0] for r in rows], "event_timestamp": [naive(at(r[1])) for r in rows]}
    )


def values(frame: pd.DataFrame, column: str) -> list[Any]:
    return [None if isinstance(v, float) and math.isnan(v) else v for v in frame[column].tolist()]


def test_latest_value_at_or_before_each_row_within_ttl(feature_store: FeatureStore) -> None:
    rows = entities(
        (1, 9.5), (1, 10), (1, 11), (1, 12), (1, 14), (1, 14.01), (2, 11.9), (3, 3), (9, 12)
    )
    out = feature_store.get_training_set(rows, ALL)
    assert values(out, "trips") == [None, 1, 1, 5, 5, None, None, 6, None]
    assert values(out, "rating") == [None, 4.5, 4.5, 4.9, 4.9, None, None, 5.0, None]
    assert values(out, "city") == [None, "a", "a", "e", "e", None, None, "f", None]


def test_entity_rows_keep_order_duplicates_index_and_columns(local_store: FeatureStore) -> None:
    rows = entities((2, 13), (1, 11), (2, 13), (1, 11))
    rows.index = pd.Index([40, 10, 30, 20], name="order")
    rows["label"] = [1, 0, 1, 0]
    out = local_store.get_training_set(rows, ["driver_stats:trips"])
    assert list(out.columns) == ["driver_id", "event_timestamp", "label", "trips"]
    assert out.index.equals(rows.index)
    assert out["trips"].tolist() == [4, 1, 4, 1]
    pd.testing.assert_frame_equal(out[rows.columns], rows)


def test_aware_timestamps_and_ns_precision_agree_with_naive_ones(local_store: FeatureStore) -> None:
    naive_rows = entities((1, 11), (2, 12))
    aware = naive_rows.assign(event_timestamp=naive_rows["event_timestamp"].dt.tz_localize("UTC"))
    oslo = aware.assign(event_timestamp=aware["event_timestamp"].dt.tz_convert("Europe/Oslo"))
    ns = naive_rows.assign(event_timestamp=naive_rows["event_timestamp"].astype("datetime64[ns]"))
    got = [
        local_store.get_training_set(f, ["driver_stats:trips"])["trips"].tolist()
        for f in (naive_rows, aware, oslo, ns)
    ]
    assert got == [[1, 4]] * 4


def test_ties_go_to_the_row_written_last_across_files(
    local_store: FeatureStore, defs: Definitions, tmp_path: Path
) -> None:
    folder = tmp_path / "parts"
    folder.mkdir()
    same = naive(at(5))
    pd.DataFrame(
        {
            "driver_id": [1, 1],
            "event_time": [same, same],
            "trips": [10, 11],
            "rating": [1.0, 1.0],
            "city": ["x", "y"],
        }
    ).to_parquet(folder / "a.parquet")
    pd.DataFrame(
        {"driver_id": [1], "event_time": [same], "trips": [12], "rating": [1.0], "city": ["z"]}
    ).to_parquet(folder / "b.parquet")
    local_store.apply([replace(defs.stats, source=str(folder / "*.parquet"))])
    out = local_store.get_training_set(
        entities((1, 5), (1, 6)), ["driver_stats:trips", "driver_stats:city"]
    )
    assert out["trips"].tolist() == [12, 12]
    assert out["city"].tolist() == ["z", "z"]


def test_without_ttl_old_values_stay(local_store: FeatureStore, defs: Definitions) -> None:
    local_store.apply([replace(defs.stats, ttl=None)])
    out = local_store.get_training_set(entities((2, 11.9), (3, 1000)), ["driver_stats:trips"])
    assert out["trips"].tolist() == [3, 6]


def test_full_feature_names_and_wildcards(local_store: FeatureStore) -> None:
    out = local_store.get_training_set(
        entities((1, 11)), ["driver_stats:*"], full_feature_names=True
    )
    assert [c for c in out.columns if "__" in c] == [
        "driver_stats__trips", "driver_stats__rating", "driver_stats__city",
    ]  # fmt: skip


def test_views_with_different_entities_in_one_set(
    local_store: FeatureStore, tmp_path: Path
) -> None:
    rider = Entity("rider", join_keys=["rider_id"])
    source = tmp_path / "riders.parquet"
    pd.DataFrame(
        {"rider_id": ["r1", "r2"], "ts": [naive(at(1)), naive(at(2))], "spend": [1.5, 2.5]}
    ).to_parquet(source)
    spend = FeatureView("rider_spend", [rider], source, "ts", [Feature("spend", "float32")])
    local_store.apply([spend])
    rows = entities((1, 11), (2, 13)).assign(rider_id=["r2", "r1"])
    out = local_store.get_training_set(rows, ["rider_spend:spend", "driver_stats:trips"])
    assert out["spend"].tolist() == [2.5, 1.5]
    assert out["spend"].dtype == "float32"
    assert out["trips"].tolist() == [1, 4]


def test_on_demand_features_are_computed_on_the_joined_values(local_store: FeatureStore) -> None:
    rows = entities((1, 11), (2, 12.5), (9, 12)).assign(km=[2.0, 4.0, 1.0])
    out = local_store.get_training_set(rows, ["density:trips_per_km", "density:rated"])
    assert values(out, "trips_per_km") == [0.5, 1.0, None]
    assert out["rated"].tolist() == [True, False, False]
    assert "trips" not in out.columns  # inputs of on-demand views are not returned


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (
            pd.DataFrame({"driver": [1], "event_timestamp": [naive(at(1))]}),
            "no column 'driver_id' \\(a join key .*did you mean driver",
        ),
        (
            pd.DataFrame({"driver_id": [1], "event_time": [naive(at(1))]}),
            "no column 'event_timestamp' \\(a timestamp column.*did you mean event_time",
        ),
        (
            pd.DataFrame({"driver_id": [1], "event_timestamp": ["2025-01-01"]}),
            "holds (str|object), not timestamps; convert it with pd.to_datetime",
        ),
        (
            pd.DataFrame({"driver_id": [1.0], "event_timestamp": [naive(at(1))]}),
            "join keys must be integers or strings",
        ),
        (
            pd.DataFrame({"driver_id": ["1"], "event_timestamp": [naive(at(1))]}),
            "holds strings, but feature view 'driver_stats' stores integers",
        ),
        (
            pd.DataFrame({"driver_id": [1], "event_timestamp": [naive(at(1))], "trips": [0]}),
            "already has a column 'trips'",
        ),
    ],
)
def test_bad_entity_frames_are_refused_clearly(
    local_store: FeatureStore, frame: pd.DataFrame, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        local_store.get_training_set(frame, ["driver_stats:trips"])


def test_request_fields_must_be_in_the_frame(local_store: FeatureStore) -> None:
    with pytest.raises(InvalidInputError, match="no column 'km' \\(a request field"):
        local_store.get_training_set(entities((1, 1)), ["density:trips_per_km"])


@pytest.mark.parametrize(
    ("features", "error", "message"),
    [
        (
            ["driver_stats:trps"],
            NotFoundError,
            "'driver_stats:trps' not found; did you mean: driver_stats:trips\\?",
        ),
        (
            ["driver_stat:trips"],
            NotFoundError,
            "feature view 'driver_stat' not found; did you mean: driver_stats",
        ),
        (
            ["trips"],
            InvalidInputError,
            "not a feature reference; write '<view>:<feature>'; did you mean driver_stats:trips",
        ),
        ([], InvalidInputError, "non-empty list"),
        ("driver_stats:trips", InvalidInputError, "non-empty list"),
    ],
)
def test_bad_feature_references_suggest_close_ones(
    local_store: FeatureStore, features: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        local_store.get_training_set(entities((1, 1)), features)


def test_source_problems_name_the_view(
    local_store: FeatureStore, defs: Definitions, tmp_path: Path
) -> None:
    local_store.apply([replace(defs.stats, source=str(tmp_path / "none" / "*.parquet"))])
    with pytest.raises(
        InvalidInputError, match=r"'driver_stats': its source .* matches no Parquet files"
    ):
        local_store.get_training_set(entities((1, 1)), ["driver_stats:trips"])
    # Written after apply (apply checks a source that exists: tests/features/test_registry.py)
    bad = tmp_path / "bad.parquet"
    local_store.apply([replace(defs.stats, source=str(bad))])
    pd.DataFrame(
        {
            "driver_id": [1],
            "event_time": [naive(at(1))],
            "trip": [1],
            "rating": [1.0],
            "city": ["a"],
        }
    ).to_parquet(bad)
    with pytest.raises(
        InvalidInputError,
        match="no column 'trips' \\(the feature, declared int64\\); did you mean trip",
    ):
        local_store.get_training_set(entities((1, 1)), ["driver_stats:trips"])
    typed = tmp_path / "typed.parquet"
    local_store.apply([replace(defs.stats, source=str(typed))])
    pd.DataFrame(
        {
            "driver_id": [1],
            "event_time": [naive(at(1))],
            "trips": [1.5],
            "rating": [1.0],
            "city": ["a"],
        }
    ).to_parquet(typed)
    wrong_type = r"'trips' .* is DOUBLE in the source, but declared int64, it needs int values"
    with pytest.raises(InvalidInputError, match=wrong_type):
        local_store.get_training_set(entities((1, 1)), ["driver_stats:trips"])
    with pytest.raises(InvalidInputError, match=wrong_type):  # now that it exists
        local_store.apply([replace(defs.stats, source=str(typed), description="again")])


# -- the property: equal to a brute-force reference --------------------------------------


@pytest.fixture(scope="module")
def pit_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[FeatureStore, Path]:
    root = tmp_path_factory.mktemp("pit")
    (root / "data").mkdir()
    return FeatureStore(Settings.load(home=root / "home")), root / "data"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    files=st.lists(SOURCE_ROWS, min_size=1, max_size=2),
    rows=ENTITY_ROWS,
    ttl=st.none() | st.integers(1, 10),
    aware=st.booleans(),
)
def test_training_set_equals_brute_force_reference(
    pit_store: tuple[FeatureStore, Path],
    files: list[list[tuple[int, int, int | None]]],
    rows: list[tuple[int, int]],
    ttl: int | None,
    aware: bool,
) -> None:
    store, folder = pit_store
    write_files(folder, files)
    entity = Entity("k")
    view = FeatureView(
        "pit", [entity], folder / "*.parquet", "ts", [Feature("v", "int64")],
        ttl=None if ttl is None else timedelta(seconds=ttl),
    )  # fmt: skip
    store.apply([view])
    stamps = pd.Series([T0 + timedelta(seconds=t, milliseconds=250) for _, t in rows])
    frame = pd.DataFrame(
        {
            "k": [k for k, _ in rows],
            "event_timestamp": stamps if aware else stamps.dt.tz_convert(None),
        }
    )
    out = store.get_training_set(frame, ["pit:v"])
    got = values(out, "v")
    expected = [reference(files, k, t + 0.25, ttl) for k, t in rows]
    assert got == expected
    for (_, t), value in zip(rows, got, strict=True):
        if value is not None:
            assert value // 1000 <= t + 0.25, "a value from the future"
            assert ttl is None or t + 0.25 - value // 1000 <= ttl, "a value older than the TTL"
