"""``loopml data validate --record``: the report is kept with the dataset version it checked."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner, Result

from loopml.cli import app
from loopml.config import Settings
from loopml.data import DatasetClient


def test_record_keeps_the_report_with_the_version(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    client = DatasetClient(Settings.load(home=tmp_path / "home"))
    client.log("orders", pd.DataFrame({"age": [20, 30, 40]}))
    client.log("orders", pd.DataFrame({"age": [20, 30, 40], "extra": ["a", "b", "c"]}))
    schema = str(tmp_path / "schema.toml")

    def run(*args: str) -> Result:
        return CliRunner().invoke(app, ["--home", home, "data", "validate", *args])

    inferred = run("datasets:/orders/1", "--schema", schema, "--infer")
    assert inferred.exit_code == 0, inferred.output
    kept = run("datasets:/orders@latest", "--schema", schema, "--record")
    assert "kept the report with datasets:/orders/2" in kept.output
    [report] = client.list_validations("datasets:/orders/2")
    assert report.note == f"schema {schema}"
    assert any(v["check"] == "extra_column" for v in report.report["violations"])
    assert client.list_validations("datasets:/orders/1") == []
    # A file is no dataset version: nothing to keep the report with.
    pd.DataFrame({"age": [1]}).to_parquet(tmp_path / "local.parquet")
    refused = run(str(tmp_path / "local.parquet"), "--schema", schema, "--record")
    assert refused.exit_code == 2
    assert "datasets:/ URI" in refused.stderr
    with_infer = run("datasets:/orders/1", "--schema", schema, "--infer", "--record", "--force")
    assert with_infer.exit_code == 2
