"""Schema inference: what a schema learns from data, and the rules a schema obeys."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from loopml.data.schema import ColumnSchema, DataSchema, DriftConfig, infer_schema
from loopml.errors import InvalidInputError, NotFoundError


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = 200
    return pd.DataFrame(
        {
            "user_id": np.arange(rows),
            "age": rng.integers(18, 80, rows),
            "income": np.where(rng.random(rows) < 0.1, np.nan, rng.normal(5e4, 1e4, rows)),
            "plan": rng.choice(["basic", "pro", "team"], rows),
            "email": [f"user{i}@example.org" for i in range(rows)],
            "segment": pd.Categorical(rng.choice(["a", "b"], rows)),
            "active": rng.random(rows) < 0.5,
            "signup": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(rows), unit="h"),
            "day": [dt.date(2024, 1, 1) + dt.timedelta(days=int(i) % 30) for i in range(rows)],
        }
    )


def test_infers_dtypes_nulls_ranges_domains_and_uniqueness(frame: pd.DataFrame) -> None:
    schema = infer_schema(frame)

    assert [(c.name, c.dtype) for c in schema.columns] == [
        ("user_id", "int"),
        ("age", "int"),
        ("income", "float"),
        ("plan", "string"),
        ("email", "string"),
        ("segment", "categorical"),
        ("active", "bool"),
        ("signup", "timestamp"),
        ("day", "date"),
    ]
    user_id, age, income = schema.column("user_id"), schema.column("age"), schema.column("income")
    assert user_id.unique
    assert not user_id.nullable
    assert user_id.min_value == 0
    assert user_id.max_value == 199
    assert (age.min_value, age.max_value) == (int(frame.age.min()), int(frame.age.max()))
    assert not age.unique
    nulls = int(frame.income.isna().sum())
    assert income.nullable
    assert income.max_null_fraction == pytest.approx(nulls / 200)
    assert schema.column("plan").categories == ("basic", "pro", "team")
    assert schema.column("segment").categories == ("a", "b")
    email = schema.column("email")
    assert email.categories is None
    assert email.unique
    assert schema.column("signup").min_value == dt.datetime(2024, 1, 1)
    assert schema.column("signup").max_value is None  # time moves forward: no upper bound
    assert schema.column("day").max_value is None
    assert (schema.min_rows, schema.max_rows) == (100, 300)
    assert schema.extra_columns == "warn"
    assert schema.drift is None


def test_arrow_tables_and_pandas_frames_give_the_same_schema(frame: pd.DataFrame) -> None:
    assert infer_schema(frame) == infer_schema(pa.Table.from_pandas(frame, preserve_index=False))


def test_slack_widens_ranges_and_row_bounds() -> None:
    table = pa.table({"x": [0, 10], "y": [0.0, 1.0]})
    schema = infer_schema(table, range_slack=0.25, row_count_slack=1.0)
    assert (schema.column("x").min_value, schema.column("x").max_value) == (-3, 13)
    assert (schema.column("y").min_value, schema.column("y").max_value) == (-0.25, 1.25)
    assert (schema.min_rows, schema.max_rows) == (0, 4)
    no_bounds = infer_schema(table, row_count_slack=None)
    assert (no_bounds.min_rows, no_bounds.max_rows) == (None, None)


def test_categorical_max_limits_domains() -> None:
    table = pa.table({"c": ["a", "b", "c", "a"]})
    assert infer_schema(table, categorical_max=3).column("c").categories == ("a", "b", "c")
    assert infer_schema(table, categorical_max=2).column("c").categories is None


def test_null_fraction_is_rounded_up_so_the_data_passes() -> None:
    column = infer_schema(pa.table({"x": [1.0, None, 3.0]})).column("x")
    assert column.max_null_fraction == 0.3334


def test_nanosecond_and_zoned_timestamps_round_outwards_to_microseconds() -> None:
    values = pa.array([1_000, 2_000_000_001], type=pa.timestamp("ns", tz="Europe/Berlin"))
    column = infer_schema(pa.table({"t": values})).column("t")
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    assert column.min_value == epoch + dt.timedelta(microseconds=1)
    assert column.max_value is None  # time moves forward: only a lower bound


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"categorical_max": -1}, "categorical_max"),
        ({"range_slack": float("nan")}, "range_slack"),
        ({"row_count_slack": -0.5}, "row_count_slack"),
    ],
)
def test_bad_inference_options_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        infer_schema(pa.table({"x": [1]}), **kwargs)  # type: ignore[arg-type]


def test_inference_refuses_empty_data_and_unknown_objects() -> None:
    with pytest.raises(InvalidInputError, match="0 rows"):
        infer_schema(pa.table({"x": pa.array([], type=pa.int64())}))
    with pytest.raises(InvalidInputError, match="pandas DataFrame or a pyarrow Table"):
        infer_schema([1, 2, 3])


def test_column_lookup_suggests_close_names() -> None:
    schema = DataSchema((ColumnSchema("income", "float"),))
    with pytest.raises(NotFoundError, match="did you mean: income"):
        schema.column("incom")


def test_severity_of_uses_overrides_then_the_column_severity() -> None:
    column = ColumnSchema("x", "int", severity="warn", severities={"type": "error"})
    assert column.severity_of("type") == "error"
    assert column.severity_of("range") == "warn"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ColumnSchema("x", "integer"), "dtype must be one of"),  # type: ignore[arg-type]
        (lambda: ColumnSchema("x", "int", min_value=5, max_value=1), "is above"),
        (lambda: ColumnSchema("x", "string", min_value=1), "ranges apply to"),
        (lambda: ColumnSchema("x", "float", categories=(1.5,)), "categories apply to"),
        (lambda: ColumnSchema("x", "int", categories=("a",)), "must be whole numbers"),
        (lambda: ColumnSchema("x", "int", nullable=False, max_null_fraction=0.1), "nullable"),
        (lambda: ColumnSchema("x", "int", severities={"rnage": "warn"}), "severities key"),
        (lambda: ColumnSchema("x", "timestamp", min_value=3), "a datetime"),
        (
            lambda: ColumnSchema(
                "x",
                "timestamp",
                min_value=dt.datetime(2024, 1, 1),
                max_value=dt.datetime(2024, 2, 1, tzinfo=dt.UTC),
            ),
            "both a time zone, or neither",
        ),
        (
            lambda: DataSchema((ColumnSchema("x", "int"), ColumnSchema("x", "float"))),
            "appears twice",
        ),
        (lambda: DataSchema((), min_rows=5, max_rows=1), "above table.max_rows"),
        (lambda: DataSchema((), unique_keys=(("a",),)), "not a schema column"),
        (lambda: DataSchema((), drift=DriftConfig(method="magic")), "drift.method"),
        (lambda: DataSchema((), drift=DriftConfig(columns=("x",))), "drift.columns"),
    ],
)
def test_inconsistent_schemas_are_refused(build: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        build()  # type: ignore[operator]
