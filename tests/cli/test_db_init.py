"""``loopml init`` and ``loopml db …``: both safe to run again and again."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from typer.testing import CliRunner

from loopml.cli import app
from loopml.cli.init import CONFIG_TEMPLATE
from loopml.config import Settings
from loopml.store.schema import SCHEMA_HEAD
from loopml.tracking import TrackingClient


def _init(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [*args])
    return result.exit_code, result.stdout, result.stderr


def test_init_creates_the_project_layout_once(tmp_path: Path) -> None:
    project = tmp_path / "project"
    code, out, _ = _init("init", str(project))
    assert code == 0
    assert (project / ".loopml" / "loopml.db").is_file()
    assert (project / ".loopml" / "artifacts").is_dir()
    assert (project / "loopml.toml").read_text() == CONFIG_TEMPLATE
    assert out.count("created") == 4
    assert f"at revision {SCHEMA_HEAD}" in out

    (project / "loopml.toml").write_text("[loopml]\nmetrics_flush_s = 1.0\n")
    code, out, _ = _init("init", str(project))
    assert code == 0
    assert "created" not in out
    assert out.count("exists") == 4
    assert (project / "loopml.toml").read_text() == "[loopml]\nmetrics_flush_s = 1.0\n"


def test_init_json_and_a_template_that_parses_to_nothing(tmp_path: Path) -> None:
    project = tmp_path / "p"
    code, out, _ = _init("init", str(project), "--json")
    assert code == 0
    made = json.loads(out)
    assert made["home"] == str(project / ".loopml")
    assert [(i["what"], i["created"]) for i in made["items"]] == [
        ("home", True),
        ("metadata database", True),
        ("artifact store", True),
        ("settings", True),
    ]
    assert tomllib.loads(CONFIG_TEMPLATE) == {"loopml": {}}
    again = json.loads(_init("init", str(project), "--json")[1])
    assert not any(item["created"] for item in again["items"])


def test_init_honours_global_options(tmp_path: Path) -> None:
    home = tmp_path / "elsewhere"
    code, _, _ = _init("--home", str(home), "init", str(tmp_path / "proj"))
    assert code == 0
    assert (home / "loopml.db").is_file()
    assert not (tmp_path / "proj" / ".loopml").exists()
    assert (tmp_path / "proj" / "loopml.toml").is_file()


def test_db_upgrade_is_idempotent(cli, home: Path) -> None:
    first = cli.json("db", "upgrade")
    assert (first["from"], first["revision"]) == (None, SCHEMA_HEAD)
    assert first["url"] == f"sqlite:///{home / 'loopml.db'}"
    second = cli.json("db", "upgrade")
    assert (second["from"], second["revision"]) == (SCHEMA_HEAD, SCHEMA_HEAD)
    result = cli.run("db", "upgrade")
    assert result.exit_code == 0
    assert result.stdout.strip().endswith(f"is already at revision {SCHEMA_HEAD}")


def test_db_upgrade_reports_the_change(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = CliRunner().invoke(app, ["--db-url", url, "db", "upgrade"])
    assert result.exit_code == 0, result.stderr
    assert f"upgraded from empty to {SCHEMA_HEAD}" in result.stdout


def test_db_current(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'current.db'}"
    runner = CliRunner()
    empty = runner.invoke(app, ["--db-url", url, "db", "current"])
    assert empty.exit_code == 0
    assert "run `loopml db upgrade`" in empty.stdout
    assert runner.invoke(app, ["--db-url", url, "db", "upgrade"]).exit_code == 0
    state = json.loads(runner.invoke(app, ["--db-url", url, "db", "current", "--json"]).stdout)
    assert state == {"url": url, "revision": SCHEMA_HEAD, "head": SCHEMA_HEAD, "up_to_date": True}
    assert "(newest)" in runner.invoke(app, ["--db-url", url, "db", "current"]).stdout


def test_bad_database_url_is_invalid_input(cli) -> None:
    result = cli.run("--db-url", "nosuchdb://x", "db", "current")
    # --db-url after --home is still a global option
    assert result.exit_code == 2
    assert result.stderr.startswith("error: database 'nosuchdb' is not supported")


def test_db_and_runs_commands_on_each_backend(settings: Settings, db_url: str) -> None:
    """The same commands on SQLite and PostgreSQL (``db_url`` comes from the root conftest)."""
    runner = CliRunner()
    options = ["--home", str(settings.home), "--db-url", db_url]
    upgrade = runner.invoke(app, [*options, "db", "upgrade", "--json"])
    assert upgrade.exit_code == 0, upgrade.stderr
    assert json.loads(upgrade.stdout)["revision"] == SCHEMA_HEAD
    again = json.loads(runner.invoke(app, [*options, "db", "upgrade", "--json"]).stdout)
    assert (again["from"], again["revision"]) == (SCHEMA_HEAD, SCHEMA_HEAD)

    client = TrackingClient(settings, capture_env=False)
    run = client.create_run("backend", name="one")
    client.log_metric(run.id, "auc", 0.5)
    client.end_run(run.id)
    client.close()
    listed = runner.invoke(app, [*options, "runs", "list", "-f", "metrics.auc >= 0.5", "--json"])
    assert listed.exit_code == 0, listed.stderr
    assert [row["id"] for row in json.loads(listed.stdout)] == [run.id]
