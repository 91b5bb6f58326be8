"""``loopml data validate``: exit codes a CI job can gate on, JSON, reports and --infer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from loopml.cli import app
from loopml.data.schema import load_schema


@dataclass(frozen=True)
class Project:
    """A working folder with good data, bad data and a loopml home."""

    root: Path

    def run(self, *args: str) -> Result:
        home = str(self.root / "home")
        return CliRunner().invoke(app, ["--home", home, "data", "validate", *args])

    def path(self, name: str) -> str:
        return str(self.root / name)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    rng = np.random.default_rng(5)
    rows = 300
    good = pd.DataFrame(
        {
            "id": np.arange(rows),
            "age": rng.integers(18, 90, rows),
            "plan": rng.choice(["basic", "pro"], rows),
            "spend": rng.normal(100, 20, rows),
        }
    )
    good.to_parquet(tmp_path / "good.parquet")
    good.to_csv(tmp_path / "good.csv", index=False)
    bad = good.copy()
    bad.loc[:9, "age"] = -1
    bad.loc[:2, "plan"] = "free"
    bad.to_parquet(tmp_path / "bad.parquet")
    skewed = ["basic"] * 270 + ["pro"] * 30
    good.assign(note="x", plan=skewed).to_parquet(tmp_path / "warned.parquet")
    return Project(tmp_path)


@pytest.fixture
def schema(project: Project) -> str:
    result = project.run(project.path("good.parquet"), "-s", project.path("schema.toml"), "--infer")
    assert result.exit_code == 0, result.output
    return project.path("schema.toml")


def test_infer_writes_a_loadable_schema(project: Project) -> None:
    target = project.path("schema.toml")
    result = project.run(project.path("good.parquet"), "--schema", target, "--infer")
    assert result.exit_code == 0, result.output
    assert "wrote the schema of 4 columns (300 rows)" in result.stdout
    schema = load_schema(target)
    assert schema.names == ("id", "age", "plan", "spend")
    assert schema.description == f"inferred from {project.path('good.parquet')}"


def test_infer_keeps_hand_edits_unless_forced(project: Project, schema: str) -> None:
    again = project.run(project.path("good.parquet"), "-s", schema, "--infer")
    assert again.exit_code == 2
    assert "already exists; pass --force" in again.stderr
    forced = project.run(
        project.path("good.parquet"), "-s", schema, "--infer", "--force", "--json",
        "--row-count-slack", "0", "--reference", project.path("good.parquet"),
    )  # fmt: skip
    assert forced.exit_code == 0, forced.output
    assert json.loads(forced.stdout) == {
        "schema": schema,
        "rows": 300,
        "columns": ["id", "age", "plan", "spend"],
    }
    written = load_schema(schema)
    assert (written.min_rows, written.max_rows) == (300, 300)
    assert written.drift is not None
    assert written.drift.reference == project.path("good.parquet")


def test_good_data_exits_zero(project: Project, schema: str) -> None:
    for data in ("good.parquet", "good.csv"):
        result = project.run(project.path(data), "--schema", schema)
        assert result.exit_code == 0, result.output
        assert "passed: 300 rows, no violations" in result.stdout


def test_error_level_violations_exit_one_and_print_a_table(project: Project, schema: str) -> None:
    result = project.run(project.path("bad.parquet"), "--schema", schema)
    assert result.exit_code == 1
    assert "failed: 300 rows, 2 errors, 0 warnings" in result.stdout
    assert "range" in result.stdout
    assert "'free' (3)" in result.stdout


def test_warnings_alone_do_not_fail(project: Project, schema: str) -> None:
    result = project.run(
        project.path("warned.parquet"), "-s", schema, "-r", project.path("good.parquet"), "--json"
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["passed"] is True
    assert {(v["column"], v["check"]) for v in body["violations"]} == {
        ("note", "extra_column"),
        ("plan", "drift"),
    }
    assert body["drift"]["plan"]["drifted"] is True
    assert body["drift"]["plan"]["method"] == "chi2"


def test_json_output_holds_every_violation(project: Project, schema: str) -> None:
    result = project.run(project.path("bad.parquet"), "--schema", schema, "--json")
    assert result.exit_code == 1
    body = json.loads(result.stdout)
    assert body["passed"] is False
    assert body["error_count"] == 2
    by_check = {v["check"]: v for v in body["violations"]}
    assert by_check["range"]["count"] == 10
    assert by_check["range"]["fraction"] == pytest.approx(10 / 300)
    assert by_check["categories"]["examples"] == [{"value": "free", "count": 3}]


def test_report_writes_an_html_page(project: Project, schema: str) -> None:
    report = project.root / "out" / "report.html"
    result = project.run(project.path("bad.parquet"), "-s", schema, "--report", str(report))
    assert result.exit_code == 1
    assert f"report: {report}" in result.stdout
    html = report.read_text()
    HTMLParser().feed(html)
    assert html.count('<tr class="violation">') == 2
    with_json = project.run(
        project.path("bad.parquet"), "-s", schema, "--report", str(report), "--json"
    )
    assert json.loads(with_json.stdout)["report"] == str(report)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{root}/missing.parquet", "-s", "{schema}"], "data '{root}/missing.parquet' does not"),
        (["{root}/good.parquet", "--schema", "{root}/nope.toml"], "--infer"),
        (["{root}/good.parquet", "--schema", "{root}/broken.toml"], "is not valid TOML"),
        (["{root}/good.parquet", "--schema", "{root}/typo.toml"], "did you mean max_value?"),
        (
            ["{root}/good.parquet", "-s", "{schema}", "--infer", "--report", "r.html"],
            "drop --infer",
        ),
        (["datasets:/nothing/1", "--schema", "{schema}"], "dataset 'nothing' not found"),
        (["datasets:/bad uri", "--schema", "{schema}"], "malformed URI"),
    ],
)
def test_bad_input_exits_two_with_one_line(
    project: Project, schema: str, args: list[str], message: str
) -> None:
    (project.root / "broken.toml").write_text("columns = [")
    (project.root / "typo.toml").write_text("[columns.age]\ndtype = 'int'\nmaxvalue = 3\n")
    filled = [a.format(root=project.root, schema=schema) for a in args]
    result = project.run(*filled)
    assert result.exit_code == 2, result.output
    assert message.format(root=project.root) in result.stderr
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1


def test_bad_input_with_json_prints_the_error_body(project: Project, schema: str) -> None:
    result = project.run(project.path("missing.parquet"), "-s", schema, "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["code"] == "invalid_input"


def test_dataset_uris_validate_and_infer(project: Project) -> None:
    from loopml.config import Settings
    from loopml.data.versions import DatasetClient

    client = DatasetClient(Settings.load(home=project.root / "home"))
    client.log("orders", project.path("good.parquet"))
    target = project.path("from-dataset.toml")
    inferred = project.run("datasets:/orders/1", "--schema", target, "--infer")
    assert inferred.exit_code == 0, inferred.output
    result = project.run("datasets:/orders@latest", "-s", target, "-r", "datasets:/orders/1")
    assert result.exit_code == 0, result.output
    bad = project.run(project.path("bad.parquet"), "-s", target, "-r", "datasets:/orders/1")
    assert bad.exit_code == 1


def test_an_empty_schema_file_is_refused_not_passed(project: Project) -> None:
    empty = project.root / "empty.toml"
    empty.write_text("")
    result = project.run(project.path("bad.parquet"), "--schema", str(empty))
    assert result.exit_code == 2, result.output
    assert "declares no columns or checks; it would pass any data" in result.stderr
