"""``loopml pipeline …`` against real pipelines (``_cli_pipelines``) and real stores."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from loopml.cli._dag import draw, layers
from loopml.cli._live import StepBoard
from loopml.pipelines import StepEvent, StepStatus

DIAMOND = "_cli_pipelines:diamond"
SQUARES = "_cli_pipelines:squares"
RUN_FIELDS = (
    "id", "pipeline", "status", "params", "executor", "cache", "entrypoint", "resumed_from",
    "created_at", "ended_at", "duration_s", "counts", "failed_steps",
)  # fmt: skip
STEP_FIELDS = (
    "node", "step", "status", "run_id", "cached_from", "cache_key", "attempts", "started_at",
    "ended_at", "duration_ms", "reason", "error", "outputs",
)  # fmt: skip
NODE_ROW = re.compile(r"^[\s│]*[○◐●◆✗⊘][\s│]*(\S+)")  # lanes, a status glyph, the node


def run_json(cli: Any, *args: str, code: int = 0) -> dict[str, Any]:
    result = cli.run("pipeline", "run", *args, "--json")
    assert result.exit_code == code, (result.stdout, result.stderr)
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def steps_of(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["node"]: step for step in run["steps"]}


def drawn_nodes(text: str) -> list[str]:
    return [m.group(1) for line in text.splitlines() if (m := NODE_ROW.match(line))]


# -- run --------------------------------------------------------------------------------


def test_run_prints_a_line_per_step_and_records_the_run(cli) -> None:
    result = cli.run("pipeline", "run", DIAMOND, "--param", "n=4")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    ended = [line.split()[1:3] for line in lines[:-1]]
    assert sorted(ended) == [["completed", n] for n in ("join", "left", "right", "source")]
    assert ended[0] == ["completed", "source"]
    assert ended[-1] == ["completed", "join"]
    assert re.fullmatch(r"pipeline diamond run \w{26} finished in \S+: 4 completed", lines[-1]), (
        lines[-1]
    )
    (row,) = cli.json("pipeline", "runs")
    assert (row["pipeline"], row["status"], row["params"]["n"]) == ("diamond", "finished", 4)
    assert row["counts"]["completed"] == 4


def test_run_json_has_the_run_and_every_step(cli) -> None:
    run = run_json(cli, DIAMOND, "-p", "n=2", "-p", "k=3", "--name", "nightly")
    assert run["status"] == "finished"
    assert run["params"] == {"n": 2, "k": 3, "fail": False, "flag": ""}
    assert run["entrypoint"] == DIAMOND
    assert run["executor"] == "local"
    assert run["counts"]["total"] == 4
    steps = steps_of(run)
    assert list(steps) == ["source", "left", "right", "join"]
    assert steps["left"]["status"] == "completed"
    assert steps["left"]["outputs"]["output"]["type"] == "int"
    assert steps["left"]["duration_ms"] >= 0
    again = run_json(cli, DIAMOND, "-p", "n=2", "-p", "k=3")
    assert {s["status"] for s in again["steps"]} == {"cached"}
    assert steps_of(again)["join"]["cached_from"] == steps["join"]["run_id"]


def test_run_load_prints_a_step_output_and_the_steps_on_stderr(cli) -> None:
    result = cli.run("pipeline", "run", DIAMOND, "-p", "n=4", "--load", "join")
    text = cli.run("pipeline", "run", "_cli_pipelines:typed", "-p", "label=a b", "--load",
                   "scale.output")  # fmt: skip

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == 10  # left: 0+1+2+3, right: 4 rows
    assert "completed join" in " ".join(result.stderr.split())
    assert "pipeline diamond run" in result.stderr
    assert text.exit_code == 0, text.stderr
    assert text.stdout.startswith("2.0|a b|None|None|False|")  # text as is, not JSON
    as_json = cli.run("pipeline", "run", "_cli_pipelines:typed", "--load", "scale", "--json")
    assert json.loads(as_json.stdout).startswith("2.0|x|None|None|False|")


def test_run_load_of_a_missing_output_or_a_failed_run(cli) -> None:
    missing = cli.run("pipeline", "run", DIAMOND, "--load", "join.nope")
    failed = cli.run("pipeline", "run", DIAMOND, "-p", "fail=true", "--load", "join")

    assert missing.exit_code == 2
    assert "step 'join' has no output 'nope'; it has ['output']" in missing.stderr
    assert (failed.exit_code, failed.stdout) == (1, "")
    assert "step(s) join failed" in failed.stderr
    array = cli.run("pipeline", "run", "_cli_pipelines:array", "--load", "zeros")
    assert array.exit_code == 2
    assert "step 'zeros' returned a ndarray; --load prints text and JSON values" in array.stderr


def test_run_with_config_and_no_cache(cli, tmp_path: Path) -> None:
    config = tmp_path / "params.toml"
    config.write_text("[params]\nn = 5\nk = 2\n")
    first = run_json(cli, DIAMOND, "--config", str(config), "--param", "k=4")
    assert (first["params"]["n"], first["params"]["k"]) == (5, 4)
    second = run_json(cli, DIAMOND, "--config", str(config), "--param", "k=4", "--no-cache")
    assert second["cache"] is False
    assert {s["status"] for s in second["steps"]} == {"completed"}


def test_failed_run_exits_1_naming_the_step_and_the_resume_hint(cli) -> None:
    result = cli.run("pipeline", "run", DIAMOND, "-p", "fail=true")
    assert result.exit_code == 1
    run_id = re.search(r"run (\w{26}) failed", result.stdout)
    assert run_id is not None, result.stdout
    assert "✗ failed    join" in result.stdout
    assert "✗ join: RuntimeError: join was told to fail" in result.stdout
    assert f"loopml pipeline resume {run_id.group(1)}" in result.stdout
    assert "second line" not in result.stdout  # only an error's first line
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: pipeline 'diamond' run ")
    assert "step(s) join failed" in line
    assert f"loopml pipeline resume {run_id.group(1)}" in line


def test_failed_run_json_is_the_run_with_the_error(cli) -> None:
    run = run_json(cli, DIAMOND, "-p", "fail=true", code=1)
    assert run["status"] == "failed"
    assert run["failed_steps"] == ["join"]
    assert run["error"]["code"] == "pipeline_failed"
    assert "join was told to fail" in steps_of(run)["join"]["error"]


def test_resume_after_the_fix_reuses_the_finished_steps(cli, tmp_path: Path) -> None:
    flag = tmp_path / "broken"
    flag.touch()
    failed = run_json(cli, DIAMOND, "-p", f"flag={flag}", code=1)
    flag.unlink()  # the fix
    result = cli.run("pipeline", "resume", failed["id"])
    assert result.exit_code == 0, result.stderr
    assert "◆ cached    left" in result.stdout
    assert "● completed join" in result.stdout
    resumed = cli.json("pipeline", "show", "diamond")
    assert resumed["resumed_from"] == failed["id"]
    assert resumed["status"] == "finished"
    steps = steps_of(resumed)
    assert [steps[n]["status"] for n in ("source", "left", "right")] == ["cached"] * 3
    assert steps["left"]["reason"] == f"reused from run {failed['id']} (resume)"
    assert steps["join"]["status"] == "completed"


def test_resume_json_and_a_run_that_fails_again(cli) -> None:
    failed = run_json(cli, DIAMOND, "-p", "fail=true", code=1)
    result = cli.run("pipeline", "resume", f"runs:/{failed['id']}", "--json")
    assert result.exit_code == 1
    again = json.loads(result.stdout)
    assert again["resumed_from"] == failed["id"]
    assert again["failed_steps"] == ["join"]


def test_live_display_on_a_terminal_ends_with_every_step(cli) -> None:
    result = cli.run("pipeline", "run", SQUARES, env={"TTY_COMPATIBLE": "1", "COLUMNS": "120"})
    assert result.exit_code == 0, result.stderr
    final = result.stdout[result.stdout.rindex("source") :]  # the last frame
    for node in ("source", "square", "square[0]", "square[2]", "total"):
        assert node in final
    assert "map: 3/3 items done" in final
    assert "5/5 steps" in final
    assert "5 completed" in final


# -- the live board ---------------------------------------------------------------------


def _event(node: str, status: str, **fields: Any) -> StepEvent:
    return StepEvent("RUN", node, StepStatus(status), **fields)


def _render(board: StepBoard) -> list[str]:
    out = io.StringIO()
    Console(file=out, width=100, color_system=None).print(board)
    return [line.rstrip() for line in out.getvalue().splitlines()]


def test_step_board_shows_each_status_with_time_and_reason() -> None:
    now = [100.0]
    board = StepBoard(clock=lambda: now[0])
    nodes = ("load", "train", "eval", "report", "old")
    for node in nodes:
        board.update(_event(node, "pending", nodes=nodes))
    board.update(_event("old", "cached", reason="same cache key as step run X"))
    board.update(_event("load", "running", reason="no earlier run with this cache key"))
    board.update(_event("load", "completed", duration_ms=1500))
    board.update(_event("train", "running"))
    now[0] += 2.5
    board.update(_event("eval", "running"))
    board.update(_event("eval", "failed", duration_ms=20, reason="ValueError: bad\ntrace"))
    board.update(_event("report", "skipped", reason="upstream step 'eval' failed"))
    lines = _render(board)
    assert lines[0].split()[:4] == ["●", "load", "completed", "1.5s"]
    assert lines[1].split()[1:4] == ["train", "running", "2.5s"]
    assert lines[2].split()[:5] == ["✗", "eval", "failed", "20ms", "ValueError:"]
    assert "trace" not in lines[2]
    assert lines[3].split()[:3] == ["⊘", "report", "skipped"]
    assert lines[4].split()[:3] == ["◆", "old", "cached"]
    assert lines[5].split()[:2] == ["4/5", "steps"]
    assert "1 running" in lines[5]
    assert "1 failed" in lines[5]
    assert "1 cached" in lines[5]


def test_step_board_counts_the_items_of_a_large_map() -> None:
    board = StepBoard()
    nodes = ("src", "sq", *(f"sq[{i}]" for i in range(20)))
    for node in nodes:
        board.update(_event(node, "pending", nodes=nodes))
    for i in range(15):
        board.update(_event(f"sq[{i}]", "completed", duration_ms=1))
    board.update(_event("sq[15]", "running"))
    text = "\n".join(_render(board))
    assert "map: 15/20 items done" in text
    assert "sq[15]" in text
    assert "sq[3]" not in text
    assert re.search(r"…\s+19 more items: 15 completed · 4 pending", text)
    assert "15/21 steps" in text  # the map itself is not a step


# -- show -------------------------------------------------------------------------------


def test_show_draws_a_diamond_with_every_node_once(cli) -> None:
    run = run_json(cli, DIAMOND, "-p", "fail=true", code=1)
    result = cli.run("pipeline", "show", run["id"])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert sorted(drawn_nodes(out)) == ["join", "left", "right", "source"]
    assert "├─┐" in out
    assert "├─┘" in out
    assert re.search(r"params\s+n=3, k=1, fail=True, flag=''", out)
    assert re.search(r"entrypoint\s+_cli_pipelines:diamond", out)
    join = next(line for line in out.splitlines() if "join" in line and "✗" in line)
    assert "failed" in join
    assert "RuntimeError: join was told to fail" in join
    assert "← left, right" in join


def test_show_a_pipeline_name_shows_its_latest_run(cli) -> None:
    run_json(cli, DIAMOND)
    latest = run_json(cli, DIAMOND, "-p", "k=2")
    shown = cli.json("pipeline", "show", "diamond")
    assert shown["id"] == latest["id"]
    assert sorted(shown) == sorted([*RUN_FIELDS, "steps", "nodes"])
    assert sorted(shown["steps"][0]) == sorted(STEP_FIELDS)
    assert sorted(cli.json("pipeline", "runs")[0]) == sorted(RUN_FIELDS)
    assert [n["id"] for n in shown["nodes"]] == ["source", "left", "right", "join"]
    assert shown["nodes"][3]["upstream"] == ["left", "right"]


def test_show_a_map_lists_its_items_under_it(cli) -> None:
    run = run_json(cli, SQUARES, "-p", "n=3")
    out = cli.run("pipeline", "show", run["id"]).stdout
    assert drawn_nodes(out) == ["source", "square", "square[0]", "square[1]", "square[2]", "total"]
    assert "mapped over 3 item(s)" in out


def test_show_a_target_draws_the_graph_without_running_it(cli) -> None:
    result = cli.run("pipeline", "show", DIAMOND, "--param", "n=2")
    assert result.exit_code == 0, result.stderr
    assert "4 steps, not run" in result.stdout
    assert sorted(drawn_nodes(result.stdout)) == ["join", "left", "right", "source"]
    traced = cli.json("pipeline", "show", "--target", SQUARES)
    assert [(n["id"], n["map"]) for n in traced["nodes"]] == [
        ("source", []),
        ("square", ["x"]),
        ("total", []),
    ]
    assert cli.json("pipeline", "runs") == []


def test_unknown_runs_are_not_found_in_one_line(cli) -> None:
    run_json(cli, DIAMOND)
    for command in ("show", "explain-cache", "resume"):
        result = cli.run("pipeline", command, "01NOSUCHRUN")
        assert result.exit_code == 1, command
        (line,) = result.stderr.splitlines()
        assert line.startswith("error: pipeline run or pipeline '01NOSUCHRUN' not found")
    close = cli.run("pipeline", "show", "diamnd")
    assert "did you mean: diamond?" in close.stderr


def test_bad_input_exits_2(cli) -> None:
    assert cli.run("pipeline", "runs", "--status", "done").exit_code == 2
    assert cli.run("pipeline", "show", "diamond", "--param", "n=2").exit_code == 2
    assert cli.run("pipeline", "run", DIAMOND, "--param", "novalue").exit_code == 2
    bad_param = cli.run("pipeline", "run", DIAMOND, "--param", "nope=1")
    assert bad_param.exit_code == 2
    assert "its parameters are: n, k, fail, flag" in bad_param.stderr
    missing = cli.run("pipeline", "run", "_cli_pipelines:diamnd")
    assert missing.exit_code == 1
    assert "did you mean: _cli_pipelines:diamond?" in missing.stderr


# -- explain-cache ----------------------------------------------------------------------


def test_explain_cache_names_the_changed_param_and_marks_the_hits(cli) -> None:
    run_json(cli, DIAMOND, "-p", "k=1")
    second = run_json(cli, DIAMOND, "-p", "k=2")
    report = cli.json("pipeline", "explain-cache", second["id"])
    rows = {row["node"]: row for row in report["steps"]}
    assert {n: rows[n]["verdict"] for n in rows} == {
        "source": "hit",
        "left": "miss",
        "right": "hit",
        "join": "miss",
    }
    assert rows["left"]["reasons"] == ["param k changed: 1 -> 2"]
    assert rows["join"]["reasons"] == ["input a: content changed"]
    assert rows["source"]["reasons"][0].startswith("same cache key as step run ")
    table = cli.run("pipeline", "explain-cache", "diamond").stdout
    assert re.search(r"left\s+MISS\s+param k changed: 1 -> 2", table)
    assert re.search(r"source\s+HIT\s+same cache key", table)


def test_explain_cache_first_run_no_cache_and_failures(cli) -> None:
    first = run_json(cli, DIAMOND)
    rows = cli.json("pipeline", "explain-cache", first["id"])["steps"]
    assert {row["verdict"] for row in rows} == {"miss"}
    assert {tuple(row["reasons"]) for row in rows} == {("no earlier run of this step",)}
    forced = run_json(cli, DIAMOND, "--no-cache")
    rows = cli.json("pipeline", "explain-cache", forced["id"])["steps"]
    assert {tuple(row["reasons"]) for row in rows} == {
        ("cache disabled for this run (--no-cache)",)
    }
    failed = run_json(cli, DIAMOND, "-p", "fail=true", code=1)
    join = cli.json("pipeline", "explain-cache", failed["id"])["steps"][-1]
    assert join["verdict"] == "failed"
    assert join["reasons"][0] == "param fail changed: False -> True"
    assert join["reasons"][-1].startswith("then it failed: RuntimeError: join was told to fail")


def test_explain_cache_of_a_map(cli) -> None:
    run_json(cli, SQUARES, "-p", "n=2")
    longer = run_json(cli, SQUARES, "-p", "n=3")
    rows = {r["node"]: r for r in cli.json("pipeline", "explain-cache", longer["id"])["steps"]}
    assert rows["square"]["verdict"] == "map"
    assert rows["square[0]"]["verdict"] == "hit"
    assert rows["square[1]"]["verdict"] == "hit"
    assert rows["square[2]"]["verdict"] == "miss"
    assert rows["square[2]"]["reasons"] == ["no earlier run of this step"]
    assert rows["source"]["reasons"] == ["param n changed: 2 -> 3"]


# -- runs and list ----------------------------------------------------------------------


def test_runs_lists_newest_first_with_filters(cli) -> None:
    a = run_json(cli, DIAMOND)
    b = run_json(cli, SQUARES)
    c = run_json(cli, DIAMOND, "-p", "fail=true", code=1)
    assert [r["id"] for r in cli.json("pipeline", "runs")] == [c["id"], b["id"], a["id"]]
    assert [r["id"] for r in cli.json("pipeline", "runs", "diamond")] == [c["id"], a["id"]]
    assert [r["id"] for r in cli.json("pipeline", "runs", "--status", "failed")] == [c["id"]]
    assert [r["id"] for r in cli.json("pipeline", "runs", "-n", "1")] == [c["id"]]
    row = cli.json("pipeline", "runs", "diamond", "--status", "failed")[0]
    assert (row["counts"]["cached"], row["counts"]["failed"]) == (3, 1)
    assert "steps" not in row
    table = cli.run("pipeline", "runs").stdout
    header = next(line.split() for line in table.splitlines() if line.strip().startswith("id"))
    assert header == [
        "id", "pipeline", "status", "started", "duration", "completed", "cached", "failed",
        "skipped",
    ]  # fmt: skip
    assert c["id"] in table
    assert "failed" in table


def test_list_shows_each_pipeline_once_with_its_latest_run(cli) -> None:
    assert cli.json("pipeline", "list") == {"pipelines": [], "registered": []}
    assert "no pipelines yet" in cli.run("pipeline", "list").stdout
    run_json(cli, DIAMOND)
    last = run_json(cli, DIAMOND, "-p", "fail=true", code=1)
    run_json(cli, SQUARES)
    listing = cli.json("pipeline", "list")
    rows = {row["name"]: row for row in listing["pipelines"]}
    assert list(rows) == ["diamond", "squares"]
    assert (rows["diamond"]["runs"], rows["diamond"]["last_run_id"]) == (2, last["id"])
    assert rows["diamond"]["last_status"] == "failed"
    assert rows["squares"]["entrypoint"] == SQUARES
    table = cli.run("pipeline", "list").stdout
    assert re.search(rf"diamond\s+2\s+{last['id']}\s+failed", table)


def test_list_shows_registered_pipelines(cli, home: Path) -> None:
    from loopml.config import Settings
    from loopml.pipelines.schedules import register_pipeline
    from loopml.pipelines.triggers import on_webhook

    settings = Settings.load(home=home)
    register_pipeline(DIAMOND, name="nightly", schedule="0 3 * * *", settings=settings)
    register_pipeline(
        DIAMOND, name="hook", triggers=[on_webhook()], enabled=False, settings=settings
    )
    registered = {r["name"]: r for r in cli.json("pipeline", "list")["registered"]}
    assert list(registered) == ["hook", "nightly"]
    assert registered["nightly"]["next_fire_at"] > 0
    assert (registered["hook"]["triggers"], registered["hook"]["trigger_kinds"]) == (
        1,
        ["webhook"],
    )
    assert registered["hook"]["next_fire_at"] is None
    table = cli.run("pipeline", "list").stdout
    assert re.search(r"nightly\s+0 3 \* \* \* \(UTC\)\s+0\s+\S+ \d\d:00:00 \S+\s+yes", table)
    assert re.search(r"hook\s+-\s+1\s+-\s+no", table)


def test_register_commands_are_attached(cli) -> None:
    result = cli.run("pipeline", "--help")
    for command in ("run", "list", "runs", "show", "explain-cache", "resume", "register"):
        assert command in result.stdout
    assert "schedules" in result.stdout
    assert "unregister" in result.stdout


# -- the DAG layout ---------------------------------------------------------------------


def _lines(upstream: dict[str, list[str]]) -> list[str]:
    return [f"{row.graph}  {row.node or ''}".rstrip() for row in draw(upstream)]


def test_draw_fans_out_and_in_without_repeating_nodes() -> None:
    assert _lines({"s": [], "a": ["s"], "b": ["s"], "c": ["s"], "all": ["a", "b", "c"]}) == [
        "●      s",
        "├─┬─┐",
        "● │ │  a",
        "│ ● │  b",
        "│ │ ●  c",
        "├─┴─┘",
        "●      all",
    ]


def test_draw_keeps_unrelated_nodes_apart() -> None:
    # A node right under another in the same lane would read as its consumer.
    assert _lines({"a": [], "b": []}) == ["●    a", "  ●  b"]
    assert _lines({"a": [], "b": ["a"], "c": ["b"]}) == ["●  a", "●  b", "●  c"]


@pytest.mark.parametrize(
    "upstream",
    [
        {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"], "e": ["a", "d"], "f": []},
        {f"n{i}": [f"n{j}" for j in range(i) if (i + j) % 3 == 0] for i in range(12)},
    ],
)
def test_draw_shows_each_node_once_after_its_upstream(upstream: dict[str, list[str]]) -> None:
    rows = [row.node for row in draw(upstream) if row.node is not None]
    assert sorted(rows) == sorted(upstream)
    for node, parents in upstream.items():
        assert all(rows.index(p) < rows.index(node) for p in parents)


def test_layers_are_longest_paths() -> None:
    assert layers({"a": [], "b": ["a"], "c": ["a", "b"], "x": ["missing"]}) == {
        "a": 0,
        "b": 1,
        "c": 2,
        "x": 0,
    }


# -- parameters are typed by the pipeline's annotations ---------------------------------

TYPED = "_cli_pipelines:typed"


def test_param_values_are_converted_by_the_pipelines_annotations(cli) -> None:
    run = run_json(
        cli, TYPED, "-p", "alpha=2", "-p", "label=1.10", "-p", 'tags=["a","b"]',
        "-p", "count=7", "-p", "on=true",
    )  # fmt: skip
    assert run["status"] == "finished"
    assert run["params"] == {
        "alpha": 2.0, "label": "1.10", "tags": ["a", "b"], "count": 7, "on": True,
    }  # fmt: skip
    assert isinstance(run["params"]["alpha"], float)
    none = run_json(cli, TYPED, "-p", "count=null", "-p", "alpha=0.25")
    assert (none["params"]["count"], none["params"]["alpha"]) == (None, 0.25)


@pytest.mark.parametrize(
    ("pair", "expected"),
    [
        ("alpha=abc", "parameter alpha='abc' is not a float"),
        ("count=1.5", "parameter count=1.5 is not an int or None"),
        ("on=maybe", "parameter on='maybe' is not a bool"),
        ("tags=5", "parameter tags=5 is not a list[str] or None"),
    ],
)
def test_a_param_of_the_wrong_type_is_refused_naming_it(cli, pair: str, expected: str) -> None:
    result = cli.run("pipeline", "run", TYPED, "--param", pair)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert expected in result.stderr
    assert cli.json("pipeline", "runs") == []  # nothing ran


def test_a_config_value_of_the_wrong_type_is_refused(cli, tmp_path: Path) -> None:
    config = tmp_path / "params.toml"
    config.write_text('[params]\nalpha = "abc"\n')
    result = cli.run("pipeline", "run", TYPED, "--config", str(config))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "parameter alpha='abc' is not a float" in result.stderr
    config.write_text("[params]\nalpha = 3\nlabel = 5\n")
    run = run_json(cli, TYPED, "--config", str(config))
    assert (run["params"]["alpha"], run["params"]["label"]) == (3.0, "5")
