"""The CLI's pure helpers: formatting, JSON, targets, key mentions and run comparison."""

from __future__ import annotations

import math

import pytest

from loopml.cli._compare import compare_runs, lower_is_better
from loopml.cli._output import format_duration, format_size, format_value, to_jsonable
from loopml.cli._targets import run_target, unique
from loopml.cli._views import mentioned_keys
from loopml.errors import InvalidInputError
from loopml.tracking import Run, RunStatus


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(None, "-"), (0.25, "250ms"), (12.34, "12.3s"), (75, "1m 15s"), (7380, "2h 03m"),
     (3 * 86400 + 4 * 3600, "3d 04h")],
)  # fmt: skip
def test_format_duration(seconds: float | None, shown: str) -> None:
    assert format_duration(seconds) == shown


@pytest.mark.parametrize(
    ("size", "shown"),
    [(None, "-"), (0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (5 * 1024**3, "5.0 GiB"),
     (3 * 1024**5, "3072.0 TiB")],
)  # fmt: skip
def test_format_size(size: int | None, shown: str) -> None:
    assert format_size(size) == shown


def test_format_value_and_json_conversion() -> None:
    assert format_value(0.123456789) == "0.123457"
    assert format_value("rf") == "rf"
    assert format_value(None) == "-"
    assert to_jsonable({"a": [math.nan, math.inf, 1.5], "b": (1, "x")}) == {
        "a": [None, None, 1.5],
        "b": [1, "x"],
    }


def test_run_target() -> None:
    assert run_target("01ABC") == ("01ABC", "")
    assert run_target("runs:/01ABC/model/") == ("01ABC", "model")
    assert run_target("runs:/01ABC/model", "meta/card.md") == ("01ABC", "model/meta/card.md")
    assert run_target("01ABC/plots") == ("01ABC", "plots")
    with pytest.raises(InvalidInputError, match="models:/ URI"):
        run_target("models:/churn/1")
    with pytest.raises(InvalidInputError):
        run_target("not a run!")
    assert unique(["b", "a", "b"]) == ["b", "a"]


def test_mentioned_keys() -> None:
    found = mentioned_keys(
        "metrics.auc > 0.9 AND param.model = 'rf' OR metrics.`val loss` < 1",
        ["METRICS.auc desc", 'params."max depth"', "start_time"],
    )
    assert found == {"metrics": ["auc", "val loss"], "params": ["model", "max depth"]}
    assert mentioned_keys(None, []) == {"metrics": [], "params": []}


@pytest.mark.parametrize(
    ("key", "lower"),
    [("val_loss", True), ("Error_rate", True), ("RMSE", True), ("mae", True),
     ("test_mse", True), ("accuracy", False), ("auc", False), ("f1", False)],
)  # fmt: skip
def test_lower_is_better_heuristic(key: str, lower: bool) -> None:
    assert lower_is_better(key) is lower


def test_explicit_direction_wins() -> None:
    assert lower_is_better("latency_ms", lower={"latency_ms"}) is True
    assert lower_is_better("loss_reduction", higher={"loss_reduction"}) is False


def _run(run_id: str, params: dict[str, str], metrics: dict[str, float]) -> Run:
    return Run(run_id, "e", run_id, RunStatus.FINISHED, 0, params=params, metrics=metrics)


def test_compare_runs_ties_nans_and_missing_values() -> None:
    a = _run("a", {"lr": "0.1", "seed": "1"}, {"acc": 0.9, "loss": math.nan})
    b = _run("b", {"lr": "0.1"}, {"acc": 0.9, "loss": 0.2})
    c = _run("c", {"lr": "0.1", "seed": "1"}, {"acc": 0.7})
    comparison = compare_runs([a, b, c])
    params = {row.key: row for row in comparison.params}
    assert params["lr"].differs is False
    assert params["seed"].differs is True  # b has no seed
    assert params["seed"].values == {"a": "1", "b": None, "c": "1"}
    metrics = {row.key: row for row in comparison.metrics}
    assert metrics["acc"].best == ["a", "b"]  # a tie: both are best
    assert metrics["loss"].best == ["b"]  # NaN never wins, missing is skipped
    assert compare_runs([_run("x", {}, {"m": math.nan}), _run("y", {}, {})]).metrics[0].best == []


def test_nan_metrics_are_null_in_json(cli, make_run) -> None:
    run_id = make_run("nan", "diverged", metrics={"loss": math.nan, "acc": 0.5})
    (row,) = cli.json("runs", "list", "-e", "nan")
    assert row["id"] == run_id
    assert row["metrics"] == {"acc": 0.5, "loss": None}
    assert "nan" in cli.run("runs", "show", run_id).stdout
