"""Lineage walks and the audit log over REST."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loopml.registry import RegistryClient
from loopml.store import open_store
from loopml.store.lineage import add_edges
from loopml.tracking import TrackingClient

from ._models import add_version, write_package
from ._support import Server

V1 = "/api/v1"


@pytest.fixture
def tracking(server: Server) -> Iterator[TrackingClient]:
    client = TrackingClient(server.settings, capture_env=False)
    yield client
    client.close()


@pytest.fixture
def graph(server: Server, tracking: TrackingClient, tmp_path: Path) -> dict[str, str]:
    """A pipeline run whose step run read iris/1 and trained churn v1."""
    pipeline = tracking.create_run("lineage", name="pipeline")
    step = tracking.create_run("lineage", name="train", parent_run_id=pipeline.id)
    tracking.log_artifacts(step.id, write_package(tmp_path / "pkg", b"weights"), "model")
    RegistryClient(server.settings).register(f"runs:/{step.id}/model", "churn")
    open_store(server.settings.db_url).transact(
        lambda conn: add_edges(
            conn, [(("run", step.id), "consumed", ("dataset_version", "iris/1"), None)]
        )
    )
    return {"pipeline": pipeline.id, "step": step.id}


def _lineage(server: Server, headers: dict[str, str], **params: Any) -> Any:
    return server.client.get(f"{V1}/lineage", params=params, headers=headers)


def test_a_model_version_walks_up_to_its_run_and_data(
    server: Server, graph: dict[str, str]
) -> None:
    viewer = server.user("vic", "viewer")
    found = _lineage(server, viewer, uri="models:/churn/1", direction="up")
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["node"] == {"kind": "model_version", "id": "churn/1", "uri": "models:/churn/1"}
    assert body["downstream"] == []
    (run,) = body["upstream"]
    assert (run["kind"], run["id"], run["uri"]) == ("run", graph["step"], f"runs:/{graph['step']}")
    assert [(c["kind"], c["id"]) for c in run["children"]] == [("dataset_version", "iris/1")]
    shallow = _lineage(server, viewer, uri="models:/churn/1", direction="up", depth=1).json()
    assert shallow["upstream"][0]["children"] == []
    assert shallow["upstream"][0].get("more") is True


def test_data_walks_down_to_the_model_and_a_run_shows_its_family(
    server: Server, graph: dict[str, str]
) -> None:
    viewer = server.user("vic", "viewer")
    down = _lineage(server, viewer, uri="dataset_version:iris/1", direction="down").json()
    assert down["upstream"] == []
    (run,) = down["downstream"]
    assert [(c["kind"], c["id"]) for c in run["children"]] == [("model_version", "churn/1")]
    step = _lineage(server, viewer, uri=f"runs:/{graph['step']}").json()
    assert step["parent_run"] == graph["pipeline"]
    pipeline = _lineage(server, viewer, uri=graph["pipeline"]).json()
    assert [c["id"] for c in pipeline["child_runs"]] == [graph["step"]]
    assert pipeline["upstream"] == pipeline["downstream"] == []


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({}, 400),
        ({"uri": "  "}, 400),
        ({"uri": "models:/churn/1", "direction": "sideways"}, 400),
        ({"uri": "models:/churn/1", "depth": 0}, 400),
        ({"uri": "models:/churn/1", "depth": 51}, 400),
        ({"uri": "models:/churn/1", "depth": "99999999999999999999"}, 400),
        ({"uri": "models:/churn/99999999999999999999"}, 404),
        ({"uri": "models:/churn/7"}, 404),
        ({"uri": "models:/nope@production"}, 404),
        ({"uri": "runs:/01J0NOSUCHRUN0000000000000"}, 404),
        ({"uri": "NOSUCHRUN"}, 404),
        ({"uri": "dataset_version:never/1"}, 404),
        ({"uri": "!!not a node"}, 400),
        ({"uri": "datasets:/nope/1"}, 404),
    ],
)
def test_bad_lineage_queries_answer_4xx(
    server: Server, graph: dict[str, str], params: dict[str, Any], status: int
) -> None:
    response = _lineage(server, server.user("vic", "viewer"), **params)
    assert response.status_code == status, response.text
    assert "message" in response.json()["error"]


def test_the_audit_log_filters_pages_and_names_the_callers(server: Server, tmp_path: Path) -> None:
    registry = RegistryClient(server.settings)
    add_version(registry, "churn", tmp_path)
    add_version(registry, "churn", tmp_path)
    eve = server.user("eve", "editor")
    for version in (1, 2):
        moved = server.client.put(
            f"{V1}/models/churn/aliases/staging", json={"version": version}, headers=eve
        )
        assert moved.status_code == 200, moved.text
    viewer = server.user("vic", "viewer")
    url = f"{V1}/audit"
    mine = server.client.get(url, params={"actor": "eve"}, headers=viewer).json()["entries"]
    assert [(e["action"], e["object_id"]) for e in mine] == [
        ("alias.set", "churn/2"),
        ("alias.set", "churn/1"),
    ]
    first = server.client.get(url, params={"limit": 1}, headers=viewer).json()
    assert len(first["entries"]) == 1
    second = server.client.get(
        url, params={"limit": 1, "before": first["next_before"]}, headers=viewer
    ).json()
    assert second["entries"][0]["id"] < first["entries"][0]["id"]
    version_one = server.client.get(
        url, params={"object_kind": "model_version", "object_id": "churn/1"}, headers=viewer
    ).json()["entries"]
    assert {e["action"] for e in version_one} >= {"alias.set"}
    later = server.client.get(url, params={"since": mine[0]["at"] + 1}, headers=viewer).json()[
        "entries"
    ]
    assert all(e["at"] > mine[0]["at"] for e in later)
    for bad in ({"since": "yesterday"}, {"since": "-5"}, {"limit": "0"},
                {"before": "0"}, {"since": "99999999999999999999"}):  # fmt: skip
        response = server.client.get(url, params=bad, headers=viewer)
        assert response.status_code == 400, (bad, response.text)
