"""``register``, ``schedules`` and ``unregister`` on a small app shaped like ``loopml pipeline``."""

from __future__ import annotations

import json
import subprocess
import textwrap
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from loopml.cli._state import CliState
from loopml.cli.app import LoopmlGroup
from loopml.cli.pipeline_register import register, schedules, unregister
from loopml.config import Settings
from loopml.pipelines.schedules import get_registration
from loopml.pipelines.triggers import WebhookTrigger, hash_token

PIPELINE = textwrap.dedent(
    """
    import loopml


    @loopml.step
    def count(n: int) -> int:
        return n + 1


    @loopml.pipeline
    def train(n: int = 1, depth: int = 3) -> None:
        count(n)
    """
)


class PipelineCli:
    """Runs ``pipeline <command> …`` against a private home, as the real CLI would."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.app = typer.Typer(cls=LoopmlGroup, pretty_exceptions_enable=False)

        @self.app.callback()
        def root(ctx: typer.Context) -> None:
            ctx.obj = CliState(home=home)

        self.app.command("register")(register)
        self.app.command("schedules")(schedules)
        self.app.command("unregister")(unregister)

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(self.app, list(args))

    def json(self, *args: str) -> Any:
        result = self.run(*args, "--json")
        assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
        return json.loads(result.stdout)

    @property
    def settings(self) -> Settings:
        return Settings.load(home=self.home)


@pytest.fixture
def cli(tmp_path: Path) -> PipelineCli:
    return PipelineCli(tmp_path / "home")


@pytest.fixture
def flow(tmp_path: Path) -> str:
    """The target of a pipeline in a file: ``<tmp>/flows/train.py:train``."""
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "train.py").write_text(PIPELINE)
    return f"{folder / 'train.py'}:train"


def test_register_prints_json_with_fire_times_and_the_token_once(
    cli: PipelineCli, flow: str
) -> None:
    data = cli.json(
        "register", flow, "--name", "nightly", "--schedule", "0 3 * * *",
        "--timezone", "Europe/Berlin", "--on-dataset", "churn", "--on-dataset", "events",
        "--on-webhook", "--param", "n=4", "--executor", "process://2",
    )  # fmt: skip
    assert data["name"] == "nightly"
    assert data["version"] == 1
    assert data["changed"] == ["created"]
    assert data["params"] == {"n": 4}
    assert data["executor"] == "process://2"
    assert [t["kind"] for t in data["triggers"]] == ["dataset", "dataset", "webhook"]
    fires = [datetime.fromisoformat(t) for t in data["next_fire_times"]]
    assert len(fires) == 5
    assert all((t.hour, t.minute) == (3, 0) and t.utcoffset() is not None for t in fires)
    token = data["webhook_token"]
    webhook = get_registration("nightly", settings=cli.settings).triggers[-1]
    assert isinstance(webhook, WebhookTrigger)
    assert webhook.token_sha256 == hash_token(token)
    again = cli.json("register", flow, "--name", "nightly", "--on-webhook", "--schedule", "@daily")
    assert again["webhook_token"] is None  # kept, not shown again
    assert again["version"] == 2


def test_register_prints_a_summary_and_warnings(cli: PipelineCli, flow: str) -> None:
    result = cli.run(
        "register", flow, "--schedule", "30 2 * * *", "--timezone", "Europe/Berlin",
        "--on-dataset", "churn", "--on-webhook",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "registered pipeline 'train' version 1" in result.stdout
    assert "30 2 * * * (Europe/Berlin)" in result.stdout
    assert "next fires" in result.stdout
    assert "webhook token (shown only now" in result.stdout
    assert result.stderr.startswith("warning: dataset 'churn' has no versions yet")
    again = cli.run("register", flow, "--schedule", "30 2 * * *", "--timezone", "Europe/Berlin")
    assert "updated pipeline 'train' version 2 (changed: triggers)" in again.stdout
    assert "webhook token" not in again.stdout
    same = cli.run("register", flow, "--schedule", "30 2 * * *", "--timezone", "Europe/Berlin")
    assert "nothing changed" in same.stdout


def test_params_come_from_a_config_file_and_param_wins(
    cli: PipelineCli, flow: str, tmp_path: Path
) -> None:
    config = tmp_path / "params.toml"
    config.write_text("[params]\nn = 2\ndepth = 7\n")
    data = cli.json("register", flow, "--schedule", "@daily", "--config", str(config), "-p", "n=5")
    assert data["params"] == {"n": 5, "depth": 7}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--schedule", "61 * * * *"], "error: invalid cron schedule '61 * * * *'"),
        (["--schedule", "@daily", "--timezone", "Berlin"], "did you mean: Europe/Berlin?"),
        ([], "give a schedule (e.g. '0 3 * * *') or at least one trigger"),
        (["--on-dataset", "bad name"], "invalid dataset name 'bad name'"),
        (["--schedule", "@daily", "--param", "oops"], "--param 'oops' must look like key=value"),
        (["--schedule", "@daily", "--new-webhook-token"], "add --on-webhook"),
    ],
)
def test_invalid_input_is_one_line_and_exit_2(
    cli: PipelineCli, flow: str, args: list[str], message: str
) -> None:
    result = cli.run("register", flow, *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert cli.json("schedules") == []


def test_schedules_lists_what_is_registered(cli: PipelineCli, flow: str) -> None:
    result = cli.run("schedules")
    assert result.exit_code == 0
    assert "no registered pipelines yet" in result.stdout
    cli.json("register", flow, "--name", "b-hourly", "--schedule", "@hourly")
    cli.json("register", flow, "--name", "a-hook", "--on-webhook", "--disable")
    rows = cli.json("schedules")
    assert [(r["name"], r["enabled"]) for r in rows] == [("a-hook", False), ("b-hourly", True)]
    assert rows[0]["next_fire_time"] is None
    assert datetime.fromisoformat(rows[1]["next_fire_time"]).minute == 0
    table = cli.run("schedules")
    assert table.exit_code == 0
    lines = {line.split()[0]: line for line in table.stdout.splitlines() if line.strip()}
    assert "webhook" in lines["a-hook"]
    assert " no " in lines["a-hook"]
    assert "@hourly (UTC)" in lines["b-hourly"]


def test_unregister_removes_and_suggests_close_names(cli: PipelineCli, flow: str) -> None:
    cli.json("register", flow, "--schedule", "@daily")
    missing = cli.run("unregister", "trian", "--yes")
    assert missing.exit_code == 1
    assert missing.stderr.startswith("error: registered pipeline 'trian' not found")
    assert "did you mean: train?" in missing.stderr
    data = cli.json("unregister", "train", "--reason", "replaced", "--yes")
    assert data["unregistered"]["name"] == "train"
    assert data["reason"] == "replaced"
    assert cli.json("schedules") == []


def test_git_change_triggers_watch_the_source_or_given_paths(
    cli: PipelineCli, flow: str, tmp_path: Path
) -> None:
    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", *args],
            cwd=tmp_path,
            check=True,
            capture_output=True,
        )

    git("init", "-q", "-b", "main")
    git("add", "flows")
    git("commit", "-q", "-m", "flow")
    data = cli.json("register", flow, "--on-git-change")
    (trigger,) = data["triggers"]
    assert trigger["paths"] == ["flows/train.py"]
    assert trigger["ref"] == "main"
    data = cli.json("register", flow, "--git-path", str(tmp_path / "flows"))
    assert data["triggers"][0]["paths"] == ["flows"]
    assert data["version"] == 2


def test_unregister_without_a_terminal_refuses_unless_yes(cli: PipelineCli, flow: str) -> None:
    cli.json("register", flow, "--schedule", "0 3 * * *")
    refused = cli.run("unregister", "train")  # stdin is not a tty here
    assert refused.exit_code == 2
    assert "pass --yes" in refused.stderr
    assert [r["name"] for r in cli.json("schedules")] == ["train"]
