"""validate(): every check fires with the right counts, and all violations come at once."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopml.data.checks import Violation
from loopml.data.schema import ColumnSchema, DataSchema, infer_schema
from loopml.data.validate import ValidationResult, validate
from loopml.errors import GateFailedError, InvalidInputError

ROWS = 100


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": np.arange(ROWS),
            "age": np.arange(ROWS) % 60 + 20,
            "score": np.linspace(0.0, 1.0, ROWS),
            "plan": np.array(["basic", "pro", "team", "basic"] * 25),
            "signup": pd.date_range("2024-01-01", periods=ROWS, freq="h").as_unit("us"),
        }
    )


@pytest.fixture
def schema(frame: pd.DataFrame) -> DataSchema:
    return infer_schema(frame)


def only(result: ValidationResult, check: str) -> Violation:
    found = [v for v in result.violations if v.check == check]
    assert len(found) == 1, result.violations
    return found[0]


def test_data_passes_the_schema_inferred_from_it(frame: pd.DataFrame, schema: DataSchema) -> None:
    result = validate(frame, schema)
    assert result.passed
    assert result.violations == ()
    assert result.row_count == ROWS
    assert [c.name for c in result.columns] == list(frame.columns)
    assert all(c.status == "ok" and c.null_fraction == 0.0 for c in result.columns)


def test_missing_required_column_is_an_error(frame: pd.DataFrame, schema: DataSchema) -> None:
    violation = only(validate(frame.drop(columns="plan"), schema), "missing_column")
    assert (violation.column, violation.count, violation.fraction) == ("plan", ROWS, 1.0)
    assert violation.severity == "error"
    optional = _with_column(schema, "plan", required=False)
    assert validate(frame.drop(columns="plan"), optional).passed


def test_extra_columns_warn_by_default(frame: pd.DataFrame, schema: DataSchema) -> None:
    result = validate(frame.assign(note="x"), schema)
    assert result.passed
    assert only(result, "extra_column").severity == "warn"
    strict = dataclasses.replace(schema, extra_columns="error")
    assert not validate(frame.assign(note="x"), strict).passed
    lenient = dataclasses.replace(schema, extra_columns="ignore")
    assert validate(frame.assign(note="x"), lenient).violations == ()


def test_repeated_column_names_are_reported() -> None:
    table = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["x", "x"])
    violation = only(validate(table, DataSchema((ColumnSchema("x", "int"),))), "duplicate_column")
    assert violation.observed == "2"


def test_type_change_is_an_error_and_skips_value_checks(
    frame: pd.DataFrame, schema: DataSchema
) -> None:
    result = validate(frame.assign(age=frame.age.astype(str)), schema)
    violation = only(result, "type")
    assert (violation.column, violation.expected) == ("age", "int")
    assert violation.observed.startswith("string")
    assert [v.check for v in result.violations] == ["type"]


def test_safe_widenings_are_not_type_changes(frame: pd.DataFrame, schema: DataSchema) -> None:
    widened = frame.assign(score=(frame.score * 0).astype(int), plan=frame.plan.astype("category"))
    assert validate(widened, schema).passed


def test_nulls_where_none_are_allowed(frame: pd.DataFrame, schema: DataSchema) -> None:
    bad = frame.assign(score=frame.score.where(frame.index % 25 != 0))  # NaN counts as null
    violation = only(validate(bad, schema), "nulls")
    assert (violation.count, violation.fraction, violation.expected) == (4, 0.04, "no nulls")


def test_nulls_over_the_allowed_fraction(frame: pd.DataFrame, schema: DataSchema) -> None:
    allowing = _with_column(schema, "score", nullable=True, max_null_fraction=0.05)
    assert validate(frame.assign(score=frame.score.where(frame.index >= 5)), allowing).passed
    violation = only(
        validate(frame.assign(score=frame.score.where(frame.index >= 6)), allowing), "nulls"
    )
    assert (violation.count, violation.fraction) == (6, 0.06)
    assert violation.expected == "at most 5.00% nulls"


def test_out_of_range_counts_fraction_and_examples(frame: pd.DataFrame, schema: DataSchema) -> None:
    age = frame.age.copy()
    age[:3] = -1
    age[3:5] = 200
    violation = only(validate(frame.assign(age=age), schema), "range")
    assert (violation.count, violation.fraction) == (5, 0.05)
    assert violation.expected == "[20, 79]"
    assert violation.observed == "[-1, 200]"
    assert violation.examples == ((-1, 3), (200, 2))
    assert "5 values (5.00%) outside [20, 79]" in violation.message


def test_out_of_range_timestamps_and_dates() -> None:
    zoned = pa.array(
        [dt.datetime(2024, 1, d, tzinfo=dt.UTC) for d in (1, 2, 3)], pa.timestamp("us", "UTC")
    )
    days = pa.array([dt.date(2024, 1, 1), dt.date(2024, 1, 2), dt.date(2024, 2, 1)])
    schema = DataSchema(
        (
            ColumnSchema("t", "timestamp", max_value=dt.datetime(2024, 1, 2)),  # naive: UTC
            ColumnSchema("d", "date", max_value=dt.date(2024, 1, 31)),
        )
    )
    result = validate(pa.table({"t": zoned, "d": days}), schema)
    assert [(v.column, v.count) for v in result.violations] == [("t", 1), ("d", 1)]
    assert result.violations[1].examples == ((dt.date(2024, 2, 1), 1),)


def test_unseen_categories_name_each_value_and_its_count(
    frame: pd.DataFrame, schema: DataSchema
) -> None:
    plan = frame.plan.copy()
    plan[:6] = "free"
    plan[6:8] = "vip"
    plan[8:10] = None  # nulls are the null check's business, not unseen values
    result = validate(frame.assign(plan=plan), schema)
    violation = only(result, "categories")
    assert (violation.count, violation.fraction) == (8, 0.08)
    assert violation.examples == (("free", 6), ("vip", 2))
    assert violation.observed == "2 unseen: 'free' (6), 'vip' (2)"


def test_duplicates_on_a_unique_column(frame: pd.DataFrame, schema: DataSchema) -> None:
    ids = frame.id.copy()
    ids[1:4] = 0
    violation = only(validate(frame.assign(id=ids), schema), "unique")
    assert (violation.count, violation.fraction) == (3, 0.03)
    assert violation.examples == ((0, 4),)


def test_duplicates_on_a_multi_column_key(frame: pd.DataFrame, schema: DataSchema) -> None:
    keyed = dataclasses.replace(schema, unique_keys=(("plan", "age"),))
    violation = only(validate(frame, keyed), "unique_key")
    # age repeats every 60 rows and plan every 4, so rows 60-99 repeat rows 0-39.
    assert (violation.column, violation.count) == ("plan, age", 40)
    assert violation.examples[0][1] == 2


def test_row_count_bounds(frame: pd.DataFrame, schema: DataSchema) -> None:
    assert (schema.min_rows, schema.max_rows) == (50, 150)
    violation = only(validate(frame.head(49), schema), "row_count")
    assert (violation.column, violation.expected, violation.observed) == (None, "[50, 150]", "49")
    assert only(validate(pd.concat([frame, frame]), schema), "row_count").observed == "200"


def test_every_violation_is_reported_at_once(frame: pd.DataFrame, schema: DataSchema) -> None:
    bad = (
        frame.head(40)
        .assign(
            id=0,
            age=-5,
            score=np.nan,
            plan="free",
            extra=1,
        )
        .drop(columns="signup")
    )
    result = validate(bad, schema)
    assert sorted((v.column or "", v.check) for v in result.violations) == [
        ("", "row_count"),
        ("age", "drift"),  # an inferred schema checks drift against its reference profile
        ("age", "range"),
        ("extra", "extra_column"),
        ("id", "unique"),
        ("plan", "categories"),
        ("plan", "drift"),
        ("score", "nulls"),
        ("signup", "missing_column"),
    ]
    assert len(result.errors) == 6
    assert len(result.warnings) == 3
    assert result.summary == "failed: 40 rows, 6 errors, 3 warnings"
    statuses = {c.name: c.status for c in result.columns}
    assert statuses == {
        "id": "error",
        "age": "error",
        "score": "error",
        "plan": "error",
        "signup": "error",
        "extra": "warn",
    }


def test_severity_can_be_lowered_per_column_and_per_check(
    frame: pd.DataFrame, schema: DataSchema
) -> None:
    bad = frame.assign(age=-1, plan="free")
    relaxed = _with_column(schema, "age", severity="warn")
    relaxed = _with_column(relaxed, "plan", severities={"categories": "warn"})
    result = validate(bad, relaxed)
    assert result.passed
    assert {(v.column, v.severity) for v in result.violations} == {
        ("age", "warn"),
        ("plan", "warn"),
    }


def test_drift_against_a_reference(frame: pd.DataFrame, schema: DataSchema) -> None:
    rng = np.random.default_rng(0)
    reference = frame.assign(score=rng.normal(0, 1, ROWS))
    same = validate(reference, schema_without_ranges(schema), reference=reference)
    assert same.passed
    assert set(same.drift) == {"age", "score", "plan"}
    assert not any(r.drifted for r in same.drift.values())
    shifted = reference.assign(score=rng.normal(3, 1, ROWS))
    result = validate(shifted, schema_without_ranges(schema), reference=reference)
    violation = only(result, "drift")
    assert (violation.column, violation.severity) == ("score", "warn")
    assert result.passed  # drift warns unless the schema says otherwise
    assert result.drift["score"].method == "ks"
    assert result.drift["score"].drifted


def test_drift_section_with_severity_error_fails(frame: pd.DataFrame, schema: DataSchema) -> None:
    from loopml.data.schema import DriftConfig

    strict = dataclasses.replace(
        schema_without_ranges(schema),
        drift=DriftConfig(method="psi", columns=("plan",), severity="error"),
    )
    current = frame.assign(plan=["basic"] * 90 + ["pro"] * 10)
    result = validate(current, strict, reference=frame)
    assert not result.passed
    assert set(result.drift) == {"plan"}
    assert result.drift["plan"].method == "psi"


def test_drift_reference_from_the_schema_as_a_file(
    frame: pd.DataFrame, schema: DataSchema, tmp_path: Any
) -> None:
    from loopml.data.schema import DriftConfig

    frame.to_parquet(tmp_path / "ref.parquet")
    with_ref = dataclasses.replace(
        schema, drift=DriftConfig(reference=str(tmp_path / "ref.parquet"))
    )
    assert set(validate(frame, with_ref).drift) == {"age", "score", "plan"}
    # Without a reference, drift is checked against the profile the schema was inferred with
    assert set(validate(frame, dataclasses.replace(schema, drift=DriftConfig())).drift) == {
        "age",
        "score",
        "plan",
    }
    no_ref = dataclasses.replace(schema, drift=DriftConfig(), reference_profile=None)
    with pytest.raises(InvalidInputError, match="no reference"):
        validate(frame, no_ref)


def test_files_are_read_by_their_suffix(
    frame: pd.DataFrame, schema: DataSchema, tmp_path: Any
) -> None:
    frame.to_parquet(tmp_path / "d.parquet")
    frame.drop(columns="signup").to_csv(tmp_path / "d.csv", index=False)
    assert validate(tmp_path / "d.parquet", schema).passed
    csv_schema = infer_schema(frame.drop(columns="signup"))
    assert validate(str(tmp_path / "d.csv"), csv_schema).passed
    with pytest.raises(InvalidInputError, match="does not exist"):
        validate(tmp_path / "absent.parquet", schema)
    (tmp_path / "d.xlsx").write_text("x")
    with pytest.raises(InvalidInputError, match="cannot tell the format"):
        validate(tmp_path / "d.xlsx", schema)


def test_result_serialises_and_gates(frame: pd.DataFrame, schema: DataSchema) -> None:
    result = validate(frame.assign(signup=pd.Timestamp("1999-01-01")), schema, reference=frame)
    body = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert body["passed"] is False
    assert body["error_count"] == 1
    assert body["violations"][0]["examples"] == [{"value": "1999-01-01T00:00:00", "count": 100}]
    assert body["distributions"]["age"]["kind"] == "numeric"
    assert sum(body["distributions"]["age"]["current"]) == len(frame)
    with pytest.raises(GateFailedError, match="data failed validation: column 'signup'"):
        result.raise_for_errors()


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_generated_table_passes_its_own_schema(data: st.DataObject) -> None:
    rows = data.draw(st.integers(1, 30))

    def column(values: st.SearchStrategy[Any]) -> list[Any]:
        return data.draw(st.lists(st.one_of(st.none(), values), min_size=rows, max_size=rows))

    table = pa.table(
        {
            "i": pa.array(column(st.integers(-(2**63), 2**63 - 1)), pa.int64()),
            "f": pa.array(column(st.floats(allow_nan=True)), pa.float64()),
            "s": pa.array(column(st.text(max_size=5)), pa.string()),
            "c": pa.array(column(st.sampled_from("abc")), pa.string()).dictionary_encode(),
            "b": pa.array(column(st.booleans()), pa.bool_()),
            "t": pa.array(column(st.datetimes()), pa.timestamp("us")),
            "d": pa.array(column(st.dates()), pa.date32()),
            "u": pa.array(column(st.integers(0, 2**64 - 1)), pa.uint64()),
            "n": pa.array(column(st.integers(-(2**63) + 1, 2**63 - 1)), pa.int64()).cast(
                pa.timestamp("ns", "Asia/Tokyo")
            ),
        }
    )
    slack = data.draw(st.sampled_from([0.0, 0.1]))
    result = validate(table, infer_schema(table, range_slack=slack, categorical_max=3))
    assert result.passed
    assert result.violations == ()


def _with_column(schema: DataSchema, name: str, **changes: Any) -> DataSchema:
    columns = tuple(
        dataclasses.replace(c, **changes) if c.name == name else c for c in schema.columns
    )
    return dataclasses.replace(schema, columns=columns)


def schema_without_ranges(schema: DataSchema) -> DataSchema:
    columns = tuple(dataclasses.replace(c, min_value=None, max_value=None) for c in schema.columns)
    return dataclasses.replace(schema, columns=columns)


def test_bounds_outside_what_the_column_type_holds_never_overflow() -> None:
    table = pa.table(
        {
            "u": pa.array([0, 2**64 - 1], pa.uint64()),
            "small": pa.array([1, 100], pa.int8()),
            "ns": pa.array([0, 2**63 - 1], pa.int64()).cast(pa.timestamp("ns")),
        }
    )
    schema = DataSchema(
        (
            ColumnSchema("u", "int", min_value=-3, max_value=2.0**70),
            ColumnSchema("small", "int", min_value=-1000, max_value=50.5),
            ColumnSchema("ns", "timestamp", max_value=dt.datetime(9999, 1, 1)),
        )
    )
    result = validate(table, schema)
    assert [(v.column, v.count) for v in result.violations] == [("small", 1)]
    below_everything = DataSchema((ColumnSchema("u", "int", max_value=-1),))
    assert only(validate(table, below_everything), "range").count == 2


def test_dataset_uris_are_loaded_from_the_store(
    frame: pd.DataFrame, schema: DataSchema, tmp_path: Any
) -> None:
    from loopml.config import Settings
    from loopml.data.versions import DatasetClient
    from loopml.errors import NotFoundError

    store = Settings.load(home=tmp_path / "home")
    DatasetClient(store).log("churn", frame)
    assert validate("datasets:/churn/1", schema, settings=store).passed
    result = validate(frame, schema, reference="datasets:/churn@latest", settings=store)
    assert set(result.drift) == {"age", "score", "plan"}
    with pytest.raises(NotFoundError, match="churn2"):
        validate("datasets:/churn2/1", schema, settings=store)
    with pytest.raises(InvalidInputError, match="malformed URI"):
        validate("datasets:/churn/", schema, settings=store)
