"""Definitions: validation with clear messages, canonical specs, on-demand functions."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from loopml.errors import InvalidInputError
from loopml.features import (
    Entity,
    Feature,
    FeatureView,
    OnDemandFeatureView,
    RequestField,
    on_demand_feature_view,
)
from loopml.features._spec import diff_specs, spec_digest

from ._defs import make_definitions, trips_per_km

DRIVER = Entity("driver", join_keys=["driver_id"])


def view(**changes: object) -> FeatureView:
    args: dict[str, object] = {
        "name": "stats",
        "entities": [DRIVER],
        "source": "/data/stats.parquet",
        "timestamp_field": "ts",
        "features": [Feature("trips", "int64")],
    }
    args.update(changes)
    return FeatureView(**args)  # type: ignore[arg-type]


def test_entity_join_keys_default_to_its_name() -> None:
    assert Entity("driver_id").join_keys == ("driver_id",)
    assert Entity("trip", join_keys="trip_id").join_keys == ("trip_id",)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Entity("bad name"), "entity name 'bad name' is not valid"),
        (lambda: Entity("a:b"), "is not valid"),
        (lambda: Entity("d", join_keys=["x", "x"]), "repeats a join key"),
        (lambda: Feature("trips", "int"), "unknown dtype 'int'; did you mean int64, int32"),
        (lambda: Feature("trips", "flaot64"), "did you mean float64"),
        (lambda: Feature("no-dash", "int64"), "not a valid column name"),
        (lambda: view(entities=["driver"]), "the Entity objects, not their names"),
        (lambda: view(entities=[]), "needs entities"),
        (lambda: view(features=[]), "needs features"),
        (lambda: view(features=[Feature("ts", "int64")]), "uses column 'ts' twice"),
        (lambda: view(features=[Feature("driver_id", "int64")]), "as join key and as feature"),
        (lambda: view(ttl=timedelta(0)), "positive datetime.timedelta"),
        (lambda: view(ttl=3600), "positive datetime.timedelta"),
        (lambda: view(source=""), "needs a source"),
        (lambda: view(source="datasets:/trips"), "malformed URI"),
        (lambda: view(source="datasets:/trips/1/data.csv"), "names a file inside a dataset"),
    ],
)
def test_bad_definitions_say_what_is_wrong(make: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        make()  # type: ignore[operator]


def test_feature_view_spec_round_trips() -> None:
    stats = view(ttl=timedelta(hours=2), tags={"team": "ops"}, description="trips")
    again = FeatureView.from_spec(stats.spec())
    assert again.spec() == stats.spec()
    assert stats.spec()["ttl"] == 7200
    assert view(ttl=timedelta(milliseconds=1500)).spec()["ttl"] == 1.5
    assert spec_digest(again.spec()) == spec_digest(stats.spec())


def test_dataset_sources_are_recognised() -> None:
    stats = view(source="datasets:/trips@latest")
    assert stats.source_is_dataset
    assert stats.with_base_dir(Path("/elsewhere")).source == "datasets:/trips@latest"


def test_relative_sources_are_resolved_against_a_base(tmp_path: Path) -> None:
    assert view(source="data/s.parquet").with_base_dir(tmp_path).source == str(
        tmp_path / "data/s.parquet"
    )
    assert view(source="/abs/*.parquet").with_base_dir(tmp_path).source == "/abs/*.parquet"


def test_on_demand_view_describes_its_function_by_code(tmp_path: Path) -> None:
    defs = make_definitions(tmp_path / "s.parquet")
    ref = defs.density.spec()["function"]
    assert ref["name"] == "trips_per_km"
    assert ref["module"].endswith("_defs")
    assert "def trips_per_km" in ref["code"]
    assert len(ref["digest"]) == 64
    assert defs.density.inputs == (
        ("trips", "int64"),
        ("rating", "float64"),
        ("city", "string"),
        ("km", "float64"),
    )


def test_on_demand_transform_checks_and_types_the_output(tmp_path: Path) -> None:
    density = make_definitions(tmp_path / "s.parquet").density
    inputs = pd.DataFrame(
        {"trips": [4, 1], "rating": [None, 4.0], "city": ["a", "b"], "km": [2.0, 0.5]}
    )
    out = density.transform(inputs)
    assert list(out.columns) == ["trips_per_km", "rated"]
    assert out["trips_per_km"].tolist() == [2.0, 2.0]
    assert out["rated"].tolist() == [False, True]


def test_on_demand_refuses_lambdas_and_nested_functions() -> None:
    stats = view()
    with pytest.raises(InvalidInputError, match="not a module-level function"):
        OnDemandFeatureView("x", [stats], lambda df: df, [Feature("y", "int64")])

    def nested(df: pd.DataFrame) -> pd.DataFrame:
        return df

    with pytest.raises(InvalidInputError, match="not a module-level function"):
        on_demand_feature_view(sources=[stats], schema=[Feature("y", "int64")])(nested)


def test_on_demand_inputs_must_not_collide() -> None:
    with pytest.raises(InvalidInputError, match="'trips' twice among its input columns"):
        OnDemandFeatureView(
            "x", [view(), RequestField("trips", "int64")], trips_per_km, [Feature("y", "int64")]
        )


def test_bad_function_output_is_reported(tmp_path: Path) -> None:
    stats = view()
    broken = OnDemandFeatureView(
        "broken", [stats], trips_per_km, [Feature("trips_per_kn", "float64")]
    )
    inputs = pd.DataFrame({"trips": [1], "rating": [1.0], "km": [1.0]})
    with pytest.raises(
        InvalidInputError, match="no column 'trips_per_kn'; did you mean trips_per_km"
    ):
        broken.transform(inputs)


def test_spec_diff_names_each_change() -> None:
    old = view(ttl=timedelta(hours=1)).spec()
    new = view(
        ttl=timedelta(hours=2), features=[Feature("trips", "float64"), Feature("rating", "float64")]
    ).spec()
    changes = [str(c) for c in diff_specs(old, new)]
    assert changes == [
        "features.rating: added {'name': 'rating', 'dtype': 'float64', 'description': ''}",
        "features.trips.dtype: 'int64' -> 'float64'",
        "ttl: 3600 -> 7200",
    ]
    reordered = view(features=[Feature("b", "int64"), Feature("a", "int64")]).spec()
    ordered = view(features=[Feature("a", "int64"), Feature("b", "int64")]).spec()
    assert [c.change for c in diff_specs(ordered, reordered)] == ["reordered"]
