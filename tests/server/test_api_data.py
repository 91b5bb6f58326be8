"""``/api/v1`` datasets and feature definitions: what the components store, served."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest

from loopml.config import Settings
from loopml.data import DatasetClient, infer_schema
from loopml.features import Entity, Feature, FeatureStore, FeatureView

from ._support import Server

V1 = "/api/v1"


def _error(reply: Any, status: int) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert set(error) >= {"code", "message"}
    return error


@pytest.fixture
def datasets(server_settings: Settings) -> DatasetClient:
    client = DatasetClient(server_settings)
    client.log("iris", pd.DataFrame({"x": [1, 2, 3], "kind": ["a", "b", "a"]}))
    client.log("iris", pd.DataFrame({"x": [1, 2, 3, 4], "kind": ["a", "b", "a", "c"]}))
    client.log("alpha", pd.DataFrame({"y": [0.5]}))
    return client


def test_datasets_and_versions_are_listed_and_paged(
    open_server: Server, datasets: DatasetClient
) -> None:
    http = open_server.client
    first = http.get(f"{V1}/datasets", params={"limit": 1}).json()
    assert [d["name"] for d in first["datasets"]] == ["alpha"]
    rest = http.get(f"{V1}/datasets", params={"page_token": first["next_page_token"]}).json()
    assert [(d["name"], d["version_count"]) for d in rest["datasets"]] == [("iris", 2)]
    assert http.get(f"{V1}/datasets/iris").json()["latest_version"] == 2
    versions = http.get(f"{V1}/datasets/iris/versions", params={"limit": 1}).json()
    assert [v["uri"] for v in versions["versions"]] == ["datasets:/iris/1"]
    assert versions["next_page_token"] is not None

    latest = http.get(f"{V1}/datasets/iris/versions/latest").json()
    assert (latest["version"], latest["row_count"]) == (2, 4)
    assert latest["digest"] == datasets.get("datasets:/iris/2").digest
    schema = http.get(f"{V1}/datasets/iris/versions/1/schema").json()["schema"]
    assert [c["name"] for c in schema["columns"]] == ["x", "kind"]
    profile = http.get(f"{V1}/datasets/iris/versions/2/profile").json()["profile"]
    assert profile == datasets.get("datasets:/iris/2").profile
    files = http.get(f"{V1}/datasets/iris/versions/2/files").json()["files"]
    assert len(files) == 1
    assert files[0]["digest"] == datasets.files("datasets:/iris/2")[0].digest


def test_a_diff_between_two_versions_is_the_clients(
    open_server: Server, datasets: DatasetClient
) -> None:
    diff = open_server.client.get(f"{V1}/datasets/iris/diff", params={"a": "1", "b": "2"})
    body = diff.json()
    assert (body["a"], body["b"], body["row_delta"]) == ("datasets:/iris/1", "datasets:/iris/2", 1)
    stored = datasets.diff("datasets:/iris/1", "datasets:/iris/2").to_dict()
    assert body == orjson.loads(orjson.dumps(stored))
    assert body["stat_changes"]
    across = open_server.client.get(
        f"{V1}/datasets/iris/diff", params={"a": "datasets:/alpha/1"}
    ).json()
    assert across["added_columns"] == ["x", "kind"]
    assert across["removed_columns"] == ["y"]


def test_a_version_is_validated_against_a_schema_given_in_the_body(
    open_server: Server, datasets: DatasetClient
) -> None:
    schema = infer_schema(pd.DataFrame({"x": [1, 2, 3], "kind": ["a", "b", "a"]}))
    document = schema.to_dict()
    passed = open_server.client.post(
        f"{V1}/datasets/iris/versions/1/validate", json={"schema": document}
    )
    assert passed.status_code == 200, passed.text
    assert passed.json()["passed"] is True
    assert passed.json()["row_count"] == 3
    report = open_server.client.post(
        f"{V1}/datasets/iris/versions/2/validate", json={"schema": document}
    ).json()
    assert report["row_count"] == 4
    assert report["passed"] is False, report["summary"]
    bad = open_server.client.post(
        f"{V1}/datasets/iris/versions/2/validate", json={"schema": {"columns": 5}}
    )
    assert _error(bad, 400)


def test_a_validation_report_is_kept_when_an_editor_asks(
    server: Server, datasets: DatasetClient, server_settings: Settings
) -> None:
    document = infer_schema(pd.DataFrame({"x": [1, 2, 3], "kind": ["a", "b", "a"]})).to_dict()
    url = f"{V1}/datasets/iris/versions/2/validate"
    viewer, editor = server.user("vi", "viewer"), server.user("ed", "editor")
    assert server.client.post(url, headers=viewer, json={"schema": document}).status_code == 200
    asked = {"schema": document, "record": True, "note": "schema of v1"}
    assert _error(server.client.post(url, headers=viewer, json=asked), 403)
    assert DatasetClient(server_settings).list_validations("datasets:/iris/2") == []
    kept = server.client.post(url, headers=editor, json=asked)
    assert kept.status_code == 200, kept.text
    (record,) = DatasetClient(server_settings).list_validations("datasets:/iris/2")
    assert record.note == "schema of v1"
    assert record.passed is False


def test_bad_dataset_requests_get_4xx(open_server: Server, datasets: DatasetClient) -> None:
    http = open_server.client
    assert "iris" in _error(http.get(f"{V1}/datasets/irs"), 404)["message"]
    assert _error(http.get(f"{V1}/datasets/irs/versions"), 404)
    assert _error(http.get(f"{V1}/datasets/iris/versions/9"), 404)
    for bad in ("0", "-1", "x", "1.5", "9" * 40):
        assert _error(http.get(f"{V1}/datasets/iris/versions/{bad}"), 400)
    assert _error(http.get(f"{V1}/datasets", params={"page_token": "nonsense"}), 400)
    assert _error(http.get(f"{V1}/datasets/iris/versions", params={"limit": "-1"}), 400)
    assert _error(http.get(f"{V1}/datasets/iris/diff"), 400)
    assert _error(http.get(f"{V1}/datasets/iris/diff", params={"a": "datasets:/"}), 400)
    validate = f"{V1}/datasets/iris/versions/1/validate"
    assert _error(http.post(validate, json={}), 400)
    assert _error(http.post(validate, json={"schema": "x"}), 400)
    assert _error(http.get(f"{V1}/datasets/a%2Fb"), 404)


@pytest.fixture
def features(server_settings: Settings, tmp_path: Path) -> FeatureStore:
    source = tmp_path / "stats.parquet"
    pd.DataFrame(
        {
            "driver_id": [1],
            "event_time": [pd.Timestamp("2025-01-01", tz="UTC")],
            "trips": [3],
        }
    ).to_parquet(source)
    driver = Entity("driver", join_keys=["driver_id"])
    store = FeatureStore(server_settings, online_store="memory://")
    view = FeatureView(
        "driver_stats",
        entities=[driver],
        source=source,
        timestamp_field="event_time",
        features=[Feature("trips", "int64")],
        ttl=timedelta(hours=1),
    )
    store.apply([driver, view])
    store.apply([driver, FeatureView(**{**_view_args(view), "ttl": timedelta(hours=2)})])
    return store


def _view_args(view: FeatureView) -> dict[str, Any]:
    return {
        "name": view.name,
        "entities": view.entities,
        "source": view.source,
        "timestamp_field": view.timestamp_field,
        "features": view.features,
    }


def test_feature_definitions_and_views_are_listed_and_shown_with_versions(
    open_server: Server, features: FeatureStore
) -> None:
    http = open_server.client
    listed = http.get(f"{V1}/features").json()["definitions"]
    assert [(d["kind"], d["name"], d["version"]) for d in listed] == [
        ("entity", "driver", 1),
        ("feature_view", "driver_stats", 2),
    ]
    entities = http.get(f"{V1}/features", params={"kind": "entity"}).json()["definitions"]
    assert [d["name"] for d in entities] == ["driver"]
    views = http.get(f"{V1}/features/views").json()["views"]
    assert [v["name"] for v in views] == ["driver_stats"]
    one = http.get(f"{V1}/features/driver_stats").json()
    assert one["version"] == 2
    assert one["spec"] == features.get_definition("driver_stats").spec
    assert [v["version"] for v in one["versions"]] == [1, 2]
    old = http.get(f"{V1}/features/driver_stats", params={"version": 1}).json()
    assert old["spec"]["ttl"] == 3600
    assert "driver_stats" in _error(http.get(f"{V1}/features/driver_stat"), 404)["message"]
    assert _error(http.get(f"{V1}/features/driver_stats", params={"version": 9}), 404)
    assert _error(http.get(f"{V1}/features/driver_stats", params={"version": "x"}), 400)
    assert _error(http.get(f"{V1}/features", params={"kind": "table"}), 400)
