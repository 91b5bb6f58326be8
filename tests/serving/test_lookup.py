"""Online feature lookup for serving: entity keys in, the model's input and its features out.

Everything is real: feature definitions over a Parquet file, a SQLite metadata store and
SQLite online store, a scikit-learn model trained in a run on a point-in-time training
set, logged and registered, then loaded from the registry as a server would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import requests
from _serving_support import Served
from sklearn.tree import DecisionTreeClassifier

import loopml
from loopml.config import Settings
from loopml.errors import InvalidInputError, NotFoundError
from loopml.features import Entity, Feature, FeatureStore, FeatureView, OnDemandFeatureView
from loopml.features import RequestField as Request
from loopml.monitoring import read_predictions
from loopml.packaging.loading import LoadedModel
from loopml.registry.loading import load_model
from loopml.serving.batching import Batcher
from loopml.serving.lookup import FeatureLookup
from loopml.testing import FakeClock

T0 = datetime(2025, 3, 1, tzinfo=UTC)
DRIVERS = list(range(1, 21))


def trips_per_km(df: pd.DataFrame) -> pd.DataFrame:
    """Trips per kilometre of the requested ride."""
    return pd.DataFrame({"trips_per_km": df["trips"] / df["km"]})


def _stats() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "driver_id": DRIVERS,
            "event_time": [pd.Timestamp(T0 - timedelta(hours=1)).tz_convert(None)] * 20,
            "trips": rng.integers(1, 50, 20),
            "rating": np.round(rng.uniform(3, 5, 20), 2),
            "city": [f"c{n % 3}" for n in DRIVERS],
        }
    )


@dataclass
class Trained:
    store: FeatureStore
    settings: Settings
    stats: pd.DataFrame
    tree: DecisionTreeClassifier

    def load(self, version: int = 1) -> LoadedModel:
        return load_model(f"models:/churn/{version}", settings=self.settings)


@pytest.fixture
def trained(tmp_path: Path) -> Iterator[Trained]:
    settings = Settings.load(home=tmp_path / "home")
    stats = _stats()
    stats.to_parquet(tmp_path / "stats.parquet")
    driver = Entity("driver", join_keys=["driver_id"])
    view = FeatureView(
        "driver_stats",
        [driver],
        tmp_path / "stats.parquet",
        "event_time",
        [Feature("trips", "int64"), Feature("rating", "float64"), Feature("city", "string")],
    )
    density = OnDemandFeatureView(
        "density",
        sources=[view, Request("km", "float64")],
        function=trips_per_km,
        schema=[Feature("trips_per_km", "float64")],
    )
    store = FeatureStore(settings, clock=FakeClock(T0))
    store.apply([driver, view, density])
    entities = pd.DataFrame(
        {
            "driver_id": DRIVERS * 2,
            "km": np.linspace(1, 20, 40),
            "event_timestamp": [pd.Timestamp(T0).tz_convert(None)] * 40,
        }
    )
    loopml.configure(home=str(settings.home), db_url=settings.db_url)
    with loopml.start_run(experiment="churn"):
        train = store.get_training_set(
            entities, ["driver_stats:trips", "driver_stats:rating", "density:trips_per_km"]
        )
        x = train[["trips", "rating", "km", "trips_per_km"]]
        y = (train["trips_per_km"] > 2).astype("int64")
        tree = DecisionTreeClassifier(random_state=0).fit(x, y)
        loopml.log_model(tree, input_example=x.head(), register_as="churn")
    store.materialize(T0 - timedelta(days=1), T0)
    yield Trained(store, settings, stats, tree)
    store.close()


def test_a_model_trained_on_features_looks_them_up_from_entity_keys(trained: Trained) -> None:
    loaded = trained.load()
    lookup = FeatureLookup.for_model(loaded, trained.store)
    assert lookup is not None
    assert lookup.features == {
        "trips": "driver_stats:trips",
        "rating": "driver_stats:rating",
        "trips_per_km": "density:trips_per_km",
    }
    assert (lookup.join_keys, lookup.request_fields, lookup.passthrough) == (
        ("driver_id",),
        ("km",),
        ("km",),
    )
    model_input, used = lookup.enrich([{"driver_id": 3, "km": 2.0}, {"driver_id": 7, "km": 5.0}])
    stats = trained.stats.set_index("driver_id")
    trips = [int(stats.loc[3, "trips"]), int(stats.loc[7, "trips"])]
    expected = pd.DataFrame(
        {
            "trips": trips,
            "rating": [stats.loc[3, "rating"], stats.loc[7, "rating"]],
            "km": [2.0, 5.0],
            "trips_per_km": [trips[0] / 2.0, trips[1] / 5.0],
        }
    )
    assert list(model_input.columns) == ["trips", "rating", "km", "trips_per_km"]
    pd.testing.assert_frame_equal(model_input, expected, check_dtype=False)
    assert used == {
        "trips": trips,
        "rating": expected["rating"].tolist(),
        "trips_per_km": expected["trips_per_km"].tolist(),
    }
    assert loaded.predict(model_input).tolist() == trained.tree.predict(expected).tolist()


def test_columns_a_dataframe_and_a_single_record_are_accepted(trained: Trained) -> None:
    lookup = FeatureLookup.for_model(trained.load(), trained.store)
    assert lookup is not None
    records = lookup.enrich([{"driver_id": 4, "km": 3.0}, {"driver_id": 5, "km": 1.0}])
    columns = lookup.enrich({"driver_id": np.array([4, 5]), "km": [3.0, 1.0]})
    frame = lookup.enrich(pd.DataFrame({"driver_id": [4, 5], "km": [3.0, 1.0]}))
    for model_input, used in (columns, frame):
        pd.testing.assert_frame_equal(model_input, records[0])
        assert used == records[1]
    one, _ = lookup.enrich({"driver_id": 4, "km": 3.0})
    pd.testing.assert_frame_equal(one, records[0].head(1))


def test_a_missing_or_null_entity_key_is_a_400_naming_it_and_the_rows(trained: Trained) -> None:
    lookup = FeatureLookup.for_model(trained.load(), trained.store)
    assert lookup is not None
    with pytest.raises(InvalidInputError, match=r"lacks 'driver_id' in rows 1, 2") as caught:
        lookup.enrich([{"driver_id": 3, "km": 1.0}, {"km": 1.0}, {"driver_id": None, "km": 2.0}])
    assert caught.value.http_status == 400
    assert caught.value.details == {"missing": {"driver_id": [1, 2]}}
    with pytest.raises(InvalidInputError, match=r"lacks 'km' in row 0.*by driver_id"):
        lookup.enrich([{"driver_id": 3}])


def test_an_unknown_entity_is_refused_where_the_signature_takes_no_null(
    trained: Trained,
) -> None:
    lookup = FeatureLookup.for_model(trained.load(), trained.store)
    assert lookup is not None
    assert trained.load().signature is not None
    with pytest.raises(InvalidInputError, match=r"driver_stats:trips for \(driver_id=999\)"):
        lookup.enrich([{"driver_id": 3, "km": 1.0}, {"driver_id": 999, "km": 1.0}])


def test_an_unknown_entity_gives_nulls_where_the_signature_allows_them(trained: Trained) -> None:
    loaded = trained.load()
    lookup = FeatureLookup.for_model(
        loaded, trained.store, features=["driver_stats:rating", "density:trips_per_km"]
    )
    assert lookup is not None
    assert lookup.passthrough == ("trips", "km")
    model_input, used = lookup.enrich([{"driver_id": 999, "km": 1.0, "trips": 4}])
    assert used == {"rating": [None], "trips_per_km": [None]}
    assert np.isnan(model_input.loc[0, "rating"])
    assert model_input["rating"].dtype == np.float64
    assert loaded.predict(model_input).shape == (1,)  # the tree takes NaN


def test_a_request_carrying_every_input_is_used_as_it_is(trained: Trained) -> None:
    lookup = FeatureLookup.for_model(trained.load(), trained.store)
    assert lookup is not None
    full = {"trips": [5], "rating": [4.5], "km": [1.0], "trips_per_km": [5.0], "driver_id": [3]}
    model_input, used = lookup.enrich(full)
    assert used == {}
    assert model_input.to_dict("list") == {
        "trips": [5],
        "rating": [4.5],
        "km": [1.0],
        "trips_per_km": [5.0],
    }


def test_empty_rows_give_an_empty_input_without_reading_the_store(trained: Trained) -> None:
    lookup = FeatureLookup.for_model(trained.load(), trained.store)
    assert lookup is not None
    model_input, used = lookup.enrich([])
    assert list(model_input.columns) == ["trips", "rating", "km", "trips_per_km"]
    assert len(model_input) == 0
    assert used == {}


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("driver_id=3", "takes records, columns or a DataFrame, got str"),
        ([{"driver_id": 3}, [3]], "row 1 is a list"),
        ({"driver_id": [3, 4], "km": [1.0]}, "lists of one length, got driver_id: 2, km: 1"),
        ({"driver_id": [3], "km": 1.0}, "km: a single value"),
        ([{"driver_id": 3.5, "km": 1.0}], "join key 'driver_id' is 3.5"),
        ([{"driver_id": 2**70, "km": 1.0}], None),  # a huge key is only an unknown entity
    ],
)
def test_hostile_rows_are_refused_with_a_400(
    trained: Trained, rows: Any, message: str | None
) -> None:
    lookup = FeatureLookup.for_model(trained.load(), trained.store)
    assert lookup is not None
    with pytest.raises(InvalidInputError, match=message or "no online value") as caught:
        lookup.enrich(rows)
    assert caught.value.http_status == 400


def test_a_model_without_recorded_features_needs_no_lookup(
    trained: Trained, tmp_path: Path
) -> None:
    x = pd.DataFrame({"trips": [1, 2], "km": [1.0, 2.0]})
    with loopml.start_run(experiment="plain"):
        tree = DecisionTreeClassifier().fit(x, [0, 1])
        loopml.log_model(tree, input_example=x, register_as="churn")
    assert FeatureLookup.for_model(trained.load(2), trained.store) is None


def test_declared_features_must_match_the_models_inputs(trained: Trained) -> None:
    loaded = trained.load()
    with pytest.raises(InvalidInputError, match=r"none of the declared features \(city\)"):
        FeatureLookup.for_model(loaded, trained.store, features=["driver_stats:city"])
    with pytest.raises(NotFoundError, match="driver_stats:trip"):
        FeatureLookup.for_model(loaded, trained.store, features=["driver_stats:trip"])
    x = np.zeros((2, 2))
    with loopml.start_run(experiment="tensor"):
        tree = DecisionTreeClassifier().fit(x, [0, 1])
        loopml.log_model(tree, input_example=x, register_as="churn")
    tensor_model = trained.load(2)
    with pytest.raises(InvalidInputError, match="no table signature"):
        FeatureLookup.for_model(tensor_model, trained.store, features=["driver_stats:trips"])
    assert FeatureLookup.for_model(tensor_model, trained.store) is None


def test_a_column_two_recorded_features_filled_must_be_declared(
    trained: Trained, tmp_path: Path
) -> None:
    store = trained.store
    other = FeatureView(
        "driver_totals",
        [store.definitions().entities["driver"]],
        tmp_path / "stats.parquet",
        "event_time",
        [Feature("trips", "int64")],
    )
    store.apply([other])
    entities = pd.DataFrame(
        {"driver_id": DRIVERS, "event_timestamp": [pd.Timestamp(T0).tz_convert(None)] * 20}
    )
    with loopml.start_run(experiment="ambiguous"):
        first = store.get_training_set(entities, ["driver_stats:trips"])
        store.get_training_set(entities, ["driver_totals:trips"])
        x = first[["trips"]]
        tree = DecisionTreeClassifier().fit(x, [n % 2 for n in DRIVERS])
        loopml.log_model(tree, input_example=x.head(), register_as="churn")
    loaded = trained.load(2)
    with pytest.raises(InvalidInputError, match=r"driver_stats:trips and driver_totals:trips"):
        FeatureLookup.for_model(loaded, store)
    lookup = FeatureLookup.for_model(loaded, store, features=["driver_totals:trips"])
    assert lookup is not None
    assert lookup.features == {"trips": "driver_totals:trips"}


def test_a_view_changed_since_training_is_warned_about(
    trained: Trained, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = trained.store
    view = store.definitions().views["driver_stats"]
    changed = FeatureView(
        "driver_stats",
        [store.definitions().entities["driver"]],
        tmp_path / "stats.parquet",
        "event_time",
        list(view.features),
        ttl=timedelta(days=30),
    )
    assert store.apply([changed]).of("driver_stats").version == 2
    with caplog.at_level("WARNING", logger="loopml.serving"):
        lookup = FeatureLookup.for_model(trained.load(), store)
    assert lookup is not None
    assert "trained on driver_stats version 1; the online store serves version 2" in caplog.text


def test_enriched_requests_batch_together_as_the_server_chains_them(trained: Trained) -> None:
    loaded = trained.load()
    lookup = FeatureLookup.for_model(loaded, trained.store)
    assert lookup is not None
    requests = [[{"driver_id": d, "km": 1.0 + d}] for d in DRIVERS]
    sizes: list[int] = []

    async def serve() -> list[Any]:
        batcher = Batcher(
            loaded.predict,
            max_batch_size=64,
            max_batch_time_ms=5,
            on_batch=lambda report: sizes.append(report.requests),
        )

        async def one(rows: list[dict[str, Any]]) -> Any:
            model_input, _ = await asyncio.to_thread(lookup.enrich, rows)
            return await batcher.submit(model_input)

        outputs = await asyncio.gather(*(one(rows) for rows in requests))
        await batcher.close()
        return list(outputs)

    outputs = asyncio.run(serve())
    expected = loaded.predict(lookup.enrich([row for rows in requests for row in rows])[0])
    assert [int(out[0]) for out in outputs] == expected.tolist()
    assert sum(sizes) == len(requests)


def test_loopml_serve_looks_features_up_over_http_and_logs_them(
    trained: Trained, servers: list[Served]
) -> None:
    served = Served("models:/churn/1", home=trained.settings.home)
    servers.append(served)
    rows = [{"driver_id": 3, "km": 2.0}, {"driver_id": 7, "km": 5.0}]
    lookup = FeatureLookup.for_model(trained.load(), trained.store)
    assert lookup is not None
    model_input, used = lookup.enrich(rows)
    expected = trained.tree.predict(model_input).tolist()
    reply = requests.post(f"{served.url}/predict", json=rows, timeout=30)
    assert reply.status_code == 200, reply.text
    assert reply.json()["predictions"] == expected
    tensors = {  # the same keys as V2 tensors, as tritonclient would send them
        "inputs": [
            {"name": "driver_id", "shape": [2], "datatype": "INT64", "data": [3, 7]},
            {"name": "km", "shape": [2, 1], "datatype": "FP64", "data": [2.0, 5.0]},
        ]
    }
    v2 = requests.post(f"{served.url}/v2/models/churn/infer", json=tensors, timeout=30)
    assert v2.status_code == 200, v2.text
    assert v2.json()["outputs"][0]["data"] == expected
    missing = requests.post(f"{served.url}/predict", json=[{"km": 2.0}], timeout=30)
    assert missing.status_code == 400
    assert "lacks 'driver_id' in row 0" in missing.json()["error"]["message"]
    assert served.stop() == 0

    logged = read_predictions("churn", settings=trained.settings)
    answered = logged[logged["status"] == 200]
    assert len(answered) == 4  # two rows for each of the two requests
    for _, request in answered.groupby("request_id"):
        for column, values in used.items():
            assert request[f"feature.{column}"].tolist() == pytest.approx(values)
        assert request["output.predict"].tolist() == expected
    assert logged[logged["status"] == 400]["error"].str.contains("driver_id").all()
