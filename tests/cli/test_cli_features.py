"""``loopml features …`` end to end, through Typer's runner with ``--home``."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from features.conftest import at, naive
from loopml.cli import app

DEFINITIONS = """
from datetime import timedelta

import pandas as pd

from loopml.features import Entity, Feature, FeatureView, RequestField, on_demand_feature_view

driver = Entity("driver", join_keys=["driver_id"])
stats = FeatureView(
    "driver_stats",
    entities=[driver],
    source="data/stats.parquet",
    timestamp_field="event_time",
    features=[Feature("trips", "int64"), Feature("city", "string")],
    ttl=TTL,
)


@on_demand_feature_view(sources=[stats, RequestField("km", "float64")],
                        schema=[Feature("per_km", "float64")])
def density(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"per_km": df["trips"] / df["km"]})
"""


class Cli:
    def __init__(self, home: Path, project: Path) -> None:
        self.home, self.project = home, project

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(app, ["--home", str(self.home), "features", *args])

    def json(self, *args: str) -> Any:
        result = self.run(*args, "--json")
        assert result.exit_code == 0, (result.stdout, result.stderr)
        return json.loads(result.stdout)

    def write(self, ttl: str = "None", body: str = 'df["trips"] / df["km"]') -> Path:
        text = DEFINITIONS.replace("TTL", ttl).replace('df["trips"] / df["km"]', body)
        path = self.project / "features.py"
        path.write_text(textwrap.dedent(text))
        return path


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    pd.DataFrame(
        {
            "driver_id": [1, 1, 2],
            "event_time": [naive(at(1)), naive(at(2)), naive(at(1))],
            "trips": [10, 12, 7],
            "city": ["Oslo", "Bergen", None],
        }
    ).to_parquet(project / "data" / "stats.parquet")
    found = Cli(tmp_path / "home", project)
    found.write()
    return found


def test_apply_prints_the_diff(cli: Cli) -> None:
    first = cli.run("apply", str(cli.project / "features.py"))
    assert first.exit_code == 0, first.stderr
    assert first.stdout.splitlines() == [
        "+ entity driver v1",
        "+ feature view driver_stats v1",
        "+ on-demand feature view density v1",
    ]
    again = cli.run("apply", str(cli.project / "features.py"))
    assert "no changes" in again.stdout
    assert "= feature view driver_stats v1 (unchanged)" in again.stdout
    cli.write(ttl="timedelta(hours=1)")
    changed = cli.json("apply", str(cli.project / "features.py"), "--reason", "expire")
    view = next(d for d in changed["definitions"] if d["name"] == "driver_stats")
    assert (view["action"], view["version"], view["previous_version"]) == ("updated", 2, 1)
    assert view["changes"] == [{"path": "ttl", "change": "changed", "old": None, "new": 3600}]


def test_apply_defaults_to_features_py_in_the_working_directory(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(cli.project)
    result = cli.json("apply")
    assert result["changed"] is True


def test_list_and_show(cli: Cli) -> None:
    cli.run("apply", str(cli.project / "features.py"))
    listed = cli.json("list")
    assert [(d["kind"], d["name"], d["version"]) for d in listed] == [
        ("entity", "driver", 1),
        ("feature_view", "driver_stats", 1),
        ("on_demand_feature_view", "density", 1),
    ]
    assert listed[1]["spec"]["source"] == str(cli.project / "data" / "stats.parquet")
    table = cli.run("list")
    assert "driver_stats" in table.stdout
    assert "trips, city" in table.stdout
    shown = cli.json("show", "density")
    assert shown["spec"]["function"]["name"] == "density"
    assert [v["version"] for v in shown["versions"]] == [1]
    text = cli.run("show", "density")
    assert "def density" in text.stdout
    assert "versions" in text.stdout


def test_materialize_and_get(cli: Cli) -> None:
    cli.run("apply", str(cli.project / "features.py"))
    done = cli.json("materialize", "--start", "2024-12-31", "--end", "2025-01-01T03:00:00Z")
    assert [(r["view"], r["rows"], r["end"]) for r in done] == [
        ("driver_stats", 2, "2025-01-01T03:00:00+00:00"),
    ]
    rows = cli.json(
        "get", "-e", "driver_id=1", "-e", "driver_id=2", "-e", "driver_id=3", "-e", "km=2",
        "-f", "driver_stats:trips", "-f", "driver_stats:city", "-f", "density:per_km",
    )  # fmt: skip
    assert rows == [
        {"driver_id": "1", "trips": 12, "city": "Bergen", "per_km": 6.0},
        {"driver_id": "2", "trips": 7, "city": None, "per_km": 3.5},
        {"driver_id": "3", "trips": None, "city": None, "per_km": None},
    ]
    table = cli.run("get", "-e", "driver_id=1", "-f", "driver_stats:city")
    assert table.exit_code == 0
    assert "Bergen" in table.stdout
    incremental = cli.json("materialize", "--incremental", "--end", "2025-01-01T04:00")
    assert [(r["start"], r["rows"]) for r in incremental] == [("2025-01-01T03:00:00+00:00", 0)]


def test_errors_are_one_line_with_a_hint(cli: Cli) -> None:
    cli.run("apply", str(cli.project / "features.py"))
    unknown = cli.run("show", "driver_stat")
    assert unknown.exit_code == 1
    assert "did you mean: driver_stats" in unknown.stderr
    feature = cli.run("get", "-e", "driver_id=1", "-f", "driver_stats:trip")
    assert feature.exit_code == 1
    assert "did you mean: driver_stats:trips" in feature.stderr
    window = cli.run("materialize")
    assert window.exit_code == 2
    assert "--start TIME" in window.stderr
    when = cli.run("materialize", "--start", "yesterday")
    assert when.exit_code == 2
    assert "is not a time" in when.stderr
    entity = cli.run("get", "-e", "driver_id", "-f", "driver_stats:trips")
    assert entity.exit_code == 2
    assert "KEY=VALUE" in entity.stderr
    uneven = cli.run(
        "get", "-e", "a=1", "-e", "a=2", "-e", "b=1", "-e", "b=2", "-e", "b=3", "-f", "x:y"
    )
    assert uneven.exit_code == 2
    assert "same number of times" in uneven.stderr
    missing = cli.run("apply", str(cli.project / "nope.py"))
    assert missing.exit_code == 2  # a missing input file, as in every command
    assert "definitions file" in missing.stderr


def test_serving_runs_the_applied_code_and_refuses_changed_code(cli: Cli) -> None:
    """In a fresh process, the on-demand function is found from its file and checked."""
    cli.run("apply", str(cli.project / "features.py"))
    cli.run("materialize", "--start", "2024-12-31", "--end", "2025-01-01T03:00:00Z")
    script = (
        "import json\n"
        "from loopml.config import Settings\n"
        "from loopml.features import FeatureStore\n"
        f"store = FeatureStore(Settings.load(home={str(cli.home)!r}))\n"
        "rows = [{'driver_id': 1, 'km': 4.0}]\n"
        "print(json.dumps(store.get_online_features(rows, ['density:per_km']).to_dict()))\n"
    )

    def serve() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=False,
            cwd=cli.home.parent,
        )

    fresh = serve()
    assert fresh.returncode == 0, fresh.stderr
    assert json.loads(fresh.stdout)["per_km"] == [3.0]
    cli.write(body='df["trips"] / df["km"] / 1000')
    changed = serve()
    assert changed.returncode == 1
    assert "the code of density() changed since it was applied" in changed.stderr


def test_applying_from_python_then_the_cli_then_python_keeps_one_version(cli: Cli) -> None:
    """The on-demand view's function is the same code whether the file is imported as a
    module (``import features``) or executed by ``loopml features apply``."""
    script = (
        "import features\n"
        "from loopml.config import Settings\n"
        "from loopml.features import FeatureStore\n"
        f"store = FeatureStore(Settings.load(home={str(cli.home)!r}))\n"
        "result = store.apply([features.driver, features.stats, features.density])\n"
        "print(sorted((c.name, c.action) for c in result.changes))\n"
    )

    def apply_from_python() -> str:
        done = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=False,
            cwd=cli.project,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "('density', 'created')" in apply_from_python()
    assert cli.run("apply", str(cli.project / "features.py")).exit_code == 0
    assert "updated" not in apply_from_python()
    shown = cli.json("show", "density")
    assert shown["version"] == 1, shown
