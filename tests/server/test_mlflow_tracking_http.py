"""MLflow's tracking routes over HTTP, in-process (no mlflow client needed).

The real clients are driven in test_mlflow_tracking.py; these pin the wire format and the
translations that hold whether or not those clients are installed.
"""

from __future__ import annotations

from typing import Any

import pytest

from loopml.errors import InvalidInputError
from loopml.server.mlflow.tracking import translate_filter
from loopml.tracking import TrackingClient

from ._support import Server

API = "/api/2.0/mlflow"


def _post(server: Server, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = server.client.post(API + path, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def _get(server: Server, path: str, **params: Any) -> dict[str, Any]:
    response = server.client.get(API + path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    ("mlflow", "loopml"),
    [
        ("tags.mlflow.runName = 'a'", "attributes.run_name = 'a'"),
        ("tags.`mlflow.parentRunId` = 'x'", "attributes.parent_run_id = 'x'"),
        ("attributes.created > 5 and metrics.acc >= 0.5", "attributes.start_time > 5 AND "),
        ("attribute.user_id = 'ana'", "attributes.user = 'ana'"),
        ("params.model IN ('rf', 'gbm')", "params.model IN ('rf', 'gbm')"),
        ("  ", None),
    ],
)
def test_translate_filter(mlflow: str, loopml: str | None) -> None:
    translated = translate_filter(mlflow)
    if loopml is None:
        assert translated is None
    else:
        assert translated is not None
        assert translated.startswith(loopml)


def test_translate_filter_refuses_with_the_place() -> None:
    with pytest.raises(InvalidInputError, match="datasets"):
        translate_filter("datasets.name = 'iris'")


def test_run_round_trip_in_mlflow_shape(open_server: Server) -> None:
    exp_id = _post(open_server, "/experiments/create", {"name": "wire"})["experiment_id"]
    run = _post(
        open_server,
        "/runs/create",
        {
            "experiment_id": exp_id,
            "run_name": "r1",
            "start_time": 1,
            "tags": [{"key": "team", "value": "risk"}],
        },
    )["run"]
    run_id = run["info"]["run_id"]
    assert run["info"]["status"] == "RUNNING"
    assert run["info"]["artifact_uri"] == f"mlflow-artifacts:/{exp_id}/{run_id}/artifacts"
    _post(
        open_server,
        "/runs/log-batch",
        {
            "run_id": run_id,
            "metrics": [
                {"key": "loss", "value": v, "timestamp": 1000 + i, "step": i}
                for i, v in enumerate([1.0, "NaN", "Infinity", 0.5])
            ],
            "params": [{"key": "lr", "value": "0.1"}],
        },
    )
    _post(open_server, "/runs/log-metric", {"run_id": run_id, "key": "acc", "value": 0.9})
    _post(open_server, "/runs/set-tag", {"run_id": run_id, "key": "mlflow.runName", "value": "r2"})
    info = _post(open_server, "/runs/update", {"run_id": run_id, "status": "KILLED"})["run_info"]
    assert (info["status"], info["run_name"]) == ("KILLED", "r2")
    assert "end_time" in info
    history = _get(open_server, "/metrics/get-history", run_id=run_id, metric_key="loss")
    assert [m["value"] for m in history["metrics"]] == [1.0, "NaN", "Infinity", 0.5]
    paged = _get(
        open_server, "/metrics/get-history", run_id=run_id, metric_key="loss", max_results=3
    )
    assert (len(paged["metrics"]), paged["next_page_token"]) == (3, "3")
    bulk = _get(
        open_server,
        "/metrics/get-history-bulk-interval",
        run_ids=[run_id],
        metric_key="loss",
        max_results=2,
    )
    assert [(m["step"], m["run_id"]) for m in bulk["metrics"]] == [(0, run_id), (3, run_id)]
    client = TrackingClient(open_server.settings, capture_env=False)
    try:
        stored = client.get_run(run_id)
        assert (stored.name, str(stored.status), stored.params) == ("r2", "killed", {"lr": "0.1"})
        assert stored.tags["team"] == "risk"
    finally:
        client.close()


def test_search_runs_over_get_and_post(open_server: Server) -> None:
    exp_id = _post(open_server, "/experiments/create", {"name": "wire-search"})["experiment_id"]
    for i in range(3):
        run_id = _post(open_server, "/runs/create", {"experiment_id": exp_id, "run_name": f"r{i}"})[
            "run"
        ]["info"]["run_id"]
        _post(open_server, "/runs/log-metric", {"run_id": run_id, "key": "acc", "value": i})
    body = {
        "experiment_ids": [exp_id],
        "filter": "metrics.acc >= 1",
        "order_by": ["metrics.acc DESC"],
    }
    found = _post(open_server, "/runs/search", body)["runs"]
    assert [r["info"]["run_name"] for r in found] == ["r2", "r1"]
    found = _get(open_server, "/runs/search", **body)["runs"]
    assert [r["info"]["run_name"] for r in found] == ["r2", "r1"]
    response = open_server.client.post(
        API + "/runs/search", json={"experiment_ids": [exp_id], "filter": "metrics.acc >>> 1"}
    )
    assert (response.status_code, response.json()["error_code"]) == (
        400,
        "INVALID_PARAMETER_VALUE",
    )


def test_unknown_ids_are_resource_does_not_exist(open_server: Server) -> None:
    for path, params in [
        ("/runs/get", {"run_id": "01NOSUCHRUN000000000000000"}),
        ("/experiments/get", {"experiment_id": "01NOSUCH00000000000000000"}),
        ("/experiments/get-by-name", {"experiment_name": "nope"}),
    ]:
        response = open_server.client.get(API + path, params=params)
        assert response.status_code == 404, path
        assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    response = open_server.client.get(API + "/runs/get")
    assert (response.status_code, response.json()["error_code"]) == (
        400,
        "INVALID_PARAMETER_VALUE",
    )


def test_artifact_proxy_upload_list_download(open_server: Server) -> None:
    client = TrackingClient(open_server.settings, capture_env=False)
    try:
        run = client.create_run("wire-artifacts")
    finally:
        client.close()
    root = f"/api/2.0/mlflow-artifacts/artifacts/{run.experiment_id}/{run.id}/artifacts"
    payload = bytes(range(256)) * 100
    assert open_server.client.put(f"{root}/dir/blob.bin", content=payload).status_code == 200
    listed = open_server.client.get(
        "/api/2.0/mlflow-artifacts/artifacts",
        params={"path": f"{run.experiment_id}/{run.id}/artifacts/dir"},
    ).json()
    assert listed == {"files": [{"path": "blob.bin", "is_dir": False, "file_size": len(payload)}]}
    assert open_server.client.get(f"{root}/dir/blob.bin").content == payload
    listed = _get(open_server, "/artifacts/list", run_id=run.id)
    assert listed["files"] == [{"path": "dir", "is_dir": True}]
    missing = open_server.client.get(f"{root}/dir/nothing.bin")
    assert (missing.status_code, missing.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    wrong = open_server.client.get(f"/api/2.0/mlflow-artifacts/artifacts/0/{run.id}/artifacts/x")
    assert wrong.status_code == 404


def test_an_mlflow_route_loopml_lacks_answers_in_mlflows_shape(open_server: Server) -> None:
    answer = open_server.client.post("/api/2.0/mlflow/traces/start", json={})
    assert answer.status_code == 404
    body = answer.json()
    assert body["error_code"] == "ENDPOINT_NOT_FOUND"
    assert "docs/mlflow.md" in body["message"]
