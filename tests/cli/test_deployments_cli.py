"""``loopml deployments create|list|show|update|delete|history`` on a real store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loopml.config import Settings
from loopml.packaging.package import save_package
from loopml.registry.client import RegistryClient
from loopml.store import reset_stores


@pytest.fixture
def churn(home: Path, tmp_path: Path) -> Iterator[RegistryClient]:
    """``churn`` v1 (production) and v2 (challenger), registered in the CLI's home."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.tree import DecisionTreeClassifier

    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    x = x.iloc[:, :4]
    registry = RegistryClient(Settings.load(home=home))
    for depth in (3, 2):
        folder = tmp_path / f"tree-{depth}"
        save_package(DecisionTreeClassifier(max_depth=depth).fit(x, y), folder, input_example=x[:3])
        registry.register(folder, "churn")
    registry.set_status("churn", 1, "validated")
    registry.promote("churn", 1)
    registry.set_alias("churn", "challenger", 2)
    yield registry
    reset_stores()


def _error(result: Any) -> str:
    return str(result.stderr).strip()


def test_create_show_and_list(cli: Any, churn: RegistryClient) -> None:
    made = cli.json(
        "deployments", "create", "churn-api", "--model", "churn", "--alias", "production",
        "--sample-rate", "0.25", "--no-log-inputs", "--workers", "2", "--max-batch-size", "8",
        "--max-batch-time-ms", "5", "--device", "cpu", "-d", "CRM scores",
    )  # fmt: skip
    assert made["revision"] == 1
    assert made["policy"] == {
        "routes": [{"alias": "production", "version": None, "weight": 100}],
        "shadow": None,
    }
    assert made["payload_log"] == {"enabled": True, "sample_rate": 0.25, "log_inputs": False}
    assert made["resources"] == {
        "workers": 2, "device": "cpu", "max_batch_size": 8, "max_batch_time_ms": 5.0,
        "runtime": "native",
    }  # fmt: skip
    assert made["targets"] == {"@production": 1}
    shown = cli.json("deployments", "show", "churn-api")
    assert shown["description"] == "CRM scores"
    table = cli.run("deployments", "show", "churn-api")
    assert table.exit_code == 0
    assert "models:/churn/1" in table.stdout
    assert "inputs not kept" in table.stdout
    listing = cli.json("deployments", "list")
    assert [d["name"] for d in listing["deployments"]] == ["churn-api"]
    assert listing["next_page_token"] is None
    assert "@production=100" in cli.run("deployments", "list").stdout
    lineage = cli.json("lineage", "models:/churn/1")
    assert [(n["kind"], n["id"], n["edge"]) for n in lineage["downstream"]] == [
        ("deployment", "churn-api", "consumed by")
    ]


def test_canary_and_shadow_routes_then_update_and_history(cli: Any, churn: RegistryClient) -> None:
    cli.json(
        "deployments", "create", "churn-api", "-m", "churn",
        "--route", "@production=90", "--route", "@challenger=10", "--shadow", "v2",
    )  # fmt: skip
    shown = cli.json("deployments", "show", "churn-api")
    assert shown["targets"] == {"@production": 1, "@challenger": 2, "v2": 2}
    assert shown["policy"]["shadow"] == {"alias": None, "version": 2, "weight": 100}
    updated = cli.json(
        "deployments", "update", "churn-api", "--alias", "production", "--no-shadow",
        "--sample-rate", "0.5", "--expected-revision", "1", "--reason", "canary over",
    )  # fmt: skip
    assert updated["revision"] == 2
    assert updated["policy"]["shadow"] is None
    assert updated["payload_log"]["sample_rate"] == 0.5
    assert updated["resources"]["workers"] == 1  # not given: kept
    only_shadow = cli.json("deployments", "update", "churn-api", "--shadow", "@challenger")
    assert only_shadow["policy"]["routes"] == updated["policy"]["routes"]
    history = cli.json("deployments", "history", "churn-api")
    assert [(r["revision"], r["action"]) for r in history] == [
        (1, "created"), (2, "updated"), (3, "updated"),
    ]  # fmt: skip
    assert history[1]["reason"] == "canary over"
    assert "canary over" in cli.run("deployments", "history", "churn-api").stdout


