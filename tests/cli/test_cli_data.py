"""``loopml data list|show|log|get|diff`` through Typer's runner, on a private home."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from loopml.cli import app


class Cli:
    """``loopml --home <home> …`` in-process."""

    def __init__(self, home: Path) -> None:
        self.home = home

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(app, ["--home", str(self.home), *args])

    def json(self, *args: str) -> Any:
        result = self.run(*args, "--json")
        assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
        return json.loads(result.stdout)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "home")


@pytest.fixture
def csv(tmp_path: Path) -> Path:
    path = tmp_path / "iris.csv"
    path.write_text("length,species\n5.1,setosa\n4.9,setosa\n6.3,virginica\n")
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "images"
    (root / "cats").mkdir(parents=True)
    (root / "cats" / "a.png").write_bytes(b"\x89PNG-a")
    (root / "b.png").write_bytes(b"\x89PNG-b")
    return root


def test_log_list_and_show_a_csv(cli: Cli, csv: Path) -> None:
    logged = cli.json("data", "log", "iris", str(csv), "--description", "Fisher")
    assert (logged["uri"], logged["created"], logged["row_count"]) == ("datasets:/iris/1", True, 3)
    assert "profile" not in logged
    again = cli.json("data", "log", "iris", str(csv))
    assert (again["uri"], again["created"]) == ("datasets:/iris/1", False)
    [listed] = cli.json("data", "list")
    assert (listed["name"], listed["latest_version"], listed["description"]) == (
        "iris", 1, "Fisher",
    )  # fmt: skip
    shown = cli.json("data", "show", "datasets:/iris@latest")
    assert shown["profile"]["columns"]["species"]["top"][0] == {"value": "setosa", "count": 2}
    versions = cli.json("data", "show", "iris")
    assert [v["version"] for v in versions["versions"]] == [1]


def test_human_output(cli: Cli, csv: Path, folder: Path) -> None:
    result = cli.run("data", "log", "iris", str(csv))
    assert result.exit_code == 0, result.stderr
    assert "logged datasets:/iris/1: 3 rows, csv" in result.stdout
    assert (
        "unchanged: the content is already datasets:/iris/1"
        in cli.run("data", "log", "iris", str(csv)).stdout
    )
    cli.run("data", "log", "images", str(folder))
    listing = cli.run("data", "list").stdout
    assert "datasets:/iris/1" in listing
    assert "datasets:/images/1" in listing
    details = cli.run("data", "show", "iris/1").stdout
    assert "species" in details
    assert "setosa (2)" in details
    files = cli.run("data", "show", "datasets:/images/1").stdout
    assert "cats/a.png" in files
    assert "dataset iris" in cli.run("data", "show", "iris").stdout


def test_empty_list(cli: Cli) -> None:
    assert cli.json("data", "list") == []
    assert "no datasets yet" in cli.run("data", "list").stdout


def test_get_writes_tables_and_folders(cli: Cli, csv: Path, folder: Path, tmp_path: Path) -> None:
    cli.json("data", "log", "iris", str(csv), "--format", "parquet")
    got = cli.json("data", "get", "datasets:/iris/1", "--dest", str(tmp_path / "out"))
    assert got["path"] == str(tmp_path / "out" / "iris.parquet")
    assert pd.read_parquet(got["path"])["species"].tolist() == ["setosa", "setosa", "virginica"]
    as_csv = cli.json("data", "get", "iris", "--format", "csv", "--dest", str(tmp_path / "c"))
    assert Path(as_csv["path"]).read_text().splitlines()[0] == '"length","species"'
    cli.json("data", "log", "images", str(folder))
    files = cli.json("data", "get", "images", "--dest", str(tmp_path / "imgs"))
    assert (tmp_path / "imgs" / "cats" / "a.png").read_bytes() == b"\x89PNG-a"
    assert files["kind"] == "files"


def test_diff(cli: Cli, folder: Path) -> None:
    cli.json("data", "log", "images", str(folder))
    (folder / "b.png").write_bytes(b"changed")
    (folder / "c.png").write_bytes(b"new")
    cli.json("data", "log", "images", str(folder))
    diff = cli.json("data", "diff", "datasets:/images/1", "images")
    assert diff["files_added"] == ["c.png"]
    assert diff["files_changed"] == ["b.png"]
    text = cli.run("data", "diff", "images/1", "images/2").stdout
    assert "file added" in text
    assert "c.png" in text
    same = cli.run("data", "diff", "images/2", "images@latest").stdout
    assert "have the same content" in same


def test_table_diff_shows_statistics(cli: Cli, tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text("x\n1\n2\n")
    second.write_text("x,y\n1,a\n5,b\n")
    cli.json("data", "log", "t", str(first))
    cli.json("data", "log", "t", str(second))
    text = cli.run("data", "diff", "t/1", "t/2").stdout
    assert "column added" in text
    assert "rows: 2 -> 2 (+0)" in text
    assert "mean" in text


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("data", "show", "nope"), 1, "dataset 'nope' not found"),
        (("data", "get", "runs:/x"), 2, "is a runs URI"),
        (("data", "log", "x", "missing.csv"), 2, "not found"),  # a missing input: exit 2
        (("data", "log", "bad name", "."), 2, "invalid dataset name"),
        (("data", "diff", "a/1", "datasets:/a@prod"), 2, "no alias 'prod'"),
    ],
)
def test_errors_are_one_line_with_an_exit_code(
    cli: Cli, args: tuple[str, ...], code: int, message: str
) -> None:
    result = cli.run(*args)
    assert result.exit_code == code, result.stdout
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_errors_as_json(cli: Cli, csv: Path) -> None:
    cli.json("data", "log", "iris", str(csv))
    result = cli.run("data", "show", "datasets:/iris/4", "--json")
    assert result.exit_code == 1
    body = json.loads(result.stdout)
    assert body["error"]["code"] == "not_found"
    assert "versions of 'iris': 1" in body["error"]["message"]


def test_log_a_latin_1_csv_with_encoding(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes("name,city\nJosé,Zürich\n".encode("latin-1"))
    refused = cli.run("data", "log", "people", str(path))
    assert refused.exit_code == 2  # bad input
    assert "--encoding latin-1" in refused.stderr
    logged = cli.json("data", "log", "people", str(path), "--encoding", "latin-1")
    assert (logged["version"], logged["format"]) == (1, "parquet")
    assert [c["type"] for c in logged["schema"]["columns"]] == ["string", "string"]


def test_data_list_pages_with_limit_and_page_token(cli: Cli, csv: Path) -> None:
    for name in ("wine", "iris", "cars"):
        assert cli.run("data", "log", name, str(csv)).exit_code == 0
    first = cli.json("data", "list", "--limit", "2")
    assert [row["name"] for row in first["items"]] == ["cars", "iris"]
    assert cli.run("data", "log", "apples", str(csv)).exit_code == 0  # before the token
    rest = cli.json("data", "list", "--limit", "2", "--page-token", first["next_page_token"])
    assert ([row["name"] for row in rest["items"]], rest["next_page_token"]) == (["wine"], None)
    table = cli.run("data", "list", "--limit", "1")
    assert "next page: --page-token " in table.stdout
    bad = cli.run("data", "list", "--page-token", "!!")
    assert bad.exit_code != 0
    assert "page_token '!!' is not a token this listing returned" in bad.stderr
