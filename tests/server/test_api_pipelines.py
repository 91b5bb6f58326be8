"""``/api/v1`` pipelines: runs with their steps, cache hits and durations; registrations."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from loopml.config import Settings
from loopml.errors import PipelineFailedError
from loopml.pipelines import load_pipeline, on_dataset, on_webhook, register_pipeline
from loopml.pipelines.history import list_runs
from loopml.store import open_store

from ._support import Server

V1 = "/api/v1"
RUN_FIELDS = (
    "id", "pipeline", "status", "params", "executor", "cache", "entrypoint", "resumed_from",
    "created_at", "ended_at", "duration_s", "counts", "failed_steps",
)  # fmt: skip
STEP_FIELDS = (
    "node", "step", "status", "run_id", "cached_from", "cache_key", "attempts", "started_at",
    "ended_at", "duration_ms", "reason", "error", "outputs",
)  # fmt: skip

PIPELINES = """
import loopml


@loopml.step
def numbers(n: int) -> list[int]:
    return list(range(n))


@loopml.step
def total(rows: list[int]) -> int:
    if not rows:
        raise ValueError("no rows")
    return sum(rows)


@loopml.pipeline
def summing(n: int = 3) -> None:
    total(numbers(n))
"""


def _error(reply: Any, status: int) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert set(error) >= {"code", "message"}
    return error


@pytest.fixture
def target(tmp_path: Path) -> str:
    source = tmp_path / "summing_pipes.py"
    source.write_text(textwrap.dedent(PIPELINES))
    return f"{source}:summing"


@pytest.fixture
def ran(server_settings: Settings, target: str) -> list[str]:
    """Three runs of ``summing``: a fresh one, a cached repeat, and a failure."""
    pipeline = load_pipeline(target)
    ids = [pipeline.run({"n": 3}, settings=server_settings).id]
    ids.append(pipeline.run({"n": 3}, settings=server_settings).id)
    with pytest.raises(PipelineFailedError):
        pipeline.run({"n": 0}, settings=server_settings)
    latest = list_runs(open_store(server_settings.db_url), "summing", limit=1).items
    ids.append(latest[0].id)
    return ids


def test_pipeline_runs_are_listed_filtered_and_paged(open_server: Server, ran: list[str]) -> None:
    http = open_server.client
    pipelines = http.get(f"{V1}/pipelines").json()
    assert [(p["name"], p["runs"], p["last_status"]) for p in pipelines["pipelines"]] == [
        ("summing", 3, "failed")
    ]
    first = http.get(f"{V1}/pipeline-runs", params={"pipeline": "summing", "limit": 2}).json()
    assert [r["id"] for r in first["runs"]] == [ran[2], ran[1]]
    assert first["runs"][1]["counts"]["cached"] == 2
    assert "steps" not in first["runs"][0]
    assert sorted(first["runs"][0]) == sorted(RUN_FIELDS)
    assert sorted(pipelines["pipelines"][0]) == sorted(
        ["name", "runs", "last_run_id", "last_status", "last_run_at", "entrypoint"]
    )
    rest = http.get(
        f"{V1}/pipeline-runs",
        params={"pipeline": "summing", "limit": 2, "page_token": first["next_page_token"]},
    ).json()
    assert [r["id"] for r in rest["runs"]] == [ran[0]]
    assert rest["next_page_token"] is None
    failed = http.get(f"{V1}/pipeline-runs", params={"status": "failed"}).json()["runs"]
    assert [r["id"] for r in failed] == [ran[2]]
    assert failed[0]["failed_steps"] == ["total"]
    assert http.get(f"{V1}/pipeline-runs", params={"pipeline": "other"}).json()["runs"] == []


def test_a_pipeline_run_shows_its_steps_states_cache_hits_and_durations(
    open_server: Server, ran: list[str]
) -> None:
    http = open_server.client
    fresh = http.get(f"{V1}/pipeline-runs/{ran[0]}").json()
    assert fresh["status"] == "finished"
    assert [(s["node"], s["status"], s["cache_hit"]) for s in fresh["steps"]] == [
        ("numbers", "completed", False),
        ("total", "completed", False),
    ]
    assert all(s["duration_ms"] is not None and s["duration_ms"] >= 0 for s in fresh["steps"])
    assert [n["id"] for n in fresh["nodes"]] == ["numbers", "total"]
    assert sorted(fresh) == sorted([*RUN_FIELDS, "steps", "nodes"])
    assert sorted(fresh["steps"][0]) == sorted([*STEP_FIELDS, "cache_hit"])
    assert fresh["steps"][0]["outputs"]["output"].keys() == {"digest", "type", "size"}
    cached = http.get(f"{V1}/pipeline-runs/{ran[1]}").json()
    assert [s["cache_hit"] for s in cached["steps"]] == [True, True]
    assert cached["steps"][0]["cached_from"] == fresh["steps"][0]["run_id"]
    latest = http.get(f"{V1}/pipeline-runs/summing").json()
    assert latest["id"] == ran[2]
    assert latest["steps"][1]["status"] == "failed"
    assert "no rows" in latest["steps"][1]["error"]
    verdicts = http.get(f"{V1}/pipeline-runs/{ran[1]}/cache").json()["steps"]
    assert [v["verdict"] for v in verdicts] == ["hit", "hit"]


def test_registered_pipelines_show_schedules_triggers_and_their_runs(
    open_server: Server, server_settings: Settings, target: str, ran: list[str]
) -> None:
    register_pipeline(
        target,
        name="summing",
        schedule="0 3 * * *",
        triggers=[on_dataset("iris"), on_webhook()],
        params={"n": 3},
        settings=server_settings,
    )
    http = open_server.client
    listed = http.get(f"{V1}/registered-pipelines").json()["registered"]
    assert [(r["name"], r["schedule"], r["enabled"]) for r in listed] == [
        ("summing", "0 3 * * *", True)
    ]
    assert listed[0]["next_fire_at"] is not None
    one = http.get(f"{V1}/registered-pipelines/summing", params={"fires": 3}).json()
    assert len(one["next_fire_times"]) == 3
    assert one["next_fire_times"] == sorted(one["next_fire_times"])
    assert [t["kind"] for t in one["triggers"]] == ["dataset", "webhook"]
    assert one["triggers"][1] == {"kind": "webhook", "token_set": True}
    assert "token_sha256" not in str(one)
    runs = http.get(f"{V1}/registered-pipelines/summing/runs").json()["runs"]
    assert [r["id"] for r in runs] == [ran[2], ran[1], ran[0]]


def test_bad_pipeline_requests_get_4xx(open_server: Server, ran: list[str]) -> None:
    http = open_server.client
    assert "summing" in _error(http.get(f"{V1}/pipeline-runs/summin"), 404)["message"]
    assert _error(http.get(f"{V1}/pipeline-runs/nope/cache"), 404)
    assert _error(http.get(f"{V1}/registered-pipelines/nope"), 404)
    assert _error(http.get(f"{V1}/registered-pipelines/nope/runs"), 404)
    assert _error(http.get(f"{V1}/pipeline-runs", params={"status": "done"}), 400)
    assert _error(http.get(f"{V1}/pipeline-runs", params={"page_token": "%%%"}), 400)
    assert _error(http.get(f"{V1}/pipeline-runs", params={"limit": "100000"}), 400)
    assert _error(http.get(f"{V1}/pipelines", params={"page_token": "W10"}), 400)
