"""``loopml runs …`` and ``loopml experiments list`` against real runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from loopml.config import Settings
from loopml.tracking import TrackingClient

# -- experiments ---------------------------------------------------------------------


def test_experiments_list_json_counts_runs(cli, runs) -> None:
    rows = cli.json("experiments", "list")
    assert [(row["name"], row["runs"]) for row in rows] == [("churn", 3), ("iris", 1)]
    assert all(row["last_run_start"] >= row["created_at"] for row in rows)


def test_experiments_list_table(cli, runs) -> None:
    result = cli.run("experiments", "list")
    assert result.exit_code == 0, result.stderr
    lines = [line.split() for line in result.stdout.splitlines()]
    assert any(line[:1] == ["churn"] and "3" in line for line in lines)
    assert any(line[:1] == ["iris"] and "1" in line for line in lines)


def test_experiments_list_when_empty(cli) -> None:
    assert cli.json("experiments", "list") == []
    result = cli.run("experiments", "list")
    assert result.exit_code == 0
    assert "no experiments yet" in result.stdout


# -- runs list -----------------------------------------------------------------------


def test_runs_list_json_is_newest_first_with_data(cli, runs) -> None:
    rows = cli.json("runs", "list")
    assert [row["id"] for row in rows] == [runs.iris, runs.rf_deep, runs.gbm, runs.rf]
    by_id = {row["id"]: row for row in rows}
    rf = by_id[runs.rf]
    assert rf["name"] == "rf-baseline"
    assert rf["experiment"] == "churn"
    assert rf["status"] == "finished"
    assert rf["params"] == {"depth": "5", "model": "rf"}
    assert rf["metrics"] == {"auc": 0.81, "val_loss": 0.42}
    assert rf["duration_s"] >= 0


def test_runs_list_filters_orders_and_limits(cli, runs) -> None:
    rows = cli.json(
        "runs", "list", "-e", "churn", "-f", "params.model = 'rf'", "-o", "metrics.auc desc"
    )
    assert [row["id"] for row in rows] == [runs.rf_deep, runs.rf]
    rows = cli.json("runs", "list", "--experiment", "churn", "--order-by", "metrics.val_loss")
    assert [row["id"] for row in rows] == [runs.rf_deep, runs.rf, runs.gbm]
    rows = cli.json("runs", "list", "-e", "churn", "-e", "iris", "-n", "2")
    assert [row["id"] for row in rows] == [runs.iris, runs.rf_deep]


def test_runs_list_table_shows_key_columns(cli, runs) -> None:
    result = cli.run("runs", "list", "-e", "churn", "-o", "metrics.auc desc")
    assert result.exit_code == 0, result.stderr
    header, *rows = [line.split() for line in result.stdout.strip().splitlines() if line.strip()]
    assert header[:5] == ["id", "name", "status", "start", "duration"]
    assert {"params.model", "params.depth", "metrics.auc", "metrics.val_loss"} <= set(header)
    data = [row for row in rows if row and len(row[0]) == 26]
    assert [row[0] for row in data] == [runs.gbm, runs.rf_deep, runs.rf]
    assert all("finished" in row for row in data)
    assert "0.88" in data[0]


def test_runs_list_without_all_columns_limits_key_columns(cli, make_run) -> None:
    make_run("wide", "many", {f"p{i}": i for i in range(6)}, {f"m{i}": i for i in range(6)})
    narrow = cli.run("runs", "list").stdout
    wide = cli.run("runs", "list", "--all-columns").stdout
    assert narrow.count("params.") == 3
    assert narrow.count("metrics.") == 4
    assert wide.count("params.") == 6
    assert wide.count("metrics.") == 6
    # what the filter names is shown even when it is not among the most common keys
    assert "metrics.m5" in cli.run("runs", "list", "-f", "metrics.m5 > 1").stdout


def test_runs_list_with_no_match(cli, runs) -> None:
    assert cli.json("runs", "list", "-f", "metrics.auc > 2") == []
    result = cli.run("runs", "list", "-f", "metrics.auc > 2")
    assert result.exit_code == 0
    assert "no runs match" in result.stdout


def test_bad_filter_is_a_usage_error_with_a_clear_message(cli, runs) -> None:
    result = cli.run("runs", "list", "-f", "metrics.auc >> 3")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert "filter" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stdout == ""


def test_bad_filter_with_json_prints_the_error_body(cli, runs) -> None:
    result = cli.run("runs", "list", "-f", "params.model < 'x'", "--json")
    assert result.exit_code == 2
    body = json.loads(result.stdout)
    assert body["error"]["code"] == "invalid_input"
    assert body["error"]["message"] in result.stderr


def test_bad_order_by_and_unknown_experiment(cli, runs) -> None:
    result = cli.run("runs", "list", "-o", "metrics.auc sideways")
    assert result.exit_code == 2
    assert "error: " in result.stderr
    result = cli.run("runs", "list", "-e", "churnn")
    assert result.exit_code == 1
    assert "experiment 'churnn' not found" in result.stderr
    assert "churn" in result.stderr.split("did you mean:")[1]


def test_bad_option_value_is_typers_usage_error(cli) -> None:
    result = cli.run("runs", "list", "-n", "0")
    assert result.exit_code == 2
    result = cli.run("runs", "list", "--no-such-option")
    assert result.exit_code == 2


def test_run_of_a_dead_process_is_listed_as_killed(cli, home: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os
        from loopml.config import Settings
        from loopml.tracking import TrackingClient
        client = TrackingClient(Settings.load(home={str(home)!r}), capture_env=False)
        print(client.create_run("crash", name="doomed").id, flush=True)
        os._exit(0)  # dies without ending the run
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    run_id = done.stdout.strip()
    rows = cli.json("runs", "list", "-e", "crash")
    assert [(row["id"], row["status"]) for row in rows] == [(run_id, "killed")]
    assert "killed" in cli.run("runs", "show", run_id).stdout


# -- runs show -----------------------------------------------------------------------


def test_runs_show_json(cli, runs, client: TrackingClient, tmp_path: Path) -> None:
    model = tmp_path / "model.json"
    model.write_text('{"kind": "rf"}')
    client.log_artifact(runs.rf, model, "model")
    client.run_artifacts.log_bytes(runs.rf, b"notes", "notes.txt")
    shown = cli.json("runs", "show", runs.rf)
    assert shown["id"] == runs.rf
    assert shown["experiment"] == "churn"
    assert shown["params"] == {"depth": "5", "model": "rf"}
    assert shown["metrics"] == {"auc": 0.81, "val_loss": 0.42}
    assert shown["tags"] == {"team": "growth"}
    assert [(a["path"], a["size"]) for a in shown["artifacts"]] == [
        ("model/model.json", 14),
        ("notes.txt", 5),
    ]
    every_tag = cli.json("runs", "show", f"runs:/{runs.rf}", "--all-tags")
    assert every_tag["tags"] == {"loopml.source": "train.py", "team": "growth"}


def test_runs_show_table(cli, runs, client: TrackingClient) -> None:
    client.run_artifacts.log_bytes(runs.rf, b"x" * 2048, "plots/roc/curve.bin")
    out = cli.run("runs", "show", runs.rf).stdout
    for expected in (runs.rf, "rf-baseline", "churn", "finished", "val_loss", "0.42", "team"):
        assert expected in out
    assert "loopml.source" not in out
    assert "plots/" in out
    assert "roc/" in out
    assert "curve.bin" in out
    assert "2.0 KiB" in out
    assert "loopml.source" in cli.run("runs", "show", runs.rf, "--all-tags").stdout


def test_runs_show_unknown_run_fails_with_the_message(cli, runs) -> None:
    result = cli.run("runs", "show", "01J0NOSUCHRUN0000000000000")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: run '01J0NOSUCHRUN0000000000000' not found; list runs with `loopml runs list`"
    ]
    assert result.stdout == ""
    with_json = cli.run("runs", "show", "01J0NOSUCHRUN0000000000000", "--json")
    assert with_json.exit_code == 1
    assert '"code": "not_found"' in with_json.stdout


# -- runs compare --------------------------------------------------------------------


def test_runs_compare_json(cli, runs) -> None:
    result = cli.json("runs", "compare", runs.rf, runs.gbm, runs.rf_deep)
    assert [r["id"] for r in result["runs"]] == [runs.rf, runs.gbm, runs.rf_deep]
    assert result["params"]["model"] == {
        "values": {runs.rf: "rf", runs.gbm: "gbm", runs.rf_deep: "rf"},
        "differs": True,
    }
    assert result["params"]["depth"]["differs"] is True
    auc, loss = result["metrics"]["auc"], result["metrics"]["val_loss"]
    assert (auc["lower_is_better"], auc["best"]) == (False, [runs.gbm])
    assert (loss["lower_is_better"], loss["best"]) == (True, [runs.rf_deep])


def test_runs_compare_direction_options(cli, runs) -> None:
    result = cli.json(
        "runs", "compare", runs.rf, runs.gbm, "--lower-is-better", "auc",
        "--higher-is-better", "val_loss",
    )  # fmt: skip
    assert result["metrics"]["auc"]["best"] == [runs.rf]
    assert result["metrics"]["val_loss"]["best"] == [runs.gbm]
    assert result["params"]["depth"]["differs"] is False


def test_runs_compare_missing_values_and_table(cli, runs) -> None:
    result = cli.json("runs", "compare", runs.rf, runs.iris)
    assert result["params"]["depth"]["values"] == {runs.rf: "5", runs.iris: None}
    assert result["metrics"]["acc"]["best"] == [runs.iris]
    out = cli.run("runs", "compare", runs.rf, runs.gbm).stdout
    lines = {line.split()[0]: line.split() for line in out.splitlines() if line.split()}
    assert lines["model"][1] == "≠"  # differing param marked
    assert "≠" not in lines["depth"]
    assert lines["auc"][:2] == ["auc", "↑"]
    assert lines["auc"][-2:] == ["0.88", "*"]  # the best, in the second run's column
    assert lines["val_loss"][:2] == ["val_loss", "↓"]
    assert lines["val_loss"][2:4] == ["0.42", "*"]


def test_runs_compare_needs_two_runs(cli, runs) -> None:
    result = cli.run("runs", "compare", runs.rf, runs.rf)
    assert result.exit_code == 2
    assert "at least two" in result.stderr
    result = cli.run("runs", "compare", runs.rf, "01J0NOSUCHRUN0000000000000")
    assert result.exit_code == 1
    assert "not found" in result.stderr
    result = cli.run("runs", "compare", runs.rf, runs.gbm, "--lower-is-better", "a",
                     "--higher-is-better", "a")  # fmt: skip
    assert result.exit_code == 2


# -- runs delete ---------------------------------------------------------------------


def test_runs_delete_is_soft_and_audited(cli, runs) -> None:
    result = cli.json("runs", "delete", runs.rf, runs.gbm, "--reason", "leaky split", "--yes")
    assert result == {"deleted": [runs.rf, runs.gbm], "reason": "leaky split"}
    assert [row["id"] for row in cli.json("runs", "list", "-e", "churn")] == [runs.rf_deep]
    again = cli.run("runs", "show", runs.rf)
    assert again.exit_code == 1
    assert "deleted" in again.stderr


def test_runs_delete_checks_every_run_first(cli, runs) -> None:
    result = cli.run("runs", "delete", runs.rf, "01J0NOSUCHRUN0000000000000", "--yes")
    assert result.exit_code == 1
    assert "not found" in result.stderr
    assert runs.rf in {row["id"] for row in cli.json("runs", "list")}


def test_runs_delete_without_a_terminal_refuses_unless_yes(cli, runs) -> None:
    result = cli.run("runs", "delete", runs.iris)  # stdin is not a tty here
    assert result.exit_code == 2, result.stdout
    assert "no terminal to ask on" in result.stderr
    assert "pass --yes" in result.stderr
    assert len(cli.json("runs", "list", "-e", "iris")) == 1  # nothing deleted
    result = cli.run("runs", "delete", runs.iris, "--yes")
    assert result.exit_code == 0, result.stderr
    assert f"deleted run {runs.iris} (svm)" in result.stdout
    assert cli.json("runs", "list", "-e", "iris") == []


# -- the installed command -----------------------------------------------------------


def test_real_process_lists_runs_as_json(home: Path, runs) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
    done = subprocess.run(
        [sys.executable, "-m", "loopml", "--home", str(home), "runs", "list", "-e", "iris",
         "--json"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [row["id"] for row in json.loads(done.stdout)] == [runs.iris]


def test_real_process_reports_errors_without_traceback(home: Path) -> None:
    client = TrackingClient(Settings.load(home=home), capture_env=False)
    client.close()
    done = subprocess.run(
        [sys.executable, "-m", "loopml", "--home", str(home), "runs", "show", "NOPE"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr == "error: run 'NOPE' not found; list runs with `loopml runs list`\n"


def test_runs_list_puts_the_params_that_tell_runs_apart_first(cli, make_run) -> None:
    same = {"alpha": 1, "beta": 2, "gamma": 3}
    for n in (10, 100):
        make_run("sweep", f"rf-{n}", params={**same, "zz_n_estimators": n}, metrics={"acc": 0.9})
    result = cli.run("runs", "list", "-e", "sweep", env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.stderr
    header = next(line for line in result.stdout.splitlines() if "params." in line)
    assert header.index("params.zz_n_estimators") < header.index("params.alpha")


def test_runs_list_pages_with_limit_and_page_token(cli, runs) -> None:
    first = cli.json("runs", "list", "-e", "churn", "-o", "metrics.auc desc", "--limit", "2")
    assert [row["id"] for row in first["items"]] == [runs.gbm, runs.rf_deep]
    token = first["next_page_token"]
    rest = cli.json("runs", "list", "-e", "churn", "-o", "metrics.auc desc", "--page-token", token)
    assert ([row["id"] for row in rest["items"]], rest["next_page_token"]) == ([runs.rf], None)
    table = cli.run("runs", "list", "-e", "churn", "--limit", "1")
    assert table.exit_code == 0, table.stderr
    assert "next page: --page-token " in table.stdout


def test_runs_list_refuses_a_foreign_page_token_and_a_bad_limit(cli, runs) -> None:
    token = cli.json("runs", "list", "-o", "metrics.auc", "--limit", "1")["next_page_token"]
    foreign = cli.run("runs", "list", "-o", "metrics.val_loss", "--page-token", token)
    assert foreign.exit_code != 0
    assert "belongs to another listing or ordering" in foreign.stderr
    garbage = cli.run("runs", "list", "--page-token", "%%%")
    assert garbage.exit_code != 0
    assert "is not a token this listing returned" in garbage.stderr
    assert cli.run("runs", "list", "--limit", "0").exit_code == 2
    assert cli.run("runs", "list", "--limit", str(2**63)).exit_code == 2
