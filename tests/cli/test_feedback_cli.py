"""``loopml feedback``: labels loaded from CSV, JSONL and Parquet, joined to the payload log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loopml.cli import feedback as feedback_cli
from loopml.config import Settings
from loopml.monitoring import PayloadWriter, Prediction, read_feedback, read_predictions

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


@pytest.fixture
def settings(home: Path) -> Settings:
    return Settings.load(home=home)


def _log(settings: Settings, count: int) -> None:
    writer = PayloadWriter(settings, "churn-api", flush_seconds=0.05)
    for i in range(count):
        writer.record(
            Prediction(
                request_id=f"0{i}",
                time_ms=T0 + i,
                deployment="churn-api",
                model="churn",
                version=1,
                role="primary",
                inputs={"x": np.array([float(i)])},
                outputs={"p": np.array([0.5])},
                latency_ms=0.5,
                status=200,
            )
        )
    writer.close()


def test_a_csv_file_is_loaded_and_joined(cli: Any, settings: Settings, tmp_path: Path) -> None:
    _log(settings, 4)
    path = tmp_path / "labels.csv"
    path.write_text("request_id,label,note\n00,1,a\n01,0,b\n02,1,c\n")  # ids like 00 stay text
    counts = cli.json("feedback", "churn-api", "--file", str(path))
    assert counts == {
        "deployment": "churn-api", "file": str(path), "rows": 3,
        "stored": 3, "replaced": 0, "duplicates": 0,
    }  # fmt: skip
    again = cli.json("feedback", "churn-api", "--file", str(path))  # loading twice is safe
    assert (again["stored"], again["replaced"]) == (3, 3)
    frame = read_predictions("churn-api", settings=settings, with_labels=True)
    assert dict(zip(frame.request_id, frame.label, strict=True)) == {
        "00": 1, "01": 0, "02": 1, "03": None,
    }  # fmt: skip


def test_a_jsonl_file_with_other_column_names(cli: Any, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    lines = [{"id": "a", "y": [1, 0]}, {"id": "b", "y": {"churn": True}}, {"id": "a", "y": [0, 0]}]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    result = cli.run(
        "feedback", "churn-api", "--file", str(path), "--id-column", "id", "--label-column", "y"
    )
    assert result.exit_code == 0, result.stderr
    assert "stored 2 label(s) for 'churn-api' from 3 row(s)" in result.stdout
    frame = read_feedback("churn-api", settings=settings)
    assert dict(zip(frame.request_id, frame.label, strict=True)) == {
        "a": [0, 0],
        "b": {"churn": True},
    }


def test_a_parquet_file_in_several_chunks(
    cli: Any, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feedback_cli, "CHUNK_ROWS", 7)
    path = tmp_path / "labels.parquet"
    table = pa.table({"request_id": [f"r{i}" for i in range(20)], "label": list(range(20))})
    pq.write_table(table, path)
    counts = cli.json("feedback", "churn-api", "--file", str(path))
    assert (counts["rows"], counts["stored"]) == (20, 20)
    assert sorted(read_feedback("churn-api", settings=settings).label) == list(range(20))


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("labels.csv", "request_id,label\nr1,1\n,2\n", "item 1: request id is empty"),
        ("labels.csv", "request_id,label\nr1,1\nr2,\n", "item 1: label is nan"),
        ("labels.csv", "id,label\nr1,1\n", "no column 'request_id'"),
        ("labels.csv", "request_id,label\n", "has no rows"),
        ("labels.jsonl", '{"request_id": "r1", "label": 1}\nnot json\n', "line 2: not JSON"),
        ("labels.jsonl", '{"request_id": "r1", "label": NaN}\n', "label is nan"),
        ("labels.jsonl", '{"request_id": 5, "label": 1}\n', "must be a string"),
        ("labels.jsonl", "[1, 2]\n", "line 1: expected an object"),
        ("labels.txt", "r1 1\n", "use one of .csv"),
        ("labels.parquet", "not parquet", "not a readable Parquet file"),
    ],
)
def test_a_bad_file_exits_2_naming_the_problem_and_stores_nothing(
    cli: Any, settings: Settings, tmp_path: Path, name: str, content: str, says: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    result = cli.run("feedback", "churn-api", "--file", str(path), "--json")
    assert result.exit_code == 2, result.stdout + result.stderr
    assert says in result.stdout + result.stderr
    assert read_feedback("churn-api", settings=settings).empty


def test_a_missing_file_is_a_usage_error(cli: Any, tmp_path: Path) -> None:
    result = cli.run("feedback", "churn-api", "--file", str(tmp_path / "nope.csv"))
    assert result.exit_code == 2
    assert "does not exist" in result.stdout + result.stderr


def test_predictions_with_labels(cli: Any, settings: Settings, tmp_path: Path) -> None:
    _log(settings, 2)
    path = tmp_path / "labels.csv"
    path.write_text("request_id,label\n01,yes\n")
    assert cli.run("feedback", "churn-api", "--file", str(path)).exit_code == 0
    rows = cli.json("predictions", "churn-api", "--labels")
    assert [(row["request_id"], row["label"]) for row in rows] == [("00", None), ("01", "yes")]
    assert "label" not in cli.json("predictions", "churn-api")[0]


def test_a_bad_row_in_a_later_chunk_keeps_the_chunks_before_and_says_so(
    cli: Any, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feedback_cli, "CHUNK_ROWS", 2)
    path = tmp_path / "labels.jsonl"
    rows = [{"request_id": f"r{i}", "label": i} for i in range(5)]
    rows[3]["label"] = None
    path.write_text("\n".join(json.dumps(row) for row in rows))
    result = cli.run("feedback", "churn-api", "--file", str(path))
    assert result.exit_code == 2
    assert "in the rows from data row 3 on" in result.stderr
    assert "2 label(s) stored before them" in result.stderr
    assert "item 1: label is missing (null)" in result.stderr
    assert sorted(read_feedback("churn-api", settings=settings).request_id) == ["r0", "r1"]
    rows[3]["label"] = 3
    path.write_text("\n".join(json.dumps(row) for row in rows))
    fixed = cli.json("feedback", "churn-api", "--file", str(path))  # the fixed file, again
    assert (fixed["stored"], fixed["replaced"]) == (5, 2)
