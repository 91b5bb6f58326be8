"""MLflow's model-registry REST API over HTTP: MLflow's JSON in, MLflow's JSON and errors out.

A model version is made from an MLflow model folder logged in a loopml run (MLmodel +
the pickled or skops model file), as an MLflow client would have logged it; the version
is then an ordinary loopml version that loopml itself loads.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from loopml.config import Settings
from loopml.errors import UntrustedTypesError
from loopml.registry.loading import load_model
from loopml.server import ServerConfig
from loopml.tracking import TrackingClient

from ._support import Server, make_server

API = "/api/2.0/mlflow"
X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] * 5)
Y = np.array([0, 1, 1, 1] * 5)


@pytest.fixture
def mlflow_server(server_settings: Settings) -> Iterator[Server]:
    yield from make_server(server_settings, ServerConfig(auth="none"))


def _fitted() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression().fit(X, Y)


def _mlflow_model_run(settings: Settings, tmp: Path, *, skops: bool = False) -> str:
    """A run holding ``model/`` as ``mlflow.sklearn.log_model`` writes it."""
    folder = tmp / "model"
    folder.mkdir()
    model = _fitted()
    if skops:
        import skops.io as sio

        sio.dump(model, folder / "model.skops")
        file, fmt = "model.skops", "skops"
    else:
        (folder / "model.pkl").write_bytes(pickle.dumps(model))
        file, fmt = "model.pkl", "cloudpickle"
    (folder / "MLmodel").write_text(
        "artifact_path: model\n"
        "flavors:\n"
        "  python_function:\n"
        "    loader_module: mlflow.sklearn\n"
        f"    model_path: {file}\n"
        "    python_version: 3.11.9\n"
        "  sklearn:\n"
        f"    pickled_model: {file}\n"
        f"    serialization_format: {fmt}\n"
        "    sklearn_version: 1.5.0\n"
        "mlflow_version: 3.1.0\n"
    )
    (folder / "requirements.txt").write_text("mlflow\nscikit-learn\n")
    tracking = TrackingClient(settings, capture_env=False)
    run = tracking.create_run("mlflow-registry")
    tracking.log_artifacts(run.id, folder, "model")
    tracking.end_run(run.id)
    tracking.close()
    return str(run.id)


def _post(server: Server, path: str, body: dict[str, Any], status: int = 200) -> Any:
    reply = server.client.post(API + path, json=body)
    assert reply.status_code == status, reply.text
    return reply.json()


def _get(server: Server, path: str, status: int = 200, **params: Any) -> Any:
    reply = server.client.get(API + path, params=params)
    assert reply.status_code == status, reply.text
    return reply.json()


def _delete(server: Server, path: str, body: dict[str, Any], status: int = 200) -> Any:
    reply = server.client.request("DELETE", API + path, json=body)
    assert reply.status_code == status, reply.text
    return reply.json()


def test_registered_models_are_created_read_tagged_searched_and_conflict(
    mlflow_server: Server,
) -> None:
    made = _post(
        mlflow_server,
        "/registered-models/create",
        {
            "name": "churn",
            "description": "who leaves",
            "tags": [{"key": "team", "value": "growth"}],
        },
    )["registered_model"]
    assert made["name"] == "churn"
    assert made["description"] == "who leaves"
    assert made["tags"] == [{"key": "team", "value": "growth"}]
    assert isinstance(made["creation_timestamp"], int)
    again = mlflow_server.client.post(API + "/registered-models/create", json={"name": "churn"})
    assert again.status_code == 400
    assert again.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"
    missing = mlflow_server.client.get(API + "/registered-models/get", params={"name": "nope"})
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"

    _post(mlflow_server, "/registered-models/create", {"name": "fraud"})
    _post(
        mlflow_server,
        "/registered-models/set-tag",
        {"name": "fraud", "key": "team", "value": "risk"},
    )
    reply = mlflow_server.client.patch(
        API + "/registered-models/update", json={"name": "fraud", "description": "card fraud"}
    )
    assert reply.json()["registered_model"]["description"] == "card fraud"
    found = _get(mlflow_server, "/registered-models/search", filter="tags.team = 'risk'")
    assert [m["name"] for m in found["registered_models"]] == ["fraud"]
    # MLflow 3 clients add this clause to every model search (prompts are models there).
    prompts = "tag.`mlflow.prompt.is_prompt` != 'true' AND tag.`team` = 'risk'"
    found = _get(mlflow_server, "/registered-models/search", filter=prompts)
    assert [m["name"] for m in found["registered_models"]] == ["fraud"]
    liked = _get(mlflow_server, "/registered-models/search", filter="name LIKE 'ch%'")
    assert [m["name"] for m in liked["registered_models"]] == ["churn"]
    first = _get(mlflow_server, "/registered-models/search", max_results=1, order_by="name DESC")
    assert [m["name"] for m in first["registered_models"]] == ["fraud"]
    rest = _get(
        mlflow_server,
        "/registered-models/search",
        max_results=1,
        order_by="name DESC",
        page_token=first["next_page_token"],
    )
    assert [m["name"] for m in rest["registered_models"]] == ["churn"]
    assert rest["next_page_token"] is None
    _delete(mlflow_server, "/registered-models/delete-tag", {"name": "fraud", "key": "team"})
    assert (
        _get(mlflow_server, "/registered-models/get", name="fraud")["registered_model"]["tags"]
        == []
    )
    bad = mlflow_server.client.get(API + "/registered-models/search", params={"filter": "name ~ 1"})
    assert bad.status_code == 400
    assert bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_a_version_from_an_mlflow_model_is_a_loopml_version_loopml_loads_when_trusted(
    mlflow_server: Server, tmp_path: Path
) -> None:
    settings = mlflow_server.settings
    run_id = _mlflow_model_run(settings, tmp_path)
    _post(mlflow_server, "/registered-models/create", {"name": "churn"})
    made = _post(
        mlflow_server,
        "/model-versions/create",
        {
            "name": "churn",
            "source": f"runs:/{run_id}/model",
            "run_id": run_id,
            "tags": [{"key": "stage", "value": "candidate"}],
        },
    )["model_version"]
    assert made["version"] == "1"
    assert made["status"] == "READY"
    assert made["current_stage"] == "None"
    assert made["run_id"] == run_id
    assert made["source"] == f"runs:/{run_id}/model"
    assert made["tags"] == [{"key": "stage", "value": "candidate"}]

    _post(
        mlflow_server,
        "/registered-models/alias",
        {"name": "churn", "alias": "champion", "version": "1"},
    )
    by_alias = _get(mlflow_server, "/registered-models/alias", name="churn", alias="champion")
    assert by_alias["model_version"]["version"] == "1"
    assert by_alias["model_version"]["aliases"] == ["champion"]
    model = _get(mlflow_server, "/registered-models/get", name="churn")["registered_model"]
    assert model["aliases"] == [{"alias": "champion", "version": "1"}]
    assert [v["version"] for v in model["latest_versions"]] == ["1"]

    # The pickle MLflow wrote is stored and registered, and loaded only when trusted.
    with pytest.raises(UntrustedTypesError, match='trusted=\\["pickle"\\]'):
        load_model("models:/churn@champion", settings=settings)
    loaded = load_model("models:/churn@champion", settings=settings, trusted=["pickle"])
    assert list(loaded.predict(X[:4])) == list(_fitted().predict(X[:4]))
    assert loaded.manifest.flavor == "mlflow"
    assert loaded.manifest.source_run == run_id


def test_an_mlflow_model_saved_with_skops_loads_without_trust(
    mlflow_server: Server, tmp_path: Path
) -> None:
    settings = mlflow_server.settings
    run_id = _mlflow_model_run(settings, tmp_path, skops=True)
    _post(mlflow_server, "/registered-models/create", {"name": "churn"})
    # A 2.x client sends the run's artifact URI plus the path.
    source = f"mlflow-artifacts:/1/{run_id}/artifacts/model"
    made = _post(
        mlflow_server,
        "/model-versions/create",
        {"name": "churn", "source": source, "run_id": run_id},
    )["model_version"]
    assert made["source"] == source
    assert _get(mlflow_server, "/model-versions/get-download-uri", name="churn", version="1") == {
        "artifact_uri": source
    }
    loaded = load_model("models:/churn/1", settings=settings)
    assert list(loaded.predict(X[:4])) == list(_fitted().predict(X[:4]))


def test_versions_are_searched_tagged_updated_and_deleted_mlflows_way(
    mlflow_server: Server, tmp_path: Path
) -> None:
    run_id = _mlflow_model_run(mlflow_server.settings, tmp_path)
    _post(mlflow_server, "/registered-models/create", {"name": "churn"})
    for _ in range(3):
        _post(
            mlflow_server,
            "/model-versions/create",
            {"name": "churn", "source": f"runs:/{run_id}/model", "run_id": run_id},
        )
    _post(
        mlflow_server,
        "/model-versions/set-tag",
        {"name": "churn", "version": "2", "key": "k", "value": "v"},
    )
    tagged = _get(mlflow_server, "/model-versions/search", filter="tags.k = 'v'")
    assert [v["version"] for v in tagged["model_versions"]] == ["2"]
    by_run = _get(mlflow_server, "/model-versions/search", filter=f"run_id = '{run_id}'")
    assert [v["version"] for v in by_run["model_versions"]] == ["3", "2", "1"]
    named = _get(
        mlflow_server, "/model-versions/search", filter="name = 'churn' AND version_number >= 2"
    )
    assert [v["version"] for v in named["model_versions"]] == ["3", "2"]
    nobody = _get(mlflow_server, "/model-versions/search", filter="name = 'nobody'")
    assert nobody == {"model_versions": [], "next_page_token": None}
    reply = mlflow_server.client.patch(
        API + "/model-versions/update", json={"name": "churn", "version": "2", "description": "d"}
    )
    assert reply.json()["model_version"]["description"] == "d"
    _delete(
        mlflow_server, "/model-versions/delete-tag", {"name": "churn", "version": "2", "key": "k"}
    )
    assert (
        _get(mlflow_server, "/model-versions/get", name="churn", version="2")["model_version"][
            "tags"
        ]
        == []
    )

    _post(
        mlflow_server,
        "/registered-models/alias",
        {"name": "churn", "alias": "champion", "version": "3"},
    )
    _delete(mlflow_server, "/model-versions/delete", {"name": "churn", "version": "3"})
    gone = mlflow_server.client.get(
        API + "/model-versions/get", params={"name": "churn", "version": "3"}
    )
    assert gone.status_code == 404
    assert gone.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    no_alias = mlflow_server.client.get(
        API + "/registered-models/alias", params={"name": "churn", "alias": "champion"}
    )
    assert no_alias.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    latest = _post(mlflow_server, "/registered-models/get-latest-versions", {"name": "churn"})
    assert [v["version"] for v in latest["model_versions"]] == ["2"]
    # loopml keeps the deleted version, archived.
    assert mlflow_server.client.get("/api/v1/health").status_code == 200
    from loopml.registry import RegistryClient

    assert RegistryClient(mlflow_server.settings).get_version("churn", 3).status.value == "archived"

    _delete(mlflow_server, "/registered-models/delete", {"name": "churn"})
    assert (
        mlflow_server.client.get(
            API + "/registered-models/get", params={"name": "churn"}
        ).status_code
        == 404
    )
    assert _get(mlflow_server, "/registered-models/search")["registered_models"] == []
    assert _get(mlflow_server, "/model-versions/search")["model_versions"] == []
    again = _post(mlflow_server, "/registered-models/create", {"name": "churn"})
    assert again["registered_model"]["tags"] == []
    assert "latest_versions" not in again["registered_model"]


def test_what_is_not_supported_says_so_with_mlflows_error_shape(
    mlflow_server: Server, tmp_path: Path
) -> None:
    _post(mlflow_server, "/registered-models/create", {"name": "churn"})
    stage = mlflow_server.client.post(
        API + "/model-versions/transition-stage",
        json={"name": "churn", "version": "1", "stage": "Production"},
    )
    assert stage.status_code == 400
    assert "alias" in stage.json()["message"]
    rename = mlflow_server.client.post(
        API + "/registered-models/rename", json={"name": "churn", "new_name": "c2"}
    )
    assert rename.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    no_model = mlflow_server.client.post(
        API + "/model-versions/create", json={"name": "churn", "source": "s3://bucket/model"}
    )
    assert no_model.status_code == 400
    assert "runs:/" in no_model.json()["message"]
    empty_run = TrackingClient(mlflow_server.settings, capture_env=False)
    run = empty_run.create_run("mlflow-registry")
    empty_run.close()
    nothing = mlflow_server.client.post(
        API + "/model-versions/create", json={"name": "churn", "source": f"runs:/{run.id}/model"}
    )
    assert nothing.status_code == 404
    assert nothing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_the_registry_routes_answer_under_the_ajax_prefix_and_need_an_editor_to_write(
    server: Server,
) -> None:
    viewer = server.user("vic", "viewer")
    editor = server.user("eve", "editor")
    refused = server.client.post(
        "/ajax-api/2.0/mlflow/registered-models/create", json={"name": "m"}, headers=viewer
    )
    assert refused.status_code == 403
    assert refused.json()["error_code"] == "PERMISSION_DENIED"
    made = server.client.post(
        "/ajax-api/2.0/mlflow/registered-models/create", json={"name": "m"}, headers=editor
    )
    assert made.status_code == 200
    read = server.client.get(API + "/registered-models/get", params={"name": "m"}, headers=viewer)
    assert read.json()["registered_model"]["name"] == "m"


def test_an_mlflow_3_logged_model_is_created_uploaded_finalized_found_and_registered(
    mlflow_server: Server, tmp_path: Path
) -> None:
    settings = mlflow_server.settings
    tracking = TrackingClient(settings, capture_env=False)
    source_run = tracking.create_run("mlflow-registry")
    experiment_id = source_run.experiment_id
    made = _post(
        mlflow_server,
        "/logged-models",
        {
            "experiment_id": experiment_id,
            "name": "model",
            "source_run_id": source_run.id,
            "model_type": "classifier",
            "tags": [{"key": "team", "value": "growth"}],
            "params": [{"key": "C", "value": "1.0"}],
        },
    )["model"]
    info = made["info"]
    assert info["model_id"].startswith("m-")
    assert info["status"] == "LOGGED_MODEL_PENDING"
    assert info["source_run_id"] == source_run.id
    assert info["tags"] == [{"key": "team", "value": "growth"}]
    assert made["data"]["params"] == [{"key": "C", "value": "1.0"}]
    holder = info["artifact_uri"].split("/")[-2]  # mlflow-artifacts:/<exp>/<run>/artifacts
    # The client uploads the model folder to artifact_uri (the artifact proxy's job):
    folder = tmp_path / "upload"
    folder.mkdir()
    run_id = _mlflow_model_run(settings, folder)
    for entry in tracking.run_artifacts.list(run_id, "model"):
        data = tracking.run_artifacts.read_bytes(run_id, entry.path)
        tracking.run_artifacts.log_bytes(holder, data, entry.path.removeprefix("model/"))
    tracking.close()

    done = mlflow_server.client.patch(
        f"{API}/logged-models/{info['model_id']}",
        json={"model_id": info["model_id"], "status": "LOGGED_MODEL_READY"},
    )
    assert done.json()["model"]["info"]["status"] == "LOGGED_MODEL_READY"
    found = _post(mlflow_server, "/logged-models/search", {"experiment_ids": [experiment_id]})[
        "models"
    ]
    assert [m["info"]["model_id"] for m in found] == [info["model_id"]]
    _post(
        mlflow_server,
        "/runs/outputs",
        {"run_id": source_run.id, "models": [{"model_id": info["model_id"], "step": 0}]},
    )

    _post(mlflow_server, "/registered-models/create", {"name": "churn"})
    version = _post(
        mlflow_server,
        "/model-versions/create",
        {
            "name": "churn",
            "source": f"models:/{info['model_id']}",
            "run_id": source_run.id,
            "model_id": info["model_id"],
        },
    )["model_version"]
    assert version["model_id"] == info["model_id"]
    assert version["run_id"] == source_run.id
    assert version["source"] == f"models:/{info['model_id']}"
    reply = mlflow_server.client.patch(
        f"{API}/logged-models/{info['model_id']}/tags",
        json={
            "tags": [{"key": "mlflow.modelVersions", "value": '[{"name": "churn", "version": 1}]'}]
        },
    )
    assert reply.status_code == 200
    assert (
        _get(mlflow_server, f"/logged-models/{info['model_id']}")["model"]["info"]["tags"][0]["key"]
        == "mlflow.modelVersions"
    )
    loaded = load_model("models:/churn/1", settings=settings, trusted=["pickle"])
    assert list(loaded.predict(X[:4])) == list(_fitted().predict(X[:4]))
    missing = mlflow_server.client.get(f"{API}/logged-models/m-nothing")
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
