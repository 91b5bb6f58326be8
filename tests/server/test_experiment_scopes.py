"""Roles per experiment: an editor of ``experiment:churn`` writes to churn's runs, through
loopml's REST API and MLflow's, and to no other experiment's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from loopml.config import Settings
from loopml.errors import InvalidInputError
from loopml.server.models import Principal, check_scope
from loopml.tracking import TrackingClient

from ._support import Server

V1 = "/api/v1"
MLFLOW = "/api/2.0/mlflow"


@pytest.fixture
def tracking(server_settings: Settings) -> Iterator[TrackingClient]:
    client = TrackingClient(server_settings, capture_env=False)
    yield client
    client.close()


@pytest.fixture
def bo(server: Server) -> dict[str, str]:
    """Viewer of the workspace, editor of the experiment 'churn' only."""
    headers = server.user("bo", "viewer")
    server.accounts.grant("bo", "editor", "experiment:churn")
    return headers


def test_an_experiment_editor_writes_to_its_runs_only(
    server: Server, tracking: TrackingClient, bo: dict[str, str]
) -> None:
    mine, theirs = tracking.create_run("churn").id, tracking.create_run("fraud").id
    http = server.client
    point = {"key": "auc", "value": 0.9}
    for _ in range(2):  # the second call, with the token checked, runs on the event loop
        assert http.post(f"{V1}/runs/{mine}/metrics", headers=bo, json=point).status_code == 200
        refused = http.post(f"{V1}/runs/{theirs}/metrics", headers=bo, json=point)
        assert refused.status_code == 403
        assert refused.json()["error"]["details"]["scope"] == "experiment:fraud"
    assert http.post(f"{V1}/runs/{mine}/params", headers=bo, json={"params": {"a": 1}}).is_success
    assert (
        http.put(f"{V1}/runs/{theirs}/tags", headers=bo, json={"tags": {"a": 1}}).status_code == 403
    )
    assert (
        http.patch(f"{V1}/runs/{theirs}", headers=bo, json={"status": "killed"}).status_code == 403
    )
    assert http.delete(f"{V1}/runs/{theirs}", headers=bo).status_code == 403
    assert http.patch(f"{V1}/runs/{mine}", headers=bo, json={"status": "finished"}).is_success
    made = http.post(f"{V1}/runs", headers=bo, json={"experiment": "churn"})
    assert made.status_code == 201
    assert http.post(f"{V1}/runs", headers=bo, json={"experiment": "fraud"}).status_code == 403
    assert http.post(f"{V1}/runs", headers=bo, json={}).status_code == 403  # Default
    # Reads still go by the workspace role; nothing was written to fraud's run.
    assert http.get(f"{V1}/runs/{theirs}", headers=bo).json()["metrics"] == {}
    assert tracking.get_run(theirs).status == "running"
    upload = f"{V1}/runs/{{}}/artifacts/notes.txt"
    assert http.put(upload.format(mine), headers=bo, content=b"x").status_code == 201
    assert http.put(upload.format(theirs), headers=bo, content=b"x").status_code == 403
    # An unknown run is not bo's to write: refused, not looked up.
    assert http.post(f"{V1}/runs/nope/metrics", headers=bo, json=point).status_code == 403


def test_the_mlflow_api_checks_the_same_scopes(
    server: Server, tracking: TrackingClient, bo: dict[str, str]
) -> None:
    mine, theirs = tracking.create_run("churn").id, tracking.create_run("fraud").id
    churn, fraud = tracking.get_experiment("churn").id, tracking.get_experiment("fraud").id
    http = server.client
    for run_id, status in ((mine, 200), (theirs, 403)):
        for _ in range(2):
            point = {"run_id": run_id, "key": "auc", "value": 0.5, "timestamp": 1, "step": 0}
            answer = http.post(f"{MLFLOW}/runs/log-metric", headers=bo, json=point)
            assert answer.status_code == status
        batch = {"run_id": run_id, "params": [{"key": "k", "value": "v"}]}
        answer = http.post(f"{MLFLOW}/runs/log-batch", headers=bo, json=batch)
        assert answer.status_code == status
    assert (
        http.post(f"{MLFLOW}/runs/log-batch", headers=bo, json={"run_id": theirs}).json()[
            "error_code"
        ]
        == "PERMISSION_DENIED"
    )
    assert http.post(f"{MLFLOW}/runs/create", headers=bo, json={"experiment_id": churn}).is_success
    refused = http.post(f"{MLFLOW}/runs/create", headers=bo, json={"experiment_id": fraud})
    assert refused.status_code == 403
    rename = {"experiment_id": fraud, "new_name": "mine-now"}
    assert http.post(f"{MLFLOW}/experiments/update", headers=bo, json=rename).status_code == 403
    assert (
        http.post(f"{MLFLOW}/experiments/create", headers=bo, json={"name": "x"}).status_code == 403
    )
    assert tracking.get_run(mine).params == {"k": "v"}
    assert tracking.get_run(theirs).params == {}
    assert tracking.get_experiment(fraud).name == "fraud"


def test_scopes_name_what_they_hold_on() -> None:
    assert check_scope("experiment:churn") == "experiment:churn"
    with pytest.raises(InvalidInputError, match="experiment:NAME"):
        check_scope("team:ml")
    caller = Principal("bo", {"*": "viewer", "experiment:churn": "editor"})
    assert caller.allows("editor", "experiment:churn")
    assert not caller.allows("editor", "experiment:fraud")
    assert not caller.allows("editor", "model:churn")
