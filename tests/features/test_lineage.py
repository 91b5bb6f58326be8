"""Training sets record what a run learned from: the feature views and dataset versions."""

from __future__ import annotations

import pandas as pd
import pytest

import loopml
from loopml.config import Settings
from loopml.data.versions import DatasetClient
from loopml.errors import NotFoundError
from loopml.features import Entity, Feature, FeatureStore, FeatureView
from loopml.store import open_store
from loopml.store.lineage import edges_of
from loopml.testing import FakeClock

from .conftest import at, naive


def _consumed(settings: Settings, node: tuple[str, str]) -> list[tuple[str, str]]:
    with open_store(settings.db_url).read() as conn:
        return sorted(
            (e["dst_kind"], e["dst_id"])
            for e in edges_of(conn, node, "out")
            if e["edge"] == "consumed"
        )


def _store(settings: Settings, clock: FakeClock, frame: pd.DataFrame) -> tuple[FeatureStore, int]:
    version = DatasetClient(settings).log("driver_trips", frame).version
    view = FeatureView(
        "trips_ds",
        [Entity("driver", join_keys=["driver_id"])],
        "datasets:/driver_trips@latest",
        "event_time",
        [Feature("trips", "int64")],
    )
    store = FeatureStore(settings, online_store="memory://", clock=clock)
    store.apply([view])
    return store, version


def test_a_training_set_built_in_a_run_links_the_run_to_its_views_and_data(
    settings: Settings, clock: FakeClock, stats_frame: pd.DataFrame
) -> None:
    store, version = _store(settings, clock, stats_frame)
    rows = pd.DataFrame({"driver_id": [1, 2], "event_timestamp": [naive(at(12)), naive(at(10))]})
    loopml.configure(home=str(settings.home), db_url=settings.db_url)
    with loopml.start_run(experiment="lineage") as run:
        store.get_training_set(rows, ["trips_ds:trips"])
        store.get_training_set(rows, ["trips_ds:trips"])  # the same reads are linked once
    dataset = ("dataset_version", f"driver_trips/{version}")
    assert _consumed(settings, ("run", run.id)) == [dataset, ("feature_view", "trips_ds/1")]
    assert _consumed(settings, ("feature_view", "trips_ds/1")) == [dataset]


def test_outside_a_run_nothing_is_linked_and_an_unknown_run_is_an_error(
    settings: Settings, clock: FakeClock, stats_frame: pd.DataFrame
) -> None:
    store, _ = _store(settings, clock, stats_frame)
    rows = pd.DataFrame({"driver_id": [1], "event_timestamp": [naive(at(12))]})
    store.get_training_set(rows, ["trips_ds:trips"])
    assert _consumed(settings, ("feature_view", "trips_ds/1")) == []
    with pytest.raises(NotFoundError, match="run 'NOPE' not found"):
        store.get_training_set(rows, ["trips_ds:trips"], run_id="NOPE")


def test_a_run_records_the_features_its_training_sets_gave_it(local_store: FeatureStore) -> None:
    settings = local_store.settings
    rows = pd.DataFrame(
        {"driver_id": [1, 2], "km": [2.0, 4.0], "event_timestamp": [naive(at(12))] * 2}
    )
    loopml.configure(home=str(settings.home), db_url=settings.db_url)
    with loopml.start_run(experiment="features") as run:
        local_store.get_training_set(rows, ["driver_stats:trips", "density:trips_per_km"])
        local_store.get_training_set(rows, ["driver_stats:trips", "driver_stats:rating"])
        local_store.get_training_set(rows, ["driver_stats:city"], full_feature_names=True)
    used = local_store.training_features(run.id)
    assert [(u.column, u.reference, u.version, u.on_demand) for u in used] == [
        ("trips_per_km", "density:trips_per_km", 1, True),
        ("trips", "driver_stats:trips", 1, False),
        ("rating", "driver_stats:rating", 1, False),
        ("driver_stats__city", "driver_stats:city", 1, False),
    ]
    assert used[0].view == "density"
    # the on-demand view is an input of the run too, beside the view it reads
    assert _consumed(settings, ("run", run.id)) == [
        ("feature_view", "driver_stats/1"),
        ("on_demand_feature_view", "density/1"),
    ]


def test_a_run_without_training_sets_has_no_training_features(local_store: FeatureStore) -> None:
    settings = local_store.settings
    loopml.configure(home=str(settings.home), db_url=settings.db_url)
    with loopml.start_run(experiment="features") as run:
        pass
    assert local_store.training_features(run.id) == []
    assert local_store.training_features("NOPE") == []


def test_references_resolve_to_columns_join_keys_and_request_fields(
    local_store: FeatureStore,
) -> None:
    resolved = local_store.resolve_features(["driver_stats:*", "density:rated"])
    assert resolved.columns == {
        "trips": "driver_stats:trips",
        "rating": "driver_stats:rating",
        "city": "driver_stats:city",
        "rated": "density:rated",
    }
    assert resolved.join_keys == ("driver_id",)
    assert resolved.request_fields == ("km",)
    full = local_store.resolve_features(["driver_stats:trips"], full_feature_names=True)
    assert full.references == ["driver_stats:trips"]
    assert list(full.columns) == ["driver_stats__trips"]
    with pytest.raises(NotFoundError, match="driver_stats:trip"):
        local_store.resolve_features(["driver_stats:trip"])
