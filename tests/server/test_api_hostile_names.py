"""Model names with NUL and other control characters, through /api/v1/models/… and MLflow's
registry API, on SQLite and PostgreSQL (which cannot hold NUL in text): always a 400 (from
the server's NUL check, or the registry's name check), before any query; never a 5xx. And
a NUL in any other route's path or query is refused the same way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from loopml.config import Settings
from loopml.registry import RegistryClient
from loopml.server import ServerConfig

from ._models import add_version
from ._support import Server, make_server

V1 = "/api/v1"
HOSTILE = ["%00", "churn%00", "a%01b", "line%0Abreak", "del%7F"]
V1_PATHS = [
    "/api/v1/models/{name}",
    "/api/v1/models/{name}/versions",
    "/api/v1/models/{name}/versions/1",
    "/api/v1/models/{name}/versions/1/blockers",
    "/api/v1/models/{name}/versions/1/approvals",
    "/api/v1/models/{name}/versions/1/evaluations",
    "/api/v1/models/{name}/versions/1/card",
    "/api/v1/models/{name}/aliases",
    "/api/v1/models/{name}/alias-history",
    "/api/v1/models/{name}/policy",
    "/api/v1/registry/events?model={name}",
]
MLFLOW_GETS = [
    "/api/2.0/mlflow/registered-models/get?name={name}",
    "/api/2.0/mlflow/model-versions/get?name={name}&version=1",
    "/api/2.0/mlflow/model-versions/get-download-uri?name={name}&version=1",
    "/api/2.0/mlflow/registered-models/alias?name={name}&alias=champion",
    "/ajax-api/2.0/mlflow/registered-models/get?name={name}",
]


@pytest.fixture
def hosted(settings: Settings, tmp_path: Path) -> Iterator[Server]:
    """A token-free server over ``settings`` (SQLite, then PostgreSQL) with churn v1."""
    for server in make_server(settings, ServerConfig(auth="none")):
        add_version(RegistryClient(settings), "churn", tmp_path)
        yield server


def test_v1_model_routes_refuse_control_characters_in_names(hosted: Server) -> None:
    for template in V1_PATHS:
        for name in HOSTILE:
            reply = hosted.client.get(template.format(name=name))
            assert reply.status_code == 400, (template, name, reply.text)
            error = reply.json()["error"]
            assert error["code"] == "invalid_input"
            assert ("NUL" if "%00" in name else "model name") in error["message"]
    writes = [
        ("PUT", "/api/v1/models/%00/aliases/production", {"version": 1}),
        ("POST", "/api/v1/models/%00/versions/1/status", {"status": "validated"}),
        ("PUT", "/api/v1/models/a%01/policy", {"gates": []}),
    ]
    for method, path, body in writes:
        reply = hosted.client.request(method, path, json=body)
        assert reply.status_code == 400, (path, reply.text)
    assert hosted.client.get("/api/v1/models/churn").json()["name"] == "churn"


def test_mlflow_registry_refuses_control_characters_as_invalid_parameter_value(
    hosted: Server,
) -> None:
    for template in MLFLOW_GETS:
        for name in HOSTILE:
            reply = hosted.client.get(template.format(name=name))
            assert reply.status_code == 400, (template, name, reply.text)
            assert reply.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    for path, body in [
        ("/api/2.0/mlflow/registered-models/create", {"name": "a\x00b"}),
        ("/api/2.0/mlflow/registered-models/set-tag", {"name": "\x00", "key": "k", "value": "v"}),
        ("/api/2.0/mlflow/model-versions/create", {"name": "\x00", "source": "runs:/x/model"}),
    ]:
        reply = hosted.client.post(path, json=body)
        assert reply.status_code == 400, (path, reply.text)
        assert reply.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    # A search naming such a model finds nothing, as for any model that does not exist;
    # a NUL in the filter is refused as in any query parameter.
    search = "/api/2.0/mlflow/model-versions/search"
    found = hosted.client.get(search, params={"filter": "name='a\x01b'"})
    assert found.status_code == 200, found.text
    assert found.json()["model_versions"] == []
    refused = hosted.client.get(search, params={"filter": "name='\x00'"})
    assert refused.json()["error_code"] == "INVALID_PARAMETER_VALUE"


ELSEWHERE = [
    "/api/v1/deployments?model=%00",
    "/api/v1/deployments/%00",
    "/api/v1/automation/policies/%00",
    "/api/v1/evaluations/%00",
    "/api/v1/runs/%00",
    "/api/v1/monitors/%00",
    "/api/v1/monitors?deployment=%00",
    "/api/v1/pipeline-runs/%00",
    "/api/v1/pipeline-runs?pipeline=%00",
    "/api/v1/datasets/%00",
    "/api/v1/features/%00",
    "/api/v1/audit?object_id=%00",
    "/api/v1/models?page_token=%00",
    "/api/v1/models/churn?x%00=1",
]


def test_a_nul_in_any_path_or_query_is_invalid_input(hosted: Server) -> None:
    for path in ELSEWHERE:
        reply = hosted.client.get(path)
        assert reply.status_code == 400, (path, reply.text)
        assert "NUL" in reply.json()["error"]["message"]
    mlflow = hosted.client.get("/api/2.0/mlflow/runs/get", params={"run_id": "\x00"})
    assert mlflow.status_code == 400, mlflow.text
    assert mlflow.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_a_nul_in_a_json_body_is_invalid_input_naming_the_field(hosted: Server) -> None:
    update, create = (
        "/api/2.0/mlflow/registered-models/update",
        "/api/2.0/mlflow/experiments/create",
    )
    refused = [
        ("PATCH", update, {"name": "churn", "description": "a\x00"}, "body.description"),
        (
            "POST",
            create,
            {"name": "e", "tags": [{"key": "k", "value": "\x00"}]},
            "body.tags[0].value",
        ),
        ("POST", f"{V1}/models/churn/versions/1/status", {"reason": "\x00"}, "body.reason"),
        ("POST", f"{V1}/models/churn/versions/1/status", {"k\x00": 1}, "body key 'k\\x00'"),
    ]
    for method, path, body, field in refused:
        reply = hosted.client.request(method, path, json=body)
        assert reply.status_code == 400, (path, reply.text)
        error = reply.json().get("error") or reply.json()  # loopml's shape, or MLflow's
        assert error["message"] == f"{field} holds a NUL character; remove it"
    # The text \u0000 (an escaped backslash, then u0000) is no NUL: it is stored as sent.
    kept = hosted.client.patch(update, json={"name": "churn", "description": "C:\\u0000"})
    assert kept.status_code == 200, kept.text
    assert kept.json()["registered_model"]["description"] == "C:\\u0000"
