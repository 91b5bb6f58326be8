"""Deployments, monitors and automation over REST, on content made with the real clients."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from loopml.config import Settings
from loopml.monitoring import MonitorClient, PayloadWriter, Prediction
from loopml.registry import RegistryClient
from loopml.serving.deployments import DeploymentClient
from loopml.serving.policy import TrafficPolicy

from ._models import add_version
from ._support import Server

V1 = "/api/v1"
HOUR = 3_600_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"]
    return error  # type: ignore[no-any-return]


# -- deployments -------------------------------------------------------------------------


@pytest.fixture
def deployment(server: Server, tmp_path: Path) -> DeploymentClient:
    """churn v1 and v2, churn@live -> 1, and deployment churn-api following @live."""
    registry = RegistryClient(server.settings)
    add_version(registry, "churn", tmp_path)
    add_version(registry, "churn", tmp_path)
    registry.set_alias("churn", "live", 1)
    client = DeploymentClient(server.settings)
    client.create("churn-api", "churn", TrafficPolicy.follow("live"))
    return client


def test_deployments_list_get_and_resolve_their_routes(
    server: Server, deployment: DeploymentClient
) -> None:
    viewer = server.user("vic", "viewer")
    listed = server.client.get(f"{V1}/deployments", headers=viewer).json()
    assert [d["name"] for d in listed["deployments"]] == ["churn-api"]
    assert listed["next_page_token"] is None
    other = server.client.get(f"{V1}/deployments", params={"model": "fraud"}, headers=viewer)
    assert other.json()["deployments"] == []
    one = server.client.get(f"{V1}/deployments/churn-api", headers=viewer).json()
    assert one["model"] == "churn"
    assert one["targets"] == {"@live": 1}
    traffic = server.client.get(f"{V1}/deployments/churn-api/traffic", headers=viewer).json()
    assert traffic["routes"] == [{"alias": "live", "version": None, "weight": 100}]


def test_traffic_changes_make_revisions_attributed_to_the_caller(
    server: Server, deployment: DeploymentClient
) -> None:
    editor = server.user("eve", "editor")
    url = f"{V1}/deployments/churn-api/traffic"
    split = {
        "routes": [{"alias": "live", "weight": 90}, {"version": 2, "weight": 10}],
        "expected_revision": 1,
        "reason": "canary",
    }
    changed = server.client.put(url, json=split, headers=editor)
    assert changed.status_code == 200, changed.text
    assert [r.target for r in deployment.get("churn-api").policy.routes] == ["@live", "v2"]
    _error(server.client.put(url, json=split, headers=editor), 409)  # revision 1 is stale
    revisions = server.client.get(f"{V1}/deployments/churn-api/revisions", headers=editor).json()[
        "revisions"
    ]
    assert [r["revision"] for r in revisions] == [1, 2]
    assert (revisions[-1]["actor"], revisions[-1]["action"]) == ("eve", "traffic")
    viewer = server.user("vic", "viewer")
    _error(server.client.put(url, json=split, headers=viewer), 403)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"routes": "live"},
        {"routes": []},
        {"routes": [5]},
        {"routes": [{"alias": "live", "weight": 50}]},
        {"routes": [{"alias": "live", "weight": "100"}]},
        {"routes": [{"alias": 7}]},
        {"routes": [{"alias": "9lives"}]},
        {"routes": [{"version": 2**63}]},
        {"routes": [{"version": 2**70}]},
        {"routes": [{"version": 0}]},
        {"routes": [{"version": 9}]},
        {"routes": [{"alias": "nope"}]},
        {"routes": [{"alias": "live", "version": 1}]},
        {"routes": [{"alias": "live"}], "shadow": "v2"},
        {"routes": [{"alias": "live"}], "expected_revision": 2**64},
        {"routes": [{"alias": "live"}], "expected_revision": "1"},
    ],
)
def test_bad_traffic_policies_are_refused(
    server: Server, deployment: DeploymentClient, body: dict[str, Any]
) -> None:
    editor = server.user("eve", "editor")
    response = server.client.put(f"{V1}/deployments/churn-api/traffic", json=body, headers=editor)
    assert 400 <= response.status_code < 500, response.text
    assert deployment.get("churn-api").revision == 1


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/deployments/nope", 404),
        ("/deployments/nope/traffic", 404),
        ("/deployments/nope/revisions", 404),
        ("/deployments?limit=100000", 400),
        ("/deployments?page_token=forged", 400),
        ("/deployments/churn-api/served", 200),
    ],
)
def test_bad_deployment_reads_answer_4xx(
    server: Server, deployment: DeploymentClient, path: str, status: int
) -> None:
    response = server.client.get(V1 + path, headers=server.user("vic", "viewer"))
    assert response.status_code == status, response.text


# -- monitors ----------------------------------------------------------------------------


def _rows(rng: np.random.Generator, n: int, shift: float = 0.0) -> pd.DataFrame:
    frame = pd.DataFrame({"x1": rng.normal(shift, 1.0, n), "x2": rng.normal(0.0, 1.0, n)})
    frame["churned"] = ((frame["x1"] + frame["x2"]) > 0).astype(int)
    return frame


@pytest.fixture
def monitored(server: Server, tmp_path: Path) -> MonitorClient:
    """churn-api (a logistic regression) watched by hourly windows: two calm hours, then two
    with x1 shifted, so rule drift:x1 fires."""
    from sklearn.linear_model import LogisticRegression

    from loopml.packaging.package import save_package

    settings: Settings = server.settings
    rng = np.random.default_rng(3)
    train = _rows(rng, 500)
    model = LogisticRegression().fit(train[["x1", "x2"]], train["churned"])
    save_package(model, tmp_path / "pkg", input_example=train[["x1", "x2"]].head(2))
    RegistryClient(settings).register(tmp_path / "pkg", "churn")
    DeploymentClient(settings).create("churn-api", "churn", {"routes": [{"version": 1}]})
    train.to_parquet(tmp_path / "reference.parquet")
    client = MonitorClient(settings)
    client.create(
        "churn-api",
        reference=str(tmp_path / "reference.parquet"),
        features=["x1", "x2"],
        rules=["drift:x1 for 1"],
    )
    writer = PayloadWriter(settings, "churn-api", flush_seconds=0.05)
    try:
        for hour, shift in enumerate([0.0, 0.0, 2.0, 2.0]):
            for r in range(10):
                frame = _rows(rng, 30, shift)
                writer.record(
                    Prediction(
                        request_id=f"h{hour}-r{r}", time_ms=T0 + hour * HOUR + r * 1000,
                        deployment="churn-api", model="churn", version=1, role="primary",
                        inputs={"x1": frame["x1"].to_numpy(), "x2": frame["x2"].to_numpy()},
                        outputs={"predict": model.predict(frame[["x1", "x2"]])},
                        latency_ms=1.0, status=200,
                    )
                )  # fmt: skip
    finally:
        writer.close(timeout=60)
    assert len(client.run("churn-api", until=T0 + 4 * HOUR)) == 4
    return client


def test_monitors_show_windows_over_time_and_firing_alerts(
    server: Server, monitored: MonitorClient
) -> None:
    viewer = server.user("vic", "viewer")
    listed = server.client.get(f"{V1}/monitors", headers=viewer).json()
    assert [m["name"] for m in listed["monitors"]] == ["churn-api"]
    one = server.client.get(f"{V1}/monitors/churn-api", headers=viewer).json()
    assert one["deployment"] == "churn-api"
    url = f"{V1}/monitors/churn-api/windows"
    first = server.client.get(url, params={"limit": 3}, headers=viewer).json()
    assert [w["start_ms"] for w in first["windows"]] == [T0 + k * HOUR for k in (3, 2, 1)]
    rest = server.client.get(
        url, params={"page_token": first["next_page_token"]}, headers=viewer
    ).json()
    assert [w["start_ms"] for w in rest["windows"]] == [T0]
    drifted = ["x1" in w["drifted_features"] for w in first["windows"] + rest["windows"]]
    assert drifted == [True, True, False, False]
    brief = server.client.get(url, params={"summary": "true"}, headers=viewer).json()
    assert "results" not in brief["windows"][0]
    since = server.client.get(url, params={"since": T0 + 2 * HOUR}, headers=viewer).json()
    assert len(since["windows"]) == 2
    window_id = first["windows"][0]["id"]
    window = server.client.get(f"{V1}/windows/{window_id}", headers=viewer).json()
    assert window["results"]["health"]["requests"] == 10

    firing = server.client.get(f"{V1}/alerts", params={"state": "firing"}, headers=viewer)
    (alert,) = firing.json()["alerts"]
    assert alert["rule"] == "drift:x1 for 1"
    mine = server.client.get(f"{V1}/monitors/churn-api/alerts", headers=viewer).json()
    assert [a["id"] for a in mine["alerts"]] == [alert["id"]]
    status = server.client.get(f"{V1}/monitors/churn-api/status", headers=viewer).json()
    assert [a["id"] for a in status["firing"]] == [alert["id"]]

    editor = server.user("eve", "editor")
    acked = server.client.post(
        f"{V1}/alerts/{alert['id']}/ack", json={"reason": "looking"}, headers=editor
    )
    assert acked.json()["acked_by"] == "eve"
    _error(server.client.post(f"{V1}/alerts/{alert['id']}/ack", json={}, headers=viewer), 403)
    events = server.client.get(
        f"{V1}/monitoring/events", params={"monitor": "churn-api"}, headers=viewer
    ).json()["events"]
    assert [e["kind"] for e in events] == ["monitor.created", "alert.firing", "alert.acked"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/monitors/nope", 404),
        ("GET", "/monitors/nope/windows", 404),
        ("GET", "/monitors/nope/alerts", 404),
        ("GET", "/monitors/nope/status", 404),
        ("GET", "/monitors/churn-api/windows?since=yesterday-ish", 400),
        ("GET", "/monitors/churn-api/windows?summary=maybe", 400),
        ("GET", "/monitors/churn-api/windows?page_token=forged", 400),
        ("GET", "/monitors/churn-api/windows?page_token=WyJhYmMiXQ", 400),  # ["abc"]
        ("GET", "/monitors/churn-api/windows?page_token=WzFlMzBd", 400),  # [1e30]
        ("GET", "/monitors/churn-api/alerts?page_token=WzE4NDQ2NzQ0MDczNzA5NTUxNjE2XQ", 400),
        ("GET", "/alerts?state=sleeping", 400),
        ("GET", "/windows/0", 400),
        ("GET", "/windows/abc", 400),
        ("GET", "/windows/99999999999999999999", 400),
        ("GET", "/windows/9223372036854775807", 404),
        ("POST", "/alerts/99999999999999999999/ack", 400),
        ("POST", "/alerts/424242/ack", 404),
        ("GET", "/monitoring/events?kind=alert.exploded", 400),
        ("GET", "/monitoring/events?after=-3", 400),
    ],
)
def test_bad_monitor_requests_answer_4xx(
    server: Server, monitored: MonitorClient, method: str, path: str, status: int
) -> None:
    editor = server.user("eve", "editor")
    response = server.client.request(method, V1 + path, headers=editor)
    assert response.status_code == status, response.text


# -- automation --------------------------------------------------------------------------


@pytest.fixture
def pipeline(server: Server, tmp_path: Path) -> str:
    """Registered pipeline ``nightly`` (one tiny step) and model churn v1 served by churn-api."""
    from loopml.pipelines import register_pipeline

    source = tmp_path / "nightly_pipeline.py"
    source.write_text(
        textwrap.dedent(
            """
            import loopml

            @loopml.step
            def one() -> int:
                return 1

            @loopml.pipeline
            def nightly() -> None:
                one()
            """
        )
    )
    register_pipeline(
        f"{source}:nightly", name="nightly", schedule="0 3 * * *", settings=server.settings
    )
    registry = RegistryClient(server.settings)
    add_version(registry, "churn", tmp_path)
    registry.set_alias("churn", "live", 1)
    DeploymentClient(server.settings).create("churn-api", "churn", TrafficPolicy.follow("live"))
    return "nightly"


def test_automation_policies_set_get_list_and_remove(server: Server, pipeline: str) -> None:
    editor = server.user("eve", "editor")
    url = f"{V1}/automation/policies/churn"
    body = {"pipeline": pipeline, "deployment": "churn-api", "canary_share": 20,
            "retrain_on": ["drift", "manual"], "reason": "start the loop"}  # fmt: skip
    made = server.client.put(url, json=body, headers=editor)
    assert made.status_code == 200, made.text
    assert (made.json()["canary_share"], made.json()["model"]) == (20, "churn")
    assert server.client.get(url, headers=editor).json()["retrain_on"] == ["drift", "manual"]
    listed = server.client.get(f"{V1}/automation/policies", headers=editor).json()
    assert [p["model"] for p in listed["policies"]] == ["churn"]
    status = server.client.get(f"{V1}/automation/status", headers=editor).json()
    assert [s["model"] for s in status["models"]] == ["churn"]
    gone = server.client.delete(url, params={"reason": "pause"}, headers=editor)
    assert gone.json()["removed"] is True
    _error(server.client.get(url, headers=editor), 404)
    _error(server.client.delete(url, headers=editor), 404)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 400),
        ({"pipeline": 5}, 400),
        ({"pipeline": "nope"}, 404),
        ({"pipeline": "nightly", "deployment": "nope"}, 404),
        ({"pipeline": "nightly", "canary_share": 150}, 400),
        ({"pipeline": "nightly", "canary_share": "10"}, 400),
        ({"pipeline": "nightly", "retrain_on": 5}, 400),
        ({"pipeline": "nightly", "retrain_on": "drift"}, 400),
        ({"pipeline": "nightly", "retrain_on": ["earthquake"]}, 400),
        ({"pipeline": "nightly", "canary_for": 10}, 400),
        ({"pipeline": "nightly", "cooldown": "soon"}, 400),
        ({"pipeline": "nightly", "max_error_rate": "NaN"}, 400),
        ({"pipeline": "nightly", "evaluate_on": "datasets:/x/1"}, 400),
        ({"pipeline": "nightly", "reason": 3}, 400),
    ],
)
def test_bad_automation_policies_are_refused(
    server: Server, pipeline: str, body: dict[str, Any], status: int
) -> None:
    editor = server.user("eve", "editor")
    response = server.client.put(f"{V1}/automation/policies/churn", json=body, headers=editor)
    _error(response, status)
    other = server.client.put(
        f"{V1}/automation/policies/nope", json={"pipeline": "nightly"}, headers=editor
    )
    _error(other, 404)


def test_a_trigger_is_a_request_in_the_callers_name(server: Server, pipeline: str) -> None:
    from loopml.store import open_store
    from loopml.store.audit import history

    editor = server.user("eve", "editor")
    asked = server.client.post(
        f"{V1}/registered-pipelines/nightly/trigger", json={"reason": "new data"}, headers=editor
    )
    assert asked.status_code == 202, asked.text
    assert asked.json()["pipeline"] == "nightly"
    with open_store(server.settings.db_url).read() as conn:
        (row,) = history(conn, "pipeline", "nightly")[-1:]
    assert (row["action"], row["actor"], row["reason"]) == (
        "pipeline.trigger_manual",
        "eve",
        "new data",
    )
    _error(
        server.client.post(f"{V1}/registered-pipelines/nope/trigger", json={}, headers=editor), 404
    )
    viewer = server.user("vic", "viewer")
    _error(
        server.client.post(f"{V1}/registered-pipelines/nightly/trigger", json={}, headers=viewer),
        403,
    )


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/automation/plans", 200),
        ("GET", "/automation/plans?limit=0", 400),
        ("GET", "/automation/plans/1", 404),
        ("GET", "/automation/plans/zero", 400),
        ("GET", "/automation/plans/99999999999999999999", 400),
        ("POST", "/automation/plans/7/cancel", 404),
        ("POST", "/automation/plans/-7/cancel", 400),
        ("GET", "/automation/status?model=nope", 404),
        ("GET", "/automation/policies/nope", 404),
    ],
)
def test_bad_plan_requests_answer_4xx(
    server: Server, pipeline: str, method: str, path: str, status: int
) -> None:
    editor = server.user("eve", "editor")
    response = server.client.request(method, V1 + path, headers=editor)
    assert response.status_code == status, response.text


def test_a_triggered_run_is_a_plan_to_list_show_and_not_cancel_once_done(
    server: Server, pipeline: str
) -> None:
    from loopml.automation.agent import Agent

    editor = server.user("eve", "editor")
    server.client.post(f"{V1}/registered-pipelines/nightly/trigger", json={}, headers=editor)
    Agent(server.settings, run_monitors=False).run_once()  # runs it: a plain run's plan ends
    (plan,) = server.client.get(f"{V1}/automation/plans", headers=editor).json()["plans"]
    assert (plan["pipeline"], plan["state"]) == ("nightly", "done")
    shown = server.client.get(f"{V1}/automation/plans/{plan['id']}", headers=editor).json()
    assert shown["pipeline_run_id"] == plan["pipeline_run_id"] is not None
    listed = server.client.get(
        f"{V1}/automation/plans", params={"state": "running,waiting"}, headers=editor
    )
    assert listed.json()["plans"] == []
    done = server.client.get(f"{V1}/automation/plans", params={"state": "done"}, headers=editor)
    assert [p["id"] for p in done.json()["plans"]] == [plan["id"]]
    refused = server.client.post(
        f"{V1}/automation/plans/{plan['id']}/cancel", json={"reason": "late"}, headers=editor
    )
    assert "already ended" in _error(refused, 400)["message"]
