"""``/api/v1`` experiment tracking: what is posted is stored, what is stored is listed."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest

from loopml.config import Settings
from loopml.tracking import TrackingClient

from ._support import Server

V1 = "/api/v1"


@pytest.fixture
def tracking(server_settings: Settings) -> Iterator[TrackingClient]:
    client = TrackingClient(server_settings, capture_env=False)
    yield client
    client.close()


def _error(reply: Any, status: int) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert set(error) >= {"code", "message"}
    return error


def test_experiments_are_created_tagged_listed_with_summaries_and_paged(
    open_server: Server, tracking: TrackingClient
) -> None:
    http = open_server.client
    made = http.post(
        f"{V1}/experiments", json={"name": "churn", "description": "d", "tags": {"team": "r"}}
    )
    assert made.status_code == 201
    assert made.json()["tags"] == {"team": "r"}
    assert tracking.get_experiment("churn").description == "d"
    for name in ("fraud", "ltv"):
        http.post(f"{V1}/experiments", json={"name": name})
    run = tracking.create_run("churn")
    tracking.create_run("churn")
    tracking.end_run(run.id)

    first = http.get(f"{V1}/experiments", params={"order_by": "name", "limit": 2}).json()
    assert [e["name"] for e in first["experiments"]] == ["churn", "fraud"]
    assert first["experiments"][0]["runs"] == 2
    assert first["experiments"][0]["last_run_start"] is not None
    rest = http.get(
        f"{V1}/experiments",
        params={"order_by": "name", "limit": 2, "page_token": first["next_page_token"]},
    ).json()
    assert [e["name"] for e in rest["experiments"]] == ["ltv"]
    assert rest["next_page_token"] is None

    tagged = http.put(f"{V1}/experiments/ltv/tags", json={"tags": {"team": "r"}})
    assert tagged.json()["tags"] == {"team": "r"}
    found = http.get(f"{V1}/experiments", params={"filter": "tags.team = 'r'"}).json()
    assert sorted(e["name"] for e in found["experiments"]) == ["churn", "ltv"]
    searched = http.post(
        f"{V1}/experiments/search", json={"filter": "name LIKE 'f%'", "max_results": 5}
    ).json()
    assert [e["name"] for e in searched["experiments"]] == ["fraud"]
    assert http.get(f"{V1}/experiments/fraud").json()["name"] == "fraud"
    assert http.post(f"{V1}/experiments", json={"name": "fraud"}).status_code == 409


def test_runs_are_created_logged_ended_and_read_back(
    open_server: Server, tracking: TrackingClient
) -> None:
    http = open_server.client
    made = http.post(
        f"{V1}/runs",
        json={"experiment": "churn", "name": "rf", "params": {"depth": 5}, "tags": {"t": "1"}},
    )
    assert made.status_code == 201
    run_id = made.json()["id"]
    stored = tracking.get_run(run_id)
    assert (stored.name, stored.params, stored.tags["t"]) == ("rf", {"depth": "5"}, "1")

    assert http.post(f"{V1}/runs/{run_id}/params", json={"params": {"lr": 0.1}}).json() == {
        "params": {"depth": "5", "lr": "0.1"}
    }
    changed = http.post(f"{V1}/runs/{run_id}/params", json={"params": {"lr": 0.2}})
    assert _error(changed, 409)["code"] == "conflict"
    assert http.put(f"{V1}/runs/{run_id}/tags", json={"tags": {"a/b": "x"}}).status_code == 200
    assert http.delete(f"{V1}/runs/{run_id}/tags/a/b").json()["tags"] == {"t": "1"}
    assert "a/b" not in tracking.get_run(run_id).tags

    child = http.post(f"{V1}/runs", json={"experiment": "churn", "parent_run_id": run_id})
    assert tracking.get_run(child.json()["id"]).parent_run_id == run_id

    ended = http.patch(f"{V1}/runs/{run_id}", json={"status": "FAILED"})
    assert ended.json()["status"] == "failed"
    assert tracking.get_run(run_id).status == "failed"
    again = http.patch(f"{V1}/runs/{run_id}", json={"status": "running"})
    assert "cannot be set running" in _error(again, 400)["message"]
    assert _error(http.patch(f"{V1}/runs/{run_id}", json={"status": "done"}), 400)

    assert http.delete(f"{V1}/runs/{run_id}", params={"reason": "bad split"}).status_code == 200
    assert tracking.get_run(run_id).deleted_at is not None
    assert http.get(f"{V1}/runs", params={"experiment": "churn"}).json()["runs"][0]["id"] != run_id
    assert _error(http.post(f"{V1}/runs/{run_id}/params", json={"params": {"x": 1}}), 404)


def test_runs_are_listed_with_the_filter_grammar_order_and_pages(
    open_server: Server, tracking: TrackingClient
) -> None:
    http = open_server.client
    for i in range(5):
        run = tracking.create_run("grid", name=f"r{i}", params={"i": i})
        tracking.log_metric(run.id, "auc", i / 10)
        tracking.end_run(run.id)
    tracking.create_run("other")
    query = {
        "experiment": "grid",
        "filter": "metrics.auc >= 0.1",
        "order_by": "metrics.auc desc",
        "limit": 3,
    }
    first = http.get(f"{V1}/runs", params=query).json()
    assert [r["name"] for r in first["runs"]] == ["r4", "r3", "r2"]
    assert first["runs"][0]["metrics"] == {"auc": 0.4}
    second = http.get(f"{V1}/runs", params={**query, "page_token": first["next_page_token"]})
    assert [r["name"] for r in second.json()["runs"]] == ["r1"]
    assert second.json()["next_page_token"] is None
    body = {"experiments": ["grid"], "filter": "params.i IN ('0', '3')", "order_by": "params.i"}
    searched = http.post(f"{V1}/runs/search", json=body).json()
    assert [r["name"] for r in searched["runs"]] == ["r0", "r3"]
    assert len(http.get(f"{V1}/runs").json()["runs"]) == 6


def test_metrics_posted_one_by_one_or_in_batches_are_stored_with_nan_and_inf(
    open_server: Server, tracking: TrackingClient
) -> None:
    http = open_server.client
    run_id = tracking.create_run("m").id
    one = http.post(f"{V1}/runs/{run_id}/metrics", json={"key": "loss", "value": 0.5, "step": 1})
    assert one.json() == {"logged": 1}
    batch = [
        {"key": "loss", "value": 0.25, "step": 2, "timestamp": 1_700_000_000_000},
        {"key": "loss", "value": "NaN", "step": 3},
        {"key": "loss", "value": "-Infinity", "step": 4},
        {"key": "acc", "value": 1},
    ]
    assert http.post(f"{V1}/runs/{run_id}/metrics/batch", json=batch).json() == {"logged": 4}
    # Python's json writes the special floats as bare literals, as MLflow's client sends them
    raw = b'{"metrics": [{"key": "gap", "value": Infinity, "step": 0}]}'
    logged = http.post(
        f"{V1}/runs/{run_id}/metrics/batch",
        content=raw,
        headers={"content-type": "application/json"},
    )
    assert logged.json() == {"logged": 1}
    # Acknowledged means journaled; a single-worker server ingests within its flush
    # interval, and another client (this test's) reads the store once it has.
    open_server.client.app.state.ctx.tracking.flush()

    history = tracking.get_metric_history(run_id, "loss")
    assert [p.step for p in history] == [1, 2, 3, 4]
    assert history[1].timestamp == 1_700_000_000_000
    assert math.isnan(history[2].value)
    assert history[3].value == -math.inf
    assert tracking.get_metric_history(run_id, "gap")[0].value == math.inf

    served = http.get(f"{V1}/runs/{run_id}/metrics/history", params={"key": "loss"}).json()
    assert [p["value"] for p in served["metrics"]] == [0.5, 0.25, "NaN", "-Infinity"]
    latest = http.get(f"{V1}/runs/{run_id}/metrics").json()["metrics"]
    assert latest == {"loss": "-Infinity", "acc": 1.0, "gap": "Infinity"}
    assert http.get(f"{V1}/runs/{run_id}").json()["metrics"]["gap"] == "Infinity"


def test_a_long_history_is_downsampled_to_at_most_max_points_with_its_spikes(
    open_server: Server, tracking: TrackingClient
) -> None:
    run_id = tracking.create_run("m").id
    points = [("loss", 1.0 + (i % 3) / 100, i, 1000 + i) for i in range(5000)]
    points[3217] = ("loss", 80.0, 3217, 4217)
    tracking.log_batch(run_id, points)
    tracking.flush()
    for max_points in (1, 7, 100):
        reply = open_server.client.get(
            f"{V1}/runs/{run_id}/metrics/history",
            params={"key": "loss", "max_points": max_points},
        ).json()["metrics"]
        assert 1 <= len(reply) <= max_points
        assert 80.0 in [p["value"] for p in reply]
    full = open_server.client.get(f"{V1}/runs/{run_id}/metrics/history", params={"key": "loss"})
    assert len(full.json()["metrics"]) == 5000


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"key": "loss", "value": True}, "must be a number"),
        ({"key": "loss", "value": "lots"}, "must be a number"),
        ({"key": "loss", "value": [1]}, "must be a number"),
        ({"key": "loss"}, "needs 'value'"),
        ({"value": 1.0}, "needs 'key'"),
        ({"key": "../x", "value": 1.0}, "not allowed"),
        ({"key": "loss", "value": 1.0, "step": 2**63}, "64 bits"),
        ({"key": "loss", "value": 1.0, "step": "3"}, "must be an integer"),
        ({"key": "loss", "value": 1.0, "step": 1.5}, "step"),
        ({"key": "loss", "value": 1.0, "timestamp": -(2**64)}, "64 bits"),
    ],
)
def test_a_bad_metric_point_is_refused_and_nothing_is_stored(
    open_server: Server, tracking: TrackingClient, body: dict[str, Any], needle: str
) -> None:
    run_id = tracking.create_run("m").id
    reply = open_server.client.post(f"{V1}/runs/{run_id}/metrics", json=body)
    assert needle in _error(reply, 400)["message"]
    batch = open_server.client.post(
        f"{V1}/runs/{run_id}/metrics/batch", json=[{"key": "ok", "value": 1}, body]
    )
    assert _error(batch, 400)
    assert tracking.get_run(run_id).metrics == {}


def test_hostile_requests_get_4xx_in_loopml_error_shape(
    open_server: Server, tracking: TrackingClient
) -> None:
    http = open_server.client
    run_id = tracking.create_run("m").id
    assert _error(http.get(f"{V1}/runs/nope"), 404)["code"] == "not_found"
    assert _error(http.get(f"{V1}/experiments/nope"), 404)
    assert _error(http.post(f"{V1}/runs/nope/metrics", json={"key": "a", "value": 1}), 404)
    assert _error(http.get(f"{V1}/runs", params={"page_token": "garbage!"}), 400)
    assert _error(http.get(f"{V1}/experiments", params={"page_token": "e30"}), 400)
    assert _error(http.get(f"{V1}/runs", params={"filter": "metrics.acc >> 1"}), 400)
    assert _error(http.get(f"{V1}/runs", params={"order_by": "sideways"}), 400)
    assert _error(http.get(f"{V1}/runs", params={"limit": "0"}), 400)
    assert _error(http.get(f"{V1}/experiments", params={"filter": "metrics.a > 1"}), 400)
    assert _error(http.post(f"{V1}/runs", json={"name": 5}), 400)
    assert _error(http.post(f"{V1}/runs", json={"tags": ["a"]}), 400)
    assert _error(http.post(f"{V1}/runs", content=b"[1, 2"), 400)
    assert _error(http.post(f"{V1}/runs/search", json={"order_by": [1]}), 400)
    assert _error(http.post(f"{V1}/runs/search", json={"limit": "10"}), 400)
    assert _error(http.post(f"{V1}/runs/{run_id}/metrics/batch", json={"points": []}), 400)
    assert _error(http.post(f"{V1}/runs/{run_id}/metrics/batch", content=b"[{"), 400)
    huge = b'[{"key": "a", "value": 1, "step": 1' + b"0" * 5000 + b"}]"
    assert _error(http.post(f"{V1}/runs/{run_id}/metrics/batch", content=huge), 400)
    history = f"{V1}/runs/{run_id}/metrics/history"
    assert _error(http.get(history), 400)
    assert _error(http.get(history, params={"key": "a", "max_points": "0"}), 400)
    assert _error(http.get(history, params={"key": "a", "max_points": "x"}), 400)
    assert _error(http.put(f"{V1}/experiments/Default/tags", json={"tags": "x"}), 400)
    assert tracking.get_run(run_id).metrics == {}


def test_a_viewer_reads_but_cannot_write(server: Server, tracking: TrackingClient) -> None:
    viewer = server.user("vic", "viewer")
    editor = server.user("eve", "editor")
    run_id = tracking.create_run("m").id
    http = server.client
    assert http.get(f"{V1}/runs/{run_id}", headers=viewer).status_code == 200
    assert http.post(f"{V1}/runs/search", headers=viewer, json={}).status_code == 200
    point = {"key": "a", "value": 1}
    # Twice each: the second call, with the token checked, is answered on the event loop.
    for _ in range(2):
        assert _error(http.post(f"{V1}/runs/{run_id}/metrics", headers=viewer, json=point), 403)
        assert (
            http.post(f"{V1}/runs/{run_id}/metrics", headers=editor, json=point).status_code == 200
        )
    bad = {**editor, "Authorization": editor["Authorization"][:-2] + "xx"}
    assert _error(http.post(f"{V1}/runs/{run_id}/metrics", headers=bad, json=point), 401)
    history = http.get(f"{V1}/runs/{run_id}/metrics/history", headers=viewer, params={"key": "a"})
    assert len(history.json()["metrics"]) == 2
    made = http.post(f"{V1}/runs", headers=editor, json={"experiment": "m"})
    assert tracking.get_run(made.json()["id"]).user == "eve"


def test_artifacts_are_uploaded_streamed_listed_and_downloaded(
    open_server: Server, tracking: TrackingClient
) -> None:
    http = open_server.client
    run_id = tracking.create_run("a").id
    content = bytes(range(256)) * 20_000  # 5 MB: over one chunk
    url = f"{V1}/runs/{run_id}/artifacts/model/weights.bin"
    stored = http.put(url, content=iter([content[:3_000_000], content[3_000_000:]]))
    assert stored.status_code == 201, stored.text
    assert stored.json()["path"] == "model/weights.bin"
    assert stored.json()["size"] == len(content)
    assert tracking.run_artifacts.read_bytes(run_id, "model/weights.bin") == content

    tracking.run_artifacts.log_bytes(run_id, b"hi", "notes.txt")
    listed = http.get(f"{V1}/runs/{run_id}/artifacts").json()
    assert [(a["path"], a["is_dir"]) for a in listed["artifacts"]] == [
        ("model", True),
        ("notes.txt", False),
    ]
    inside = http.get(f"{V1}/runs/{run_id}/artifacts", params={"path": "model"}).json()
    assert inside["artifacts"][0]["size"] == len(content)

    download = http.get(url)
    assert download.status_code == 200
    assert download.content == content
    assert download.headers["content-length"] == str(len(content))
    assert http.get(f"{V1}/runs/{run_id}/artifacts/notes.txt").content == b"hi"


def test_artifact_paths_that_escape_the_run_are_refused(
    open_server: Server, tracking: TrackingClient
) -> None:
    http = open_server.client
    run_id = tracking.create_run("a").id
    base = f"{V1}/runs/{run_id}/artifacts"
    for path in ("..%2Fescape.txt", "a/..%2F..%2Fescape.txt", "%2Fetc%2Fpasswd", "a%5Cb"):
        assert "path" in _error(http.put(f"{base}/{path}", content=b"x"), 400)["message"]
        assert _error(http.get(f"{base}/{path}"), 400)
    assert _error(http.get(base, params={"path": "../x"}), 400)
    assert _error(http.get(f"{base}/missing.txt"), 404)
    assert _error(http.get(f"{V1}/runs/nope/artifacts"), 404)
    assert _error(http.put(f"{V1}/runs/nope/artifacts/x.txt", content=b"x"), 404)
    tracking.delete_run(run_id)
    assert _error(http.put(f"{base}/x.txt", content=b"x"), 404)


def test_an_upload_may_pass_the_body_limit_that_json_requests_keep(
    server: Server, tracking: TrackingClient
) -> None:
    editor = server.user("eve", "editor")
    run_id = tracking.create_run("a").id
    big = b"z" * 100_000  # the fixture's limit is 4096 bytes
    reply = server.client.put(f"{V1}/runs/{run_id}/artifacts/big.bin", content=big, headers=editor)
    assert reply.status_code == 201, reply.text
    assert tracking.run_artifacts.read_bytes(run_id, "big.bin") == big
    points = [{"key": "a", "value": 1.0, "step": i} for i in range(500)]
    too_big = server.client.post(f"{V1}/runs/{run_id}/metrics/batch", json=points, headers=editor)
    assert _error(too_big, 413)
    viewer = server.user("vic", "viewer")
    refused = server.client.put(f"{V1}/runs/{run_id}/artifacts/v.bin", content=b"x", headers=viewer)
    assert _error(refused, 403)
