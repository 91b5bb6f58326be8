"""Applying definitions: versions, diffs, audit rows, all-or-nothing, on both databases."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from loopml.config import Settings
from loopml.data.versions import DatasetClient
from loopml.errors import ConflictError, InvalidInputError, NotFoundError
from loopml.features import Entity, Feature, FeatureStore, FeatureView
from loopml.store import open_store
from loopml.store.audit import history
from loopml.store.schema import feature_definitions

from ._defs import Definitions, make_definitions


@pytest.fixture
def store(settings: Settings) -> FeatureStore:
    return FeatureStore(settings)


@pytest.fixture
def defs(tmp_path: Path) -> Definitions:
    return make_definitions(tmp_path / "stats.parquet")


def _rows(settings: Settings) -> list[tuple[str, str, int]]:
    with open_store(settings.db_url).read() as conn:
        found = conn.execute(
            select(
                feature_definitions.c.kind,
                feature_definitions.c.name,
                feature_definitions.c.version,
            )
        )
        return sorted((r.kind, r.name, r.version) for r in found)


def test_first_apply_creates_version_one_of_each(store: FeatureStore, defs: Definitions) -> None:
    result = store.apply(defs.all)
    assert [(c.kind, c.name, c.action, c.version) for c in result.changes] == [
        ("entity", "driver", "created", 1),
        ("feature_view", "driver_stats", "created", 1),
        ("on_demand_feature_view", "density", "created", 1),
    ]
    assert result.changed


def test_applying_the_same_again_makes_no_version(
    store: FeatureStore, defs: Definitions, settings: Settings
) -> None:
    store.apply(defs.all)
    again = store.apply(defs.all)
    assert not again.changed
    assert {c.action for c in again.changes} == {"unchanged"}
    assert _rows(settings) == [
        ("entity", "driver", 1),
        ("feature_view", "driver_stats", 1),
        ("on_demand_feature_view", "density", 1),
    ]


def test_a_change_makes_a_new_version_with_its_diff(
    store: FeatureStore, defs: Definitions, settings: Settings
) -> None:
    store.apply(defs.all)
    changed = replace(
        defs.stats,
        ttl=timedelta(hours=1),
        features=[*defs.stats.features, Feature("tips", "float64")],
    )
    result = store.apply([changed])
    change = result.of("driver_stats")
    assert (change.action, change.previous_version, change.version) == ("updated", 1, 2)
    assert [str(c) for c in change.changes] == [
        "features.tips: added {'name': 'tips', 'dtype': 'float64', 'description': ''}",
        "ttl: 7200 -> 3600",
    ]
    assert [d.version for d in store.registry.versions("driver_stats")] == [1, 2]
    assert store.get_definition("driver_stats").spec["ttl"] == 3600
    assert store.get_definition("driver_stats", version=1).spec["ttl"] == 7200
    with open_store(settings.db_url).read() as conn:
        audit = history(conn, "feature_view", "driver_stats")
    assert [(a["action"], a["details"]["version"]) for a in audit] == [
        ("feature_view.create", 1),
        ("feature_view.update", 2),
    ]
    assert audit[1]["details"]["changes"][1] == {
        "path": "ttl",
        "change": "changed",
        "old": 7200,
        "new": 3600,
    }


def test_entities_and_source_views_come_along(store: FeatureStore, defs: Definitions) -> None:
    result = store.apply([defs.density])
    assert [(c.name, c.action) for c in result.changes] == [
        ("driver", "created"),
        ("driver_stats", "created"),
        ("density", "created"),
    ]
    # Registered dependencies are not re-applied implicitly: the registry's version stands.
    edited = replace(defs.driver, description="edited")
    later = store.apply([replace(defs.stats, entities=[edited])])
    assert [(c.name, c.action) for c in later.changes] == [("driver_stats", "unchanged")]


def test_a_conflicting_batch_writes_nothing(
    store: FeatureStore, defs: Definitions, settings: Settings
) -> None:
    store.apply([defs.driver])
    rekeyed = Entity("driver", join_keys=["id"])
    other = FeatureView("other", [rekeyed], "/x.parquet", "ts", [Feature("a", "int64")])
    new_entity = Entity("rider")
    with pytest.raises(ConflictError, match="entity 'driver' with join keys \\['id'\\]"):
        store.apply([new_entity, other])
    assert _rows(settings) == [("entity", "driver", 1)]


def test_rekeying_an_entity_needs_its_views_too(store: FeatureStore, defs: Definitions) -> None:
    store.apply([defs.stats])
    rekeyed = Entity("driver", join_keys=["id"])
    with pytest.raises(ConflictError, match="'driver_stats' uses entity 'driver'"):
        store.apply([rekeyed])
    moved = replace(defs.stats, entities=[rekeyed])
    assert store.apply([rekeyed, moved]).of("driver_stats").version == 2


def test_view_names_are_one_namespace(store: FeatureStore, defs: Definitions) -> None:
    store.apply(defs.all)
    clash = replace(defs.stats, name="density")
    with pytest.raises(ConflictError, match="taken by a registered on-demand feature view"):
        store.apply([clash])
    with pytest.raises(InvalidInputError, match="two different feature_views are named"):
        store.apply([defs.stats, replace(defs.stats, ttl=None)])
    with pytest.raises(InvalidInputError, match="cannot apply 'driver'"):
        store.apply(["driver"])  # type: ignore[list-item]


def test_unknown_names_suggest_close_ones(store: FeatureStore, defs: Definitions) -> None:
    store.apply(defs.all)
    with pytest.raises(NotFoundError, match="'driver_stat' not found; did you mean: driver_stats"):
        store.get_definition("driver_stat")
    with pytest.raises(NotFoundError, match="versions: 1"):
        store.get_definition("driver_stats", version=5)


def test_definitions_load_back_as_objects(store: FeatureStore, defs: Definitions) -> None:
    store.apply(defs.all)
    loaded = FeatureStore(store.settings).definitions()
    assert loaded.views["driver_stats"].spec() == defs.stats.spec()
    assert loaded.entities["driver"].spec() == defs.driver.spec()
    assert loaded.on_demand["density"].spec() == defs.density.spec()
    assert loaded.version_of("feature_view", "driver_stats") == 1
    assert [d.name for d in store.list_definitions("entity")] == ["driver"]


def test_a_view_naming_a_column_its_parquet_source_lacks_is_refused_at_apply(
    store: FeatureStore, defs: Definitions, settings: Settings, stats_frame: pd.DataFrame
) -> None:
    stats_frame.to_parquet(defs.stats.source)
    typo = replace(defs.stats, features=[Feature("trps", "int64")])
    with pytest.raises(InvalidInputError) as caught:
        store.apply([defs.driver, typo])
    message = str(caught.value)
    assert "its source has no column 'trps' (the feature, declared int64); did you mean trips?" in (
        message
    )
    assert message.endswith("columns: city, driver_id, event_time, rating, trips")
    late = replace(defs.stats, timestamp_field="event_tme")
    with pytest.raises(InvalidInputError, match=r"no column 'event_tme' \(the timestamp field\)"):
        store.apply([defs.driver, late])
    assert _rows(settings) == []
    assert "file_row_number" not in message


def test_a_view_naming_a_column_its_dataset_source_lacks_is_refused_at_apply(
    store: FeatureStore, defs: Definitions, settings: Settings, stats_frame: pd.DataFrame
) -> None:
    DatasetClient(settings).log("stats", stats_frame)
    typo = replace(
        defs.stats, source="datasets:/stats@latest", features=[Feature("rate", "float64")]
    )
    with pytest.raises(InvalidInputError, match=r"no column 'rate'.*did you mean rating") as caught:
        store.apply([defs.driver, typo])
    assert str(caught.value).endswith("columns: city, driver_id, event_time, rating, trips")
    assert _rows(settings) == []


def test_a_source_written_after_apply_is_checked_at_materialize_without_internal_columns(
    store: FeatureStore, defs: Definitions, stats_frame: pd.DataFrame
) -> None:
    store.apply(defs.all)  # the source does not exist yet: nothing to check
    stats_frame.drop(columns=["rating"]).to_parquet(defs.stats.source)
    with pytest.raises(InvalidInputError, match="no column 'rating'") as caught:
        store.materialize(datetime(2025, 1, 1, tzinfo=UTC))
    assert str(caught.value).endswith("columns: city, driver_id, event_time, trips")
