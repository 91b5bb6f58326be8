"""``loopml lineage URI`` over the edges real pipeline runs and dataset versions record."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from loopml.config import Settings
from loopml.data import DatasetClient
from loopml.store.lineage import add_edge


@dataclass(frozen=True)
class DataRun:
    """A run of ``reads_data``: dataset iris/1 -> count_rows -> double."""

    pipeline_run: str
    count_rows: str
    double: str


@pytest.fixture
def data_run(cli: Any, home: Path, tmp_path: Path) -> DataRun:
    source = tmp_path / "iris.csv"
    source.write_text("a,b\n1,2\n3,4\n5,6\n")
    DatasetClient(Settings.load(home=home)).log("iris", source)
    result = cli.run("pipeline", "run", "_cli_pipelines:reads_data", "--json")
    assert result.exit_code == 0, result.stderr
    run = json.loads(result.stdout)
    steps = {step["node"]: step["run_id"] for step in run["steps"]}
    return DataRun(run["id"], steps["count_rows"], steps["double"])


def flatten(entries: list[dict[str, Any]], depth: int = 0) -> list[tuple[int, str, str, str]]:
    """``(depth, edge, kind, id)`` of a walk, depth first."""
    out = []
    for entry in entries:
        out.append((depth, entry["edge"], entry["kind"], entry["id"]))
        out += flatten(entry["children"], depth + 1)
    return out


def test_a_step_run_walks_up_to_the_dataset_and_down_to_its_consumer(cli, data_run) -> None:
    found = cli.json("lineage", f"runs:/{data_run.count_rows}")
    assert found["node"]["kind"] == "run"
    assert "count_rows (step, finished)" in found["node"]["label"]
    assert flatten(found["upstream"]) == [(0, "consumed", "dataset_version", "iris/1")]
    assert flatten(found["downstream"]) == [
        (0, "produced", "step_output", f"{data_run.count_rows}/output"),
        (1, "consumed by", "run", data_run.double),
        (2, "produced", "step_output", f"{data_run.double}/output"),
    ]
    assert found["parent_run"] == data_run.pipeline_run
    assert found["child_runs"] == []


def test_the_tree_names_what_it_came_from_and_what_used_it(cli, data_run) -> None:
    result = cli.run("lineage", data_run.count_rows)  # a bare run id works too
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"run {data_run.count_rows} count_rows (step, finished)"
    text = result.stdout
    assert "came from" in text
    assert "consumed  datasets:/iris/1" in text
    assert f"consumed by  run {data_run.double} double (step, finished)" in text
    assert f"part of run {data_run.pipeline_run}" in text
    assert "(pipeline reads_data" in text


def test_a_dataset_walks_down_to_every_step_that_used_it(cli, data_run) -> None:
    found = cli.json("lineage", "datasets:/iris", "--direction", "down")
    assert found["node"] == {"kind": "dataset_version", "id": "iris/1", "label": "datasets:/iris/1"}
    assert found["upstream"] == []
    kinds = [(depth, kind, key) for depth, _, kind, key in flatten(found["downstream"])]
    assert kinds[:3] == [
        (0, "run", data_run.count_rows),
        (1, "step_output", f"{data_run.count_rows}/output"),
        (2, "run", data_run.double),
    ]
    short = cli.json("lineage", "datasets:/iris/1", "-d", "down", "--depth", "1")
    (only,) = short["downstream"]
    assert only["id"] == data_run.count_rows
    assert only["children"] == []
    assert only["more"] is True
    assert "raise --depth" in cli.run("lineage", "datasets:/iris@latest", "--depth", "1").stdout


def test_a_step_output_walks_up_to_its_producer(cli, data_run) -> None:
    found = cli.json("lineage", f"step_output:{data_run.count_rows}/output", "-d", "up")
    assert flatten(found["upstream"]) == [
        (0, "produced by", "run", data_run.count_rows),
        (1, "consumed", "dataset_version", "iris/1"),
    ]
    assert "downstream" in found
    assert found["downstream"] == []


def test_a_pipeline_run_lists_its_step_runs(cli, data_run) -> None:
    found = cli.json("lineage", f"runs:/{data_run.pipeline_run}")
    assert [c["name"] for c in found["child_runs"]] == ["count_rows", "double"]
    assert found["parent_run"] is None
    text = cli.run("lineage", f"runs:/{data_run.pipeline_run}").stdout
    assert "child runs (2)" in text
    assert "see its child runs" in text


def test_cycles_are_shown_once(cli, client) -> None:
    with client.store.write() as conn:
        add_edge(conn, ("thing", "a"), "consumed", ("thing", "b"))
        add_edge(conn, ("thing", "b"), "consumed", ("thing", "a"))
    found = cli.json("lineage", "thing:a", "-d", "up")
    (b,) = found["upstream"]
    assert (b["id"], b["edge"]) == ("b", "consumed")
    (a,) = b["children"]
    assert (a["id"], a["seen"], a["children"]) == ("a", True, [])
    assert "(expanded elsewhere in this tree)" in cli.run("lineage", "thing:a").stdout


def test_unknown_nodes_and_models_are_clear_errors(cli, data_run) -> None:
    for uri in ("runs:/01NOSUCHRUN", "01NOSUCHRUN"):
        result = cli.run("lineage", uri)
        assert result.exit_code == 1
        (line,) = result.stderr.splitlines()
        assert line.startswith("error: run '01NOSUCHRUN' not found")
    nothing = cli.run("lineage", "feature_view:nothing")
    assert nothing.exit_code == 1
    assert "lineage node 'feature_view:nothing' not found" in nothing.stderr
    model = cli.run("lineage", "models:/churn/1")
    assert model.exit_code == 1
    assert model.stderr.startswith(
        "error: model 'churn' not found; no model is registered yet; register one with "
        "RegistryClient.register"
    )
    assert cli.run("lineage", "datasets:/nope").exit_code == 1
    assert cli.run("lineage", "not a node").exit_code == 2