def test_a_stale_expected_revision_exits_1_and_changes_nothing(
    cli: Any, churn: RegistryClient
) -> None:
    cli.json("deployments", "create", "churn-api", "-m", "churn", "-a", "production")
    cli.json("deployments", "update", "churn-api", "-a", "challenger")
    stale = cli.run("deployments", "update", "churn-api", "-v", "1", "--expected-revision", "1")
    assert stale.exit_code == 1
    assert "is at revision 2, not 1" in _error(stale)
    assert cli.json("deployments", "show", "churn-api")["targets"] == {"@challenger": 2}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-m", "churn"], "needs a route"),
        (["-m", "churn", "-a", "production", "-v", "1"], "not --alias and --version"),
        (["-m", "churn", "-r", "@production", "-r", "@challenger"], "give each a weight"),
        (["-m", "churn", "-r", "@production=60", "-r", "@challenger=60"], "add up to 100"),
        (["-m", "churn", "-r", "production=100"], "is not a target"),
        (["-m", "churn", "-r", "@../x=100"], "is not a target"),
        (["-m", "churn", "-r", "v99999999999999999999=100"], "is not a target"),
        (["-m", "churn", "-a", "production", "--sample-rate", "2"], "sample_rate"),
        (["-m", "churn", "-a", "production", "--workers", "0"], "workers"),
        (["-m", "churn", "-a", "production", "--device", "tpu"], "device"),
        (["-m", "churn", "-a", "production", "--shadow", "@production"], "also takes live"),
        (["-m", "churn", "-v", "2147483648"], "2147483647"),
    ],
)
def test_bad_input_is_exit_2_with_one_line(
    cli: Any, churn: RegistryClient, args: list[str], message: str
) -> None:
    result = cli.run("deployments", "create", "churn-api", *args)
    assert result.exit_code == 2, result.stdout
    assert message in result.stderr
    assert cli.json("deployments", "list")["deployments"] == []


def test_missing_things_exit_1_and_suggest(cli: Any, churn: RegistryClient) -> None:
    missing_alias = cli.run("deployments", "create", "x", "-m", "churn", "-a", "prod")
    assert missing_alias.exit_code == 1
    assert "churn@prod' not found; did you mean: churn@production" in _error(missing_alias)
    missing_model = cli.run("deployments", "create", "x", "-m", "chrun", "-a", "production")
    assert missing_model.exit_code == 1
    assert "did you mean: churn" in _error(missing_model)
    bad_name = cli.run("deployments", "create", "../x", "-m", "churn", "-a", "production")
    assert bad_name.exit_code == 2
    for command in [["show"], ["history"], ["delete", "--yes"]]:
        result = cli.run("deployments", command[0], "nope", *command[1:])
        assert result.exit_code == 1
        assert "deployment 'nope' not found" in _error(result)
    as_json = cli.run("deployments", "show", "nope", "--json")
    assert '"code": "not_found"' in as_json.stdout


def test_delete_needs_yes_without_a_terminal_and_keeps_history(
    cli: Any, churn: RegistryClient
) -> None:
    cli.json("deployments", "create", "churn-api", "-m", "churn", "-a", "production")
    refused = cli.run("deployments", "delete", "churn-api")
    assert refused.exit_code == 2
    assert "--yes" in refused.stderr
    assert cli.json("deployments", "show", "churn-api")["revision"] == 1
    gone = cli.json("deployments", "delete", "churn-api", "--yes", "--reason", "retired")
    assert gone["deleted"]["name"] == "churn-api"
    history = cli.json("deployments", "history", "churn-api")
    assert [r["action"] for r in history] == ["created", "deleted"]
    assert cli.run("deployments", "show", "churn-api").exit_code == 1


def test_list_pages(cli: Any, churn: RegistryClient) -> None:
    for name in ["b-api", "a-api", "c-api"]:
        cli.json("deployments", "create", name, "-m", "churn", "-v", "1")
    first = cli.json("deployments", "list", "--limit", "2")
    assert [d["name"] for d in first["deployments"]] == ["a-api", "b-api"]
    rest = cli.json("deployments", "list", "--limit", "2", "--page-token", first["next_page_token"])
    assert [d["name"] for d in rest["deployments"]] == ["c-api"]
    assert "--page-token" in cli.run("deployments", "list", "--limit", "1").stdout


@pytest.mark.parametrize("command", ["create", "list", "show", "update", "delete", "history"])
def test_every_deployments_command_explains_itself(cli: Any, command: str) -> None:
    result = cli.run("deployments", command, "--help")
    assert result.exit_code == 0
    assert "loopml deployments " + command in result.stdout
