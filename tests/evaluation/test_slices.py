"""Slices: groups of rows by a column's values or by a condition, each with its metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loopml.errors import InvalidInputError
from loopml.evaluation.slices import (
    MAX_GROUPS,
    MISSING,
    Slice,
    check_slice_columns,
    parse_slices,
    slice_groups,
    slice_metrics,
)
from loopml.metrics import classification_metrics, regression_metrics


def _groups(frame: pd.DataFrame, spec: str | dict[str, str]) -> dict[str, list[int]]:
    return {label: rows.tolist() for label, rows in slice_groups(frame, Slice.of(spec))}


def test_a_column_slice_has_one_group_per_value_and_one_for_missing() -> None:
    frame = pd.DataFrame({"region": ["eu", None, "us", "eu", None], "n": [10, 2, 3, 4, 5]})
    assert _groups(frame, "region") == {"eu": [0, 3], "us": [2], MISSING: [1, 4]}


def test_numbers_group_in_numeric_order() -> None:
    frame = pd.DataFrame({"level": [10, 2, 10, 1]})
    assert list(_groups(frame, "level")) == ["1", "2", "10"]


def test_a_condition_slice_splits_rows_where_it_holds_from_the_rest() -> None:
    frame = pd.DataFrame({"age": [30, 70, 65, 20]})
    groups = _groups(frame, {"name": "senior", "where": "age >= 60"})
    assert groups == {"true": [1, 2], "false": [0, 3]}
    everyone = _groups(frame, {"name": "adults", "where": "age >= 18"})
    assert everyone == {"true": [0, 1, 2, 3]}  # an empty group is left out


def test_a_condition_pandas_cannot_evaluate_names_the_slice() -> None:
    frame = pd.DataFrame({"age": [30]})
    with pytest.raises(InvalidInputError, match="slice 'old': pandas could not evaluate"):
        slice_groups(frame, Slice.of({"name": "old", "where": "agee >= 60"}))
    with pytest.raises(InvalidInputError, match="one True/False per row"):
        slice_groups(frame, Slice.of({"name": "old", "where": "age + 1"}))


def test_an_unknown_column_is_refused_with_close_matches() -> None:
    frame = pd.DataFrame({"region": ["eu"], "plan": ["free"]})
    with pytest.raises(
        InvalidInputError, match=r"'regoin' is not in the data; did you mean region"
    ):
        check_slice_columns(frame, parse_slices(["regoin"]))


def test_a_column_with_too_many_values_is_refused_with_a_way_out() -> None:
    frame = pd.DataFrame({"age": range(MAX_GROUPS + 1)})
    with pytest.raises(InvalidInputError, match=r"101 distinct values.*'where': 'age >= 60'"):
        slice_groups(frame, Slice.of("age"))


def test_slice_specs() -> None:
    assert parse_slices(["sex", "sex", {"column": "plan"}]) == [
        Slice("sex", column="sex"),
        Slice("plan", column="plan"),
    ]
    with pytest.raises(InvalidInputError, match="two different slices are named 'sex'"):
        parse_slices(["sex", {"name": "sex", "where": "sex == 'F'"}])
    with pytest.raises(InvalidInputError, match="needs both 'name' and 'where'"):
        parse_slices([{"where": "age > 3"}])
    with pytest.raises(InvalidInputError, match=r"unknown slice key\(s\) \['by'\]"):
        parse_slices([{"by": "sex"}])
    with pytest.raises(InvalidInputError, match="a slice must be a column name"):
        parse_slices([3])  # type: ignore[list-item]


def test_each_group_has_the_metrics_of_its_rows() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"sex": rng.choice(["F", "M"], 200)})
    y = rng.integers(0, 2, 200)
    positive = rng.random(200)
    proba = np.column_stack([1 - positive, positive])
    pred = (positive > 0.5).astype(int)
    classes = np.array([0, 1])
    values, notes = slice_metrics(
        "classification", frame, parse_slices(["sex"]), y, pred, proba, classes
    )
    assert notes == []
    for group in ("F", "M"):
        rows = np.flatnonzero(frame["sex"] == group)
        expected, _ = classification_metrics(y[rows], pred[rows], proba[rows], classes)
        assert values["sex"][group] == {"rows": float(len(rows)), **expected}


def test_a_group_too_small_for_a_metric_gets_a_note() -> None:
    frame = pd.DataFrame({"site": ["a", "a", "b"]})
    values, notes = slice_metrics(
        "regression",
        frame,
        parse_slices(["site"]),
        np.array([1.0, 2.0, 3.0]),
        np.array([1.0, 2.5, 3.5]),
    )
    assert values["site"]["a"] == {
        "rows": 2.0,
        **regression_metrics(np.array([1.0, 2.0]), np.array([1.0, 2.5]))[0],
    }
    assert "r2" not in values["site"]["b"]
    assert notes == ["slice site=b: r2 left out: it needs at least 2 rows"]
