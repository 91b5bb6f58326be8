"""``loopml predictions``: a deployment's payload log as a table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from loopml.config import Settings
from loopml.monitoring import PayloadWriter, Prediction

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


@pytest.fixture
def logged(home: Path) -> None:
    """Requests r0-r4 of churn-api (two rows each), r2 with a shadow; a failed r5."""
    writer = PayloadWriter(Settings.load(home=home), "churn-api", flush_seconds=0.05)

    def prediction(i: int, **changes: Any) -> Prediction:
        values: dict[str, Any] = {
            "request_id": f"r{i}", "time_ms": T0 + i * 1000, "deployment": "churn-api",
            "model": "churn", "version": 3, "role": "primary",
            "inputs": {"x": np.array([[i, 0.5], [i, 1.5]]), "city": ["Oslo", "Lyon"]},
            "outputs": {"p": np.array([0, 1])}, "latency_ms": 0.5, "status": 200,
        }  # fmt: skip
        values.update(changes)
        return Prediction(**values)

    for i in range(5):
        writer.record(prediction(i))
    writer.record(prediction(2, role="shadow", version=4))
    writer.record(prediction(5, outputs=None, status=500, error="boom"))
    writer.close()


@pytest.mark.usefixtures("logged")
def test_json_lists_every_row_with_plain_values(cli: Any) -> None:
    rows = cli.json("predictions", "churn-api")
    assert len(rows) == 5 * 2 + 2 + 2
    first = rows[0]
    assert first["request_id"] == "r0"
    assert first["input.x"] == [0.0, 0.5]
    assert first["input.city"] == "Oslo"
    assert first["output.p"] == 0
    assert first["error"] is None
    failed = [r for r in rows if r["request_id"] == "r5"]
    assert {(r["status"], r["error"], r["output.p"]) for r in failed} == {(500, "boom", None)}


@pytest.mark.usefixtures("logged")
def test_window_role_and_limit(cli: Any) -> None:
    window = cli.json("predictions", "churn-api", "--since", str(T0 + 1000), "--until",
                      "2026-01-01T00:00:03Z")  # fmt: skip
    assert {r["request_id"] for r in window} == {"r1", "r2"}
    shadow = cli.json("predictions", "churn-api", "--role", "shadow")
    assert {(r["request_id"], r["version"]) for r in shadow} == {("r2", 4)}
    assert len(cli.json("predictions", "churn-api", "--limit", "3")) == 3


@pytest.mark.usefixtures("logged")
def test_csv_has_a_header_and_lists_as_json(cli: Any) -> None:
    result = cli.run("predictions", "churn-api", "--format", "csv", "--limit", "2")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["request_id"] for r in rows] == ["r0", "r0"]
    assert json.loads(rows[1]["input.x"]) == [0.0, 1.5]
    assert rows[0]["error"] == ""


@pytest.mark.usefixtures("logged")
def test_the_table_shows_requests_and_times(cli: Any) -> None:
    result = cli.run("predictions", "churn-api", "--limit", "2", env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.stderr
    assert "churn-api: 2 row(s)" in result.stdout
    assert "r0" in result.stdout
    assert "2026-01-01 00:00:00" in result.stdout


def test_an_empty_window_says_so(cli: Any) -> None:
    result = cli.run("predictions", "nobody")
    assert result.exit_code == 0
    assert "no predictions logged for 'nobody'" in result.stdout
    assert cli.json("predictions", "nobody") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "is not a time"),
        (["--since", "10", "--until", "5"], "after until"),
        (["--role", "boss"], "role must be"),
    ],
)
def test_bad_options_exit_2_with_one_line(cli: Any, args: list[str], message: str) -> None:
    result = cli.run("predictions", "churn-api", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    as_json = cli.run("predictions", "churn-api", *args, "--json")
    assert json.loads(as_json.stdout)["error"]["code"] == "invalid_input"


def test_help_explains_the_window(cli: Any) -> None:
    result = cli.run("predictions", "--help", env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for text in ("--since", "--until", "--limit", "--format", "shadow", "no zone means UTC"):
        assert text in result.stdout


def test_the_table_rounds_floats_and_csv_keeps_every_digit(cli: Any, home: Path) -> None:
    writer = PayloadWriter(Settings.load(home=home), "fares-api", flush_seconds=0.05)
    writer.record(
        Prediction(
            request_id="r0", time_ms=T0, deployment="fares-api", model="fares", version=1,
            role="primary", inputs={"km": np.array([14.925999999999998])},
            outputs={"fare": np.array([0.1 + 0.2])}, latency_ms=5.224581000220496, status=200,
        )
    )  # fmt: skip
    writer.close()
    table = cli.run("predictions", "fares-api", env={"COLUMNS": "250"})
    assert table.exit_code == 0, table.stderr
    assert "5.22458 " in table.stdout
    assert "14.926 " in table.stdout
    assert "0.3 " in table.stdout
    assert "0.30000000000000004" not in table.stdout
    rows = list(
        csv.DictReader(io.StringIO(cli.run("predictions", "fares-api", "-f", "csv").stdout))
    )
    assert rows[0]["latency_ms"] == "5.224581000220496"
    assert rows[0]["output.fare"] == "0.30000000000000004"
